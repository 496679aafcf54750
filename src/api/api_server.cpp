#include "api/api_server.hpp"

#include "store/database.hpp"
#include "api/elastic_pool.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace nordiq::api {

namespace {

std::string_view error_code_for(int status) {
  switch (status) {
    case 400: return "bad_request";
    case 401: return "unauthorized";
    case 403: return "forbidden";
    case 404: return "not_found";
    case 405: return "method_not_allowed";
    case 408: return "request_timeout";
    case 409: return "conflict";
    case 413: return "payload_too_large";
    case 414: return "uri_too_long";
    case 422: return "unprocessable";
    case 429: return "rate_limited";
    case 431: return "headers_too_large";
    case 503: return "unavailable";
    default: return status >= 500 ? "internal" : "error";
  }
}

LimitClass limit_class(Role role) {
  switch (role) {
    case Role::ingest: return LimitClass::feed;
    case Role::admin: return LimitClass::admin;
    default: return LimitClass::read;
  }
}

bool starts_with_scheme(std::string_view value, std::string_view scheme) {
  return value.size() > scheme.size() &&
         std::equal(scheme.begin(), scheme.end(), value.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
         });
}

// X-API-Key, else `Authorization: Bearer <key>`, else `Authorization: Basic` with the key as the
// password (Prometheus' remote_write `basic_auth`; the user name is not checked).
std::string presented_key(const httplib::Request& req) {
  if (req.has_header("X-API-Key")) return req.get_header_value("X-API-Key");
  if (req.has_header("Authorization")) {
    const std::string value = req.get_header_value("Authorization");
    constexpr std::string_view kBearer = "Bearer ", kBasic = "Basic ";
    if (starts_with_scheme(value, kBearer)) return value.substr(kBearer.size());
    if (starts_with_scheme(value, kBasic)) return basic_auth_password(std::string_view(value).substr(kBasic.size()));
  }
  return {};
}

// RFC 6585 §5 (431): more header fields or bytes than any client of NordIQ sends. The parser has
// already read them when this runs; what reading a head may cost is bounded before that, by the
// GatedStream (kMaxHeadWireBytes: request line, header lines and all).
constexpr size_t kMaxHeaderFields = 100;
constexpr size_t kMaxHeaderBytes = 32 * 1024;
constexpr size_t kMaxHeadWireBytes = 2 * kMaxHeaderBytes;

ConnectionLimits connection_limits(const HttpSettings& settings) {
  ConnectionLimits limits;
  limits.max_per_address = static_cast<size_t>(std::max(0, settings.max_connections_per_address));
  limits.request_timeout = std::chrono::seconds(std::max(1, settings.request_timeout_s));
  limits.request.max_head_bytes = kMaxHeadWireBytes;
  // Wire bytes: a chunked body's framing ("1000\r\n" per 4 KiB chunk) rides on top of its content.
  limits.request.max_body_bytes = settings.max_body_bytes + settings.max_body_bytes / 16 + 64 * 1024;
  return limits;
}

// The parser answers 400 to a request its stream stopped reading: say why it was cut.
std::string explain_cut_request(httplib::Response& res, const ConnectionLimits& limits) {
  switch (GatedServer::verdict_on_this_thread()) {
    case RequestVerdict::deadline:
      res.status = 408;
      return fmt::format("request: head and body not received within {} s (--request-timeout)",
                         std::chrono::duration_cast<std::chrono::seconds>(limits.request_timeout).count());
    case RequestVerdict::head_too_large:
      res.status = 431;
      return fmt::format("headers: the request head exceeds {} bytes", limits.request.max_head_bytes);
    case RequestVerdict::body_too_large:
      res.status = 413;
      return fmt::format("body: larger than --max-body-mib allows (reading stopped after {} bytes)",
                         limits.request.max_body_bytes);
    case RequestVerdict::ok: break;
  }
  return {};
}

std::string header_limit_breach(const httplib::Request& req) {
  if (req.headers.size() > kMaxHeaderFields)
    return fmt::format("headers: {} header fields, at most {}", req.headers.size(), kMaxHeaderFields);
  size_t bytes = 0;
  for (const auto& [name, value] : req.headers) bytes += name.size() + value.size() + 4;  // ": " and CRLF
  if (bytes > kMaxHeaderBytes) return fmt::format("headers: {} bytes, at most {}", bytes, kMaxHeaderBytes);
  return {};
}

}  // namespace

ApiServer::ApiServer(HttpSettings settings, Authenticator auth)
    : settings_(std::move(settings)), auth_(std::move(auth)), limiter_(settings_.rate_limits),
      server_(connection_limits(settings_)) {
  // Without TCP_NODELAY every response waits for the peer's delayed ACK (~40 ms).
  server_.set_tcp_nodelay(true);
  // httplib's default also sets SO_REUSEPORT, which lets a second daemon bind the same port and
  // silently receive half the traffic: keep only SO_REUSEADDR (fast restarts after TIME_WAIT).
  server_.set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, reinterpret_cast<const void*>(&yes), sizeof yes);
  });
  const auto threads = static_cast<size_t>(std::max(2, settings_.threads));
  const auto max_connections = std::max(threads, static_cast<size_t>(settings_.max_connections));
  // One pool thread serves one connection for as long as it lives: the pool grows with the
  // connections, so slow clients cannot take every thread (api/elastic_pool.hpp).
  server_.new_task_queue = [threads, max_connections] { return new ElasticPool(threads, max_connections); };
  server_.set_payload_max_length(settings_.max_body_bytes);
  server_.set_keep_alive_timeout(settings_.keep_alive_timeout_s);
  server_.set_read_timeout(settings_.read_timeout_s, 0);
  server_.set_write_timeout(settings_.read_timeout_s, 0);
  // HTTP/1.1 (RFC 9112 §6.3): a request with neither Content-Length nor Transfer-Encoding has no
  // body. cpp-httplib 0.11 instead reads a POST's body until the peer closes, so a bodiless
  // `curl -X POST .../admin/cancel-training` waited out the read timeout and got 400. The
  // pre-routing handler runs before the body is read: say "empty" there.
  // A Content-Length that is not a plain non-negative integer ("-5") is refused here too: httplib
  // read it as a huge length and answered 413 only after the read timeout.
  server_.set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
    if (const std::string why = header_limit_breach(req); !why.empty()) {
      send_error(res, 431, "headers_too_large", why);
      res.set_header("Connection", "close");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (!req.has_header("Content-Length")) {
      if (!req.has_header("Transfer-Encoding")) const_cast<httplib::Request&>(req).headers.emplace("Content-Length", "0");
      return httplib::Server::HandlerResponse::Unhandled;
    }
    const std::string length = req.get_header_value("Content-Length");
    if (length.empty() || length.size() > 18 || length.find_first_not_of("0123456789") != std::string::npos) {
      send_error(res, 400, "invalid_header",
                 fmt::format("Content-Length: must be a non-negative integer, got '{}'", length.substr(0, 32)));
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  // Every error response is JSON, also the ones httplib produces itself (404, 413, ...).
  server_.set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    std::string message = explain_cut_request(res, server_.limits());
    if (!message.empty()) {
      // The cut request's unread bytes would be taken for the next request: say the connection ends.
      const_cast<httplib::Request&>(req).headers.emplace("Connection", "close");
    } else {
      switch (res.status) {
        case 404: message = fmt::format("no endpoint {} {}", req.method, req.path); break;
        case 413: message = "request body too large"; break;
        default: message = fmt::format("HTTP {}", res.status); break;
      }
    }
    send_error(res, res.status, error_code_for(res.status), message);
  });
  server_.set_exception_handler([](const httplib::Request& req, httplib::Response& res,
                                   std::exception_ptr ep) {
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      spdlog::error("api: {} {} failed: {}", req.method, req.path, e.what());
    } catch (...) {
      spdlog::error("api: {} {} failed", req.method, req.path);
    }
    send_error(res, 500, "internal", "internal error");
  });
}

ApiServer::~ApiServer() { stop(); }

void ApiServer::send_json(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                  "application/json");
}

void ApiServer::send_store_unavailable(httplib::Response& res, const StoreError& error, std::string_view what) {
  send_error(res, 503, "store_unavailable",
             error.disk_full() ? fmt::format("store: the disk is full, the {} were not stored; retry once space is freed", what)
                               : fmt::format("store: the {} could not be stored; retry later", what));
}

void ApiServer::send_error(httplib::Response& res, int status, std::string_view code,
                           std::string_view message) {
  // A 503 is transient (store busy or full, no forecast yet): say when to come back.
  if (status == 503 && !res.has_header("Retry-After")) res.set_header("Retry-After", "5");
  send_json(res, status, nlohmann::json{{"error", code}, {"message", message}});
}

bool ApiServer::refuse_failed_auth(const httplib::Request& req, httplib::Response& res) {
  const int wait = limiter_.acquire("ip:" + req.remote_addr, LimitClass::failed_auth);
  if (wait == 0) return false;
  res.set_header("Retry-After", std::to_string(wait));
  send_error(res, 429, "rate_limited", fmt::format("too many failed authentications; retry in {} s", wait));
  return true;
}

// A browser sends Origin with a cross-site request; a write from another origin is refused even
// under --no-auth (a page could otherwise post records through a user's browser). Clients that
// are not browsers send no Origin.
bool ApiServer::refuse_cross_origin(const httplib::Request& req, httplib::Response& res) {
  if (!req.has_header("Origin")) return false;
  std::string origin = req.get_header_value("Origin");  // a copy: httplib returns it by value
  if (const size_t scheme = origin.find("://"); scheme != std::string::npos) origin.erase(0, scheme + 3);
  if (origin == req.get_header_value("Host")) return false;
  send_error(res, 403, "cross_origin", "Origin: writes from another origin are refused");
  return true;
}

bool ApiServer::authorize(const httplib::Request& req, httplib::Response& res, Role role) {
  if (role == Role::open) return true;
  if ((role == Role::ingest || role == Role::admin) && req.method != "GET" && refuse_cross_origin(req, res)) return false;
  std::string identity;
  if (auth_.enabled()) {
    const std::string key = presented_key(req);
    if (key.empty()) {
      if (refuse_failed_auth(req, res)) return false;
      send_error(res, 401, "unauthorized",
                 "missing API key: send it as X-API-Key (or Authorization: Bearer <key>, or basic auth with the key as password)");
      return false;
    }
    const KeyKind kind = auth_.identify(key);
    if (kind == KeyKind::none) {
      if (refuse_failed_auth(req, res)) return false;
      send_error(res, 401, "unauthorized", "invalid API key");
      return false;
    }
    if (!Authenticator::allows(kind, role)) {
      send_error(res, 403, "forbidden",
                 role == Role::admin && !auth_.admin_enabled()
                     ? std::string("admin endpoints are disabled: no admin key is configured")
                     : fmt::format("this key does not grant the {} role", role_name(role)));
      return false;
    }
    identity = kind == KeyKind::admin ? "key:admin" : "key:api";
  } else {
    identity = "ip:" + req.remote_addr;  // --no-auth: limit per client address
  }
  if (const int wait = limiter_.acquire(identity, limit_class(role)); wait > 0) {
    res.set_header("Retry-After", std::to_string(wait));
    send_error(res, 429, "rate_limited",
               fmt::format("rate limit exceeded; retry in {} s", wait));
    return false;
  }
  return true;
}

httplib::Server::Handler ApiServer::wrap(Role role, Handler handler) {
  return [this, role, handler = std::move(handler)](const httplib::Request& req,
                                                    httplib::Response& res) {
    if (!authorize(req, res, role)) return;
    try {
      handler(req, res);
    } catch (const HttpError& e) {
      send_error(res, e.status(), e.code(), e.what());
    } catch (const std::exception& e) {
      spdlog::error("api: {} {} failed: {}", req.method, req.path, e.what());
      send_error(res, 500, "internal", "internal error");
    }
  };
}

void ApiServer::get(const std::string& pattern, Role role, Handler handler) {
  server_.Get(pattern, wrap(role, std::move(handler)));
}
void ApiServer::post(const std::string& pattern, Role role, Handler handler) {
  server_.Post(pattern, wrap(role, std::move(handler)));
}
void ApiServer::del(const std::string& pattern, Role role, Handler handler) {
  server_.Delete(pattern, wrap(role, std::move(handler)));
}

int ApiServer::bind() {
  if (settings_.port == 0) {
    port_ = server_.bind_to_any_port(settings_.host);
    if (port_ <= 0)
      throw std::runtime_error(fmt::format("cannot listen on {} (any port)", settings_.host));
  } else {
    if (!server_.bind_to_port(settings_.host, settings_.port))
      throw std::runtime_error(fmt::format("cannot listen on {}:{} (address in use or invalid?)",
                                           settings_.host, settings_.port));
    port_ = settings_.port;
  }
  server_.widen_accept_backlog();
  return port_;
}

void ApiServer::serve() { server_.listen_after_bind(); }

void ApiServer::stop() {
  if (server_.is_running()) server_.stop();
}

}  // namespace nordiq::api
