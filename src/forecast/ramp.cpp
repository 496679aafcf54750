#include "forecast/ramp.hpp"

#include <algorithm>
#include <cmath>

#include "forecast/baseline.hpp"
#include "forecast/normalizer.hpp"
#include "forecast/order_stats.hpp"

namespace nordiq::forecast {

namespace {

constexpr int64_t kHourMs = 3'600'000;

float median_of(const float* x, int n) {
  std::array<float, kMaxRampFitSteps> buf{};
  const int m = std::min(n, static_cast<int>(buf.size()));
  std::copy(x, x + m, buf.begin());
  std::sort(buf.begin(), buf.begin() + m);
  return m % 2 ? buf[m / 2] : 0.5f * (buf[m / 2 - 1] + buf[m / 2]);
}

float theil_sen(const float* x, int n) {
  std::array<float, kMaxRampFitSteps * (kMaxRampFitSteps - 1) / 2> slopes{};
  int m = 0;
  for (int i = 0; i < n; ++i)
    for (int j = i + 1; j < n; ++j) slopes[m++] = (x[j] - x[i]) / static_cast<float>(j - i);
  std::nth_element(slopes.begin(), slopes.begin() + m / 2, slopes.begin() + m);
  return slopes[m / 2];
}

Ramp detect(const float* hour, int n, const float* previous, int n_before, float noise_floor) {
  Ramp r;
  // A ramp's thirds step up (or down) by at least σ ≥ the noise floor each (below): cheap to test
  // first, and most windows fail it, so most never pay for the Theil–Sen slope's pairs.
  const int third = n / 3;
  const float m1 = median_of(hour, third), m2 = median_of(hour + third, third), m3 = median_of(hour + n - third, third);
  const bool rising = m2 - m1 >= noise_floor && m3 - m2 >= noise_floor;
  const bool falling = m1 - m2 >= noise_floor && m2 - m3 >= noise_floor;
  if (!rising && !falling) return r;
  const float b = theil_sen(hour, n);
  std::array<float, kMaxRampFitSteps> resid{};
  for (int i = 0; i < n; ++i) resid[i] = hour[i] - b * static_cast<float>(i);
  const float intercept = median_of(resid.data(), n);
  for (int i = 0; i < n; ++i) resid[i] = std::fabs(resid[i] - intercept);
  const float sigma = std::max(1.4826f * median_of(resid.data(), n), noise_floor);
  if (std::fabs(b) * static_cast<float>(n - 1) < 4.f * sigma) return r;
  const float sign = b > 0 ? 1.f : -1.f;
  if (sign * (m2 - m1) < sigma || sign * (m3 - m2) < sigma) return r;
  const float before = static_cast<float>(least_squares_line(previous, n_before).slope);  // the span before the fit
  if (sign * before < std::fabs(b) / 3.f) return r;
  r.present = true;
  r.slope = b;
  r.level = intercept + b * static_cast<float>(n - 1);
  return r;
}

}  // namespace

Line least_squares_line(const float* y, int n) {
  Line line;
  if (n < 1) return line;
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (int i = 0; i < n; ++i) {
    sx += i;
    sy += y[i];
    sxx += static_cast<double>(i) * i;
    sxy += i * static_cast<double>(y[i]);
  }
  const double d = n * sxx - sx * sx;
  line.slope = d > 0 ? (n * sxy - sx * sy) / d : 0.0;
  line.intercept = (sy - line.slope * sx) / n;
  return line;
}

Ramps detect_ramps(const WindowView& w, std::span<const RampScale> scales) {
  Ramps out{};
  const int64_t step = std::max<int64_t>(w.step_ms, 1);
  for (int k = 0; k < kNumMetrics; ++k) {
    for (const RampScale& scale : scales) {
      const int n = static_cast<int>(scale.fit_minutes * 60'000LL / step);
      const int n_before = static_cast<int>(scale.before_minutes * 60'000LL / step);
      if (n < 6 || n > kMaxRampFitSteps || n_before < 2 || w.length < n + n_before) continue;
      const float* x = w.metric[k] + w.length - n - n_before;  // the span before, then the fit
      out[k] = detect(x + n_before, n, x, n_before, static_cast<float>(kBaselineMinSigma[k]));
      if (out[k].present) break;
    }
  }
  return out;
}

float ramp_trust(int t, int64_t step_ms) {
  const double hours = static_cast<double>(t + 1) * static_cast<double>(step_ms) / kHourMs;
  if (hours <= kRampTrustedHours) return 1.f;
  if (hours >= 2 * kRampTrustedHours) return 0.f;
  return static_cast<float>((2 * kRampTrustedHours - hours) / kRampTrustedHours);
}

void continue_ramps(const Ramps& ramps, int horizon, int64_t step_ms, float* values) {
  for (int k = 0; k < kNumMetrics; ++k) {
    const Ramp& r = ramps[k];
    if (!r.present) continue;
    auto path = [&](int q) { return values + (static_cast<size_t>(k) * kNumQuantiles + q) * horizon; };
    const float* p50 = path(kP50);
    float damp = 1.f, sum = 0.f;
    for (int t = 0; t < horizon; ++t) {
      damp *= static_cast<float>(kRampDamping);
      sum += damp;
      const float ramp = r.level + r.slope * sum;
      const float full = r.slope > 0 ? std::max(0.f, ramp - p50[t]) : std::min(0.f, ramp - p50[t]);
      const float shift = full * ramp_trust(t, step_ms);
      if (shift == 0.f) continue;
      // p50 last: the other paths are shifted relative to it.
      for (int q = kNumQuantiles - 1; q >= 0; --q) {
        if (q == kP50) continue;
        path(q)[t] = clamp_to_range(k, path(q)[t] + shift, path(q)[t]);
      }
      path(kP50)[t] = clamp_to_range(k, p50[t] + shift, p50[t]);
    }
  }
}

}  // namespace nordiq::forecast
