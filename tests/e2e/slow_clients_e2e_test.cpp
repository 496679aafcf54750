// Issue #14: slow clients must not starve the daemon; one address holds at most its share of the
// connections (429); a request must arrive within --request-timeout (408); a head or body over its
// limit is cut while it is read (431, 413). Real daemon, real sockets on loopback.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "e2e/daemon.hpp"
#include "e2e/external_process.hpp"  // eventually()
#include "e2e/feed_records.hpp"

namespace nordiq::e2e {
namespace {

const std::string kKey = "e2e-slow-clients-key-0123456789";

// A connection to the daemon from `source` (any of 127.0.0.0/8: a second client address on
// loopback for the per-address cap).
int connect_loopback(int port, const char* source = "127.0.0.1") {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in from{};
  from.sin_family = AF_INET;
  ::inet_pton(AF_INET, source, &from.sin_addr);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (fd >= 0) ::close(fd);
    return -1;
  }
  return fd;
}

// Sends `bytes` in pieces until done or the daemon stops reading; returns the bytes it took.
size_t send_until_refused(int fd, const std::string& piece, size_t bytes) {
  size_t sent = 0;
  while (sent < bytes) {
    const ssize_t n = ::send(fd, piece.data(), piece.size(), MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  return sent;
}

// Everything the daemon answers until it closes, or until `timeout` without a byte.
std::string read_answer(int fd, std::chrono::seconds timeout) {
  timeval tv{static_cast<time_t>(timeout.count()), 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string answer;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) answer.append(buf, static_cast<size_t>(n));
  return answer;
}

// Slowloris: connections that start a request and then send one more header line every second,
// never ending it. cpp-httplib's read timeout is per read, so each keeps the thread serving it.
class Trickle {
 public:
  Trickle(int port, int connections, const char* source = "127.0.0.1") {
    for (int i = 0; i < connections; ++i) {
      const int fd = connect_loopback(port, source);
      if (fd < 0) continue;
      const std::string start = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n";
      (void)!::send(fd, start.data(), start.size(), MSG_NOSIGNAL);
      fds_.push_back(fd);
    }
    thread_ = std::thread([this] {
      for (int line = 0; !stop_; ++line) {
        const std::string header = "X-Slow-" + std::to_string(line) + ": 1\r\n";
        for (int fd : fds_) (void)!::send(fd, header.data(), header.size(), MSG_NOSIGNAL);
        for (int i = 0; i < 10 && !stop_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    });
  }
  ~Trickle() {
    stop_ = true;
    thread_.join();
    for (int fd : fds_) ::close(fd);
  }
  size_t connections() const { return fds_.size(); }
  int fd(size_t i) const { return fds_.at(i); }

 private:
  std::vector<int> fds_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// For a failure message: what the daemon has sent on each slow connection so far (an answer, or a
// close, means it no longer holds that connection).
std::string what_the_trickles_got(const Trickle& slow) {
  std::string out = "\nslow connections:";
  for (size_t i = 0; i < slow.connections(); ++i) {
    char buf[512];
    const ssize_t n = ::recv(slow.fd(i), buf, sizeof buf - 1, MSG_DONTWAIT | MSG_PEEK);
    out += "\n  #" + std::to_string(i) + ": ";
    if (n > 0) out += "answered: " + std::string(buf, static_cast<size_t>(std::min<ssize_t>(n, 80)));
    else if (n == 0) out += "closed by the daemon";
    else out += errno == EAGAIN || errno == EWOULDBLOCK ? "open, nothing answered" : std::string("error ") + std::strerror(errno);
  }
  return out + "\n";
}

// The value of an unlabelled sample in a Prometheus exposition (0 when absent).
size_t metric_value(const std::string& exposition, const std::string& name) {
  const size_t at = exposition.find("\n" + name + " ");
  return at == std::string::npos ? 0 : std::stoul(exposition.substr(at + name.size() + 2));
}

// Polls /metrics on `c` (keep-alive: one connection, counted) until the daemon serves `n`
// connections, for up to 30 s (a deadline for a condition, not a timing assertion); the last count.
size_t wait_for_open_connections(httplib::Client& c, size_t n) {
  size_t open = 0;
  eventually(std::chrono::seconds(30), [&] {
    if (auto res = c.Get("/metrics"); res && res->status == 200) open = metric_value(res->body, "nordiq_http_connections_open");
    return open == n;
  }, std::chrono::milliseconds(100));
  return open;
}

TEST(SlowClients, ManyTricklingConnectionsDoNotStarveHealthOrAValidFeed) {
  TempDir dir;
  // 4 threads kept ready: with a fixed pool of 4, four slow clients were enough to starve it.
  Daemon daemon(dir.path / "data", {"--threads", "4", "--max-connections", "256"}, {{"NORDIQ_API_KEY", kKey}});
  daemon.start();
  Trickle slow(daemon.port(), 40);
  ASSERT_EQ(slow.connections(), 40u);

  httplib::Client c = daemon.client(kKey);
  c.set_read_timeout(8, 0);  // a starved request would wait out the slow clients' 10 s+ reads
  c.set_keep_alive(true);
  // Every slow request holds a thread (40 open, and this connection), else the test proves nothing.
  ASSERT_EQ(wait_for_open_connections(c, 41), 41u) << what_the_trickles_got(slow);
  auto health = c.Get("/health");
  ASSERT_TRUE(health) << "GET /health got no answer while 40 slow clients were connected";
  EXPECT_EQ(health->status, 200);
  auto fed = c.Post("/feed/data", feed_body({make_record("ppweb001", steps_ago(1), 1)}), "application/json");
  ASSERT_TRUE(fed) << "POST /feed/data got no answer while 40 slow clients were connected";
  EXPECT_EQ(fed->status, 200) << fed->body;
}

TEST(SlowClients, TooManyOrTooLargeHeadersAre431NamingTheLimit) {
  TempDir dir;
  Daemon daemon(dir.path / "data", {}, {{"NORDIQ_API_KEY", kKey}});
  daemon.start();
  httplib::Headers many;
  for (int i = 0; i < 150; ++i) many.emplace("X-Flood-" + std::to_string(i), "1");
  auto flooded = daemon.client().Get("/health", many);
  ASSERT_TRUE(flooded);
  EXPECT_EQ(flooded->status, 431) << flooded->body;
  EXPECT_NE(flooded->body.find("header fields, at most 100"), std::string::npos) << flooded->body;

  httplib::Headers large;
  for (int i = 0; i < 8; ++i) large.emplace("X-Large-" + std::to_string(i), std::string(6000, 'a'));
  auto big = daemon.client().Get("/health", large);
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 431) << big->body;
  EXPECT_NE(big->body.find("bytes, at most 32768"), std::string::npos) << big->body;

  httplib::Headers normal;
  for (int i = 0; i < 20; ++i) normal.emplace("X-Normal-" + std::to_string(i), "1");
  auto ok = daemon.client().Get("/health", normal);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
}

TEST(SlowClients, PipelinedRequestsOnOneConnectionAreAllAnswered) {
  TempDir dir;
  Daemon daemon(dir.path / "data", {}, {{"NORDIQ_API_KEY", kKey}});
  daemon.start();
  const int fd = connect_loopback(daemon.port());
  ASSERT_GE(fd, 0);
  const std::string pair = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                           "GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  send_until_refused(fd, pair, pair.size());
  const std::string answer = read_answer(fd, std::chrono::seconds(10));
  ::close(fd);
  const size_t first = answer.find("HTTP/1.1 200 ");
  ASSERT_NE(first, std::string::npos) << answer;
  EXPECT_NE(answer.find("HTTP/1.1 200 ", first + 1), std::string::npos) << answer;
  EXPECT_NE(answer.find("\"records_stored\""), std::string::npos) << "the second answer is /status: " << answer;
}

TEST(SlowClients, AnAddressOverItsConnectionCapGets429WhileOtherAddressesAreServed) {
  TempDir dir;
  Daemon daemon(dir.path / "data", {"--max-connections-per-address", "8"}, {{"NORDIQ_API_KEY", kKey}});
  daemon.start();
  Trickle slow(daemon.port(), 8, "127.0.0.2");
  ASSERT_EQ(slow.connections(), 8u);
  // The eight are admitted once pool threads take them. Probing before that raced them: a probe
  // admitted first was served and one of the eight refused (seen under load), after which the
  // address never again held its cap. So wait until the daemon serves all eight, and this
  // keep-alive connection from 127.0.0.1: 9 open.
  auto watcher = daemon.client(kKey);
  watcher.set_keep_alive(true);
  ASSERT_EQ(wait_for_open_connections(watcher, 9), 9u) << what_the_trickles_got(slow) << daemon.log();
  std::string refused;
  for (int attempt = 0; attempt < 100 && refused.find(" 429 ") == std::string::npos; ++attempt) {
    const int fd = connect_loopback(daemon.port(), "127.0.0.2");
    ASSERT_GE(fd, 0);
    send_until_refused(fd, "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", 1);
    refused = read_answer(fd, std::chrono::seconds(10));
    ::close(fd);
    if (refused.find(" 429 ") == std::string::npos) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_NE(refused.find("HTTP/1.1 429 "), std::string::npos) << refused << what_the_trickles_got(slow) << daemon.log();
  EXPECT_NE(refused.find("--max-connections-per-address"), std::string::npos) << refused;
  EXPECT_NE(refused.find("Retry-After: "), std::string::npos) << refused;

  auto health = daemon.client(kKey).Get("/health");  // from 127.0.0.1
  ASSERT_TRUE(health) << "GET /health from another address got no answer";
  EXPECT_EQ(health->status, 200);
}

TEST(SlowClients, ARequestStillTricklingAtTheRequestTimeoutIsCutWith408) {
  TempDir dir;
  Daemon daemon(dir.path / "data", {"--request-timeout", "2"}, {{"NORDIQ_API_KEY", kKey}});
  daemon.start();
  Trickle slow(daemon.port(), 1);  // a header line every second, never the blank line
  ASSERT_EQ(slow.connections(), 1u);
  // Before, each line restarted the 10 s read timeout and the request was never answered.
  const std::string answer = read_answer(slow.fd(0), std::chrono::seconds(30));
  EXPECT_NE(answer.find("HTTP/1.1 408 "), std::string::npos) << answer;
  EXPECT_NE(answer.find("within 2 s (--request-timeout)"), std::string::npos) << answer;
  EXPECT_NE(answer.find("Connection: close"), std::string::npos) << answer;
}

TEST(SlowClients, AHeaderFloodIsCutAtTheHeadLimitNotReadToTheEnd) {
  TempDir dir;
  Daemon daemon(dir.path / "data", {}, {{"NORDIQ_API_KEY", kKey}});
  daemon.start();
  const int fd = connect_loopback(daemon.port());
  ASSERT_GE(fd, 0);
  std::string lines = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  while (lines.size() < 16 * 1024) lines += "X-Flood: " + std::string(80, 'a') + "\r\n";
  const size_t taken = send_until_refused(fd, lines, 64 << 20);  // 64 MB offered
  const std::string answer = read_answer(fd, std::chrono::seconds(10));
  ::close(fd);
  EXPECT_LT(taken, size_t{64} << 20) << "the daemon read the whole flood";
  EXPECT_NE(answer.find("HTTP/1.1 431 "), std::string::npos) << answer;
  EXPECT_NE(answer.find("the request head exceeds 65536 bytes"), std::string::npos) << answer;
  auto health = daemon.client().Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

TEST(SlowClients, AChunkedBodyOverTheBodyLimitIs413) {
  TempDir dir;
  Daemon daemon(dir.path / "data", {"--max-body-mib", "1"}, {{"NORDIQ_API_KEY", kKey}});
  daemon.start();
  const int fd = connect_loopback(daemon.port());
  ASSERT_GE(fd, 0);
  const std::string head = "POST /feed/data HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: " + kKey +
                           "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
  send_until_refused(fd, head, head.size());
  send_until_refused(fd, "1000\r\n" + std::string(4096, ' ') + "\r\n", 4 << 20);  // 4 MiB of whitespace
  const std::string answer = read_answer(fd, std::chrono::seconds(10));
  ::close(fd);
  EXPECT_NE(answer.find("HTTP/1.1 413 "), std::string::npos) << answer;
  EXPECT_NE(answer.find("--max-body-mib"), std::string::npos) << answer;
}

}  // namespace
}  // namespace nordiq::e2e
