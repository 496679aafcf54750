// The contract between the store (which owns per-server rolling windows) and everything that
// reads them (forecasting, the API): a read-only, columnar, contiguous view, oldest step first.
// The store keeps each column contiguous (e.g. a 2×capacity buffer compacted with one memmove
// when full), so a view is a set of pointers: no copy of the window is ever made to read it.
#pragma once

#include <cstdint>

#include "core/metrics.hpp"
#include "core/time.hpp"

namespace nordiq {

inline constexpr int kDefaultStepSeconds = 300;
inline constexpr int kMaxEncoderSteps = 288;  // 24 h of 5-min steps
inline constexpr int kMinEncoderSteps = 12;   // 1 h: below this a server gets the baseline
inline constexpr int kHorizonSteps = 96;      // 8 h
inline constexpr int kMaxForwardFill = 12;    // missing steps filled before a series restarts

using ServerId = uint32_t;  // dense, assigned at first sight

struct WindowView {
  ServerId server = 0;
  Profile profile = Profile::generic;
  int length = 0;            // closed steps available, ≤ capacity; 0 = nothing yet
  EpochMs first_step = 0;    // start time of step 0; step i starts at first_step + i * step_ms
  int64_t step_ms = kDefaultStepSeconds * 1000LL;
  const float* metric[kNumMetrics] = {};  // metric[k][i]: raw (untransformed) value, step i
  const uint8_t* status = nullptr;        // status[i]: Status enum value of step i

  EpochMs last_step() const { return first_step + (length - 1) * step_ms; }
};

}  // namespace nordiq
