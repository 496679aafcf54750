#include "forecast/robust_profile.hpp"

#include <algorithm>
#include <array>
#include <cmath>

#include "forecast/normalizer.hpp"
#include "forecast/order_stats.hpp"

namespace nordiq::forecast {

namespace {

constexpr int kBins = 24;
constexpr int64_t kMsPerHour = 3'600'000;

int hour_bin(EpochMs t) {
  const int64_t h = t / kMsPerHour - (t % kMsPerHour < 0);
  return static_cast<int>(((h % kBins) + kBins) % kBins);
}
constexpr auto& kAnchors = kRobustAnchors;

// Quantile offsets (Q_q − median) of the h-step changes over steps [begin, end) of x, for every
// anchor; a sparse anchor widens the last good one by √(h / h_good). All-zero when no anchor has
// enough pairs.
void change_offsets(const float* x, int begin, int end, RobustProfileScratch& s,
                    RobustOffsets& offsets) {
  int good = -1;
  for (size_t a = 0; a < kAnchors.size(); ++a) {
    const int h = kAnchors[a];
    s.changes.clear();
    for (int i = begin; i + h < end; ++i) s.changes.push_back(x[i + h] - x[i]);
    if (static_cast<int>(s.changes.size()) >= kRobustMinChanges) {
      std::sort(s.changes.begin(), s.changes.end());
      const float median = sorted_quantile(s.changes.data(), s.changes.size(), 0.5);
      for (int q = 0; q < kNumQuantiles; ++q)
        offsets[a][q] = sorted_quantile(s.changes.data(), s.changes.size(), kQuantiles[q]) - median;
      good = static_cast<int>(a);
    } else {
      const float widen =
          good >= 0 ? std::sqrt(static_cast<float>(h) / static_cast<float>(kAnchors[good])) : 0.f;
      for (int q = 0; q < kNumQuantiles; ++q) offsets[a][q] = good >= 0 ? offsets[good][q] * widen : 0.f;
    }
  }
}

// Offset of quantile q at horizon h (1-based steps), interpolated between anchors.
float offset_at(const RobustOffsets& offsets, int h, int q) {
  if (h <= kAnchors.front()) return offsets[0][q];
  for (size_t a = 1; a < kAnchors.size(); ++a) {
    if (h <= kAnchors[a]) {
      const float f = static_cast<float>(h - kAnchors[a - 1]) / static_cast<float>(kAnchors[a] - kAnchors[a - 1]);
      return offsets[a - 1][q] + f * (offsets[a][q] - offsets[a - 1][q]);
    }
  }
  const float widen = std::sqrt(static_cast<float>(h) / static_cast<float>(kAnchors.back()));
  return offsets[kAnchors.size() - 1][q] * widen;
}

// Every metric's 7 paths: p50 = point(metric, step time); the other quantiles add the h-step
// change offsets; clamped to the metric's range (monotone, so quantiles never cross).
template <class Point>
void write_paths(const RobustFit& fit, int horizon, float* values, Point point) {
  auto path = [&](int k, int q) { return values + (static_cast<size_t>(k) * kNumQuantiles + q) * horizon; };
  if (fit.empty) {
    std::fill(values, values + static_cast<size_t>(kNumMetrics) * kNumQuantiles * horizon, 0.f);
    return;
  }
  for (int k = 0; k < kNumMetrics; ++k) {
    const RobustMetricFit& m = fit.metric[k];
    for (int t = 0; t < horizon; ++t) {
      const float p50 = point(m, fit.last_step + (t + 1) * fit.step_ms);
      for (int q = 0; q < kNumQuantiles; ++q)
        path(k, q)[t] = clamp_to_range(k, p50 + (q == kP50 ? 0.f : offset_at(m.offsets, t + 1, q)), 0.f);
    }
  }
}

}  // namespace

RobustFit::RobustFit() = default;

void fit_robust_profile(const WindowView& w, RobustFit& fit, RobustProfileScratch& s) {
  fit.empty = w.length <= 0;
  if (fit.empty) return;
  const int L = w.length;
  fit.last_step = w.last_step();
  fit.step_ms = w.step_ms;
  const int day_steps = static_cast<int>(std::max<int64_t>(1, kRobustProfileMs / w.step_ms));
  const int level_steps = static_cast<int>(std::max<int64_t>(1, kRobustLevelMs / w.step_ms));
  const int day_begin = std::max(0, L - day_steps);
  const int level_begin = std::max(0, L - level_steps);
  // Slots within the hour, when the step divides the hour into a few (12 for 5-min steps).
  fit.slots = kMsPerHour % w.step_ms == 0 && kMsPerHour / w.step_ms <= kRobustMaxSlots
                  ? static_cast<int>(kMsPerHour / w.step_ms)
                  : 0;
  s.bins.resize(static_cast<size_t>(L - day_begin));
  s.slots.resize(static_cast<size_t>(L - day_begin));
  for (int i = day_begin; i < L; ++i) {
    s.bins[i - day_begin] = hour_bin(w.first_step + i * w.step_ms);
    s.slots[i - day_begin] = fit.slot_of(w.first_step + i * w.step_ms);
  }
  for (int k = 0; k < kNumMetrics; ++k) {
    RobustMetricFit& m = fit.metric[k];
    const float* x = w.metric[k];
    m.last = x[L - 1];
    // Hour-of-day profile over the last day, relative to the day's median.
    s.values.assign(x + day_begin, x + L);
    const float day_median = median_inplace(s.values);
    // The noise σ, robustly from one-step changes (1.4826 · MAD(Δx) / √2: a pattern that moves
    // slowly and rare bursts hardly change it). A bin median of n values moves by ~1.25σ/√n on
    // pure noise; shrinking each bin by twice that keeps real patterns and keeps noise from
    // wobbling the forecast of a flat server.
    s.values.clear();
    for (int i = day_begin + 1; i < L; ++i) s.values.push_back(std::fabs(x[i] - x[i - 1]));
    const float sigma = s.values.empty() ? 0.f : 1.4826f / std::sqrt(2.f) * median_inplace(s.values);
    auto shrink = [&](float p, size_t n) {
      const float tau = 2.f * sigma / std::sqrt(static_cast<float>(n));
      return p > tau ? p - tau : (p < -tau ? p + tau : 0.f);
    };
    for (int b = 0; b < kBins; ++b) {
      s.values.clear();
      for (int i = day_begin; i < L; ++i)
        if (s.bins[i - day_begin] == b) s.values.push_back(x[i]);
      m.profile[b] = s.values.empty() ? 0.f : shrink(median_inplace(s.values) - day_median, s.values.size());
    }
    // Position-within-the-hour profile of what the hour profile leaves (hourly jobs).
    m.slot_profile.fill(0.f);
    for (int j = 0; j < fit.slots; ++j) {
      s.values.clear();
      for (int i = day_begin; i < L; ++i)
        if (s.slots[i - day_begin] == j) s.values.push_back(x[i] - day_median - m.profile[s.bins[i - day_begin]]);
      m.slot_profile[j] = static_cast<int>(s.values.size()) >= kRobustMinSlotSamples
                              ? shrink(median_inplace(s.values), s.values.size())
                              : 0.f;
    }
    // The level: the median of the recent, de-seasonalised values.
    s.deseasonalised.clear();
    for (int i = level_begin; i < L; ++i)
      s.deseasonalised.push_back(x[i] - m.seasonal(s.bins[i - day_begin], s.slots[i - day_begin]));
    m.level = median_inplace(s.deseasonalised);
    change_offsets(x, day_begin, L, s, m.offsets);
  }
}

void write_robust_profile(const RobustFit& fit, int horizon, float* values) {
  write_paths(fit, horizon, values, [&](const RobustMetricFit& m, EpochMs t) {
    return m.level + m.seasonal(hour_bin(t), fit.slot_of(t));
  });
}

void write_last_value_band(const RobustFit& fit, int horizon, float* values) {
  write_paths(fit, horizon, values, [](const RobustMetricFit& m, EpochMs) { return m.last; });
}

void robust_profile_forecast(const WindowView& w, int horizon, float* values,
                             RobustProfileScratch& scratch) {
  RobustFit& fit = scratch.fit;
  fit_robust_profile(w, fit, scratch);
  write_robust_profile(fit, horizon, values);
}

int RobustFit::slot_of(EpochMs t) const {
  return slots > 1 ? static_cast<int>(((t % kMsPerHour) + kMsPerHour) % kMsPerHour / step_ms) : -1;
}

void RobustProfileForecaster::prepare(std::span<const WindowView> windows, ForecastBatch& out) {
  out.resize(static_cast<int>(windows.size()), horizon_);
  for (size_t b = 0; b < windows.size(); ++b)
    robust_profile_forecast(windows[b], horizon_, out.values.data() + b * out.server_stride(), scratch_);
}

}  // namespace nordiq::forecast
