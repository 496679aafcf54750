#include <gtest/gtest.h>

#include <algorithm>

#include "risk/alerts.hpp"
#include "risk_fixture.hpp"

using namespace nordiq;
using namespace nordiq::risk;
using nordiq::forecast::kP10;
using nordiq::forecast::kP50;
using nordiq::forecast::kP90;
using nordiq::testing::OneServer;

namespace {
std::vector<Alert> alerts_of(OneServer& s) {
  std::vector<Alert> out;
  detect_alerts(s.view, s.forecast, 0, assess_risk(s.view, s.forecast, 0), out);
  return out;
}
// A rising memory fan: p90 from step a, p50 from step b, p10 from step c (all to the end).
void memory_fan(OneServer& s, int a, int b, int c, float v = 96) {
  s.set_upper(Metric::mem_used_pct, kP90, a, 96, v);
  if (b >= 0) s.set_upper(Metric::mem_used_pct, kP50, b, 96, v);
  if (c >= 0) s.set_upper(Metric::mem_used_pct, 0, c, 96, v);
}
}  // namespace

TEST(Alerts, CalmServerHasNone) {
  OneServer s;
  EXPECT_TRUE(alerts_of(s).empty());
}

TEST(Alerts, MemoryCrossingGivesTheFirstCrossingOfEachQuantile) {
  OneServer s;
  memory_fan(s, 4, 8, 15);  // steps are 5 min: crossing at step t is (t + 1)·5 minutes away
  const auto alerts = alerts_of(s);
  ASSERT_EQ(alerts.size(), 1u);
  const Alert& a = alerts[0];
  EXPECT_EQ(a.signal, Signal::memory);
  EXPECT_EQ(signal_metric(a.signal), "mem_used_pct");
  EXPECT_EQ(a.threshold, 95.f);
  EXPECT_EQ(a.eta_p90, 25);
  EXPECT_EQ(a.eta_p50, 45);
  EXPECT_EQ(a.eta_p10, 80);
  EXPECT_EQ(a.server, 7u);
  EXPECT_EQ(alert_message(a), "memory 95% in ~45 min (25–80 min)");
}

TEST(Alerts, StepsUnderAMinuteCountWhatTheyLastInTheEta) {
  OneServer s;
  s.view.step_ms = 30'000;
  memory_fan(s, 4, 8, 15);  // 30 s steps: step t ends (t + 1)·30 s ahead, rounded up to minutes
  const auto alerts = alerts_of(s);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].eta_p90, 3);  // 2.5 min
  EXPECT_EQ(alerts[0].eta_p50, 5);  // 4.5 min
  EXPECT_EQ(alerts[0].eta_p10, 8);
  EXPECT_EQ(alerts[0].horizon_minutes, 48);
  const ThresholdEtas etas = time_to_thresholds(s.view, s.forecast, 0);
  EXPECT_EQ(etas[static_cast<int>(Signal::memory)], (std::array<int, 3>{8, 5, 3}));
}

TEST(Alerts, OnlyTheP90CrossingStillAlertsAndSaysTheMedianDoesNot) {
  OneServer s;
  memory_fan(s, 40, -1, -1);
  const auto alerts = alerts_of(s);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].eta_p90, 205);
  EXPECT_EQ(alerts[0].eta_p50, kNoCrossing);
  EXPECT_EQ(alerts[0].eta_p10, kNoCrossing);
  EXPECT_EQ(alert_message(alerts[0]), "memory 95% possibly in ~3.4 h; median not within 8 h");
  EXPECT_EQ(alerts[0].level, Level::degraded);  // never below degraded
}

TEST(Alerts, OptimisticPathNotCrossingIsNotWithinTheHorizon) {
  OneServer s;
  memory_fan(s, 2, 23, -1);
  const auto alerts = alerts_of(s);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alert_message(alerts[0]), "memory 95% in ~2 h (15 min – not within 8 h)");
}

TEST(Alerts, CurrentValueAboveTheThresholdIsNow) {
  OneServer s;
  s.set_current(Metric::mem_used_pct, 97);
  for (int q = 0; q < 7; ++q) s.set(Metric::mem_used_pct, q, 0, 96, 97);
  const auto alerts = alerts_of(s);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].eta_p90, 0);
  EXPECT_EQ(alerts[0].eta_p50, 0);
  EXPECT_EQ(alerts[0].eta_p10, 0);
  EXPECT_EQ(alerts[0].level, Level::critical);
  EXPECT_EQ(alert_message(alerts[0]), "memory at 97% (threshold 95%) now");
}

TEST(Alerts, DatabaseMemoryThresholdIs98) {
  OneServer db(Profile::database), web(Profile::web_api);
  memory_fan(db, 0, 0, 0, 97);
  memory_fan(web, 0, 0, 0, 97);
  EXPECT_TRUE(alerts_of(db).empty());
  ASSERT_EQ(alerts_of(web).size(), 1u);
  memory_fan(db, 10, 10, 10, 98);
  const auto alerts = alerts_of(db);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].threshold, 98.f);
}

TEST(Alerts, EachSignalAlertsAtItsThreshold) {
  struct Case { Metric metric; float value; Signal signal; float threshold; };
  const Case cases[] = {{Metric::cpu_iowait_pct, 20, Signal::iowait, 20},
                        {Metric::swap_used_pct, 25, Signal::swap, 25},
                        {Metric::disk_usage_pct, 90, Signal::disk, 90},
                        {Metric::load_average, 12, Signal::load, 12}};
  for (const Case& c : cases) {
    OneServer s;
    s.set_upper(c.metric, kP90, 5, 96, c.value - 0.1f);
    EXPECT_TRUE(alerts_of(s).empty()) << signal_name(c.signal);
    s.set_upper(c.metric, kP90, 5, 96, c.value);
    const auto alerts = alerts_of(s);
    ASSERT_EQ(alerts.size(), 1u) << signal_name(c.signal);
    EXPECT_EQ(alerts[0].signal, c.signal);
    EXPECT_EQ(alerts[0].threshold, c.threshold);
    EXPECT_EQ(alerts[0].eta_p90, 30);
  }
}

TEST(Alerts, CpuAlertComesFromIdleFallingAndNamesCpuUsed) {
  OneServer s;
  for (int q = 0; q <= kP10; ++q) s.set(Metric::cpu_idle_pct, q, 10, 96, 8);  // CPU used 92 at p90
  const auto alerts = alerts_of(s);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].signal, Signal::cpu);
  EXPECT_EQ(signal_metric(alerts[0].signal), "cpu_used_pct");
  EXPECT_EQ(alerts[0].eta_p90, 55);
  EXPECT_EQ(alerts[0].eta_p50, kNoCrossing);
  EXPECT_EQ(alerts[0].current, 10.f);
}

TEST(Alerts, UrgencyOrdersByLevelThenEarliestCrossing) {
  Alert crit_late{1, Signal::disk, Level::critical, 90, 0, 200, 300, kNoCrossing, 480};
  Alert warn_now{2, Signal::memory, Level::warning, 95, 0, 0, 0, 0, 480};
  Alert warn_soon{3, Signal::swap, Level::warning, 25, 0, 10, kNoCrossing, kNoCrossing, 480};
  Alert warn_soon_median{4, Signal::swap, Level::warning, 25, 0, 10, 40, kNoCrossing, 480};
  std::vector<Alert> v = {warn_soon, crit_late, warn_soon_median, warn_now};
  std::sort(v.begin(), v.end(), more_urgent);
  EXPECT_EQ(v[0].server, 1u);
  EXPECT_EQ(v[1].server, 2u);
  EXPECT_EQ(v[2].server, 4u);
  EXPECT_EQ(v[3].server, 3u);
}

// Issue #11: what raises an alert under serving's rules.
namespace {
std::vector<Alert> alerts_with(OneServer& s, const AlertRules& rules, int steps = 288) {
  std::vector<Alert> out;
  detect_alerts(s.view, s.forecast, 0, assess_risk(s.view, s.forecast, 0), out, rules, steps);
  return out;
}
const AlertRules kServing{120, 30, 0.1f, 12};
}  // namespace

TEST(Alerts, TheMedianCrossingWithinTheLikelyWindowIsALikelyAlertWithItsProbability) {
  OneServer s;
  memory_fan(s, 4, 8, -1);  // p90 at +25 min, p50 at +45 min, p10 never
  const auto alerts = alerts_with(s, kServing);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_TRUE(alerts[0].likely);
  EXPECT_EQ(alerts[0].window_minutes, 120);
  EXPECT_FLOAT_EQ(alerts[0].probability, 0.5f);  // p50 crosses, p25 (the fixture's q 2) does not
}

TEST(Alerts, OnlyTheUpperBandSoonIsAPossibleAlertAndLaterIsNone) {
  OneServer soon, later;
  memory_fan(soon, 3, -1, -1);    // p90 at +20 min, the median never
  memory_fan(later, 10, 30, -1);  // p90 at +55 min, the median at +2.6 h
  const auto alerts = alerts_with(soon, kServing);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_FALSE(alerts[0].likely);
  EXPECT_FLOAT_EQ(alerts[0].probability, 0.1f);
  EXPECT_TRUE(alerts_with(later, kServing).empty());
}

TEST(Alerts, NoForecastAlertFromTooLittleHistoryButAMeasuredOneStill) {
  OneServer s;
  memory_fan(s, 0, 0, 0, 99);
  EXPECT_TRUE(alerts_with(s, kServing, 11).empty());
  EXPECT_EQ(alerts_with(s, kServing, 12).size(), 1u);
  s.set_current(Metric::mem_used_pct, 97);
  const auto measured = alerts_with(s, kServing, 2);
  ASSERT_EQ(measured.size(), 1u);
  EXPECT_EQ(measured[0].eta_p50, 0);
  EXPECT_FLOAT_EQ(measured[0].probability, 1.f);
}

// Alerts read the served forecast with the early climbs continued (forecast/ramp.hpp).
namespace {
std::vector<Alert> alerts_with_climbs(OneServer& s, const forecast::Ramps& climbs) {
  std::vector<Alert> out;
  forecast::ForecastBatch outlook;
  const RiskAssessment risk = assess_risk(s.view, s.forecast, 0);
  detect_alerts_with_climbs(s.view, s.forecast, 0, risk, time_to_thresholds(s.view, s.forecast, 0), climbs, outlook,
                            out, kServing, 288, nullptr);
  return out;
}
forecast::Ramps one_climb(Metric m, float level, float slope) {
  forecast::Ramps r{};
  r[static_cast<int>(m)] = {true, level, slope};
  return r;
}
}  // namespace

TEST(Alerts, ASteadyClimbTheServedForecastDoesNotFollowRaisesALikelyAlertMarkedClimb) {
  OneServer s;
  s.set_current(Metric::mem_used_pct, 80);
  for (int q = 0; q < forecast::kNumQuantiles; ++q) s.set(Metric::mem_used_pct, q, 0, 96, 80);
  EXPECT_TRUE(alerts_with_climbs(s, forecast::Ramps{}).empty());
  // +1.5 points per 5 min from 80, damped by 0.95 a step: the continued p50 reaches 95 at the
  // 15th step (Σ 0.95^i over 15 steps = 10.2), 75 min.
  const auto alerts = alerts_with_climbs(s, one_climb(Metric::mem_used_pct, 80, 1.5f));
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].signal, Signal::memory);
  EXPECT_TRUE(alerts[0].likely);
  EXPECT_TRUE(alerts[0].climb);
  EXPECT_EQ(alerts[0].eta_p50, 75);
  EXPECT_NE(alert_message(alerts[0]).find("on a steady climb"), std::string::npos);
  // The served forecast is left as it was.
  EXPECT_EQ(s.forecast.path(0, static_cast<int>(Metric::mem_used_pct), forecast::kP50)[20], 80.f);
}

TEST(Alerts, AClimbAwayFromTheThresholdNeverRemovesAnAlert) {
  OneServer s;
  memory_fan(s, 4, 8, -1);  // the served forecast alone: a likely alert, p50 at +45 min
  const auto alone = alerts_with_climbs(s, forecast::Ramps{});
  const auto falling = alerts_with_climbs(s, one_climb(Metric::mem_used_pct, 40, -2.f));
  ASSERT_EQ(alone.size(), 1u);
  ASSERT_EQ(falling.size(), 1u);
  EXPECT_EQ(falling[0].eta_p50, alone[0].eta_p50);
  EXPECT_FALSE(falling[0].climb);
}

TEST(Alerts, CpuClimbsAreIdleFalling) {
  OneServer s;  // idle 90: CPU used 10, threshold 90
  for (int q = 0; q < forecast::kNumQuantiles; ++q) s.set(Metric::cpu_idle_pct, q, 0, 96, 30);
  s.set_current(Metric::cpu_idle_pct, 30);
  const auto alerts = alerts_with_climbs(s, one_climb(Metric::cpu_idle_pct, 30, -3.f));
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].signal, Signal::cpu);
  EXPECT_TRUE(alerts[0].climb);
  EXPECT_TRUE(alerts_with_climbs(s, one_climb(Metric::cpu_idle_pct, 30, 3.f)).empty());  // idle rising
}

// A threshold inside a server's normal operation (issue #11's busy servers: heavy-load spells at
// 95–100 % CPU and memory): only the value over it, or a served median crossing, alerts there.
TEST(Alerts, WhereTheLastDaySatOverTheThresholdOnlyMeasuredAndLikelyAlertsStay) {
  OneServer s(Profile::generic, 100);
  for (int i = 0; i < 4; ++i) s.columns[static_cast<int>(Metric::mem_used_pct)][static_cast<size_t>(10 + i)] = 97;
  EXPECT_DOUBLE_EQ(share_over_threshold(Signal::memory, s.view, 95), 0.04);
  EXPECT_DOUBLE_EQ(share_over_threshold(Signal::cpu, s.view, 90), 0.0);  // CPU used = 100 − idle 90 = 10

  std::array<float, kNumSignals> over_share{};
  over_share[static_cast<int>(Signal::memory)] = 0.04f;
  AlertRules rules = kServing;
  rules.routine_over_share = 0.03f;
  Alert possible, likely, climb, measured, other_signal;
  possible.signal = likely.signal = climb.signal = measured.signal = Signal::memory;
  possible.eta_p90 = 20;
  likely.eta_p90 = likely.eta_p50 = 45;
  likely.likely = climb.likely = true;
  climb.eta_p90 = climb.eta_p50 = 75;
  climb.climb = true;
  measured.eta_p90 = measured.eta_p50 = measured.eta_p10 = 0;
  other_signal.signal = Signal::disk;  // its share is 0: a possible disk alert stays
  other_signal.eta_p90 = 20;
  std::vector<Alert> alerts = {possible, likely, climb, measured, other_signal};
  drop_routine_alerts(alerts, over_share, rules);
  ASSERT_EQ(alerts.size(), 3u);
  EXPECT_EQ(alerts[0].eta_p50, 45);  // likely
  EXPECT_EQ(alerts[1].eta_p50, 0);   // measured
  EXPECT_EQ(alerts[2].signal, Signal::disk);

  rules.routine_over_share = 0.05f;  // 4 % is under it: nothing is routine
  std::vector<Alert> all = {possible, likely, climb, measured, other_signal};
  drop_routine_alerts(all, over_share, rules);
  EXPECT_EQ(all.size(), 5u);

  rules.routine_over_share = 1.0f;  // off, even for a signal over its threshold all day
  over_share[static_cast<int>(Signal::memory)] = 1.0f;
  drop_routine_alerts(all, over_share, rules);
  EXPECT_EQ(all.size(), 5u);
}
