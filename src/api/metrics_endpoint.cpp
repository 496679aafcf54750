#include "api/metrics_endpoint.hpp"

#include <fmt/format.h>

#include <iterator>

#include "api/predictions_json.hpp"

namespace nordiq::api {

namespace {

void header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

void histogram(std::string& out, std::string_view name, std::string_view help, const LatencyHistogram& h) {
  header(out, name, "histogram", help);
  const auto& bounds = LatencyHistogram::kBounds;
  for (size_t i = 0; i < bounds.size(); ++i)
    fmt::format_to(std::back_inserter(out), "{}_bucket{{le=\"{}\"}} {}\n", name, bounds[i], h.cumulative(i));
  const uint64_t total = h.cumulative(bounds.size());  // consistent with the buckets above
  fmt::format_to(std::back_inserter(out), "{}_bucket{{le=\"+Inf\"}} {}\n{}_sum {}\n{}_count {}\n", name, total,
                 name, h.sum_seconds(), name, total);
}

// Label values: server names are [A-Za-z0-9._-] (validated at ingest), nothing to escape; still
// escape the three characters the format requires, for safety.
void label_value(std::string& out, std::string_view v) {
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
}

struct Horizon {
  std::string_view label;
  int64_t minutes;
};
constexpr Horizon kHorizons[] = {{"30m", 30}, {"1h", 60}, {"8h", 480}};

// The fleet's served-forecast accuracy (GET /drift/status), per metric and horizon band.
void render_forecast_quality(std::string& out, const forecast::DriftSummary& d) {
  using forecast::kEvalHorizons;
  auto per_cell = [&](std::string_view name, std::string_view help, auto value) {
    header(out, name, "gauge", help);
    for (int k = 0; k < kNumMetrics; ++k)
      for (int b = 0; b < forecast::kNumEvalHorizons; ++b) {
        if (d.cells[k][b].servers == 0) continue;
        fmt::format_to(std::back_inserter(out), "{}{{metric=\"{}\",horizon=\"{}\"}} {}\n", name, kMetrics[k].name,
                       kEvalHorizons[b].label, value(d.cells[k][b]));
      }
  };
  per_cell("nordiq_forecast_mae_p50", "Recent p50 absolute error of the served forecasts, fleet mean (raw units)",
           [](const forecast::DriftCell& c) { return c.served_abs_err; });
  per_cell("nordiq_forecast_coverage_p10_p90", "Recent share of actuals inside the served p10-p90 band (target 0.8)",
           [](const forecast::DriftCell& c) { return c.served_coverage; });
  per_cell("nordiq_forecast_skill_vs_last_value", "1 - served error / persistence error (> 0 beats persistence)",
           [](const forecast::DriftCell& c) { return c.skill; });
  header(out, "nordiq_forecast_served_by", "gauge", "Server-metric pairs served by each forecaster, per horizon band");
  for (int b = 0; b < forecast::kNumEvalHorizons; ++b)
    for (int c = 0; c < forecast::kNumCandidates; ++c)
      fmt::format_to(std::back_inserter(out), "nordiq_forecast_served_by{{forecaster=\"{}\",horizon=\"{}\"}} {}\n",
                     forecast::kCandidateNames[c], kEvalHorizons[b].label, d.overall[b].served_by[c]);
}

}  // namespace

std::string render_prometheus(const ForecastService& service) {
  const auto snap = service.snapshot();
  std::string out;
  out.reserve(4096 + snap->order.size() * 16384);
  auto& store = service.store();

  header(out, "nordiq_servers_tracked", "gauge", "Servers the daemon has seen");
  fmt::format_to(std::back_inserter(out), "nordiq_servers_tracked {}\n", store.windows().server_count());
  header(out, "nordiq_servers_ready", "gauge", "Servers with at least 12 closed steps");
  fmt::format_to(std::back_inserter(out), "nordiq_servers_ready {}\n", store.windows().ready_count());
  header(out, "nordiq_records_stored_total", "counter", "Records accepted and stored by this process");
  fmt::format_to(std::back_inserter(out), "nordiq_records_stored_total {}\n", store.records_stored());

  histogram(out, "nordiq_ingest_latency_seconds", "POST /feed/data latency", ingest_latency_histogram());
  histogram(out, "nordiq_forecast_cycle_seconds", "Forecast cycle latency (batched forecast, risk, alerts)",
            service.cycle_latency());

  header(out, "nordiq_forecast_cycles_total", "counter", "Forecast cycles run");
  fmt::format_to(std::back_inserter(out), "nordiq_forecast_cycles_total {}\n", service.cycles());
  header(out, "nordiq_forecast_cycle_errors_total", "counter", "Forecast cycles or history writes that failed");
  fmt::format_to(std::back_inserter(out), "nordiq_forecast_cycle_errors_total {}\n", service.cycle_errors());
  header(out, "nordiq_forecasts_total", "counter", "Server forecasts computed, by model");
  for (auto m : {forecast::ModelKind::tft, forecast::ModelKind::baseline})
    fmt::format_to(std::back_inserter(out), "nordiq_forecasts_total{{model=\"{}\"}} {}\n",
                   forecast::model_kind_name(m), service.forecasts(m));
  header(out, "nordiq_alert_events_total", "counter", "Alert lifecycle events, by kind");
  for (int k = 0; k < 4; ++k) {
    const auto kind = static_cast<risk::AlertEventKind>(k);
    fmt::format_to(std::back_inserter(out), "nordiq_alert_events_total{{event=\"{}\"}} {}\n",
                   risk::event_name(kind), service.alert_events(kind));
  }

  const auto& s = snap->summary;
  header(out, "nordiq_alerts_open", "gauge", "Open alerts");
  fmt::format_to(std::back_inserter(out), "nordiq_alerts_open {}\n", snap->open_alerts.size());
  header(out, "nordiq_fleet_health", "gauge", "100 minus the mean risk score of the fleet");
  fmt::format_to(std::back_inserter(out), "nordiq_fleet_health {}\n", s.fleet_health);
  header(out, "nordiq_fleet_servers", "gauge", "Servers per risk level");
  for (int l = 0; l < risk::kNumLevels; ++l)
    fmt::format_to(std::back_inserter(out), "nordiq_fleet_servers{{level=\"{}\"}} {}\n",
                   risk::level_name(static_cast<risk::Level>(l)), s.per_level[l]);
  header(out, "nordiq_fleet_crossing_probability", "gauge",
          "Fraction of servers whose p90 forecast crosses an alert threshold within the window");
  fmt::format_to(std::back_inserter(out),
                 "nordiq_fleet_crossing_probability{{window=\"30m\"}} {}\n"
                 "nordiq_fleet_crossing_probability{{window=\"8h\"}} {}\n",
                 s.prob_30m, s.prob_8h);

  if (snap->drift) render_forecast_quality(out, *snap->drift);
  if (snap->cascade) {
    const cascade::CascadeStatus& c = *snap->cascade;
    header(out, "nordiq_cascades_active", "gauge", "Open cascades: correlated degradation with a suspected source");
    fmt::format_to(std::back_inserter(out), "nordiq_cascades_active {}\n", c.cascades.size());
    header(out, "nordiq_cascade_risk", "gauge", "1 in a cascade, 0.5 when a source has one aligned dependant, else the anomaly rate");
    fmt::format_to(std::back_inserter(out), "nordiq_cascade_risk {}\n", c.cascade_risk);
    header(out, "nordiq_fleet_anomaly_rate", "gauge", "Share of servers with a metric changed from its recent normal");
    fmt::format_to(std::back_inserter(out), "nordiq_fleet_anomaly_rate {}\n", c.anomaly_rate);
  }

  header(out, "nordiq_server_risk_score", "gauge", "Risk score 0-100 per server (SPEC 3.1)");
  for (ServerId id : snap->order) {
    const ServerForecast& sf = *snap->by_id[id];
    out += "nordiq_server_risk_score{server=\"";
    label_value(out, sf.name);
    fmt::format_to(std::back_inserter(out), "\",profile=\"{}\"}} {}\n", profile_id(sf.profile), sf.risk.score);
  }
  header(out, "nordiq_server_risk_level", "gauge", "Risk level per server: 0 healthy, 1 degraded, 2 warning, 3 critical");
  for (ServerId id : snap->order) {
    const ServerForecast& sf = *snap->by_id[id];
    out += "nordiq_server_risk_level{server=\"";
    label_value(out, sf.name);
    fmt::format_to(std::back_inserter(out), "\"}} {}\n", static_cast<int>(sf.risk.level));
  }
  header(out, "nordiq_server_forecast", "gauge",
          "Forecast value per server, metric, quantile and horizon (raw units of the metric)");
  constexpr int kQs[] = {forecast::kP10, forecast::kP50, forecast::kP90};
  for (ServerId id : snap->order) {
    const ServerForecast& sf = *snap->by_id[id];
    const int64_t step_min = std::max<int64_t>(sf.step_ms / 60000, 1);
    for (const Horizon& h : kHorizons) {
      const int t = static_cast<int>(h.minutes / step_min) - 1;
      if (t < 0 || t >= sf.horizon) continue;
      for (int k = 0; k < kNumMetrics; ++k)
        for (int q : kQs) {
          out += "nordiq_server_forecast{server=\"";
          label_value(out, sf.name);
          fmt::format_to(std::back_inserter(out), "\",metric=\"{}\",forecast_quantile=\"{}\",horizon=\"{}\"}} {}\n",
                         kMetrics[k].name, forecast::kQuantileNames[q], h.label, sf.path(k, q)[t]);
        }
    }
  }
  return out;
}

void add_metrics_routes(ApiServer& api, std::shared_ptr<ForecastService> service) {
  api.get("/metrics", Role::read, [service](const httplib::Request&, httplib::Response& res) {
    res.status = 200;
    res.set_content(render_prometheus(*service), "text/plain; version=0.0.4; charset=utf-8");
  });
}

}  // namespace nordiq::api
