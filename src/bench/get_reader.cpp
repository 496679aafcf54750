#include "bench/get_reader.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <stdexcept>
#include <string_view>

#include <fmt/format.h>

namespace nordiq::bench {

namespace {

constexpr size_t kBuffer = 256 * 1024;  // one recv takes what the loopback holds (curl reads up to 512 KiB)

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return std::tolower(x) == std::tolower(y); });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

}  // namespace

GetReader::GetReader(int port) : port_(port), buf_(kBuffer) { connect(); }

void GetReader::connect() {
  begin_ = end_ = 0;
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd_ < 0) throw std::runtime_error(fmt::format("bench reader: socket: {}", std::strerror(errno)));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port_));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    const int e = errno;
    ::close(fd_);
    fd_ = -1;
    throw std::runtime_error(fmt::format("bench reader: connect to 127.0.0.1:{}: {}", port_, std::strerror(e)));
  }
  const int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

GetReader::~GetReader() {
  if (fd_ >= 0) ::close(fd_);
}

size_t GetReader::fill() {
  if (begin_ == end_) begin_ = end_ = 0;
  if (end_ == buf_.size()) {  // a head longer than what is left: move what is unread to the front
    std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
    if (end_ == buf_.size()) throw std::runtime_error("bench reader: a response head over 256 KiB");
  }
  for (;;) {
    const ssize_t n = ::recv(fd_, buf_.data() + end_, buf_.size() - end_, 0);
    if (n >= 0) {
      end_ += size_t(n);
      return size_t(n);
    }
    if (errno != EINTR) throw std::runtime_error(fmt::format("bench reader: recv: {}", std::strerror(errno)));
  }
}

std::string GetReader::read_head() {
  size_t scanned = 0;  // bytes after begin_ searched already, less 3 (a "\r\n\r\n" may straddle two reads)
  for (;;) {
    const std::string_view got(buf_.data() + begin_, end_ - begin_);
    if (const size_t at = got.find("\r\n\r\n", scanned); at != std::string_view::npos) {
      std::string head(got.substr(0, at + 2));
      begin_ += at + 4;
      return head;
    }
    scanned = got.size() >= 3 ? got.size() - 3 : 0;
    if (fill() == 0) throw std::runtime_error("bench reader: the daemon closed the connection before a response");
  }
}

void GetReader::skip_body(size_t length) {
  const size_t buffered = std::min(length, end_ - begin_);
  begin_ += buffered;
  for (size_t left = length - buffered; left > 0;) {
    begin_ = end_ = 0;
    if (fill() == 0) throw std::runtime_error(fmt::format("bench reader: the connection closed {} bytes short", left));
    const size_t used = std::min(left, end_);
    begin_ = used;
    left -= used;
  }
}

GetReader::Answer GetReader::get(const std::string& path, const std::vector<std::pair<std::string, std::string>>& headers) {
  if (fd_ < 0) connect();  // the daemon closed the previous connection (its keep-alive limit), as a client would
  std::string request = fmt::format("GET {} HTTP/1.1\r\nHost: 127.0.0.1\r\n", path);
  for (const auto& [name, value] : headers) request += fmt::format("{}: {}\r\n", name, value);
  request += "\r\n";
  for (size_t sent = 0; sent < request.size();) {
    const ssize_t n = ::send(fd_, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw std::runtime_error(fmt::format("bench reader: send: {}", std::strerror(errno)));
    sent += size_t(n);
  }
  const std::string head = read_head();
  Answer answer;
  if (head.size() < 12 || head.compare(0, 5, "HTTP/") != 0 ||
      std::from_chars(head.data() + 9, head.data() + 12, answer.status).ec != std::errc())
    throw std::runtime_error("bench reader: not an HTTP response: " + head.substr(0, 40));
  bool has_length = false, closes = false;
  size_t length = 0;
  for (size_t line = head.find("\r\n") + 2; line < head.size();) {
    const size_t eol = head.find("\r\n", line);
    const std::string_view field(head.data() + line, (eol == std::string::npos ? head.size() : eol) - line);
    line = eol == std::string::npos ? head.size() : eol + 2;
    const size_t colon = field.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view name = trim(field.substr(0, colon)), value = trim(field.substr(colon + 1));
    if (iequals(name, "Content-Length")) {
      has_length = std::from_chars(value.data(), value.data() + value.size(), length).ec == std::errc();
    } else if (iequals(name, "Connection")) {
      closes = iequals(value, "close");
    } else if (iequals(name, "ETag")) {
      answer.etag = std::string(value);
    } else if (iequals(name, "Transfer-Encoding")) {
      throw std::runtime_error(fmt::format("bench reader: Transfer-Encoding {} is not read here", value));
    }
  }
  const bool bodiless = answer.status == 304 || answer.status == 204 || answer.status < 200;
  if (!bodiless && !has_length) throw std::runtime_error(fmt::format("bench reader: a {} without Content-Length", answer.status));
  if (!bodiless) skip_body(length);
  answer.bytes = bodiless ? 0 : length;
  if (closes) {
    ::close(fd_);
    fd_ = -1;
  }
  return answer;
}

}  // namespace nordiq::bench
