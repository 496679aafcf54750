// load_history: a CSV file, or a daemon data dir — its SQLite store's step history (the view
// `step_history` of store/history_tables.cpp: one row per server and step, metric means and the
// worst status). The database is opened read-only, so a running daemon can keep writing (WAL)
// and an evaluation never migrates or prunes anything.
#include <sqlite3.h>

#include <filesystem>
#include <memory>

#include <fmt/format.h>

#include "store/fleet_store.hpp"
#include "train/history.hpp"

namespace nordiq::train {
namespace {

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StmtFinalizer {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};

History read_history_store(const std::filesystem::path& dir, const HistoryOptions& options) {
  const std::filesystem::path file = dir / FleetStore::kDatabaseFile;
  const std::string name = file.string();
  if (!std::filesystem::exists(file))
    throw HistoryError(fmt::format("{}: not a NordIQ data dir (no {} in it)", dir.string(),
                                   FleetStore::kDatabaseFile));
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(name.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr);
  std::unique_ptr<sqlite3, DbCloser> db(raw);
  if (rc != SQLITE_OK)
    throw HistoryError(fmt::format("{}: cannot open: {}", name,
                                   raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
  sqlite3_busy_timeout(raw, 5000);

  auto prepare = [&](const std::string& sql) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(raw, sql.c_str(), -1, &s, nullptr) != SQLITE_OK) {
      sqlite3_finalize(s);
      throw HistoryError(fmt::format(
          "{}: not a NordIQ store with step history (or corrupt): {}", name, sqlite3_errmsg(raw)));
    }
    return std::unique_ptr<sqlite3_stmt, StmtFinalizer>(s);
  };

  // One read snapshot for both queries below, while a daemon may keep writing (WAL).
  if (sqlite3_exec(raw, "BEGIN", nullptr, nullptr, nullptr) != SQLITE_OK)
    throw HistoryError(fmt::format("{}: cannot read: {}", name, sqlite3_errmsg(raw)));
  HistoryBuilder builder(options);
  // The servers with steps in range, interned in id order first: the History lists servers as
  // a per-server read would, while the steps come in the key's order, (step_start, server_id),
  // which reads the table sequentially instead of sorting it (there is no per-server index).
  auto servers = prepare(fmt::format(
      "SELECT name, profile FROM servers WHERE id IN (SELECT DISTINCT server_id FROM steps WHERE step_start >= {}) "
      "ORDER BY id",
      options.since));
  while (sqlite3_step(servers.get()) == SQLITE_ROW) {
    const auto* server_name = reinterpret_cast<const char*>(sqlite3_column_text(servers.get(), 0));
    const auto* profile_name = reinterpret_cast<const char*>(sqlite3_column_text(servers.get(), 1));
    if (const auto profile = profile_from_id(profile_name ? profile_name : ""))
      builder.intern(server_name ? server_name : "", *profile);  // an unknown profile fails below, naming the row
  }
  std::string metrics;
  for (const auto& m : kMetrics) metrics += fmt::format(", {}", m.name);
  auto q = prepare(fmt::format(
      "SELECT server_name, profile, step_start, status{} FROM step_history WHERE step_start >= {} "
      "ORDER BY step_start, server_id",
      metrics, options.since));

  int64_t row = 0;
  int step_rc;
  while ((step_rc = sqlite3_step(q.get())) == SQLITE_ROW) {
    ++row;
    auto text = [&](int col) {
      const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(q.get(), col));
      return std::string_view(p ? p : "", p ? static_cast<size_t>(sqlite3_column_bytes(q.get(), col)) : 0);
    };
    auto fail = [&](std::string_view column, std::string_view reason) {
      throw HistoryError(fmt::format("{}: step_history row {} ({} at step {}): {}: {}", name, row,
                                     text(0), sqlite3_column_int64(q.get(), 2), column, reason));
    };
    const std::string_view server = text(0);
    const auto profile = profile_from_id(text(1));
    if (!profile) fail("profile", fmt::format("unknown profile '{}'", text(1)));
    const auto status = status_from_name(text(3));
    if (!status) fail("status", fmt::format("unknown status '{}'", text(3)));
    float values[kNumMetrics];
    for (int k = 0; k < kNumMetrics; ++k) {
      if (sqlite3_column_type(q.get(), 4 + k) == SQLITE_NULL) fail(kMetrics[k].name, "NULL");
      const double v = sqlite3_column_double(q.get(), 4 + k);
      if (!(v >= kMetrics[k].min && v <= kMetrics[k].max))
        fail(kMetrics[k].name, fmt::format("must be between {} and {}, got {}", kMetrics[k].min,
                                           kMetrics[k].max, v));
      values[k] = static_cast<float>(v);
    }
    builder.add(builder.intern(server, *profile), sqlite3_column_int64(q.get(), 2), values,
                *status);
  }
  if (step_rc != SQLITE_DONE)
    throw HistoryError(fmt::format("{}: reading step_history: {}", name, sqlite3_errmsg(raw)));
  return builder.finish();
}

}  // namespace

EpochMs store_last_step(const std::filesystem::path& dir) {
  const std::string name = (dir / FleetStore::kDatabaseFile).string();
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(name.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr);
  std::unique_ptr<sqlite3, DbCloser> db(raw);
  if (rc != SQLITE_OK)
    throw HistoryError(fmt::format("{}: cannot open: {}", name, raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
  sqlite3_busy_timeout(raw, 5000);
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(raw, "SELECT max(step_start) FROM steps", -1, &s, nullptr) != SQLITE_OK) {
    sqlite3_finalize(s);
    throw HistoryError(fmt::format("{}: not a NordIQ store with step history: {}", name, sqlite3_errmsg(raw)));
  }
  std::unique_ptr<sqlite3_stmt, StmtFinalizer> q(s);
  return sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
}

History load_history(const std::string& path, const HistoryOptions& options) {
  std::error_code ec;
  const auto st = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(st))
    throw HistoryError(fmt::format("{}: no such file or directory", path));
  if (std::filesystem::is_directory(st)) return read_history_store(path, options);
  return read_history_csv_file(path, options);
}

}  // namespace nordiq::train
