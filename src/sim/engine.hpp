// The fleet-level engine: the fleet and one ServerSim per server, stepped together. Both modes
// drive it: history steps blocks of time with servers in parallel, stream steps one step at a
// time with scenario overlays. There is no other code path that produces records.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sim/calendar.hpp"
#include "sim/fleet.hpp"
#include "sim/server_sim.hpp"

namespace nordiq::sim {

class FleetEngine {
 public:
  FleetEngine(const SimConfig& cfg, const FleetCounts& counts);
  FleetEngine(const FleetEngine&) = delete;
  FleetEngine& operator=(const FleetEngine&) = delete;

  const SimConfig& config() const { return cfg_; }
  const Fleet& fleet() const { return fleet_; }
  size_t size() const { return sims_.size(); }

  StepClock clock(int64_t k) const { return make_step_clock(cfg_.start, cfg_.step_ms(), k); }
  EpochMs time_of(int64_t k) const { return cfg_.start + k * cfg_.step_ms(); }

  // Steps servers [first, last) at clock `c`; out is indexed by fleet index. `ext`, when given,
  // is indexed by fleet index too.
  void step_range(const StepClock& c, size_t first, size_t last, SimRecord* out, const ExternalOverlay* ext);
  // Steps every server at step k on the calling thread.
  void step_all(int64_t k, std::vector<SimRecord>& out, const std::vector<ExternalOverlay>* ext = nullptr);

  ServerSim& server(size_t i) { return sims_[i]; }

  // Ground truth of everything that started in steps [0, last_k], sorted (§6.4).
  std::vector<IncidentRow> incident_rows(int64_t last_k) const;

 private:
  SimConfig cfg_;
  Fleet fleet_;
  std::vector<ServerSim> sims_;
};

}  // namespace nordiq::sim
