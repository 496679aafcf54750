// The model registry (SPEC §2.2, §2.4): the model directories under --models-dir, each holding
// `model.safetensors` with its manifest. Names are plain names that resolve only inside the
// models dir (no paths, no "..", no symlink out of it), and loading a model validates it fully
// (tensors, finite weights, the input contract, the daemon's step) before anyone may serve it.
#pragma once

#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "tft/model.hpp"

namespace nordiq::lifecycle {

inline constexpr std::string_view kModelFile = "model.safetensors";
inline constexpr std::string_view kDefaultModelName = "default";

// A name that is not a plain model name, or a model that does not exist (the HTTP layer maps
// these to 400 and 404).
struct ModelNameError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};
struct ModelNotFound : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// 1–64 characters of [A-Za-z0-9._-], starting with a letter or digit.
bool is_model_name(std::string_view name);

// <models_dir>/<name>/model.safetensors. Throws ModelNameError for a name that is not plain or
// that leaves the models dir through a symlink, ModelNotFound when there is no model file.
std::filesystem::path model_file(const std::filesystem::path& models_dir, std::string_view name);

// Loads and validates the model (throws std::runtime_error naming the file and the bad tensor or
// field). `step_seconds` > 0: the model's step must be the daemon's.
std::unique_ptr<tft::Model> load_validated_model(const std::filesystem::path& file, int step_seconds);

// The manifest summary the registry shows: created, data span, validation loss, evaluation,
// hidden size, bytes. Reads the file's header only.
nlohmann::json model_summary(const std::filesystem::path& file);

// Every model directory of `models_dir`, sorted by name, each {"name", "current", ...summary};
// a directory whose model file cannot be read is listed with an "error" instead.
nlohmann::json list_models(const std::filesystem::path& models_dir, std::string_view current);

}  // namespace nordiq::lifecycle
