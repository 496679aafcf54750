// What serving and `nordiq eval`'s `served` column run: the model (TFT or baseline) plus the
// robust classical candidates, with the online accuracy tracker (forecast/skill_tracker.hpp)
// choosing, per (server, metric, horizon band), which forecast a user gets and how wide its band
// is. A Forecaster like the others, so the forecast cycle, risk and the API are unchanged:
//
//   prepare (reads the windows: the forecast cycle's copies): the model's prepare; the robust level of every window (its
//            shape — profiles and change quantiles, the costly part — is refitted per server
//            once an hour, more often while the server is young); the actuals each server's
//            pending forecasts need (the steps since it was last scored);
//   run     (no window read): the model's run; then per window: score the pending forecasts, write the
//            candidates, serve.
// A batch with one window per server (a serving cycle) does its per-window work on the model's
// threads (Forecaster::for_each_row). A batch holding one server's consecutive origins (the
// eval replay) is processed in batch order, which keeps it causal.
//
// ForecastBatch::served_by tells which candidate serves each [server][metric][band].
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "forecast/ramp.hpp"
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
  ForEachRow for_each_row() override { return model_->for_each_row(); }

  // A hot reload: `model` serves from the next call; the tracker restarts its scoring
  // (SkillTracker::restart_scoring). Not concurrent with prepare/run.
  void replace_model(std::unique_ptr<Forecaster> model);

  const SkillTracker& tracker() const { return tracker_; }
  const Forecaster& model() const { return *model_; }
  // Row b of the last prepared batch: the climbs alerts continue beyond the served forecast's
  // (kAlertRampScales: seen earlier, and noisy ones; forecast/ramp.hpp).
  const Ramps& alert_ramps(int b) const { return alert_ramps_[static_cast<size_t>(b)]; }
  // A server's current robust shape (null before its first).
  const RobustFit* shape_of(ServerId server) const {
    return server < shapes_.size() ? shapes_[server].get() : nullptr;
  }

 private:
  std::unique_ptr<Forecaster> model_;
  std::string description_;
  SkillTracker tracker_;
  // Per ServerId: the latest robust shape. A batch keeps the shape each of its windows used, so
  // a refit mid-batch (the eval replay's batches are one server's consecutive steps) allocates
  // a new one instead of changing what earlier windows of the batch see.
  std::vector<std::shared_ptr<RobustFit>> shapes_;
  std::vector<std::shared_ptr<const RobustFit>> batch_shapes_;  // [batch]
  std::vector<RobustLevel> levels_;                             // [batch]
  std::vector<Ramps> ramps_;                                    // [batch] (forecast/ramp.hpp)
  std::vector<Ramps> alert_ramps_;                              // [batch]
  struct Actuals {
    ServerId server;
    EpochMs first_step;
    int steps;
    size_t offset;  // into actual_rows_
  };
  std::vector<Actuals> actuals_;     // [batch]
  std::vector<float> actual_rows_;   // [Σ steps][kNumMetrics]
  std::vector<EpochMs> batch_seen_;  // per ServerId: newest step already handed over this batch
  bool batch_parallel_ = false;       // one window per server: rows are served on the model's threads
  std::vector<uint8_t> refit_;        // [batch]: its server's shape is refitted on this window
  std::vector<uint8_t> seen_mark_;    // per ServerId, scratch of servers_distinct
  struct DueShape {
    EpochMs fitted_step;
    ServerId server;
    uint32_t row;
  };
  std::vector<DueShape> due_;  // scratch of choose_refits

  bool servers_distinct(std::span<const WindowView> windows);
  // How old w's server's shape is: `fresh`; `due` (a full window's shape an hour old, whose refit
  // may wait for a later cycle); `stale` (refitted now: none yet, a young server's, the step
  // changed, time went back, or two hours old).
  enum class ShapeAge { fresh, due, stale };
  ShapeAge shape_age(const WindowView& w);
  // Before w's server's shape is refitted: one that an earlier window of the batch still reads is
  // replaced by a new one to fit, so the earlier window keeps what it saw.
  void claim_shape(const WindowView& w);
  // A serving cycle's refits (refit_): every stale shape, and the due ones oldest first, at most
  // 5/4 of the fleet's hourly share per cycle (served_forecaster.cpp says why).
  void choose_refits(std::span<const WindowView> windows);
  // Row b's ramps, robust level and (when `refit`) its server's robust shape.
  void fit_window(const WindowView& w, int b, bool refit);
  void collect_actuals(const WindowView& w);
  void serve_row(ForecastBatch& out, int b);
};

// Steps between refits of a server's robust shape fitted on `fitted_length` steps: every step
// while it has under 8, then an eighth of its length, at most an hour.
int robust_refit_interval(int fitted_length, int64_t step_ms);

}  // namespace nordiq::forecast
