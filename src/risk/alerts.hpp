// Alerts (SPEC §3.3): one per (server, signal) whose pessimistic forecast reaches the signal's
// threshold inside the horizon (or whose current value already has), with the first-crossing
// times of the p90, p50 and p10 paths and a human message.
#pragma once

#include <string>
#include <vector>

#include "core/window.hpp"
#include "forecast/forecaster.hpp"
#include "risk/risk_score.hpp"

namespace nordiq::risk {

inline constexpr int kNoCrossing = -1;  // "not within the horizon"

struct Alert {
  ServerId server = 0;
  Signal signal = Signal::cpu;
  Level level = Level::degraded;
  float threshold = 0;
  float current = 0;          // the signal's current value
  int eta_p90 = kNoCrossing;  // minutes until the pessimistic path first reaches the threshold
  int eta_p50 = kNoCrossing;  // ... the median path
  int eta_p10 = kNoCrossing;  // ... the optimistic path
  int horizon_minutes = 0;    // what "not within the horizon" means
};

// Minutes until a path first reaches `threshold`: 0 when the current value already has, else
// (t + 1) · step minutes for the first horizon step t at or above it, kNoCrossing if none.
// Appends the alerts of server b (0..6) to `out`. The alert's level is the level of its
// signal's r_s, at least degraded (a forecast crossing always deserves attention).
void detect_alerts(const WindowView& w, const forecast::ForecastBatch& f, int b,
                   const RiskAssessment& risk, std::vector<Alert>& out);

// "memory 95% in ~45 min (25–80 min)", "memory at 97% (threshold 95%) now",
// "cpu 90% in ~2.5 h (40 min – not within 8 h)", "load 12 possibly in ~6 h; median not within 8 h".
std::string alert_message(const Alert& a);

// Orders by urgency: higher level first, then earliest p90, p50, p10 crossing, then server id.
bool more_urgent(const Alert& a, const Alert& b);

}  // namespace nordiq::risk
