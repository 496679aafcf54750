// One simulated server: its Markov chain, smoothed metrics, incident timeline and cascade view.
// `step()` is THE per-server step of SIMULATOR.md §5, used by both `history` and `stream`; it
// touches nothing outside this object, so servers can be stepped in parallel.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "sim/calendar.hpp"
#include "sim/fleet.hpp"
#include "sim/record.hpp"
#include "sim/regimes.hpp"
#include "sim/schedule.hpp"

namespace nordiq::sim {

// What the scenario control API (stream mode) lays over a server for one step. Computed by the
// engine from fleet-level scenario state; never touches the server's random streams.
struct ExternalOverlay {
  std::array<double, kNumFamilies> s{};  // intensity per family, combined with episodes by max
  std::array<double, 6> edge_c{};        // cascade envelope per kCascadeEdges entry (scenario sources)
  std::optional<Status> status;          // the scenario's episode status
};

class ServerSim {
 public:
  ServerSim(const SimConfig& cfg, const Fleet& fleet, int index);

  // Generates step `clock` into `out` (out.online = false for an offline step), then lays the
  // real-server regimes over it when the config asks for them.
  void step(const StepClock& clock, const ExternalOverlay* ext, SimRecord& out) {
    step_base(clock, ext, out);
    if (regimes_) regimes_->step(clock, out);
  }

  // Appends this server's ground-truth rows for everything that started in [run start, last step].
  void incident_rows(int64_t last_abs_step, std::vector<IncidentRow>& out) const;

  Status markov_state() const { return markov_; }
  int index() const { return index_; }

 private:
  struct Spell {
    int64_t start, end;  // absolute steps; end = −1 while open
  };
  struct UpstreamView {
    int server = -1;                 // fleet index
    std::vector<CascadeEvent> events;  // every week generated so far, in start order
  };

  // What the background episode, cascades and scenarios lay over one step.
  struct Overlays {
    std::array<double, kNumFamilies> s{};  // intensity per family
    Status status = Status::healthy;       // the Markov state made worse by the overlays
    Episode* active = nullptr;             // the background episode running now
    // Dependants' cascade effects: multipliers and additives per target.
    double m_user = 1, m_sys = 1, m_share = 1, m_mem = 1, m_in = 1, m_out = 1, m_back = 1, m_front = 1, m_load = 1;
    double a_back = 0, a_front = 0;
  };
  // Targets μ and noise scales σ of the CPU parts and memory (§5), and the calendar factor F.
  struct Targets {
    double mu_user, sd_user, mu_sys, sd_sys, mu_io, sd_io, mu_mem, sd_mem;
    double F;  // the profile's calendar factor at this step
  };

  // SIMULATOR.md §5: the base series, in the phases below.
  void step_base(const StepClock& clock, const ExternalOverlay* ext, SimRecord& out);
  void advance_state(int64_t a, const StepClock& clock);  // Markov state, episode crashes, uptime, spells
  Overlays gather_overlays(int64_t a, const ExternalOverlay* ext);
  Targets targets(const StepClock& clock, const Overlays& o) const;
  void emit(int64_t a, const Overlays& o, const Targets& t, const std::array<double, kNumQ>& z, SimRecord& out);
  void ensure_week(int64_t week);
  void generate_week(int64_t week);
  double cascade_c(const std::vector<CascadeEvent>& events, int64_t a, Phase* phase, bool* late) const;
  double smooth(int q, double mu, double sigma, double z, double phi);

  const SimConfig& cfg_;
  const Fleet& fleet_;
  const ServerSpec& spec_;
  int index_;
  int64_t step_ms_;
  int64_t start_abs_;
  double phi_, phi_fall_, step_days_;
  int64_t max_event_steps_;  // longer than any cascade event (< 7.25 h)

  Rng static_rng_, state_rng_, noise_rng_;
  Status markov_ = Status::healthy;
  std::array<double, kNumQ> y_{};
  bool started_ = false;
  std::array<double, kNumFamilies> noise_free_{};  // AR(1) of the scored signals' targets, no noise
  bool shadow_started_ = false;
  double disk_level_ = 0;
  double uptime_ = 0;

  int64_t generated_week_;
  std::vector<Episode> episodes_;  // accepted timeline
  size_t episode_cursor_ = 0;      // first episode that may still be active
  std::vector<CascadeEvent> own_events_;  // as an upstream (cascade source)
  std::array<UpstreamView, 6> upstream_;  // per kCascadeEdges entry
  std::vector<Spell> spells_;             // spontaneous critical_issue spells
  std::optional<RegimeLayer> regimes_;    // --regimes realistic
};

}  // namespace nordiq::sim
