// The HTTP front of the daemon on cpp-httplib: routes registered with the role they need, auth
// and per-key rate limits applied before any handler runs, JSON errors everywhere
// ({"error": "<code>", "message": "..."} with a real status code), TCP_NODELAY, a pool that grows
// per connection, and per connection a cap per client address, a request deadline and bounded
// head and body reads (api/gated_server.hpp). Modules add their endpoints in their own files:
//
//   api.get("/predictions/current", Role::read, [&](const httplib::Request& req, httplib::Response& res) {
//     ApiServer::send_json(res, 200, body);
//   });
//
// Handlers may throw HttpError(status, code, message) to answer with an error; any other
// exception becomes a 500 {"error":"internal"} (logged, never shown to the client).
#pragma once

#include <httplib.h>

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>

#include "api/auth.hpp"
#include "api/gated_server.hpp"
#include "api/rate_limiter.hpp"

namespace nordiq {
class StoreError;
}

namespace nordiq::api {

class HttpError : public std::runtime_error {
 public:
  HttpError(int status, std::string code, const std::string& message)
      : std::runtime_error(message), status_(status), code_(std::move(code)) {}
  int status() const { return status_; }
  const std::string& code() const { return code_; }

 private:
  int status_;
  std::string code_;
};

struct HttpSettings {
  std::string host = "127.0.0.1";
  int port = 8000;                            // 0 = any free port (see ApiServer::port())
  int threads = 16;                           // pool threads kept ready (api/elastic_pool.hpp)
  int max_connections = 512;                  // connections served at once: the pool grows to this
  int max_connections_per_address = 64;       // more from one address (IPv6: one /64) → 429; 0 = no cap
  int request_timeout_s = 30;                 // a request's head and body must arrive within this → 408
  size_t max_body_bytes = 32ull << 20;        // → 413
  int keep_alive_timeout_s = 2;               // idle keep-alive connections are closed after this
  int read_timeout_s = 10;
  RateLimits rate_limits;
};

using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;

class ApiServer {
 public:
  ApiServer(HttpSettings settings, Authenticator auth);
  ~ApiServer();

  void get(const std::string& pattern, Role role, Handler handler);
  void post(const std::string& pattern, Role role, Handler handler);
  void del(const std::string& pattern, Role role, Handler handler);

  // Binds (throws std::runtime_error when the address is taken/invalid); returns the port.
  int bind();
  int port() const { return port_; }
  // Serves until stop(): returns after in-flight requests have finished.
  void serve();
  void stop();  // thread-safe, idempotent

  const HttpSettings& settings() const { return settings_; }
  const ConnectionGate& connections() const { return server_.gate(); }
  const Authenticator& auth() const { return auth_; }

  static void send_json(httplib::Response& res, int status, const nlohmann::json& body);
  static void send_error(httplib::Response& res, int status, std::string_view code,
                         std::string_view message);
  // 503 for a write the store refused; says when the disk is full. `what`: "records", "samples".
  static void send_store_unavailable(httplib::Response& res, const StoreError& error, std::string_view what);

 private:
  httplib::Server::Handler wrap(Role role, Handler handler);
  // 429 instead of 401 once a client address has failed authentication too often.
  bool refuse_failed_auth(const httplib::Request& req, httplib::Response& res);
  // 403 for a write whose Origin is not this server.
  bool refuse_cross_origin(const httplib::Request& req, httplib::Response& res);
  bool authorize(const httplib::Request& req, httplib::Response& res, Role role);

  HttpSettings settings_;
  Authenticator auth_;
  RateLimiter limiter_;
  GatedServer server_;  // owns each connection's reads (api/gated_server.hpp)
  int port_ = 0;
};

}  // namespace nordiq::api
