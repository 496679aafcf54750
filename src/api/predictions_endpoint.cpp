#include "api/predictions_endpoint.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <functional>
#include <random>

#include "api/body_cache.hpp"
#include "api/full_body_gzip.hpp"
#include "api/predictions_json.hpp"
#include "core/huge_pages.hpp"
#include "core/time.hpp"

namespace nordiq::api {

namespace {

std::vector<std::string_view> split_list(std::string_view s) {
  std::vector<std::string_view> out;
  while (!s.empty()) {
    const size_t comma = s.find(',');
    std::string_view item = s.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) out.push_back(item);
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
  return out;
}

MetricMask parse_metrics(const httplib::Request& req) {
  if (!req.has_param("metrics")) return MetricMask().set();
  MetricMask mask;
  const std::string value = req.get_param_value("metrics");  // split_list views into it
  for (std::string_view name : split_list(value)) {
    const auto m = metric_from_name(name);
    if (!m) throw HttpError(400, "invalid_parameter", fmt::format("metrics: unknown metric '{}'", name));
    mask.set(static_cast<int>(*m));
  }
  if (mask.none()) throw HttpError(400, "invalid_parameter", "metrics: empty list");
  return mask;
}

QuantileMask parse_quantiles(const httplib::Request& req, QuantileMask fallback) {
  if (!req.has_param("quantiles")) return fallback;
  const std::string value = req.get_param_value("quantiles");
  if (value == "all") return all_quantiles();
  QuantileMask mask;
  for (std::string_view name : split_list(value)) {
    int found = -1;
    for (int q = 0; q < forecast::kNumQuantiles; ++q)
      if (forecast::kQuantileNames[q] == name) found = q;
    if (found < 0)
      throw HttpError(400, "invalid_parameter",
                      fmt::format("quantiles: unknown quantile '{}' (use all or p02,p10,p25,p50,p75,p90,p98)", name));
    mask.set(found);
  }
  if (mask.none()) throw HttpError(400, "invalid_parameter", "quantiles: empty list");
  return mask;
}

void send_body(httplib::Response& res, std::string&& body) {
  res.status = 200;
  res.set_content(std::move(body), "application/json");
}

// Paging (?limit=N&cursor=NAME, or after=NAME): servers in name order after NAME, at most N of them;
// "next" is the cursor of the following page (null on the last). Without limit: every chosen server.
// The cursor is the last server name of the previous page, so a page never repeats or skips a
// server that stays in the fleet, whatever changes between requests.
nlohmann::json take_page(const httplib::Request& req, std::vector<const serve::ServerForecast*>& chosen) {
  // The snapshot's order is already by name; only a ?servers= list comes in the caller's order.
  const auto by_name = [](const serve::ServerForecast* a, const serve::ServerForecast* b) { return a->name < b->name; };
  if (!std::is_sorted(chosen.begin(), chosen.end(), by_name)) std::sort(chosen.begin(), chosen.end(), by_name);
  if (req.has_param("cursor") && req.has_param("after") && req.get_param_value("cursor") != req.get_param_value("after"))
    throw HttpError(400, "invalid_parameter", "cursor, after: two different cursors; send one");
  if (req.has_param("cursor") || req.has_param("after")) {
    const std::string after = req.get_param_value(req.has_param("cursor") ? "cursor" : "after");
    chosen.erase(chosen.begin(), std::upper_bound(chosen.begin(), chosen.end(), after,
                                                  [](const std::string& a, const serve::ServerForecast* sf) { return a < sf->name; }));
  }
  const size_t total_after = chosen.size();
  size_t limit = total_after;
  if (req.has_param("limit")) {
    const std::string value = req.get_param_value("limit");
    if (value.empty() || value.size() > 6 || value.find_first_not_of("0123456789") != std::string::npos || std::stoul(value) == 0)
      throw HttpError(400, "invalid_parameter", fmt::format("limit: must be an integer from 1 to 999999, got '{}'", value.substr(0, 32)));
    limit = std::stoul(value);
  }
  const bool more = chosen.size() > limit;
  if (more) chosen.resize(limit);
  return {{"servers", chosen.size()},
          {"remaining", total_after - chosen.size()},
          {"next", more ? nlohmann::json(std::string(chosen.back()->name)) : nlohmann::json(nullptr)}};
}

// The body of GET /predictions/current for the chosen servers (paged: `page`; `filtered`: only
// their alerts).
std::string render_current(const serve::ForecastService& service, const serve::PredictionSnapshot& snap,
                           const std::vector<const serve::ServerForecast*>& chosen, const nlohmann::json& page,
                           const MetricMask& metrics, const QuantileMask& quantiles, bool filtered) {
  // Reserved at once, a little over the body's size, on huge pages (core/huge_pages.hpp): short,
  // the string doubled near the end and copied 15 MB (500 servers) into 30 MB of fresh pages, and
  // the page faults were most of a ~95 ms render. Beside its fragments, an entry holds its name and
  // ~560 bytes of keys (14 metrics, 3 quantiles).
  constexpr size_t kEntryKeysRoom = 1024, kAlertRoom = 512, kRestRoom = 4096;
  std::string body;
  size_t estimate = kRestRoom + snap.open_alerts.size() * kAlertRoom;
  for (const serve::ServerForecast* sf : chosen)
    estimate += sf->name.size() + sf->head.size() + sf->timestamps->size() + sf->series.size() + kEntryKeysRoom;
  reserve_with_huge_pages(body, estimate);
  body += "{\"timestamp\":";
  append_json_string(body, format_iso8601(snap.computed_at ? snap.computed_at : now_ms()));
  body += ",\"model\":";
  body += model_json(service.model(), snap).dump();
  body += ",\"predictions\":{";
  for (size_t i = 0; i < chosen.size(); ++i) {
    if (i) body += ',';
    append_server_entry(body, *chosen[i], metrics, quantiles);
  }
  body += "},\"page\":";
  body += page.dump();
  body += ",\"summary\":";
  body += summary_json(snap.summary, snap.open_alerts.size()).dump();
  body += ",\"alerts\":";
  nlohmann::json alerts = nlohmann::json::array();
  for (const auto& a : snap.open_alerts) {
    if (filtered &&
        std::none_of(chosen.begin(), chosen.end(), [&](const serve::ServerForecast* sf) { return sf->id == a.alert.server; }))
      continue;
    alerts.push_back(alert_json(a));
  }
  body += alerts.dump();
  body += '}';
  return body;
}

// GET /predictions/current of `snap` for `req`'s parameters (none: the full body).
std::string render_current_for(const httplib::Request& req, const serve::ForecastService& service,
                               const serve::PredictionSnapshot& snap) {
  const MetricMask metrics = parse_metrics(req);
  const QuantileMask quantiles = parse_quantiles(req, default_quantiles());
  // Which servers, and the body for them.
  std::vector<const serve::ServerForecast*> chosen;
  bool filtered = req.has_param("servers");
  if (filtered) {  // the listed ones that have a forecast (unknown names are ignored)
    const std::string value = req.get_param_value("servers");
    for (std::string_view name : split_list(value)) {
      const auto id = service.store().windows().read([&](const WindowStore& w) { return w.find(name); });
      if (const serve::ServerForecast* sf = id ? snap.find(*id) : nullptr) chosen.push_back(sf);
    }
  } else {
    chosen = servers_by_name(snap);
  }
  const nlohmann::json page = take_page(req, chosen);
  filtered = filtered || req.has_param("limit") || req.has_param("after") || req.has_param("cursor");  // a page's alerts only
  return render_current(service, snap, chosen, page, metrics, quantiles, filtered);
}

// What the full body depends on besides the snapshot (the model served): the body cache's key,
// the same for the cycle that renders ahead and the request that reads.
std::string full_body_key(const serve::ForecastService& service, const serve::PredictionSnapshot& snap) {
  return model_json(service.model(), snap).dump();
}

// The full body's entity tag: this process (a restart numbers its cycles from the start again),
// the cycle, what else the body depends on (the key), and the encoding (a strong tag names one
// representation). Pollers that send it back get a 304 until the next cycle.
std::string full_body_etag(const serve::PredictionSnapshot& snap, const std::string& key, bool gzip) {
  static const uint64_t process = std::random_device{}() * 0x100000000ull + std::random_device{}();
  return fmt::format("\"{:x}-{}-{:x}{}\"", process, snap.cycle, std::hash<std::string>{}(key), gzip ? "-gz" : "");
}

}  // namespace

void add_prediction_routes(ApiServer& api, std::shared_ptr<serve::ForecastService> service) {
  // The plain request (no parameters) is what dashboards poll: rendered and gzipped once a cycle,
  // ahead of the requests while they keep coming (SnapshotBodyCache::warm), before the cycle
  // publishes its snapshot. While readers ask for gzip, each server's entry is deflated with its
  // forecast on the forecaster's threads, and the cycle's gzip body is assembled from them.
  auto full_bodies = std::make_shared<SnapshotBodyCache<serve::PredictionSnapshot>>();
  service->set_renderer([full_bodies](serve::ServerForecast& sf) {
    render_server_fragments(sf);
    if (full_bodies->gzip_wanted()) deflate_full_body_entry(sf);
  });
  // The service owns its preparers: a raw pointer, not a shared_ptr that would keep it alive forever.
  serve::ForecastService* cycle = service.get();
  cycle->add_publish_preparer([cycle, full_bodies](const std::shared_ptr<const serve::PredictionSnapshot>& snap) {
    const httplib::Request no_parameters;
    full_bodies->warm(
        snap, full_body_key(*cycle, *snap), [&] { return render_current_for(no_parameters, *cycle, *snap); },
        [&](const std::string& plain) { return gzip_full_body(plain, *snap); });
  });
  // Published: the previous snapshot's bodies (~28 KB per server) and the snapshot itself are let go.
  cycle->add_cycle_listener([full_bodies](const serve::PredictionSnapshot& published, std::span<const risk::AlertEvent>) {
    full_bodies->keep_only(&published);
  });
  api.get("/predictions/current", Role::read, [service, full_bodies](const httplib::Request& req, httplib::Response& res) {
    const auto snap = service->snapshot();
    const auto render = [&] { return render_current_for(req, *service, *snap); };
    if (!req.params.empty() || snap->computed_at == 0) {
      send_body(res, render());
      return;
    }
    const std::string key = full_body_key(*service, *snap);
    // Cached: a 304 costs no render. A gzip reader asks for the gzip at once (not the plain body
    // first), so that a cycle publishing meanwhile already knows to make its gzip ahead.
    const bool gzip = accepts_gzip(req);
    const auto compress = [&](const std::string& plain) { return gzip_full_body(plain, *snap); };
    const auto body = gzip ? full_bodies->gzipped(snap, key, render, compress) : full_bodies->plain(snap, key, render);
    const std::string etag = full_body_etag(*snap, key, gzip);
    res.set_header("ETag", etag);
    res.set_header("Cache-Control", "no-cache");  // revalidate every time: a new cycle is a new body
    if (if_none_match(req, etag)) {
      res.status = 304;
      res.set_header("Vary", "Accept-Encoding");
      return;
    }
    send_shared_body(res, body, gzip);
  });

  api.get(R"(/predictions/([^/]+))", Role::read, [service](const httplib::Request& req, httplib::Response& res) {
    const std::string name = req.matches[1];
    if (name == "current") throw HttpError(404, "not_found", "no such endpoint");  // routed above
    const MetricMask metrics = parse_metrics(req);
    const QuantileMask quantiles = parse_quantiles(req, all_quantiles());
    const auto id = service->store().windows().read([&](const WindowStore& w) { return w.find(name); });
    if (!id) throw HttpError(404, "not_found", fmt::format("unknown server '{}'", name));
    const auto snap = service->snapshot();
    const serve::ServerForecast* sf = snap->find(*id);
    if (sf == nullptr)
      throw HttpError(404, "not_found",
                      fmt::format("server '{}' has no closed step yet: its first forecast comes when its first step closes", name));
    std::string body;
    body.reserve(sf->head.size() + sf->timestamps->size() + sf->series.size() * 7 / 3 + 256);
    append_server_object(body, *sf, metrics, quantiles);
    send_body(res, std::move(body));
  });
}

}  // namespace nordiq::api
