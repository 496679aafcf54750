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
// Known limit: one day of history cannot tell a level shift held for a few hours from a daily
// pattern, so such a shift is forecast to revert when the hour turns. Serving does not rely on
// this forecaster alone.
#pragma once

#include <vector>

#include "core/window.hpp"
#include "forecast/forecaster.hpp"

namespace nordiq::forecast {

inline constexpr int64_t kRobustLevelMs = 4 * 3'600'000LL;
inline constexpr int64_t kRobustProfileMs = 24 * 3'600'000LL;
inline constexpr int kRobustMinChanges = 12;
inline constexpr int kRobustMinSlotSamples = 4;

// Reusable scratch space: one per thread, so a steady loop allocates nothing.
struct RobustProfileScratch {
  std::vector<float> values, changes, deseasonalised;
  std::vector<int> bins, slots;
};

// One window into values[k][q][t] (ForecastBatch layout, `horizon` steps per path). A window
// with no step gets a flat zero forecast.
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
