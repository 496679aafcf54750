#include "api/alerts_endpoint.hpp"

#include "api/predictions_json.hpp"
#include "core/time.hpp"

namespace nordiq::api {

void add_alert_routes(ApiServer& api, std::shared_ptr<serve::ForecastService> service) {
  api.get("/alerts/active", Role::read, [service](const httplib::Request&, httplib::Response& res) {
    const auto snap = service->snapshot();
    nlohmann::json alerts = nlohmann::json::array();
    for (const auto& a : snap->open_alerts) alerts.push_back(alert_json(a));
    ApiServer::send_json(res, 200,
                         {{"timestamp", format_iso8601(snap->computed_at ? snap->computed_at : now_ms())},
                          {"count", alerts.size()},
                          {"alerts", std::move(alerts)}});
  });
}

}  // namespace nordiq::api
