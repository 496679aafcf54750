// §10 delivery against an in-test fake daemon: the stream sends exactly history's records, retries
// 5xx in order without double delivery, stops on 401, and catches up after an outage.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>

#include "sim/stream.hpp"
#include "sim_test_util.hpp"

namespace nordiq::sim {
namespace {

using nlohmann::json;

// Records every accepted POST /feed/data body; answers from a script of statuses, then 200.
class FakeDaemon {
 public:
  std::function<int(size_t request_no, const json& body)> decide;  // status for a request

  FakeDaemon() {
    server_.set_tcp_nodelay(true);
    server_.Post("/feed/data", [this](const httplib::Request& req, httplib::Response& res) {
      const auto body = json::parse(req.body, nullptr, false);
      std::lock_guard lock(mu_);
      const size_t no = requests_++;
      keys_.push_back(req.get_header_value("X-API-Key"));
      const int st = decide ? decide(no, body) : 200;
      res.status = st;
      if (st == 200) {
        EXPECT_TRUE(body.is_object() && body.contains("records") && body["records"].is_array()) << req.body.substr(0, 200);
        for (const auto& r : body["records"]) records_.push_back(r);
        res.set_content(json{{"status", "accepted"}, {"accepted", body["records"].size()}, {"duplicates", 0},
                             {"rejected", json::array()}}.dump(),
                        "application/json");
      } else {
        res.set_content(json{{"error", "nope"}, {"message", "scripted"}}.dump(), "application/json");
      }
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~FakeDaemon() {
    server_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<json> records() {
    std::lock_guard lock(mu_);
    return records_;
  }
  size_t requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }
  std::vector<std::string> keys() {
    std::lock_guard lock(mu_);
    return keys_;
  }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mu_;
  size_t requests_ = 0;
  std::vector<json> records_;
  std::vector<std::string> keys_;
};

StreamOptions fast(const std::string& url, int64_t steps) {
  StreamOptions o;
  o.url = url;
  o.speed = 2000;  // steps per wall second
  o.steps = steps;
  o.control_port = 0;
  o.retry_base_s = 0.005;
  o.retry_cap_s = 0.02;
  o.timeout_s = 5;
  o.batch_size = 7;  // several POSTs per step
  return o;
}

// The distinct timestamps in delivery order.
std::vector<std::string> step_order(const std::vector<json>& recs) {
  std::vector<std::string> out;
  for (const auto& r : recs) {
    const auto ts = r["timestamp"].get<std::string>();
    if (out.empty() || out.back() != ts) out.push_back(ts);
  }
  return out;
}

TEST(Stream, SendsExactlyTheRecordsHistoryWritesForTheSameRun) {
  FakeDaemon daemon;
  const auto cfg = test::config(42, "2025-01-06T00:00:00Z");
  auto opts = fast(daemon.url(), 30);
  opts.api_key = "k-123";
  ASSERT_EQ(run_stream(cfg, split_fleet(20), opts), 0);
  const auto recs = daemon.records();

  const auto h = test::history_text(cfg, split_fleet(20), 1);
  std::vector<std::vector<std::string>> rows;
  const std::string end = format_iso8601(cfg.start + 30 * 300'000);
  for (const auto& line : test::lines(h.csv)) {
    if (line.rfind("timestamp", 0) == 0) continue;
    auto f = test::split(line, ',');
    if (f[0] >= end) break;
    rows.push_back(std::move(f));
  }
  ASSERT_EQ(recs.size(), rows.size());
  const std::vector<std::string> cols = test::split(std::string(
      "timestamp,server_name,profile,status,cpu_user_pct,cpu_sys_pct,cpu_iowait_pct,cpu_idle_pct,java_cpu_pct,"
      "mem_used_pct,swap_used_pct,disk_usage_pct,net_in_mb_s,net_out_mb_s,back_close_wait,front_close_wait,"
      "load_average,uptime_days"), ',');
  for (size_t i = 0; i < rows.size(); ++i) {
    const json& r = recs[i];
    ASSERT_EQ(r.size(), 18u) << r.dump();
    for (size_t c = 0; c < 4; ++c) ASSERT_EQ(r[cols[c]].get<std::string>(), rows[i][c]) << i << " " << cols[c];
    for (size_t c = 4; c < 18; ++c) {
      const json& v = r[cols[c]];
      ASSERT_TRUE(v.is_number()) << cols[c];
      const auto& spec = kMetrics[c - 4];
      if (spec.integer) {
        EXPECT_TRUE(v.is_number_integer()) << cols[c] << " must be an integer";
      }
      const double x = v.get<double>();
      EXPECT_GE(x, spec.min);
      EXPECT_LE(x, spec.max);
      EXPECT_EQ(std::llround(x * 10000), std::llround(std::stod(rows[i][c]) * 10000)) << i << " " << cols[c];
    }
  }
  for (const auto& k : daemon.keys()) EXPECT_EQ(k, "k-123");
  EXPECT_EQ(step_order(recs).size(), 30u);
}

TEST(Stream, RetriesServerErrorsAndDeliversEachBatchOnceInOrder) {
  FakeDaemon daemon;
  daemon.decide = [](size_t no, const json&) { return no < 2 ? 503 : 200; };
  json health;
  auto opts = fast(daemon.url(), 10);
  opts.on_finish = [&](const json& h) { health = h; };
  ASSERT_EQ(run_stream(test::config(), split_fleet(20), opts), 0);
  const auto recs = daemon.records();
  EXPECT_EQ(health["post_retries"], 2);
  EXPECT_EQ(health["records_sent"], recs.size());
  const auto order = step_order(recs);
  ASSERT_EQ(order.size(), 10u);
  for (size_t i = 1; i < order.size(); ++i) EXPECT_LT(order[i - 1], order[i]);
  std::map<std::pair<std::string, std::string>, int> seen;
  for (const auto& r : recs) ++seen[{r["timestamp"].get<std::string>(), r["server_name"].get<std::string>()}];
  for (const auto& [key, n] : seen) EXPECT_EQ(n, 1) << key.first << " " << key.second;
}

TEST(Stream, RefusedKeyEndsTheRunWithExitCode3) {
  FakeDaemon daemon;
  daemon.decide = [](size_t, const json&) { return 401; };
  EXPECT_EQ(run_stream(test::config(), split_fleet(20), fast(daemon.url(), 10)), 3);
  EXPECT_TRUE(daemon.records().empty());
  FakeDaemon forbidden;
  forbidden.decide = [](size_t, const json&) { return 403; };
  EXPECT_EQ(run_stream(test::config(), split_fleet(20), fast(forbidden.url(), 10)), 3);
}

TEST(Stream, ADaemonDownForTenStepsReceivesEveryStepAfterwards) {
  FakeDaemon daemon;
  // Down (503) for the first 10 attempts after step 5 was delivered: later steps pile up in the
  // backlog and go out once it is back.
  std::atomic<int> failures{0};
  std::atomic<bool> went_down{false};
  daemon.decide = [&](size_t, const json& body) {
    const auto ts = body["records"][0]["timestamp"].get<std::string>();
    if (ts >= "2025-01-06T00:25:00Z" && failures.load() < 10) {
      went_down = true;
      ++failures;
      return 503;
    }
    return 200;
  };
  auto opts = fast(daemon.url(), 30);
  opts.batch_size = 5000;
  opts.max_backlog = 4;  // generation pauses while the daemon is down
  json health;
  opts.on_finish = [&](const json& h) { health = h; };
  ASSERT_EQ(run_stream(test::config(), split_fleet(20), opts), 0);
  EXPECT_TRUE(went_down);
  const auto order = step_order(daemon.records());
  ASSERT_EQ(order.size(), 30u);
  for (size_t i = 1; i < order.size(); ++i) EXPECT_LT(order[i - 1], order[i]);
  EXPECT_EQ(health["post_retries"], 10);
  EXPECT_EQ(health["backlog_steps"], 0);
}

TEST(Stream, OtherClientErrorsAreCountedAndTheRunGoesOn) {
  FakeDaemon daemon;
  daemon.decide = [](size_t no, const json&) { return no == 0 ? 400 : 200; };
  json health;
  auto opts = fast(daemon.url(), 5);
  opts.batch_size = 5000;
  opts.on_finish = [&](const json& h) { health = h; };
  ASSERT_EQ(run_stream(test::config(), split_fleet(20), opts), 0);
  EXPECT_EQ(step_order(daemon.records()).size(), 4u);
  EXPECT_GT(health["records_rejected"].get<int>(), 0);
  EXPECT_EQ(health["post_retries"], 0);
}

TEST(Stream, StopWithAnUnreachableBacklogExitsWith5AfterTheDrainTimeout) {
  FakeDaemon daemon;
  daemon.decide = [](size_t, const json&) { return 503; };
  std::atomic<bool> stop{false};
  auto opts = fast(daemon.url(), 0);  // until stopped
  opts.stop = &stop;
  opts.max_backlog = 3;
  opts.drain_timeout_s = 0.1;
  std::thread stopper([&] {
    while (daemon.requests() < 3) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    stop = true;
  });
  EXPECT_EQ(run_stream(test::config(), split_fleet(20), opts), 5);
  stopper.join();
  EXPECT_TRUE(daemon.records().empty());
}

}  // namespace
}  // namespace nordiq::sim
