#include "store/history_tables.hpp"

#include <fmt/format.h>

#include <array>
#include <string>

namespace nordiq {

namespace {

// Column lists derived from kMetrics, so the schema follows the contract's metric order.
std::string metric_columns(std::string_view prefix, std::string_view suffix) {
  std::string out;
  for (const auto& m : kMetrics) out += fmt::format(", {}{}{}", prefix, m.name, suffix);
  return out;
}

std::string placeholders(int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += ", ?";
  return out;
}

// Status name from the stored severity rank (critical_issue = 7 ... idle = 0).
std::string severity_case() {
  std::string out = "CASE worst_severity";
  for (int s = 0; s < kNumStatuses; ++s)
    out += fmt::format(" WHEN {} THEN '{}'", status_severity(static_cast<Status>(s)),
                       kStatusNames[s]);
  return out + " END";
}

const std::string& schema_v1() {
  static const std::string sql = [] {
    std::string means;
    for (const auto& m : kMetrics) means += fmt::format(", s.sum_{0} / s.count AS {0}", m.name);
    return fmt::format(
        "CREATE TABLE servers (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
        " profile TEXT NOT NULL, profile_override INTEGER NOT NULL, first_seen INTEGER NOT NULL);"
        "CREATE TABLE records (server_id INTEGER NOT NULL, ts INTEGER NOT NULL,"
        " status TEXT NOT NULL{0}, PRIMARY KEY (ts, server_id)) WITHOUT ROWID;"
        "CREATE TABLE steps (server_id INTEGER NOT NULL, step_start INTEGER NOT NULL,"
        " count INTEGER NOT NULL, worst_severity INTEGER NOT NULL{1},"
        " PRIMARY KEY (step_start, server_id)) WITHOUT ROWID;"
        "CREATE INDEX steps_by_server ON steps (server_id, step_start);"
        "CREATE VIEW step_history AS SELECT s.server_id, v.name AS server_name, v.profile,"
        " s.step_start, s.count, ({2}) AS status{3}"
        " FROM steps s JOIN servers v ON v.id = s.server_id;",
        metric_columns("", " REAL NOT NULL"), metric_columns("sum_", " REAL NOT NULL"),
        severity_case(), means);
  }();
  return sql;
}

const std::string& insert_record_sql() {
  static const std::string sql =
      fmt::format("INSERT OR IGNORE INTO records (server_id, ts, status{}) VALUES (?, ?, ?{})",
                  metric_columns("", ""), placeholders(kNumMetrics));
  return sql;
}

const std::string& add_to_step_sql() {
  static const std::string sql = [] {
    std::string updates;
    for (const auto& m : kMetrics) updates += fmt::format(", sum_{0} = sum_{0} + excluded.sum_{0}", m.name);
    return fmt::format(
        "INSERT INTO steps (server_id, step_start, count, worst_severity{}) VALUES (?, ?, 1, ?{})"
        " ON CONFLICT (step_start, server_id) DO UPDATE SET count = count + 1,"
        " worst_severity = max(worst_severity, excluded.worst_severity){}",
        metric_columns("sum_", ""), placeholders(kNumMetrics), updates);
  }();
  return sql;
}

// Version 2: no per-server index on steps. Its entries made every post that opens a step insert
// one entry per server, each into another B-tree leaf (500 servers: ~500 pages, 2 MB of WAL per
// such commit), which set the feed's p99. Each server's newest step is kept in `servers` instead:
// restore reads it and scans the steps by time.
constexpr const char* kSchemaV2 =
    "ALTER TABLE servers ADD COLUMN last_step INTEGER;"
    "UPDATE servers SET last_step = (SELECT max(step_start) FROM steps WHERE steps.server_id = servers.id);"
    "DROP INDEX steps_by_server;";

// Version 3: the open step's row is no longer upserted with every record (the upserts were ~60 %
// of a post's SQL time). Nothing in the file changes; the version says that a server's last_step
// may have no row, or a partial one from a clean stop, which an older binary would restore as the
// whole open step. So an older binary refuses this store instead of losing that step's records.
constexpr const char* kSchemaV3 = "-- the open step lives in records (see HistoryTables)";

const std::string& put_step_sql() {
  static const std::string sql =
      fmt::format("INSERT OR REPLACE INTO steps (server_id, step_start, count, worst_severity{}) VALUES (?, ?, ?, ?{})",
                  metric_columns("sum_", ""), placeholders(kNumMetrics));
  return sql;
}

const std::string& scan_records_sql() {
  static const std::string sql = fmt::format(
      "SELECT server_id, ts, status{} FROM records WHERE ts >= ? AND ts <= ? ORDER BY ts, server_id",
      metric_columns("", ""));
  return sql;
}

// One server's steps: a range of the time-led key, filtered (no per-server index since version 2).
const std::string& select_steps_sql() {
  static const std::string sql = fmt::format(
      "SELECT step_start, count, worst_severity{} FROM steps WHERE step_start >= ? AND step_start < ?"
      " AND server_id = ? ORDER BY step_start",
      metric_columns("sum_", ""));
  return sql;
}

// Every server's steps in [from, to], in key order (by time, then server).
const std::string& scan_steps_sql() {
  static const std::string sql = fmt::format(
      "SELECT server_id, step_start, count, worst_severity{} FROM steps WHERE step_start >= ? AND step_start <= ?"
      " ORDER BY step_start, server_id",
      metric_columns("sum_", ""));
  return sql;
}

Status status_from_severity(int64_t severity) {
  for (int s = 0; s < kNumStatuses; ++s)
    if (status_severity(static_cast<Status>(s)) == severity) return static_cast<Status>(s);
  return Status::healthy;
}

Database& migrated(Database& db) {
  static const std::array<Migration, 3> migrations = {{{1, schema_v1().c_str()}, {2, kSchemaV2}, {3, kSchemaV3}}};
  db.migrate(HistoryTables::kComponent, migrations);
  return db;
}

}  // namespace

HistoryTables::HistoryTables(Database& db)
    : db_(migrated(db)),
      insert_server_(db, "INSERT INTO servers (id, name, profile, profile_override, first_seen)"
                         " VALUES (?, ?, ?, ?, ?)"),
      insert_record_(db, insert_record_sql()),
      add_to_step_(db, add_to_step_sql()),
      put_step_(db, put_step_sql()),
      select_servers_(db, "SELECT id, name, profile, last_step FROM servers ORDER BY id"),
      set_last_step_(db, "UPDATE servers SET last_step = ?2 WHERE id = ?1 AND (last_step IS NULL OR last_step < ?2)"),
      select_steps_(db, select_steps_sql()),
      scan_steps_(db, scan_steps_sql()),
      scan_records_(db, scan_records_sql()),
      count_records_(db, "SELECT count(*) FROM records"),
      prune_records_(db, "DELETE FROM records WHERE ts < ?"),
      prune_steps_(db, "DELETE FROM steps WHERE step_start < ?") {}

void HistoryTables::insert_server(ServerId id, std::string_view name, Profile profile,
                                  bool override_profile, EpochMs now) {
  insert_server_.bind(1, int64_t{id}).bind(2, name).bind(3, profile_id(profile));
  insert_server_.bind(4, int64_t{override_profile ? 1 : 0}).bind(5, int64_t{now});
  insert_server_.run();
}

bool HistoryTables::insert_record(ServerId id, EpochMs ts, Status status, const double* values) {
  // Runs for every record of a post: the status name is bound in place, not copied by SQLite.
  insert_record_.bind(1, int64_t{id}).bind(2, int64_t{ts}).bind_static(3, status_name(status));
  for (int k = 0; k < kNumMetrics; ++k) insert_record_.bind(4 + k, values[k]);
  insert_record_.run();
  return db_.changes() == 1;
}

void HistoryTables::add_to_step(ServerId id, EpochMs step_start, Status status, const double* values) {
  add_to_step_.bind(1, int64_t{id}).bind(2, int64_t{step_start});
  add_to_step_.bind(3, int64_t{status_severity(status)});
  for (int k = 0; k < kNumMetrics; ++k) add_to_step_.bind(4 + k, values[k]);
  add_to_step_.run();
}

void HistoryTables::put_step(ServerId id, const StepAggregate& step) {
  put_step_.bind(1, int64_t{id}).bind(2, int64_t{step.step_start}).bind(3, int64_t{step.count});
  put_step_.bind(4, int64_t{status_severity(step.worst)});
  for (int k = 0; k < kNumMetrics; ++k) put_step_.bind(5 + k, step.sums[k]);
  put_step_.run();
}

std::vector<HistoryTables::ServerRow> HistoryTables::servers() {
  std::vector<ServerRow> rows;
  while (select_servers_.step()) {
    const auto profile = profile_from_id(select_servers_.column_text(2));
    ServerRow row{static_cast<ServerId>(select_servers_.column_int(0)), std::string(select_servers_.column_text(1)),
                  profile.value_or(Profile::generic), std::nullopt};
    if (!select_servers_.column_is_null(3)) row.last_step = select_servers_.column_int(3);
    rows.push_back(std::move(row));
  }
  select_servers_.reset();
  return rows;
}

void HistoryTables::set_last_step(ServerId id, EpochMs step_start) {
  set_last_step_.bind(1, int64_t{id}).bind(2, int64_t{step_start});
  set_last_step_.run();
}

namespace {
// The step columns from `first` on: step_start, count, worst_severity, the sums.
StepAggregate step_at(Statement& row, int first) {
  StepAggregate a;
  a.step_start = row.column_int(first);
  a.count = static_cast<uint32_t>(row.column_int(first + 1));
  a.worst = status_from_severity(row.column_int(first + 2));
  for (int k = 0; k < kNumMetrics; ++k) a.sums[k] = row.column_double(first + 3 + k);
  return a;
}
}  // namespace

void HistoryTables::steps(ServerId id, EpochMs from, EpochMs to, std::vector<StepAggregate>& out) {
  select_steps_.bind(1, int64_t{from}).bind(2, int64_t{to}).bind(3, int64_t{id});
  while (select_steps_.step()) out.push_back(step_at(select_steps_, 0));
  select_steps_.reset();
}

void HistoryTables::scan_steps(EpochMs from, EpochMs to, const std::function<void(ServerId, const StepAggregate&)>& f) {
  scan_steps_.bind(1, int64_t{from}).bind(2, int64_t{to});
  try {
    while (scan_steps_.step()) f(static_cast<ServerId>(scan_steps_.column_int(0)), step_at(scan_steps_, 1));
  } catch (...) {
    scan_steps_.reset();
    throw;
  }
  scan_steps_.reset();
}

void HistoryTables::scan_records(EpochMs from, EpochMs to, const RecordVisitor& f) {
  scan_records_.bind(1, int64_t{from}).bind(2, int64_t{to});
  double values[kNumMetrics];
  try {
    while (scan_records_.step()) {
      for (int k = 0; k < kNumMetrics; ++k) values[k] = scan_records_.column_double(3 + k);
      const Status status = status_from_name(scan_records_.column_text(2)).value_or(Status::healthy);
      f(static_cast<ServerId>(scan_records_.column_int(0)), scan_records_.column_int(1), status, values);
    }
  } catch (...) {
    scan_records_.reset();
    throw;
  }
  scan_records_.reset();
}

uint64_t HistoryTables::count_records() {
  uint64_t n = 0;
  if (count_records_.step()) n = static_cast<uint64_t>(count_records_.column_int(0));
  count_records_.reset();
  return n;
}

uint64_t HistoryTables::prune(EpochMs cutoff) {
  prune_records_.bind(1, int64_t{cutoff});
  prune_records_.run();
  const auto deleted = static_cast<uint64_t>(db_.changes());
  prune_steps_.bind(1, int64_t{cutoff});
  prune_steps_.run();
  return deleted;
}

}  // namespace nordiq
