#include "risk/alert_store.hpp"

#include <array>
#include <spdlog/spdlog.h>

namespace nordiq::risk {

namespace {

constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE alerts_open (
  server_name TEXT NOT NULL, signal TEXT NOT NULL, level TEXT NOT NULL,
  threshold REAL NOT NULL, current REAL NOT NULL,
  eta_p90 INTEGER NOT NULL, eta_p50 INTEGER NOT NULL, eta_p10 INTEGER NOT NULL,
  horizon_minutes INTEGER NOT NULL, opened_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
  PRIMARY KEY (server_name, signal)) WITHOUT ROWID;
CREATE TABLE alert_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, event TEXT NOT NULL,
  server_name TEXT NOT NULL, signal TEXT NOT NULL, metric TEXT NOT NULL,
  level TEXT NOT NULL, previous_level TEXT NOT NULL, threshold REAL NOT NULL, current REAL NOT NULL,
  eta_p90 INTEGER NOT NULL, eta_p50 INTEGER NOT NULL, eta_p10 INTEGER NOT NULL,
  message TEXT NOT NULL, opened_at INTEGER NOT NULL);
CREATE INDEX alert_events_at ON alert_events(at);
CREATE INDEX alert_events_server ON alert_events(server_name, at);
CREATE TABLE fleet_snapshots (
  step INTEGER PRIMARY KEY, at INTEGER NOT NULL, total INTEGER NOT NULL,
  critical INTEGER NOT NULL, warning INTEGER NOT NULL, degraded INTEGER NOT NULL,
  healthy INTEGER NOT NULL, mean_risk REAL NOT NULL, fleet_health REAL NOT NULL,
  prob_30m REAL NOT NULL, prob_8h REAL NOT NULL, open_alerts INTEGER NOT NULL);
CREATE TABLE server_risk (
  server_name TEXT NOT NULL, step INTEGER NOT NULL, risk REAL NOT NULL, level TEXT NOT NULL,
  driver TEXT NOT NULL, model TEXT NOT NULL, PRIMARY KEY (server_name, step)) WITHOUT ROWID;
CREATE INDEX server_risk_step ON server_risk(step);
)sql";

// Why an open alert is open (issue #11: probability, window, likely/possible, climb), so that an
// alert restored after a restart still says why until its server's next cycle.
constexpr const char* kSchemaV2 = R"sql(
ALTER TABLE alerts_open ADD COLUMN probability REAL NOT NULL DEFAULT 0;
ALTER TABLE alerts_open ADD COLUMN window_minutes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE alerts_open ADD COLUMN likely INTEGER NOT NULL DEFAULT 0;
ALTER TABLE alerts_open ADD COLUMN climb INTEGER NOT NULL DEFAULT 0;
)sql";

constexpr std::array<Migration, 2> kMigrations = {{{1, kSchemaV1}, {2, kSchemaV2}}};

Database& migrated(Database& db) {
  auto lock = db.lock();
  db.migrate(AlertStore::kComponent, kMigrations);
  return db;
}

FleetSnapshotRow read_snapshot(const Statement& q) {
  FleetSnapshotRow r;
  r.step = q.column_int(0);
  r.at = q.column_int(1);
  r.summary.total_servers = static_cast<int>(q.column_int(2));
  r.summary.per_level[static_cast<int>(Level::critical)] = static_cast<int>(q.column_int(3));
  r.summary.per_level[static_cast<int>(Level::warning)] = static_cast<int>(q.column_int(4));
  r.summary.per_level[static_cast<int>(Level::degraded)] = static_cast<int>(q.column_int(5));
  r.summary.per_level[static_cast<int>(Level::healthy)] = static_cast<int>(q.column_int(6));
  r.summary.mean_risk = q.column_double(7);
  r.summary.fleet_health = q.column_double(8);
  r.summary.prob_30m = q.column_double(9);
  r.summary.prob_8h = q.column_double(10);
  r.open_alerts = static_cast<int>(q.column_int(11));
  return r;
}

constexpr const char* kSnapshotColumns =
    "step, at, total, critical, warning, degraded, healthy, mean_risk, fleet_health, prob_30m, "
    "prob_8h, open_alerts";

}  // namespace

struct AlertStore::Statements {
  explicit Statements(Database& db)
      : insert_event(db,
                     "INSERT INTO alert_events(at, event, server_name, signal, metric, level, "
                     "previous_level, threshold, current, eta_p90, eta_p50, eta_p10, message, "
                     "opened_at) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)"),
        upsert_open(db,
                    "INSERT INTO alerts_open(server_name, signal, level, threshold, current, "
                    "eta_p90, eta_p50, eta_p10, horizon_minutes, opened_at, updated_at, "
                    "probability, window_minutes, likely, climb) "
                    "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(server_name, signal) DO UPDATE SET "
                    "level = excluded.level, threshold = excluded.threshold, current = "
                    "excluded.current, eta_p90 = excluded.eta_p90, eta_p50 = excluded.eta_p50, "
                    "eta_p10 = excluded.eta_p10, horizon_minutes = excluded.horizon_minutes, "
                    "updated_at = excluded.updated_at, probability = excluded.probability, "
                    "window_minutes = excluded.window_minutes, likely = excluded.likely, climb = excluded.climb"),
        delete_open(db, "DELETE FROM alerts_open WHERE server_name = ? AND signal = ?"),
        select_open(db,
                    "SELECT server_name, signal, level, threshold, current, eta_p90, eta_p50, "
                    "eta_p10, horizon_minutes, opened_at, updated_at, probability, window_minutes, "
                    "likely, climb FROM alerts_open"),
        upsert_snapshot(db,
                        "INSERT OR REPLACE INTO fleet_snapshots(step, at, total, critical, "
                        "warning, degraded, healthy, mean_risk, fleet_health, prob_30m, prob_8h, "
                        "open_alerts) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)"),
        upsert_risk(db,
                    "INSERT OR REPLACE INTO server_risk(server_name, step, risk, level, driver, "
                    "model) VALUES(?,?,?,?,?,?)"),
        select_events(db,
                      "SELECT id, at, event, server_name, signal, metric, level, previous_level, "
                      "threshold, current, eta_p90, eta_p50, eta_p10, message, opened_at FROM "
                      "alert_events WHERE at >= ? AND at < ? AND (? = '' OR server_name = ?) "
                      "ORDER BY at DESC, id DESC LIMIT ?"),
        select_snapshots(db, std::string("SELECT ") + kSnapshotColumns +
                                 " FROM fleet_snapshots WHERE step >= ? AND step < ? ORDER BY "
                                 "step LIMIT ?"),
        latest_snapshot(db, std::string("SELECT ") + kSnapshotColumns +
                                " FROM fleet_snapshots ORDER BY step DESC LIMIT 1"),
        select_risk(db,
                    "SELECT step, risk, level, driver, model FROM server_risk WHERE server_name "
                    "= ? AND step >= ? AND step < ? ORDER BY step LIMIT ?") {}
  Statement insert_event, upsert_open, delete_open, select_open, upsert_snapshot, upsert_risk,
      select_events, select_snapshots, latest_snapshot, select_risk;
};

AlertStore::AlertStore(Database& db) : db_(migrated(db)) {
  auto lock = db_.lock();
  st_ = std::make_unique<Statements>(db_);
}

AlertStore::~AlertStore() {
  auto lock = db_.lock();
  st_.reset();
}

std::vector<TrackedAlert> AlertStore::load_open() {
  auto lock = db_.lock();
  std::vector<TrackedAlert> out;
  Statement& q = st_->select_open;
  q.reset();
  while (q.step()) {
    const auto signal = signal_from_name(q.column_text(1));
    const auto level = level_from_name(q.column_text(2));
    if (!signal || !level) {
      spdlog::warn("alerts: ignoring stored open alert with unknown signal/level '{}'/'{}'",
                   q.column_text(1), q.column_text(2));
      continue;
    }
    TrackedAlert t;
    t.server_name = std::string(q.column_text(0));
    t.alert.signal = *signal;
    t.alert.level = *level;
    t.alert.threshold = static_cast<float>(q.column_double(3));
    t.alert.current = static_cast<float>(q.column_double(4));
    t.alert.eta_p90 = static_cast<int>(q.column_int(5));
    t.alert.eta_p50 = static_cast<int>(q.column_int(6));
    t.alert.eta_p10 = static_cast<int>(q.column_int(7));
    t.alert.horizon_minutes = static_cast<int>(q.column_int(8));
    t.opened_at = q.column_int(9);
    t.updated_at = q.column_int(10);
    t.alert.probability = static_cast<float>(q.column_double(11));
    t.alert.window_minutes = static_cast<int>(q.column_int(12));
    t.alert.likely = q.column_int(13) != 0;
    t.alert.climb = q.column_int(14) != 0;
    out.push_back(std::move(t));
  }
  q.reset();
  return out;
}

void AlertStore::record_cycle(std::span<const AlertEvent> events, const FleetSnapshotRow* snapshot,
                              std::span<const ServerRiskRow> risks) {
  auto lock = db_.lock();
  // Each event (with its open-alert row) and each risk row is a consistent part on its own, so a
  // collector's post waiting for the database goes in between them (after a row and a commit)
  // instead of after the whole record (3–10 ms for 500 servers with ~160 events).
  Transaction tx(db_);
  for (const AlertEvent& e : events) {
    tx.let_urgent_in(lock);
    const TrackedAlert& t = e.state;
    const Alert& a = t.alert;
    Statement& ins = st_->insert_event;
    ins.bind(1, int64_t{e.at})
        .bind(2, event_name(e.kind))
        .bind(3, t.server_name)
        .bind(4, signal_name(a.signal))
        .bind(5, signal_metric(a.signal))
        .bind(6, level_name(a.level))
        .bind(7, level_name(e.previous_level))
        .bind(8, double{a.threshold})
        .bind(9, double{a.current})
        .bind(10, int64_t{a.eta_p90})
        .bind(11, int64_t{a.eta_p50})
        .bind(12, int64_t{a.eta_p10})
        .bind(13, alert_message(a))
        .bind(14, int64_t{t.opened_at});
    ins.run();
    if (e.kind == AlertEventKind::resolved) {
      st_->delete_open.bind(1, t.server_name).bind(2, signal_name(a.signal));
      st_->delete_open.run();
    } else {
      Statement& up = st_->upsert_open;
      up.bind(1, t.server_name)
          .bind(2, signal_name(a.signal))
          .bind(3, level_name(a.level))
          .bind(4, double{a.threshold})
          .bind(5, double{a.current})
          .bind(6, int64_t{a.eta_p90})
          .bind(7, int64_t{a.eta_p50})
          .bind(8, int64_t{a.eta_p10})
          .bind(9, int64_t{a.horizon_minutes})
          .bind(10, int64_t{t.opened_at})
          .bind(11, int64_t{t.updated_at})
          .bind(12, double{a.probability})
          .bind(13, int64_t{a.window_minutes})
          .bind(14, int64_t{a.likely})
          .bind(15, int64_t{a.climb});
      up.run();
    }
  }
  if (snapshot != nullptr) {
    const FleetSummary& s = snapshot->summary;
    Statement& q = st_->upsert_snapshot;
    q.bind(1, int64_t{snapshot->step})
        .bind(2, int64_t{snapshot->at})
        .bind(3, int64_t{s.total_servers})
        .bind(4, int64_t{s.per_level[static_cast<int>(Level::critical)]})
        .bind(5, int64_t{s.per_level[static_cast<int>(Level::warning)]})
        .bind(6, int64_t{s.per_level[static_cast<int>(Level::degraded)]})
        .bind(7, int64_t{s.per_level[static_cast<int>(Level::healthy)]})
        .bind(8, s.mean_risk)
        .bind(9, s.fleet_health)
        .bind(10, s.prob_30m)
        .bind(11, s.prob_8h)
        .bind(12, int64_t{snapshot->open_alerts});
    q.run();
  }
  for (const ServerRiskRow& r : risks) {
    tx.let_urgent_in(lock);
    Statement& q = st_->upsert_risk;
    q.bind(1, r.server_name)
        .bind(2, int64_t{r.step})
        .bind(3, double{r.risk})
        .bind(4, level_name(r.level))
        .bind(5, signal_name(r.driver))
        .bind(6, forecast::model_kind_name(r.model));
    q.run();
  }
  tx.commit();
}

std::vector<AlertEventRow> AlertStore::events(EpochMs from, EpochMs to, std::string_view server,
                                              int limit) {
  auto lock = db_.lock();
  std::vector<AlertEventRow> out;
  Statement& q = st_->select_events;
  q.reset();
  // An empty string_view may have a null data(), which SQLite would bind as NULL: bind "".
  const std::string_view who = server.empty() ? std::string_view("") : server;
  q.bind(1, int64_t{from}).bind(2, int64_t{to}).bind(3, who).bind(4, who).bind(5, int64_t{limit});
  while (q.step()) {
    AlertEventRow r;
    r.id = q.column_int(0);
    r.at = q.column_int(1);
    r.event = q.column_text(2);
    r.server_name = q.column_text(3);
    r.signal = q.column_text(4);
    r.metric = q.column_text(5);
    r.level = q.column_text(6);
    r.previous_level = q.column_text(7);
    r.threshold = q.column_double(8);
    r.current = q.column_double(9);
    r.eta_p90 = static_cast<int>(q.column_int(10));
    r.eta_p50 = static_cast<int>(q.column_int(11));
    r.eta_p10 = static_cast<int>(q.column_int(12));
    r.message = q.column_text(13);
    r.opened_at = q.column_int(14);
    out.push_back(std::move(r));
  }
  q.reset();
  return out;
}

std::vector<FleetSnapshotRow> AlertStore::snapshots(EpochMs from, EpochMs to, int limit) {
  auto lock = db_.lock();
  std::vector<FleetSnapshotRow> out;
  Statement& q = st_->select_snapshots;
  q.reset();
  q.bind(1, int64_t{from}).bind(2, int64_t{to}).bind(3, int64_t{limit});
  while (q.step()) out.push_back(read_snapshot(q));
  q.reset();
  return out;
}

std::optional<FleetSnapshotRow> AlertStore::latest_snapshot() {
  auto lock = db_.lock();
  Statement& q = st_->latest_snapshot;
  q.reset();
  std::optional<FleetSnapshotRow> out;
  if (q.step()) out = read_snapshot(q);
  q.reset();
  return out;
}

std::vector<ServerRiskHistoryRow> AlertStore::server_risk(std::string_view server, EpochMs from,
                                                          EpochMs to, int limit) {
  auto lock = db_.lock();
  std::vector<ServerRiskHistoryRow> out;
  Statement& q = st_->select_risk;
  q.reset();
  q.bind(1, server).bind(2, int64_t{from}).bind(3, int64_t{to}).bind(4, int64_t{limit});
  while (q.step()) {
    ServerRiskHistoryRow r;
    r.step = q.column_int(0);
    r.risk = static_cast<float>(q.column_double(1));
    r.level = q.column_text(2);
    r.driver = q.column_text(3);
    r.model = q.column_text(4);
    out.push_back(std::move(r));
  }
  q.reset();
  return out;
}

void AlertStore::prune(EpochMs cutoff) {
  auto lock = db_.lock();
  Transaction tx(db_);
  for (const char* sql : {"DELETE FROM alert_events WHERE at < ?", "DELETE FROM fleet_snapshots WHERE step < ?",
                          "DELETE FROM server_risk WHERE step < ?"}) {
    Statement q(db_, sql);
    q.bind(1, int64_t{cutoff});
    q.run();
  }
  tx.commit();
}

}  // namespace nordiq::risk
