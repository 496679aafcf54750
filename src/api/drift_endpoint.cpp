#include "api/drift_endpoint.hpp"

#include <fmt/format.h>

#include "core/time.hpp"

namespace nordiq::api {

namespace {

using forecast::kCandidateNames;
using forecast::kEvalHorizons;
using forecast::kNumCandidates;
using forecast::kNumEvalHorizons;

template <class Count>
nlohmann::json served_by_json(const std::array<Count, kNumCandidates>& counts) {
  nlohmann::json j = nlohmann::json::object();
  for (int c = 0; c < kNumCandidates; ++c) j[std::string(kCandidateNames[c])] = counts[c];
  return j;
}

nlohmann::json cell_json(const forecast::DriftCell& c) {
  nlohmann::json error = {{"served", c.served_abs_err}};
  for (int i = 0; i < kNumCandidates; ++i) error[std::string(kCandidateNames[i])] = c.abs_err[i];
  return {{"mae_p50", std::move(error)},
          {"coverage_p10_p90", c.served_coverage},
          {"skill_vs_last_value", c.skill},
          {"served_by", served_by_json(c.served_by)},
          {"servers", c.servers},
          {"samples", c.samples}};
}

nlohmann::json fleet_json(const serve::PredictionSnapshot& snap) {
  const forecast::DriftSummary& d = *snap.drift;
  nlohmann::json body = drift_status_summary(&d);
  body["computed_at"] = snap.computed_at ? nlohmann::json(format_iso8601(snap.computed_at)) : nlohmann::json(nullptr);
  nlohmann::json horizons = nlohmann::json::object();
  for (int b = 0; b < kNumEvalHorizons; ++b) {
    const forecast::DriftCell& o = d.overall[b];
    horizons[kEvalHorizons[b].label] = {{"skill_vs_last_value", o.skill},
                                        {"coverage_p10_p90", o.served_coverage},
                                        {"served_by", served_by_json(o.served_by)},
                                        {"samples", o.samples}};
  }
  body["horizons"] = std::move(horizons);
  nlohmann::json metrics = nlohmann::json::object();
  for (int k = 0; k < kNumMetrics; ++k) {
    nlohmann::json per_band = nlohmann::json::object();
    for (int b = 0; b < kNumEvalHorizons; ++b) per_band[kEvalHorizons[b].label] = cell_json(d.cells[k][b]);
    metrics[std::string(kMetrics[k].name)] = std::move(per_band);
  }
  body["metrics"] = std::move(metrics);
  return body;
}

nlohmann::json server_json(const serve::ServerForecast& sf) {
  nlohmann::json metrics = nlohmann::json::object();
  for (int k = 0; k < kNumMetrics; ++k) {
    nlohmann::json per_band = nlohmann::json::object();
    for (int b = 0; b < kNumEvalHorizons; ++b) {
      const forecast::BandSkill& s = sf.skill[k][b];
      const int served = static_cast<int>(s.served);
      nlohmann::json error = {{"served", s.served_abs_err}};
      for (int i = 0; i < kNumCandidates; ++i) error[std::string(kCandidateNames[i])] = s.abs_err[i];
      per_band[kEvalHorizons[b].label] = {{"served", kCandidateNames[sf.served_by[k][b]]},
                                          {"mae_p50", std::move(error)},
                                          {"coverage_p10_p90", s.served_coverage},
                                          {"skill_vs_last_value", s.skill()},
                                          {"band_factor", s.width[served]},
                                          {"samples", s.samples},
                                          {"switches", s.switches}};
    }
    metrics[std::string(kMetrics[k].name)] = std::move(per_band);
  }
  return {{"server", sf.name}, {"last_step", format_iso8601(sf.last_step)}, {"metrics", std::move(metrics)}};
}

}  // namespace

nlohmann::json drift_status_summary(const forecast::DriftSummary* drift) {
  if (!drift) return nullptr;
  return {{"servers_scored", drift->servers_scored},
          {"skill_vs_last_value", drift->skill},
          {"coverage_p10_p90", drift->coverage},
          {"target_coverage", forecast::kTargetCoverage},
          {"served_by", served_by_json(drift->served_by)}};
}

void add_drift_routes(ApiServer& api, std::shared_ptr<serve::ForecastService> service) {
  api.get("/drift/status", Role::read, [service](const httplib::Request& req, httplib::Response& res) {
    const auto snap = service->snapshot();
    if (!req.has_param("server")) {
      if (!snap->drift)
        throw HttpError(503, "not_tracking", "forecast accuracy is not tracked: no forecast cycle has run yet");
      ApiServer::send_json(res, 200, fleet_json(*snap));
      return;
    }
    const std::string name = req.get_param_value("server");
    const auto id = service->store().windows().read([&](const WindowStore& w) { return w.find(name); });
    if (!id) throw HttpError(404, "not_found", fmt::format("server: unknown server '{}'", name));
    const serve::ServerForecast* sf = snap->find(*id);
    if (sf == nullptr || !sf->served)
      throw HttpError(404, "not_found", fmt::format("server: '{}' has no served forecast yet", name));
    ApiServer::send_json(res, 200, server_json(*sf));
  });
}

}  // namespace nordiq::api
