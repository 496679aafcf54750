#include "api/alertmanager_notifier.hpp"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

namespace nordiq::api {

namespace {

constexpr int64_t kMinEndsAheadMs = 60'000;
constexpr int kEndsAheadSteps = 4;
constexpr size_t kMaxUnsentResolutions = 10'000;

std::string url_encode_path(std::string_view s) {
  std::string out;
  for (char c : s) {  // server names are [A-Za-z0-9._-]: nothing to encode; kept for safety
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')
      out += c;
    else
      out += fmt::format("%{:02X}", static_cast<unsigned char>(c));
  }
  return out;
}

Profile profile_of(const serve::PredictionSnapshot& snap, ServerId id) {
  return id < snap.by_id.size() && snap.by_id[id] ? snap.by_id[id]->profile : Profile::generic;
}

}  // namespace

AlertmanagerNotifier::AlertmanagerNotifier(AlertmanagerOptions options) : options_(std::move(options)) {
  const std::string& url = options_.url;
  const size_t scheme_end = url.find("://");
  const std::string scheme = scheme_end == std::string::npos ? "" : url.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https")
    throw std::invalid_argument(fmt::format("--alertmanager-url: expected http://host:port or https://..., got '{}'", url));
  const size_t path_start = url.find('/', scheme_end + 3);
  scheme_host_port_ = url.substr(0, path_start);
  if (scheme_host_port_.size() <= scheme_end + 3)
    throw std::invalid_argument(fmt::format("--alertmanager-url: no host in '{}'", url));
  path_ = path_start == std::string::npos ? "" : url.substr(path_start);
  while (!path_.empty() && path_.back() == '/') path_.pop_back();
  path_ += "/api/v2/alerts";
}

AlertmanagerStats& alertmanager_stats() {
  static AlertmanagerStats stats;
  return stats;
}

AlertmanagerNotifier::~AlertmanagerNotifier() { stop(); }

void AlertmanagerNotifier::start() {
  stats_.enabled = true;
  worker_ = std::thread([this] { run(); });
}

void AlertmanagerNotifier::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

nlohmann::json AlertmanagerNotifier::alert_json(const risk::TrackedAlert& t, risk::Level level, Profile profile,
                                                EpochMs ends_at, const std::string& external_url) {
  const risk::Alert& a = t.alert;
  return {
      {"labels",
       {{"alertname", "NordIQForecast"},
        {"server", t.server_name},
        {"metric", risk::signal_metric(a.signal)},
        {"severity", risk::level_name(level)},
        {"profile", profile_id(profile)}}},
      {"annotations",
       {{"message", risk::alert_message(a)},
        {"eta_range", risk::eta_text(a)},
        {"probability", fmt::format("{:.2f}", a.probability)},
        {"threshold", fmt::format("{:g}", a.threshold)},
        {"current", fmt::format("{:.2f}", a.current)}}},
      {"startsAt", format_iso8601(t.opened_at)},
      {"endsAt", format_iso8601(ends_at)},
      {"generatorURL", external_url + "/#/server/" + url_encode_path(t.server_name)},
  };
}

void AlertmanagerNotifier::publish(const serve::PredictionSnapshot& snap, std::span<const risk::AlertEvent> events,
                                   EpochMs now) {
  if (external_url_.empty()) {
    external_url_ = options_.external_url ? options_.external_url() : "";
    while (!external_url_.empty() && external_url_.back() == '/') external_url_.pop_back();
  }
  int64_t step_ms = 0;
  for (ServerId id : snap.order) step_ms = std::max(step_ms, snap.by_id[id]->step_ms);
  const EpochMs ends_at = now + std::max<int64_t>(kEndsAheadSteps * step_ms, kMinEndsAheadMs);
  nlohmann::json open = nlohmann::json::array();
  for (const risk::TrackedAlert& a : snap.open_alerts)
    open.push_back(alert_json(a, a.alert.level, profile_of(snap, a.alert.server), ends_at, external_url_));
  std::vector<nlohmann::json> ended;
  for (const risk::AlertEvent& e : events) {
    using K = risk::AlertEventKind;
    if (e.kind == K::opened) continue;
    // Resolved: its last label set ends now. Escalated or de-escalated: the label set of the
    // previous level ends now (the new one is among the open alerts).
    const risk::Level level = e.kind == K::resolved ? e.state.alert.level : e.previous_level;
    ended.push_back(alert_json(e.state, level, profile_of(snap, e.state.alert.server), now, external_url_));
  }
  {
    std::lock_guard lock(mutex_);
    open_ = std::move(open);
    for (auto& j : ended)
      if (resolved_.size() < kMaxUnsentResolutions) resolved_.push_back(std::move(j));
    dirty_ = true;
  }
  cv_.notify_all();
}

bool AlertmanagerNotifier::post(const std::string& body) {
  httplib::Client client(scheme_host_port_);
  client.set_connection_timeout(options_.timeout_s);
  client.set_read_timeout(options_.timeout_s);
  client.set_write_timeout(options_.timeout_s);
  const auto res = client.Post(path_, body, "application/json");
  if (res && res->status / 100 == 2) return true;
  if (res)
    spdlog::warn("alertmanager: POST {}{} answered {}: {}", scheme_host_port_, path_, res->status,
                 res->body.substr(0, 200));
  else
    spdlog::warn("alertmanager: POST {}{} failed: {}", scheme_host_port_, path_, httplib::to_string(res.error()));
  return false;
}

void AlertmanagerNotifier::run() {
  int64_t backoff_ms = options_.first_backoff_ms;
  std::unique_lock lock(mutex_);
  while (true) {
    cv_.wait(lock, [&] { return dirty_ || stopping_; });
    if (!dirty_) return;  // stopping, nothing to send
    nlohmann::json payload = open_;
    const size_t resolutions = resolved_.size();
    for (const auto& j : resolved_) payload.push_back(j);
    const bool last_try = stopping_;
    dirty_ = false;
    lock.unlock();
    const bool ok = payload.empty() || post(payload.dump());
    lock.lock();
    if (ok) {
      resolved_.erase(resolved_.begin(), resolved_.begin() + static_cast<std::ptrdiff_t>(resolutions));
      ++stats_.posts_ok;
      stats_.alerts_sent += payload.size();
      backoff_ms = options_.first_backoff_ms;
      continue;
    }
    ++stats_.posts_failed;
    dirty_ = true;  // send again (with whatever a newer cycle has handed over)
    if (last_try) return;
    cv_.wait_for(lock, std::chrono::milliseconds(backoff_ms), [&] { return stopping_; });
    backoff_ms = std::min(backoff_ms * 2, options_.max_backoff_ms);
  }
}

}  // namespace nordiq::api
