// Step-gridded per-server history for training and evaluation, read from the simulator's CSV
// (docs/SIMULATOR.md §9) or from a daemon's store. Each server's steps live in contiguous
// columns (one float array per metric, one status array), so a WindowView over any span of a
// segment is a set of pointers into them: windows for training and evaluation are never copied.
//
// Gaps follow SPEC §1.3, exactly as the daemon treats a live series: a run of ≤ 12 missing steps
// is forward-filled from the previous step (marked `observed = 0`, so losses and metrics can skip
// those made-up targets), a longer gap restarts the series: a new segment begins.
#pragma once

#include <cstdint>
#include <filesystem>
#include <istream>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "core/metrics.hpp"
#include "core/time.hpp"
#include "core/window.hpp"

namespace nordiq::train {

// A run of consecutive steps with no gap longer than the forward-fill limit.
struct Segment {
  int64_t begin = 0;      // index of the segment's first step in the server's columns
  int64_t length = 0;     // steps
  EpochMs first_step = 0; // start time of its first step
};

struct ServerSeries {
  std::string name;
  ServerId id = 0;  // index in History::servers
  Profile profile = Profile::generic;
  std::vector<float> metric[kNumMetrics];  // raw (untransformed) values, all segments back to back
  std::vector<uint8_t> status;             // Status enum values
  std::vector<uint8_t> observed;           // 1 = at least one record in the step; 0 = forward-filled
  std::vector<Segment> segments;           // in time order

  int64_t steps() const { return static_cast<int64_t>(status.size()); }

  // View of `length` steps of segment `seg` starting at step `start` (relative to the segment).
  WindowView view(const Segment& seg, int64_t start, int length, int64_t step_ms) const;
};

struct History {
  int64_t step_ms = kDefaultStepSeconds * 1000LL;
  std::vector<ServerSeries> servers;  // in order of first appearance
  EpochMs first_step = 0;             // earliest step start over all servers
  EpochMs last_step = 0;              // latest step start over all servers
  int64_t records = 0;                // input rows / store rows read
  int64_t merged_records = 0;         // records that fell into an already-filled step (averaged)
  int64_t filled_steps = 0;           // forward-filled steps
  int64_t restarts = 0;               // gaps > kMaxForwardFill that started a new segment

  bool empty() const { return servers.empty(); }
};

struct HistoryOptions {
  int step_seconds = kDefaultStepSeconds;
  int max_forward_fill = kMaxForwardFill;
  EpochMs since = 0;  // a daemon data dir: steps starting before this are not read (0 = all)
};

// Thrown for malformed input; what() names the source, line and column.
struct HistoryError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Reads a CSV in the `nordiq simulate history` format, streamed (memory = the result only).
// The header must contain timestamp, server_name, status and the 14 metrics (any order);
// `profile` is optional (else derived from the name, SPEC §1.4); other columns are ignored.
// Every value is validated against SPEC §1.1; the first bad one throws
// `<source>:<line>: column <n> (<name>): <reason>`.
History read_history_csv(std::istream& in, const std::string& source_name,
                         const HistoryOptions& options = {});
History read_history_csv_file(const std::string& path, const HistoryOptions& options = {});

// `path` is a CSV file, or a daemon data dir (its SQLite store's step history).
History load_history(const std::string& path, const HistoryOptions& options = {});

// The steps of `history` that start before `end` (servers left with none are dropped): the
// training part when a later span is held out for scoring.
History truncate_history(const History& history, EpochMs end);

// The start of the newest step in a daemon data dir's store (0 when it has none): where "the last
// N days" of its history end.
EpochMs store_last_step(const std::filesystem::path& data_dir);

// Incremental builder: feed records (any order per server; usually time order), then finish().
// Records in one step are averaged, status = worst (SPEC §1.3). Used by the CSV and store readers
// and by tests that build synthetic histories.
class HistoryBuilder {
 public:
  explicit HistoryBuilder(const HistoryOptions& options = {});
  ~HistoryBuilder();
  HistoryBuilder(const HistoryBuilder&) = delete;
  HistoryBuilder& operator=(const HistoryBuilder&) = delete;

  // Returns the dense id of `name` (interned at first sight with `profile`).
  ServerId intern(std::string_view name, Profile profile);
  void add(ServerId server, EpochMs timestamp, const float (&values)[kNumMetrics], Status status);
  History finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nordiq::train
