#include "forecast/robust_profile.hpp"

#include <algorithm>
#include <array>
#include <cmath>

#include "forecast/normalizer.hpp"
#include "forecast/order_stats.hpp"

namespace nordiq::forecast {

namespace {

constexpr int kBins = 24;
constexpr int kMaxSlots = 60;  // positions within the hour (1-min steps at most)
constexpr int64_t kMsPerHour = 3'600'000;
constexpr std::array<int, 8> kAnchors = {1, 2, 3, 6, 12, 24, 48, 96};

int hour_bin(EpochMs t) {
  const int64_t h = t / kMsPerHour - (t % kMsPerHour < 0);
  return static_cast<int>(((h % kBins) + kBins) % kBins);
}

// Quantile offsets (Q_q − median) of the h-step changes over steps [begin, end) of x, for every
// anchor; a sparse anchor widens the last good one by √(h / h_good). All-zero when no anchor has
// enough pairs.
void change_offsets(const float* x, int begin, int end, RobustProfileScratch& s,
                    float offsets[kAnchors.size()][kNumQuantiles]) {
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
float offset_at(const float offsets[kAnchors.size()][kNumQuantiles], int h, int q) {
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

}  // namespace

void robust_profile_forecast(const WindowView& w, int horizon, float* values,
                             RobustProfileScratch& s) {
  auto path = [&](int k, int q) { return values + (static_cast<size_t>(k) * kNumQuantiles + q) * horizon; };
  if (w.length <= 0) {
    std::fill(values, values + static_cast<size_t>(kNumMetrics) * kNumQuantiles * horizon, 0.f);
    return;
  }
  const int L = w.length;
  const int day_steps = static_cast<int>(std::max<int64_t>(1, kRobustProfileMs / w.step_ms));
  const int level_steps = static_cast<int>(std::max<int64_t>(1, kRobustLevelMs / w.step_ms));
  const int day_begin = std::max(0, L - day_steps);
  const int level_begin = std::max(0, L - level_steps);
  // Slots within the hour, when the step divides the hour into a few (12 for 5-min steps).
  const int slots = kMsPerHour % w.step_ms == 0 && kMsPerHour / w.step_ms <= kMaxSlots
                        ? static_cast<int>(kMsPerHour / w.step_ms)
                        : 0;
  auto slot_of = [&](EpochMs t) {
    return slots > 1 ? static_cast<int>(((t % kMsPerHour) + kMsPerHour) % kMsPerHour / w.step_ms) : -1;
  };
  s.bins.resize(static_cast<size_t>(L - day_begin));
  s.slots.resize(static_cast<size_t>(L - day_begin));
  for (int i = day_begin; i < L; ++i) {
    s.bins[i - day_begin] = hour_bin(w.first_step + i * w.step_ms);
    s.slots[i - day_begin] = slot_of(w.first_step + i * w.step_ms);
  }
  std::array<int, 96 * 4> future_bin{}, future_slot{};  // enough for any horizon ≤ 384 steps
  const int H = std::min<int>(horizon, static_cast<int>(future_bin.size()));
  for (int t = 0; t < H; ++t) {
    future_bin[t] = hour_bin(w.last_step() + (t + 1) * w.step_ms);
    future_slot[t] = slot_of(w.last_step() + (t + 1) * w.step_ms);
  }

  for (int k = 0; k < kNumMetrics; ++k) {
    const float* x = w.metric[k];
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
    std::array<float, kBins> profile{};
    for (int b = 0; b < kBins; ++b) {
      s.values.clear();
      for (int i = day_begin; i < L; ++i)
        if (s.bins[i - day_begin] == b) s.values.push_back(x[i]);
      profile[b] = s.values.empty() ? 0.f : shrink(median_inplace(s.values) - day_median, s.values.size());
    }
    // Position-within-the-hour profile of what the hour profile leaves (hourly jobs).
    std::array<float, kMaxSlots> slot_profile{};
    for (int m = 0; m < slots; ++m) {
      s.values.clear();
      for (int i = day_begin; i < L; ++i)
        if (s.slots[i - day_begin] == m) s.values.push_back(x[i] - day_median - profile[s.bins[i - day_begin]]);
      slot_profile[m] = static_cast<int>(s.values.size()) >= kRobustMinSlotSamples
                            ? shrink(median_inplace(s.values), s.values.size())
                            : 0.f;
    }
    auto seasonal = [&](int bin, int slot) { return profile[bin] + (slot >= 0 ? slot_profile[slot] : 0.f); };
    // The level: the median of the recent, de-seasonalised values.
    s.deseasonalised.clear();
    for (int i = level_begin; i < L; ++i)
      s.deseasonalised.push_back(x[i] - seasonal(s.bins[i - day_begin], s.slots[i - day_begin]));
    const float level = median_inplace(s.deseasonalised);

    float offsets[kAnchors.size()][kNumQuantiles];
    change_offsets(x, day_begin, L, s, offsets);
    for (int t = 0; t < horizon; ++t) {
      const float point = level + (t < H ? seasonal(future_bin[t], future_slot[t]) : 0.f);
      for (int q = 0; q < kNumQuantiles; ++q)
        path(k, q)[t] = clamp_to_range(k, point + (q == kP50 ? 0.f : offset_at(offsets, t + 1, q)), 0.f);
    }
  }
}

void RobustProfileForecaster::prepare(std::span<const WindowView> windows, ForecastBatch& out) {
  out.resize(static_cast<int>(windows.size()), horizon_);
  for (size_t b = 0; b < windows.size(); ++b)
    robust_profile_forecast(windows[b], horizon_, out.values.data() + b * out.server_stride(), scratch_);
}

}  // namespace nordiq::forecast
