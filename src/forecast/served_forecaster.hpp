// What serving and `nordiq eval`'s `served` column run: the model (TFT or baseline) plus the
// robust classical candidates, with the online accuracy tracker (forecast/skill_tracker.hpp)
// choosing, per (server, metric, horizon band), which forecast a user gets and how wide its band
// is. A Forecaster like the others, so the forecast cycle, risk and the API are unchanged:
//
//   prepare (under the store's lock): the model's prepare; the robust fit of every window; the
//            actuals each server's pending forecasts need (the steps since it was last scored);
//   run     (no lock): the model's run; then per window, in batch order: score the pending
//            forecasts, write the candidates, serve. Processing in batch order keeps it causal
//            when a batch holds one server's consecutive origins (the eval replay).
//
// ForecastBatch::served_by tells which candidate serves each [server][metric][band].
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "forecast/robust_profile.hpp"
#include "forecast/skill_tracker.hpp"

namespace nordiq::forecast {

class ServedForecaster final : public Forecaster {
 public:
  ServedForecaster(std::unique_ptr<Forecaster> model, int64_t step_ms, int horizon = kHorizonSteps);
  ~ServedForecaster() override;
  std::string_view description() const override { return description_; }
  void prepare(std::span<const WindowView> windows, ForecastBatch& out) override;
  void run(ForecastBatch& out) override;

  const SkillTracker& tracker() const { return tracker_; }
  const Forecaster& model() const { return *model_; }

 private:
  std::unique_ptr<Forecaster> model_;
  std::string description_;
  SkillTracker tracker_;
  RobustProfileScratch scratch_;
  std::vector<RobustFit> fits_;  // [batch]
  struct Actuals {
    ServerId server;
    EpochMs first_step;
    int steps;
    size_t offset;  // into actual_rows_
  };
  std::vector<Actuals> actuals_;     // [batch]
  std::vector<float> actual_rows_;   // [Σ steps][kNumMetrics]
  std::vector<EpochMs> batch_seen_;  // per ServerId: newest step already handed over this batch
  std::vector<float> candidate_rows_;  // [kNumCandidates][K][Q][horizon]
};

}  // namespace nordiq::forecast
