// §4: the status chain's long-run mix and stays, and the §3 calendar factors it and the metrics use.
#include <gtest/gtest.h>

#include <cmath>

#include "sim/calendar.hpp"
#include "sim/engine.hpp"
#include "sim/tables.hpp"
#include "sim_test_util.hpp"

namespace nordiq::sim {
namespace {

TEST(MarkovChain, RowsSumToOneAndProblemChildrenDoubleCriticalEntries) {
  std::array<double, kNumStatuses> row, pc;
  for (int from = 0; from < kNumStatuses; ++from)
    for (int hour = 0; hour < 24; ++hour)
      for (int wd = 0; wd < 7; ++wd) {
        markov_row(static_cast<Status>(from), hour, wd, false, 1.0, row);
        double sum = 0;
        for (double p : row) {
          EXPECT_GE(p, 0);
          sum += p;
        }
        EXPECT_NEAR(sum, 1.0, 1e-12);
      }
  markov_row(Status::healthy, 8, 1, false, 1.0, row);  // weekday morning
  EXPECT_NEAR(row[idx(Status::healthy)], 0.9555, 1e-12);
  markov_row(Status::healthy, 12, 1, false, 1.0, row);
  EXPECT_NEAR(row[idx(Status::healthy)], 0.9635, 1e-12);
  markov_row(Status::healthy, 23, 1, false, 1.0, row);
  EXPECT_NEAR(row[idx(Status::healthy)], 0.9605, 1e-12);
  markov_row(Status::healthy, 12, 6, false, 1.0, row);  // Sunday noon
  EXPECT_NEAR(row[idx(Status::healthy)], 0.9805, 1e-12);
  markov_row(Status::critical_issue, 12, 1, true, 1.0, pc);
  EXPECT_NEAR(pc[idx(Status::critical_issue)], 0.775, 1e-12);
  EXPECT_NEAR(pc[idx(Status::recovery)], 0.150, 1e-12);
  EXPECT_NEAR(pc[idx(Status::offline)], 0.075, 1e-12);
  markov_row(Status::heavy_load, 12, 1, true, 2.0, pc);  // --step 600 doubles off-diagonals
  EXPECT_NEAR(pc[idx(Status::critical_issue)], 0.008 * 2 * 2, 1e-12);
  EXPECT_NEAR(pc[idx(Status::healthy)], 0.090 * 2, 1e-12);
}

TEST(MarkovChain, OneYearSingleServerMatchesTheLongRunMix) {
  auto cfg = test::config(42, "2025-01-06T00:00:00Z");
  cfg.problem_child_pct = 0;
  cfg.degrading_per_week = cfg.critical_per_week = cfg.cascade_per_week = 0;
  FleetCounts one{};
  one[idx(Profile::generic)] = 1;
  FleetEngine engine(cfg, one);
  std::vector<SimRecord> recs;
  std::array<int64_t, kNumStatuses> count{};
  const int64_t steps = 365 * 288;
  int64_t healthy_spells = 0, healthy_steps = 0;
  Status prev = Status::offline;
  for (int64_t k = 0; k < steps; ++k) {
    engine.step_all(k, recs);
    const Status s = engine.server(0).markov_state();
    ++count[idx(s)];
    // Without incidents the emitted status is the Markov state, and offline sends nothing.
    if (s == Status::offline)
      EXPECT_FALSE(recs[0].online);
    else
      EXPECT_EQ(recs[0].status, s);
    if (s == Status::healthy) {
      ++healthy_steps;
      if (prev != Status::healthy) ++healthy_spells;
    }
    prev = s;
  }
  auto pct = [&](Status s) { return 100.0 * count[idx(s)] / steps; };
  EXPECT_NEAR(pct(Status::healthy), 73.0, 1.0);
  EXPECT_NEAR(pct(Status::idle), 10.7, 1.0);
  EXPECT_NEAR(pct(Status::heavy_load), 9.6, 1.0);
  EXPECT_NEAR(pct(Status::morning_spike), 3.5, 1.0);
  EXPECT_NEAR(pct(Status::recovery), 1.0, 1.0);
  EXPECT_NEAR(pct(Status::critical_issue), 0.8, 1.0);
  EXPECT_NEAR(pct(Status::maintenance), 0.7, 1.0);
  EXPECT_NEAR(pct(Status::offline), 0.5, 1.0);
  const double mean_healthy_stay_h = healthy_steps * 5.0 / 60.0 / healthy_spells;
  EXPECT_GT(mean_healthy_stay_h, 2.0);
}

TEST(Calendar, DiurnalFactorHoldsBandValuesAtHalfHoursAndNeverJumps) {
  const EpochMs day = *parse_iso8601("2025-01-15T00:00:00Z");  // a Wednesday
  EXPECT_NEAR(diurnal_factor(Profile::web_api, day + 3 * 3'600'000 + 1'800'000), 0.50, 1e-12);
  EXPECT_NEAR(diurnal_factor(Profile::web_api, day + 12 * 3'600'000 + 1'800'000), 1.265, 1e-12);
  EXPECT_NEAR(diurnal_factor(Profile::risk_analytics, day + 17 * 3'600'000 + 1'800'000), 1.50, 1e-12);
  // Midway between 06:30 (0.50) and 07:30 (1.00): linear.
  EXPECT_NEAR(diurnal_factor(Profile::web_api, day + 7 * 3'600'000), 0.75, 1e-12);
  // Wrap at midnight: 23:30 (0.60) → 00:30 (0.50).
  EXPECT_NEAR(diurnal_factor(Profile::web_api, day), 0.55, 1e-12);
  for (int p = 0; p < kNumProfiles; ++p)
    for (int64_t t = day; t < day + kDayMs; t += 60'000) {
      const double a = diurnal_factor(static_cast<Profile>(p), t);
      const double b = diurnal_factor(static_cast<Profile>(p), t + 60'000);
      EXPECT_LT(std::abs(a - b), 0.02) << "jump at " << format_iso8601(t);
    }
}

TEST(Calendar, WeeklyFactorMovesOverTwoHoursAroundTheWeekend) {
  const EpochMs sat = *parse_iso8601("2025-01-18T00:00:00Z");
  const EpochMs mon = *parse_iso8601("2025-01-20T00:00:00Z");
  EXPECT_EQ(week_of(mon), week_of(sat) + 1);
  EXPECT_EQ(week_start(week_of(sat)), *parse_iso8601("2025-01-13T00:00:00Z"));
  EXPECT_NEAR(weekly_factor(Profile::web_api, sat - 2 * 3'600'000), 1.0, 1e-12);
  EXPECT_NEAR(weekly_factor(Profile::web_api, sat), 0.80, 1e-12);
  EXPECT_NEAR(weekly_factor(Profile::web_api, sat + 3'600'000), 0.60, 1e-12);
  EXPECT_NEAR(weekly_factor(Profile::risk_analytics, sat + kDayMs), 0.50, 1e-12);
  EXPECT_NEAR(weekly_factor(Profile::data_ingest, mon), 0.85, 1e-12);
  EXPECT_NEAR(weekly_factor(Profile::data_ingest, mon + 3'600'000), 1.0, 1e-12);
  EXPECT_NEAR(weekly_factor(Profile::database, sat + kDayMs), 1.0, 1e-12);
  const auto c = make_step_clock(*parse_iso8601("2025-01-15T02:00:00Z"), 300'000, 0);
  EXPECT_TRUE(c.cleanup);
  EXPECT_EQ(c.weekday, 2);
  EXPECT_EQ(c.hour, 2);
  EXPECT_FALSE(make_step_clock(*parse_iso8601("2025-01-15T02:05:00Z"), 300'000, 0).cleanup);
}

}  // namespace
}  // namespace nordiq::sim
