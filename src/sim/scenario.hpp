// Stream-mode scenarios (SIMULATOR.md §11): fleet-level overlays (healthy, degrading, critical,
// cascade) laid over the natural background. Requests are validated here, take effect at the next
// step, and ramp from each server's current intensity, so a switch never dips to baseline.
// Thread-safe: the control API thread calls set()/status(), the generator calls overlays()/advance().
#pragma once

#include <cstdint>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sim/engine.hpp"

namespace nordiq::sim {

enum class Scenario : uint8_t { healthy, degrading, critical, cascade };
std::optional<Scenario> scenario_from_name(std::string_view name);
std::string_view scenario_name(Scenario s);

// An HTTP-shaped answer: status code and JSON body ({"error","message"} for 4xx).
struct ControlReply {
  int status = 200;
  nlohmann::json body;
};

class ScenarioControl {
 public:
  explicit ScenarioControl(const FleetEngine& engine);

  // POST /scenario/set with an already-parsed body (the API layer handles bad_json and size).
  ControlReply set(const nlohmann::json& body);
  // The initial --scenario, applied at step 0 without a request.
  void set_initial(Scenario s);
  ControlReply status() const;

  // Overlays for step k (indexed by fleet index); called once per step before generating it.
  void overlays(int64_t k, std::vector<ExternalOverlay>& out);
  // After step k was generated: `online` servers reported.
  void advance(int64_t k, size_t online);

  // Ground-truth rows (kind = scenario name) of every overlay so far; open ones end empty.
  void incident_rows(std::vector<IncidentRow>& out) const;

  // Current intensity of one server's overlay after step k (for tests): s for degrading/critical
  // overlays, c for cascade sources, 0 when none.
  double intensity(size_t server, int64_t k) const;

 private:
  enum class Role : uint8_t { none, degrading, critical, cascade_source, ramp_down_s, ramp_down_c };
  struct Overlay {
    Role role = Role::none;
    double v0 = 0, target = 0;
    int64_t effective = 0;  // first step of this ramp
    int ramp = 1;
    int row = -1;           // ground-truth row index
    double value(int64_t k) const;
  };

  ControlReply apply(Scenario sc, std::vector<int> servers, bool servers_given, int ramp_steps);
  std::vector<int> pick_random(const std::vector<int>& candidates, size_t count);
  static ControlReply error(int status, std::string code, std::string message);
  nlohmann::json names(const std::vector<int>& servers) const;
  void close_row(size_t server, EpochMs end);
  // Ground truth of an overlay starting at step E on `server`: its row (returned), and one per
  // dependant bound to it when it is a cascade source.
  int add_incident_rows(int server, Scenario sc, Role role, int64_t E, int ramp);
  size_t bound_dependants() const;  // servers bound to one of cascade_sources_

  const FleetEngine& engine_;
  mutable std::mutex mutex_;
  Rng control_rng_;
  std::vector<Overlay> overlays_;
  Scenario scenario_ = Scenario::healthy;
  std::string mode_ = "ramp_down";
  int64_t since_step_ = 0;
  int ramp_steps_ = 12;
  std::vector<int> affected_;        // fleet order
  std::vector<int> cascade_sources_;
  int64_t last_step_ = -1;           // last generated step
  int64_t next_step_ = 0;            // first step whose overlays have not been handed out
  size_t online_ = 0;
  std::vector<IncidentRow> rows_;
};

}  // namespace nordiq::sim
