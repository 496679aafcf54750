// NORDIQ_LOG_LEVEL applies to every command, not only `serve`: read once by main() before the
// command runs (core/log_level.hpp). Real binary, real child processes.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "temp_dir.hpp"

namespace nordiq {
namespace {

namespace fs = std::filesystem;
using test_support::TempDir;

struct Finished {
  int rc = -1;
  std::string output;  // stdout and stderr
};

// `nordiq args...` with NORDIQ_LOG_LEVEL = level (unset when empty), to its exit.
Finished run_nordiq(const fs::path& dir, const std::string& level, std::vector<std::string> args) {
  std::vector<std::string> argv = {NORDIQ_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  const fs::path log = dir / "output.log";
  const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    if (level.empty()) ::unsetenv("NORDIQ_LOG_LEVEL");
    else ::setenv("NORDIQ_LOG_LEVEL", level.c_str(), 1);
    ::execv(cargv[0], cargv.data());
    ::_exit(127);
  }
  ::close(fd);
  int status = 0;
  ::waitpid(pid, &status, 0);
  Finished r;
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  std::stringstream text;
  text << std::ifstream(log).rdbuf();
  r.output = text.str();
  return r;
}

// `args` logs `info_marker` at the default level (INFO) and nothing at INFO when asked for
// `quiet` (any case); returns the quiet run's output.
std::string expect_quiet_at(const fs::path& dir, const std::vector<std::string>& args, const std::string& info_marker,
                            const std::string& quiet) {
  const Finished info = run_nordiq(dir, "", args);
  EXPECT_EQ(info.rc, 0) << info.output;
  EXPECT_NE(info.output.find(info_marker), std::string::npos) << info.output;
  const Finished quieter = run_nordiq(dir, quiet, args);
  EXPECT_EQ(quieter.rc, 0) << quieter.output;
  EXPECT_EQ(quieter.output.find(info_marker), std::string::npos) << quiet << ": " << quieter.output;
  return quieter.output;
}

TEST(LogLevel, EveryCommandLogsAtTheLevelAskedFor) {
  TempDir dir;
  const std::string history = (dir.path / "history.csv").string();
  expect_quiet_at(dir.path,
                  {"simulate", "history", "--days", "2", "--servers", "7", "--seed", "5", "--output", history,
                   "--incidents", (dir.path / "incidents.csv").string()},
                  "info simulate: history", "error");
  ASSERT_TRUE(fs::exists(history));
  const std::string report = expect_quiet_at(
      dir.path, {"eval", "--model", "baseline", "--data", history, "--stride", "48", "--threads", "1"}, "[info]", "WARNING");
  EXPECT_NE(report.find("p50 MAE"), std::string::npos) << "the report itself is not a log line";
}

TEST(LogLevel, ABadLevelIsAUsageErrorWhateverTheCommand) {
  TempDir dir;
  for (const std::vector<std::string>& args : {std::vector<std::string>{"eval", "--model", "baseline", "--data", "/nonexistent.csv"},
                                               std::vector<std::string>{"simulate", "history", "--days", "1", "--servers", "7",
                                                                        "--output", (dir.path / "h.csv").string()}}) {
    const Finished r = run_nordiq(dir.path, "LOUD", args);
    EXPECT_EQ(r.rc, 2) << args[0] << ": " << r.output;
    EXPECT_NE(r.output.find("NORDIQ_LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR (got 'LOUD')"), std::string::npos)
        << args[0] << ": " << r.output;
    EXPECT_FALSE(fs::exists(dir.path / "h.csv")) << "the command did not run";
  }
}

}  // namespace
}  // namespace nordiq
