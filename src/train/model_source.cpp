#include "train/model_source.hpp"

#include <stdexcept>

#include <fmt/format.h>

#include "forecast/baseline.hpp"

namespace nordiq::train {

ForecasterFactory model_factory(const std::string& spec) {
  if (spec == "baseline")
    return [] { return std::make_unique<forecast::BaselineForecaster>(); };
  // The TFT forecaster plugs in here once forecast/ provides it.
  throw std::invalid_argument(fmt::format(
      "--model '{}': only 'baseline' is supported by this build (TFT models are not wired yet)",
      spec));
}

}  // namespace nordiq::train
