#include "api/historical_endpoint.hpp"

#include <fmt/format.h>

#include <array>
#include <utility>

#include "api/predictions_json.hpp"
#include "core/time.hpp"

namespace nordiq::api {

namespace {

constexpr std::array<std::pair<std::string_view, int64_t>, 6> kRanges = {{
    {"30m", 30LL * 60'000},
    {"1h", 3'600'000LL},
    {"8h", 8 * 3'600'000LL},
    {"1d", 86'400'000LL},
    {"1w", 7 * 86'400'000LL},
    {"1M", 30 * 86'400'000LL},
}};

struct Range {
  std::string name;
  EpochMs from, to;
};

// The closed steps of the server's window (the last 24 h at most) inside the range: what the
// dashboard draws behind a forecast fan.
nlohmann::json window_metrics(const serve::ForecastService& service, ServerId id, const Range& r) {
  nlohmann::json out;
  service.store().windows().read([&](const WindowStore& w) {
    const WindowView v = w.view(id);
    int first = 0;
    while (first < v.length && v.first_step + first * v.step_ms < r.from) ++first;
    int end = first;
    while (end < v.length && v.first_step + end * v.step_ms < r.to) ++end;
    nlohmann::json stamps = nlohmann::json::array();
    for (int i = first; i < end; ++i) stamps.push_back(format_iso8601(v.first_step + i * v.step_ms));
    out["timestamps"] = std::move(stamps);
    for (int k = 0; k < kNumMetrics; ++k) out[std::string(kMetrics[k].name)] = std::vector<float>(v.metric[k] + first, v.metric[k] + end);
  });
  return out;
}

// The alert threshold of each signal for the server's profile, on the metric it is read from
// (CPU: the threshold on used CPU, drawn on cpu_idle_pct at 100 − threshold).
nlohmann::json thresholds_json(const serve::ForecastService& service, ServerId id) {
  const Profile profile = service.store().windows().read([&](const WindowStore& w) { return w.view(id).profile; });
  const float* t = service.alert_config().thresholds_for(profile);
  nlohmann::json out = nlohmann::json::array();
  for (int s = 0; s < risk::kNumSignals; ++s) {
    const auto signal = static_cast<risk::Signal>(s);
    const int k = risk::metric_of_signal(signal);
    out.push_back({{"signal", risk::signal_name(signal)},
                   {"metric", kMetrics[k].name},
                   {"value", signal == risk::Signal::cpu ? 100.0f - t[s] : t[s]},
                   {"label", fmt::format("{} {}", risk::signal_name(signal), t[s])}});
  }
  return out;
}

// Ranges are in data time (issue #11): they end at the fleet's newest closed step (its end), so
// a backfill of last week is served as last week, not as the minutes it took to load; the wall
// clock only before the first forecast.
Range range_of(const httplib::Request& req, const serve::ForecastService& service) {
  const std::string name = req.has_param("time_range") ? req.get_param_value("time_range") : "1d";
  const auto ms = parse_time_range(name);
  if (!ms)
    throw HttpError(400, "invalid_parameter",
                    fmt::format("time_range: '{}' is not one of 30m, 1h, 8h, 1d, 1w, 1M", name));
  const auto snap = service.snapshot();
  const EpochMs now = snap->latest_step ? snap->latest_step + service.store().options().window.step_ms() : now_ms();
  // Include a little future: a step that closes while the request runs.
  return {name, now - *ms, now + 3'600'000};
}

nlohmann::json eta_json(int v) { return v == risk::kNoCrossing ? nlohmann::json(nullptr) : nlohmann::json(v); }

nlohmann::json event_json(const risk::AlertEventRow& e) {
  return {{"timestamp", format_iso8601(e.at)},
          {"event", e.event},
          {"server_name", e.server_name},
          {"metric", e.metric},
          {"signal", e.signal},
          {"level", e.level},
          {"previous_level", e.previous_level},
          {"threshold", e.threshold},
          {"current", e.current},
          {"eta_minutes", {{"p90", eta_json(e.eta_p90)}, {"p50", eta_json(e.eta_p50)}, {"p10", eta_json(e.eta_p10)}}},
          {"message", e.message},
          {"opened_at", format_iso8601(e.opened_at)}};
}

nlohmann::json snapshot_json(const risk::FleetSnapshotRow& s) {
  nlohmann::json j = summary_json(s.summary, static_cast<size_t>(s.open_alerts));
  j["timestamp"] = format_iso8601(s.step);
  j["computed_at"] = format_iso8601(s.at);
  return j;
}

// RFC 4180 field: quoted when it holds a comma, quote or newline.
void csv_field(std::string& out, std::string_view s) {
  if (s.find_first_of(",\"\r\n") == std::string_view::npos) {
    out += s;
    return;
  }
  out += '"';
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}
std::string csv_eta(int v) { return v == risk::kNoCrossing ? std::string() : std::to_string(v); }

void send_csv(httplib::Response& res, std::string&& body, std::string_view filename) {
  res.status = 200;
  res.set_header("Content-Disposition", fmt::format("attachment; filename=\"{}\"", filename));
  res.set_content(std::move(body), "text/csv; charset=utf-8");
}

}  // namespace

std::optional<int64_t> parse_time_range(std::string_view s) {
  for (const auto& [name, ms] : kRanges)
    if (name == s) return ms;
  return std::nullopt;
}

void add_historical_routes(ApiServer& api, std::shared_ptr<serve::ForecastService> service) {
  api.get("/historical/summary", Role::read, [service](const httplib::Request& req, httplib::Response& res) {
    const Range r = range_of(req, *service);
    auto& store = service->alert_store();
    const auto snaps = store.snapshots(r.from, r.to);
    const auto events = store.events(r.from, r.to);
    nlohmann::json counts = {{"opened", 0}, {"escalated", 0}, {"de_escalated", 0}, {"resolved", 0}};
    for (const auto& e : events) counts[e.event] = counts[e.event].get<int>() + 1;
    nlohmann::json body = {{"time_range", r.name},
                           {"from", format_iso8601(r.from)},
                           {"to", format_iso8601(r.to - 3'600'000)},
                           {"snapshots", snaps.size()},
                           {"alert_events", counts}};
    if (!snaps.empty()) {
      double sum = 0, lo = 100, hi = 0;
      int worst_critical = 0;
      for (const auto& s : snaps) {
        sum += s.summary.fleet_health;
        lo = std::min(lo, s.summary.fleet_health);
        hi = std::max(hi, s.summary.fleet_health);
        worst_critical = std::max(worst_critical, s.summary.per_level[static_cast<int>(risk::Level::critical)]);
      }
      body["fleet_health"] = {{"mean", std::round(sum / snaps.size() * 100) / 100}, {"min", lo}, {"max", hi}};
      body["max_critical_servers"] = worst_critical;
      body["latest"] = snapshot_json(snaps.back());
    } else {
      body["fleet_health"] = nullptr;
      body["latest"] = nullptr;
    }
    ApiServer::send_json(res, 200, body);
  });

  api.get("/historical/alerts", Role::read, [service](const httplib::Request& req, httplib::Response& res) {
    const Range r = range_of(req, *service);
    nlohmann::json events = nlohmann::json::array();
    for (const auto& e : service->alert_store().events(r.from, r.to)) events.push_back(event_json(e));
    ApiServer::send_json(res, 200, {{"time_range", r.name}, {"count", events.size()}, {"events", std::move(events)}});
  });

  api.get("/historical/environment", Role::read, [service](const httplib::Request& req, httplib::Response& res) {
    const Range r = range_of(req, *service);
    nlohmann::json snaps = nlohmann::json::array();
    for (const auto& s : service->alert_store().snapshots(r.from, r.to)) snaps.push_back(snapshot_json(s));
    ApiServer::send_json(res, 200, {{"time_range", r.name}, {"count", snaps.size()}, {"snapshots", std::move(snaps)}});
  });

  api.get(R"(/historical/server/([^/]+))", Role::read, [service](const httplib::Request& req, httplib::Response& res) {
    const std::string name = req.matches[1];
    const Range r = range_of(req, *service);
    const auto id = service->store().windows().read([&](const WindowStore& w) { return w.find(name); });
    if (!id) throw HttpError(404, "not_found", fmt::format("unknown server '{}'", name));
    auto& store = service->alert_store();
    nlohmann::json risk = nlohmann::json::array();
    for (const auto& row : store.server_risk(name, r.from, r.to))
      risk.push_back({{"timestamp", format_iso8601(row.step)},
                      {"risk_score", std::round(row.risk * 10) / 10},
                      {"level", row.level},
                      {"risk_driver", row.driver},
                      {"model", row.model}});
    nlohmann::json events = nlohmann::json::array();
    for (const auto& e : store.events(r.from, r.to, name)) events.push_back(event_json(e));
    ApiServer::send_json(res, 200, {{"server_name", name},
                                    {"time_range", r.name},
                                    {"risk", std::move(risk)},
                                    {"alert_events", std::move(events)},
                                    {"metrics", window_metrics(*service, *id, r)},
                                    {"thresholds", thresholds_json(*service, *id)}});
  });

  api.get("/historical/export/alerts", Role::read, [service](const httplib::Request& req, httplib::Response& res) {
    const Range r = range_of(req, *service);
    std::string csv =
        "timestamp,event,server_name,metric,level,previous_level,threshold,current,eta_p90_min,"
        "eta_p50_min,eta_p10_min,message,opened_at\r\n";
    for (const auto& e : service->alert_store().events(r.from, r.to)) {
      csv += format_iso8601(e.at);
      for (std::string_view f : {std::string_view(e.event), std::string_view(e.server_name), std::string_view(e.metric),
                                 std::string_view(e.level), std::string_view(e.previous_level)}) {
        csv += ',';
        csv_field(csv, f);
      }
      fmt::format_to(std::back_inserter(csv), ",{},{:.2f},{},{},{},", e.threshold, e.current, csv_eta(e.eta_p90),
                     csv_eta(e.eta_p50), csv_eta(e.eta_p10));
      csv_field(csv, e.message);
      csv += ',';
      csv += format_iso8601(e.opened_at);
      csv += "\r\n";
    }
    send_csv(res, std::move(csv), "nordiq-alerts-" + r.name + ".csv");
  });

  api.get("/historical/export/environment", Role::read, [service](const httplib::Request& req, httplib::Response& res) {
    const Range r = range_of(req, *service);
    std::string csv =
        "timestamp,total_servers,critical,warning,degraded,healthy,fleet_health,mean_risk,prob_30m,"
        "prob_8h,open_alerts\r\n";
    for (const auto& s : service->alert_store().snapshots(r.from, r.to)) {
      const auto& m = s.summary;
      using risk::Level;
      fmt::format_to(std::back_inserter(csv), "{},{},{},{},{},{},{:.2f},{:.2f},{:.4f},{:.4f},{}\r\n",
                     format_iso8601(s.step), m.total_servers, m.per_level[static_cast<int>(Level::critical)],
                     m.per_level[static_cast<int>(Level::warning)], m.per_level[static_cast<int>(Level::degraded)],
                     m.per_level[static_cast<int>(Level::healthy)], m.fleet_health, m.mean_risk, m.prob_30m,
                     m.prob_8h, s.open_alerts);
    }
    send_csv(res, std::move(csv), "nordiq-environment-" + r.name + ".csv");
  });
}

}  // namespace nordiq::api
