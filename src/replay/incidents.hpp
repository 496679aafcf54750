// The simulator's incident ground truth (`incidents.csv`, docs/SIMULATOR.md §6.4), read for
// `nordiq eval alerts`.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/time.hpp"
#include "risk/risk_score.hpp"

namespace nordiq::replay {

struct Incident {
  std::string id, server, profile, kind, metric, effect, parent;
  EpochMs start = 0;
  EpochMs threshold_cross = 0;  // 0: none
  EpochMs peak = 0;             // 0: none
  EpochMs end = 0;              // 0: still open when the run ended
  std::optional<risk::Signal> signal;  // the scored signal of `metric` (cpu, memory, iowait, disk)

  // A degrading or critical episode whose series crosses its alert threshold: what an alert
  // must warn of.
  bool scored() const { return (kind == "degrading" || kind == "critical") && threshold_cross > 0 && signal; }
};

// Reads the CSV; throws std::runtime_error naming the file, line and field of a bad row.
std::vector<Incident> load_incidents(const std::string& path);

}  // namespace nordiq::replay
