// Ramps: a metric climbing (or falling) steadily for the last hour or two — a disk filling, a leak,
// an incident building up. The accuracy tracker cannot learn to serve a trend for them: ramps are
// rare, and a trend extrapolated in ordinary noise loses to every candidate. So a ramp is
// detected explicitly, and while it lasts every candidate's forecast continues it (served
// forecasts, their bands and what the tracker scores alike):
//
//   over the fitted span (n steps; 1 h for served forecasts): b = Theil–Sen slope, ℓ = the line
//   at the last step,
//   σ = 1.4826 · MAD of the residuals (at least the metric's noise floor);
//   a ramp when   |b| · (n − 1) ≥ 4σ                       (the hour's change is well above noise)
//            and  the medians of the hour's thirds rise (or fall) by ≥ σ each
//                 (a steady climb, not a jump followed by a plateau)
//            and  the least-squares slope of the span before it (30 min for served forecasts)
//                 has the same sign and ≥ b/3 (it has been going on for 90 min, not a spell
//                 starting);
//   continuation: ramp(t) = ℓ + b · Σ_{i=1..t+1} φ^i, φ = 0.95 per step (a slope is never
//   extrapolated more than ~19 steps: enough to warn an hour ahead, little harm at +8 h when a
//   ramp stops); each quantile path q becomes
//   max(path_q, ramp + (path_q − path_p50)) for a rising ramp (min for a falling one), clamped.
//   The shift is trusted for the next 2 h (what an early alert needs) and fades out by 4 h:
//   ramps end (an incident peaks and recedes, a disk gets cleaned), and further out the
//   candidates' own forecasts do better (measured: simulated fleet, +4 h and +8 h).
//
// Two uses, two trade-offs (measured on the development fleet, seed 1001, and the alert tuning
// seed 23):
// - served forecasts confirm a climb over 90 min (1 h fitted + 30 min before). Detecting it
//   after 60 min instead costs p50 accuracy (+1.1 % overall, +30 min 0.168 → 0.170 against
//   persistence's 0.176): ordinary noise looks like a short climb often enough.
// - alerts read the served forecast with the climbs of kAlertRampScales continued as well
//   (risk::detect_alerts_with_climbs): one seen over 45 min (+ 15 min before), so 30 min
//   sooner. On the alert tuning seed that took degrading incidents warned ≥ 30 min ahead from
//   29 to 34 of 37 (false alarms 1.55 → 1.76 per server-day); adding a 90 + 30 min scale for
//   noisy climbs found no more and cost 0.12. A false start costs an alert, not the p50 that
//   every user reads.
#pragma once

#include <array>
#include <span>

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

// One scale of detection: the span fitted and the span before it whose slope must agree.
struct RampScale {
  int fit_minutes = 60;
  int before_minutes = 30;
};
inline constexpr int kMaxRampFitSteps = 64;
inline constexpr std::array<RampScale, 1> kServedRampScales{{{60, 30}}};
inline constexpr std::array<RampScale, 1> kAlertRampScales{{{45, 15}}};

// Per metric, the ramp of the first scale that finds one, from the window's last steps (a scale
// needs fit + before minutes of steps; otherwise it finds none).
Ramps detect_ramps(const WindowView& w, std::span<const RampScale> scales = kServedRampScales);
// Continues the ramps in values[k][q][t] (ForecastBatch layout, `horizon` steps of step_ms).
void continue_ramps(const Ramps& ramps, int horizon, int64_t step_ms, float* values);
// The weight of the continuation at forecast step t: 1 up to 2 h, fading to 0 at 4 h.
float ramp_trust(int t, int64_t step_ms);

}  // namespace nordiq::forecast
