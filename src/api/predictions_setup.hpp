// Plugs the forecast service into `nordiq serve`: the model the options choose (loaded by
// serve/model_loading), the cycle, and the routes /predictions, /alerts, /historical, /metrics,
// /drift, /explain, /cascade and /admin (models).
#pragma once

#include <memory>

#include "api/serve_context.hpp"
#include "serve/forecast_service.hpp"
#include "serve/model_loading.hpp"

namespace nordiq::api {

// The serve options' model choice (serve/model_loading.hpp).
serve::ModelChoice model_choice(const ServeOptions& options);

std::shared_ptr<serve::ForecastService> add_forecast_service(ServeContext& ctx);

}  // namespace nordiq::api
