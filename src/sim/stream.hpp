// `nordiq simulate stream` (SIMULATOR.md §10): the engine paced in real or accelerated time, each
// step posted to the daemon's POST /feed/data in step order by a sender thread that retries with
// backoff and never drops a batch silently; a bounded backlog pauses generation; SIGINT/SIGTERM
// drain the backlog for --drain-timeout. The control API (§11) runs on its own port.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "sim/engine.hpp"

namespace nordiq::sim {

struct StreamOptions {
  std::string url = "http://127.0.0.1:8000";
  std::string api_key;  // sent as X-API-Key when not empty
  double speed = 0;     // 0 = real time; N = simulated steps per wall second
  int64_t steps = 0;    // 0 = until stopped
  std::string scenario = "healthy";
  std::string control_host = "127.0.0.1";
  int control_port = 8001;  // 0 = disabled; −1 = any free port (tests; see on_control_port)
  std::string control_key;
  size_t batch_size = 5000;
  double timeout_s = 5;
  size_t max_backlog = 288;
  double drain_timeout_s = 10;
  std::string incidents;  // ground-truth path, "" = none

  // Backoff of retried POSTs: base, doubling, capped (with jitter).
  double retry_base_s = 0.5;
  double retry_cap_s = 30;
  // Stop flag checked besides SIGINT/SIGTERM (tests); may be null.
  std::atomic<bool>* stop = nullptr;
  // Called with the control API's bound port once it listens (tests).
  std::function<void(int)> on_control_port;
  // Receives the final /health body when the run ends (tests, and the closing log line).
  std::function<void(const nlohmann::json&)> on_finish;
};

// Routes SIGINT/SIGTERM to a graceful stop of run_stream.
void install_stream_signal_handlers();

// Runs the stream; returns the §1 exit code (0, 3, 4 or 5).
int run_stream(const SimConfig& cfg, const FleetCounts& counts, const StreamOptions& opts);

}  // namespace nordiq::sim
