// The robust classical forecaster ("robust_profile"): a level that follows the present, plus the
// server's own time-of-day shape, with bands read from the window's own h-step changes. Real
// server metrics are bursty (spikes, hourly jobs); medians ignore the bursts that pull a mean or
// a last value away, and p50 MAE rewards exactly that. Per metric, in raw units:
//
//   day      = the last min(length, 24 h) steps; bin(i) = hour of day of step i (UTC, 24 bins)
//   p(b)     = median of x over the day's steps in bin b − median of x over the whole day
//              (0 for a bin with no step): the hour-of-day profile
//   s(m)     = median of x_i − median(day) − p(bin(i)) over the day's steps at position m
//              within the hour (12 slots for 5-min steps; 0 with fewer than
//              kRobustMinSlotSamples): the within-hour profile that hourly jobs leave
//              Both profiles are shrunk toward 0 by 2σ/√n (σ = 1.4826·MAD(Δx)/√2 over the day,
//              n = the bin's count), so the medians of pure noise do not become a pattern.
//   level    = median over the last min(length, 4 h) steps of x_i − p(bin(i)) − s(slot(i))
//   p50(h)   = level + p(bin(origin + h)) + s(slot(origin + h))
//   p_q(h)   = p50(h) + Q_q(Δh) − median(Δh),  Δh = { x_{i+h} − x_i } over the window's last
//              min(length, 24 h) steps, at anchor horizons (1, 2, 3, 6, 12, 24, 48, 96 steps)
//              interpolated linearly between anchors; an anchor with fewer than kMinChanges
//              pairs reuses the last good anchor's offsets widened by √(h / h_good)
// then clamped to the metric's range (monotone, so quantiles never cross).
// The hourly variant ("robust_hourly", a serving candidate) drops the hour-of-day profile:
//   s'(m)    = median of x_i − median(day) over the day's steps at position m within the hour
//              (shrunk as above); level' = median over the last 4 h of x_i − s'(slot(i));
//   p50(h)   = level' + s'(slot(origin + h)), the quantiles as above.
//   One day shows each hour of the day once: on a server whose days differ, p(b) is one day's
//   noise and a flat level with the hourly jobs forecasts better. Which one fits a server is
//   measured online by the safety net (forecast/skill_tracker.hpp), not assumed.
// Known limit: one day of history cannot tell a level shift held for a few hours from a daily
// pattern, so such a shift is forecast to revert when the hour turns. Serving does not rely on
// this forecaster alone.
// The fit (everything above but the horizon, read from the window) is kept apart from writing
// the paths, so serving can fit in the forecaster's prepare and write the paths in its run; the same fit's offsets also give the persistence candidate its band.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "core/window.hpp"
#include "forecast/forecaster.hpp"

namespace nordiq::forecast {

inline constexpr int64_t kRobustLevelMs = 4 * 3'600'000LL;
inline constexpr int64_t kRobustProfileMs = 24 * 3'600'000LL;
inline constexpr int kRobustMinChanges = 12;
inline constexpr int kRobustMinSlotSamples = 4;
inline constexpr int kRobustMaxSlots = 60;  // positions within the hour (1-min steps at most)
inline constexpr std::array<int, 8> kRobustAnchors = {1, 2, 3, 6, 12, 24, 48, 96};

// Quantile offsets (Q_q − median) of the h-step changes, per anchor horizon.
using RobustOffsets = std::array<std::array<float, kNumQuantiles>, kRobustAnchors.size()>;

// The shape of one metric: what changes slowly and is costly to fit (refit hourly in serving).
struct RobustMetricFit {
  std::array<float, 24> profile{};                    // hour of day (UTC)
  std::array<float, kRobustMaxSlots> slot_profile{};  // position within the hour
  std::array<float, kRobustMaxSlots> hourly_slot{};   // the same, with no hour-of-day profile
  RobustOffsets offsets{};
  float seasonal(int bin, int slot) const { return profile[bin] + (slot >= 0 ? slot_profile[slot] : 0.f); }
};

// The shape of every metric, fitted on a window ending at `fitted_step` of `fitted_length` steps.
struct RobustFit {
  RobustFit();
  bool empty = true;  // fitted on no step
  EpochMs fitted_step = 0;
  int fitted_length = 0;
  int64_t step_ms = 0;
  int slots = 0;  // positions within the hour (0: the step does not divide the hour)
  std::array<RobustMetricFit, kNumMetrics> metric;
  int slot_of(EpochMs t) const;  // −1 without slots
};

// What follows the present: the last value and the de-seasonalised level, per metric.
struct RobustLevel {
  bool empty = true;  // no step: flat zero paths
  EpochMs last_step = 0;
  std::array<float, kNumMetrics> last{}, level{};
  std::array<float, kNumMetrics> hourly_level{};  // the level of the hourly variant
};

// Reusable scratch space: one per thread, so a steady loop allocates nothing.
struct RobustProfileScratch {
  std::vector<float> values, changes, deseasonalised;
  std::vector<uint32_t> sort_keys;  // radix_sort's scratch (forecast/order_stats.hpp)
  std::vector<int> bins, slots;
  // The day's step indexes grouped by hour bin and by slot (a counting sort, once per fit), so
  // each bin's median reads its own steps instead of scanning the day 24 times.
  std::vector<int> by_bin, by_slot;
  std::array<int, 25> bin_start{};
  std::array<int, kRobustMaxSlots + 1> slot_start{};
  RobustFit fit;
  RobustLevel level;
};

// Fits the shape and the level of a window (any length; none gives empty fits). Without
// `with_band` the quantile offsets are left as they were: the anchor of the TFT's targets
// (features.cpp) needs only the p50, and the offsets' sorts are most of the fit's cost.
void fit_robust_profile(const WindowView& w, RobustFit& fit, RobustLevel& level, RobustProfileScratch& scratch,
                        bool with_band = true);
// The p50 of robust_profile at time `when` after the fitted window, raw units, not clamped.
float robust_median_at(const RobustFit& fit, const RobustLevel& level, int k, EpochMs when);
// Only the level, with a shape fitted earlier (same step): the cheap part, done every step.
void fit_robust_level(const WindowView& w, const RobustFit& fit, RobustLevel& level, RobustProfileScratch& scratch);
// values[k][q][t] (ForecastBatch layout, `horizon` steps per path).
void write_robust_profile(const RobustFit& fit, const RobustLevel& level, int horizon, float* values);
// The hourly variant: level' + the within-hour shape only.
void write_robust_hourly(const RobustFit& fit, const RobustLevel& level, int horizon, float* values);
// Persistence with the robust band: p50 = the last value, the other quantiles its h-step change
// offsets (the empirical band of a random walk from the last value), clamped to range.
void write_last_value_band(const RobustFit& fit, const RobustLevel& level, int horizon, float* values);

// Both fits and the paths for one window. A window with no step gets a flat zero forecast.
void robust_profile_forecast(const WindowView& w, int horizon, float* values,
                             RobustProfileScratch& scratch);

class RobustProfileForecaster final : public Forecaster {
 public:
  explicit RobustProfileForecaster(int horizon = kHorizonSteps) : horizon_(horizon) {}
  std::string_view description() const override { return "robust_profile"; }
  // The fit is cheap and reads the windows directly, so all the work happens here.
  void prepare(std::span<const WindowView> windows, ForecastBatch& out) override;
  void run(ForecastBatch&) override {}

 private:
  int horizon_;
  RobustProfileScratch scratch_;
};

}  // namespace nordiq::forecast
