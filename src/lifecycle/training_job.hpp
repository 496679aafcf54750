// Retraining inside the daemon (SPEC §4 admin rows, issue #16): one background job at a time
// trains a TFT on the daemon's own stored history, scores it against the model being served on
// the same held-out span of that history, registers it in the models dir, and promotes it only
// when it wins. The job runs on its own thread under SCHED_IDLE with a bounded number of training
// threads, so forecast cycles and requests keep their cores; a cancel stops it within one
// gradient chunk (8 windows).
//
// The history is split in time: [training | validation] | held out. Training and its early
// stopping never see the held-out span (the last `holdout_days` days), which is what both models
// are scored on: p50/quantile forecasts from every 12th step of the held-out span, each with a
// full encoder, scored by `nordiq eval`'s own code (train/evaluator.hpp).
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

namespace nordiq::lifecycle {

struct TrainingRequest {
  int epochs = 5;
  int days = 7;                // the newest `days` days of stored history are read
  int holdout_days = 1;        // the newest of those are held out for the comparison
  int64_t max_windows = 2000;  // training windows per epoch
  int hidden = 32;             // hidden size (a multiple of 4: 4 attention heads)
  uint64_t seed = 42;
};

// A bad request body; what() names the field (the HTTP layer answers 400).
struct TrainingRequestError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};
// Every field optional; unknown fields refused. Throws TrainingRequestError.
TrainingRequest parse_training_request(const nlohmann::json& body);

struct TrainingSettings {
  std::filesystem::path data_dir;    // the daemon's store, read read-only
  std::filesystem::path models_dir;  // where the new model is registered
  int step_seconds = 300;
  int threads = 1;                   // training threads (and evaluation threads)
  // idle: SCHED_IDLE (only CPU time serving leaves idle; may starve on a saturated host),
  // nice: niceness +10, normal: as the daemon's own threads.
  std::string priority = "idle";
};

// The model being served when the job scores: its registry name and file ("" = the baseline).
struct ServedModelRef {
  std::string name;
  std::filesystem::path file;
};

class TrainingJobs {
 public:
  using CurrentModel = std::function<ServedModelRef()>;
  // Makes `name` (a model dir just registered) the served model; returns "" or why it failed.
  using Promote = std::function<std::string(const std::string& name)>;

  TrainingJobs(TrainingSettings settings, CurrentModel current, Promote promote);
  ~TrainingJobs();  // cancels a running job and joins it
  TrainingJobs(const TrainingJobs&) = delete;
  TrainingJobs& operator=(const TrainingJobs&) = delete;

  // Starts a job; false when one is already running (→ 409).
  bool start(const TrainingRequest& request);
  // Asks the running job to stop; false when none is running.
  bool cancel();
  // {"state": "idle"|"running"|"completed"|"failed"|"cancelled", "job": {...}} (the newest job).
  nlohmann::json status() const;
  bool running() const { return running_.load(); }
  // Joins the job's thread (after cancel(): at shutdown).
  void wait();

 private:
  struct Job;
  void run(std::shared_ptr<Job> job);

  TrainingSettings settings_;
  CurrentModel current_;
  Promote promote_;
  mutable std::mutex mutex_;
  std::shared_ptr<Job> job_;  // the newest job (guarded by mutex_; the job's fields by its own)
  std::atomic<bool> running_{false};
  std::thread thread_;
  uint64_t next_id_ = 1;
};

}  // namespace nordiq::lifecycle
