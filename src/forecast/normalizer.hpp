// Per-server, per-metric normalisation (SPEC §2.1, TFT.md §14): the ONE code path used by both
// serving and training, so train/serve skew cannot happen. Everything here is pure.
//
// Rules (recorded verbatim in the model manifest by normalizer_manifest()):
//   t      = transform(x)            identity for *_pct and uptime_days, log1p for the rest
//   center = the present level: the Theil–Sen line of t over the last min(n, 12) steps (the last
//            hour) of the encoder window, at its last step
//   scale  = max(std(t), floor[k])   population std (ddof 0) over the whole encoder window;
//                                    n < 2 → floor
//
// Why the centre is the present and not the window's mean (normalizer version 2): the network
// outputs z, and an untrained or unsure network outputs z ≈ 0. With centre = 24 h mean, "z = 0"
// meant "back to the daily mean whatever the present does": the version-1 model kept ~11 % of a
// server's deviation from its mean at +5 min and forecast a disk ramping to 89 % back at 30 %.
// With centre = the present level, z = 0 is a robust persistence forecast and the network learns
// the departures from it: daily shape, trends, reversion where the history shows it. Theil–Sen
// (medians of pairwise slopes) rather than a plain median: a median of the last hour lags a ramp
// by half an hour, and neither the line nor its slope move for one or two bursts (hourly jobs).
//   z      = (t − center) / scale    the network's encoder input columns
// Targets (what the network outputs), by normalizer version:
//   2: z = (t − center) / scale, x̂ = inverse(z·scale + center)
//   3: z = (t − anchor_j) / scale, x̂ = inverse(z·scale + anchor_j), where anchor_j is the
//      robust classical forecast of decoder step j (features.hpp). Why (issue #10): with version 2
//      "z = 0" is persistence, and on real, bursty CPU an under-trained network that stays near it
//      loses to seasonal naive (model 5.03 against 2.83 on the real set). The robust anchor is a
//      forecast that already beats the naive baselines there; the network learns corrections to
//      it (the present's departures, ramps, reversion) and sees the anchor as an input.
// x̂ is then clamped to the metric's valid range.
// The network also sees (center, scale) as static reals, presented as
//   center_feature = center / center_divisor[k]     (percentages → 0..1, uptime → years)
//   scale_feature  = ln(scale)                      (scale ≥ floor > 0, so always finite)
#pragma once

#include <array>
#include <vector>
#include <cmath>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "core/metrics.hpp"
#include "core/window.hpp"
#include "forecast/contract.hpp"

namespace nordiq::forecast {

// Minimum scale per metric, in transformed units. A constant series of percentages gets a
// scale of one percentage point (not float16 ε: TFT.md §14 pitfall 3), counters in log1p space
// get 0.1 (≈10 %), network 0.05, load 0.05, uptime half a day.
inline constexpr std::array<float, kNumMetrics> kScaleFloor = {
    1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f,  // the eight *_pct metrics
    0.05f, 0.05f,                                     // net_in_mb_s, net_out_mb_s (log1p)
    0.1f, 0.1f,                                       // back/front_close_wait (log1p)
    0.05f,                                            // load_average (log1p)
    0.5f};                                            // uptime_days

// Divisor applied to the center before the network sees it as a static real.
inline constexpr std::array<float, kNumMetrics> kCenterDivisor = {
    100.f, 100.f, 100.f, 100.f, 100.f, 100.f, 100.f, 100.f,  // percentages → 0..1
    1.f, 1.f, 1.f, 1.f, 1.f,                                 // log1p values are already O(1)
    365.f};                                                  // uptime days → years

// Used for a server with no steps at all (documented defaults, TFT.md §14 pitfall 5).
inline constexpr float kDefaultCenter = 0.f;

inline float transform(int k, float raw) {
  return kMetrics[k].transform == MetricTransform::log1p ? std::log1p(std::fmax(raw, 0.f)) : raw;
}
inline float inverse_transform(int k, float t) {
  return kMetrics[k].transform == MetricTransform::log1p ? std::expm1(t) : t;
}
// Clamps to the metric's valid range; a non-finite value (a diverging network) maps to `fallback`.
inline float clamp_to_range(int k, float v, float fallback) {
  if (!std::isfinite(v)) v = fallback;
  const float lo = static_cast<float>(kMetrics[k].min);
  const float hi = static_cast<float>(kMetrics[k].max);  // +inf for unbounded metrics
  return v < lo ? lo : (v > hi ? hi : v);
}

struct Normalization {
  std::array<float, kNumMetrics> center{};  // transformed units
  std::array<float, kNumMetrics> scale{};   // transformed units, ≥ floor
  std::array<float, kNumMetrics> slope{};   // the centre line's slope per step, transformed units

  // `anchor_offset`: anchor − center of a version-3 target (features.hpp); 0 otherwise.
  float normalize(int k, float raw, float anchor_offset = 0.f) const {
    return normalize_transformed(k, transform(k, raw), anchor_offset);
  }
  // The same from transform(k, raw), for callers that transformed a window once.
  float normalize_transformed(int k, float t, float anchor_offset = 0.f) const {
    return (t - center[k] - anchor_offset) / scale[k];
  }
  // z → raw units, clamped to the metric's range.
  // z·scale + centre as one fused multiply-add, written out: so the rounding is the same in every
  // build and call site (g++ fused it in some and not in others), and the batched de-normalisation
  // (denormalize.cpp) gives these bits.
  float denormalize(int k, float z, float anchor_offset = 0.f) const {
    const float v = inverse_transform(k, std::fma(z, scale[k], center[k]) + anchor_offset);
    // A diverging network's non-finite value falls back to the centre: its inverse transform
    // (an expm1 for log1p metrics) only then, not for every value.
    return clamp_to_range(k, std::isfinite(v) ? v : inverse_transform(k, center[k]), 0.f);
  }
  float center_feature(int k) const { return center[k] / kCenterDivisor[k]; }
  float scale_feature(int k) const { return std::log(scale[k]); }
};

// Steps at the end of the encoder window that define the centre.
inline constexpr int kCenterSteps = 12;
// The Theil–Sen line of transform(k, x[0..n)) (n ≤ kCenterSteps; more are ignored): its value
// at the last step, and its slope per step (0 for n < 2), in transformed units.
struct PresentLevel {
  float level = 0, slope = 0;
};
PresentLevel present_level(int k, const float* x, int n);

// Statistics over steps [begin, begin + count) of the view (clamped to the view). The encoder
// window of a forecast is exactly those steps, in serving and in training.
Normalization compute_normalization(const WindowView& view, int begin, int count);

// transform(k, ·) of `len` steps of every metric, computed once: log1p is most of the cost of
// building a window's features. column(k) is null for a metric the view lacks.
struct TransformedWindow {
  int len = 0;
  std::array<bool, kNumMetrics> present{};
  std::vector<float> values;  // [kNumMetrics, len]
  void assign(const WindowView& view, int begin, int count);  // steps clamped to the view
  const float* column(int k) const { return present[k] ? values.data() + static_cast<size_t>(k) * len : nullptr; }
};
// compute_normalization over an already transformed window (the same numbers).
Normalization normalization_of(const TransformedWindow& window);

// The rules above as JSON, for the model manifest's "normalizer" entry; a model whose manifest
// disagrees with this is refused by check_normalizer_manifest (with the differing field named).
// Version 2 for models without the anchor input; version 3 (anchored) adds the anchor rule and
// makes the targets relative to it.
nlohmann::json normalizer_manifest(InputSet inputs = InputSet::decoder);
// Empty string when `manifest` matches this build's rules for `inputs`, else a message naming
// the difference.
std::string check_normalizer_manifest(const nlohmann::json& manifest, InputSet inputs = InputSet::decoder);

}  // namespace nordiq::forecast
