#include "lifecycle/model_registry.hpp"

#include <algorithm>
#include <cstdint>
#include <fstream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "forecast/tft_forecaster.hpp"

namespace nordiq::lifecycle {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// The manifest from the file's header only (u64 length, JSON header): listing a registry of
// many models must not read every weight.
json read_header_manifest(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error(fmt::format("{}: cannot open", file.string()));
  uint8_t len_bytes[8] = {};
  in.read(reinterpret_cast<char*>(len_bytes), 8);
  uint64_t len = 0;
  for (int i = 7; i >= 0; --i) len = (len << 8) | len_bytes[i];
  constexpr uint64_t kMaxHeader = 64ull << 20;
  if (!in || len == 0 || len > kMaxHeader)
    throw std::runtime_error(fmt::format("{}: not a safetensors file (header length {})", file.string(), len));
  std::string header(static_cast<size_t>(len), '\0');
  in.read(header.data(), static_cast<std::streamsize>(len));
  if (!in) throw std::runtime_error(fmt::format("{}: truncated header", file.string()));
  const json h = json::parse(header, nullptr, false);
  if (h.is_discarded() || !h.is_object()) throw std::runtime_error(fmt::format("{}: header is not JSON", file.string()));
  const auto meta = h.find("__metadata__");
  if (meta == h.end() || !meta->is_object() || !meta->contains("config") || !(*meta)["config"].is_string())
    throw std::runtime_error(fmt::format("{}: no manifest (__metadata__[\"config\"] is missing)", file.string()));
  json manifest = json::parse((*meta)["config"].get<std::string>(), nullptr, false);
  if (manifest.is_discarded() || !manifest.is_object())
    throw std::runtime_error(fmt::format("{}: manifest is not valid JSON", file.string()));
  return manifest;
}

}  // namespace

bool is_model_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); };
  if (!alnum(name.front())) return false;
  return std::all_of(name.begin(), name.end(), [&](char c) { return alnum(c) || c == '.' || c == '_' || c == '-'; });
}

fs::path model_file(const fs::path& models_dir, std::string_view name) {
  if (!is_model_name(name))
    throw ModelNameError(fmt::format("model: '{}' is not a model name (1–64 of A–Z a–z 0–9 . _ -, "
                                     "starting with a letter or digit; names resolve only inside the models dir)",
                                     name.substr(0, 80)));
  const fs::path file = models_dir / std::string(name) / std::string(kModelFile);
  std::error_code ec;
  if (!fs::is_regular_file(file, ec))
    throw ModelNotFound(fmt::format("model: no model '{}' (no {} in {})", name, kModelFile, models_dir.string()));
  // A symlinked model directory or file must still lie inside the models dir.
  const fs::path root = fs::weakly_canonical(models_dir, ec);
  const fs::path real = fs::weakly_canonical(file, ec);
  const auto rel = real.lexically_relative(root);
  if (ec || rel.empty() || *rel.begin() == "..")
    throw ModelNameError(fmt::format("model: '{}' resolves outside the models dir", name));
  return file;
}

std::unique_ptr<tft::Model> load_validated_model(const fs::path& file, int step_seconds) {
  auto model = tft::load_model_file(file.string());
  for (const std::string& w : forecast::check_model_contract(*model)) spdlog::warn("model {}: {}", file.string(), w);
  const json& manifest = model->manifest();
  if (step_seconds > 0 && manifest.value("step_seconds", 0) != step_seconds)
    throw std::runtime_error(fmt::format("{}: manifest step_seconds {} is not the daemon's step ({} s)", file.string(),
                                         manifest.value("step_seconds", 0), step_seconds));
  return model;
}

json model_summary(const fs::path& file) {
  const json manifest = read_header_manifest(file);
  const json provenance = manifest.value("provenance", json::object());
  const json arch = manifest.value("model", json::object());
  std::error_code ec;
  const auto bytes = fs::file_size(file, ec);
  json out = {
      {"file", file.string()},
      {"bytes", ec ? 0 : static_cast<int64_t>(bytes)},
      {"created_at", provenance.value("created_at", manifest.value("created_at", json(nullptr)))},
      {"data_first_step", provenance.value("data_first_step", json(nullptr))},
      {"data_last_step", provenance.value("data_last_step", json(nullptr))},
      {"validation_loss", provenance.value("best_validation_loss", json(nullptr))},
      {"epochs", provenance.value("epochs", json(nullptr))},
      {"hidden_size", arch.value("hidden_size", json(nullptr))},
      {"step_seconds", manifest.value("step_seconds", json(nullptr))},
      // Written by a training job of the daemon (lifecycle/training_job.cpp): its held-out scores.
      {"evaluation", manifest.value("evaluation", json(nullptr))},
  };
  return out;
}

json list_models(const fs::path& models_dir, std::string_view current) {
  json models = json::array();
  std::error_code ec;
  std::vector<std::string> names;
  for (fs::directory_iterator it(models_dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_directory(ec) && is_model_name(it->path().filename().string())) names.push_back(it->path().filename().string());
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    json entry = {{"name", name}, {"current", name == current}};
    try {
      entry.update(model_summary(model_file(models_dir, name)));
    } catch (const ModelNotFound&) {
      continue;  // a directory without a model file is not a model
    } catch (const std::exception& e) {
      entry["error"] = e.what();
    }
    models.push_back(std::move(entry));
  }
  return models;
}

}  // namespace nordiq::lifecycle
