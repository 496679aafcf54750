#include "train/eval_metrics.hpp"

#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

#include "forecast/forecaster.hpp"

namespace nordiq::train {

using forecast::kNumQuantiles;
using forecast::kP10;
using forecast::kP50;
using forecast::kP90;

ScoreAccumulator& ScoreAccumulator::operator+=(const ScoreAccumulator& o) {
  for (int k = 0; k < kNumMetrics; ++k) {
    loss_sum[k] += o.loss_sum[k];
    abs_err_sum[k] += o.abs_err_sum[k];
    abs_y_sum[k] += o.abs_y_sum[k];
    covered[k] += o.covered[k];
    targets[k] += o.targets[k];
  }
  return *this;
}

void score_forecast(const float* values, int horizon, const WindowView& future,
                    const uint8_t* observed, ScoreAccumulator& acc) {
  const int H = std::min(horizon, future.length);
  double q_level[kNumQuantiles];
  for (int q = 0; q < kNumQuantiles; ++q) q_level[q] = forecast::kQuantiles[q];
  for (int k = 0; k < kNumMetrics; ++k) {
    const float* y = future.metric[k];
    const float* path[kNumQuantiles];
    for (int q = 0; q < kNumQuantiles; ++q)
      path[q] = values + (static_cast<size_t>(k) * kNumQuantiles + q) * horizon;
    double loss = 0, abs_err = 0, abs_y = 0;
    int64_t covered = 0, n = 0;
    for (int t = 0; t < H; ++t) {
      if (observed && !observed[t]) continue;
      const double yt = y[t];
      double l = 0;
      for (int q = 0; q < kNumQuantiles; ++q) l += quantile_loss_term(yt, path[q][t], q_level[q]);
      loss += l / kNumQuantiles;
      abs_err += std::fabs(yt - path[kP50][t]);
      abs_y += std::fabs(yt);
      covered += (yt >= path[kP10][t] && yt <= path[kP90][t]);
      ++n;
    }
    acc.loss_sum[k] += loss;
    acc.abs_err_sum[k] += abs_err;
    acc.abs_y_sum[k] += abs_y;
    acc.covered[k] += covered;
    acc.targets[k] += n;
  }
}

EvalReport summarize(int64_t windows, const std::vector<std::string>& models,
                     const std::vector<ScoreAccumulator>& acc) {
  if (models.size() != acc.size()) throw std::invalid_argument("one accumulator per model");
  EvalReport r;
  r.windows = windows;
  r.models = models;
  r.per_metric.resize(models.size());
  r.overall.resize(models.size());
  if (!acc.empty()) {
    for (int k = 0; k < kNumMetrics; ++k) {
      r.targets[k] = acc[0].targets[k];
      r.mean_abs_target[k] = r.targets[k] ? acc[0].abs_y_sum[k] / r.targets[k] : 0.0;
    }
  }
  for (size_t m = 0; m < models.size(); ++m) {
    Scores total;
    int scaled = 0, counted = 0;
    for (int k = 0; k < kNumMetrics; ++k) {
      const int64_t n = acc[m].targets[k];
      if (n != r.targets[k]) throw std::invalid_argument("models were scored on different targets");
      Scores& s = r.per_metric[m][k];
      if (n == 0) continue;
      s.quantile_loss = acc[m].loss_sum[k] / n;
      s.mae_p50 = acc[m].abs_err_sum[k] / n;
      s.coverage_p10_p90 = static_cast<double>(acc[m].covered[k]) / n;
      total.coverage_p10_p90 += s.coverage_p10_p90;
      ++counted;
      const double scale = r.mean_abs_target[k];
      if (scale > 0) {
        total.quantile_loss += s.quantile_loss / scale;
        total.mae_p50 += s.mae_p50 / scale;
        ++scaled;
      }
    }
    if (scaled) {
      total.quantile_loss /= scaled;
      total.mae_p50 /= scaled;
    }
    if (counted) total.coverage_p10_p90 /= counted;
    r.overall[m] = total;
  }
  return r;
}

namespace {
nlohmann::ordered_json scores_json(const Scores& s) {
  nlohmann::ordered_json j;
  j["quantile_loss"] = s.quantile_loss;
  j["mae_p50"] = s.mae_p50;
  j["coverage_p10_p90"] = s.coverage_p10_p90;
  return j;
}
}  // namespace

nlohmann::ordered_json report_json(const EvalReport& r) {
  nlohmann::ordered_json j;
  j["windows"] = r.windows;
  nlohmann::ordered_json overall = nlohmann::ordered_json::object();
  for (size_t m = 0; m < r.models.size(); ++m) overall[r.models[m]] = scores_json(r.overall[m]);
  j["overall"] = std::move(overall);
  nlohmann::ordered_json per = nlohmann::ordered_json::object();
  for (int k = 0; k < kNumMetrics; ++k) {
    nlohmann::ordered_json e = nlohmann::ordered_json::object();
    for (size_t m = 0; m < r.models.size(); ++m) e[r.models[m]] = scores_json(r.per_metric[m][k]);
    per[std::string(kMetrics[k].name)] = std::move(e);
  }
  j["per_metric"] = std::move(per);
  return j;
}

std::string report_table(const EvalReport& r) {
  struct Block {
    const char* title;
    double Scores::*field;
    bool coverage;  // best = closest to the nominal 0.80, else lowest
  };
  const Block blocks[] = {
      {"quantile loss (overall: mean of loss / mean|y|)", &Scores::quantile_loss, false},
      {"p50 MAE (overall: mean of MAE / mean|y|)", &Scores::mae_p50, false},
      {"p10-p90 coverage (nominal 0.80)", &Scores::coverage_p10_p90, true}};
  std::string out = fmt::format("{} forecast windows", r.windows);
  for (const Block& b : blocks) {
    out += fmt::format("\n\n{}\n{:<18}", b.title, "metric");
    for (const auto& m : r.models) out += fmt::format("{:>16}", m);
    auto row = [&](std::string_view name, auto value_of) {
      out += fmt::format("\n{:<18}", name);
      size_t best = 0;
      for (size_t m = 0; m < r.models.size(); ++m) {
        const double v = value_of(m), bv = value_of(best);
        if (b.coverage ? std::fabs(v - 0.8) < std::fabs(bv - 0.8) : v < bv) best = m;
      }
      for (size_t m = 0; m < r.models.size(); ++m)
        out += fmt::format("{:>15.4f}{}", value_of(m), m == best ? '*' : ' ');
    };
    for (int k = 0; k < kNumMetrics; ++k)
      row(kMetrics[k].name, [&](size_t m) { return r.per_metric[m][k].*(b.field); });
    row("overall", [&](size_t m) { return r.overall[m].*(b.field); });
  }
  out += '\n';
  return out;
}

}  // namespace nordiq::train
