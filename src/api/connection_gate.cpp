#include "api/connection_gate.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <cstring>

namespace nordiq::api {

std::string numeric_address(const sockaddr_storage& address, int* port) {
  std::array<char, INET6_ADDRSTRLEN> text{};
  int found_port = 0;
  if (address.ss_family == AF_INET) {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(address);
    ::inet_ntop(AF_INET, &v4.sin_addr, text.data(), text.size());
    found_port = ntohs(v4.sin_port);
  } else if (address.ss_family == AF_INET6) {
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(address);
    ::inet_ntop(AF_INET6, &v6.sin6_addr, text.data(), text.size());
    found_port = ntohs(v6.sin6_port);
  }
  if (port) *port = found_port;
  return text.data();
}

std::string address_key(const sockaddr_storage& peer) {
  if (peer.ss_family == AF_INET) return numeric_address(peer);
  if (peer.ss_family != AF_INET6) return "unknown";
  const auto& v6 = reinterpret_cast<const sockaddr_in6&>(peer);
  sockaddr_storage key{};
  if (IN6_IS_ADDR_V4MAPPED(&v6.sin6_addr)) {
    auto& v4 = reinterpret_cast<sockaddr_in&>(key);
    v4.sin_family = AF_INET;
    std::memcpy(&v4.sin_addr, v6.sin6_addr.s6_addr + 12, sizeof v4.sin_addr);
    return numeric_address(key);
  }
  auto& prefix = reinterpret_cast<sockaddr_in6&>(key);
  prefix.sin6_family = AF_INET6;
  std::memcpy(prefix.sin6_addr.s6_addr, v6.sin6_addr.s6_addr, 8);  // the /64
  return numeric_address(key) + "/64";
}

ConnectionGate::ConnectionGate(size_t max_per_address) : max_per_address_(max_per_address) {}

std::optional<ConnectionGate::Ticket> ConnectionGate::admit(const std::string& key) {
  std::lock_guard lock(mutex_);
  size_t& open = open_[key];
  if (max_per_address_ != 0 && open >= max_per_address_) {
    ++refused_;
    return std::nullopt;
  }
  ++open;
  ++open_total_;
  return std::optional<Ticket>(std::in_place, *this, key);
}

void ConnectionGate::release(const std::string& key) {
  std::lock_guard lock(mutex_);
  const auto it = open_.find(key);
  if (it == open_.end()) return;
  --open_total_;
  if (--it->second == 0) open_.erase(it);
}

size_t ConnectionGate::open_from(const std::string& key) const {
  std::lock_guard lock(mutex_);
  const auto it = open_.find(key);
  return it == open_.end() ? 0 : it->second;
}

size_t ConnectionGate::open_total() const {
  std::lock_guard lock(mutex_);
  return open_total_;
}

uint64_t ConnectionGate::refused() const {
  std::lock_guard lock(mutex_);
  return refused_;
}

void RequestBudget::begin() {
  head_bytes_ = body_bytes_ = line_length_ = lines_ = 0;
  line_starts_with_cr_ = false;
  head_complete_ = false;
  verdict_ = RequestVerdict::ok;
}

RequestVerdict RequestBudget::consume(std::string_view bytes) {
  if (verdict_ != RequestVerdict::ok) return verdict_;
  size_t at = 0;
  // As cpp-httplib's parser reads a head: lines end at LF, and the head ends at the first line
  // after the request line that is exactly CR LF.
  while (!head_complete_ && at < bytes.size()) {
    const char c = bytes[at++];
    if (++head_bytes_ > limits_.max_head_bytes) return verdict_ = RequestVerdict::head_too_large;
    if (c == '\n') {
      head_complete_ = lines_ > 0 && line_length_ == 1 && line_starts_with_cr_;
      ++lines_;
      line_length_ = 0;
      continue;
    }
    if (line_length_++ == 0) line_starts_with_cr_ = c == '\r';
  }
  body_bytes_ += bytes.size() - at;
  if (body_bytes_ > limits_.max_body_bytes) verdict_ = RequestVerdict::body_too_large;
  return verdict_;
}

}  // namespace nordiq::api
