// Fleet summary (SPEC §3.4): totals per level, fleet_health = 100 − mean risk, and the share of
// servers whose p90 forecast crosses any alert threshold within 30 min / within the horizon.
#pragma once

#include <array>
#include <span>

#include "risk/alerts.hpp"
#include "risk/risk_score.hpp"

namespace nordiq::risk {

struct ServerOutlook {
  float risk = 0;
  Level level = Level::healthy;
  int earliest_p90_eta = kNoCrossing;  // minutes, over all the server's alerts
};

struct FleetSummary {
  int total_servers = 0;
  std::array<int, kNumLevels> per_level{};  // indexed by Level
  double mean_risk = 0;
  double fleet_health = 100;  // 100 − mean risk
  double prob_30m = 0;        // fraction of servers crossing a threshold at p90 within 30 min
  double prob_8h = 0;         // ... within the horizon
};

// The earliest p90 crossing among alerts (kNoCrossing if none).
int earliest_p90_eta(std::span<const Alert> server_alerts);

FleetSummary summarize_fleet(std::span<const ServerOutlook> servers);

}  // namespace nordiq::risk
