// JSON of the predictions API (issue #3 item 5 shapes), written by hand from the snapshot:
// per-server fragments are rendered once per forecast on the worker thread, and a GET only
// concatenates them (a 500-server /predictions/current is a few MB of memcpy, no re-encoding).
#pragma once

#include <bitset>
#include <nlohmann/json.hpp>
#include <vector>
#include <string>

#include "serve/forecast_service.hpp"

namespace nordiq::api {

// Fixed point, 3 decimals, trailing zeros trimmed ("45.235", "-0.5", "3650"); null if not finite.
void append_number(std::string& out, double v);
void append_json_string(std::string& out, std::string_view s);  // quoted + escaped

// Fills sf.head, sf.timestamps, sf.series/spans (the default quantiles) from its values.
void render_server_fragments(serve::ServerForecast& sf);

using MetricMask = std::bitset<kNumMetrics>;
using QuantileMask = std::bitset<forecast::kNumQuantiles>;
inline QuantileMask default_quantiles() {  // p10, p50, p90
  return QuantileMask().set(forecast::kP10).set(forecast::kP50).set(forecast::kP90);
}
inline QuantileMask all_quantiles() { return QuantileMask().set(); }

// {"server_name", "profile", "risk_score", "level", "model", "current", "forecast": {...}}
void append_server_object(std::string& out, const serve::ServerForecast& sf, const MetricMask& metrics,
                          const QuantileMask& quantiles);

// The snapshot's forecast servers in the full body's order (by name).
std::vector<const serve::ServerForecast*> servers_by_name(const serve::PredictionSnapshot& snap);

// "server_name":{...}: one server's member of the "predictions" object.
void append_server_entry(std::string& out, const serve::ServerForecast& sf, const MetricMask& metrics,
                         const QuantileMask& quantiles);

nlohmann::json summary_json(const risk::FleetSummary& s, size_t open_alerts);
nlohmann::json alert_json(const risk::TrackedAlert& a);
nlohmann::json model_json(const serve::ModelStatus& m, const serve::PredictionSnapshot& snap);

}  // namespace nordiq::api
