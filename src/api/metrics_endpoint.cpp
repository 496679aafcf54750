#include "api/metrics_endpoint.hpp"

#include <fmt/format.h>

#include <iterator>

#include "api/alertmanager_notifier.hpp"
#include "api/predictions_json.hpp"
#include "api/remote_write_endpoint.hpp"

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
constexpr Horizon kHorizons[] = {{"30m", 30}, {"1h", 60}, {"4h", 240}, {"8h", 480}};

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


// Per server, for Grafana: risk, forecasts at four horizons and the time to each threshold. All
// stamped now: Prometheus cannot store (and Grafana cannot alert on) samples in the future.
void render_server_gauges(std::string& out, const serve::PredictionSnapshot& snap) {
  auto series = [&](std::string_view name, const serve::ServerForecast& sf) {
    out += name;
    out += "{server=\"";
    label_value(out, sf.name);
    out += '"';
  };
  header(out, "nordiq_risk_score", "gauge", "Risk score 0-100 per server (SPEC 3.1)");
  for (ServerId id : snap.order) {
    const serve::ServerForecast& sf = *snap.by_id[id];
    series("nordiq_risk_score", sf);
    fmt::format_to(std::back_inserter(out), ",profile=\"{}\"}} {}\n", profile_id(sf.profile), sf.risk.score);
  }
  header(out, "nordiq_risk_level", "gauge", "Risk level per server: 0 healthy, 1 degraded, 2 warning, 3 critical");
  for (ServerId id : snap.order) {
    series("nordiq_risk_level", *snap.by_id[id]);
    fmt::format_to(std::back_inserter(out), "}} {}\n", static_cast<int>(snap.by_id[id]->risk.level));
  }
  header(out, "nordiq_forecast", "gauge",
         "Forecast of a metric at a horizon from now, per quantile (raw units of the metric; stamped now)");
  constexpr std::pair<int, std::string_view> kQs[] = {{forecast::kP10, "0.1"}, {forecast::kP50, "0.5"}, {forecast::kP90, "0.9"}};
  for (ServerId id : snap.order) {
    const serve::ServerForecast& sf = *snap.by_id[id];
    for (const Horizon& h : kHorizons) {
      const int t = sf.step_ms > 0 ? static_cast<int>(h.minutes * 60'000 / sf.step_ms) - 1 : -1;
      if (t < 0 || t >= sf.horizon) continue;  // beyond this model's horizon
      for (int k = 0; k < kNumMetrics; ++k)
        for (const auto& [q, quantile] : kQs) {
          series("nordiq_forecast", sf);
          fmt::format_to(std::back_inserter(out), ",metric=\"{}\",horizon=\"{}\",quantile=\"{}\"}} {}\n",
                         kMetrics[k].name, h.label, quantile, sf.path(k, q)[t]);
        }
    }
  }
  header(out, "nordiq_time_to_threshold_seconds", "gauge",
         "Seconds until the signal's quantile path first reaches its alert threshold (0: already there; "
         "absent: not within the horizon). quantile 0.9 is the pessimistic path");
  constexpr std::string_view kPathQuantiles[] = {"0.1", "0.5", "0.9"};
  for (ServerId id : snap.order) {
    const serve::ServerForecast& sf = *snap.by_id[id];
    for (int s = 0; s < risk::kNumSignals; ++s)
      for (int o = 0; o < 3; ++o) {
        const int minutes = sf.threshold_etas[s][o];
        if (minutes == risk::kNoCrossing) continue;
        series("nordiq_time_to_threshold_seconds", sf);
        fmt::format_to(std::back_inserter(out), ",metric=\"{}\",quantile=\"{}\"}} {}\n",
                       risk::signal_metric(static_cast<risk::Signal>(s)), kPathQuantiles[o], minutes * 60);
      }
  }
}

// remote_write in and Alertmanager out.
void render_integrations(std::string& out) {
  const RemoteWriteStats& rw = remote_write_stats();
  header(out, "nordiq_remote_write_requests_total", "counter", "POST /api/v1/write requests by result");
  fmt::format_to(std::back_inserter(out),
                 "nordiq_remote_write_requests_total{{result=\"ok\"}} {}\n"
                 "nordiq_remote_write_requests_total{{result=\"bad_request\"}} {}\n"
                 "nordiq_remote_write_requests_total{{result=\"store_failed\"}} {}\n",
                 rw.requests_ok.load(), rw.requests_bad.load(), rw.requests_failed.load());
  header(out, "nordiq_remote_write_samples_total", "counter",
         "remote_write samples by outcome (unknown_series: not a nordiq:* series, ignored)");
  for (size_t i = 0; i < RemoteWriteStats::kOutcomes.size(); ++i)
    fmt::format_to(std::back_inserter(out), "nordiq_remote_write_samples_total{{outcome=\"{}\"}} {}\n",
                   RemoteWriteStats::kOutcomes[i], rw.samples[i].load());
  header(out, "nordiq_remote_write_records_total", "counter", "Records assembled from remote_write series and stored");
  fmt::format_to(std::back_inserter(out), "nordiq_remote_write_records_total {}\n", rw.records.load());
  header(out, "nordiq_remote_write_waiting", "gauge",
         "Server timestamps waiting for the rest of their series (not stored yet)");
  fmt::format_to(std::back_inserter(out), "nordiq_remote_write_waiting {}\n", rw.pending.load());

  const AlertmanagerStats& am = alertmanager_stats();
  if (!am.enabled) return;
  header(out, "nordiq_alertmanager_posts_total", "counter", "Posts to Alertmanager by result");
  fmt::format_to(std::back_inserter(out),
                 "nordiq_alertmanager_posts_total{{result=\"ok\"}} {}\nnordiq_alertmanager_posts_total{{result=\"failed\"}} {}\n",
                 am.posts_ok.load(), am.posts_failed.load());
  header(out, "nordiq_alertmanager_alerts_sent_total", "counter", "Alerts (open or resolved) delivered to Alertmanager");
  fmt::format_to(std::back_inserter(out), "nordiq_alertmanager_alerts_sent_total {}\n", am.alerts_sent.load());
}

}  // namespace

std::string render_prometheus(const serve::ForecastService& service) {
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

  histogram(out, "nordiq_ingest_latency_seconds", "Ingest latency: POST /feed/data and POST /api/v1/write", ingest_latency_histogram());
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

  render_server_gauges(out, *snap);
  render_integrations(out);
  return out;
}

namespace {
// The HTTP server's connections: how close clients are to the caps, and how often they hit them.
void append_connection_metrics(std::string& out, const ConnectionGate& gate) {
  header(out, "nordiq_http_connections_open", "gauge",
         "Connections being served now (admitted under --max-connections-per-address)");
  fmt::format_to(std::back_inserter(out), "nordiq_http_connections_open {}\n", gate.open_total());
  header(out, "nordiq_http_connections_refused_total", "counter",
         "Connections refused with 429: their address already held --max-connections-per-address");
  fmt::format_to(std::back_inserter(out), "nordiq_http_connections_refused_total {}\n", gate.refused());
}
}  // namespace

void add_metrics_routes(ApiServer& api, std::shared_ptr<serve::ForecastService> service) {
  api.get("/metrics", Role::read, [&api, service](const httplib::Request&, httplib::Response& res) {
    res.status = 200;
    std::string body = render_prometheus(*service);
    append_connection_metrics(body, api.connections());
    res.set_content(body, "text/plain; version=0.0.4; charset=utf-8");
  });
}

}  // namespace nordiq::api
