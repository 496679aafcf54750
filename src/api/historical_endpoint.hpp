// GET /historical/summary|alerts|environment|server/{s} and /historical/export/{alerts,environment}
// (?time_range=30m|1h|8h|1d|1w|1M, default 1d): the alert events, fleet snapshots and per-server
// risk rows the forecast service records each cycle. Exports are text/csv.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "api/api_server.hpp"
#include "serve/forecast_service.hpp"

namespace nordiq::api {

// Milliseconds of a time_range value, nullopt if it is not one of the accepted values.
std::optional<int64_t> parse_time_range(std::string_view s);

void add_historical_routes(ApiServer& api, std::shared_ptr<serve::ForecastService> service);

}  // namespace nordiq::api
