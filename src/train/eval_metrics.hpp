// Forecast accuracy scores for `nordiq eval`, per metric in the metric's own units:
//   quantile loss  = mean over targets of (1/Q) Σ_q 2·max((q−1)·e, q·e),  e = y − ŷ_q
//                    (TFT.md §11's ρ_q, averaged over quantiles and steps, in raw units)
//   mae_p50        = mean over targets of |y − ŷ_p50|
//   coverage       = share of targets with ŷ_p10 ≤ y ≤ ŷ_p90 (nominal 0.80)
//   bias_p50       = mean over targets of ŷ_p50 − y (> 0: forecasts too high). MAE says how far
//                    off a forecaster is; the bias says whether it is off one way, e.g. a level
//                    that follows a mean where bursty series want their median
// A target is one (window, horizon step, metric) whose step was observed (forward-filled steps
// are not real measurements and are skipped). `overall` averages the per-metric values after
// dividing each metric's loss, MAE and bias by that metric's mean |y| over the same targets, so no
// unit dominates; coverage is averaged as is. A metric whose targets are all 0 has no scale and is
// left out of the overall average (its per-metric values are still reported).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/metrics.hpp"
#include "core/window.hpp"
#include "forecast/horizons.hpp"

namespace nordiq::train {

struct Scores {
  double quantile_loss = 0;
  double mae_p50 = 0;
  double coverage_p10_p90 = 0;
  double skill_vs_last_value = 0;
  double bias_p50 = 0;  // 1 − mae_p50 / mae_p50 of last_value (0 when not evaluated)
};

// The horizon bands live in forecast/horizons.hpp (serving tracks accuracy by the same bands).
using forecast::EvalHorizon;
using forecast::horizon_bands;
using forecast::kEvalHorizons;
using forecast::kNumEvalHorizons;
using forecast::StepBand;

// Running sums for one model, every metric. Merge per-thread accumulators with +=.
struct ScoreAccumulator {
  std::array<double, kNumMetrics> loss_sum{};     // Σ (1/Q) Σ_q ρ_q
  std::array<double, kNumMetrics> abs_err_sum{};  // Σ |y − p50|
  std::array<double, kNumMetrics> err_sum{};      // Σ (p50 − y)
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
// Only steps [t_begin, t_end) of the forecast are scored (default: all of them).
void score_forecast(const float* values, int horizon, const WindowView& future,
                    const uint8_t* observed, ScoreAccumulator& acc, int t_begin = 0,
                    int t_end = -1);

// The scores of every model on one set of targets (all steps, or one horizon).
struct ScoreBlock {
  std::vector<std::array<Scores, kNumMetrics>> per_metric;  // [model][metric]
  std::vector<Scores> overall;                              // [model]
  std::array<double, kNumMetrics> mean_abs_target{};        // the overall's per-metric divisors
  std::array<int64_t, kNumMetrics> targets{};
};

struct EvalReport {
  int64_t windows = 0;
  std::vector<std::string> models;                       // "model", "last_value", ...
  std::vector<std::array<Scores, kNumMetrics>> per_metric;  // [model][metric]
  std::vector<Scores> overall;                           // [model]
  std::array<double, kNumMetrics> mean_abs_target{};     // the overall's per-metric divisors
  std::array<int64_t, kNumMetrics> targets{};
  // [kNumEvalHorizons] in kEvalHorizons order; a horizon the forecasts do not reach has no
  // targets (and is left out of the JSON and the table).
  std::vector<ScoreBlock> per_horizon;
};

// Turns one set of accumulators (one per model, same targets) into a block; skill needs a model
// named "last_value" among them.
ScoreBlock summarize_block(const std::vector<std::string>& models,
                           const std::vector<ScoreAccumulator>& acc);
// Turns the accumulators into the report: acc[m] over all steps, per_horizon[h][m] (may be
// empty) at each of kEvalHorizons.
EvalReport summarize(int64_t windows, const std::vector<std::string>& models,
                     const std::vector<ScoreAccumulator>& acc,
                     const std::vector<std::vector<ScoreAccumulator>>& per_horizon = {});

// `{"windows": N, "overall": B, "per_metric": {"<metric>": B, ...},
//   "per_horizon": {"5m": {"overall": B, "per_metric": {"<metric>": B}}, "30m": ..., ...}}`
// where B = {"<model>": {"quantile_loss", "mae_p50", "coverage_p10_p90", "skill_vs_last_value",
// "bias_p50"}},
// in model, contract and horizon order.
nlohmann::ordered_json report_json(const EvalReport& report);

// Three blocks (quantile loss, p50 MAE, coverage): one row per metric plus "overall", one column
// per model; then p50 MAE, skill vs last value, coverage and p50 bias per horizon, for `metric`
// (a contract index) or, with −1, overall. The best value of each row is marked with '*'.
std::string report_table(const EvalReport& report, int metric = -1);

}  // namespace nordiq::train
