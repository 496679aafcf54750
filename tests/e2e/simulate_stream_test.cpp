// Issue #5 end to end: `nordiq serve` fed by `nordiq simulate stream --speed` (20 servers, 30
// steps) tracks every server with exactly the records the simulator generated and serves forecasts
// for all 20; a `critical` scenario through the control API drives the affected servers' risk
// above 60 within the ramp. Also: the simulate CLI's usage errors and history output.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <thread>

#include "core/time.hpp"
#include "e2e/daemon.hpp"
#include "sim/engine.hpp"

namespace nordiq::e2e {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
const std::string kKey = "e2e-sim-key-5";

// A `nordiq simulate ...` child process with its output in a log file.
class SimProcess {
 public:
  SimProcess(const fs::path& log, std::vector<std::string> args, Env env = {}) : log_(log) {
    std::vector<std::string> argv = {NORDIQ_BINARY, "simulate"};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::unsetenv("NORDIQ_API_KEY");
      ::unsetenv("NORDIQ_LOG_LEVEL");
      for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
      ::execv(cargv[0], cargv.data());
      ::_exit(127);
    }
    ::close(fd);
  }
  ~SimProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  int wait(std::chrono::seconds timeout = 120s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (pid_ > 0) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      if (std::chrono::steady_clock::now() > deadline) {
        ADD_FAILURE() << "simulate did not exit in time; log:\n" << log();
        return -1;
      }
      std::this_thread::sleep_for(10ms);
    }
    return -1;
  }
  void signal(int sig) { ::kill(pid_, sig); }
  std::string log() const { return read_file(log_); }

 private:
  fs::path log_;
  pid_t pid_ = -1;
};

int run_sim(const fs::path& log, std::vector<std::string> args, std::string* out = nullptr) {
  SimProcess p(log, std::move(args));
  const int rc = p.wait();
  if (out) *out = p.log();
  return rc;
}

json get_json(httplib::Client& c, const std::string& path) {
  auto res = c.Get(path);
  if (!res || res->status != 200) return json();
  return json::parse(res->body, nullptr, false);
}

EpochMs floor_step(EpochMs t) { return t / 300'000 * 300'000; }

TEST(SimulateStreamE2E, TwentyServersThirtyStepsThenACriticalScenarioRaisesRisk) {
  TempDir dir;
  Daemon daemon(dir.path / "data", {}, {{"NORDIQ_API_KEY", kKey}});
  daemon.start();
  const std::string url = "http://127.0.0.1:" + std::to_string(daemon.port());
  const EpochMs start = floor_step(now_ms() - 86'400'000);

  // 1. 30 accelerated steps for 20 servers.
  SimProcess feed(dir.path / "feed.log",
                  {"stream", "--url", url, "--speed", "100", "--servers", "20", "--steps", "30", "--seed", "42",
                   "--start", format_iso8601(start), "--control-port", "0"},
                  {{"NORDIQ_API_KEY", kKey}});
  ASSERT_EQ(feed.wait(), 0) << feed.log();

  // What the simulator generated (the same engine, same seed and start): offline steps send nothing.
  sim::SimConfig cfg;
  cfg.seed = 42;
  cfg.start = start;
  sim::FleetEngine engine(cfg, sim::split_fleet(20));
  std::vector<sim::SimRecord> recs;
  uint64_t expected = 0;
  for (int64_t k = 0; k < 30; ++k) {
    engine.step_all(k, recs);
    for (const auto& r : recs) expected += r.online;
  }
  auto client = daemon.client(kKey);
  const json status = get_json(client, "/status");
  EXPECT_EQ(status["servers_tracked"], 20) << status.dump();
  EXPECT_EQ(status["records_stored"], expected) << status.dump();

  // Forecasts for all 20 servers.
  json preds;
  for (auto deadline = std::chrono::steady_clock::now() + 60s; std::chrono::steady_clock::now() < deadline;) {
    preds = get_json(client, "/predictions/current");
    if (preds.is_object() && preds["predictions"].size() == 20) break;
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_EQ(preds["predictions"].size(), 20u) << preds.dump().substr(0, 1000);
  for (const auto& s : engine.fleet().servers()) {
    ASSERT_TRUE(preds["predictions"].contains(s.name)) << s.name;
    EXPECT_TRUE(preds["predictions"][s.name].contains("forecast")) << s.name;
  }

  // 2. The stream goes on from step 30 with its control API; `critical` on three servers.
  const int control_port = free_port();
  SimProcess live(dir.path / "live.log",
                  {"stream", "--url", url, "--speed", "2", "--servers", "20", "--seed", "42", "--start",
                   format_iso8601(start + 30 * 300'000), "--control-port", std::to_string(control_port)},
                  {{"NORDIQ_API_KEY", kKey}});
  httplib::Client control("127.0.0.1", control_port);
  json health;
  for (auto deadline = std::chrono::steady_clock::now() + 30s; std::chrono::steady_clock::now() < deadline;) {
    health = get_json(control, "/health");
    if (health.is_object() && health.contains("step")) break;
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_TRUE(health.contains("step")) << live.log();
  // The three servers with the lowest risk now (the natural background puts some servers in
  // trouble, and the hour of day changes which): each must start below 60.
  std::vector<std::pair<double, std::string>> calm;
  const json before = get_json(client, "/predictions/current");
  for (const auto& [name, p] : before["predictions"].items())
    calm.emplace_back(p.value("risk_score", 100.0), name);
  std::sort(calm.begin(), calm.end());
  ASSERT_GE(calm.size(), 3u);
  std::vector<std::string> hot;
  for (int i = 0; i < 3; ++i) {
    ASSERT_LT(calm[i].first, 60) << calm[i].second;
    hot.push_back(calm[i].second);
  }
  auto set = control.Post("/scenario/set", json{{"scenario", "critical"}, {"servers", hot}, {"ramp_steps", 6}}.dump(),
                          "application/json");
  ASSERT_TRUE(set);
  ASSERT_EQ(set->status, 200) << set->body;
  const json reply = json::parse(set->body);
  EXPECT_EQ(reply["mode"], "fresh");
  const int64_t effective = reply["effective_step"];

  // Poll: the step the simulator is at, and each hot server's risk.
  std::map<std::string, int64_t> above_at;
  int64_t step = 0;
  const std::string path = "/predictions/current?servers=" + hot[0] + "," + hot[1] + "," + hot[2];
  for (auto deadline = std::chrono::steady_clock::now() + 90s;
       std::chrono::steady_clock::now() < deadline && above_at.size() < hot.size() && step <= effective + 20;) {
    step = get_json(control, "/scenario/status").value("step", int64_t{0});
    const json p = get_json(client, path);
    if (p.is_object())
      for (const auto& name : hot)
        if (!above_at.count(name) && p["predictions"].contains(name) &&
            p["predictions"][name].value("risk_score", 0.0) > 60)
          above_at[name] = step;
    std::this_thread::sleep_for(50ms);
  }
  for (const auto& name : hot) {
    ASSERT_TRUE(above_at.count(name)) << name << " never rose above 60; stream log:\n" << live.log().substr(0, 2000);
    // Within the 6-step ramp, plus one step for the daemon to close the step (it closes when
    // the next one arrives) and one for the asynchronous forecast cycle and this poll.
    EXPECT_LE(above_at[name] - effective, 6 + 2) << name;
  }
  live.signal(SIGTERM);
  EXPECT_EQ(live.wait(), 0) << live.log();
  daemon.stop();
}

TEST(SimulateCli, BadValuesAreUsageErrorsNamingTheFlag) {
  TempDir dir;
  std::string out;
  EXPECT_EQ(run_sim(dir.path / "a.log", {"history", "--servers", "6", "--output", (dir.path / "x.csv").string()}, &out), 2);
  EXPECT_NE(out.find("--servers"), std::string::npos) << out;
  EXPECT_EQ(run_sim(dir.path / "b.log", {"history", "--step", "7"}, &out), 2);
  EXPECT_NE(out.find("--step"), std::string::npos) << out;
  EXPECT_EQ(run_sim(dir.path / "c.log", {"history", "--days", "0"}, &out), 2);
  EXPECT_NE(out.find("--days"), std::string::npos) << out;
  EXPECT_EQ(run_sim(dir.path / "d.log", {"stream", "--scenario", "panic"}, &out), 2);
  EXPECT_NE(out.find("--scenario"), std::string::npos) << out;
  EXPECT_EQ(run_sim(dir.path / "e.log", {"history", "--fleet", "database=x"}, &out), 2);
  EXPECT_NE(out.find("--fleet"), std::string::npos) << out;
  EXPECT_EQ(run_sim(dir.path / "f.log", {"stream", "--speed", "-1"}, &out), 2);
  EXPECT_NE(out.find("--speed"), std::string::npos) << out;
}

TEST(SimulateCli, HistoryWritesCsvAndIncidentsAndAStoreTheDaemonServes) {
  TempDir dir;
  const auto csv = dir.path / "h.csv";
  std::string out;
  ASSERT_EQ(run_sim(dir.path / "h.log",
                    {"history", "--days", "2", "--fleet", "database=2,web_api=5,ml_compute=0", "--output", csv.string(),
                     "--start", "2025-01-15T00:00:00", "--threads", "2"},
                    &out),
            0)
      << out;
  EXPECT_NE(out.find("rows/s"), std::string::npos) << out;
  const std::string text = read_file(csv);
  EXPECT_EQ(text.rfind("timestamp,server_name,profile,status,", 0), 0u);
  EXPECT_NE(text.find("\n2025-01-15T00:00:00Z,ppdb001,database,"), std::string::npos);
  EXPECT_EQ(text.find("ppml"), std::string::npos);
  const std::string inc = read_file(dir.path / "incidents.csv");
  EXPECT_EQ(inc.rfind("incident_id,server_name,profile,kind,metric,effect,start,threshold_cross,peak,end,peak_target,parent_id\n", 0),
            0u);

  // --out store, then the daemon restores the servers from it.
  const auto data = dir.path / "data";
  const EpochMs start = floor_step(now_ms()) / 86'400'000 * 86'400'000 - 86'400'000;
  ASSERT_EQ(run_sim(dir.path / "s.log",
                    {"history", "--days", "1", "--servers", "7", "--out", "store", "--data-dir", data.string(), "--start",
                     format_iso8601(start)},
                    &out),
            0)
      << out;
  Daemon daemon(data, {}, {{"NORDIQ_API_KEY", kKey}});
  daemon.start();
  auto client = daemon.client(kKey);
  const json status = get_json(client, "/status");
  EXPECT_EQ(status["servers_tracked"], 7) << status.dump();
  daemon.stop();
  // Writing the same history again keeps every row and counts duplicates.
  ASSERT_EQ(run_sim(dir.path / "s2.log",
                    {"history", "--days", "1", "--servers", "7", "--out", "store", "--data-dir", data.string(), "--start",
                     format_iso8601(start)},
                    &out),
            0)
      << out;
  EXPECT_NE(out.find("duplicates"), std::string::npos) << out;
}

}  // namespace
}  // namespace nordiq::e2e
