// Which process listens on a loopback port, read from /proc (Linux). The e2e harness picks a free
// port and then starts the daemon on it; in that gap another test's daemon can bind the same port,
// and its GET /health answers 200 just as ours would. Asking who holds the listening socket tells
// the two apart.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>

namespace nordiq::e2e {

// A port the kernel just handed out on 127.0.0.1 (free now; start() retries if it is taken).
inline int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
    port = ntohs(addr.sin_port);
  ::close(fd);
  if (port == 0) throw std::runtime_error("no free port");
  return port;
}

// The inodes of the sockets listening on TCP `port` (IPv4 and IPv6), as /proc/net/tcp{,6} list
// them: "sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...", with the
// port in hex after the last ':' of local_address and st 0A for LISTEN.
inline std::set<std::string> listening_socket_inodes(int port) {
  std::set<std::string> inodes;
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);  // the header
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout, inode;
      fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >> timeout >> inode;
      const size_t colon = local.rfind(':');
      if (state != "0A" || colon == std::string::npos) continue;
      if (std::stoi(local.substr(colon + 1), nullptr, 16) == port) inodes.insert(inode);
    }
  }
  return inodes;
}

// Whether process `pid` holds a socket listening on TCP `port`. True when /proc cannot tell
// (no such tables): the caller then falls back to trusting /health alone.
inline bool listens_on(pid_t pid, int port) {
  if (!std::filesystem::exists("/proc/net/tcp")) return true;
  const std::set<std::string> inodes = listening_socket_inodes(port);
  std::error_code ec;
  for (const auto& fd : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
    const std::string target = std::filesystem::read_symlink(fd.path(), ec).string();  // "socket:[inode]"
    if (target.rfind("socket:[", 0) == 0 && inodes.count(target.substr(8, target.size() - 9))) return true;
  }
  return false;
}

}  // namespace nordiq::e2e
