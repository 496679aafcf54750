// The two reference alert rules `nordiq eval alerts` scores beside the daemon, on the same
// history and thresholds, evaluated at the end of every step (no hysteresis, as written):
// - static threshold: open while the current value is at or above the threshold;
// - linear trend: open while the least-squares line over the last hour (12 steps), extrapolated
//   30 min ahead, or the current value, is at or above it.
#pragma once

#include <vector>

#include "replay/alert_score.hpp"
#include "risk/alert_config.hpp"
#include "train/history.hpp"

namespace nordiq::replay {

enum class BaselineRule { static_threshold, linear_trend };

// Intervals indexed by History server order; a series restart closes what is open.
std::vector<AlertInterval> baseline_alerts(const train::History& history, const risk::AlertConfig& config,
                                           BaselineRule rule);

}  // namespace nordiq::replay
