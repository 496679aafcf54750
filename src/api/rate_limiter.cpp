#include "api/rate_limiter.hpp"

#include <algorithm>
#include <cmath>

namespace nordiq::api {

double RateLimits::per_minute(LimitClass c) const {
  switch (c) {
    case LimitClass::feed: return feed_per_minute;
    case LimitClass::read: return read_per_minute;
    case LimitClass::admin: return admin_per_minute;
    case LimitClass::failed_auth: return failed_auth_per_minute;
  }
  return 0;
}

int RateLimiter::acquire(std::string_view identity, LimitClass cls, Clock::time_point now) {
  const double per_minute = limits_.per_minute(cls);
  if (per_minute <= 0) return 0;
  const double burst = per_minute;  // one minute's worth
  const double per_second = per_minute / 60.0;

  std::string key;
  key.reserve(identity.size() + 2);
  key.append(identity).push_back('\0');
  key.push_back(static_cast<char>('0' + static_cast<int>(cls)));

  std::lock_guard lock(mutex_);
  if (buckets_.size() > kPruneAbove) prune(now);
  auto [it, inserted] = buckets_.try_emplace(std::move(key), Bucket{burst, now});
  Bucket& b = it->second;
  if (!inserted) {
    const double elapsed = std::chrono::duration<double>(now - b.updated).count();
    b.tokens = std::min(burst, b.tokens + std::max(0.0, elapsed) * per_second);
    b.updated = now;
  }
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return 0;
  }
  return std::max(1, static_cast<int>(std::ceil((1.0 - b.tokens) / per_second)));
}

void RateLimiter::prune(Clock::time_point now) {
  // Every class refills its whole burst (one minute's worth) within a minute.
  std::erase_if(buckets_, [&](const auto& entry) { return now - entry.second.updated >= std::chrono::minutes(1); });
}

}  // namespace nordiq::api
