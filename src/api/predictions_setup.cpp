#include "api/predictions_setup.hpp"

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

#include <algorithm>

namespace nordiq::api {

serve::ModelChoice model_choice(const ServeOptions& options) {
  serve::ModelChoice c;
  c.models_dir = options.models_dir;
  c.data_dir = options.store.data_dir;
  c.model = options.model;
  c.step_seconds = options.store.window.step_seconds;
  c.threads = options.forecast_threads;
  return c;
}

std::shared_ptr<serve::ForecastService> add_forecast_service(ServeContext& ctx) {
  serve::ModelStatus status;
  auto forecaster = serve::make_forecaster(model_choice(ctx.options), status);
  const risk::AlertConfig alerts = ctx.options.alerts_config.empty() ? risk::default_alert_config()
                                                                     : risk::load_alert_config(ctx.options.alerts_config);
  auto service = std::make_shared<serve::ForecastService>(ctx.store, std::move(forecaster), std::move(status), alerts);
  add_prediction_routes(ctx.api, service);  // sets the service's renderer
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
