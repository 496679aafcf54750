// `nordiq eval alerts` end to end: a simulated history replayed through the serving path and
// scored beside the two reference rules.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <string>

namespace {

std::string run(const std::string& cmd, int& rc) {
  std::string out;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return out;
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  rc = ::pclose(p);
  return out;
}

}  // namespace

TEST(EvalAlertsCli, ScoresTheReplayedDaemonBesideTheTwoReferenceRules) {
  const auto dir = std::filesystem::path(::testing::TempDir()) / "eval_alerts";
  std::filesystem::create_directories(dir);
  const std::string bin = NORDIQ_BINARY;
  int rc = -1;
  const std::string sim = run(bin + " simulate history --days 3 --servers 10 --seed 5 --degrading-per-week 6 --output " +
                                  (dir / "h.csv").string() + " --incidents " + (dir / "i.csv").string(),
                              rc);
  ASSERT_EQ(rc, 0) << sim;
  std::string out = run(bin + " eval alerts --model baseline --threads 1 --json --data " + (dir / "h.csv").string() +
                            " --incidents " + (dir / "i.csv").string(),
                        rc);
  ASSERT_EQ(rc, 0) << out;
  const auto json = nlohmann::json::parse(out.substr(out.find('{')));
  for (const char* system : {"nordiq", "static_threshold", "linear_trend_1h_30m"}) {
    ASSERT_TRUE(json.contains(system)) << system;
    const auto& s = json[system];
    EXPECT_GT(s["incidents"].get<int>(), 0) << system;
    EXPECT_DOUBLE_EQ(s["server_days"].get<double>(), 30.0) << system;
    EXPECT_GE(s["warned_share"].get<double>(), s["warned_30m_share"].get<double>()) << system;
    EXPECT_LE(s["open_share"].get<double>(), 1.0) << system;
  }
  // The daemon alerts at all, and its hysteresis keeps re-opens below the bare threshold rule's.
  EXPECT_GT(json["nordiq"]["openings"].get<int>(), 0);
  EXPECT_LT(json["nordiq"]["reopened_30m_share"].get<double>(), json["static_threshold"]["reopened_30m_share"].get<double>());

  out = run(bin + " eval alerts --model baseline --data " + (dir / "h.csv").string() + " --incidents " +
                (dir / "missing.csv").string(),
            rc);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("missing.csv"), std::string::npos) << out;
}
