// Per-key token buckets (SPEC §4.1): one bucket per (client identity, limit class), refilled at
// `per_minute / 60` tokens per second, holding at most one minute's worth (the burst).
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace nordiq::api {

enum class LimitClass : uint8_t { feed, read, admin, failed_auth };

struct RateLimits {
  double feed_per_minute = 12'000;  // 0 = unlimited
  double read_per_minute = 1'200;
  double admin_per_minute = 60;
  double failed_auth_per_minute = 60;  // per client address: guessing keys is slowed to 1/s
  double per_minute(LimitClass c) const;
};

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  explicit RateLimiter(RateLimits limits) : limits_(limits) {}

  // Takes one token for (identity, cls). Returns 0 when allowed, otherwise the seconds to wait
  // before a token is available (≥ 1, for Retry-After).
  int acquire(std::string_view identity, LimitClass cls, Clock::time_point now = Clock::now());

 private:
  struct Bucket {
    double tokens;
    Clock::time_point updated;
  };
  RateLimits limits_;
  std::mutex mutex_;
  // Drops buckets idle long enough to be full again (they are the same as no bucket), so the
  // table does not grow with every address ever seen; runs when it passes kPruneAbove.
  void prune(Clock::time_point now);
  static constexpr size_t kPruneAbove = 10'000;
  std::unordered_map<std::string, Bucket> buckets_;  // key: identity + '\0' + class
};

}  // namespace nordiq::api
