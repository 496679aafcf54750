// Ramps: a metric climbing (or falling) steadily for the last two hours — a disk filling, a leak,
// an incident building up. The accuracy tracker cannot learn to serve a trend for them: ramps are
// rare, and a trend extrapolated in ordinary noise loses to every candidate. So a ramp is
// detected explicitly, and while it lasts every candidate's forecast continues it (served
// forecasts, their bands and what the tracker scores alike):
//
//   over the last hour (n = 1 h of steps): b = Theil–Sen slope, ℓ = the line at the last step,
//   σ = 1.4826 · MAD of the residuals (at least the metric's noise floor);
//   a ramp when   |b| · (n − 1) ≥ 4σ                       (the hour's change is well above noise)
//            and  the medians of the hour's thirds rise (or fall) by ≥ σ each
//                 (a steady climb, not a jump followed by a plateau)
//            and  the least-squares slope of the half hour before that hour has the same sign
//                 and ≥ b/3 (it has been going on for 90 min, not a spell starting);
//   continuation: ramp(t) = ℓ + b · Σ_{i=1..t+1} φ^i, φ = 0.95 per step (a slope is never
//   extrapolated more than ~19 steps: enough to warn an hour ahead, little harm at +8 h when a
//   ramp stops); each quantile path q becomes
//   max(path_q, ramp + (path_q − path_p50)) for a rising ramp (min for a falling one), clamped.
//   The shift is trusted for the next 2 h (what an early alert needs) and fades out by 4 h:
//   ramps end (an incident peaks and recedes, a disk gets cleaned), and further out the
//   candidates' own forecasts do better (measured: simulated fleet, +4 h and +8 h).
#pragma once

#include <array>

#include "core/window.hpp"
#include "forecast/forecaster.hpp"

namespace nordiq::forecast {

inline constexpr double kRampDamping = 0.95;
inline constexpr double kRampTrustedHours = 2.0;

struct Ramp {
  bool present = false;
  float level = 0;  // the hour's Theil–Sen line at the last step
  float slope = 0;  // per step
};
using Ramps = std::array<Ramp, kNumMetrics>;

// The least-squares line through y[0..n) at x = 0..n−1 (slope 0 for n < 2).
struct Line {
  double intercept = 0, slope = 0;
  double at(double x) const { return intercept + slope * x; }
};
Line least_squares_line(const float* y, int n);

// From the window's last two hours (needs ≥ 2 h of steps; otherwise none).
Ramps detect_ramps(const WindowView& w);
// Continues the ramps in values[k][q][t] (ForecastBatch layout, `horizon` steps of step_ms).
void continue_ramps(const Ramps& ramps, int horizon, int64_t step_ms, float* values);
// The weight of the continuation at forecast step t: 1 up to 2 h, fading to 0 at 4 h.
float ramp_trust(int t, int64_t step_ms);

}  // namespace nordiq::forecast
