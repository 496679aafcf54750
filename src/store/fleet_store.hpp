// The durable store behind `POST /feed/data`: the SQLite file in the data dir (raw records,
// step-aggregated history, servers) plus the in-memory WindowStore, kept in step.
//
// ingest(): interns new servers, then in ONE transaction inserts every valid record
// (INSERT OR IGNORE on (server, timestamp) → duplicates are counted, never stored twice) and
// upserts its step aggregate; commits; only then applies the new records to the windows and
// notifies subscribers of the servers whose step closed. When ingest() returns, the accepted
// records are committed (WAL): they survive a kill -9 of the process.
//
// open(): creates/migrates the schema and rebuilds every server's window and open step bucket
// from the step history, so a restart loses no accepted record.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/window.hpp"
#include "ingest/feed_batch.hpp"
#include "store/database.hpp"
#include "store/window_store.hpp"

namespace nordiq {

struct StoreOptions {
  std::filesystem::path data_dir = "data";
  WindowConfig window;
  int retention_days = 30;          // raw records and step history older than this are pruned
  size_t max_servers = 100'000;     // records of further new servers are rejected
  Durability durability = Durability::normal;
  bool integrity_check = true;      // PRAGMA quick_check when opening (off for huge stores)
};

struct IngestOutcome {
  size_t accepted = 0;    // newly stored records
  size_t duplicates = 0;  // (server, timestamp) already stored
};

// Called after a commit with the ids of servers whose window gained a closed step (each once),
// on the ingesting thread, after the window lock is released but while ingest is still
// serialised (the next ingest waits for it): keep it short (enqueue and return). Readers may
// take windows().read() inside it.
using StepsClosedCallback = std::function<void(std::span<const ServerId>)>;

class HistoryTables;

// SQLite's page cache for a fleet of `servers`: what an ingest touches again and again, with
// headroom. That was the open step's row of every server in `steps` (since schema version 3 only
// the right edge of `steps` when a step closes, and the step before, for late records), every
// server's row in `servers` (its last step moves once a step), the right edge of
// `records`, and the B-trees' interior pages. Colder pages (the restore's scan, pruning, training's
// reads) are in the kernel's page cache of the file anyway. A larger cache holds no page an ingest
// reads again; it only fills, one new page after another (64 MiB did, at ~3.5 MB per 1,000 steps
// of 20 servers). Measured at this size with 500 / 2,000 / 10,000 servers, each posting 60 / 12 /
// 3 times a step: 0.1 / 1.9 / 0 page misses per post, out of 3,050 / 16,300 / 82,900 lookups.
int64_t page_cache_bytes(size_t servers);

class FleetStore {
 public:
  static constexpr const char* kDatabaseFile = "nordiq.db";

  // Opens <data_dir>/nordiq.db (creating the dir), migrates, restores windows. Throws StoreError.
  static std::unique_ptr<FleetStore> open(const StoreOptions& options);
  ~FleetStore();

  // Stores the batch's valid records. Records that cannot be taken (server limit) get an error
  // added to batch.errors (and batch.rejected grows). Serialised: one ingest at a time.
  IngestOutcome ingest(FeedBatch& batch);

  // Subscribe before serving starts (not thread-safe against concurrent ingest).
  void on_steps_closed(StepsClosedCallback callback);

  WindowStore& windows() { return windows_; }
  const WindowStore& windows() const { return windows_; }
  Database& database() { return *db_; }
  const StoreOptions& options() const { return options_; }
  uint64_t records_stored() const { return records_stored_.load(std::memory_order_relaxed); }

  // Step history of one server in [from, to) (step starts), oldest first: the closed steps' rows
  // and, when in range, the open step as it stands.
  std::vector<StepAggregate> history(ServerId id, EpochMs from, EpochMs to);

  // Clean shutdown: writes every open step's row as it stands (so `steps` is complete for
  // training from the data dir) and checkpoints the WAL.
  void flush();

 private:
  explicit FleetStore(const StoreOptions& options);
  void check_integrity();  // throws StoreError naming what PRAGMA quick_check found
  void restore();
  void restore_windows(int64_t span);  // every server's last `span` of steps, from last_step_
  void restore_open_steps();           // open_ from the records of every server's last_step
  // An ingest's phases, in order (ingest() holds ingest_mutex_; store_batch the database's lock too).
  struct NewServers {  // servers first seen in this batch, with the ids they get once committed
    struct Entry {
      std::string_view name;
      Profile profile;
      bool override_profile;
      ServerId id;
    };
    std::vector<Entry> list;
    std::unordered_map<std::string_view, ServerId> id_of;
  };
  void resolve_server_ids(const FeedBatch& batch, NewServers& fresh);  // → ids_scratch_
  void reject_over_server_limit(FeedBatch& batch) const;
  void store_batch(const FeedBatch& batch, const NewServers& fresh, EpochMs now, IngestOutcome& outcome);
  bool store_record(ServerId id, const FeedRecord& r);
  void apply_committed(const FeedBatch& batch, const NewServers& fresh);  // → closed_scratch_
  StepAggregate& open_for_change(ServerId id);  // open_[id], its value first kept for a rollback
  void write_open_steps();             // every open step's row, in a transaction (under the database's lock)
  void prune_if_due(EpochMs now);
  void size_page_cache(size_t servers);  // under the database's lock

  StoreOptions options_;
  std::unique_ptr<Database> db_;
  std::unique_ptr<HistoryTables> tables_;
  WindowStore windows_;
  std::mutex ingest_mutex_;
  std::vector<StepsClosedCallback> subscribers_;
  std::atomic<uint64_t> records_stored_{0};
  // Scratch reused across ingests (no per-request allocation once warm).
  std::vector<ServerId> ids_scratch_;
  std::vector<uint8_t> fresh_scratch_;
  std::vector<WindowStore::Sample> samples_scratch_;
  std::vector<ServerId> closed_scratch_;
  // Per ServerId: its newest stored step (the servers table's last_step), kept so an ingest
  // writes it only when a record opens a newer step. Ingest-side only (under ingest_mutex_).
  static constexpr EpochMs kNoStep = std::numeric_limits<EpochMs>::min() / 2;
  std::vector<EpochMs> last_step_;
  struct Raised {
    ServerId id;
    EpochMs before;
  };
  std::vector<Raised> raised_scratch_;  // this ingest's raises, undone if its transaction fails
  // Per ServerId: the open step (step_start = last_step_), as stored: its records are in `records`
  // and its sums here. Its row in `steps` is written once, when a newer step closes it; upserting
  // that row with every record was ~60 % of a 500-record post's SQL time. Changed only under the
  // database's lock, inside an ingest's transaction.
  std::vector<StepAggregate> open_;
  struct OpenBefore {
    ServerId id;
    StepAggregate before;
  };
  std::vector<OpenBefore> open_undo_;     // this ingest's first change of each open step
  std::vector<uint64_t> open_changed_in_;  // per ServerId: the ingest that last changed it
  uint64_t ingest_count_ = 0;
  bool open_written_pending_ = false;  // an open step changed since write_open_steps()
  bool restored_ = false;              // open_ is whole (restore() finished)
  EpochMs next_prune_ = 0;
  int64_t page_cache_bytes_ = 0;  // as last set
};

}  // namespace nordiq
