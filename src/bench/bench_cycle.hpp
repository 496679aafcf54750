// The forecast cycle through the daemon's real serving path (store → served forecaster → risk →
// alerts → rendered JSON, serve::ForecastService), on stores filled by the simulator.
#pragma once

#include <filesystem>
#include <string>

#include "core/time.hpp"

namespace nordiq::bench {

// Writes `servers` simulated servers into a new store in `dir`: `days` days and one step of
// history ending `end_before_now_ms` before now (so a benchmark can append steps without passing now).
void simulate_store(const std::filesystem::path& dir, int servers, int64_t end_before_now_ms, int days = 1);

struct CycleTiming {
  std::string model;  // model name in the models dir
  int hidden = 0, servers = 0;
  double ms = 0, ms_per_server = 0, gflop = 0, gflops = 0;
  double first_ms = 0;  // a new daemon's first cycle: every robust shape fitted, every buffer sized
  double refit_ms = 0;  // the live cycle an hour after the first: every robust shape due, 5/4 of 1/12 refitted
  // The process's CPU time (all threads, user + system) and minor page faults per live cycle
  // (medians, like `ms`). On a shared machine the CPU time moves less than the wall clock: a cycle
  // descheduled for a while costs wall time, not CPU time.
  double cpu_ms = 0, page_faults = 0;
  // The matrix products of the live cycles but the refit (tft::gemm::count_work): the FLOPs one
  // cycle's GEMMs really did (the folded network's, fewer than `gflop` counts), and their rate per
  // thread, in the time each thread spent inside them.
  double matrix_gflop = 0, matrix_gflops_per_thread = 0;
};

// Live cycles timed after the first, one step apart: an hour, after which a robust shape is
// refitted (forecast/served_forecaster.cpp, robust_refit_interval).
inline constexpr int kRefitSteps = 12;

// A new daemon's first cycle over every server of the store, then kRefitSteps live cycles, each
// after one more step of every server was ingested: `ms` is the median of all but the last, in
// which every robust shape comes due (`refit_ms`; it refits the first share of them). The steps are
// appended to the store, so its history must end at least an hour before now (simulate_store's
// end_before_now_ms).
// GFLOP: the network's forward cost (docs/TFT.md §7) for a full 288-step encoder per server.
CycleTiming time_cycle(const std::filesystem::path& data_dir, const std::filesystem::path& models_dir,
                       const std::string& model);

struct SteadyState {
  int cycles = 0;
  double rss_mb = 0;           // after the warm-up cycles
  double rss_growth_mb = 0;    // over `cycles` more
  double sqlite_growth_mb = 0;  // of which SQLite's own memory: its page cache, sized to the fleet (FleetStore)
  double log_lines_per_cycle = 0;  // lines at INFO and above
};

// A live daemon's steady state: every cycle, one new record per server (a step closes), ingested
// through the store, forecast by the service's worker. Warm-up cycles first.
SteadyState steady_state(const std::filesystem::path& data_dir, const std::filesystem::path& models_dir, int warmup,
                         int cycles);

// Training speed (forward + backward + Adam) on the store's history, all hardware threads:
// kTrainingEpochs epochs of kTrainingWindows windows, so the first batch's warm-up (every arena
// sized) is a small part of it.
inline constexpr int kTrainingEpochs = 2;
inline constexpr int kTrainingWindows = 256;
double training_windows_per_s(const std::filesystem::path& data_dir);

}  // namespace nordiq::bench
