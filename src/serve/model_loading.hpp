// Which model a daemon serves, and loading it: the TFT from <models dir>/<name> when a model file
// exists, else the baseline for everyone (said in /status), wrapped in the serving safety net.
// Serving's concern, not HTTP's: `nordiq serve`, a model reload over HTTP and `nordiq bench` all
// load through here.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "forecast/forecaster.hpp"
#include "serve/forecast_service.hpp"
#include "tft/model.hpp"

namespace nordiq::serve {

struct ModelChoice {
  std::filesystem::path models_dir = "models";
  std::filesystem::path data_dir;  // where the last served model's name is kept (kServedModelFile)
  std::string model;               // a name inside models_dir; "" = the last served, else the default
  int step_seconds = 300;          // the daemon's step: a model trained on another one is refused
  int threads = 0;                 // the forecast cycle's threads; 0 = one per core
};

// The file in the data dir naming the model reloaded or promoted last, so it survives restarts.
inline constexpr const char* kServedModelFile = "served_model";

// The model to load at start: --model, else the one named in kServedModelFile (when it still
// exists), else "default".
std::string served_model_name(const ModelChoice& choice);

// Writes `name` to kServedModelFile atomically (a crash leaves the old name or the new one); a
// failure is logged, and a restart then serves the previous choice.
void remember_served_model(const std::filesystem::path& data_dir, const std::string& name);

// The TFT forecaster over a validated model on `threads` threads (0: one per core), and its
// status (provenance and held-out scores from the manifest). Refuses a model whose probe
// forward is not finite.
std::unique_ptr<forecast::Forecaster> make_tft_model(std::unique_ptr<tft::Model> model, const std::string& name,
                                                     const std::filesystem::path& file, int threads, ModelStatus& status);

// The served forecaster (forecast/served_forecaster.hpp: the online accuracy tracker choosing
// between the model and the robust candidates) over the chosen model. Never throws for a missing
// default model (the baseline serves); a model file that exists but is invalid, or a --model
// that does not exist, is an error naming the problem.
std::unique_ptr<forecast::Forecaster> make_forecaster(const ModelChoice& choice, ModelStatus& status);

}  // namespace nordiq::serve
