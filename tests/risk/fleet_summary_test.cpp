#include <gtest/gtest.h>

#include "risk/fleet_summary.hpp"

using namespace nordiq::risk;

TEST(FleetSummary, CountsLevelsHealthAndCrossingProbabilities) {
  const ServerOutlook servers[] = {
      {0, Level::healthy, kNoCrossing},
      {55, Level::degraded, 25},
      {65, Level::warning, 40},
      {85, Level::critical, 0},
  };
  const FleetSummary s = summarize_fleet(servers);
  EXPECT_EQ(s.total_servers, 4);
  for (int l = 0; l < kNumLevels; ++l) EXPECT_EQ(s.per_level[l], 1);
  EXPECT_DOUBLE_EQ(s.mean_risk, 51.25);
  EXPECT_DOUBLE_EQ(s.fleet_health, 48.75);
  EXPECT_DOUBLE_EQ(s.prob_30m, 0.5);
  EXPECT_DOUBLE_EQ(s.prob_8h, 0.75);
}

TEST(FleetSummary, EmptyFleetIsHealthy) {
  const FleetSummary s = summarize_fleet({});
  EXPECT_EQ(s.total_servers, 0);
  EXPECT_EQ(s.fleet_health, 100);
  EXPECT_EQ(s.prob_8h, 0);
}

TEST(FleetSummary, EarliestCrossingOverAServersAlerts) {
  Alert a, b, c;
  a.eta_p90 = 120;
  b.eta_p90 = 35;
  c.eta_p90 = kNoCrossing;
  const Alert alerts[] = {a, b, c};
  EXPECT_EQ(earliest_p90_eta(alerts), 35);
  EXPECT_EQ(earliest_p90_eta({}), kNoCrossing);
}
