// The reference forecasts `nordiq eval` compares a model against, in raw units, each with the
// 7 quantiles of forecast/forecaster.hpp. They see the same WindowView a model sees (history up
// to the origin, oldest first); the encoder is its last min(length, 288) steps. The p50 is the
// baseline's point forecast itself; the other quantiles are bands around it:
//
// - last value:     p50 = last step. Bands: Gaussian, σ = std of the encoder's one-step changes,
//                   widening with √h (a random walk from the last value).
// - seasonal naive: p50 = the value one day (86 400 s / step steps) before the forecast step.
//                   Bands: the empirical quantiles of the day-over-day residuals
//                   r_i = x_i − x_{i−day} over the encoder steps that have a day before them
//                   (the view may reach back up to two days for this), centred on their median;
//                   the same for every h since each forecast is a day-old value. With fewer
//                   than 24 such residuals: the empirical quantiles of √2·(x_i − mean) over the
//                   encoder (the day-over-day error of a pattern-free series with that spread).
//                   A step with no value a day earlier uses the last value.
// - linear trend:   p50 = the least-squares line over the encoder, extrapolated. Bands: the
//                   OLS prediction interval σ·√(1 + 1/n + (x − x̄)²/Sxx), Gaussian quantiles,
//                   which widens with the distance from the fitted window.
// Every value is clamped to the metric's valid range (monotone, so quantiles never cross).
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "forecast/forecaster.hpp"

namespace nordiq::train {

enum class Baseline : uint8_t { last_value, seasonal_naive, linear_trend };

inline constexpr int kNumBaselines = 3;
inline constexpr Baseline kBaselines[kNumBaselines] = {
    Baseline::last_value, Baseline::seasonal_naive, Baseline::linear_trend};

std::string_view baseline_name(Baseline b);  // "last_value", "seasonal_naive", "linear_trend"

// z-scores of the 7 quantiles of forecast::kQuantiles (standard normal).
extern const float kQuantileZ[forecast::kNumQuantiles];

// One of the naive baselines above as a Forecaster (not forecast::BaselineForecaster, the
// serving fallback of SPEC §2.3).
class NaiveForecaster final : public forecast::Forecaster {
 public:
  explicit NaiveForecaster(Baseline kind, int horizon = kHorizonSteps)
      : kind_(kind), horizon_(horizon) {}
  std::string_view description() const override { return baseline_name(kind_); }
  // All the work happens in prepare(): a baseline is cheap and reads the windows directly.
  void prepare(std::span<const WindowView> windows, forecast::ForecastBatch& out) override;
  void run(forecast::ForecastBatch&) override {}

  // One window into values[k][q][t] (horizon steps each); exposed for tests.
  void forecast_one(const WindowView& w, float* values);

 private:
  Baseline kind_;
  int horizon_;
  std::vector<float> scratch_;  // residuals, reused across calls
  std::vector<uint32_t> sort_keys_;  // forecast::radix_sort's scratch
};

}  // namespace nordiq::train
