// Runs forecasters over the forecast origins of a History and scores them (eval_metrics.hpp).
// Origins are cut into batches of consecutive windows; worker threads take batches from a shared
// counter, each with its own forecaster instances; every batch has its own accumulators, merged
// in batch order at the end, so the report is bit-identical whatever the thread count.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "forecast/forecaster.hpp"
#include "train/eval_metrics.hpp"
#include "train/history.hpp"
#include "train/origins.hpp"

namespace nordiq::train {

struct EvalModel {
  std::string name;  // the key in the report ("model", "last_value", ...)
  // Called once per worker thread: Forecaster instances are used by one thread at a time.
  std::function<std::unique_ptr<forecast::Forecaster>()> make;
  // A forecaster with state that learns online (the served one): replayed causally, every step
  // of every series forecast in time order as a daemon would, scored at the origins only.
  bool causal_replay = false;
};

struct EvalOptions {
  int threads = 1;
  int batch = 64;                         // windows per Forecaster call
  int context = 2 * kMaxEncoderSteps;     // history steps handed to a forecaster (a model uses
                                          // its last 288; seasonal naive reaches a day further)
  int horizon = kHorizonSteps;
  // Called from worker threads with (windows done, total); may be empty.
  std::function<void(int64_t, int64_t)> progress;
};

// The view a forecaster sees for `origin`: up to `context` steps ending just before it.
WindowView history_view(const History& h, const Origin& origin, int context);
// The `horizon` target steps from `origin` on, and their observed flags.
WindowView future_view(const History& h, const Origin& origin, int horizon);
const uint8_t* future_observed(const History& h, const Origin& origin);

// The three baselines of baselines.hpp as EvalModels named after them, then robust_profile
// (forecast/robust_profile.hpp).
std::vector<EvalModel> baseline_models(int horizon = kHorizonSteps);

// The served forecaster (forecast/served_forecaster.hpp) over `model`, named "served", replayed
// causally.
EvalModel served_model(std::function<std::unique_ptr<forecast::Forecaster>()> model, int64_t step_ms,
                       int horizon = kHorizonSteps);

// Scores a causal-replay model: per server (servers taken in turn by `options.threads` threads,
// one forecaster each), every step t ≥ 1 of each segment is forecast in time order, in batches
// of `options.batch` consecutive steps; forecasts at `origins` are scored. Returns
// [1 + kNumEvalHorizons] accumulators (all steps, then each band), summed in server order.
std::vector<ScoreAccumulator> replay_causally(const History& history, std::span<const Origin> origins,
                                              const EvalModel& model, const EvalOptions& options);

EvalReport evaluate(const History& history, std::span<const Origin> origins,
                    std::span<const EvalModel> models, const EvalOptions& options);

}  // namespace nordiq::train
