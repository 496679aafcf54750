// `--model` of eval (and later train's warm start): a name or path → a Forecaster factory.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "forecast/forecaster.hpp"

namespace nordiq::train {

using ForecasterFactory = std::function<std::unique_ptr<forecast::Forecaster>()>;

// "baseline": the daemon's baseline forecaster (SPEC §2.3, forecast/baseline.hpp).
// Anything else: a model directory holding model.safetensors, or the file itself, served by the
// TFT forecaster. Validates the spec at once (throws naming the path); the factory is then
// called once per worker thread.
ForecasterFactory model_factory(const std::string& spec);

}  // namespace nordiq::train
