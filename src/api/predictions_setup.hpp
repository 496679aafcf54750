// Plugs the forecast service into `nordiq serve`: picks the model (the TFT from --models-dir /
// --model when a model file exists, else the baseline for everyone, said in /status), starts
// the cycle, and registers /predictions, /alerts, /historical and /metrics.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "serve/forecast_service.hpp"
#include "api/serve_context.hpp"
#include "tft/model.hpp"

namespace nordiq::api {

// The served forecaster (forecast/served_forecaster.hpp: the online accuracy tracker choosing
// between the model and the robust candidates) over the model for the serve options (never throws for a missing model: the baseline
// serves; a model file that exists but is invalid is a startup error naming the problem).
std::unique_ptr<forecast::Forecaster> make_forecaster(const ServeOptions& options, serve::ModelStatus& status);

// The model to load at start: --model, else the one last reloaded or promoted (kServedModelFile
// in the data dir, when it still exists), else "default".
inline constexpr const char* kServedModelFile = "served_model";
std::string served_model_name(const ServeOptions& options);

// The TFT forecaster over a validated model, on `options.forecast_threads`, and its status
// (provenance and held-out scores from the manifest).
std::unique_ptr<forecast::Forecaster> make_tft_model(std::unique_ptr<tft::Model> model, const std::string& name,
                                                     const std::filesystem::path& file, const ServeOptions& options,
                                                     serve::ModelStatus& status);

std::shared_ptr<serve::ForecastService> add_forecast_service(ServeContext& ctx);

}  // namespace nordiq::api
