#include "store/step_history_reader.hpp"

#include <fmt/format.h>
#include <sqlite3.h>

#include "store/fleet_store.hpp"

namespace nordiq {

StepHistoryReader::StepHistoryReader(const std::filesystem::path& data_dir) {
  const std::filesystem::path path = data_dir / FleetStore::kDatabaseFile;
  if (!std::filesystem::exists(path))
    throw StoreError(fmt::format("{}: not a NordIQ data dir (no {} in it)", data_dir.string(), FleetStore::kDatabaseFile));
  db_ = Database::open_read_only(path);
  // One read snapshot for every query, while a daemon may keep writing (WAL).
  db_->exec("BEGIN");
}

StepHistoryReader::~StepHistoryReader() {
  try {
    db_->exec("COMMIT");
  } catch (const StoreError&) {
    // nothing was written: closing the connection ends the snapshot all the same
  }
}

std::unique_ptr<Statement> StepHistoryReader::prepare(const std::string& sql) {
  try {
    return std::make_unique<Statement>(*db_, sql);
  } catch (const StoreError&) {
    throw StoreError(fmt::format("{}: not a NordIQ store with step history (or corrupt): {}", file(),
                                 sqlite3_errmsg(db_->handle())));
  }
}

void StepHistoryReader::servers_since(EpochMs since,
                                      const std::function<void(std::string_view, std::string_view)>& f) {
  const auto q = prepare(fmt::format(
      "SELECT name, profile FROM servers WHERE id IN (SELECT DISTINCT server_id FROM steps WHERE step_start >= {}) "
      "ORDER BY id",
      since));
  while (q->step()) f(q->column_text(0), q->column_text(1));
}

void StepHistoryReader::steps_since(EpochMs since, const std::function<void(const StepHistoryRow&)>& f) {
  std::string metrics;
  for (const auto& m : kMetrics) metrics += fmt::format(", {}", m.name);
  const auto q = prepare(fmt::format(
      "SELECT server_name, profile, step_start, status{} FROM step_history WHERE step_start >= {} "
      "ORDER BY step_start, server_id",
      metrics, since));
  StepHistoryRow row;
  while (q->step()) {
    ++row.row;
    row.server = q->column_text(0);
    row.profile = q->column_text(1);
    row.step_start = q->column_int(2);
    row.status = q->column_text(3);
    for (int k = 0; k < kNumMetrics; ++k) {
      row.null_mean[k] = q->column_is_null(4 + k);
      row.means[k] = q->column_double(4 + k);
    }
    f(row);
  }
}

EpochMs StepHistoryReader::newest_step() {
  const auto q = prepare("SELECT max(step_start) FROM steps");
  return q->step() ? q->column_int(0) : 0;
}

}  // namespace nordiq
