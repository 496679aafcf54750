// A real third-party program started by an end-to-end test (Prometheus, node_exporter,
// Alertmanager): its output goes to a log file in the test's temp dir, and it is killed when the
// test ends, whatever happens.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>
#include <memory>
#include <thread>
#include <vector>

#include "e2e/listening_socket.hpp"

namespace nordiq::e2e {

class ExternalProcess {
 public:
  ExternalProcess(std::vector<std::string> argv, std::filesystem::path log) : argv_(std::move(argv)), log_(std::move(log)) {
    std::vector<char*> cargv;
    for (auto& a : argv_) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    const int log_fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      ::dup2(log_fd, 1);
      ::dup2(log_fd, 2);
      ::execvp(cargv[0], cargv.data());
      ::_exit(127);
    }
    ::close(log_fd);
  }
  ExternalProcess(const ExternalProcess&) = delete;
  ExternalProcess& operator=(const ExternalProcess&) = delete;
  ~ExternalProcess() { stop(); }

  bool running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    return true;
  }
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 100 && running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }
  const std::filesystem::path& log() const { return log_; }
  pid_t pid() const { return pid_; }
  const std::string& program() const { return argv_.front(); }

 private:
  std::vector<std::string> argv_;
  std::filesystem::path log_;
  pid_t pid_ = -1;
};

// Polls `done` every `every` until it is true or `timeout` passed; returns its last answer.
inline bool eventually(std::chrono::seconds timeout, const std::function<bool()>& done,
                       std::chrono::milliseconds every = std::chrono::milliseconds(500)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(every);
  }
  return done();
}

// A program started on a loopback port picked free, once its own process listens there. Tests
// run in parallel: another one can take the port between the pick and the program's bind, and
// the program then exits; it is started again on another port (three tries). `first_port`, when
// set, is tried first (the harness's own test).
struct ListeningProcess {
  std::unique_ptr<ExternalProcess> process;
  int port = 0;
};
inline ListeningProcess start_listening(const std::function<std::vector<std::string>(int port)>& argv_for,
                                        const std::filesystem::path& log,
                                        std::chrono::seconds timeout = std::chrono::seconds(60), int first_port = 0) {
  for (int attempt = 0; attempt < 3; ++attempt) {
    ListeningProcess p;
    p.port = attempt == 0 && first_port != 0 ? first_port : free_port();
    p.process = std::make_unique<ExternalProcess>(argv_for(p.port), log);
    eventually(timeout, [&] { return !p.process->running() || listens_on(p.process->pid(), p.port); },
               std::chrono::milliseconds(50));
    if (p.process->running()) return p;  // listening, or still starting at the timeout: the test will tell
  }
  throw std::runtime_error(log.string() + ": the program exited three times before listening; see its log");
}

}  // namespace nordiq::e2e
