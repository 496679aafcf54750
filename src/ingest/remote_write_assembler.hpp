// Turns remote_write series (one metric of one server per series) into NordIQ records (all 14
// metrics of one server at one instant), which then take the same path as `POST /feed/data`:
// bucketed into steps, stored durably, deduplicated on (server, timestamp).
//
// Series: `nordiq:<metric>` (deploy/prometheus/nordiq_rules.yml makes them from node_exporter).
// The server is the label `nordiq_server` when present, else the `server_label` (default
// `instance`) without a trailing `:port`. Anything else is an unknown series: ignored, counted.
//
// Why it keeps state: Prometheus sends one evaluation's series in one request when it can, but a
// batch boundary (or a second shard) can split a server's series of one timestamp across two
// requests, and the store keeps one record per (server, timestamp), so storing the first half
// would turn the second into a duplicate. A (server, timestamp) therefore waits, in memory, until
// it has every metric the server has sent before (normally at once, in the same request), a newer
// timestamp of that server arrives, or `hold_ms` passes; a server's very first timestamp waits
// for its second, since nothing says yet which metrics it sends.
//
// A metric missing from a record (no exporter for it, e.g. java_cpu_pct without
// process-exporter) is carried forward from the server's last value, and is 0 if it never came
// (CPU idle: 100 minus the other CPU modes, so that a missing idle never reads as a saturated
// CPU): the other metrics are forecast as usual.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/metrics.hpp"
#include "core/time.hpp"
#include "ingest/feed_batch.hpp"
#include "ingest/remote_write_decoder.hpp"

namespace nordiq {

struct RemoteWriteOptions {
  std::string server_label = "instance";  // where the server name comes from (":port" removed)
  int64_t hold_ms = 30'000;               // longest wait of a partial (server, timestamp)
  int64_t max_future_ms = 5 * 60'000;     // samples further ahead of now are rejected
  size_t max_servers = 100'000;           // servers tracked by the assembler
  size_t max_pending_per_server = 8;      // more waiting timestamps: the oldest is completed
};

// What happened to one request's samples.
struct RemoteWriteCounts {
  size_t samples = 0;         // float samples in the request
  size_t used = 0;            // samples of nordiq:* series taken into records
  size_t unknown_series = 0;  // series that are not nordiq:<metric> (ignored, not an error)
  size_t stale = 0;           // staleness markers (NaN): a series went away; ignored
  size_t late = 0;            // for a (server, timestamp) already stored: a duplicate
  size_t rejected = 0;        // unusable: no valid server name, out of range, in the future
  std::string first_rejection;  // why the first rejected sample was rejected (names the label or series)
};

class RemoteWriteAssembler {
 public:
  explicit RemoteWriteAssembler(RemoteWriteOptions options = {});

  // Adds a decoded request's samples and appends every (server, timestamp) that is now complete
  // to `out` as a record (out is not cleared). `now` = wall clock, for hold_ms and the future check.
  RemoteWriteCounts add(const RemoteWriteRequest& request, EpochMs now, FeedBatch& out);

  // Completes every waiting (server, timestamp) whose hold expired, into `out`.
  void complete_expired(EpochMs now, FeedBatch& out);
  // Completes everything waiting (a clean shutdown), into `out`.
  void complete_all(FeedBatch& out);

  // The records of `batch` (made by add/complete_*) could not be stored: they wait again, and
  // their servers accept those timestamps again (Prometheus retries the request after a 5xx).
  void requeue(const FeedBatch& batch);

  size_t pending() const { return pending_total_; }
  size_t servers() const { return servers_.size(); }
  // Serialises add/complete/requeue with the caller's storing (see api/remote_write_endpoint).
  std::mutex& mutex() { return mutex_; }

 private:
  struct Partial {
    EpochMs timestamp = 0;
    EpochMs first_seen = 0;  // wall clock, for hold_ms
    uint16_t present = 0;    // bit k: metric k arrived
    double values[kNumMetrics] = {};
  };
  struct ServerState {
    std::string name;
    uint16_t learned = 0;      // metrics this server has ever sent
    uint16_t carried = 0;      // bit k: last[k] holds a value
    bool emitted_any = false;
    EpochMs last_emitted = 0;  // newest timestamp made into a record (valid when emitted_any)
    double last[kNumMetrics] = {};
    std::vector<Partial> waiting;  // by timestamp
    uint64_t touched = 0;          // the add() call that last touched it
  };
  struct NameHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  ServerState* state_for(std::string_view name);
  void add_sample(ServerState& s, int metric, const RemoteSample& sample, EpochMs now, FeedBatch& out,
                  RemoteWriteCounts& counts);
  // The waiting timestamp of s at `timestamp`, inserted in order (first seen `first_seen`) when
  // new: (slot, inserted).
  std::pair<Partial*, bool> waiting_slot(ServerState& s, EpochMs timestamp, EpochMs first_seen);
  void complete_ready(ServerState& s, EpochMs now, FeedBatch& out);
  void emit(ServerState& s, const Partial& p, FeedBatch& out);

  RemoteWriteOptions options_;
  std::mutex mutex_;
  std::unordered_map<std::string, ServerState, NameHash, std::equal_to<>> servers_;
  std::vector<ServerState*> touched_;  // reused per add()
  uint64_t add_calls_ = 0;
  size_t pending_total_ = 0;
  EpochMs next_expiry_scan_ = 0;
};

// "host:9100" → "host"; "[::1]:9100" → "::1"; a name without a port is returned unchanged.
std::string_view strip_port(std::string_view instance);

}  // namespace nordiq
