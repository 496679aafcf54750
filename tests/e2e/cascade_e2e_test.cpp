// Cascades end to end (issue #11): a database whose iowait climbs while two web servers pile up
// connections in close-wait is served at GET /cascade/status as a cascade with the database as
// suspected source, and GET /cascade/health reports the risk; the third web server is not in it.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <thread>

#include "e2e/daemon.hpp"
#include "e2e/feed_records.hpp"

namespace nordiq::e2e {
namespace {

using nlohmann::json;
const std::string kKey = "e2e-cascade-key-3";
const std::vector<std::string> kServers = {"ppdb001", "ppweb001", "ppweb002", "ppweb003"};
constexpr int kCalmSteps = 48, kFailingSteps = 10;

// Server s at step i: calm values with a small wiggle; from kCalmSteps the database's iowait
// climbs 30 points and ppweb001/ppweb002 gain 40 connections in close-wait, over 30 min.
TestRecord record(int s, EpochMs t, int i) {
  TestRecord r{kServers[s], t};
  const double levels[kNumMetrics] = {20, 5, 3, 72, 10, 50, 2, 40, 5, 4, 10, 5, 2, 30};
  for (int k = 0; k < kNumMetrics; ++k) r.values[k] = levels[k] * (1 + 0.03 * std::sin(0.7 * i + 1.3 * s + k));
  const double c = i < kCalmSteps ? 0 : std::min(1.0, (i - kCalmSteps + 1) / 6.0);
  if (s == 0) r.values[static_cast<int>(Metric::cpu_iowait_pct)] += 30 * c;
  if (s == 1 || s == 2) r.values[static_cast<int>(Metric::back_close_wait)] += 40 * c;
  for (double& v : r.values) v = std::round(v * 8) / 8;  // exact in JSON
  r.values[static_cast<int>(Metric::back_close_wait)] = std::round(r.values[static_cast<int>(Metric::back_close_wait)]);
  r.values[static_cast<int>(Metric::front_close_wait)] = std::round(r.values[static_cast<int>(Metric::front_close_wait)]);
  return r;
}

json get_json(const Daemon& d, const std::string& path) { return get_json_with_key(d, kKey, path); }

TEST(CascadeE2E, AFailingDatabaseAndItsDependantsAreServedAsACascadeWithTheDatabaseAsSource) {
  TempDir dir;
  Daemon daemon{dir.path / "data", {}, {{"NORDIQ_API_KEY", kKey}}};
  daemon.start();
  const EpochMs t0 = steps_ago(kCalmSteps + kFailingSteps + 2);
  auto post_step = [&](int i) {
    std::vector<TestRecord> step;
    for (int s = 0; s < static_cast<int>(kServers.size()); ++s) step.push_back(record(s, t0 + i * 300'000LL, i));
    auto res = daemon.client(kKey).Post("/feed/data", feed_body(step), "application/json");
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body;
  };
  for (int i = 0; i < kCalmSteps; ++i) post_step(i);
  // Calm first: a fleet in its normal state (wait for the last calm step's cycle). The daemon
  // started with no server, so until its first cycle has published, the status is 503 not_ready:
  // on a loaded machine, the posts can all be stored before that.
  json status;
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
       std::chrono::steady_clock::now() < deadline;) {
    auto res = daemon.client(kKey).Get("/cascade/status");
    ASSERT_TRUE(res);
    if (res->status != 503) {
      ASSERT_EQ(res->status, 200) << res->body;
      status = json::parse(res->body);
      if (status.value("evaluated_at", json()) == json(format_iso8601(t0 + (kCalmSteps - 1) * 300'000LL))) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(status["state"], "normal") << status.dump();
  EXPECT_TRUE(status["cascades"].empty());

  for (int i = kCalmSteps; i < kCalmSteps + kFailingSteps; ++i) post_step(i);
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
       std::chrono::steady_clock::now() < deadline;) {
    status = get_json(daemon, "/cascade/status");
    if (status["state"] == "cascade") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(status["state"], "cascade") << status.dump() << "\nlog:\n" << daemon.log().substr(0, 3000);
  EXPECT_EQ(status["suspected_source"], "ppdb001");
  std::vector<std::string> affected = status["affected_servers"];
  std::sort(affected.begin(), affected.end());
  EXPECT_EQ(affected, (std::vector<std::string>{"ppdb001", "ppweb001", "ppweb002"}));
  EXPECT_TRUE(status["correlation"].is_number());
  EXPECT_TRUE(status["started_at"].is_string());
  ASSERT_EQ(status["cascades"].size(), 1u);
  const json& c = status["cascades"][0];
  EXPECT_EQ(c["suspected_source"]["server"], "ppdb001");
  EXPECT_EQ(c["suspected_source"]["metric"], "cpu_iowait_pct");
  EXPECT_EQ(c["suspected_source"]["profile"], "database");
  for (const json& d : c["affected_servers"]) EXPECT_EQ(d["metric"], "back_close_wait") << d.dump();

  const json health = get_json(daemon, "/cascade/health");
  EXPECT_EQ(health["state"], "cascade");
  EXPECT_EQ(health["cascade_risk"], 1.0);
  EXPECT_EQ(health["servers"], 4);
  EXPECT_EQ(health["anomalous_servers"], 3);
  EXPECT_EQ(health["active_cascades"], 1);
  EXPECT_TRUE(health["fleet_health"].is_number());
  EXPECT_NEAR(health["anomaly_rate"].get<double>(), 0.75, 1e-9);

  auto metrics = daemon.client(kKey).Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("\nnordiq_cascades_active 1\n"), std::string::npos);
  EXPECT_NE(metrics->body.find("\nnordiq_cascade_risk 1\n"), std::string::npos);

  // Read routes need the key.
  auto anonymous = httplib::Client("127.0.0.1", daemon.port()).Get("/cascade/status");
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(anonymous->status, 401);
}

}  // namespace
}  // namespace nordiq::e2e
