#include "train/origins.hpp"

#include <algorithm>
#include <stdexcept>

namespace nordiq::train {

EpochMs holdout_start(const History& history, int holdout_days) {
  if (holdout_days < 0) throw std::invalid_argument("holdout days must be ≥ 0");
  if (holdout_days == 0 || history.empty()) return history.first_step;
  const EpochMs end = history.last_step + history.step_ms;
  const EpochMs start = end - holdout_days * 86'400'000LL;
  if (start <= history.first_step) return history.first_step;
  // On the step grid (a step that does not divide a day would otherwise shift it).
  const int64_t steps = (start - history.first_step + history.step_ms - 1) / history.step_ms;
  return history.first_step + steps * history.step_ms;
}

std::vector<Origin> enumerate_origins(const History& history, const OriginOptions& options) {
  if (options.stride < 1) throw std::invalid_argument("stride must be ≥ 1");
  if (options.horizon < 1) throw std::invalid_argument("horizon must be ≥ 1");
  if (options.min_history < 1) throw std::invalid_argument("min history must be ≥ 1");
  std::vector<Origin> out;
  if (history.empty()) return out;
  const EpochMs start = holdout_start(history, options.holdout_days);
  const int64_t step = history.step_ms;
  for (uint32_t s = 0; s < history.servers.size(); ++s) {
    const ServerSeries& series = history.servers[s];
    for (uint32_t g = 0; g < series.segments.size(); ++g) {
      const Segment& seg = series.segments[g];
      // Candidate indices: enough history, enough future, inside the held-out span.
      int64_t lo = options.min_history;
      const int64_t hi = seg.length - options.horizon;  // inclusive
      if (seg.first_step + lo * step < start) lo = (start - seg.first_step + step - 1) / step;
      if (lo > hi) continue;
      // Align on the held-out start: origin time t with (t − start) / step ≡ 0 (mod stride).
      const int64_t offset = (seg.first_step - start) / step;  // start and steps share the grid
      int64_t rem = (offset + lo) % options.stride;
      if (rem < 0) rem += options.stride;
      if (rem != 0) lo += options.stride - rem;
      for (int64_t i = lo; i <= hi; i += options.stride) out.push_back({s, g, i});
    }
  }
  return out;
}

}  // namespace nordiq::train
