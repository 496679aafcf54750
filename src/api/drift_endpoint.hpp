// GET /drift/status: how well the served forecasts have done against the actuals, per metric and
// horizon band, and which forecaster serves them (forecast/skill_tracker.hpp); `?server=NAME`
// gives one server's view. Also the summary that /status shows under "forecast_quality".
#pragma once

#include <memory>
#include <nlohmann/json.hpp>

#include "api/api_server.hpp"
#include "serve/forecast_service.hpp"

namespace nordiq::api {

void add_drift_routes(ApiServer& api, std::shared_ptr<serve::ForecastService> service);

// {servers_scored, skill_vs_last_value, coverage_p10_p90, target_coverage, served_by}; null
// without a tracker.
nlohmann::json drift_status_summary(const forecast::DriftSummary* drift);

}  // namespace nordiq::api
