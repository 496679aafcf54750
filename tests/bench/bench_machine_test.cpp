// The machine facts `nordiq bench` prints come from this machine (no timing assertion: only that
// each was measured).
#include <gtest/gtest.h>

#include <vector>

#include "bench/bench_machine.hpp"

namespace nordiq::bench {
namespace {

TEST(BenchMachine, ReportsTheCpuItsThreadsAndAMeasuredGemmRate) {
  const Machine m = measure_machine(0.05);
  EXPECT_FALSE(m.cpu.empty());
  EXPECT_FALSE(m.isa.empty());
  EXPECT_GE(m.threads, 1);
  EXPECT_GT(m.gemm_peak_gflops, 0.0);
}

TEST(BenchMachine, ReadsThisProcessResidentSetSize) {
  const double before = rss_mb();
  EXPECT_GT(before, 0.0);
  std::vector<char> touched(64 << 20, 1);  // 64 MB, every page written
  EXPECT_GT(rss_mb(), before + 32) << static_cast<int>(touched[12345]);
}

}  // namespace
}  // namespace nordiq::bench
