// The default server limit fits the machine: half its memory at the measured cost per server.
#include <gtest/gtest.h>

#include "api/memory_budget.hpp"

namespace nordiq::api {
namespace {

constexpr uint64_t kGiB = 1ULL << 30;

TEST(MemoryBudget, DefaultServerLimitIsHalfTheMemoryAtTheCostPerServer) {
  EXPECT_EQ(fitted_max_servers(8 * kGiB), 8 * kGiB / 2 / kBytesPerServer);  // 8,192
  EXPECT_EQ(fitted_max_servers(24 * kGiB), 24'576u);
  EXPECT_EQ(fitted_max_servers(0), kMinFittedServers);              // unknown or tiny: still usable
  EXPECT_EQ(fitted_max_servers(1024 * kGiB), kMaxFittedServers);    // huge: the old ceiling
  EXPECT_NE(describe_fitted_max_servers(8 * kGiB).find("8192 servers"), std::string::npos)
      << describe_fitted_max_servers(8 * kGiB);
}

TEST(MemoryBudget, UsableMemoryIsKnownHere) {
  const uint64_t bytes = usable_memory_bytes();
  EXPECT_GT(bytes, 256ULL << 20);  // any machine that builds NordIQ has more than 256 MiB
}

}  // namespace
}  // namespace nordiq::api
