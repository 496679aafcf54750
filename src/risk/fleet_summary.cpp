#include "risk/fleet_summary.hpp"

namespace nordiq::risk {

int earliest_p90_eta(std::span<const Alert> server_alerts) {
  int best = kNoCrossing;
  for (const Alert& a : server_alerts)
    if (a.eta_p90 != kNoCrossing && (best == kNoCrossing || a.eta_p90 < best)) best = a.eta_p90;
  return best;
}

FleetSummary summarize_fleet(std::span<const ServerOutlook> servers) {
  FleetSummary s;
  s.total_servers = static_cast<int>(servers.size());
  if (servers.empty()) return s;
  double sum = 0;
  int within_30m = 0, within_horizon = 0;
  for (const ServerOutlook& o : servers) {
    ++s.per_level[static_cast<int>(o.level)];
    sum += o.risk;
    if (o.earliest_p90_eta != kNoCrossing) {
      ++within_horizon;
      if (o.earliest_p90_eta <= 30) ++within_30m;
    }
  }
  s.mean_risk = sum / servers.size();
  s.fleet_health = 100.0 - s.mean_risk;
  s.prob_30m = static_cast<double>(within_30m) / servers.size();
  s.prob_8h = static_cast<double>(within_horizon) / servers.size();
  return s;
}

}  // namespace nordiq::risk
