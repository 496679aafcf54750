#include "api/model_admin_endpoint.hpp"

#include <filesystem>
#include <fstream>
#include <mutex>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "serve/model_loading.hpp"
#include "core/time.hpp"
#include "lifecycle/model_registry.hpp"
#include "lifecycle/training_job.hpp"

namespace nordiq::api {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kAccuracyOnReload =
    "restarted: the per-server accuracy the safety net measured belonged to the previous model, so "
    "its error records restart and the new model is served until a classical candidate is measured "
    "10 % better on 12 scored forecasts; the classical candidates' band calibration is kept";

class ModelAdmin {
 public:
  ModelAdmin(const ServeOptions& options, std::shared_ptr<serve::ForecastService> service)
      : options_(options), service_(std::move(service)) {}

  // Loads and validates `name`, swaps it in between cycles and remembers it for restarts.
  // Throws lifecycle::ModelNameError / ModelNotFound, or std::runtime_error for an invalid model
  // (the served model is untouched in every case).
  json reload(const std::string& name) {
    std::lock_guard lock(mutex_);
    const fs::path file = lifecycle::model_file(options_.models_dir, name);
    auto model = lifecycle::load_validated_model(file, options_.store.window.step_seconds);
    serve::ModelStatus status;
    auto forecaster = serve::make_tft_model(std::move(model), name, file, options_.forecast_threads, status);
    status.info["loaded_at"] = format_iso8601(now_ms());
    const std::string previous = service_->model().name;
    service_->replace_model(std::move(forecaster), status);
    remember(name);
    spdlog::info("model: now serving '{}' (was '{}')", name, previous);
    return {{"status", "reloaded"}, {"model", name}, {"previous", previous},
            {"accuracy_tracking", kAccuracyOnReload}, {"info", status.info}};
  }

  lifecycle::ServedModelRef current() const {
    const serve::ModelStatus m = service_->model();
    if (!m.tft_loaded) return {};
    return {m.name, m.info.value("file", std::string())};
  }

  json info() const {
    const serve::ModelStatus m = service_->model();
    return {{"name", m.name}, {"type", m.tft_loaded ? "tft" : "baseline"}, {"loaded", m.tft_loaded},
            {"detail", m.detail}, {"info", m.info}, {"models_dir", options_.models_dir.string()}};
  }

 private:
  void remember(const std::string& name) { serve::remember_served_model(options_.store.data_dir, name); }

  const ServeOptions& options_;
  std::shared_ptr<serve::ForecastService> service_;
  std::mutex mutex_;
};

// The JSON object of a request body ("" = {}); 400 naming the problem otherwise.
bool parse_object(const httplib::Request& req, httplib::Response& res, json& out) {
  if (req.body.find_first_not_of(" \t\r\n") == std::string::npos) {
    out = json::object();
    return true;
  }
  out = json::parse(req.body, nullptr, false);
  if (out.is_discarded() || !out.is_object()) {
    ApiServer::send_error(res, 400, "invalid_body", "body: must be a JSON object");
    return false;
  }
  return true;
}

void add_registry_routes(ApiServer& api, const ServeOptions& options, const std::shared_ptr<ModelAdmin>& admin) {
  api.get("/admin/models", Role::admin, [&options, admin](const httplib::Request&, httplib::Response& res) {
    const std::string current = admin->current().name;
    ApiServer::send_json(res, 200, {{"models_dir", options.models_dir.string()},
                                    {"current", current.empty() ? "baseline" : current},
                                    {"models", lifecycle::list_models(options.models_dir, current)}});
  });
  api.get("/admin/model-info", Role::admin, [admin](const httplib::Request&, httplib::Response& res) {
    ApiServer::send_json(res, 200, admin->info());
  });
  api.post("/admin/reload-model", Role::admin, [admin](const httplib::Request& req, httplib::Response& res) {
    json body;
    if (!parse_object(req, res, body)) return;
    const auto it = body.find("model");
    if (it == body.end() || !it->is_string())
      return ApiServer::send_error(res, 400, "invalid_field", "model: required, the name of a model directory");
    try {
      ApiServer::send_json(res, 200, admin->reload(it->get<std::string>()));
    } catch (const lifecycle::ModelNameError& e) {
      ApiServer::send_error(res, 400, "invalid_field", e.what());
    } catch (const lifecycle::ModelNotFound& e) {
      ApiServer::send_error(res, 404, "model_not_found", e.what());
    } catch (const std::exception& e) {
      ApiServer::send_error(res, 422, "model_invalid",
                            fmt::format("model: {} (the served model is unchanged)", e.what()));
    }
  });
}

void add_training_routes(ApiServer& api, const std::shared_ptr<lifecycle::TrainingJobs>& jobs) {
  api.post("/admin/trigger-training", Role::admin, [jobs](const httplib::Request& req, httplib::Response& res) {
    json body;
    if (!parse_object(req, res, body)) return;
    lifecycle::TrainingRequest request;
    try {
      request = lifecycle::parse_training_request(body);
    } catch (const lifecycle::TrainingRequestError& e) {
      return ApiServer::send_error(res, 400, "invalid_field", e.what());
    }
    if (!jobs->start(request))
      return ApiServer::send_error(res, 409, "training_running",
                                   "a training job is running: see GET /admin/training-status, or POST /admin/cancel-training");
    ApiServer::send_json(res, 202, jobs->status());
  });
  api.get("/admin/training-status", Role::admin, [jobs](const httplib::Request&, httplib::Response& res) {
    ApiServer::send_json(res, 200, jobs->status());
  });
  api.post("/admin/cancel-training", Role::admin, [jobs](const httplib::Request&, httplib::Response& res) {
    if (!jobs->cancel()) return ApiServer::send_error(res, 409, "no_training_job", "no training job is running");
    ApiServer::send_json(res, 202, jobs->status());
  });
}

}  // namespace

void add_model_admin_routes(ServeContext& ctx, const std::shared_ptr<serve::ForecastService>& service) {
  auto admin = std::make_shared<ModelAdmin>(ctx.options, service);
  add_registry_routes(ctx.api, ctx.options, admin);
  lifecycle::TrainingSettings settings;
  settings.data_dir = ctx.options.store.data_dir;
  settings.models_dir = ctx.options.models_dir;
  settings.step_seconds = ctx.options.store.window.step_seconds;
  settings.threads = ctx.options.training_threads;
  settings.priority = ctx.options.training_priority;
  auto jobs = std::make_shared<lifecycle::TrainingJobs>(
      settings, [admin] { return admin->current(); },
      [admin](const std::string& name) -> std::string {
        try {
          admin->reload(name);
          return "";
        } catch (const std::exception& e) {
          return e.what();
        }
      });
  add_training_routes(ctx.api, jobs);
  // Before the forecast service stops: a job's promotion needs it.
  ctx.on_shutdown.push_back([jobs] {
    jobs->cancel();
    jobs->wait();
  });
}

}  // namespace nordiq::api
