// cpp-httplib's Server with NordIQ owning each accepted socket (issue #14). cpp-httplib 0.11 reads a
// request through its own socket stream: a timeout per read (a client trickling one header line
// every few seconds holds its connection forever), no bound on the head's size (a 100 MB header
// flood is read line by line) and no bound on a chunked body, and its task queue never sees the
// socket (so nothing can count connections per address). Its Server keeps the per-connection
// entry point virtual and the request parser protected, so this class serves the connection
// itself: it admits it through a ConnectionGate (per-address cap → 429) and hands the parser a
// GatedStream whose reads stop at the request's deadline (→ 408) and at the head and body limits
// of a RequestBudget (→ 431, 413). Parsing, routing and responses stay cpp-httplib's.
#pragma once

#include <httplib.h>

#include <chrono>
#include <cstddef>
#include <string>

#include "api/connection_gate.hpp"

namespace nordiq::api {

struct ConnectionLimits {
  size_t max_per_address = 64;                       // 0 = no cap
  std::chrono::milliseconds request_timeout{30'000};  // first byte of a request → end of its body
  RequestLimits request;
};

class GatedServer final : public httplib::Server {
 public:
  explicit GatedServer(ConnectionLimits limits);

  // Why the request being served on this thread stopped being read (ok when it was not cut):
  // the error handler turns the parser's 400 into 408, 431 or 413 with it.
  static RequestVerdict verdict_on_this_thread();
  // cpp-httplib 0.11 listens with a backlog of 5: a burst of clients connecting at once (collectors
  // at a step boundary, a reconnecting fleet) overflowed it, and the kernel's SYN retries made
  // their connects take 1-7 s. Call after binding: the backlog becomes the system's maximum.
  void widen_accept_backlog();
  // Serves one accepted connection on the calling thread, then closes it: what the listener's
  // pool threads run (public for the fuzz target and tests; the server must be bound).
  bool serve_connection(socket_t sock) { return process_and_close_socket(sock); }
  const ConnectionLimits& limits() const { return limits_; }
  const ConnectionGate& gate() const { return gate_; }

 private:
  bool process_and_close_socket(socket_t sock) override;
  bool serve_requests(class GatedStream& stream);
  void refuse_busy_address(class GatedStream& stream, const std::string& key);

  const ConnectionLimits limits_;
  ConnectionGate gate_;
  std::atomic<int64_t> last_refusal_log_ms_{0};
};

}  // namespace nordiq::api
