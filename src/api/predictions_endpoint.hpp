// GET /predictions/current and GET /predictions/{server}: served from the forecast service's
// latest snapshot (never computed on a GET).
#pragma once

#include <memory>

#include "api/api_server.hpp"
#include "serve/forecast_service.hpp"

namespace nordiq::api {

void add_prediction_routes(ApiServer& api, std::shared_ptr<serve::ForecastService> service);

}  // namespace nordiq::api
