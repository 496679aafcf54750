// A fleet larger than one forecast chunk (serve/forecast_service.hpp kCycleChunk): the cycle
// forecasts it chunk by chunk, and every server must still get its own forecast, current values
// and alerts, in whichever chunk it falls.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>
#include <thread>
#include <vector>

#include "serve/forecast_service.hpp"
#include "e2e/daemon.hpp"
#include "e2e/feed_records.hpp"

namespace nordiq::e2e {
namespace {

using nlohmann::json;
const std::string kKey = "e2e-large-fleet-key-0123456789";

std::string server_name(size_t s) { return fmt::format("fleet{:04d}", s); }

// Server s: calm, with its own memory level (so a mix-up between servers shows), step i.
TestRecord fleet_record(size_t s, EpochMs t, int i) {
  TestRecord r = make_record(server_name(s), t, static_cast<int>(s) + i);
  r.values[static_cast<int>(Metric::cpu_user_pct)] = 20;
  r.values[static_cast<int>(Metric::cpu_sys_pct)] = 5;
  r.values[static_cast<int>(Metric::cpu_iowait_pct)] = 1;
  r.values[static_cast<int>(Metric::cpu_idle_pct)] = 74;
  r.values[static_cast<int>(Metric::mem_used_pct)] = 10 + static_cast<double>(s % 800) / 10;  // 10 .. 89.9
  r.values[static_cast<int>(Metric::swap_used_pct)] = 1;
  r.values[static_cast<int>(Metric::disk_usage_pct)] = 40;
  r.values[static_cast<int>(Metric::load_average)] = 1;
  return r;
}

TEST(LargeFleetE2E, EveryServerOfAFleetLargerThanAChunkGetsItsOwnForecastAndAlerts) {
  const size_t servers = serve::kCycleChunk + 88;  // two chunks
  const size_t hot = serve::kCycleChunk + 7;       // in the second chunk: memory already over 95 %
  TempDir dir;
  Daemon daemon(dir.path / "data", {"--models-dir", (fs::path(NORDIQ_SOURCE_DIR) / "models").string()},
                {{"NORDIQ_API_KEY", kKey}});
  daemon.start();
  const int steps = 14;  // 13 closed: the network serves (≥ 12)
  const EpochMs t0 = steps_ago(steps + 1);
  for (int i = 0; i < steps; ++i) {
    std::vector<TestRecord> step;
    for (size_t s = 0; s < servers; ++s) {
      step.push_back(fleet_record(s, t0 + i * 300'000LL, i));
      if (s == hot) step.back().values[static_cast<int>(Metric::mem_used_pct)] = 98;
    }
    auto res = daemon.client(kKey).Post("/feed/data", feed_body(step), "application/json");
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body.substr(0, 500);
    // One cycle per step, as in production: an alert opens on evidence held over several cycles.
    const std::string probe = "/predictions/current?servers=" + server_name(hot) + "&metrics=mem_used_pct&quantiles=p50";
    for (int attempt = 0; attempt < 600; ++attempt) {
      const json p = get_json_with_key(daemon, kKey, probe)["predictions"];
      if (p.contains(server_name(hot)) && p[server_name(hot)]["steps"] == i) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  json body;
  for (int attempt = 0; attempt < 600; ++attempt) {
    body = get_json_with_key(daemon, kKey, "/predictions/current?metrics=mem_used_pct&quantiles=p50");
    size_t done = 0;
    for (auto& [name, p] : body["predictions"].items()) done += p["steps"] == steps - 1;
    if (done == servers) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(body["predictions"].size(), servers);
  for (size_t s = 0; s < servers; ++s) {
    const json& p = body["predictions"][server_name(s)];
    ASSERT_EQ(p["steps"], steps - 1) << server_name(s);
    EXPECT_EQ(p["model"], "tft") << server_name(s);
    const double mem = s == hot ? 98 : 10 + static_cast<double>(s % 800) / 10;
    ASSERT_NEAR(p["current"]["mem_used_pct"].get<double>(), mem, 1e-6) << server_name(s) << ": another server's values";
  }
  bool hot_alert = false;
  for (const json& a : body["alerts"]) {
    EXPECT_EQ(a["server_name"], server_name(hot)) << a.dump();
    hot_alert |= a["server_name"] == server_name(hot) && a["metric"] == "mem_used_pct";
  }
  EXPECT_TRUE(hot_alert) << body["alerts"].dump();
}

}  // namespace
}  // namespace nordiq::e2e
