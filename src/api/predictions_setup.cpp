#include "api/predictions_setup.hpp"

#include <filesystem>
#include <fmt/core.h>
#include <spdlog/spdlog.h>

#include "api/alerts_endpoint.hpp"
#include "api/historical_endpoint.hpp"
#include "api/metrics_endpoint.hpp"
#include "api/predictions_endpoint.hpp"
#include "core/time.hpp"
#include "forecast/baseline.hpp"

namespace nordiq::api {

std::unique_ptr<forecast::Forecaster> make_forecaster(const ServeOptions& options, ModelStatus& status) {
  const std::string name = options.model.empty() ? "default" : options.model;
  const auto file = options.models_dir / name / "model.safetensors";
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) {
    status.name = "baseline";
    status.tft_loaded = false;
    status.detail = fmt::format("no model file at {}: every server gets the baseline forecast", file.string());
    if (!options.model.empty())
      throw std::runtime_error(fmt::format("--model {}: no model file at {}", options.model, file.string()));
    return std::make_unique<forecast::BaselineForecaster>();
  }
  // The TFT forecaster plugs in here (issue #4 part 5) once its model files exist.
  status.name = "baseline";
  status.tft_loaded = false;
  status.detail = fmt::format("model file {} found but TFT serving is not enabled in this build", file.string());
  return std::make_unique<forecast::BaselineForecaster>();
}

std::shared_ptr<ForecastService> add_forecast_service(ServeContext& ctx) {
  ModelStatus status;
  auto forecaster = make_forecaster(ctx.options, status);
  auto service = std::make_shared<ForecastService>(ctx.store, std::move(forecaster), std::move(status));
  add_prediction_routes(ctx.api, service);
  add_alert_routes(ctx.api, service);
  add_historical_routes(ctx.api, service);
  add_metrics_routes(ctx.api, service);
  ctx.status_fields.push_back([service](nlohmann::json& body) {
    const auto snap = service->snapshot();
    const ModelStatus& m = service->model();
    body["model"] = {{"name", m.name}, {"type", m.tft_loaded ? "tft" : "baseline"}, {"loaded", m.tft_loaded},
                     {"detail", m.detail}};
    body["last_forecast"] = snap->computed_at ? nlohmann::json(format_iso8601(snap->computed_at)) : nlohmann::json(nullptr);
    body["forecast"] = {{"cycles", service->cycles()},
                        {"servers_forecast", snap->order.size()},
                        {"servers_tft", snap->servers_tft},
                        {"servers_baseline", snap->servers_baseline},
                        {"last_cycle_ms", snap->cycle_seconds * 1e3},
                        {"open_alerts", snap->open_alerts.size()}};
  });
  ctx.on_shutdown.push_back([service] { service->stop(); });
  service->start();
  return service;
}

}  // namespace nordiq::api
