// Per-server rolling windows of closed steps (SPEC §1.3), interned server ids, and each server's
// open step bucket — the in-memory state that forecasting and the API read.
//
// Time model, as implemented:
// - A record at time t belongs to step s = floor(t / step) * step (step 300 s by default).
// - Each server has one OPEN step (the latest step it has sent data for): metric sums + a record
//   count + the worst status. A step CLOSES when a record for a later step arrives for that
//   server; its averages (sums / count) and worst status are then appended to the window.
//   (No wall-clock timer closes steps: a silent server keeps its open step until it talks again.)
// - Appending step s after the last closed step L: if 1..kMaxForwardFill steps are missing
//   between them they are forward-filled with L's values; if more are missing the series
//   RESTARTS (window length → 0, then s), i.e. the encoder length resets.
// - Late records: a record for the open step merges into it; a record for the step just before
//   the open one either re-averages the last closed step (when that is the window's last real
//   step) or is appended as a new closed step (when it falls in the gap before the open step).
//   Older records are persisted (by FleetStore) but do not rewrite the window.
// - Windows keep at most `capacity` steps (≥ 288); each metric column is contiguous inside a
//   buffer that grows to 2×capacity and is then compacted with one memmove per column, so a
//   WindowView is a set of pointers, never a copy.
//
// Threading: writers (FleetStore's ingest, one at a time) take the exclusive lock inside the
// mutating calls; readers call `read(f)`, which runs f under a shared lock so that every view
// taken inside f is consistent (and stays valid until f returns).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/metrics.hpp"
#include "core/time.hpp"
#include "core/window.hpp"

namespace nordiq {

struct WindowConfig {
  int step_seconds = kDefaultStepSeconds;
  int capacity = kMaxEncoderSteps;       // closed steps kept per server (≥ kMaxEncoderSteps)
  int max_forward_fill = kMaxForwardFill;
  int64_t step_ms() const { return int64_t{step_seconds} * 1000; }
};

// One step's aggregate: sums (not averages) so later records can be merged exactly.
struct StepAggregate {
  EpochMs step_start = 0;
  uint32_t count = 0;  // records merged into the step
  Status worst = Status::idle;
  double sums[kNumMetrics] = {};

  void add(const double* values, Status status);
  void merge(const StepAggregate& other);  // same step, e.g. restored from the store
  double mean(int metric) const { return count ? sums[metric] / count : 0.0; }
};

// What one record did to a server's window.
enum class StepEffect : uint8_t {
  opened,           // first record of the server: opened its first step
  merged_open,      // added to the open step
  closed,           // closed the open step (appended to the window) and opened a later one
  merged_previous,  // re-averaged the last closed step
  appended_late,    // became a closed step in the gap just before the open step
  stored_only       // older than the previous step: window untouched
};

class WindowStore {
 public:
  explicit WindowStore(WindowConfig config = {});
  ~WindowStore();
  WindowStore(const WindowStore&) = delete;
  WindowStore& operator=(const WindowStore&) = delete;

  const WindowConfig& config() const { return config_; }
  EpochMs step_of(EpochMs t) const;  // start of the step holding t

  // ---- writer side (exclusive lock taken inside) --------------------------------------------
  // Id of `name`, interning it if new with `profile` (resolved once, by the caller, from the
  // name or an override). `created` tells whether it was new.
  ServerId intern(std::string_view name, Profile profile, bool* created = nullptr);
  // Applies one record (tests and tools; ingest uses apply_batch).
  StepEffect apply(ServerId id, EpochMs t, Status status, const double* values);
  struct Sample {
    ServerId server;
    EpochMs timestamp;
    Status status;
    const double* values;  // kNumMetrics values
  };
  // Applies samples in order under one lock; appends ids of servers with a newly closed step, or
  // seen for the first time (each id once), to `closed`: the servers whose forecast is due.
  void apply_batch(std::span<const Sample> samples, std::vector<ServerId>& closed);
  // Start-up: rebuilds a server from its stored step aggregates, one at a time (FleetStore's
  // restore streams every server's steps from one scan by time): each closed step in ascending
  // step_start (forward fill/restart apply), then the newest as the open step.
  void restore_closed(ServerId id, const StepAggregate& step);
  void restore_open(ServerId id, const StepAggregate& step);

  // ---- reader side ---------------------------------------------------------------------------
  // Runs f(const WindowStore&) under the shared lock; views taken inside stay valid until f returns.
  template <class F>
  decltype(auto) read(F&& f) const {
    std::shared_lock lock(mutex_);
    return f(*this);
  }
  // The following must be called inside read() (or by the writer thread between its calls).
  WindowView view(ServerId id) const;
  std::optional<StepAggregate> open_step(ServerId id) const;  // the step being filled
  std::optional<ServerId> find(std::string_view name) const;
  std::string_view name(ServerId id) const;  // stable for the store's lifetime
  Profile profile(ServerId id) const;

  // Lock-free counters.
  size_t server_count() const { return server_count_.load(std::memory_order_acquire); }
  size_t ready_count() const { return ready_count_.load(std::memory_order_acquire); }  // ≥ 12 steps

 private:
  struct Server;
  struct NameHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  StepEffect apply_locked(ServerId id, EpochMs t, Status status, const double* values);
  void append_step(Server& s, const StepAggregate& step);
  void close_open_step(Server& s);
  void rewrite_last(Server& s);
  void set_length(Server& s, int length);

  WindowConfig config_;
  mutable std::shared_mutex mutex_;
  std::vector<std::unique_ptr<Server>> servers_;
  std::unordered_map<std::string, ServerId, NameHash, std::equal_to<>> ids_;
  std::atomic<size_t> server_count_{0};
  std::atomic<size_t> ready_count_{0};
  uint64_t generation_ = 0;  // apply_batch calls, to report each closed server once per batch
};

}  // namespace nordiq
