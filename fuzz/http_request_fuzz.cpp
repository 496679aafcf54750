// Raw bytes from a client, as the daemon's HTTP front reads them (issue #14): one connection
// served by GatedServer (api/gated_server.hpp: our stream, per-request budget and deadline in
// front of cpp-httplib's parser) over a socketpair, with a GET and a POST route. Invariants: the
// server answers or closes without crashing, every answer starts with a status line, and a
// request whose head is over the head limit is never routed.
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "api/gated_server.hpp"

using namespace nordiq::api;

namespace {

constexpr size_t kMaxHead = 1024;  // small, so that the fuzzer reaches it
std::atomic<size_t> longest_routed_head{0};

GatedServer& server() {
  static GatedServer* s = [] {
    ConnectionLimits limits;
    limits.request_timeout = std::chrono::milliseconds(500);
    limits.request.max_head_bytes = kMaxHead;
    limits.request.max_body_bytes = 4096;
    auto* gated = new GatedServer(limits);
    gated->set_read_timeout(0, 100'000);
    gated->set_write_timeout(0, 100'000);
    gated->set_keep_alive_timeout(0);
    gated->set_payload_max_length(2048);
    auto note_head = [](const httplib::Request& req) {
      size_t head = req.method.size() + req.target.size() + req.version.size() + 4;
      // The fewest bytes that parse to these fields: "M T V\r\n", then "name:value\r\n" each
      // (the parser trims the spaces around a value), less the fields the parser adds itself.
      for (const auto& [name, value] : req.headers)
        if (name != "REMOTE_ADDR" && name != "REMOTE_PORT" && name != "LOCAL_ADDR" && name != "LOCAL_PORT")
          head += name.size() + value.size() + 3;
      size_t seen = longest_routed_head.load();
      while (head > seen && !longest_routed_head.compare_exchange_weak(seen, head)) {
      }
    };
    gated->Get("/health", [note_head](const httplib::Request& req, httplib::Response& res) {
      note_head(req);
      res.set_content("{\"status\":\"ok\"}", "application/json");
    });
    gated->Post("/feed/data", [note_head](const httplib::Request& req, httplib::Response& res) {
      note_head(req);
      res.set_content(std::to_string(req.body.size()), "text/plain");
    });
    // The listener is bound, never run: serve_connection() below hands it each connection.
    if (gated->bind_to_any_port("127.0.0.1") <= 0) std::abort();
    return gated;
  }();
  return *s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0) return 0;
  // Inputs are at most a few KiB (libFuzzer's -max_len): they fit the socket buffer.
  for (size_t sent = 0; sent < size;) {
    const ssize_t n = ::send(pair[1], data + sent, size - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  ::shutdown(pair[1], SHUT_WR);
  server().serve_connection(pair[0]);  // closes pair[0]
  std::string answer;
  char buf[4096];
  for (ssize_t n; (n = ::recv(pair[1], buf, sizeof buf, 0)) > 0;) answer.append(buf, static_cast<size_t>(n));
  ::close(pair[1]);
  if (!answer.empty() && answer.rfind("HTTP/1.1 ", 0) != 0) std::abort();
  if (longest_routed_head.load() > kMaxHead) std::abort();
  return 0;
}
