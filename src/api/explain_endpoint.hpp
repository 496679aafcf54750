// GET /explain/{server} (SPEC §4, issue #13): why a server's forecast and risk are what they are,
// from the TFT's own interpretation outputs kept from the last forecast cycle (variable
// selection weights, attention; no extra forward per request):
//   - static, encoder and decoder variable importances, each group normalised to 1 and ranked;
//   - attention over the server's past steps, grouped into 30-minute periods, the top ones with
//     their timestamps and share;
//   - "what drives the risk": the riskiest signal's present and forecast, tied to the inputs the
//     model weighs most and to the open alert, in words;
//   - which forecaster serves the risk's metric per horizon band and its recent accuracy.
// A server on a baseline forecast says so (no invented explanation); an unknown server is 404.
#pragma once

#include <memory>
#include <span>
#include <string>

#include <nlohmann/json.hpp>

#include "api/api_server.hpp"
#include "serve/forecast_service.hpp"

namespace nordiq::api {

inline constexpr int kFocusPeriodSteps = 6;  // attention grouped into 30-minute periods
inline constexpr int kTopFocusPeriods = 3;

// The explanation of `sf` (`alerts`: its open alerts; `model_name`: the served model).
nlohmann::json explain_server(const serve::ServerForecast& sf, std::span<const risk::TrackedAlert* const> alerts,
                              const std::string& model_name);

void add_explain_routes(ApiServer& api, std::shared_ptr<serve::ForecastService> service);

}  // namespace nordiq::api
