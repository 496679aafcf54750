// Per-server anomaly: how far a server's present lies from its own recent normal, metric by
// metric, in units of that normal's spread (issue #11, cascades). Pure functions over one window.
//
// - The *baseline* of a metric is the median and the robust spread (1.4826·MAD) of the 2 h that
//   end 30 min before the latest step: recent enough to follow the daily curve, old enough that a
//   change now is not yet in it. The spread is floored (a flat series has MAD 0) at the larger of
//   an absolute floor per metric and 5 % of the level.
// - The *present* is the median of the last 3 steps (15 min): one burst is not a change.
// - A metric *deviates* when |present − baseline| ≥ enter_z spreads AND, where the window holds a
//   day, the present also lies outside the range of the same half hour yesterday by ≥ yesterday_z
//   spreads: a change that happened yesterday at this hour too is the daily cycle, not trouble.
#pragma once

#include <array>
#include <optional>

#include "core/metrics.hpp"
#include "core/window.hpp"

namespace nordiq::cascade {

// Metrics where trouble shows, and that move with load, connections and memory. Left out: uptime
// (a counter), disk (slow), idle (the complement of the CPU columns), swap (follows memory in
// bursts) and java CPU (a share of user CPU, noisy on its own).
inline constexpr std::array<Metric, 9> kWatchedMetrics = {
    Metric::cpu_user_pct, Metric::cpu_sys_pct,  Metric::cpu_iowait_pct,    Metric::mem_used_pct,
    Metric::net_in_mb_s,  Metric::net_out_mb_s, Metric::back_close_wait, Metric::front_close_wait,
    Metric::load_average};
inline constexpr int kNumWatched = static_cast<int>(kWatchedMetrics.size());

struct AnomalyParams {
  int baseline_steps = 24;  // 2 h
  int gap_steps = 6;        // the baseline ends 30 min before the latest step
  int present_steps = 3;    // 15 min
  double enter_z = 5;     // spreads from the baseline to deviate
  double yesterday_z = 3;   // spreads from the same time yesterday (when the window holds a day)
  int yesterday_steps = 6;  // yesterday's half hour compared with the present
  int day_steps = kMaxEncoderSteps;  // steps per day
};

struct Baseline {
  std::array<float, kNumWatched> level{};
  std::array<float, kNumWatched> spread{};
};

// The baseline from the window, or nothing when it is shorter than baseline + gap + present.
std::optional<Baseline> fit_baseline(const WindowView& w, const AnomalyParams& p);

// The present of one watched metric: the median of the last `present_steps`.
float present_value(const WindowView& w, const AnomalyParams& p, int watched);
// Whether the present lies outside the range of the same half hour yesterday by ≥ yesterday_z
// spreads; true when the window does not reach back a day (nothing says it is the daily cycle).
bool differs_from_yesterday(const WindowView& w, const Baseline& b, const AnomalyParams& p, int watched);

}  // namespace nordiq::cascade
