#include "train/baselines.hpp"

#include <algorithm>
#include <cmath>

#include "forecast/normalizer.hpp"
#include "forecast/order_stats.hpp"

namespace nordiq::train {

using forecast::kNumQuantiles;
using forecast::kP50;
using forecast::sorted_quantile;

const float kQuantileZ[kNumQuantiles] = {-2.0537489f, -1.2815516f, -0.6744898f, 0.f,
                                         0.6744898f,  1.2815516f,  2.0537489f};

std::string_view baseline_name(Baseline b) {
  switch (b) {
    case Baseline::last_value: return "last_value";
    case Baseline::seasonal_naive: return "seasonal_naive";
    case Baseline::linear_trend: return "linear_trend";
  }
  return "?";
}

namespace {

constexpr int kMinSeasonalResiduals = 24;

void clamp_path(int k, float* path, int horizon) {
  for (int t = 0; t < horizon; ++t) path[t] = forecast::clamp_to_range(k, path[t], 0.f);
}

}  // namespace

void NaiveForecaster::forecast_one(const WindowView& w, float* values) {
  const int H = horizon_;
  float* const base = values;
  auto path = [&](int k, int q) { return base + (static_cast<size_t>(k) * kNumQuantiles + q) * H; };
  if (w.length <= 0) {
    std::fill(values, values + static_cast<size_t>(kNumMetrics) * kNumQuantiles * H, 0.f);
    return;
  }
  const int L = w.length;
  const int E = std::min(L, kMaxEncoderSteps);
  const int e0 = L - E;  // first encoder step
  const int64_t day = std::max<int64_t>(1, 86'400'000LL / w.step_ms);

  for (int k = 0; k < kNumMetrics; ++k) {
    const float* x = w.metric[k];
    const float last = x[L - 1];
    switch (kind_) {
      case Baseline::last_value: {
        double s = 0, s2 = 0;
        for (int i = e0 + 1; i < L; ++i) {
          const double d = static_cast<double>(x[i]) - x[i - 1];
          s += d;
          s2 += d * d;
        }
        const int n = E - 1;
        const double var = n > 0 ? std::max(0.0, s2 / n - (s / n) * (s / n)) : 0.0;
        const double sd = std::sqrt(var);
        for (int q = 0; q < kNumQuantiles; ++q) {
          float* p = path(k, q);
          for (int t = 0; t < H; ++t)
            p[t] = static_cast<float>(last + kQuantileZ[q] * sd * std::sqrt(t + 1.0));
        }
        break;
      }
      case Baseline::seasonal_naive: {
        scratch_.clear();
        for (int i = std::max<int64_t>(e0, day); i < L; ++i) scratch_.push_back(x[i] - x[i - day]);
        float offset[kNumQuantiles];
        if (static_cast<int>(scratch_.size()) < kMinSeasonalResiduals) {
          // Not enough day-over-day pairs: spread of the encoder around its mean, ×√2.
          double mean = 0;
          for (int i = e0; i < L; ++i) mean += x[i];
          mean /= E;
          scratch_.clear();
          for (int i = e0; i < L; ++i)
            scratch_.push_back(static_cast<float>(std::sqrt(2.0) * (x[i] - mean)));
        }
        forecast::radix_sort(scratch_, sort_keys_);
        const float median = sorted_quantile(scratch_.data(), scratch_.size(), 0.5f);
        for (int q = 0; q < kNumQuantiles; ++q)
          offset[q] = q == kP50 ? 0.f
                                : sorted_quantile(scratch_.data(), scratch_.size(),
                                                  forecast::kQuantiles[q]) -
                                      median;
        for (int t = 0; t < H; ++t) {
          const int64_t src = L + t - day;  // same time of day, one day earlier
          const float point = src >= 0 && src < L ? x[src] : last;
          for (int q = 0; q < kNumQuantiles; ++q) path(k, q)[t] = point + offset[q];
        }
        break;
      }
      case Baseline::linear_trend: {
        // x-axis: i = 0..E−1 over the encoder; x̄ = (E−1)/2, Sxx = E(E²−1)/12.
        const double n = E;
        const double xbar = (n - 1) / 2;
        const double sxx = n * (n * n - 1) / 12;
        double ybar = 0;
        for (int i = 0; i < E; ++i) ybar += x[e0 + i];
        ybar /= n;
        double sxy = 0;
        for (int i = 0; i < E; ++i) sxy += (i - xbar) * (x[e0 + i] - ybar);
        const double slope = E >= 2 ? sxy / sxx : 0.0;
        const double icpt = ybar - slope * xbar;
        double ssr = 0;
        for (int i = 0; i < E; ++i) {
          const double r = x[e0 + i] - (icpt + slope * i);
          ssr += r * r;
        }
        const double sd = E >= 3 ? std::sqrt(ssr / (n - 2)) : 0.0;
        for (int t = 0; t < H; ++t) {
          const double at = E + t;
          const double point = icpt + slope * at;
          const double width =
              sd * std::sqrt(1 + 1 / n + (E >= 2 ? (at - xbar) * (at - xbar) / sxx : 0.0));
          for (int q = 0; q < kNumQuantiles; ++q)
            path(k, q)[t] = static_cast<float>(point + kQuantileZ[q] * width);
        }
        break;
      }
    }
    for (int q = 0; q < kNumQuantiles; ++q) clamp_path(k, path(k, q), H);
  }
}

void NaiveForecaster::prepare(std::span<const WindowView> windows,
                                  forecast::ForecastBatch& out) {
  out.resize(static_cast<int>(windows.size()), horizon_);
  for (size_t b = 0; b < windows.size(); ++b)
    forecast_one(windows[b], out.values.data() + b * out.server_stride());
}

}  // namespace nordiq::train
