#include "api/cascade_endpoint.hpp"

#include "core/time.hpp"

namespace nordiq::api {

namespace {

using nlohmann::json;

json member_json(const cascade::CascadeMember& m) {
  return {{"server", m.server},
          {"profile", profile_id(m.profile)},
          {"since", format_iso8601(m.since)},
          {"metric", kMetrics[static_cast<int>(m.metric)].name},
          {"deviation", m.z}};
}

json cascade_json(const cascade::Cascade& c) {
  json dependents = json::array();
  for (const auto& d : c.dependents) dependents.push_back(member_json(d));
  return {{"id", c.id},
          {"suspected_source", member_json(c.source)},
          {"started_at", format_iso8601(c.started_at)},
          {"detected_at", format_iso8601(c.detected_at)},
          {"correlation", c.correlation},
          {"affected_servers", std::move(dependents)}};
}

const cascade::CascadeStatus& status_or_503(const serve::PredictionSnapshot& snap) {
  if (!snap.cascade) throw HttpError(503, "not_ready", "cascade: no forecast cycle has run yet");
  return *snap.cascade;
}

}  // namespace

json cascade_status_json(const cascade::CascadeStatus& s) {
  json cascades = json::array();
  for (const auto& c : s.cascades) cascades.push_back(cascade_json(c));
  json anomalous = json::array();
  for (const auto& m : s.anomalous_servers) anomalous.push_back(member_json(m));
  json body = {{"state", cascade::kFleetStateNames[static_cast<int>(s.state)]},
               {"evaluated_at", s.evaluated_at ? json(format_iso8601(s.evaluated_at)) : json(nullptr)},
               {"cascades", std::move(cascades)},
               {"anomalous_servers", std::move(anomalous)}};
  // The largest open cascade, flat, for clients that show one.
  if (!s.cascades.empty()) {
    const cascade::Cascade& top = s.cascades.front();
    body["suspected_source"] = top.source.server;
    body["started_at"] = format_iso8601(top.started_at);
    body["correlation"] = top.correlation;
    json affected = json::array({top.source.server});
    for (const auto& d : top.dependents) affected.push_back(d.server);
    body["affected_servers"] = std::move(affected);
  } else {
    body["suspected_source"] = nullptr;
    body["started_at"] = nullptr;
    body["correlation"] = nullptr;
    body["affected_servers"] = json::array();
  }
  return body;
}

json cascade_health_json(const cascade::CascadeStatus& s, const risk::FleetSummary& summary) {
  return {{"state", cascade::kFleetStateNames[static_cast<int>(s.state)]},
          {"fleet_health", summary.fleet_health},
          {"servers", s.servers},
          {"anomalous_servers", s.anomalous},
          {"anomaly_rate", s.anomaly_rate},
          {"cascade_risk", s.cascade_risk},
          {"active_cascades", s.cascades.size()},
          {"evaluated_at", s.evaluated_at ? json(format_iso8601(s.evaluated_at)) : json(nullptr)}};
}

void add_cascade_routes(ApiServer& api, std::shared_ptr<serve::ForecastService> service) {
  api.get("/cascade/status", Role::read, [service](const httplib::Request&, httplib::Response& res) {
    const auto snap = service->snapshot();
    ApiServer::send_json(res, 200, cascade_status_json(status_or_503(*snap)));
  });
  api.get("/cascade/health", Role::read, [service](const httplib::Request&, httplib::Response& res) {
    const auto snap = service->snapshot();
    ApiServer::send_json(res, 200, cascade_health_json(status_or_503(*snap), snap->summary));
  });
}

}  // namespace nordiq::api
