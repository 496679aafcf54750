#include "api/gated_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vector>

namespace nordiq::api {
namespace {

// A non-blocking connect to 127.0.0.1:port; true once the handshake completed within `wait_ms`.
bool connects(int port, std::vector<int>& fds, int wait_ms) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  fds.push_back(fd);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return true;
  if (errno != EINPROGRESS) return false;
  pollfd writable{fd, POLLOUT, 0};
  if (::poll(&writable, 1, wait_ms) <= 0) return false;
  int error = 0;
  socklen_t length = sizeof error;
  ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length);
  return error == 0;
}

// Nobody accepts here, so every connection waits in the accept queue: with cpp-httplib's own
// backlog of 5 the seventh handshake or so never completes (the kernel drops its SYNs).
TEST(GatedServer, ABurstOfConnectionsFitsTheAcceptQueue) {
  GatedServer server(ConnectionLimits{});
  const int port = server.bind_to_any_port("127.0.0.1");
  ASSERT_GT(port, 0);
  server.widen_accept_backlog();
  std::vector<int> fds;
  int completed = 0;
  while (completed < 64 && connects(port, fds, 2000)) ++completed;
  for (int fd : fds) ::close(fd);
  EXPECT_EQ(completed, 64);
}

}  // namespace
}  // namespace nordiq::api
