// The bench's timed GET client against a real cpp-httplib server on a loopback port: it must read
// every body whole (or the readings after it would start mid-body), follow the server's keep-alive
// limit, and refuse what it cannot read rather than time it wrongly.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <stdexcept>
#include <string>
#include <thread>

#include "bench/get_reader.hpp"

namespace nordiq::bench {
namespace {

class LoopbackServer {
 public:
  explicit LoopbackServer(size_t keep_alive_max = 100) {
    server_.set_keep_alive_max_count(keep_alive_max);
    server_.Get("/body", [this](const httplib::Request& req, httplib::Response& res) {
      ++requests_;
      const size_t n = std::stoul(req.get_param_value("n"));
      if (req.get_header_value("If-None-Match") == "\"v1\"") {
        res.status = 304;
        res.set_header("ETag", "\"v1\"");
        return;
      }
      res.set_header("ETag", "\"v1\"");
      res.set_content(std::string(n, 'x'), "text/plain");
    });
    server_.Get("/chunked", [](const httplib::Request&, httplib::Response& res) {
      res.set_chunked_content_provider("text/plain", [](size_t, httplib::DataSink& sink) {
        sink.write("abc", 3);
        sink.done();
        return true;
      });
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    // bound and listening already: a connection made before the accept loop starts waits in the backlog
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // stop() before the accept loop runs would do nothing, and the loop would never end
    while (!server_.is_running()) std::this_thread::yield();
  }
  ~LoopbackServer() {
    server_.stop();
    thread_.join();
  }
  int port() const { return port_; }
  int requests() const { return requests_.load(); }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::atomic<int> requests_{0};
  std::thread thread_;
};

TEST(GetReader, ReadsEachBodyWholeOnOneConnectionAndCountsItsBytes) {
  LoopbackServer server;
  GetReader reader(server.port());
  // Sizes around the reader's 256 KiB buffer, and one far larger: each body must end exactly where
  // the next response starts, or the next head would not parse.
  for (size_t n : {size_t(0), size_t(1), size_t(262'144 - 200), size_t(262'144), size_t(262'145), size_t(15'000'001), size_t(7)}) {
    const GetReader::Answer a = reader.get("/body?n=" + std::to_string(n));
    EXPECT_EQ(a.status, 200);
    EXPECT_EQ(a.bytes, n);
    EXPECT_EQ(a.etag, "\"v1\"");
  }
  EXPECT_EQ(server.requests(), 7);
}

TEST(GetReader, ARevalidationAnsweredNotModifiedHasNoBody) {
  LoopbackServer server;
  GetReader reader(server.port());
  const GetReader::Answer a = reader.get("/body?n=1000", {{"If-None-Match", "\"v1\""}});
  EXPECT_EQ(a.status, 304);
  EXPECT_EQ(a.bytes, 0u);
  EXPECT_EQ(a.etag, "\"v1\"");
  EXPECT_EQ(reader.get("/body?n=1000").bytes, 1000u);  // the next response is read from its start
}

TEST(GetReader, ConnectsAgainWhenTheServerClosesAtItsKeepAliveLimit) {
  LoopbackServer server(2);  // the second response of each connection says Connection: close
  GetReader reader(server.port());
  for (int i = 0; i < 5; ++i) EXPECT_EQ(reader.get("/body?n=50000").bytes, 50'000u) << "request " << i;
  EXPECT_EQ(server.requests(), 5);
}

TEST(GetReader, RefusesAChunkedBodyNamingIt) {
  LoopbackServer server;
  GetReader reader(server.port());
  try {
    reader.get("/chunked");
    FAIL() << "a chunked body was read as if it had a length";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("Transfer-Encoding"), std::string::npos) << e.what();
  }
}

TEST(GetReader, SaysWhenNothingListens) {
  const int port = [] {
    LoopbackServer gone;
    return gone.port();
  }();
  EXPECT_THROW(GetReader{port}, std::runtime_error);
}

}  // namespace
}  // namespace nordiq::bench
