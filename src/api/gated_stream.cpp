#include "api/gated_stream.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace nordiq::api {

namespace {

int poll_once(int sock, short events, std::chrono::milliseconds timeout) {
  pollfd fd{sock, events, 0};
  const int ready = ::poll(&fd, 1, static_cast<int>(std::max<int64_t>(0, timeout.count())));
  if (ready < 0) return errno == EINTR ? 0 : -1;
  return ready;
}

}  // namespace

GatedStream::GatedStream(int sock, RequestLimits limits, std::chrono::milliseconds request_timeout,
                         std::chrono::milliseconds read_timeout, std::chrono::milliseconds write_timeout)
    : sock_(sock), request_timeout_(request_timeout), read_timeout_(read_timeout),
      write_timeout_(write_timeout), budget_(limits) {
  socklen_t length = sizeof peer_;
  if (::getpeername(sock_, reinterpret_cast<sockaddr*>(&peer_), &length) != 0) peer_.ss_family = AF_UNSPEC;
  length = sizeof local_;
  if (::getsockname(sock_, reinterpret_cast<sockaddr*>(&local_), &length) != 0) local_.ss_family = AF_UNSPEC;
}

void GatedStream::begin_request() {
  budget_.begin();
  deadline_ = Clock::now() + request_timeout_;
}

bool GatedStream::await_request(std::chrono::milliseconds idle, const std::function<bool()>& stopping) {
  if (buffered_begin_ < buffered_end_) return true;  // pipelined
  const auto until = Clock::now() + idle;
  for (;;) {
    if (stopping()) return false;
    // Slices of at most 100 ms, so that a stopping server is noticed; the first one looks even
    // when `idle` is 0.
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
    const int ready = poll_once(sock_, POLLIN, std::clamp(left, std::chrono::milliseconds(0), std::chrono::milliseconds(100)));
    if (ready != 0) return ready > 0;
    if (Clock::now() >= until) return false;
  }
}

int GatedStream::wait_readable(Clock::time_point until) const {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
  if (left.count() <= 0) return 0;
  return poll_once(sock_, POLLIN, left + std::chrono::milliseconds(1));
}

bool GatedStream::is_readable() const {
  if (buffered_begin_ < buffered_end_) return true;
  return wait_readable(std::min(deadline_, Clock::now() + read_timeout_)) > 0;
}

bool GatedStream::is_writable() const { return poll_once(sock_, POLLOUT, write_timeout_) > 0; }

ssize_t GatedStream::fill() {
  const auto read_until = Clock::now() + read_timeout_;
  const int ready = wait_readable(std::min(deadline_, read_until));
  if (ready <= 0) {
    if (ready == 0 && Clock::now() >= deadline_) budget_.expire();
    return -1;
  }
  ssize_t got;
  do got = ::recv(sock_, buffer_.data(), buffer_.size(), 0);
  while (got < 0 && errno == EINTR);
  if (got <= 0) return got;
  buffered_begin_ = 0;
  buffered_end_ = static_cast<size_t>(got);
  return got;
}

ssize_t GatedStream::deliver(const char* bytes, ssize_t count) {
  if (count <= 0) return count;
  if (budget_.consume({bytes, static_cast<size_t>(count)}) != RequestVerdict::ok) return -1;
  return count;
}

ssize_t GatedStream::read(char* ptr, size_t size) {
  if (budget_.verdict() != RequestVerdict::ok) return -1;
  if (buffered_begin_ == buffered_end_) {
    if (const ssize_t got = fill(); got <= 0) return got;  // 0: the peer closed
  }
  const size_t count = std::min(size, buffered_end_ - buffered_begin_);
  std::memcpy(ptr, buffer_.data() + buffered_begin_, count);
  buffered_begin_ += count;
  return deliver(ptr, static_cast<ssize_t>(count));
}

ssize_t GatedStream::write(const char* ptr, size_t size) {
  if (!is_writable()) return -1;
  ssize_t sent;
  do sent = ::send(sock_, ptr, size, MSG_NOSIGNAL);
  while (sent < 0 && errno == EINTR);
  return sent;
}

void GatedStream::get_remote_ip_and_port(std::string& ip, int& port) const { ip = numeric_address(peer_, &port); }

void GatedStream::get_local_ip_and_port(std::string& ip, int& port) const { ip = numeric_address(local_, &port); }

}  // namespace nordiq::api
