#include "api/gated_server.hpp"

#include <fmt/format.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "api/gated_stream.hpp"

namespace nordiq::api {

namespace {

thread_local const GatedStream* tl_serving = nullptr;  // the connection this pool thread is serving

std::chrono::milliseconds as_ms(time_t sec, time_t usec) {
  return std::chrono::milliseconds(sec * 1000 + usec / 1000);
}

// Marks the stream as the one this thread serves, for verdict_on_this_thread().
class ServingOnThisThread {
 public:
  explicit ServingOnThisThread(const GatedStream& stream) { tl_serving = &stream; }
  ~ServingOnThisThread() { tl_serving = nullptr; }
  ServingOnThisThread(const ServingOnThisThread&) = delete;
  ServingOnThisThread& operator=(const ServingOnThisThread&) = delete;
};

// Closing a socket with unread bytes resets the connection, and a reset can discard the answer
// (429, 408, 431, 413) before the client reads it. So: end our side, then discard what the client
// still sends for a moment (at most 256 KiB and `linger`: a flooding client cannot hold the thread).
void close_lingering(int sock, std::chrono::milliseconds linger) {
  ::shutdown(sock, SHUT_WR);
  char sink[16 * 1024];
  const auto until = std::chrono::steady_clock::now() + linger;
  for (size_t discarded = 0; discarded < 256 * 1024;) {
    const ssize_t n = ::recv(sock, sink, sizeof sink, MSG_DONTWAIT);
    if (n > 0) {
      discarded += static_cast<size_t>(n);
      continue;
    }
    if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) break;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    pollfd readable{sock, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&readable, 1, static_cast<int>(left.count())) <= 0) break;
  }
  ::close(sock);
}

}  // namespace

GatedServer::GatedServer(ConnectionLimits limits) : limits_(limits), gate_(limits.max_per_address) {}

RequestVerdict GatedServer::verdict_on_this_thread() {
  return tl_serving ? tl_serving->verdict() : RequestVerdict::ok;
}

void GatedServer::widen_accept_backlog() {
  if (const socket_t listening = svr_sock_; listening != INVALID_SOCKET && ::listen(listening, SOMAXCONN) != 0)
    spdlog::warn("api: could not widen the accept backlog: {}", std::strerror(errno));
}

bool GatedServer::process_and_close_socket(socket_t sock) {
  bool served = false;
  // A refusal lingers briefly (the client's request may still be on its way), since a connection
  // flood is refused one connection after another; a cut request longer, as it was sending.
  auto linger = std::chrono::milliseconds(20);
  {
    GatedStream stream(sock, limits_.request, limits_.request_timeout, as_ms(read_timeout_sec_, read_timeout_usec_),
                       as_ms(write_timeout_sec_, write_timeout_usec_));
    const std::string key = address_key(stream.peer());
    if (auto ticket = gate_.admit(key)) {
      served = serve_requests(stream);
      linger = std::chrono::milliseconds(stream.verdict() == RequestVerdict::ok ? 0 : 200);
    } else {
      refuse_busy_address(stream, key);
    }
  }
  close_lingering(sock, linger);
  return served;
}

// cpp-httplib's keep-alive loop (at most keep_alive_max_count_ requests, each after at most
// keep_alive_timeout_sec_ idle), with a deadline and a byte budget per request.
bool GatedServer::serve_requests(GatedStream& stream) {
  const ServingOnThisThread serving(stream);
  const auto idle = std::chrono::seconds(keep_alive_timeout_sec_);
  const auto stopping = [this] { return svr_sock_ == INVALID_SOCKET; };
  bool ok = false;
  for (size_t left = keep_alive_max_count_; left > 0; --left) {
    if (!stream.await_request(idle, stopping)) break;
    stream.begin_request();
    bool connection_closed = false;
    ok = process_request(stream, left == 1, connection_closed, nullptr);
    // A cut request's remaining bytes are unread: the connection cannot carry another one.
    if (!ok || connection_closed || stream.verdict() != RequestVerdict::ok) break;
  }
  return ok;
}

// 429 before reading anything: this address already holds its share of the connections.
void GatedServer::refuse_busy_address(GatedStream& stream, const std::string& key) {
  const std::string body = fmt::format(
      R"json({{"error":"too_many_connections","message":"connections: {} already holds {} open connections, the most one address may (--max-connections-per-address)"}})json",
      key, limits_.max_per_address);
  const std::string response = fmt::format(
      "HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\nRetry-After: 5\r\n"
      "Connection: close\r\nContent-Length: {}\r\n\r\n{}",
      body.size(), body);
  for (size_t sent = 0; sent < response.size();) {
    const ssize_t n = stream.write(response.data() + sent, response.size() - sent);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  // One line per 10 s at most: a flood of refused connections must not become a flood of logs.
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now().time_since_epoch()).count();
  int64_t last = last_refusal_log_ms_.load();
  if (now_ms - last >= 10'000 && last_refusal_log_ms_.compare_exchange_strong(last, now_ms))
    spdlog::warn("api: refusing connections from {}: {} open, at most {} per address ({} refused so far)", key,
                 gate_.open_from(key), limits_.max_per_address, gate_.refused());
}

}  // namespace nordiq::api
