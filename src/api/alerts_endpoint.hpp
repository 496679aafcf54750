// GET /alerts/active: the open alerts of the latest snapshot, most urgent first.
#pragma once

#include <memory>

#include "api/api_server.hpp"
#include "serve/forecast_service.hpp"

namespace nordiq::api {

void add_alert_routes(ApiServer& api, std::shared_ptr<serve::ForecastService> service);

}  // namespace nordiq::api
