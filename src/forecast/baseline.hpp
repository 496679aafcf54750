// The baseline forecaster (SPEC §2.3): what a server gets before it has 12 steps, or when no TFT
// model is loaded. Per metric, in raw units:
//   trend b   = least-squares slope over the last min(24, length) steps
//   p50(h)    = last value + b · Σ_{i=1..h} φ^i          (damped trend, φ = 0.97: a 24-step
//               slope is never extrapolated more than ~31 steps, however far the horizon)
//   σ         = residual std of that fit (n − 2 degrees of freedom), at least a per-metric floor
//   p_q(h)    = p50(h) + z_q · σ · √h                    (z_q: standard-normal quantile)
// then clamped to the metric's valid range; quantiles are monotone by construction.
#pragma once

#include <array>
#include <vector>

#include "forecast/forecaster.hpp"

namespace nordiq::forecast {

inline constexpr int kBaselineFitSteps = 24;
inline constexpr double kBaselineDamping = 0.97;
// Bands widen with √h up to the span the fit saw (2 h), then hold: past what it saw, widening
// was guesswork, and on the mean-reverting series most servers are it took a young server's 8 h
// memory band to 0–100 % (risk "warning" from nothing but a short history).
inline constexpr int kBaselineBandSteps = kBaselineFitSteps;
// Standard-normal quantiles of kQuantiles.
inline constexpr std::array<double, kNumQuantiles> kNormalZ = {
    -2.053748910631823, -1.2815515655446004, -0.6744897501960817, 0.0,
    0.6744897501960817, 1.2815515655446004,  2.053748910631823};
// Minimum σ per metric in raw units, so a perfectly flat series still gets a visible band.
inline constexpr std::array<double, kNumMetrics> kBaselineMinSigma = {
    0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5,  // percentages
    0.01, 0.01,                              // MB/s
    0.5, 0.5,                                // connection counts
    0.05,                                    // load
    0.001};                                  // uptime days

// What the baseline keeps of a window: three numbers per metric (phase 1, under the lock).
struct BaselineFit {
  bool empty = true;  // no steps: the forecast is flat zero
  std::array<double, kNumMetrics> last{}, slope{}, sigma{};
};
BaselineFit fit_baseline(const WindowView& window);
// Writes the forecast of a fit into row b of `out` and marks the row "baseline" (phase 2).
void write_baseline(const BaselineFit& fit, ForecastBatch& out, int b);

class BaselineForecaster final : public Forecaster {
 public:
  std::string_view description() const override { return "baseline"; }
  void prepare(std::span<const WindowView> windows, ForecastBatch& out) override;
  void run(ForecastBatch& out) override;

 private:
  std::vector<BaselineFit> fits_;
};

}  // namespace nordiq::forecast
