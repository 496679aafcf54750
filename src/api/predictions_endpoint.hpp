// GET /predictions/current and GET /predictions/{server}: served from the forecast service's
// latest snapshot (never computed on a GET).
#pragma once

#include <memory>

#include "api/api_server.hpp"
#include "api/predictions_service.hpp"

namespace nordiq::api {

void add_prediction_routes(ApiServer& api, std::shared_ptr<ForecastService> service);

}  // namespace nordiq::api
