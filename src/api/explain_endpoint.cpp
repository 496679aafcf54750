#include "api/explain_endpoint.hpp"

#include <algorithm>
#include <numeric>
#include <vector>

#include <fmt/format.h>

#include "api/predictions_json.hpp"
#include "core/time.hpp"
#include "forecast/contract.hpp"
#include "forecast/skill_tracker.hpp"
#include "risk/risk_score.hpp"

namespace nordiq::api {

using nlohmann::json;

namespace {

struct Ranked {
  std::string name;
  double importance;
};

// Normalised to sum 1 (the weights already nearly do: a mean of softmax rows), largest first.
std::vector<Ranked> rank(const std::vector<float>& weights, const std::vector<std::string>& names) {
  const double total = std::accumulate(weights.begin(), weights.end(), 0.0);
  std::vector<Ranked> out;
  for (size_t i = 0; i < weights.size() && i < names.size(); ++i)
    out.push_back({names[i], total > 0 ? weights[i] / total : 0.0});
  std::stable_sort(out.begin(), out.end(), [](const Ranked& a, const Ranked& b) { return a.importance > b.importance; });
  return out;
}

json ranked_json(const std::vector<Ranked>& r) {
  json out = json::array();
  for (const Ranked& x : r) out.push_back({{"variable", x.name}, {"importance", x.importance}});
  return out;
}

// Attention over past steps in 30-minute periods aligned on the newest step; the top ones.
json focus_periods(const serve::ServerForecast& sf, const std::vector<float>& attention) {
  const int n = static_cast<int>(attention.size());
  const double total = std::accumulate(attention.begin(), attention.end(), 0.0);
  struct Period {
    int first, last;  // positions, oldest = 0
    double share;
  };
  std::vector<Period> periods;
  for (int last = n - 1; last >= 0; last -= kFocusPeriodSteps) {
    const int first = std::max(0, last - kFocusPeriodSteps + 1);
    double s = 0;
    for (int i = first; i <= last; ++i) s += attention[static_cast<size_t>(i)];
    periods.push_back({first, last, total > 0 ? s / total : 0.0});
  }
  std::stable_sort(periods.begin(), periods.end(), [](const Period& a, const Period& b) { return a.share > b.share; });
  json out = json::array();
  auto step_start = [&](int pos) { return sf.last_step - static_cast<int64_t>(n - 1 - pos) * sf.step_ms; };
  for (size_t i = 0; i < periods.size() && i < static_cast<size_t>(kTopFocusPeriods); ++i) {
    const Period& p = periods[i];
    out.push_back({{"from", format_iso8601(step_start(p.first))},
                   {"to", format_iso8601(step_start(p.last) + sf.step_ms)},
                   {"hours_before_forecast", static_cast<double>(sf.last_step - step_start(p.last)) / 3.6e6},
                   {"share", p.share}});
  }
  return out;
}

// The driver signal's present and +8 h forecast in its own terms (CPU used = 100 − idle).
struct Outlook {
  double now, p50, p90;
};
Outlook signal_outlook(const serve::ServerForecast& sf, risk::Signal s) {
  const int k = risk::metric_of_signal(s), end = sf.horizon - 1;
  if (s == risk::Signal::cpu)
    return {100.0 - sf.current[k], 100.0 - sf.path(k, forecast::kP50)[end], 100.0 - sf.path(k, forecast::kP10)[end]};
  return {sf.current[k], sf.path(k, forecast::kP50)[end], sf.path(k, forecast::kP90)[end]};
}

std::string list_top(const std::vector<Ranked>& r, size_t n) {
  std::string out;
  for (size_t i = 0; i < r.size() && i < n; ++i)
    out += fmt::format("{}{} ({:.0f} %)", i ? ", " : "", r[i].name, 100 * r[i].importance);
  return out;
}

std::string drivers_text(const serve::ServerForecast& sf, const std::vector<Ranked>& encoder, const std::vector<Ranked>& decoder,
                         const json& focus, const json& alerts) {
  const risk::Signal s = sf.risk.driver;
  const Outlook o = signal_outlook(sf, s);
  const std::string metric(risk::signal_metric(s));
  std::string text = fmt::format("Risk {:.0f} ({}) is driven by {} ({}): {:.1f} now, forecast {:.1f} in 8 h (p90 {:.1f}).",
                                 sf.risk.score, risk::level_name(sf.risk.level), risk::signal_name(s), metric, o.now, o.p50, o.p90);
  text += fmt::format(" The model weighs most, over the past: {}; for the horizon: {}.", list_top(encoder, 3), list_top(decoder, 2));
  const std::string own(kMetrics[risk::metric_of_signal(s)].name);
  const auto it = std::find_if(encoder.begin(), encoder.end(), [&](const Ranked& r) { return r.name == own; });
  if (it != encoder.end())
    text += fmt::format(" Its own history ({}) ranks {} of {} past inputs ({:.0f} %).", own, it - encoder.begin() + 1,
                        encoder.size(), 100 * it->importance);
  if (!focus.empty())
    text += fmt::format(" Attention looks most at {} – {} ({:.0f} % of it).", focus[0]["from"].get<std::string>(),
                        focus[0]["to"].get<std::string>(), 100 * focus[0]["share"].get<double>());
  for (const json& a : alerts)
    text += fmt::format(" Open {} alert: {}.", a.value("level", ""), a.value("message", ""));
  return text;
}

// Which candidate serves the driver's metric per band, and how the served forecast has scored.
json forecaster_json(const serve::ServerForecast& sf, const std::string& model_name) {
  const int k = risk::metric_of_signal(sf.risk.driver);
  json bands = json::array();  // in horizon order
  for (int h = 0; h < forecast::kNumEvalHorizons; ++h) {
    const forecast::BandSkill& b = sf.skill[k][h];
    bands.push_back({
        {"horizon", forecast::kEvalHorizons[h].label},
        {"served_by", sf.served ? json(forecast::kCandidateNames[sf.served_by[k][h]]) : json("model")},
        {"scored_forecasts", b.samples},
        {"mean_abs_error", b.samples ? json(b.served_abs_err) : json(nullptr)},
        {"coverage_p10_p90", b.samples ? json(b.served_coverage) : json(nullptr)},
        {"skill_vs_last_value", b.samples ? json(b.skill()) : json(nullptr)}});
  }
  return {{"model", model_name}, {"metric", kMetrics[k].name}, {"bands", bands}};
}

}  // namespace

json explain_server(const serve::ServerForecast& sf, std::span<const risk::TrackedAlert* const> alerts, const std::string& model_name) {
  json out = {{"server", sf.name},
              {"profile", profile_id(sf.profile)},
              {"forecast_from", format_iso8601(sf.last_step + sf.step_ms)},
              {"risk", {{"score", sf.risk.score}, {"level", risk::level_name(sf.risk.level)},
                        {"driver", risk::signal_name(sf.risk.driver)}}}};
  json alert_list = json::array();
  for (const risk::TrackedAlert* a : alerts) alert_list.push_back(alert_json(*a));
  out["alerts"] = alert_list;
  if (!sf.interpretation) {
    out["model"] = "baseline";
    out["explanation"] = nullptr;
    out["reason"] = fmt::format(
        "this server is on the baseline forecast (last value with trend, widening bands: {} closed steps, the TFT needs {}"
        " or no TFT is loaded); the baseline has no variable importances or attention to explain it with",
        sf.steps, kMinEncoderSteps);
    return out;
  }
  const serve::ServerInterpretation& ip = *sf.interpretation;
  const forecast::InputContract& names = forecast::input_contract(ip.inputs);
  const auto st = rank(ip.static_importance, names.static_variables);
  const auto enc = rank(ip.encoder_importance, names.encoder_variables);
  const auto dec = rank(ip.decoder_importance, names.decoder_variables);
  const json focus = focus_periods(sf, ip.attention);
  out["model"] = "tft";
  out["variable_importance"] = {{"static", ranked_json(st)}, {"encoder", ranked_json(enc)}, {"decoder", ranked_json(dec)}};
  out["attention"] = {{"past_steps", ip.attention.size()}, {"period_minutes", kFocusPeriodSteps * sf.step_ms / 60'000},
                      {"focus_periods", focus}};
  out["what_drives_the_risk"] = drivers_text(sf, enc, dec, focus, alert_list);
  out["forecaster"] = forecaster_json(sf, model_name);
  return out;
}

void add_explain_routes(ApiServer& api, std::shared_ptr<serve::ForecastService> service) {
  api.get(R"(/explain/([^/]+))", Role::read, [service](const httplib::Request& req, httplib::Response& res) {
    const std::string name = req.matches[1];
    const auto id = service->store().windows().read([&](const WindowStore& w) { return w.find(name); });
    if (!id) throw HttpError(404, "not_found", fmt::format("server: unknown server '{}'", name.substr(0, 128)));
    const auto snap = service->snapshot();
    const serve::ServerForecast* sf = snap->find(*id);
    if (sf == nullptr)
      throw HttpError(404, "not_found", fmt::format("server: '{}' has no forecast yet: it comes with its first forecast cycle", name));
    std::vector<const risk::TrackedAlert*> alerts;
    for (const auto& a : snap->open_alerts)
      if (a.alert.server == *id) alerts.push_back(&a);
    ApiServer::send_json(res, 200, explain_server(*sf, alerts, service->model().name));
  });
}

}  // namespace nordiq::api
