#include "store/step_history_reader.hpp"

#include <fmt/format.h>
#include <sqlite3.h>

#include "store/fleet_store.hpp"

namespace nordiq {

// A prepared statement of the reader, finalised when it goes.
struct StepHistoryReader::Query {
  sqlite3_stmt* stmt = nullptr;
  explicit Query(sqlite3_stmt* s) : stmt(s) {}
  Query(Query&& other) noexcept : stmt(other.stmt) { other.stmt = nullptr; }
  ~Query() { sqlite3_finalize(stmt); }
  std::string_view text(int col) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt, col));
    return std::string_view(p ? p : "", p ? static_cast<size_t>(sqlite3_column_bytes(stmt, col)) : 0);
  }
};

StepHistoryReader::StepHistoryReader(const std::filesystem::path& data_dir) {
  const std::filesystem::path path = data_dir / FleetStore::kDatabaseFile;
  file_ = path.string();
  if (!std::filesystem::exists(path))
    throw StoreError(fmt::format("{}: not a NordIQ data dir (no {} in it)", data_dir.string(), FleetStore::kDatabaseFile));
  const int rc = sqlite3_open_v2(file_.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr);
  if (rc != SQLITE_OK) {
    const std::string why = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close_v2(db_);
    throw StoreError(fmt::format("{}: cannot open: {}", file_, why));
  }
  sqlite3_busy_timeout(db_, 5000);
  // One read snapshot for every query, while a daemon may keep writing (WAL).
  if (sqlite3_exec(db_, "BEGIN", nullptr, nullptr, nullptr) != SQLITE_OK) {
    const std::string why = sqlite3_errmsg(db_);
    sqlite3_close_v2(db_);
    throw StoreError(fmt::format("{}: cannot read: {}", file_, why));
  }
}

StepHistoryReader::~StepHistoryReader() {
  sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr);
  sqlite3_close_v2(db_);
}

StepHistoryReader::Query StepHistoryReader::prepare(const std::string& sql) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr) != SQLITE_OK) {
    sqlite3_finalize(s);
    throw StoreError(
        fmt::format("{}: not a NordIQ store with step history (or corrupt): {}", file_, sqlite3_errmsg(db_)));
  }
  return Query(s);
}

void StepHistoryReader::servers_since(EpochMs since,
                                      const std::function<void(std::string_view, std::string_view)>& f) {
  Query q = prepare(fmt::format(
      "SELECT name, profile FROM servers WHERE id IN (SELECT DISTINCT server_id FROM steps WHERE step_start >= {}) "
      "ORDER BY id",
      since));
  int rc;
  while ((rc = sqlite3_step(q.stmt)) == SQLITE_ROW) f(q.text(0), q.text(1));
  if (rc != SQLITE_DONE) throw StoreError(fmt::format("{}: reading servers: {}", file_, sqlite3_errmsg(db_)));
}

void StepHistoryReader::steps_since(EpochMs since, const std::function<void(const StepHistoryRow&)>& f) {
  std::string metrics;
  for (const auto& m : kMetrics) metrics += fmt::format(", {}", m.name);
  Query q = prepare(fmt::format(
      "SELECT server_name, profile, step_start, status{} FROM step_history WHERE step_start >= {} "
      "ORDER BY step_start, server_id",
      metrics, since));
  StepHistoryRow row;
  int rc;
  while ((rc = sqlite3_step(q.stmt)) == SQLITE_ROW) {
    ++row.row;
    row.server = q.text(0);
    row.profile = q.text(1);
    row.step_start = sqlite3_column_int64(q.stmt, 2);
    row.status = q.text(3);
    for (int k = 0; k < kNumMetrics; ++k) {
      row.null_mean[k] = sqlite3_column_type(q.stmt, 4 + k) == SQLITE_NULL;
      row.means[k] = sqlite3_column_double(q.stmt, 4 + k);
    }
    f(row);
  }
  if (rc != SQLITE_DONE) throw StoreError(fmt::format("{}: reading step_history: {}", file_, sqlite3_errmsg(db_)));
}

EpochMs StepHistoryReader::newest_step() {
  Query q = prepare("SELECT max(step_start) FROM steps");
  return sqlite3_step(q.stmt) == SQLITE_ROW ? sqlite3_column_int64(q.stmt, 0) : 0;
}

}  // namespace nordiq
