// GET /metrics: Prometheus text exposition (format 0.0.4) — per-server risk and level, forecast
// p10/p50/p90 at +30 m, +1 h and +8 h per metric, ingest and forecast-cycle latency histograms,
// counters and fleet gauges. The per-server part is rendered from the snapshot per request.
#pragma once

#include <memory>
#include <string>

#include "api/api_server.hpp"
#include "serve/forecast_service.hpp"

namespace nordiq::api {

// The exposition text (also used by tests and `promtool check metrics`).
std::string render_prometheus(const serve::ForecastService& service);

void add_metrics_routes(ApiServer& api, std::shared_ptr<serve::ForecastService> service);

}  // namespace nordiq::api
