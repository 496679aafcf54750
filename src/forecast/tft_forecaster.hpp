// The TFT behind the Forecaster interface (issue #4 part 5): feature assembly (features.hpp,
// the same code the trainer uses) → one batched engine forward → de-normalisation, inverse
// transform, clamping and sorted quantiles. Servers with fewer than kMinEncoderSteps closed
// steps keep the baseline forecast and are marked "baseline".
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "forecast/baseline.hpp"
#include "forecast/features.hpp"
#include "forecast/forecaster.hpp"
#include "tft/engine.hpp"
#include "tft/model.hpp"

namespace nordiq::forecast {

// Throws std::runtime_error naming the first mismatch when the model's input contract (targets,
// quantiles, x_categoricals, x_reals order, embedding vocabularies, normaliser rules) is not the
// one this build assembles; returns warnings (e.g. a manifest without normaliser rules).
std::vector<std::string> check_model_contract(const tft::Model& model);

class TftForecaster final : public Forecaster {
 public:
  // Takes ownership of the model; `threads` for the engine's batch parallelism.
  TftForecaster(std::unique_ptr<tft::Model> model, std::string name, int threads = 1);
  ~TftForecaster() override;

  std::string_view description() const override { return description_; }
  void prepare(std::span<const WindowView> windows, ForecastBatch& out) override;
  void run(ForecastBatch& out) override;
  ForEachRow for_each_row() override;  // the engine's threads

  const tft::Model& model() const { return *model_; }
  const FeatureConfig& feature_config() const { return config_; }
  // Servers of the last run() whose network outputs were not finite: they got the baseline
  // forecast instead (output sanity, issue #14), and a warning is logged for the cycle.
  int last_nonfinite_servers() const { return last_nonfinite_; }

  // Output sanity before serving: one forward on synthetic windows (a calm server and a busy,
  // rising one, full length). Throws naming the model and the first non-finite output.
  void probe_outputs();

 private:
  std::unique_ptr<tft::Model> model_;
  std::unique_ptr<tft::Engine> engine_;
  std::string description_;
  FeatureConfig config_;

  // Per-call scratch (reused).
  std::vector<WindowView> tft_views_;
  std::vector<int> tft_rows_, tft_dest_;  // feature row i → forecast row tft_dest_[i]
  std::vector<int> baseline_dest_;
  std::vector<BaselineFit> baseline_fits_;
  std::vector<BaselineFit> tft_fallbacks_;  // per feature row: its baseline, should the network fail it
  std::vector<uint8_t> row_finite_;         // per feature row
  int last_nonfinite_ = 0;
  std::string first_nonfinite_;             // where, for the probe's message
  FeatureBatch features_;
  std::vector<float> z_;
  // The engine's reduced interpretation per feature row (/explain), scattered into the batch.
  std::vector<float> static_w_, encoder_w_, decoder_w_, attention_;
  void scatter_interpretation(Interpretation& ip, int batch) const;
  void replace_nonfinite_rows(ForecastBatch& out);
};

}  // namespace nordiq::forecast
