// `nordiq bench --cycle-only --servers …`: the forecast cycle measured at the fleet sizes asked
// for, on the default model and on H = 64 (live cycles, the hourly refit, a new daemon's first
// cycle, the matrix products' FLOPs and rate), and nothing else. Checks the report's shape and that
// every number was measured, never how fast (no timing assertions: the machines are shared).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <set>
#include <string>

namespace {

std::string run(const std::string& cmd, int& rc) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  rc = ::pclose(p);
  return out;
}

const std::string kBench = std::string(NORDIQ_BINARY) + " bench --models-dir " NORDIQ_SOURCE_DIR "/models";

}  // namespace

TEST(BenchCli, CycleOnlyMeasuresEachAskedFleetSizeOnBothModelsAndNothingElse) {
  int rc = -1;
  const std::string out = run(kBench + " --quick --cycle-only --servers 7,20 --json 2>/dev/null", rc);
  ASSERT_EQ(rc, 0) << out;
  const auto report = nlohmann::json::parse(out);
  EXPECT_GT(report["gemm_peak_gflops"].get<double>(), 0);
  std::set<std::pair<std::string, int>> measured;
  for (const auto& c : report["forecast_cycle"]) {
    measured.emplace(c["model"].get<std::string>(), c["servers"].get<int>());
    EXPECT_EQ(c["hidden"].get<int>(), c["model"] == "medium" ? 64 : 32);
    EXPECT_GT(c["ms"].get<double>(), 0);
    EXPECT_GT(c["first_cycle_ms"].get<double>(), 0);
    EXPECT_GT(c["refit_cycle_ms"].get<double>(), 0);
    EXPECT_GT(c["cpu_ms"].get<double>(), 0);  // the cycle's threads ran: CPU time counted
    EXPECT_GE(c["page_faults"].get<double>(), 0);
    EXPECT_GT(c["gflop"].get<double>(), 0);
    // the matrix products were counted: fewer FLOPs than the unfolded network's count, at a rate
    EXPECT_GT(c["matrix_gflop"].get<double>(), 0);
    EXPECT_LT(c["matrix_gflop"].get<double>(), c["gflop"].get<double>());
    EXPECT_GT(c["matrix_gflops_per_thread"].get<double>(), 0);
    EXPECT_GT(c["matrix_share_of_peak"].get<double>(), 0);
    EXPECT_DOUBLE_EQ(c["ms_per_server"].get<double>(), c["ms"].get<double>() / c["servers"].get<int>());
  }
  const std::set<std::pair<std::string, int>> asked = {{"default", 7}, {"medium", 7}, {"default", 20}, {"medium", 20}};
  EXPECT_EQ(measured, asked);
  EXPECT_EQ(report["settings"]["live_cycles"].get<int>(), 11);  // an hour of steps, the last one the refit
  for (const char* skipped : {"feed_500", "predictions_500", "rss_mb", "training_windows_per_s"})
    EXPECT_FALSE(report.contains(skipped)) << skipped;
}

TEST(BenchCli, AFleetTooSmallToHoldEveryProfileIsRefusedWithTheOptionNamed) {
  int rc = -1;
  const std::string out = run(kBench + " --cycle-only --servers 20,5 2>&1", rc);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("--servers"), std::string::npos) << out;
}
