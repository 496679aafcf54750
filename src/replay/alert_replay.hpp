// `nordiq eval alerts`' replay: a history fed step by step through the daemon's own serving path
// (FleetStore::ingest → the forecast cycle: served forecaster, risk, alert tracker with its
// hysteresis and thresholds), in data time and in a throw-away data dir, with no HTTP. Each
// step's records are one ingest; the servers whose step closed get one synchronous forecast
// cycle, exactly as the daemon's worker would run it.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "replay/alert_score.hpp"
#include "replay/cascade_score.hpp"
#include "risk/alert_config.hpp"
#include "train/history.hpp"

namespace nordiq::replay {

struct ReplayOptions {
  std::string model = "models/default";  // a model dir / .safetensors, or "baseline"
  risk::AlertConfig config = risk::default_alert_config();
  int threads = 2;                       // the TFT engine's threads
  std::function<void(int64_t steps_done, int64_t steps_total)> progress;
};

struct ReplayResult {
  // The daemon's alerts as intervals (server = History server index).
  std::vector<AlertInterval> alerts;
  // The cascades it opened, with every dependant it named while each was open.
  std::vector<DetectedCascade> cascades;
};

// Alerts and cascades still open at the end are closed at the history's end.
ReplayResult replay_history(const train::History& history, const ReplayOptions& options);

}  // namespace nordiq::replay
