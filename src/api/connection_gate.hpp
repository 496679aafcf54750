// What one client may hold of the HTTP server (issue #14): connections per address, and per request
// a deadline and byte limits for the head and the body. Pure bookkeeping, no sockets: the
// connections themselves are served by api/gated_server.hpp, which asks these.
//
//   ConnectionGate gate(64);
//   if (auto ticket = gate.admit(address_key(peer))) { ... serve ... }  // released with the ticket
//   else { ... 429 ... }
//
//   RequestBudget budget({.max_head_bytes = 64 << 10, .max_body_bytes = 32 << 20});
//   budget.begin();                           // a new request on the connection
//   if (budget.consume(bytes) != RequestVerdict::ok) { ... stop reading ... }
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace nordiq::api {

// The numeric text of an IPv4 or IPv6 address ("" for any other family, e.g. a socketpair), and
// its port in *port (0 then).
std::string numeric_address(const sockaddr_storage& address, int* port = nullptr);

// The key that per-address limits count by: the numeric IPv4 address (also when it reaches an
// IPv6 socket as ::ffff:a.b.c.d), or the /64 prefix of an IPv6 address, since one IPv6 host
// commonly owns a whole /64 and could otherwise rotate addresses to escape the cap.
std::string address_key(const sockaddr_storage& peer);

class ConnectionGate {
 public:
  explicit ConnectionGate(size_t max_per_address);  // 0 = no cap

  // Held for as long as the connection is served; releases its slot when destroyed.
  class Ticket {
   public:
    Ticket(ConnectionGate& gate, std::string key) : gate_(&gate), key_(std::move(key)) {}
    Ticket(Ticket&& other) noexcept : gate_(other.gate_), key_(std::move(other.key_)) { other.gate_ = nullptr; }
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;
    Ticket& operator=(Ticket&&) = delete;
    ~Ticket() {
      if (gate_) gate_->release(key_);
    }

   private:
    ConnectionGate* gate_;
    std::string key_;
  };

  // A ticket, or nothing when `key` already holds max_per_address connections.
  std::optional<Ticket> admit(const std::string& key);
  size_t open_from(const std::string& key) const;
  size_t open_total() const;  // connections holding a ticket now, every address
  size_t max_per_address() const { return max_per_address_; }
  uint64_t refused() const;

 private:
  void release(const std::string& key);

  const size_t max_per_address_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, size_t> open_;  // only addresses with a connection: bounded by them
  size_t open_total_ = 0;
  uint64_t refused_ = 0;
};

enum class RequestVerdict {
  ok,
  deadline,        // head and body not complete within the request timeout → 408
  head_too_large,  // more head bytes than any valid request carries → 431
  body_too_large,  // more body bytes on the wire than the body limit allows → 413
};

struct RequestLimits {
  size_t max_head_bytes = 64 * 1024;  // request line + header lines + the blank line
  size_t max_body_bytes = 32u << 20;  // wire bytes, chunk framing included
};

// Counts the bytes of one request as the parser takes them: the head up to and including its
// blank line (a line that is just CR LF, lines ending at LF as cpp-httplib splits them), then the
// body. It does not parse HTTP; it only bounds what reading a request costs,
// which cpp-httplib 0.11 does not (it reads any number of 8 KiB header lines, and any chunked body).
class RequestBudget {
 public:
  explicit RequestBudget(RequestLimits limits) : limits_(limits) {}

  void begin();  // a new request starts with the next byte
  // Takes the next bytes of the request; the verdict stays once it is not ok.
  RequestVerdict consume(std::string_view bytes);
  RequestVerdict verdict() const { return verdict_; }
  void expire() { verdict_ = RequestVerdict::deadline; }
  bool in_head() const { return !head_complete_; }
  const RequestLimits& limits() const { return limits_; }

 private:
  RequestLimits limits_;
  size_t head_bytes_ = 0, body_bytes_ = 0;
  size_t line_length_ = 0, lines_ = 0;  // of the head line being read; head lines ended so far
  bool line_starts_with_cr_ = false;
  bool head_complete_ = false;
  RequestVerdict verdict_ = RequestVerdict::ok;
};

}  // namespace nordiq::api
