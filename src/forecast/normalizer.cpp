#include "forecast/normalizer.hpp"
#include "forecast/order_stats.hpp"

#include <algorithm>
#include <fmt/core.h>
#include <nlohmann/json.hpp>

namespace nordiq::forecast {

namespace {

// Theil–Sen: slope = median of the pairwise slopes, intercept = median of t_i − slope·i; the
// line's value at the last step. n ≤ 12, so at most 66 slopes on the stack. t: transformed.
PresentLevel theil_sen_level(std::array<float, kCenterSteps>& t, int n) {
  std::array<float, kCenterSteps * (kCenterSteps - 1) / 2> slopes;
  if (n == 0) return {kDefaultCenter, 0.f};
  int pairs = 0;
  for (int i = 0; i < n; ++i)
    for (int j = i + 1; j < n; ++j) slopes[pairs++] = (t[j] - t[i]) / static_cast<float>(j - i);
  const float slope = pairs ? median_inplace(std::span(slopes.data(), static_cast<size_t>(pairs))) : 0.f;
  for (int i = 0; i < n; ++i) t[i] -= slope * static_cast<float>(i);
  return {median_inplace(std::span(t.data(), static_cast<size_t>(n))) + slope * static_cast<float>(n - 1), slope};
}

}  // namespace

PresentLevel present_level(int k, const float* x, int n) {
  std::array<float, kCenterSteps> t;
  n = std::clamp(n, 0, kCenterSteps);
  for (int i = 0; i < n; ++i) t[i] = transform(k, x[i]);
  return theil_sen_level(t, n);
}

void TransformedWindow::assign(const WindowView& view, int begin, int count) {
  begin = std::clamp(begin, 0, view.length);
  const int end = std::clamp(begin + std::max(count, 0), begin, view.length);
  len = end - begin;
  values.resize(static_cast<size_t>(kNumMetrics) * len);
  for (int k = 0; k < kNumMetrics; ++k) {
    present[k] = view.metric[k] != nullptr;
    if (!present[k]) continue;
    float* t = values.data() + static_cast<size_t>(k) * len;
    for (int i = 0; i < len; ++i) t[i] = transform(k, view.metric[k][begin + i]);
  }
}

Normalization compute_normalization(const WindowView& view, int begin, int count) {
  thread_local TransformedWindow window;
  window.assign(view, begin, count);
  return normalization_of(window);
}

Normalization normalization_of(const TransformedWindow& window) {
  Normalization n;
  const int len = window.len;
  for (int k = 0; k < kNumMetrics; ++k) {
    const float* col = window.column(k);
    if (len == 0 || col == nullptr) {
      n.center[k] = kDefaultCenter;
      n.scale[k] = kScaleFloor[k];
      continue;
    }
    // Two passes in double: the mean of 288 floats is exact enough, and the second pass avoids
    // the cancellation of E[x²] − E[x]² on near-constant series.
    double sum = 0;
    for (int i = 0; i < len; ++i) sum += col[i];
    const double mean = sum / len;
    double sq = 0;
    for (int i = 0; i < len; ++i) {
      const double d = col[i] - mean;
      sq += d * d;
    }
    const double stddev = len >= 2 ? std::sqrt(sq / len) : 0.0;  // n < 2: no spread → floor
    std::array<float, kCenterSteps> last;
    const int m = std::min(len, kCenterSteps);
    std::copy(col + len - m, col + len, last.begin());
    const PresentLevel present = theil_sen_level(last, m);
    n.center[k] = present.level;
    n.slope[k] = present.slope;
    n.scale[k] = std::max(static_cast<float>(stddev), kScaleFloor[k]);
    if (!std::isfinite(n.center[k])) {  // never feed a non-finite statistic to the network
      n.center[k] = kDefaultCenter;
      n.scale[k] = kScaleFloor[k];
      n.slope[k] = 0.f;
    }
  }
  return n;
}

nlohmann::json normalizer_manifest(InputSet inputs) {
  nlohmann::json metrics = nlohmann::json::array();
  for (int k = 0; k < kNumMetrics; ++k) {
    metrics.push_back({
        {"name", kMetrics[k].name},
        {"transform", kMetrics[k].transform == MetricTransform::log1p ? "log1p" : "identity"},
        {"scale_floor", kScaleFloor[k]},
        {"center_divisor", kCenterDivisor[k]},
    });
  }
  nlohmann::json rules = {
      {"version", 2},
      {"statistics", "encoder_window"},
      {"center", "Theil-Sen line of transform(x) over the last min(n, 12) steps of the encoder window, at its last step"},
      {"scale", "max(population_std(transform(x)) over the encoder window, scale_floor); n<2 -> scale_floor"},
      {"target", "(transform(x) - center) / scale"},
      {"center_feature", "center / center_divisor"},
      {"scale_feature", "ln(scale)"},
      {"encoder_length_feature", "2*l/max_encoder - 1"},
      {"relative_time_idx", "(i - l)/max_encoder; decoder step j: j/max_encoder"},
      {"time_features", "UTC; hour=h+m/60; hour_sin=sin(2pi*hour/24); dow Monday=0, dow_sin=sin(2pi*dow/7); "
                        "is_business_hours = Mon-Fri 09:00-17:00"},
      {"metrics", metrics},
  };
  if (inputs == InputSet::anchored) {
    rules["version"] = 3;
    rules["anchor"] = "robust_profile p50 of the encoder window at the decoder step (median of the last 4 h without "
                      "the shapes + hour-of-day and within-hour medians of the last 24 h, shrunk by 2 sigma/sqrt(n)), "
                      "clamped to the metric's range, transformed";
    rules["target"] = "(transform(x) - anchor) / scale";
  }
  if (inputs == InputSet::hourly)
    rules["hourly"] = "decoder step j: median over the encoder's last 4 steps i at j's minute of the hour (whose "
                      "centred hour i-h/2..i+h/2 it holds) of transform(x_i) - median(transform(x) over that hour), "
                      "/ scale; minute_sin=sin(2pi*minute/60) of j's start";
  return rules;
}

std::string check_normalizer_manifest(const nlohmann::json& manifest, InputSet inputs) {
  const nlohmann::json expected = normalizer_manifest(inputs);
  if (!manifest.is_object()) return "normalizer: expected an object";
  // The version first: it follows from the model's inputs, and names the mismatch best.
  if (manifest.contains("version") && manifest["version"] != expected["version"])
    return fmt::format("normalizer.version: model has {}, its inputs ({} x_reals) need {}", manifest["version"].dump(),
                       n_cont_of(inputs), expected["version"].dump());
  for (const auto& [key, value] : expected.items()) {
    if (!manifest.contains(key)) return fmt::format("normalizer.{}: missing", key);
    if (key == "metrics") continue;
    if (manifest[key] != value)
      return fmt::format("normalizer.{}: model has {}, this build uses {}", key, manifest[key].dump(),
                         value.dump());
  }
  const auto& got = manifest["metrics"];
  if (!got.is_array() || got.size() != static_cast<size_t>(kNumMetrics))
    return fmt::format("normalizer.metrics: expected an array of {} entries", kNumMetrics);
  for (int k = 0; k < kNumMetrics; ++k) {
    const auto& want = expected["metrics"][k];
    const auto& have = got[k];
    if (!have.is_object()) return fmt::format("normalizer.metrics[{}]: expected an object", k);
    for (const auto& [key, value] : want.items()) {
      if (!have.contains(key)) return fmt::format("normalizer.metrics[{}].{}: missing", k, key);
      const bool same = value.is_number()
                            ? have[key].is_number() &&
                                  std::fabs(have[key].get<double>() - value.get<double>()) <= 1e-6
                            : have[key] == value;
      if (!same)
        return fmt::format("normalizer.metrics[{}].{}: model has {}, this build uses {}", k, key,
                           have[key].dump(), value.dump());
    }
  }
  return {};
}

}  // namespace nordiq::forecast
