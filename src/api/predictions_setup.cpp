#include "api/predictions_setup.hpp"

#include <filesystem>
#include <fmt/core.h>
#include <spdlog/spdlog.h>

#include "api/alertmanager_notifier.hpp"
#include "api/alerts_endpoint.hpp"
#include "api/historical_endpoint.hpp"
#include "api/metrics_endpoint.hpp"
#include "api/model_admin_endpoint.hpp"
#include "api/predictions_endpoint.hpp"
#include "api/predictions_json.hpp"
#include "core/thread_priority.hpp"
#include "core/time.hpp"
#include "api/cascade_endpoint.hpp"
#include "api/drift_endpoint.hpp"
#include "api/explain_endpoint.hpp"
#include "forecast/baseline.hpp"
#include "forecast/served_forecaster.hpp"
#include "forecast/tft_forecaster.hpp"
#include "tft/model.hpp"
#include "lifecycle/model_registry.hpp"
#include <fstream>

#include <algorithm>
#include <thread>

namespace nordiq::api {

namespace {

// The model (TFT or baseline) without the serving safety net.
std::unique_ptr<forecast::Forecaster> make_model(const ServeOptions& options, serve::ModelStatus& status) {
  const std::string name = served_model_name(options);
  std::filesystem::path file;
  try {
    file = lifecycle::model_file(options.models_dir, name);
  } catch (const lifecycle::ModelNotFound& e) {
    if (!options.model.empty()) throw std::runtime_error(fmt::format("--model {}: {}", options.model, e.what()));
    status.name = "baseline";
    status.tft_loaded = false;
    status.detail = fmt::format("no model file at {}: every server gets the baseline forecast",
                                (options.models_dir / name / std::string(lifecycle::kModelFile)).string());
    return std::make_unique<forecast::BaselineForecaster>();
  }
  // A model file that exists but is invalid is a startup error (naming the tensor/field):
  // silently falling back to a heuristic is what the predecessor did for months.
  return make_tft_model(lifecycle::load_validated_model(file, options.store.window.step_seconds), name, file, options,
                        status);
}

}  // namespace

std::string served_model_name(const ServeOptions& options) {
  if (!options.model.empty()) return options.model;
  // The model promoted or reloaded last (POST /admin/reload-model, a training job) survives restarts.
  std::ifstream in(options.store.data_dir / kServedModelFile);
  std::string name;
  if (in && std::getline(in, name) && lifecycle::is_model_name(name)) {
    std::error_code ec;
    if (std::filesystem::exists(options.models_dir / name / std::string(lifecycle::kModelFile), ec)) return name;
    spdlog::warn("model: {} names '{}', which is no longer in {}: serving the default", kServedModelFile, name,
                 options.models_dir.string());
  }
  return std::string(lifecycle::kDefaultModelName);
}

std::unique_ptr<forecast::Forecaster> make_tft_model(std::unique_ptr<tft::Model> model, const std::string& name,
                                                     const std::filesystem::path& file, const ServeOptions& options,
                                                     serve::ModelStatus& status) {
  const nlohmann::json& manifest = model->manifest();
  const int threads = options.forecast_threads > 0 ? options.forecast_threads
                                                  : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
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


std::unique_ptr<forecast::Forecaster> make_forecaster(const ServeOptions& options, serve::ModelStatus& status) {
  const int64_t step_ms = static_cast<int64_t>(options.store.window.step_seconds) * 1000;
  return std::make_unique<forecast::ServedForecaster>(make_model(options, status), step_ms);
}

std::shared_ptr<serve::ForecastService> add_forecast_service(ServeContext& ctx) {
  serve::ModelStatus status;
  auto forecaster = make_forecaster(ctx.options, status);
  const risk::AlertConfig alerts = ctx.options.alerts_config.empty() ? risk::default_alert_config()
                                                                     : risk::load_alert_config(ctx.options.alerts_config);
  auto service = std::make_shared<serve::ForecastService>(ctx.store, std::move(forecaster), std::move(status), alerts);
  service->set_renderer(render_server_fragments);
  add_prediction_routes(ctx.api, service);
  add_alert_routes(ctx.api, service);
  add_historical_routes(ctx.api, service);
  add_metrics_routes(ctx.api, service);
  add_drift_routes(ctx.api, service);
  add_explain_routes(ctx.api, service);
  add_cascade_routes(ctx.api, service);
  add_model_admin_routes(ctx, service);
  ctx.status_fields.push_back([service](nlohmann::json& body) {
    const auto snap = service->snapshot();
    const serve::ModelStatus& m = service->model();
    body["model"] = {{"name", m.name}, {"type", m.tft_loaded ? "tft" : "baseline"}, {"loaded", m.tft_loaded},
                     {"detail", m.detail}, {"provenance", m.info.value("provenance", nlohmann::json(nullptr))}};
    body["last_forecast"] = snap->computed_at ? nlohmann::json(format_iso8601(snap->computed_at)) : nlohmann::json(nullptr);
    body["forecast"] = {{"cycles", service->cycles()},
                        {"servers_forecast", snap->order.size()},
                        {"servers_tft", snap->servers_tft},
                        {"servers_baseline", snap->servers_baseline},
                        {"last_cycle_ms", snap->cycle_seconds * 1e3},
                        {"threads", m.info.value("threads", nlohmann::json(nullptr))},
                        {"nice", batch_nice()},
                        {"open_alerts", snap->open_alerts.size()}};
    body["forecast_quality"] = drift_status_summary(snap->drift.get());
  });
  if (!ctx.options.alertmanager_url.empty()) {
    AlertmanagerOptions am{.url = ctx.options.alertmanager_url, .external_url = {}};
    am.external_url = [&ctx] {
      if (!ctx.options.external_url.empty()) return ctx.options.external_url;
      return fmt::format("http://{}:{}", ctx.options.http.host, ctx.api.port());
    };
    auto notifier = std::make_shared<AlertmanagerNotifier>(std::move(am));
    service->add_cycle_listener([notifier](const serve::PredictionSnapshot& snap, std::span<const risk::AlertEvent> events) {
      notifier->publish(snap, events, now_ms());
    });
    notifier->start();
    ctx.on_shutdown.push_back([notifier] { notifier->stop(); });  // runs after the service has stopped
    spdlog::info("alerts are posted to Alertmanager at {}", ctx.options.alertmanager_url);
  }
  ctx.on_shutdown.push_back([service] { service->stop(); });
  service->start();
  return service;
}

}  // namespace nordiq::api
