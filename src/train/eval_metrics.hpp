// Forecast accuracy scores for `nordiq eval`, per metric in the metric's own units:
//   quantile loss  = mean over targets of (1/Q) Σ_q 2·max((q−1)·e, q·e),  e = y − ŷ_q
//                    (TFT.md §11's ρ_q, averaged over quantiles and steps, in raw units)
//   mae_p50        = mean over targets of |y − ŷ_p50|
//   coverage       = share of targets with ŷ_p10 ≤ y ≤ ŷ_p90 (nominal 0.80)
// A target is one (window, horizon step, metric) whose step was observed (forward-filled steps
// are not real measurements and are skipped). `overall` averages the per-metric values after
// dividing each metric's loss and MAE by that metric's mean |y| over the same targets, so no unit
// dominates; coverage is averaged as is. A metric whose targets are all 0 has no scale and is
// left out of the overall average (its per-metric values are still reported).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/metrics.hpp"
#include "core/window.hpp"

namespace nordiq::train {

struct Scores {
  double quantile_loss = 0;
  double mae_p50 = 0;
  double coverage_p10_p90 = 0;
};

// Running sums for one model, every metric. Merge per-thread accumulators with +=.
struct ScoreAccumulator {
  std::array<double, kNumMetrics> loss_sum{};     // Σ (1/Q) Σ_q ρ_q
  std::array<double, kNumMetrics> abs_err_sum{};  // Σ |y − p50|
  std::array<double, kNumMetrics> abs_y_sum{};    // Σ |y|  (same targets for every model)
  std::array<int64_t, kNumMetrics> covered{};
  std::array<int64_t, kNumMetrics> targets{};

  ScoreAccumulator& operator+=(const ScoreAccumulator& o);
};

// 2·pinball of TFT.md §11 for one target and one quantile level.
inline double quantile_loss_term(double y, double yhat, double q) {
  const double e = y - yhat;
  return 2.0 * (e >= 0 ? q * e : (q - 1.0) * e);
}

// Scores one forecast: values[k][q][t] (forecast::ForecastBatch layout, `horizon` steps) against
// the `horizon` steps of `future` (a view starting at the origin); observed[t] = 0 skips step t.
void score_forecast(const float* values, int horizon, const WindowView& future,
                    const uint8_t* observed, ScoreAccumulator& acc);

struct EvalReport {
  int64_t windows = 0;
  std::vector<std::string> models;                       // "model", "last_value", ...
  std::vector<std::array<Scores, kNumMetrics>> per_metric;  // [model][metric]
  std::vector<Scores> overall;                           // [model]
  std::array<double, kNumMetrics> mean_abs_target{};     // the overall's per-metric divisors
  std::array<int64_t, kNumMetrics> targets{};
};

// Turns the accumulators (one per model, same targets) into the report.
EvalReport summarize(int64_t windows, const std::vector<std::string>& models,
                     const std::vector<ScoreAccumulator>& acc);

// `{"windows": N, "overall": {"<model>": {"quantile_loss", "mae_p50", "coverage_p10_p90"}, ...},
//   "per_metric": {"<metric>": {"<model>": {...}, ...}, ...}}` (issue #6 item 3), in model and
// contract order.
nlohmann::ordered_json report_json(const EvalReport& report);

// Three blocks (quantile loss, p50 MAE, coverage): one row per metric plus "overall", one column
// per model; the best value of each row is marked with '*'.
std::string report_table(const EvalReport& report);

}  // namespace nordiq::train
