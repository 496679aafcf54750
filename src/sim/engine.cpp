#include "sim/engine.hpp"

#include "sim/record_format.hpp"

namespace nordiq::sim {

FleetEngine::FleetEngine(const SimConfig& cfg, const FleetCounts& counts)
    : cfg_(cfg), fleet_(counts, cfg.seed, cfg.problem_child_pct) {
  sims_.reserve(fleet_.size());
  for (size_t i = 0; i < fleet_.size(); ++i) sims_.emplace_back(cfg_, fleet_, static_cast<int>(i));
}

void FleetEngine::step_range(const StepClock& c, size_t first, size_t last, SimRecord* out, const ExternalOverlay* ext) {
  for (size_t i = first; i < last; ++i) sims_[i].step(c, ext ? &ext[i] : nullptr, out[i]);
}

void FleetEngine::step_all(int64_t k, std::vector<SimRecord>& out, const std::vector<ExternalOverlay>* ext) {
  out.resize(sims_.size());
  step_range(clock(k), 0, sims_.size(), out.data(), ext ? ext->data() : nullptr);
}

std::vector<IncidentRow> FleetEngine::incident_rows(int64_t last_k) const {
  std::vector<IncidentRow> rows;
  const int64_t last_abs = (cfg_.start + last_k * cfg_.step_ms()) / cfg_.step_ms();
  for (const auto& s : sims_) s.incident_rows(last_abs, rows);
  sort_incidents(rows);
  return rows;
}

}  // namespace nordiq::sim
