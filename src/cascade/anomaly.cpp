#include "cascade/anomaly.hpp"

#include <algorithm>
#include <cmath>

#include "forecast/order_stats.hpp"

namespace nordiq::cascade {

namespace {

// The smallest spread a metric's normal can have, in its own unit: below it a change is noise
// whatever the series' own MAD says (a flat series has MAD 0).
constexpr std::array<float, kNumWatched> kSpreadFloor = {
    1.0f,   // cpu_user_pct
    0.5f,   // cpu_sys_pct
    0.5f,   // cpu_iowait_pct
    1.0f,   // mem_used_pct
    0.5f,   // net_in_mb_s
    0.5f,   // net_out_mb_s
    1.0f,   // back_close_wait
    1.0f,   // front_close_wait
    0.2f};  // load_average
constexpr float kRelativeSpreadFloor = 0.05f;

// Median of column[begin, begin + n) (n ≤ 64).
float median_of(const float* column, int begin, int n) {
  std::array<float, 64> scratch;
  std::copy(column + begin, column + begin + n, scratch.begin());
  return forecast::median_inplace(std::span<float>(scratch.data(), static_cast<size_t>(n)));
}

int needed_steps(const AnomalyParams& p) { return p.baseline_steps + p.gap_steps + p.present_steps; }

}  // namespace

std::optional<Baseline> fit_baseline(const WindowView& w, const AnomalyParams& p) {
  if (w.length < needed_steps(p) || p.baseline_steps > 64) return std::nullopt;
  const int begin = w.length - p.gap_steps - p.baseline_steps;
  Baseline b;
  for (int i = 0; i < kNumWatched; ++i) {
    const float* col = w.metric[static_cast<int>(kWatchedMetrics[i])];
    const float level = median_of(col, begin, p.baseline_steps);
    std::array<float, 64> dev;
    for (int s = 0; s < p.baseline_steps; ++s) dev[s] = std::fabs(col[begin + s] - level);
    const float mad = forecast::median_inplace(std::span<float>(dev.data(), static_cast<size_t>(p.baseline_steps)));
    b.level[i] = level;
    b.spread[i] = std::max({1.4826f * mad, kSpreadFloor[i], kRelativeSpreadFloor * std::fabs(level)});
  }
  return b;
}

float present_value(const WindowView& w, const AnomalyParams& p, int watched) {
  const float* col = w.metric[static_cast<int>(kWatchedMetrics[watched])];
  return median_of(col, w.length - p.present_steps, p.present_steps);
}

bool differs_from_yesterday(const WindowView& w, const Baseline& b, const AnomalyParams& p, int watched) {
  if (w.length < p.day_steps) return true;
  // A day earlier, the window's oldest half hour (it starts 23 h 55 min back): the present
  // differs when it lies outside the range of those steps by yesterday_z spreads. A range, not a
  // median, because the window cannot reach before this time yesterday and a daily ramp is then
  // a few steps further along.
  const float* col = w.metric[static_cast<int>(kWatchedMetrics[watched])] + (w.length - p.day_steps);
  const auto [lo, hi] = std::minmax_element(col, col + p.yesterday_steps);
  const float present = present_value(w, p, watched);
  const float outside = present < *lo ? *lo - present : present > *hi ? present - *hi : 0.0f;
  return outside / b.spread[watched] >= p.yesterday_z;
}

}  // namespace nordiq::cascade
