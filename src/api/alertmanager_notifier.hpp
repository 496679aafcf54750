// Alertmanager out (`--alertmanager-url`): after every forecast cycle the open alerts are posted
// to Alertmanager's `POST /api/v2/alerts`, and each resolved one once with endsAt = now.
//
// - Labels: alertname="NordIQForecast", server, metric, severity (the alert's level), profile.
//   A level change changes the label set, so the old set is resolved in the same post.
// - Annotations: message, eta_range, probability (plus threshold and current value).
// - endsAt of an open alert = now + 4 forecast steps (at least 1 min): re-posted every cycle, it
//   stays open; if NordIQ stops, Alertmanager resolves it by itself.
// - generatorURL = the dashboard's page of the server.
// - Posting runs on its own thread: the cycle only hands over the payload. A failed post is
//   retried with exponential backoff (1 s doubling to 60 s); a newer cycle's open alerts replace
//   the unsent ones, resolutions are kept until sent.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "serve/forecast_service.hpp"

namespace nordiq::api {

struct AlertmanagerOptions {
  std::string url;  // http(s)://host:port[/path prefix] of Alertmanager
  // This daemon as users reach it (links to the dashboard); asked at the first post, once the
  // listening port is known.
  std::function<std::string()> external_url;
  int timeout_s = 5;
  int64_t first_backoff_ms = 1000;
  int64_t max_backoff_ms = 60'000;
};

// Process-wide (GET /metrics renders them when Alertmanager is configured).
struct AlertmanagerStats {
  std::atomic<bool> enabled{false};
  std::atomic<uint64_t> posts_ok{0}, posts_failed{0}, alerts_sent{0};
};
AlertmanagerStats& alertmanager_stats();

class AlertmanagerNotifier {
 public:
  // Throws std::invalid_argument naming --alertmanager-url when the URL is not http(s)://host[:port][/path].
  explicit AlertmanagerNotifier(AlertmanagerOptions options);
  ~AlertmanagerNotifier();

  void start();
  void stop();  // idempotent; a last attempt to send what is pending is made first

  // Hands over one cycle: its open alerts and this cycle's events (resolutions, level changes).
  void publish(const serve::PredictionSnapshot& snap, std::span<const risk::AlertEvent> events, EpochMs now);

  // The Alertmanager alert for one NordIQ alert (exposed for tests).
  static nlohmann::json alert_json(const risk::TrackedAlert& a, risk::Level level, Profile profile,
                                   EpochMs ends_at, const std::string& external_url);

 private:
  void run();
  bool post(const std::string& body);

  AlertmanagerOptions options_;
  std::string scheme_host_port_, path_;
  AlertmanagerStats& stats_ = alertmanager_stats();
  std::string external_url_;  // resolved at the first publish
  std::mutex mutex_;
  std::condition_variable cv_;
  nlohmann::json open_ = nlohmann::json::array();      // the latest cycle's open alerts
  nlohmann::json resolved_ = nlohmann::json::array();  // resolutions not yet sent
  bool dirty_ = false;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace nordiq::api
