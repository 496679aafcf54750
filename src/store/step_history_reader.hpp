// A read-only reader of a data dir's step history (the view `step_history` of
// store/history_tables.hpp: one row per server and step, metric means and the worst status), for
// training and evaluation. The file is opened read-only and read in one snapshot, so a running
// daemon keeps writing (WAL) and a reader never migrates or prunes anything. A server's open step
// has a row only once a newer step closes it, or after a clean stop (schema version 3).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/metrics.hpp"
#include "core/time.hpp"
#include "store/database.hpp"

namespace nordiq {

// One step of one server, as stored; its views are valid during the callback only.
struct StepHistoryRow {
  int64_t row = 0;  // 1-based, in the scan's order (for error messages)
  std::string_view server, profile, status;
  EpochMs step_start = 0;
  double means[kNumMetrics] = {};
  bool null_mean[kNumMetrics] = {};  // a NULL where a mean should be (a damaged file)
};

class StepHistoryReader {
 public:
  // Throws StoreError: no database in the dir, unreadable, or not a store with step history.
  explicit StepHistoryReader(const std::filesystem::path& data_dir);
  ~StepHistoryReader();  // ends the read snapshot
  StepHistoryReader(const StepHistoryReader&) = delete;
  StepHistoryReader& operator=(const StepHistoryReader&) = delete;

  std::string file() const { return db_->path().string(); }

  // The servers with a step at or after `since`, in id order (the order they joined).
  void servers_since(EpochMs since, const std::function<void(std::string_view name, std::string_view profile)>& f);
  // Every step at or after `since`, in the key's order (step, then server id): a sequential read.
  void steps_since(EpochMs since, const std::function<void(const StepHistoryRow&)>& f);
  // The newest step with a row (0 when there is none).
  EpochMs newest_step();

 private:
  // A statement of the store's schema; one the file cannot prepare is not a store with steps.
  std::unique_ptr<Statement> prepare(const std::string& sql);
  std::unique_ptr<Database> db_;
};

}  // namespace nordiq
