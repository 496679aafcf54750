#include "forecast/robust_profile.hpp"

#include <algorithm>
#include <array>
#include <cmath>

#include "core/simd.hpp"
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
      radix_sort(s.changes, s.sort_keys);
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

// Which candidate write_paths writes: the robust profile, the level with the hourly shape only,
// or the last value (persistence with the robust band).
enum class PathBase { robust, hourly, last_value };

float path_base(const RobustLevel& lv, int k, PathBase base) {
  switch (base) {
    case PathBase::robust: return lv.level[k];
    case PathBase::hourly: return lv.hourly_level[k];
    case PathBase::last_value: break;
  }
  return lv.last[k];
}

float path_shape(const RobustMetricFit& m, int bin, int slot, PathBase base) {
  switch (base) {
    case PathBase::robust: return m.seasonal(bin, slot);
    case PathBase::hourly: return slot >= 0 ? m.hourly_slot[slot] : 0.f;
    case PathBase::last_value: break;
  }
  return 0.f;
}

// Per forecast step, what every metric and quantile of write_paths reads: the hour bin, the slot,
// and the anchor interpolation as lo/hi anchors, a fraction and a widening, so that one
// expression covers all three cases: before the first anchor (lo = hi = 0), between two
// (widen 1), beyond the last (lo = hi = last, frac 0), with the same rounding as each case's own.
// One array per field, padded to whole blocks of 16 steps (the padding reads anchor 0).
struct StepTable {
  std::vector<int> bin, slot, lo, hi;
  std::vector<float> frac, widen;
};

void lookup_steps(const RobustFit& fit, EpochMs last_step, int horizon, StepTable& s) {
  const int last_anchor = static_cast<int>(kAnchors.size()) - 1;
  const auto padded = static_cast<size_t>((horizon + 15) / 16 * 16);
  for (auto* v : {&s.bin, &s.slot, &s.lo, &s.hi}) v->assign(padded, 0);
  s.frac.assign(padded, 0.f);
  s.widen.assign(padded, 1.f);
  for (int t = 0; t < horizon; ++t) {
    const EpochMs when = last_step + (t + 1) * fit.step_ms;
    s.bin[t] = hour_bin(when);
    s.slot[t] = fit.slot_of(when);
    const int h = t + 1;
    int anchor = 0;  // the upper one; 0 = before the first
    while (anchor <= last_anchor && kAnchors[anchor] < h) ++anchor;
    if (anchor > last_anchor) {
      s.lo[t] = s.hi[t] = last_anchor;
      s.widen[t] = std::sqrt(static_cast<float>(h) / static_cast<float>(kAnchors.back()));
    } else if (anchor > 0) {
      s.lo[t] = anchor - 1;
      s.hi[t] = anchor;
      s.frac[t] = static_cast<float>(h - kAnchors[anchor - 1]) / static_cast<float>(kAnchors[anchor] - kAnchors[anchor - 1]);
    }
  }
}

#if defined(__AVX512F__)
NORDIQ_AVX512_BEGIN
// One quantile's path from its p50 path, 16 steps at a time: each step's two anchors' offsets read
// by a permute from the quantile's 8 (no gather), then the same operations, in the same order, as
// the scalar loop in write_paths compiles to (so the values are the same bits).
void write_offset_path(const RobustMetricFit& m, int q, int k, const StepTable& steps, const float* p50, int horizon,
                       float* path) {
  static_assert(kAnchors.size() <= 16, "one register holds every anchor's offset");
  alignas(64) float table[16] = {};
  for (size_t a = 0; a < kAnchors.size(); ++a) table[a] = m.offsets[a][q];
  const __m512 offsets = _mm512_load_ps(table);
  const __m512 range_lo = _mm512_set1_ps(static_cast<float>(kMetrics[k].min));
  const __m512 range_hi = _mm512_set1_ps(static_cast<float>(kMetrics[k].max));
  const __m512 inf = _mm512_set1_ps(INFINITY);
  for (int t0 = 0; t0 < horizon; t0 += 16) {
    const int n = std::min(16, horizon - t0);
    const __mmask16 m16 = n == 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1);
    const __m512 lo = _mm512_permutexvar_ps(_mm512_loadu_si512(steps.lo.data() + t0), offsets);
    const __m512 hi = _mm512_permutexvar_ps(_mm512_loadu_si512(steps.hi.data() + t0), offsets);
    const __m512 offset = _mm512_fmadd_ps(_mm512_sub_ps(hi, lo), _mm512_loadu_ps(steps.frac.data() + t0), lo);
    __m512 v = _mm512_fmadd_ps(offset, _mm512_loadu_ps(steps.widen.data() + t0), _mm512_maskz_loadu_ps(m16, p50 + t0));
    v = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(_mm512_abs_ps(v), inf, _CMP_LT_OQ), v);  // not finite → 0
    _mm512_mask_storeu_ps(path + t0, m16, _mm512_min_ps(range_hi, _mm512_max_ps(range_lo, v)));
  }
}
NORDIQ_AVX512_END
#endif

// Every metric's 7 paths: p50 = level or last value (+ the seasonal shape), once per metric; the
// other quantiles add the h-step change offsets; clamped to the metric's range (monotone, so
// quantiles never cross). 3 candidates × 14 × 7 × 96 values per server and cycle.
void write_paths(const RobustFit& fit, const RobustLevel& lv, int horizon, float* values, PathBase kind) {
  if (lv.empty || fit.empty) {
    std::fill(values, values + static_cast<size_t>(kNumMetrics) * kNumQuantiles * horizon, 0.f);
    return;
  }
  thread_local StepTable steps;
  thread_local std::vector<float> p50;
  lookup_steps(fit, lv.last_step, horizon, steps);
  p50.resize(static_cast<size_t>(horizon));
  for (int k = 0; k < kNumMetrics; ++k) {
    const RobustMetricFit& m = fit.metric[k];
    const float base = path_base(lv, k, kind);
    for (int t = 0; t < horizon; ++t) p50[t] = base + path_shape(m, steps.bin[t], steps.slot[t], kind);
    for (int q = 0; q < kNumQuantiles; ++q) {
      float* path = values + (static_cast<size_t>(k) * kNumQuantiles + q) * horizon;
      if (q == kP50) {
        for (int t = 0; t < horizon; ++t) path[t] = clamp_to_range(k, p50[t], 0.f);
        continue;
      }
#if defined(__AVX512F__)
      write_offset_path(m, q, k, steps, p50.data(), horizon, path);
#else
      for (int t = 0; t < horizon; ++t) {
        const float lo = m.offsets[steps.lo[t]][q], hi = m.offsets[steps.hi[t]][q];
        path[t] = clamp_to_range(k, p50[t] + (lo + steps.frac[t] * (hi - lo)) * steps.widen[t], 0.f);
      }
#endif
    }
  }
}

// Hour-of-day bin and slot within the hour of the window's steps [begin, length) into s.bins and
// s.slots (index i − begin).
void bin_steps(const WindowView& w, const RobustFit& fit, int begin, RobustProfileScratch& s) {
  s.bins.resize(static_cast<size_t>(w.length - begin));
  s.slots.resize(static_cast<size_t>(w.length - begin));
  for (int i = begin; i < w.length; ++i) {
    s.bins[i - begin] = hour_bin(w.first_step + i * w.step_ms);
    s.slots[i - begin] = fit.slot_of(w.first_step + i * w.step_ms);
  }
}

// Step indexes [0, n) grouped by key (a counting sort): group g is order[start[g]..start[g+1]).
template <size_t N>
void group_by(const std::vector<int>& keys, int groups, std::vector<int>& order, std::array<int, N>& start) {
  std::fill(start.begin(), start.begin() + groups + 1, 0);
  for (int key : keys)
    if (key >= 0) ++start[static_cast<size_t>(key) + 1];
  for (int g = 0; g < groups; ++g) start[g + 1] += start[g];
  order.resize(static_cast<size_t>(start[groups]));
  std::array<int, N> next = start;
  for (int i = 0; i < static_cast<int>(keys.size()); ++i)
    if (keys[i] >= 0) order[static_cast<size_t>(next[keys[i]]++)] = i;
}

}  // namespace

RobustFit::RobustFit() = default;

void fit_robust_profile(const WindowView& w, RobustFit& fit, RobustLevel& level, RobustProfileScratch& s,
                        bool with_band) {
  fit.empty = w.length <= 0;
  if (fit.empty) {
    level.empty = true;
    return;
  }
  const int L = w.length;
  fit.fitted_step = w.last_step();
  fit.fitted_length = L;
  fit.step_ms = w.step_ms;
  const int day_steps = static_cast<int>(std::max<int64_t>(1, kRobustProfileMs / w.step_ms));
  const int day_begin = std::max(0, L - day_steps);
  // Slots within the hour, when the step divides the hour into a few (12 for 5-min steps).
  fit.slots = kMsPerHour % w.step_ms == 0 && kMsPerHour / w.step_ms <= kRobustMaxSlots
                  ? static_cast<int>(kMsPerHour / w.step_ms)
                  : 0;
  bin_steps(w, fit, day_begin, s);
  group_by(s.bins, kBins, s.by_bin, s.bin_start);
  group_by(s.slots, fit.slots, s.by_slot, s.slot_start);
  for (int k = 0; k < kNumMetrics; ++k) {
    RobustMetricFit& m = fit.metric[k];
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
    const float* day = x + day_begin;
    for (int b = 0; b < kBins; ++b) {
      s.values.clear();
      for (int g = s.bin_start[b]; g < s.bin_start[b + 1]; ++g) s.values.push_back(day[s.by_bin[g]]);
      m.profile[b] = s.values.empty() ? 0.f : shrink(median_inplace(s.values) - day_median, s.values.size());
    }
    // Position-within-the-hour profile (hourly jobs): of what the hour profile leaves, and, for
    // the hourly variant, of the day itself.
    m.slot_profile.fill(0.f);
    m.hourly_slot.fill(0.f);
    for (int j = 0; j < fit.slots; ++j) {
      for (const bool hourly : {false, true}) {
        s.values.clear();
        for (int g = s.slot_start[j]; g < s.slot_start[j + 1]; ++g) {
          const int i = s.by_slot[g];
          s.values.push_back(day[i] - day_median - (hourly ? 0.f : m.profile[s.bins[i]]));
        }
        (hourly ? m.hourly_slot : m.slot_profile)[j] = static_cast<int>(s.values.size()) >= kRobustMinSlotSamples
                                                           ? shrink(median_inplace(s.values), s.values.size())
                                                           : 0.f;
      }
    }
    if (with_band) change_offsets(x, day_begin, L, s, m.offsets);
  }
  fit_robust_level(w, fit, level, s);
}

float robust_median_at(const RobustFit& fit, const RobustLevel& level, int k, EpochMs when) {
  return level.level[k] + fit.metric[k].seasonal(hour_bin(when), fit.slot_of(when));
}

void fit_robust_level(const WindowView& w, const RobustFit& fit, RobustLevel& level, RobustProfileScratch& s) {
  level.empty = w.length <= 0 || fit.empty;
  if (level.empty) return;
  const int L = w.length;
  level.last_step = w.last_step();
  const int level_steps = static_cast<int>(std::max<int64_t>(1, kRobustLevelMs / w.step_ms));
  const int level_begin = std::max(0, L - level_steps);
  bin_steps(w, fit, level_begin, s);
  for (int k = 0; k < kNumMetrics; ++k) {
    const RobustMetricFit& m = fit.metric[k];
    const float* x = w.metric[k];
    level.last[k] = x[L - 1];
    // The level: the median of the recent values, each without its shape (of either variant).
    for (const PathBase kind : {PathBase::robust, PathBase::hourly}) {
      s.deseasonalised.clear();
      for (int i = level_begin; i < L; ++i)
        s.deseasonalised.push_back(x[i] - path_shape(m, s.bins[i - level_begin], s.slots[i - level_begin], kind));
      (kind == PathBase::robust ? level.level : level.hourly_level)[k] = median_inplace(s.deseasonalised);
    }
  }
}

void write_robust_profile(const RobustFit& fit, const RobustLevel& level, int horizon, float* values) {
  write_paths(fit, level, horizon, values, PathBase::robust);
}

void write_robust_hourly(const RobustFit& fit, const RobustLevel& level, int horizon, float* values) {
  write_paths(fit, level, horizon, values, PathBase::hourly);
}

void write_last_value_band(const RobustFit& fit, const RobustLevel& level, int horizon, float* values) {
  write_paths(fit, level, horizon, values, PathBase::last_value);
}

void robust_profile_forecast(const WindowView& w, int horizon, float* values,
                             RobustProfileScratch& scratch) {
  fit_robust_profile(w, scratch.fit, scratch.level, scratch);
  write_robust_profile(scratch.fit, scratch.level, horizon, values);
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
