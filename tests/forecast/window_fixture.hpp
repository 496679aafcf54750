// Test helper: owns columnar data and hands out WindowViews over it, like the store does.
#pragma once

#include <array>
#include <functional>
#include <vector>

#include "core/metrics.hpp"
#include "core/time.hpp"
#include "core/window.hpp"

namespace nordiq::testing {

struct OwnedWindow {
  std::array<std::vector<float>, kNumMetrics> columns;
  std::vector<uint8_t> status;
  Profile profile = Profile::generic;
  EpochMs first_step = 0;
  int64_t step_ms = kDefaultStepSeconds * 1000LL;

  // n steps, value(k, i) for metric k at step i; status healthy everywhere.
  static OwnedWindow make(int n, const std::function<float(int k, int i)>& value,
                          EpochMs first = 1736935200000 /* 2025-01-15T10:00:00Z, a Wednesday */) {
    OwnedWindow w;
    w.first_step = first;
    for (int k = 0; k < kNumMetrics; ++k) {
      w.columns[k].resize(static_cast<size_t>(n));
      for (int i = 0; i < n; ++i) w.columns[k][i] = value(k, i);
    }
    w.status.assign(static_cast<size_t>(n), static_cast<uint8_t>(Status::healthy));
    return w;
  }
  // A view of the first `length` steps (all of them by default).
  WindowView view(int length = -1, ServerId id = 0) const {
    WindowView v;
    v.server = id;
    v.profile = profile;
    v.length = length < 0 ? static_cast<int>(status.size()) : length;
    v.first_step = first_step;
    v.step_ms = step_ms;
    for (int k = 0; k < kNumMetrics; ++k) v.metric[k] = columns[k].data();
    v.status = status.data();
    return v;
  }
};

// A plausible value for metric k: inside its range, not constant.
inline float plausible(int k, int i) {
  const float wave = static_cast<float>((i * 37 + k * 11) % 17) / 17.f;
  switch (k) {
    case 3: return 60.f + 20.f * wave;                   // idle
    case 8: case 9: return 5.f + 10.f * wave;            // MB/s
    case 10: case 11: return static_cast<float>((i * 7 + k) % 40);  // connections
    case 12: return 1.f + 3.f * wave;                    // load
    case 13: return 10.f + i / 288.f;                    // uptime
    default: return 10.f + 40.f * wave;                  // percentages
  }
}

}  // namespace nordiq::testing
