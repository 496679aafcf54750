// What raises, opens and resolves an alert, per deployment: thresholds per profile and signal,
// the forecast rules (risk/alerts.hpp) and the hysteresis (risk/alert_tracker.hpp). Read from a
// JSON file (`nordiq serve --alerts-config FILE`; the shipped defaults are config/alerts.json,
// documented there and in the README):
//
//   {"rules": {"likely_within_minutes": 120, "possible_within_minutes": 30,
//              "min_history_steps": 12, "open_after_minutes": 10, "resolve_after_minutes": 30},
//    "thresholds": {"default": {"cpu": 90, "memory": 95, "iowait": 20, "swap": 25, "load": 12,
//                               "disk": 90},
//                   "database": {"memory": 98}, ...}}
//
// Every key is optional; a profile's table overrides the default table signal by signal. Unknown
// keys, profiles or signals, and values out of range, are errors that name the field.
#pragma once

#include <array>
#include <filesystem>
#include <string>

#include "core/metrics.hpp"
#include "risk/alert_tracker.hpp"
#include "risk/alerts.hpp"

namespace nordiq::risk {

struct AlertConfig {
  std::array<std::array<float, kNumSignals>, kNumProfiles> thresholds{};  // [profile][signal]
  AlertRules rules;
  AlertPolicy policy;

  const float* thresholds_for(Profile p) const { return thresholds[static_cast<int>(p)].data(); }
};

// The built-in defaults: SPEC §3.3's thresholds (alert_threshold) and serving's rules.
AlertConfig default_alert_config();
// Parses a config document on top of the defaults. Throws std::invalid_argument naming the field.
AlertConfig parse_alert_config(const std::string& json_text);
AlertConfig load_alert_config(const std::filesystem::path& file);

}  // namespace nordiq::risk
