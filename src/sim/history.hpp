// `nordiq simulate history` (SIMULATOR.md §9): N days × M servers, generated in blocks of steps
// with servers in parallel, merged into (timestamp, server_name) order and streamed to a sink, so
// memory does not grow with --days and --threads never changes the bytes.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "sim/engine.hpp"

namespace nordiq::sim {

struct HistoryOptions {
  int days = 30;
  int threads = 1;
  std::string output = "history.csv";  // CSV path, "-" = stdout
  std::string incidents;                // ground-truth path; "" = none
  bool to_store = false;                // --out store
  std::string data_dir;                 // store's data dir for --out store
};

struct HistorySummary {
  uint64_t rows = 0;
  uint64_t duplicates = 0;  // --out store: rows already stored
  size_t servers = 0;
  int64_t steps = 0;
  EpochMs first = 0, last = 0;
  std::map<std::string, int> incidents_by_kind;
  double seconds = 0;
};

// A destination for blocks of merged rows.
class RowSink {
 public:
  virtual ~RowSink() = default;
  // `records` holds `steps` × fleet-size entries, step-major, indexed by fleet index.
  virtual void write_block(const FleetEngine& engine, int64_t first_k, int64_t steps, const SimRecord* records,
                           int threads) = 0;
  virtual void finish() {}
  virtual uint64_t duplicates() const { return 0; }
};

// Writes the §9 CSV (header first) to a file or stdout. Throws std::runtime_error on I/O errors.
std::unique_ptr<RowSink> make_csv_sink(const std::string& path);

// Generates the whole history into `sink`; writes the incidents file if opts.incidents is set.
HistorySummary generate_history(FleetEngine& engine, int64_t steps, int threads, RowSink& sink,
                                const std::string& incidents_path);

// Rows per block: at most 1 M rows and at most 288 steps (§9).
int64_t block_steps(size_t servers);

}  // namespace nordiq::sim
