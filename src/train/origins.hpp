// Where forecasts are made when evaluating (and where windows are cut when training): a
// time-ordered split of a History, and the forecast origins inside its held-out span.
//
// An origin is the first forecast step of a window: its encoder is the steps before it, its
// targets the `horizon` steps from it on, all inside one segment (a series restart ends a window).
#pragma once

#include <cstdint>
#include <vector>

#include "core/window.hpp"
#include "train/history.hpp"

namespace nordiq::train {

struct Origin {
  uint32_t server = 0;   // index in History::servers
  uint32_t segment = 0;  // index in ServerSeries::segments
  int64_t index = 0;     // step of the segment at which the forecast starts (= history length)
};

struct OriginOptions {
  int holdout_days = 0;             // 0 = the whole history is held out (a separate eval file)
  int stride = 1;                   // keep every stride-th step (aligned on the held-out start)
  int min_history = kMaxEncoderSteps;  // steps before the origin, inside its segment
  int horizon = kHorizonSteps;         // steps from the origin on, inside its segment
};

// Start of the held-out span: the last `holdout_days` whole days before the end of the history
// (end = last step + one step), or the first step when holdout_days is 0. Steps before it are
// the training span; a training window must end before it (no target may be held out).
EpochMs holdout_start(const History& history, int holdout_days);

// Every step t of the held-out span with ≥ min_history steps before it and horizon steps from it
// on in the same segment, and with (t − holdout_start) / step a multiple of stride. Ordered by
// server, segment, time. Throws std::invalid_argument for stride < 1, negative days, horizon < 1.
std::vector<Origin> enumerate_origins(const History& history, const OriginOptions& options);

}  // namespace nordiq::train
