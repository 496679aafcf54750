#include "forecast/baseline.hpp"

#include <algorithm>
#include <cmath>

#include "forecast/normalizer.hpp"

namespace nordiq::forecast {

BaselineFit fit_baseline(const WindowView& w) {
  BaselineFit fit;
  fit.empty = w.length <= 0;
  if (fit.empty) return fit;
  for (int k = 0; k < kNumMetrics; ++k) {
    const float* col = w.metric[k];
    if (col == nullptr) continue;
    const int n = std::min(w.length, kBaselineFitSteps);
    const float* y = col + (w.length - n);
    double slope = 0, sigma = 0;
    if (n >= 2) {
      const double xbar = (n - 1) / 2.0;
      double ybar = 0;
      for (int i = 0; i < n; ++i) ybar += y[i];
      ybar /= n;
      double sxy = 0, sxx = 0;
      for (int i = 0; i < n; ++i) {
        sxy += (i - xbar) * (y[i] - ybar);
        sxx += (i - xbar) * (i - xbar);
      }
      slope = sxy / sxx;
      if (n >= 3) {
        double ss = 0;
        for (int i = 0; i < n; ++i) {
          const double r = y[i] - (ybar + slope * (i - xbar));
          ss += r * r;
        }
        sigma = std::sqrt(ss / (n - 2));
      }
    }
    fit.last[k] = std::isfinite(y[n - 1]) ? y[n - 1] : 0.0;
    fit.slope[k] = std::isfinite(slope) ? slope : 0.0;
    fit.sigma[k] = std::max(std::isfinite(sigma) ? sigma : 0.0, kBaselineMinSigma[k]);
  }
  return fit;
}

void write_baseline(const BaselineFit& fit, ForecastBatch& out, int b) {
  out.model[b] = ModelKind::baseline;
  const int horizon = out.horizon;
  for (int k = 0; k < kNumMetrics; ++k) {
    if (fit.empty) {
      for (int q = 0; q < kNumQuantiles; ++q) std::fill_n(out.path(b, k, q), horizon, 0.f);
      continue;
    }
    const double last = fit.last[k], slope = fit.slope[k], sigma = fit.sigma[k];
    const float fallback = static_cast<float>(last);
    double damp_power = 1.0, damp_sum = 0.0;  // φ^h and Σ_{i=1..h} φ^i, advanced per step
    for (int t = 0; t < horizon; ++t) {
      damp_power *= kBaselineDamping;
      damp_sum += damp_power;
      const double median = last + slope * damp_sum;
      const double spread = sigma * std::sqrt(static_cast<double>(std::min(t + 1, kBaselineBandSteps)));
      for (int q = 0; q < kNumQuantiles; ++q)
        out.path(b, k, q)[t] =
            clamp_to_range(k, static_cast<float>(median + kNormalZ[q] * spread), fallback);
    }
  }
}

void BaselineForecaster::prepare(std::span<const WindowView> windows, ForecastBatch& out) {
  out.resize(static_cast<int>(windows.size()), out.horizon > 0 ? out.horizon : kHorizonSteps);
  fits_.resize(windows.size());
  for (size_t b = 0; b < windows.size(); ++b) fits_[b] = fit_baseline(windows[b]);
}

void BaselineForecaster::run(ForecastBatch& out) {
  for (int b = 0; b < out.batch; ++b) write_baseline(fits_[b], out, b);
}

}  // namespace nordiq::forecast
