#include "api/connection_gate.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <string>

namespace nordiq::api {
namespace {

// A peer address as getpeername() gives it.
sockaddr_storage peer(int family, const char* text) {
  sockaddr_storage storage{};
  storage.ss_family = static_cast<sa_family_t>(family);
  void* address = family == AF_INET ? static_cast<void*>(&reinterpret_cast<sockaddr_in&>(storage).sin_addr)
                                    : static_cast<void*>(&reinterpret_cast<sockaddr_in6&>(storage).sin6_addr);
  ::inet_pton(family, text, address);
  return storage;
}
sockaddr_storage ipv4(const char* text) { return peer(AF_INET, text); }
sockaddr_storage ipv6(const char* text) { return peer(AF_INET6, text); }

TEST(AddressKey, CountsIpv4ByAddressAlsoWhenMappedIntoIpv6) {
  EXPECT_EQ(address_key(ipv4("192.0.2.7")), "192.0.2.7");
  EXPECT_EQ(address_key(ipv6("::ffff:192.0.2.7")), "192.0.2.7");
}

TEST(AddressKey, CountsIpv6ByItsSlash64SoOneHostCannotRotateAddresses) {
  EXPECT_EQ(address_key(ipv6("2001:db8:1:2:aaaa::1")), "2001:db8:1:2::/64");
  EXPECT_EQ(address_key(ipv6("2001:db8:1:2:bbbb::9")), address_key(ipv6("2001:db8:1:2:aaaa::1")));
  EXPECT_NE(address_key(ipv6("2001:db8:1:3::1")), address_key(ipv6("2001:db8:1:2::1")));
}

TEST(ConnectionGate, RefusesAnAddressAtItsCapWhileOthersAreAdmitted) {
  ConnectionGate gate(2);
  auto first = gate.admit("10.0.0.1");
  auto second = gate.admit("10.0.0.1");
  ASSERT_TRUE(first && second);
  EXPECT_FALSE(gate.admit("10.0.0.1"));
  EXPECT_TRUE(gate.admit("10.0.0.2"));
  EXPECT_EQ(gate.open_from("10.0.0.1"), 2u);
  EXPECT_EQ(gate.refused(), 1u);
}

TEST(ConnectionGate, AClosedConnectionFreesItsSlot) {
  ConnectionGate gate(1);
  {
    auto held = gate.admit("10.0.0.1");
    ASSERT_TRUE(held);
    EXPECT_FALSE(gate.admit("10.0.0.1"));
  }
  EXPECT_EQ(gate.open_from("10.0.0.1"), 0u);
  EXPECT_TRUE(gate.admit("10.0.0.1"));
}

TEST(ConnectionGate, CountsTheConnectionsOpenOverEveryAddressAsTheyComeAndGo) {
  ConnectionGate gate(2);
  auto a1 = gate.admit("10.0.0.1");
  {
    auto b1 = gate.admit("10.0.0.2");
    auto a2 = gate.admit("10.0.0.1");
    EXPECT_FALSE(gate.admit("10.0.0.1"));  // refused: not open
    EXPECT_EQ(gate.open_total(), 3u);
  }
  EXPECT_EQ(gate.open_total(), 1u);
  a1.reset();
  EXPECT_EQ(gate.open_total(), 0u);
}

TEST(ConnectionGate, ZeroMeansNoCap) {
  ConnectionGate gate(0);
  std::vector<ConnectionGate::Ticket> held;
  for (int i = 0; i < 1000; ++i) {
    auto ticket = gate.admit("10.0.0.1");
    ASSERT_TRUE(ticket) << "connection " << i;
    held.push_back(std::move(*ticket));
  }
  EXPECT_EQ(gate.open_from("10.0.0.1"), 1000u);
}

TEST(RequestBudget, FindsTheEndOfTheHeadAcrossReadsOneByteAtATime) {
  RequestBudget budget({.max_head_bytes = 64, .max_body_bytes = 4});
  budget.begin();
  const std::string head = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  for (char c : head) ASSERT_EQ(budget.consume(std::string_view(&c, 1)), RequestVerdict::ok);
  EXPECT_FALSE(budget.in_head());
  EXPECT_EQ(budget.consume("abcd"), RequestVerdict::ok);
  EXPECT_EQ(budget.consume("e"), RequestVerdict::body_too_large);
}

TEST(RequestBudget, AHeadLongerThanTheLimitIsCutWhateverItsLines) {
  RequestBudget budget({.max_head_bytes = 30, .max_body_bytes = 1 << 20});
  budget.begin();
  EXPECT_EQ(budget.consume("GET / HTTP/1.1\r\n"), RequestVerdict::ok);
  EXPECT_EQ(budget.consume("X-A: 1\r\nX-B: 2\r\nX-C: 3\r\n"), RequestVerdict::head_too_large);
  EXPECT_EQ(budget.consume("\r\n"), RequestVerdict::head_too_large) << "the verdict stays";
}

TEST(RequestBudget, TheHeadEndsWhereTheParserEndsIt) {
  RequestBudget budget({.max_head_bytes = 1024, .max_body_bytes = 0});
  budget.begin();
  // An empty line without CR, or a CR inside a line, does not end it ...
  EXPECT_EQ(budget.consume("GET / HTTP/1.1\n\nX: a\r\r\n"), RequestVerdict::ok);
  EXPECT_TRUE(budget.in_head());
  // ... a line that is just CR LF does, also after a line ended by a bare LF (cpp-httplib splits
  // lines at LF and skips such lines).
  EXPECT_EQ(budget.consume("X: b\n\r\n"), RequestVerdict::ok);
  EXPECT_FALSE(budget.in_head());
  EXPECT_EQ(budget.consume("x"), RequestVerdict::body_too_large);
}

TEST(RequestBudget, EachRequestOnAConnectionStartsAFreshBudget) {
  RequestBudget budget({.max_head_bytes = 32, .max_body_bytes = 2});
  budget.begin();
  EXPECT_EQ(budget.consume("GET / HTTP/1.1\r\n\r\nabc"), RequestVerdict::body_too_large);
  budget.begin();
  EXPECT_EQ(budget.verdict(), RequestVerdict::ok);
  EXPECT_EQ(budget.consume("GET / HTTP/1.1\r\n\r\nab"), RequestVerdict::ok);
  budget.expire();
  EXPECT_EQ(budget.verdict(), RequestVerdict::deadline);
}

}  // namespace
}  // namespace nordiq::api
