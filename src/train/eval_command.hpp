// The pieces of `nordiq eval` callable without the CLI (tests, bench).
#pragma once

#include <string>

#include "core/window.hpp"
#include "train/eval_metrics.hpp"

namespace spdlog { class logger; }

namespace nordiq::train {

struct EvalArgs {
  std::string model;         // "baseline" or a model directory / .safetensors file
  std::string data;          // CSV file or daemon data dir
  int stride = 1;
  int holdout_days = 0;      // 0 = whole file
  bool json = false;
  int threads = 0;           // 0 = hardware threads
  int step_seconds = 0;      // 0 = the model's step, else kDefaultStepSeconds
  std::string metric;        // the per-horizon table's metric (empty = overall)
};

// Loads the history, enumerates the origins, scores the model and the baselines.
// Throws with a clear message for bad input (file, model, no window). `log` may be null.
EvalReport run_eval(const EvalArgs& args, spdlog::logger* log);

}  // namespace nordiq::train
