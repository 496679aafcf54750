// Synthetic histories for the train tests: CSV text in the simulator's format, and a History
// built straight from a per-step function.
#pragma once

#include <fmt/format.h>

#include <functional>
#include <string>

#include "core/metrics.hpp"
#include "core/time.hpp"
#include "train/history.hpp"

namespace nordiq::train::test {

inline constexpr const char* kHeader =
    "timestamp,server_name,profile,status,cpu_user_pct,cpu_sys_pct,cpu_iowait_pct,cpu_idle_pct,"
    "java_cpu_pct,mem_used_pct,swap_used_pct,disk_usage_pct,net_in_mb_s,net_out_mb_s,"
    "back_close_wait,front_close_wait,load_average,uptime_days";

// 2025-01-06T00:00:00Z, a Monday.
inline constexpr EpochMs kT0 = 1736121600000LL;
inline constexpr int64_t kStepMs = 300'000;

// One CSV row with every metric = `v` except the close-wait counts (rounded).
inline std::string csv_row(EpochMs t, std::string_view server, std::string_view profile,
                           std::string_view status, double v) {
  std::string row = fmt::format("{},{},{},{}", format_iso8601(t), server, profile, status);
  for (int k = 0; k < kNumMetrics; ++k) {
    if (kMetrics[k].integer)
      row += fmt::format(",{}", static_cast<long>(v));
    else
      row += fmt::format(",{:.2f}", v);
  }
  return row;
}

// A single-server History with value(k, step) for `steps` consecutive steps from kT0.
inline History make_history(int steps, const std::function<float(int, int)>& value,
                            std::string_view name = "ppweb001") {
  HistoryBuilder b;
  const ServerId id = b.intern(name, profile_from_server_name(name));
  for (int i = 0; i < steps; ++i) {
    float v[kNumMetrics];
    for (int k = 0; k < kNumMetrics; ++k) v[k] = value(k, i);
    b.add(id, kT0 + i * kStepMs, v, Status::healthy);
  }
  return b.finish();
}

}  // namespace nordiq::train::test
