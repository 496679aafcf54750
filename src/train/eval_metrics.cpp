#include "train/eval_metrics.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
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
    err_sum[k] += o.err_sum[k];
    abs_y_sum[k] += o.abs_y_sum[k];
    covered[k] += o.covered[k];
    targets[k] += o.targets[k];
  }
  return *this;
}

void score_forecast(const float* values, int horizon, const WindowView& future,
                    const uint8_t* observed, ScoreAccumulator& acc, int t_begin, int t_end) {
  const int H = std::min(t_end < 0 ? horizon : std::min(t_end, horizon), future.length);
  double q_level[kNumQuantiles];
  for (int q = 0; q < kNumQuantiles; ++q) q_level[q] = forecast::kQuantiles[q];
  for (int k = 0; k < kNumMetrics; ++k) {
    const float* y = future.metric[k];
    const float* path[kNumQuantiles];
    for (int q = 0; q < kNumQuantiles; ++q)
      path[q] = values + (static_cast<size_t>(k) * kNumQuantiles + q) * horizon;
    double loss = 0, abs_err = 0, err = 0, abs_y = 0;
    int64_t covered = 0, n = 0;
    for (int t = std::max(t_begin, 0); t < H; ++t) {
      if (observed && !observed[t]) continue;
      const double yt = y[t];
      double l = 0;
      for (int q = 0; q < kNumQuantiles; ++q) l += quantile_loss_term(yt, path[q][t], q_level[q]);
      loss += l / kNumQuantiles;
      abs_err += std::fabs(yt - path[kP50][t]);
      err += path[kP50][t] - yt;
      abs_y += std::fabs(yt);
      covered += (yt >= path[kP10][t] && yt <= path[kP90][t]);
      ++n;
    }
    acc.loss_sum[k] += loss;
    acc.abs_err_sum[k] += abs_err;
    acc.err_sum[k] += err;
    acc.abs_y_sum[k] += abs_y;
    acc.covered[k] += covered;
    acc.targets[k] += n;
  }
}

ScoreBlock summarize_block(const std::vector<std::string>& models,
                           const std::vector<ScoreAccumulator>& acc) {
  if (models.size() != acc.size()) throw std::invalid_argument("one accumulator per model");
  ScoreBlock r;
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
      s.bias_p50 = acc[m].err_sum[k] / n;
      total.coverage_p10_p90 += s.coverage_p10_p90;
      ++counted;
      const double scale = r.mean_abs_target[k];
      if (scale > 0) {
        total.quantile_loss += s.quantile_loss / scale;
        total.mae_p50 += s.mae_p50 / scale;
        total.bias_p50 += s.bias_p50 / scale;
        ++scaled;
      }
    }
    if (scaled) {
      total.quantile_loss /= scaled;
      total.mae_p50 /= scaled;
      total.bias_p50 /= scaled;
    }
    if (counted) total.coverage_p10_p90 /= counted;
    r.overall[m] = total;
  }
  // Skill against persistence, on the very same targets.
  const auto lv = std::find(models.begin(), models.end(), "last_value");
  if (lv != models.end()) {
    const size_t p = static_cast<size_t>(lv - models.begin());
    auto skill = [](double mae, double reference) { return reference > 0 ? 1.0 - mae / reference : 0.0; };
    for (size_t m = 0; m < models.size(); ++m) {
      r.overall[m].skill_vs_last_value = skill(r.overall[m].mae_p50, r.overall[p].mae_p50);
      for (int k = 0; k < kNumMetrics; ++k)
        r.per_metric[m][k].skill_vs_last_value =
            skill(r.per_metric[m][k].mae_p50, r.per_metric[p][k].mae_p50);
    }
  }
  return r;
}

EvalReport summarize(int64_t windows, const std::vector<std::string>& models,
                     const std::vector<ScoreAccumulator>& acc,
                     const std::vector<std::vector<ScoreAccumulator>>& per_horizon) {
  ScoreBlock all = summarize_block(models, acc);
  EvalReport r;
  r.windows = windows;
  r.models = models;
  r.per_metric = std::move(all.per_metric);
  r.overall = std::move(all.overall);
  r.mean_abs_target = all.mean_abs_target;
  r.targets = all.targets;
  for (const auto& h : per_horizon) r.per_horizon.push_back(summarize_block(models, h));
  return r;
}

namespace {
nlohmann::ordered_json scores_json(const Scores& s) {
  nlohmann::ordered_json j;
  j["quantile_loss"] = s.quantile_loss;
  j["mae_p50"] = s.mae_p50;
  j["coverage_p10_p90"] = s.coverage_p10_p90;
  j["skill_vs_last_value"] = s.skill_vs_last_value;
  j["bias_p50"] = s.bias_p50;
  return j;
}

bool has_targets(const ScoreBlock& b) {
  for (int64_t n : b.targets)
    if (n) return true;
  return false;
}
}  // namespace

nlohmann::ordered_json report_json(const EvalReport& r) {
  auto overall_json = [&](const std::vector<Scores>& overall) {
    nlohmann::ordered_json j = nlohmann::ordered_json::object();
    for (size_t m = 0; m < r.models.size(); ++m) j[r.models[m]] = scores_json(overall[m]);
    return j;
  };
  auto per_metric_json = [&](const std::vector<std::array<Scores, kNumMetrics>>& per_metric) {
    nlohmann::ordered_json per = nlohmann::ordered_json::object();
    for (int k = 0; k < kNumMetrics; ++k) {
      nlohmann::ordered_json e = nlohmann::ordered_json::object();
      for (size_t m = 0; m < r.models.size(); ++m) e[r.models[m]] = scores_json(per_metric[m][k]);
      per[std::string(kMetrics[k].name)] = std::move(e);
    }
    return per;
  };
  nlohmann::ordered_json j;
  j["windows"] = r.windows;
  j["overall"] = overall_json(r.overall);
  j["per_metric"] = per_metric_json(r.per_metric);
  nlohmann::ordered_json horizons = nlohmann::ordered_json::object();
  for (size_t h = 0; h < r.per_horizon.size() && h < kNumEvalHorizons; ++h) {
    const ScoreBlock& b = r.per_horizon[h];
    if (!has_targets(b)) continue;
    nlohmann::ordered_json e;
    e["overall"] = overall_json(b.overall);
    e["per_metric"] = per_metric_json(b.per_metric);
    horizons[kEvalHorizons[h].label] = std::move(e);
  }
  j["per_horizon"] = std::move(horizons);
  return j;
}

namespace {

struct TableBlock {
  const char* title;
  double Scores::*field;
  enum Best { lowest, highest, nearest_080, nearest_0 } best;
};

// One row: a value per model, the best marked with '*'.
void table_row(std::string& out, const TableBlock& b, std::string_view name, size_t models,
               const std::function<double(size_t)>& value_of) {
  out += fmt::format("\n{:<18}", name);
  size_t best = 0;
  for (size_t m = 0; m < models; ++m) {
    const double v = value_of(m), bv = value_of(best);
    const bool better = b.best == TableBlock::nearest_080 ? std::fabs(v - 0.8) < std::fabs(bv - 0.8)
                        : b.best == TableBlock::nearest_0 ? std::fabs(v) < std::fabs(bv)
                        : b.best == TableBlock::highest   ? v > bv
                                                          : v < bv;
    if (better) best = m;
  }
  for (size_t m = 0; m < models; ++m) out += fmt::format("{:>15.4f}{}", value_of(m), m == best ? '*' : ' ');
}

void table_header(std::string& out, const std::string& title, const std::vector<std::string>& models,
                  const char* first_column) {
  out += fmt::format("\n\n{}\n{:<18}", title, first_column);
  for (const auto& m : models) out += fmt::format("{:>16}", m);
}

}  // namespace

std::string report_table(const EvalReport& r, int metric) {
  const TableBlock blocks[] = {
      {"quantile loss (overall: mean of loss / mean|y|)", &Scores::quantile_loss, TableBlock::lowest},
      {"p50 MAE (overall: mean of MAE / mean|y|)", &Scores::mae_p50, TableBlock::lowest},
      {"p10-p90 coverage (nominal 0.80)", &Scores::coverage_p10_p90, TableBlock::nearest_080}};
  const size_t M = r.models.size();
  std::string out = fmt::format("{} forecast windows", r.windows);
  for (const TableBlock& b : blocks) {
    table_header(out, b.title, r.models, "metric");
    for (int k = 0; k < kNumMetrics; ++k)
      table_row(out, b, kMetrics[k].name, M, [&](size_t m) { return r.per_metric[m][k].*(b.field); });
    table_row(out, b, "overall", M, [&](size_t m) { return r.overall[m].*(b.field); });
  }
  // Per horizon, for one metric or overall.
  const std::string what = metric >= 0 && metric < kNumMetrics ? std::string(kMetrics[metric].name) : "overall";
  const TableBlock horizon_blocks[] = {
      {"p50 MAE", &Scores::mae_p50, TableBlock::lowest},
      {"p50 MAE skill vs last_value (1 - MAE/MAE_last_value; > 0 beats persistence)",
       &Scores::skill_vs_last_value, TableBlock::highest},
      {"p10-p90 coverage", &Scores::coverage_p10_p90, TableBlock::nearest_080},
      {"p50 bias (mean p50 - y; > 0 forecasts too high)", &Scores::bias_p50, TableBlock::nearest_0}};
  for (const TableBlock& b : horizon_blocks) {
    table_header(out, fmt::format("{} by horizon ({})", b.title, what), r.models, "horizon");
    for (size_t h = 0; h < r.per_horizon.size() && h < kNumEvalHorizons; ++h) {
      const ScoreBlock& block = r.per_horizon[h];
      if (!has_targets(block)) continue;
      table_row(out, b, kEvalHorizons[h].label, M, [&](size_t m) {
        return (what == "overall" ? block.overall[m] : block.per_metric[m][metric]).*(b.field);
      });
    }
    table_row(out, b, "all steps", M, [&](size_t m) {
      return (what == "overall" ? r.overall[m] : r.per_metric[m][metric]).*(b.field);
    });
  }
  out += '\n';
  return out;
}

}  // namespace nordiq::train
