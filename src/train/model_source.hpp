// `--model` of eval: a name or path → a Forecaster factory (one instance per worker thread).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "forecast/forecaster.hpp"

namespace nordiq::train {

using ForecasterFactory = std::function<std::unique_ptr<forecast::Forecaster>()>;

struct ModelSource {
  std::string description;  // "baseline" or "tft:<path>"
  ForecasterFactory make;
  int step_seconds = 0;     // the model's step (its manifest), 0 = works with any step
  int horizon = 0;          // steps the model forecasts (its manifest), 0 = kHorizonSteps
};

// "baseline": the daemon's baseline forecaster (SPEC §2.3, forecast/baseline.hpp).
// Anything else: a model directory holding model.safetensors, or the .safetensors file itself,
// served by forecast::TftForecaster (the daemon's own feature assembly and de-normalisation).
// The model is loaded and its input contract checked here, so a bad file fails at once with a
// message naming the tensor or field; each make() loads a private copy (engine threads = 1:
// eval parallelises over windows; the alert replay, whose batch is the fleet, asks for more).
ModelSource open_model(const std::string& spec, int engine_threads = 1);

}  // namespace nordiq::train
