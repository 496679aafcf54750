#include "store/fleet_store.hpp"

#include <chrono>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <system_error>
#include <unordered_map>

#include "store/history_tables.hpp"

namespace nordiq {

namespace {
constexpr ServerId kNoServer = ~ServerId{0};
constexpr int64_t kPruneEveryMs = 3600 * 1000;  // retention is enforced hourly
constexpr int64_t kPageCacheFloor = 256 << 10;
constexpr int64_t kPageCachePerServer = 400;  // its rows in steps (two steps before v3) and servers, in pages
constexpr int64_t kPageCacheCap = 64 << 20;

struct TimeRange {
  EpochMs from, to;  // inclusive
};

// The union of `ranges`, as disjoint ranges in time order (overlapping or touching ones merged):
// fleets report together, so the servers' ranges mostly coincide and are read in a scan or two.
std::vector<TimeRange> merged(std::vector<TimeRange> ranges) {
  std::sort(ranges.begin(), ranges.end(), [](const TimeRange& a, const TimeRange& b) { return a.from < b.from; });
  std::vector<TimeRange> out;
  for (const TimeRange& r : ranges) {
    if (!out.empty() && r.from <= out.back().to + 1) {
      out.back().to = std::max(out.back().to, r.to);
    } else {
      out.push_back(r);
    }
  }
  return out;
}
}  // namespace

int64_t page_cache_bytes(size_t servers) {
  const auto counted = static_cast<int64_t>(std::min<size_t>(servers, kPageCacheCap / kPageCachePerServer));
  return std::min(kPageCacheFloor + counted * kPageCachePerServer, kPageCacheCap);
}

void FleetStore::size_page_cache(size_t servers) {
  const int64_t bytes = page_cache_bytes(servers);
  if (bytes == page_cache_bytes_) return;
  db_->set_cache_bytes(bytes);
  page_cache_bytes_ = bytes;
}

FleetStore::FleetStore(const StoreOptions& options)
    : options_(options), windows_(options.window) {}

// A store closed without flush() (a tool, a test) still leaves `steps` complete.
FleetStore::~FleetStore() {
  if (!restored_ || !open_written_pending_) return;
  auto lock = db_->lock();
  write_open_steps();
}

std::unique_ptr<FleetStore> FleetStore::open(const StoreOptions& options) {
  std::error_code ec;
  std::filesystem::create_directories(options.data_dir, ec);
  if (ec)
    throw StoreError(fmt::format("cannot create data dir {}: {}", options.data_dir.string(), ec.message()));
  std::unique_ptr<FleetStore> store(new FleetStore(options));
  store->db_ = Database::open(options.data_dir / kDatabaseFile, options.durability);
  if (options.integrity_check) store->check_integrity();
  store->tables_ = std::make_unique<HistoryTables>(*store->db_);
  store->restore();
  store->db_->start_background_checkpoints();
  return store;
}

void FleetStore::check_integrity() {
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<std::string> findings = db_->quick_check();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (findings.empty()) {
    spdlog::info("store: integrity check passed in {:.2f} s", seconds);
    return;
  }
  std::string list;
  for (const auto& f : findings) list += (list.empty() ? "" : "; ") + f;
  throw StoreError(fmt::format(
      "{}: the database is corrupt (integrity check: {}). Restore the data dir from a backup, or "
      "move it aside and start fresh; --skip-integrity-check starts anyway and serves what is readable",
      (options_.data_dir / kDatabaseFile).string(), list));
}

void FleetStore::restore() {
  auto lock = db_->lock();
  const auto servers = tables_->servers();
  const int64_t step_ms = options_.window.step_ms();
  // Enough steps that forward fill/restart decisions near the window's start come out as they
  // did live: capacity + the longest fill + the open step.
  const int64_t span = (int64_t{options_.window.capacity} + options_.window.max_forward_fill + 2) * step_ms;
  last_step_.assign(servers.size(), kNoStep);
  open_.assign(servers.size(), StepAggregate{});
  for (const auto& row : servers) {
    const ServerId id = windows_.intern(row.name, row.profile);
    if (id != row.id)
      throw StoreError(fmt::format("{}: servers table is inconsistent (server '{}' has id {}, expected {})",
                                   db_->path().string(), row.name, row.id, id));
    if (row.last_step) last_step_[id] = *row.last_step;
  }
  restore_windows(span);
  restored_ = true;
  size_page_cache(servers.size());
  records_stored_.store(tables_->count_records());
  spdlog::info("store: {} opened: {} servers ({} with >= {} steps), {} records",
               db_->path().string(), windows_.server_count(), windows_.ready_count(),
               kMinEncoderSteps, records_stored_.load());
}

// Each server's closed steps in [last − span, last). Fleets report together, so these ranges
// mostly coincide: the union is read in one scan by time (the key's order) and each row goes to its
// server's window as it comes. A row of the open step itself (written at a clean stop, or by a
// version before 3 with every record) is skipped: the open step is rebuilt from its records.
void FleetStore::restore_windows(int64_t span) {
  std::vector<TimeRange> ranges;
  for (EpochMs last : last_step_)
    if (last != kNoStep) ranges.push_back({last - span, last - 1});
  auto take = [&](ServerId id, const StepAggregate& step) {
    if (id >= last_step_.size() || step.step_start < last_step_[id] - span || step.step_start >= last_step_[id]) return;
    windows_.restore_closed(id, step);
  };
  for (const TimeRange& scan : merged(std::move(ranges))) tables_->scan_steps(scan.from, scan.to, take);
  restore_open_steps();
}

// Each server's open step, summed from its records (one scan of the union of those steps by time).
void FleetStore::restore_open_steps() {
  std::vector<TimeRange> steps;
  for (EpochMs last : last_step_)
    if (last != kNoStep) steps.push_back({last, last + options_.window.step_ms() - 1});
  auto take = [&](ServerId id, EpochMs ts, Status status, const double* values) {
    if (id >= last_step_.size() || windows_.step_of(ts) != last_step_[id]) return;
    if (open_[id].count == 0) open_[id].step_start = last_step_[id];
    open_[id].add(values, status);
  };
  for (const TimeRange& scan : merged(std::move(steps))) tables_->scan_records(scan.from, scan.to, take);
  for (size_t id = 0; id < open_.size(); ++id)
    if (open_[id].count > 0) windows_.restore_open(static_cast<ServerId>(id), open_[id]);
}

StepAggregate& FleetStore::open_for_change(ServerId id) {
  if (open_changed_in_[id] != ingest_count_) {
    open_changed_in_[id] = ingest_count_;
    open_undo_.push_back({id, open_[id]});
    open_written_pending_ = true;
  }
  return open_[id];
}

void FleetStore::write_open_steps() {
  try {
    Transaction tx(*db_);
    for (size_t id = 0; id < open_.size(); ++id)
      if (open_[id].count > 0) tables_->put_step(static_cast<ServerId>(id), open_[id]);
    tx.commit();
    open_written_pending_ = false;
  } catch (const StoreError& e) {
    // Nothing is lost: the open steps' records are stored, and the next start sums them again.
    spdlog::warn("store: writing the open steps' rows failed ({}); their records are stored, and the next start "
                 "rebuilds them from those",
                 e.what());
  }
}

void FleetStore::on_steps_closed(StepsClosedCallback callback) {
  subscribers_.push_back(std::move(callback));
}

IngestOutcome FleetStore::ingest(FeedBatch& batch) {
  std::lock_guard ingest_lock(ingest_mutex_);
  const EpochMs now = now_ms();
  NewServers fresh_servers;
  resolve_server_ids(batch, fresh_servers);
  reject_over_server_limit(batch);
  IngestOutcome outcome;
  {
    auto db_lock = db_->lock_urgent();  // a cycle's record lets it in between its rows
    prune_if_due(now);
    size_page_cache(windows_.server_count() + fresh_servers.list.size());
    store_batch(batch, fresh_servers, now, outcome);
  }
  apply_committed(batch, fresh_servers);
  records_stored_.fetch_add(outcome.accepted, std::memory_order_relaxed);
  if (!closed_scratch_.empty())
    for (const auto& callback : subscribers_) callback(closed_scratch_);
  return outcome;
}

// Known servers' ids under one shared lock; a new one gets the id it WILL be interned with after
// the commit (ingest is serialised, so nobody else interns meanwhile). kNoServer past the limit.
void FleetStore::resolve_server_ids(const FeedBatch& batch, NewServers& fresh) {
  const size_t n = batch.records.size();
  ids_scratch_.assign(n, kNoServer);
  const size_t known = windows_.server_count();
  windows_.read([&](const WindowStore& w) {
    for (size_t i = 0; i < n; ++i) {
      const std::string_view name = batch.name(batch.records[i]);
      if (auto id = w.find(name)) {
        ids_scratch_[i] = *id;
      } else if (auto it = fresh.id_of.find(name); it != fresh.id_of.end()) {
        ids_scratch_[i] = it->second;
      } else if (known + fresh.list.size() < options_.max_servers) {
        const FeedRecord& r = batch.records[i];
        const bool override_profile = r.profile >= 0;
        const Profile profile = override_profile ? static_cast<Profile>(r.profile) : profile_from_server_name(name);
        const auto id = static_cast<ServerId>(known + fresh.list.size());
        fresh.list.push_back({name, profile, override_profile, id});
        fresh.id_of.emplace(name, id);
        ids_scratch_[i] = id;
      }
    }
  });
}

// Records of servers past the limit (no id): an error each, the errors kept in record order.
void FleetStore::reject_over_server_limit(FeedBatch& batch) const {
  bool rejected = false;
  for (size_t i = 0; i < batch.records.size(); ++i) {
    if (ids_scratch_[i] != kNoServer) continue;
    batch.add_error(batch.records[i].index, "server_name", "server_limit", [&] {
      return fmt::format("server limit reached ({} servers tracked)", options_.max_servers);
    });
    ++batch.rejected;
    rejected = true;
  }
  if (rejected)
    std::stable_sort(batch.errors.begin(), batch.errors.end(),
                     [](const RecordError& a, const RecordError& b) { return a.index < b.index; });
}

// One transaction (under the database's lock): new servers, raw records (duplicates ignored), step
// rows. If it fails, the in-memory steps it changed are put back before the error goes on.
void FleetStore::store_batch(const FeedBatch& batch, const NewServers& fresh, EpochMs now, IngestOutcome& outcome) {
  Transaction tx(*db_);
  for (const auto& s : fresh.list) tables_->insert_server(s.id, s.name, s.profile, s.override_profile, now);
  const size_t servers = windows_.server_count() + fresh.list.size();
  if (last_step_.size() < servers) {
    last_step_.resize(servers, kNoStep);
    open_.resize(servers);
  }
  open_changed_in_.resize(open_.size(), 0);
  ++ingest_count_;
  raised_scratch_.clear();
  open_undo_.clear();
  fresh_scratch_.assign(batch.records.size(), 0);
  try {
    for (size_t i = 0; i < batch.records.size(); ++i) {
      if (ids_scratch_[i] == kNoServer) continue;
      if (store_record(ids_scratch_[i], batch.records[i])) {
        fresh_scratch_[i] = 1;
        ++outcome.accepted;
      } else {
        ++outcome.duplicates;
      }
    }
    tx.commit();
  } catch (...) {
    // rolled back: so are the last steps this batch raised (newest first, to their old values)
    for (auto it = raised_scratch_.rbegin(); it != raised_scratch_.rend(); ++it) last_step_[it->id] = it->before;
    for (const OpenBefore& o : open_undo_) open_[o.id] = o.before;
    throw;
  }
}

// One record into the open transaction; false for a duplicate. A record of a newer step closes the
// server's open step (its row written) and opens its own; a late one adds to its closed step's row.
bool FleetStore::store_record(ServerId id, const FeedRecord& r) {
  if (!tables_->insert_record(id, r.timestamp, r.status, r.values)) return false;
  const EpochMs step = windows_.step_of(r.timestamp);
  if (step > last_step_[id]) {
    StepAggregate& open = open_for_change(id);
    if (open.count > 0) tables_->put_step(id, open);
    open = StepAggregate{.step_start = step};
    raised_scratch_.push_back({id, last_step_[id]});
    last_step_[id] = step;
    tables_->set_last_step(id, step);  // restore starts from it
  }
  if (step == last_step_[id]) open_for_change(id).add(r.values, r.status);
  else tables_->add_to_step(id, step, r.status, r.values);
  return true;
}

// Committed: the in-memory state follows (new servers interned, the fresh records into the windows;
// closed_scratch_ gets the servers whose step closed).
void FleetStore::apply_committed(const FeedBatch& batch, const NewServers& fresh) {
  for (const auto& s : fresh.list) {
    const ServerId id = windows_.intern(s.name, s.profile);
    if (id != s.id) spdlog::error("store: server '{}' interned as {}, stored as {}", s.name, id, s.id);
  }
  samples_scratch_.clear();
  for (size_t i = 0; i < batch.records.size(); ++i) {
    if (!fresh_scratch_[i]) continue;
    const FeedRecord& r = batch.records[i];
    samples_scratch_.push_back(WindowStore::Sample{ids_scratch_[i], r.timestamp, r.status, r.values});
  }
  closed_scratch_.clear();
  windows_.apply_batch(samples_scratch_, closed_scratch_);
}

void FleetStore::prune_if_due(EpochMs now) {
  if (options_.retention_days <= 0 || now < next_prune_) return;
  next_prune_ = now + kPruneEveryMs;
  const EpochMs cutoff = now - int64_t{options_.retention_days} * 86'400'000;
  Transaction tx(*db_);
  const uint64_t deleted = tables_->prune(cutoff);
  tx.commit();
  if (deleted > 0) {
    records_stored_.fetch_sub(std::min<uint64_t>(deleted, records_stored_.load()));
    spdlog::info("store: pruned {} records older than {} days", deleted, options_.retention_days);
  }
}

std::vector<StepAggregate> FleetStore::history(ServerId id, EpochMs from, EpochMs to) {
  std::vector<StepAggregate> out;
  auto lock = db_->lock();
  tables_->steps(id, from, to, out);
  if (id >= open_.size() || open_[id].count == 0) return out;
  // A row of the open step (from a clean stop) is stale once records were added: drop it.
  const StepAggregate& open = open_[id];
  std::erase_if(out, [&](const StepAggregate& s) { return s.step_start >= open.step_start; });
  if (open.step_start >= from && open.step_start < to) out.push_back(open);
  return out;
}

void FleetStore::flush() {
  auto lock = db_->lock();
  write_open_steps();
  try {
    db_->checkpoint();
  } catch (const StoreError& e) {
    // Nothing is lost: a checkpoint only copies committed pages from the WAL into the database
    // file, and the WAL, intact, is replayed by the next open. A full disk (the database file
    // cannot grow) must not turn a clean stop into a failed one.
    spdlog::warn("store: the final WAL checkpoint failed ({}); every committed record stays in the WAL, "
                 "which the next start replays",
                 e.what());
  }
}

}  // namespace nordiq
