// GET /cascade/status and GET /cascade/health (issue #11): correlated degradation across the
// fleet as the last forecast cycle saw it (cascade/cascade_detector.hpp).
#pragma once

#include <memory>
#include <nlohmann/json.hpp>

#include "api/api_server.hpp"
#include "serve/forecast_service.hpp"

namespace nordiq::api {

void add_cascade_routes(ApiServer& api, std::shared_ptr<serve::ForecastService> service);

// The bodies, from one snapshot (tests render them without HTTP).
nlohmann::json cascade_status_json(const cascade::CascadeStatus& status);
nlohmann::json cascade_health_json(const cascade::CascadeStatus& status, const risk::FleetSummary& summary);

}  // namespace nordiq::api
