#include "sim/control_api.hpp"

#include <httplib.h>

#include <fmt/core.h>
#include <stdexcept>

namespace nordiq::sim {

namespace {

constexpr size_t kMaxBody = 64 * 1024;

void reply(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

void error(httplib::Response& res, int status, std::string_view code, std::string_view message) {
  reply(res, status, nlohmann::json{{"error", code}, {"message", message}});
}

// Constant-time comparison: the time taken does not depend on where the keys differ.
bool keys_equal(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const size_t n = std::max(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? a[i] : 0;
    const unsigned char y = i < b.size() ? b[i] : 0;
    diff |= x ^ y;
  }
  return diff == 0;
}

}  // namespace

ControlApi::ControlApi(ScenarioControl& control, std::string key, HealthFn health)
    : control_(control), key_(std::move(key)), health_(std::move(health)), server_(std::make_unique<httplib::Server>()) {
  auto& s = *server_;
  s.set_payload_max_length(kMaxBody);
  s.set_tcp_nodelay(true);

  // Returns false (and answers) when the control key is required and missing or wrong.
  auto authorised = [this](const httplib::Request& req, httplib::Response& res) {
    if (key_.empty()) return true;
    if (!req.has_header("X-API-Key")) {
      error(res, 401, "unauthorized", "the control API requires an X-API-Key header");
      return false;
    }
    if (!keys_equal(req.get_header_value("X-API-Key"), key_)) {
      error(res, 403, "forbidden", "wrong X-API-Key");
      return false;
    }
    return true;
  };
  auto not_allowed = [](const char* allow) {
    return [allow](const httplib::Request& req, httplib::Response& res) {
      res.set_header("Allow", allow);
      error(res, 405, "method_not_allowed", fmt::format("{} does not allow {}; use {}", req.path, req.method, allow));
    };
  };

  s.Post("/scenario/set", [this, authorised](const httplib::Request& req, httplib::Response& res) {
    if (!authorised(req, res)) return;
    if (req.body.size() > kMaxBody) return error(res, 413, "body_too_large", "the body is over 64 KiB");
    nlohmann::json body;
    try {
      body = nlohmann::json::parse(req.body);
    } catch (const std::exception&) {
      return error(res, 400, "bad_json", "the body is not valid JSON");
    }
    const ControlReply r = control_.set(body);
    reply(res, r.status, r.body);
  });
  s.Get("/scenario/status", [this, authorised](const httplib::Request& req, httplib::Response& res) {
    if (!authorised(req, res)) return;
    const ControlReply r = control_.status();
    reply(res, r.status, r.body);
  });
  s.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    const ControlReply r = health_();
    reply(res, r.status, r.body);
  });
  for (const char* path : {"/scenario/set"}) {
    s.Get(path, not_allowed("POST"));
    s.Put(path, not_allowed("POST"));
    s.Delete(path, not_allowed("POST"));
    s.Patch(path, not_allowed("POST"));
  }
  for (const char* path : {"/scenario/status", "/health"}) {
    s.Post(path, not_allowed("GET"));
    s.Put(path, not_allowed("GET"));
    s.Delete(path, not_allowed("GET"));
    s.Patch(path, not_allowed("GET"));
  }
  // Unknown paths and transport-level refusals (body over the limit) get JSON errors too.
  s.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    if (res.status == 413)
      error(res, 413, "body_too_large", "the body is over 64 KiB");
    else if (res.status == 404)
      error(res, 404, "not_found", fmt::format("no such endpoint: {}", req.path));
    else if (res.status == 400)
      error(res, 400, "bad_json", "malformed request");
  });
}

ControlApi::~ControlApi() { stop(); }

int ControlApi::start(const std::string& host, int port) {
  int bound = port;
  if (port < 0)
    bound = server_->bind_to_any_port(host);
  else if (!server_->bind_to_port(host, port))
    bound = -1;
  if (bound <= 0) throw std::runtime_error(fmt::format("control API: cannot listen on {}:{}", host, port));
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  return bound;
}

void ControlApi::stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace nordiq::sim
