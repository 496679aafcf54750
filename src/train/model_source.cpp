#include "train/model_source.hpp"

#include <filesystem>
#include <stdexcept>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "forecast/baseline.hpp"
#include "forecast/tft_forecaster.hpp"
#include "tft/model.hpp"

namespace nordiq::train {

ModelSource open_model(const std::string& spec, int engine_threads) {
  if (spec == "baseline")
    return {"baseline", [] { return std::make_unique<forecast::BaselineForecaster>(); }, 0, 0};
  std::filesystem::path file = spec;
  std::error_code ec;
  if (std::filesystem::is_directory(file, ec)) file /= "model.safetensors";
  if (!std::filesystem::exists(file, ec))
    throw std::invalid_argument(fmt::format(
        "--model '{}': not 'baseline', and no model file at {}", spec, file.string()));
  const std::string path = file.string();
  std::unique_ptr<tft::Model> model;
  try {
    model = tft::load_model_file(path);
    for (const std::string& w : forecast::check_model_contract(*model))
      spdlog::warn("model {}: {}", path, w);
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format("--model {}: {}", path, e.what()));
  }
  int step = 0;
  const auto& manifest = model->manifest();
  if (manifest.contains("step_seconds") && manifest["step_seconds"].is_number_integer())
    step = manifest["step_seconds"].get<int>();
  return {"tft:" + path,
          [path, engine_threads] {
            return std::make_unique<forecast::TftForecaster>(tft::load_model_file(path), "eval", engine_threads);
          },
          step, model->config().max_prediction_length};
}

}  // namespace nordiq::train
