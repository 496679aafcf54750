// --regimes realistic: the records stay consistent and deterministic, the base series' streams
// are untouched (episodes and ground truth identical), and the regimes really are there: levels
// that move from day to day, which the base simulator's daily-profile series never do.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "sim_test_util.hpp"

namespace nordiq::sim {
namespace {

using test::history_text;
using test::lines;
using test::split;

// cpu_user (hundredths) per server, in time order, with the consistency rules checked per row.
std::map<std::string, std::vector<double>> cpu_user_by_server(const std::string& csv) {
  std::map<std::string, std::vector<double>> out;
  const auto rows = lines(csv);
  for (size_t i = 1; i < rows.size(); ++i) {
    const auto f = split(rows[i], ',');
    if (f.size() != 18) {
      ADD_FAILURE() << rows[i];
      continue;
    }
    const long user = std::lround(std::stod(f[4]) * 100), sys = std::lround(std::stod(f[5]) * 100),
               io = std::lround(std::stod(f[6]) * 100), idle = std::lround(std::stod(f[7]) * 100),
               java = std::lround(std::stod(f[8]) * 100);
    EXPECT_EQ(user + sys + io + idle, 10000) << rows[i];
    EXPECT_LE(java, user + sys) << rows[i];
    const double mem = std::stod(f[9]);
    EXPECT_TRUE(mem >= 0 && mem <= 100) << rows[i];
    EXPECT_GE(std::stod(f[16]), 0.0) << rows[i];  // load
    out[f[1]].push_back(user / 100.0);
  }
  return out;
}

// Standard deviation of the daily means of a series (288 steps a day).
double sd_of_daily_means(const std::vector<double>& v) {
  std::vector<double> means;
  for (size_t d = 0; d + 288 <= v.size(); d += 288) {
    double s = 0;
    for (size_t i = d; i < d + 288; ++i) s += v[i];
    means.push_back(s / 288);
  }
  double m = 0, sq = 0;
  for (double x : means) m += x / static_cast<double>(means.size());
  for (double x : means) sq += (x - m) * (x - m) / static_cast<double>(means.size());
  return std::sqrt(sq);
}

TEST(Regimes, RecordsStayConsistentAndTheGroundTruthIsUnchanged) {
  auto cfg = test::config(42);
  const auto base = history_text(cfg, split_fleet(30), 3, 2);
  cfg.regimes = true;
  const auto with = history_text(cfg, split_fleet(30), 3, 2);
  cpu_user_by_server(with.csv);
  EXPECT_FALSE(base.csv == with.csv);
  EXPECT_TRUE(base.incidents == with.incidents) << "the regimes must not touch the episode streams";
  EXPECT_EQ(lines(base.csv).size(), lines(with.csv).size()) << "nor the Markov chain (offline steps)";
}

TEST(Regimes, SameSeedSameBytesWhateverTheThreadCount) {
  auto cfg = test::config(7);
  cfg.regimes = true;
  const auto a = history_text(cfg, split_fleet(30), 2, 1);
  const auto b = history_text(cfg, split_fleet(30), 2, 4);
  EXPECT_TRUE(a.csv == b.csv);
}

TEST(Regimes, DailyLevelsWanderWhereTheBaseSimulatorRevertsToItsProfile) {
  auto cfg = test::config(42);
  cfg.degrading_per_week = cfg.critical_per_week = cfg.cascade_per_week = 0;  // levels only
  const auto base = cpu_user_by_server(history_text(cfg, split_fleet(40), 14, 2).csv);
  cfg.regimes = true;
  const auto with = cpu_user_by_server(history_text(cfg, split_fleet(40), 14, 2).csv);
  int wandering_base = 0, wandering_with = 0;
  for (const auto& [name, series] : base) wandering_base += sd_of_daily_means(series) > 5.0;
  for (const auto& [name, series] : with) wandering_with += sd_of_daily_means(series) > 5.0;
  // Base servers move only with their profile's weekend factor (risk_analytics halves its CPU);
  // with the regimes, level shifts (60 % of servers) and walks (35 %) move many more.
  EXPECT_GE(wandering_with, wandering_base + 8) << wandering_base << " base servers wander";
}

}  // namespace
}  // namespace nordiq::sim
