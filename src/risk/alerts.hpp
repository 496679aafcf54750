// Alerts (SPEC §3.3): one per (server, signal) whose pessimistic forecast reaches the signal's
// threshold inside the horizon (or whose current value already has), with the first-crossing
// times of the p90, p50 and p10 paths and a human message.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "core/window.hpp"
#include "forecast/forecaster.hpp"
#include "forecast/ramp.hpp"
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
  // Why it is open: the probability that the signal crosses within `window_minutes`, read from
  // the forecast's quantile paths (the lowest quantile level whose path crosses: p50 → 0.5, p90 →
  // 0.1, ...; 1 when the value already has), and whether the median path crosses there
  // ("likely") or only the upper band does ("possible").
  float probability = 0;
  int window_minutes = 0;
  bool likely = false;
  // The crossing comes from a steady climb continued beyond the served forecast (the alert
  // outlook, forecast/ramp.hpp's kAlertRampScales), not from the served forecast alone.
  bool climb = false;
};

// When a forecast raises an alert. Defaults: any crossing of the p90 path within the horizon
// (the bare SPEC §3.3 reading, used by tests of the crossing arithmetic); serving uses the rules
// of its thresholds file (risk/alert_config.hpp).
struct AlertRules {
  int likely_minutes = 1 << 30;    // the p50 path crosses within this: "likely"
  int possible_minutes = 1 << 30;  // only the upper band crosses within this: "possible"
  float possible_probability = 0.1f;  // ... with at least this crossing probability (0.1: p90)
  int min_history_steps = 0;       // fewer closed steps: no alert from the forecast (no ETA)
  // A threshold that a server's window (its last 24 h) sat at or over for at least this share of
  // its steps is inside that server's normal operation (heavy-load spells of a busy server): there
  // only the value over the threshold or a served median crossing ("likely") raises an alert;
  // "possible" and "climb" ones are dropped. 1 = off.
  float routine_over_share = 1.0f;
};

// Minutes until a path first reaches `threshold`: 0 when the current value already has, else
// (t + 1) · step minutes for the first horizon step t at or above it, kNoCrossing if none.
// Appends the alerts of server b (0..6) to `out`. The alert's level is the level of its
// signal's r_s, at least degraded (a forecast crossing always deserves attention).
// `history_steps` = the closed steps the forecast was made from. `thresholds` (6 values, Signal
// order) overrides the SPEC defaults when given.
// Minutes until each signal's optimistic, median and pessimistic paths (p10, p50, p90 of the
// signal: for CPU used, 100 − p90/p50/p10 of idle) first reach the signal's threshold: 0 when the
// current value already has, kNoCrossing when not within the horizon. Walked once per cycle and
// server; read by detect_alerts and by Grafana (nordiq_time_to_threshold_seconds).
using ThresholdEtas = std::array<std::array<int, 3>, kNumSignals>;  // [signal][p10, p50, p90]
ThresholdEtas time_to_thresholds(const WindowView& w, const forecast::ForecastBatch& f, int b,
                                 const float* thresholds = nullptr);

// The alerts from ETAs already walked by time_to_thresholds (same w, f, b and thresholds).
void detect_alerts(const WindowView& w, const forecast::ForecastBatch& f, int b, const RiskAssessment& risk,
                   const ThresholdEtas& etas, std::vector<Alert>& out, const AlertRules& rules = {},
                   int history_steps = 1 << 30, const float* thresholds = nullptr);
// The same, walking the ETAs itself.
void detect_alerts(const WindowView& w, const forecast::ForecastBatch& f, int b,
                   const RiskAssessment& risk, std::vector<Alert>& out, const AlertRules& rules = {},
                   int history_steps = 1 << 30, const float* thresholds = nullptr);

// The ramps that move a signal toward its threshold (rising; CPU used: idle falling). Continuing
// only these in a forecast can make an alert earlier, never remove one.
// Drops, from one server's `alerts`, those that the routine rule above says its normal operation
// explains; `over_share` = share_over_threshold per signal, for that server's window.
void drop_routine_alerts(std::vector<Alert>& alerts, const std::array<float, kNumSignals>& over_share,
                         const AlertRules& rules);

forecast::Ramps toward_thresholds(const forecast::Ramps& ramps);

// The alerts of row b read from its alert outlook: the served forecast with `climbs` continued
// as well (forecast/ramp.hpp). `outlook` is scratch. An alert the served forecast alone does not
// raise as early is marked `climb`. `served_etas` = time_to_thresholds of the served row.
void detect_alerts_with_climbs(const WindowView& w, const forecast::ForecastBatch& f, int b, const RiskAssessment& risk,
                               const ThresholdEtas& served_etas, const forecast::Ramps& climbs,
                               forecast::ForecastBatch& outlook, std::vector<Alert>& out, const AlertRules& rules,
                               int history_steps, const float* thresholds);

// "memory 95% in ~45 min (25–80 min)", "memory at 97% (threshold 95%) now",
// "cpu 90% in ~2.5 h (40 min – not within 8 h)", "load 12 possibly in ~6 h; median not within 8 h".
std::string alert_message(const Alert& a);
// The ETA part of the message: "in ~45 min (25–80 min)", "possibly in ~6 h; median not within
// 8 h", "now" (Alertmanager's eta_range annotation).
std::string eta_text(const Alert& a);

// Orders by urgency: higher level first, then earliest p90, p50, p10 crossing, then server id.
bool more_urgent(const Alert& a, const Alert& b);

}  // namespace nordiq::risk
