// Persistence of the risk side (SQLite component "alerts", migrated through the store's
// Database): open alerts (so a restart keeps them open and emits no second "opened"), the alert
// event history, one fleet snapshot per step and one risk row per server per step — the
// sources of /historical/*. One transaction per forecast cycle.
//
// Servers are stored by name (ids are per-process); the caller maps names back to ids.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/time.hpp"
#include "forecast/forecaster.hpp"
#include "risk/alert_tracker.hpp"
#include "risk/fleet_summary.hpp"
#include "store/database.hpp"

namespace nordiq::risk {

struct FleetSnapshotRow {
  EpochMs step = 0;  // start of the latest closed step the snapshot reflects
  EpochMs at = 0;    // wall-clock time it was computed
  FleetSummary summary;
  int open_alerts = 0;
};

struct AlertEventRow {
  int64_t id = 0;
  EpochMs at = 0;
  std::string event;  // opened | escalated | de_escalated | resolved
  std::string server_name;
  std::string signal;  // cpu | memory | ...
  std::string metric;  // the alert's metric (mem_used_pct, cpu_used_pct, ...)
  std::string level, previous_level;
  double threshold = 0, current = 0;
  int eta_p90 = kNoCrossing, eta_p50 = kNoCrossing, eta_p10 = kNoCrossing;
  std::string message;
  EpochMs opened_at = 0;
};

struct ServerRiskRow {
  std::string_view server_name;  // borrowed while recording
  EpochMs step = 0;
  float risk = 0;
  Level level = Level::healthy;
  Signal driver = Signal::cpu;
  forecast::ModelKind model = forecast::ModelKind::baseline;
};

struct ServerRiskHistoryRow {
  EpochMs step = 0;
  float risk = 0;
  std::string level, driver, model;
};

class AlertStore {
 public:
  static constexpr std::string_view kComponent = "alerts";
  explicit AlertStore(Database& db);  // migrates and prepares (takes the db lock)
  ~AlertStore();

  // Open alerts as stored (server ids are NOT set: map server_name to an id).
  std::vector<TrackedAlert> load_open();

  // One cycle, one transaction: appends the events and applies them to the open-alert table,
  // upserts the fleet snapshot of its step (one per step) and the per-server risk rows.
  void record_cycle(std::span<const AlertEvent> events, const FleetSnapshotRow* snapshot,
                    std::span<const ServerRiskRow> risks);

  // Queries for /historical/* (newest first for events, oldest first for series).
  std::vector<AlertEventRow> events(EpochMs from, EpochMs to, std::string_view server = {},
                                    int limit = 10'000);
  std::vector<FleetSnapshotRow> snapshots(EpochMs from, EpochMs to, int limit = 100'000);
  std::vector<ServerRiskHistoryRow> server_risk(std::string_view server, EpochMs from, EpochMs to,
                                                int limit = 100'000);
  std::optional<FleetSnapshotRow> latest_snapshot();

  // Deletes history older than `cutoff` (events of resolved alerts, snapshots, risk rows).
  void prune(EpochMs cutoff);

 private:
  struct Statements;
  Database& db_;
  std::unique_ptr<Statements> st_;
};

}  // namespace nordiq::risk
