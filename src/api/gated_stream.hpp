// One accepted connection as cpp-httplib's parser reads it (api/gated_server.hpp): buffered reads
// (the parser takes the head one byte at a time) that stop at the request's deadline and at the
// RequestBudget's limits, and writes bounded by the write timeout. One stream lives as long as
// its connection, so bytes a client pipelines after one request are kept for the next.
#pragma once

#include <httplib.h>
#include <sys/socket.h>

#include <array>
#include <chrono>
#include <functional>
#include <string>

#include "api/connection_gate.hpp"

namespace nordiq::api {

class GatedStream final : public httplib::Stream {
 public:
  using Clock = std::chrono::steady_clock;

  GatedStream(int sock, RequestLimits limits, std::chrono::milliseconds request_timeout,
              std::chrono::milliseconds read_timeout, std::chrono::milliseconds write_timeout);

  bool is_readable() const override;
  bool is_writable() const override;
  ssize_t read(char* ptr, size_t size) override;
  ssize_t write(const char* ptr, size_t size) override;
  void get_remote_ip_and_port(std::string& ip, int& port) const override;
  void get_local_ip_and_port(std::string& ip, int& port) const override;
  socket_t socket() const override { return sock_; }

  // Waits up to `idle` for the first byte of another request; false when none came, the peer
  // left, or `stopping()` turned true (checked every 100 ms).
  bool await_request(std::chrono::milliseconds idle, const std::function<bool()>& stopping);
  void begin_request();  // the deadline and the byte budget start now
  RequestVerdict verdict() const { return budget_.verdict(); }
  const sockaddr_storage& peer() const { return peer_; }

 private:
  ssize_t fill();  // one recv into buffer_: bytes, 0 when the peer closed, -1 on error, timeout or deadline
  int wait_readable(Clock::time_point until) const;  // poll(): 1 readable, 0 timed out, -1 error
  ssize_t deliver(const char* bytes, ssize_t count);  // through the budget: -1 once it is exceeded

  const int sock_;
  const std::chrono::milliseconds request_timeout_, read_timeout_, write_timeout_;
  RequestBudget budget_;
  Clock::time_point deadline_ = Clock::time_point::max();
  std::array<char, 4096> buffer_{};
  size_t buffered_begin_ = 0, buffered_end_ = 0;
  sockaddr_storage peer_{}, local_{};
};

}  // namespace nordiq::api
