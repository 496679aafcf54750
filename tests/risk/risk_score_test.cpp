#include <gtest/gtest.h>

#include "risk/risk_score.hpp"
#include "risk_fixture.hpp"

using namespace nordiq;
using namespace nordiq::risk;
using nordiq::forecast::kP10;
using nordiq::forecast::kP50;
using nordiq::forecast::kP90;
using nordiq::testing::OneServer;

struct TierRow {
  Signal signal;
  Profile profile;
  double at_least;
  double points;
  double next_points;  // the points just below this row's threshold
};

// Every row of SPEC §3.1.
const TierRow kRows[] = {
    {Signal::cpu, Profile::generic, 98, 95, 80},    {Signal::cpu, Profile::generic, 95, 80, 65},
    {Signal::cpu, Profile::generic, 90, 65, 50},    {Signal::cpu, Profile::generic, 80, 50, 0},
    {Signal::memory, Profile::web_api, 98, 95, 80}, {Signal::memory, Profile::web_api, 95, 80, 60},
    {Signal::memory, Profile::web_api, 90, 60, 50}, {Signal::memory, Profile::web_api, 85, 50, 0},
    {Signal::memory, Profile::database, 99, 95, 80}, {Signal::memory, Profile::database, 98, 80, 60},
    {Signal::memory, Profile::database, 95, 60, 0},
    {Signal::iowait, Profile::generic, 30, 90, 70}, {Signal::iowait, Profile::generic, 20, 70, 50},
    {Signal::iowait, Profile::generic, 10, 50, 0},
    {Signal::swap, Profile::generic, 50, 85, 65},   {Signal::swap, Profile::generic, 25, 65, 50},
    {Signal::swap, Profile::generic, 10, 50, 0},
    {Signal::load, Profile::generic, 12, 70, 50},   {Signal::load, Profile::generic, 8, 50, 0},
    {Signal::disk, Profile::generic, 95, 90, 65},   {Signal::disk, Profile::generic, 90, 65, 0},
};

class TierRowTest : public ::testing::TestWithParam<TierRow> {};

TEST_P(TierRowTest, ThresholdScoresTheRowAndJustBelowScoresTheNextRow) {
  const TierRow& r = GetParam();
  EXPECT_EQ(tier_points(r.signal, r.profile, r.at_least), r.points);
  EXPECT_EQ(tier_points(r.signal, r.profile, r.at_least + 0.5), r.points);
  EXPECT_EQ(tier_points(r.signal, r.profile, r.at_least - 0.01), r.next_points);
}

INSTANTIATE_TEST_SUITE_P(EverySpecRow, TierRowTest, ::testing::ValuesIn(kRows));

// The same rows through the whole risk computation, as the current value of one signal.
TEST_P(TierRowTest, CurrentValueAloneScoresItsPointsWithItsSignalAsDriver) {
  const TierRow& r = GetParam();
  OneServer s(r.profile);
  const float v = static_cast<float>(r.at_least);
  switch (r.signal) {
    case Signal::cpu: s.set_current(Metric::cpu_idle_pct, 100.f - v); break;
    case Signal::memory: s.set_current(Metric::mem_used_pct, v); break;
    case Signal::iowait: s.set_current(Metric::cpu_iowait_pct, v); break;
    case Signal::swap: s.set_current(Metric::swap_used_pct, v); break;
    case Signal::load: s.set_current(Metric::load_average, v); break;
    case Signal::disk: s.set_current(Metric::disk_usage_pct, v); break;
  }
  const RiskAssessment a = assess_risk(s.view, s.forecast, 0);
  EXPECT_FLOAT_EQ(a.score, r.points);
  EXPECT_EQ(a.driver, r.signal);
  EXPECT_EQ(a.level, level_for(r.points));
}

TEST(RiskScore, EverythingNormalScoresZero) {
  OneServer s;
  const RiskAssessment a = assess_risk(s.view, s.forecast, 0);
  EXPECT_EQ(a.score, 0.f);
  EXPECT_EQ(a.level, Level::healthy);
}

TEST(RiskScore, MemoryAt97AloneIsCritical) {
  OneServer s;
  s.set_current(Metric::mem_used_pct, 97);
  for (int q = 0; q < 7; ++q) s.set(Metric::mem_used_pct, q, 0, 96, 97);
  const RiskAssessment a = assess_risk(s.view, s.forecast, 0);
  EXPECT_FLOAT_EQ(a.score, 80.f);
  EXPECT_EQ(a.level, Level::critical);
  EXPECT_EQ(a.driver, Signal::memory);
}

TEST(RiskScore, DatabaseMemoryAt97IsOnlyAWarning) {
  OneServer s(Profile::database);
  s.set_current(Metric::mem_used_pct, 97);
  EXPECT_FLOAT_EQ(assess_risk(s.view, s.forecast, 0).score, 60.f);
}

TEST(RiskScore, NearTermForecastCountsNineTenthsUsingTheMeanOfTheFirstSixP90Steps) {
  OneServer s;
  s.set_upper(Metric::mem_used_pct, kP90, 0, 6, 96);  // mean 96 → 80 points
  EXPECT_FLOAT_EQ(assess_risk(s.view, s.forecast, 0).score, 0.9f * 80);
  // Only three of the six steps high: mean (3·96 + 3·40)/6 = 68 → no near-term points, but the
  // horizon maximum still counts 0.6 · 80.
  OneServer t;
  t.set_upper(Metric::mem_used_pct, kP90, 0, 3, 96);
  EXPECT_FLOAT_EQ(assess_risk(t.view, t.forecast, 0).score, 0.6f * 80);
}

TEST(RiskScore, BreachLateInTheHorizonCountsSixTenths) {
  OneServer s;
  s.set_upper(Metric::disk_usage_pct, kP90, 80, 81, 96);
  const RiskAssessment a = assess_risk(s.view, s.forecast, 0);
  EXPECT_FLOAT_EQ(a.score, 0.6f * 90);
  EXPECT_EQ(a.driver, Signal::disk);
  EXPECT_EQ(a.level, Level::degraded);
}

TEST(RiskScore, MedianAndOptimisticPathsDoNotCountOnlyP90) {
  OneServer s;
  s.set(Metric::mem_used_pct, kP50, 0, 96, 40);
  s.set(Metric::mem_used_pct, 6, 0, 96, 99);  // only p98 is high
  EXPECT_EQ(assess_risk(s.view, s.forecast, 0).score, 0.f);
}

TEST(RiskScore, CpuUsesTheP10OfIdle) {
  OneServer s;
  for (int q = 0; q <= kP10; ++q) s.set(Metric::cpu_idle_pct, q, 0, 96, 5);  // CPU used 95 at p10
  s.set(Metric::cpu_idle_pct, kP50, 0, 96, 50);
  const RiskAssessment a = assess_risk(s.view, s.forecast, 0);
  EXPECT_FLOAT_EQ(a.score, 0.9f * 80);
  EXPECT_EQ(a.driver, Signal::cpu);
}

TEST(RiskScore, SeveralSignalsAddAFifthOfTheRest) {
  OneServer s;
  s.set_current(Metric::mem_used_pct, 91);    // 60
  s.set_current(Metric::swap_used_pct, 30);   // 65
  s.set_current(Metric::load_average, 9);     // 50
  const RiskAssessment a = assess_risk(s.view, s.forecast, 0);
  EXPECT_FLOAT_EQ(a.score, 65 + 0.2f * (60 + 50));
  EXPECT_EQ(a.driver, Signal::swap);
  EXPECT_FLOAT_EQ(a.signal_risk[static_cast<int>(Signal::memory)], 60);
}

TEST(RiskScore, IsCappedAtOneHundred) {
  OneServer s;
  s.set_current(Metric::cpu_idle_pct, 0);
  s.set_current(Metric::mem_used_pct, 100);
  s.set_current(Metric::cpu_iowait_pct, 40);
  s.set_current(Metric::swap_used_pct, 60);
  s.set_current(Metric::load_average, 20);
  s.set_current(Metric::disk_usage_pct, 99);
  EXPECT_EQ(assess_risk(s.view, s.forecast, 0).score, 100.f);
}

TEST(Levels, BoundariesAndColors) {
  EXPECT_EQ(level_for(100), Level::critical);
  EXPECT_EQ(level_for(80), Level::critical);
  EXPECT_EQ(level_for(79.9), Level::warning);
  EXPECT_EQ(level_for(60), Level::warning);
  EXPECT_EQ(level_for(59.9), Level::degraded);
  EXPECT_EQ(level_for(50), Level::degraded);
  EXPECT_EQ(level_for(49.9), Level::healthy);
  EXPECT_EQ(level_for(0), Level::healthy);
  EXPECT_EQ(level_color(Level::critical), "#FF0000");
  EXPECT_EQ(level_color(Level::warning), "#FFA500");
  EXPECT_EQ(level_color(Level::degraded), "#FFD700");
  EXPECT_EQ(level_color(Level::healthy), "#00FF00");
}
