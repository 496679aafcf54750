#include "serve/model_loading.hpp"

#include <fmt/core.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <fstream>
#include <thread>

#include "core/window.hpp"
#include "forecast/baseline.hpp"
#include "forecast/served_forecaster.hpp"
#include "forecast/tft_forecaster.hpp"
#include "lifecycle/model_registry.hpp"

namespace nordiq::serve {

namespace {

// The model (TFT or baseline) without the serving safety net.
std::unique_ptr<forecast::Forecaster> make_model(const ModelChoice& choice, ModelStatus& status) {
  const std::string name = served_model_name(choice);
  std::filesystem::path file;
  try {
    file = lifecycle::model_file(choice.models_dir, name);
  } catch (const lifecycle::ModelNotFound& e) {
    if (!choice.model.empty()) throw std::runtime_error(fmt::format("--model {}: {}", choice.model, e.what()));
    status.name = "baseline";
    status.tft_loaded = false;
    status.detail = fmt::format("no model file at {}: every server gets the baseline forecast",
                                (choice.models_dir / name / std::string(lifecycle::kModelFile)).string());
    return std::make_unique<forecast::BaselineForecaster>();
  }
  // A model file that exists but is invalid is a startup error (naming the tensor/field):
  // silently falling back to a heuristic is what the predecessor did for months.
  return make_tft_model(lifecycle::load_validated_model(file, choice.step_seconds), name, file, choice.threads, status);
}

}  // namespace

std::string served_model_name(const ModelChoice& choice) {
  if (!choice.model.empty()) return choice.model;
  std::ifstream in(choice.data_dir / kServedModelFile);
  std::string name;
  if (in && std::getline(in, name) && lifecycle::is_model_name(name)) {
    std::error_code ec;
    if (std::filesystem::exists(choice.models_dir / name / std::string(lifecycle::kModelFile), ec)) return name;
    spdlog::warn("model: {} names '{}', which is no longer in {}: serving the default", kServedModelFile, name,
                 choice.models_dir.string());
  }
  return std::string(lifecycle::kDefaultModelName);
}

void remember_served_model(const std::filesystem::path& data_dir, const std::string& name) {
  const std::filesystem::path file = data_dir / kServedModelFile, tmp = file.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << name << '\n';
    if (!out.flush()) {
      spdlog::warn("model: could not write {}: a restart serves the previous choice", tmp.string());
      return;
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, file, ec);
  if (ec) spdlog::warn("model: could not replace {}: {}", file.string(), ec.message());
}

std::unique_ptr<forecast::Forecaster> make_tft_model(std::unique_ptr<tft::Model> model, const std::string& name,
                                                     const std::filesystem::path& file, int threads, ModelStatus& status) {
  const nlohmann::json& manifest = model->manifest();
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  status.info = {{"file", file.string()},
                 {"hidden_size", model->config().hidden},
                 {"max_encoder_length", model->config().max_encoder_length},
                 {"max_prediction_length", model->config().max_prediction_length},
                 {"threads", threads}};
  // The trainer writes its provenance (data span, epochs, validation loss, created at) under
  // "provenance", and a daemon training job its held-out scores under "evaluation".
  for (const char* key : {"provenance", "evaluation", "created_at", "format_version"})
    if (manifest.contains(key)) status.info[key] = manifest[key];
  auto forecaster = std::make_unique<forecast::TftForecaster>(std::move(model), name, threads);
  forecaster->probe_outputs();  // finite weights can still overflow: refuse before serving (#14)
  status.name = name;
  status.tft_loaded = true;
  status.detail = fmt::format("TFT from {}; servers with < {} steps get the baseline", file.string(), kMinEncoderSteps);
  return forecaster;
}

std::unique_ptr<forecast::Forecaster> make_forecaster(const ModelChoice& choice, ModelStatus& status) {
  const int64_t step_ms = static_cast<int64_t>(choice.step_seconds) * 1000;
  return std::make_unique<forecast::ServedForecaster>(make_model(choice, status), step_ms);
}

}  // namespace nordiq::serve
