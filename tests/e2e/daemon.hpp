// Test harness for end-to-end tests: runs the real `nordiq serve` binary (NORDIQ_BINARY) on a
// free loopback port with a temporary data dir, waits for /health, and stops it with a signal.
// Reusable by every e2e test file:
//
//   e2e::TempDir dir;
//   e2e::Daemon d(dir.path, {"--rate-feed", "2"}, {{"NORDIQ_API_KEY", "k"}});
//   d.start();
//   auto res = d.client().Post("/feed/data", body, "application/json");
//   int code = d.stop(SIGKILL);   // → 128 + 9;  d.start() again restarts on the same data dir
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "e2e/listening_socket.hpp"
#include "temp_dir.hpp"

namespace nordiq::e2e {

namespace fs = std::filesystem;
using Env = std::vector<std::pair<std::string, std::string>>;

using test_support::TempDir;

inline std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class Daemon {
 public:
  // `env` is the daemon's NORDIQ_* environment: inherited NORDIQ_API_KEY/NORDIQ_ADMIN_KEY/
  // NORDIQ_LOG_LEVEL are removed first so tests never depend on the caller's shell.
  Daemon(fs::path data_dir, std::vector<std::string> args = {}, Env env = {})
      : data_dir_(std::move(data_dir)), args_(std::move(args)), env_(std::move(env)) {
    log_path_ = data_dir_.parent_path() / (data_dir_.filename().string() + ".log");
  }
  ~Daemon() {
    if (pid_ > 0) stop(SIGKILL);
  }
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Starts the daemon and waits until GET /health answers 200. Throws (with the log) if it
  // exits first or is not healthy within `timeout`.
  void start(std::chrono::seconds timeout = std::chrono::seconds(90)) { start_trying_port(0, timeout); }

  // start(), on `port` first (0: a free one). For the harness's own test: a port another daemon
  // holds must end in a retry on a free port, not in talking to that daemon.
  void start_trying_port(int port, std::chrono::seconds timeout = std::chrono::seconds(90)) {
    for (int attempt = 0; attempt < 3; ++attempt) {
      port_ = attempt == 0 && port != 0 ? port : free_port();
      spawn();
      const auto deadline = std::chrono::steady_clock::now() + timeout;
      while (std::chrono::steady_clock::now() < deadline) {
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
          pid_ = -1;
          exit_code_ = decode(status);
          if (log().find("cannot listen") != std::string::npos) break;  // port race: retry
          throw std::runtime_error("nordiq serve exited with " + std::to_string(exit_code_) +
                                   " before becoming healthy; log:\n" + log());
        }
        httplib::Client c("127.0.0.1", port_);
        c.set_connection_timeout(1, 0);
        // Another test's daemon may hold the port (it was free when picked): then ours fails to
        // bind and exits, and the 200 is not ours. Before this check, such a test talked to a
        // daemon with other flags and keys, and failed now and then for no reason of its own.
        if (auto res = c.Get("/health"); res && res->status == 200 && listens_on(pid_, port_)) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      if (pid_ > 0) throw std::runtime_error("nordiq serve not healthy in time; log:\n" + log());
    }
    throw std::runtime_error("nordiq serve could not bind a free port; log:\n" + log());
  }

  // Runs the binary and waits for it to exit on its own (for start-up failures). Returns the
  // exit code; the output is in log().
  int run_to_exit(std::chrono::seconds timeout = std::chrono::seconds(60)) {
    port_ = free_port();
    spawn();
    return wait_exit(timeout);
  }

  // Sends `sig` and waits for the process. Returns its exit code, or 128 + signal if killed.
  int stop(int sig = SIGTERM, std::chrono::seconds timeout = std::chrono::seconds(60)) {
    if (pid_ <= 0) return exit_code_;
    ::kill(pid_, sig);
    return wait_exit(timeout);
  }

  // Runs the binary through this command (e.g. nsenter into another mount namespace); the
  // command must exec it in the same process, so that signals and exit codes are the daemon's.
  void set_command_prefix(std::vector<std::string> prefix) { prefix_ = std::move(prefix); }

  bool running() const { return pid_ > 0; }
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  const fs::path& data_dir() const { return data_dir_; }
  std::string log() const { return read_file(log_path_); }

  // A client for this daemon; with `key` set it sends X-API-Key on every request.
  httplib::Client client(const std::string& key = "") const {
    httplib::Client c("127.0.0.1", port_);
    c.set_connection_timeout(5, 0);
    c.set_read_timeout(60, 0);
    if (!key.empty()) c.set_default_headers({{"X-API-Key", key}});
    return c;
  }

 private:
  static int decode(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
  }

  int wait_exit(std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (pid_ > 0) {
      int status = 0;
      const pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        pid_ = -1;
        exit_code_ = decode(status);
        break;
      }
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        pid_ = -1;
        exit_code_ = -1;
        ADD_FAILURE() << "nordiq serve did not exit in time; killed. log:\n" << log();
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return exit_code_;
  }

  void spawn() {
    std::vector<std::string> argv = prefix_;
    for (const std::string& a : {std::string(NORDIQ_BINARY), std::string("serve"), std::string("--host"),
                                 std::string("127.0.0.1"), std::string("--port"), std::to_string(port_),
                                 std::string("--data-dir"), data_dir_.string()})
      argv.push_back(a);
    argv.insert(argv.end(), args_.begin(), args_.end());
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    const int log_fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
      ::dup2(log_fd, 1);
      ::dup2(log_fd, 2);
      ::unsetenv("NORDIQ_API_KEY");
      ::unsetenv("NORDIQ_ADMIN_KEY");
      ::unsetenv("NORDIQ_LOG_LEVEL");
      for (const auto& [k, v] : env_) ::setenv(k.c_str(), v.c_str(), 1);
      ::execvp(cargv[0], cargv.data());
      ::_exit(127);
    }
    ::close(log_fd);
    pid_ = pid;
  }

  fs::path data_dir_;
  std::vector<std::string> args_;
  std::vector<std::string> prefix_;
  Env env_;
  fs::path log_path_;
  int port_ = 0;
  pid_t pid_ = -1;
  int exit_code_ = -1;
};

// GET `path` with `key`: expects status `expect` and returns the parsed body (null when there
// was no response).
inline nlohmann::json get_json_with_key(const Daemon& d, const std::string& key, const std::string& path,
                                        int expect = 200) {
  auto res = d.client(key).Get(path);
  EXPECT_TRUE(res) << path;
  if (!res) return nlohmann::json();
  EXPECT_EQ(res->status, expect) << path << ": " << res->body;
  return nlohmann::json::parse(res->body);
}

}  // namespace nordiq::e2e
