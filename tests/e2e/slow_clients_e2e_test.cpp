// Issue #14: slow clients must not starve the daemon, and oversized header sets get 431. Real
// daemon, real sockets on loopback.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "e2e/daemon.hpp"
#include "e2e/feed_records.hpp"

namespace nordiq::e2e {
namespace {

const std::string kKey = "e2e-slow-clients-key-0123456789";

int connect_loopback(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (fd >= 0) ::close(fd);
    return -1;
  }
  return fd;
}

// Slowloris: connections that start a request and then send one more header line every second,
// never ending it. cpp-httplib's read timeout is per read, so each keeps the thread serving it.
class Trickle {
 public:
  Trickle(int port, int connections) {
    for (int i = 0; i < connections; ++i) {
      const int fd = connect_loopback(port);
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

 private:
  std::vector<int> fds_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST(SlowClients, ManyTricklingConnectionsDoNotStarveHealthOrAValidFeed) {
  TempDir dir;
  // 4 threads kept ready: with a fixed pool of 4, four slow clients were enough to starve it.
  Daemon daemon(dir.path / "data", {"--threads", "4", "--max-connections", "256"}, {{"NORDIQ_API_KEY", kKey}});
  daemon.start();
  Trickle slow(daemon.port(), 40);
  ASSERT_EQ(slow.connections(), 40u);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // let every slow request reach a thread

  httplib::Client c = daemon.client(kKey);
  c.set_read_timeout(8, 0);  // a starved request would wait out the slow clients' 10 s+ reads
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

}  // namespace
}  // namespace nordiq::e2e
