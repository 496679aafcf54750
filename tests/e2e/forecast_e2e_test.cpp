// The forecast service end to end (issue #3): 20 servers fed 30 steps get 20 forecasts of 96
// future steps continuing their series, filters work, /metrics passes `promtool check metrics`.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <thread>

#include "e2e/daemon.hpp"
#include "e2e/feed_records.hpp"
#include "gunzip.hpp"

namespace nordiq::e2e {
namespace {

using nlohmann::json;
const std::string kKey = "e2e-forecast-key-7";

const std::vector<std::string> kServers = {
    "ppml0001", "ppml0002", "ppml0003", "ppgpu0001", "ppdb001",  "ppdb002",  "psdb001",
    "ppweb001", "ppweb002", "ppapi001", "ppcon001", "ppcon002", "ppetl001", "ppkafka001",
    "pprisk001", "varrisk001", "host-a1", "host-b2", "generic01", "edge.9"};

// Calm, slowly varying metrics; server s at step i. Memory of `hot` is overridden by callers.
TestRecord calm_record(const std::string& server, int s, EpochMs t, int i) {
  TestRecord r{server, t};
  const double wave = std::sin(0.3 * i + s);
  const double v[kNumMetrics] = {20 + 5 * wave, 5 + wave, 1 + 0.5 * wave, 70 - 6 * wave, 10 + 2 * wave,
                                 40 + 3 * wave, 2, 50 + 0.01 * i, 5 + wave, 4 + wave,
                                 static_cast<double>(10 + (i + s) % 5), static_cast<double>(3 + (i % 3)),
                                 1.5 + 0.3 * wave, 12 + i / 288.0};
  for (int k = 0; k < kNumMetrics; ++k) r.values[k] = std::round(v[k] * 8) / 8;  // exact in JSON
  return r;
}

void post(const Daemon& d, const std::vector<TestRecord>& records) {
  auto res = d.client(kKey).Post("/feed/data", feed_body(records), "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
}

json get_json(const Daemon& d, const std::string& path, int expect = 200) {
  return get_json_with_key(d, kKey, path, expect);
}

// Polls /predictions/current until every listed server has a forecast of `steps` closed steps.
json wait_for_forecasts(const Daemon& d, size_t servers, int steps) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  json body;
  while (std::chrono::steady_clock::now() < deadline) {
    body = get_json(d, "/predictions/current");
    size_t done = 0;
    for (auto& [name, p] : body["predictions"].items()) done += p["steps"] == steps;
    if (done == servers) return body;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ADD_FAILURE() << "forecasts did not arrive; last body: " << body.dump().substr(0, 2000);
  return body;
}

class ForecastE2E : public ::testing::Test {
 protected:
  TempDir dir;
  Daemon daemon{dir.path / "data", {}, {{"NORDIQ_API_KEY", kKey}}};
  EpochMs t0 = steps_ago(31);

  void SetUp() override {
    daemon.start();
    for (int i = 0; i < 30; ++i) {  // 30 steps, posted as fast as the daemon answers
      std::vector<TestRecord> step;
      for (size_t s = 0; s < kServers.size(); ++s)
        step.push_back(calm_record(kServers[s], static_cast<int>(s), t0 + i * 300'000LL, i));
      post(daemon, step);
    }
  }
};

TEST_F(ForecastE2E, TwentyServersGetNinetySixStepForecastsContinuingTheirSeries) {
  // The 30th step is still open: 29 closed steps per server.
  const json body = wait_for_forecasts(daemon, kServers.size(), 29);
  ASSERT_EQ(body["predictions"].size(), kServers.size());
  EXPECT_TRUE(body.contains("timestamp"));
  EXPECT_EQ(body["model"]["type"], "baseline");
  EXPECT_EQ(body["summary"]["total_servers"], 20);
  EXPECT_TRUE(body["alerts"].is_array());
  const EpochMs last_closed = t0 + 28 * 300'000LL;
  for (const std::string& name : kServers) {
    SCOPED_TRACE(name);
    const json& p = body["predictions"][name];
    EXPECT_EQ(p["server_name"], name);
    EXPECT_EQ(p["profile"], profile_id(profile_from_server_name(name)));
    EXPECT_EQ(p["model"], "baseline");
    EXPECT_TRUE(p["risk_score"].is_number());
    EXPECT_TRUE(p["level"].is_string());
    ASSERT_EQ(p["current"].size(), 14u);
    const json& f = p["forecast"];
    ASSERT_EQ(f["timestamps"].size(), 96u);
    for (int t = 0; t < 96; ++t)
      ASSERT_EQ(f["timestamps"][t], format_iso8601(last_closed + (t + 1) * 300'000LL)) << t;
    ASSERT_EQ(f.size(), 15u);  // timestamps + 14 metrics
    for (int k = 0; k < kNumMetrics; ++k) {
      const json& m = f[std::string(kMetrics[k].name)];
      ASSERT_EQ(m.size(), 3u) << kMetrics[k].name;
      for (int t = 0; t < 96; ++t) {
        const double p10 = m["p10"][t], p50 = m["p50"][t], p90 = m["p90"][t];
        ASSERT_LE(p10, p50) << kMetrics[k].name << " t=" << t;
        ASSERT_LE(p50, p90) << kMetrics[k].name << " t=" << t;
        ASSERT_GE(p10, kMetrics[k].min) << kMetrics[k].name;
        ASSERT_LE(p90, kMetrics[k].max) << kMetrics[k].name;
      }
    }
  }
  const json status = get_json(daemon, "/status");
  EXPECT_EQ(status["model"]["type"], "baseline");
  EXPECT_NE(status["model"]["detail"].get<std::string>().find("no model file"), std::string::npos);
  EXPECT_TRUE(status["last_forecast"].is_string());
}

TEST(FirstContactE2E, ANewServerGetsAMarkedBaselineForecastBeforeItsFirstStepCloses) {
  TempDir dir;
  Daemon daemon{dir.path / "data", {}, {{"NORDIQ_API_KEY", kKey}}};
  daemon.start();
  const EpochMs open_step = steps_ago(0);
  TestRecord first = calm_record("newhost01", 0, open_step, 0);
  post(daemon, {first});
  // No step of this server has closed; it still gets a forecast, from its open step.
  json one;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    auto res = daemon.client(kKey).Get("/predictions/newhost01");
    ASSERT_TRUE(res);
    if (res->status == 200) {
      one = json::parse(res->body);
      break;
    }
    ASSERT_EQ(res->status, 404) << res->body;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_FALSE(one.is_null()) << "no forecast within 30 s of the first record";
  EXPECT_EQ(one["model"], "baseline");
  EXPECT_EQ(one["steps"], 0);
  EXPECT_EQ(one["last_step"], format_iso8601(open_step));
  const json& cpu = one["forecast"]["cpu_user_pct"];
  ASSERT_EQ(cpu["p50"].size(), 96u);
  EXPECT_DOUBLE_EQ(cpu["p50"][0].get<double>(), first.values[0]);  // one point: flat at its value
  EXPECT_LT(cpu["p10"][95].get<double>(), cpu["p50"][95].get<double>());  // with a band
}

TEST_F(ForecastE2E, FiltersAndSingleServerEndpoint) {
  wait_for_forecasts(daemon, kServers.size(), 29);
  const json some = get_json(daemon, "/predictions/current?servers=ppdb001,ppweb002,nosuch&metrics=mem_used_pct,load_average&quantiles=all");
  ASSERT_EQ(some["predictions"].size(), 2u);
  const json& f = some["predictions"]["ppdb001"]["forecast"];
  EXPECT_EQ(f.size(), 3u);  // timestamps + 2 metrics
  EXPECT_EQ(f["mem_used_pct"].size(), 7u);
  EXPECT_EQ(f["load_average"]["p98"].size(), 96u);

  const json one = get_json(daemon, "/predictions/ppml0002");
  EXPECT_EQ(one["server_name"], "ppml0002");
  EXPECT_EQ(one["forecast"]["cpu_idle_pct"].size(), 7u);
  for (const char* q : {"p02", "p10", "p25", "p50", "p75", "p90", "p98"})
    EXPECT_EQ(one["forecast"]["disk_usage_pct"][q].size(), 96u) << q;

  const json missing = get_json(daemon, "/predictions/nosuch01", 404);
  EXPECT_EQ(missing["error"], "not_found");
  const json bad = get_json(daemon, "/predictions/current?metrics=bogus", 400);
  EXPECT_NE(bad["message"].get<std::string>().find("bogus"), std::string::npos);
  get_json(daemon, "/historical/environment?time_range=2d", 400);
  auto unauth = daemon.client().Get("/predictions/current");
  ASSERT_TRUE(unauth);
  EXPECT_EQ(unauth->status, 401);
}

// Issue #14: the full current forecasts are rendered and gzipped once a cycle; a gzip reader gets
// the same forecasts compressed exactly once (cpp-httplib must not compress them again). The first
// gzip body is compressed on request; once a reader asked for gzip, the next cycle deflates each
// server's entry ahead and assembles the body from them: both inflate to the plain body exactly.
TEST_F(ForecastE2E, GzipReadersGetTheSameCurrentForecastsCompressedOnce) {
  wait_for_forecasts(daemon, kServers.size(), 29);
  httplib::Client raw = daemon.client(kKey);
  raw.set_decompress(false);
  for (int cycle : {29, 30}) {
    if (cycle == 30) {  // closes step 29: the cycle that follows a gzip request deflates ahead
      std::vector<TestRecord> step;
      for (size_t s = 0; s < kServers.size(); ++s)
        step.push_back(calm_record(kServers[s], static_cast<int>(s), t0 + 30 * 300'000LL, 30));
      post(daemon, step);
      wait_for_forecasts(daemon, kServers.size(), 30);
    }
    const auto gzipped = raw.Get("/predictions/current", {{"Accept-Encoding", "gzip"}});
    const auto plain = raw.Get("/predictions/current", {{"Accept-Encoding", "identity"}});
    ASSERT_TRUE(plain && gzipped);
    ASSERT_EQ(plain->status, 200);
    ASSERT_EQ(gzipped->status, 200);
    EXPECT_FALSE(plain->has_header("Content-Encoding"));
    EXPECT_EQ(gzipped->get_header_value_count("Content-Encoding"), 1u);
    EXPECT_EQ(gzipped->get_header_value("Content-Encoding"), "gzip");
    // Compressed (each entry deflated on its own compresses these small test bodies ~2.6×; 500
    // real servers' body ~2.5× as against 2.6× in one pass).
    EXPECT_LT(gzipped->body.size(), plain->body.size() / 2);
    const std::string inflated = test_support::gunzip(gzipped->body);
    EXPECT_EQ(inflated, plain->body) << "after step " << cycle;
    const json from_gzip = json::parse(inflated);
    EXPECT_EQ(from_gzip["predictions"].size(), kServers.size());
    EXPECT_EQ(from_gzip["predictions"]["ppml0001"]["steps"], cycle);
  }
}

// Pollers revalidate the full body with its entity tag: 304 and no body until the next cycle
// publishes a new one. The plain and gzip bodies are two representations with their own tags.
TEST_F(ForecastE2E, PollersRevalidatingTheCurrentForecastsGet304UntilTheNextCycle) {
  wait_for_forecasts(daemon, kServers.size(), 29);
  httplib::Client raw = daemon.client(kKey);
  raw.set_decompress(false);
  const httplib::Headers identity = {{"Accept-Encoding", "identity"}};
  const auto first = raw.Get("/predictions/current", identity);
  ASSERT_TRUE(first);
  ASSERT_EQ(first->status, 200);
  const std::string etag = first->get_header_value("ETag");
  ASSERT_EQ(etag.front(), '"') << etag;
  EXPECT_EQ(first->get_header_value("Cache-Control"), "no-cache");

  for (const std::string& held : {etag, "\"stale\", W/" + etag, std::string("*")}) {
    const auto again = raw.Get("/predictions/current", {{"Accept-Encoding", "identity"}, {"If-None-Match", held}});
    ASSERT_TRUE(again);
    EXPECT_EQ(again->status, 304) << held;
    EXPECT_TRUE(again->body.empty());
    EXPECT_EQ(again->get_header_value("ETag"), etag);
  }
  const auto other = raw.Get("/predictions/current", {{"Accept-Encoding", "identity"}, {"If-None-Match", "\"stale\""}});
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 200);
  EXPECT_EQ(other->body, first->body);
  const auto gzipped = raw.Get("/predictions/current", {{"Accept-Encoding", "gzip"}, {"If-None-Match", etag}});
  ASSERT_TRUE(gzipped);
  EXPECT_EQ(gzipped->status, 200) << "the gzip body is another representation";
  EXPECT_NE(gzipped->get_header_value("ETag"), etag);

  std::vector<TestRecord> step;  // closes step 29: a new cycle, a new body
  for (size_t s = 0; s < kServers.size(); ++s)
    step.push_back(calm_record(kServers[s], static_cast<int>(s), t0 + 30 * 300'000LL, 30));
  post(daemon, step);
  wait_for_forecasts(daemon, kServers.size(), 30);
  const auto next = raw.Get("/predictions/current", {{"Accept-Encoding", "identity"}, {"If-None-Match", etag}});
  ASSERT_TRUE(next);
  EXPECT_EQ(next->status, 200);
  EXPECT_NE(next->get_header_value("ETag"), etag);
  EXPECT_EQ(json::parse(next->body)["predictions"]["ppml0001"]["steps"], 30);
}

// Issue #10 item 3: every served forecast is scored against the actuals as they arrive, and the
// daemon says how well it does and which forecaster serves what.
TEST_F(ForecastE2E, AccuracyOfServedForecastsIsTrackedInDriftStatusStatusAndMetrics) {
  wait_for_forecasts(daemon, kServers.size(), 29);
  const json drift = get_json(daemon, "/drift/status");
  EXPECT_EQ(drift["servers_scored"], kServers.size());
  const json& cell = drift["metrics"]["cpu_user_pct"]["5m"];
  // Steps posted faster than cycles run are forecast together: at least one score per server.
  EXPECT_GE(cell["samples"].get<int64_t>(), static_cast<int64_t>(kServers.size()));
  EXPECT_GE(cell["coverage_p10_p90"].get<double>(), 0.0);
  EXPECT_LE(cell["coverage_p10_p90"].get<double>(), 1.0);
  int served = 0;
  for (const char* c : {"model", "robust_profile", "last_value", "robust_hourly"}) {
    served += cell["served_by"][c].get<int>();
    EXPECT_TRUE(cell["mae_p50"][c].is_number()) << c;
  }
  EXPECT_EQ(served, static_cast<int>(kServers.size()));
  for (const char* h : {"5m", "30m", "1h", "4h", "8h"}) EXPECT_TRUE(drift["horizons"].contains(h)) << h;

  const json one = get_json(daemon, "/drift/status?server=ppdb001");
  EXPECT_EQ(one["server"], "ppdb001");
  EXPECT_GE(one["metrics"]["mem_used_pct"]["5m"]["samples"].get<int>(), 1);
  EXPECT_EQ(one["metrics"]["mem_used_pct"]["8h"]["samples"], 0);  // no +8 h actual yet
  const json missing = get_json(daemon, "/drift/status?server=nosuch01", 404);
  EXPECT_NE(missing["message"].get<std::string>().find("server"), std::string::npos);

  const json status = get_json(daemon, "/status");
  EXPECT_EQ(status["forecast_quality"]["servers_scored"], kServers.size());
  const json prediction = get_json(daemon, "/predictions/ppdb001");
  EXPECT_EQ(prediction["served_by"]["cpu_user_pct"].size(), 5u);
  auto metrics = daemon.client(kKey).Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("nordiq_forecast_coverage_p10_p90{metric=\"cpu_user_pct\",horizon=\"5m\"}"),
            std::string::npos);
}

TEST_F(ForecastE2E, MetricsEndpointPassesPromtool) {
  wait_for_forecasts(daemon, kServers.size(), 29);
  auto res = daemon.client(kKey).Get("/metrics");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  EXPECT_NE(res->get_header_value("Content-Type").find("text/plain"), std::string::npos);
  const std::string& text = res->body;
  EXPECT_NE(text.find("nordiq_risk_score{server=\"ppdb001\",profile=\"database\"}"), std::string::npos);
  for (const char* horizon : {"30m", "1h", "4h", "8h"})
    EXPECT_NE(text.find(std::string("nordiq_forecast{server=\"ppml0001\",metric=\"mem_used_pct\",horizon=\"") + horizon +
                        "\",quantile=\"0.9\"}"),
              std::string::npos) << horizon;
  EXPECT_NE(text.find("nordiq_remote_write_samples_total{outcome=\"unknown_series\"} 0"), std::string::npos);
  EXPECT_NE(text.find("nordiq_ingest_latency_seconds_count 30"), std::string::npos);
  EXPECT_NE(text.find("nordiq_forecast_cycle_seconds_bucket{le=\"+Inf\"}"), std::string::npos);

  const fs::path file = dir.path / "metrics.txt";
  std::ofstream(file) << text;
  const std::string cmd = "promtool check metrics < '" + file.string() + "' 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string output;
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof buf, p)) output.append(buf, n);
  const int rc = WEXITSTATUS(::pclose(p));
  // Exit 0: clean; 3: lint findings only (1 would be an invalid exposition). The one finding
  // allowed is deliberate: issue 15 names the forecast gauges' label `quantile`, which promtool
  // reserves for summaries (Prometheus itself scrapes it without error: tests/e2e/prometheus_e2e_test).
  EXPECT_TRUE(rc == 0 || rc == 3) << "promtool check metrics failed:\n" << output;
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) {
    const bool quantile_gauge = line == "nordiq_forecast non-summary metrics should not have \"quantile\" label" ||
                                line == "nordiq_time_to_threshold_seconds non-summary metrics should not have \"quantile\" label";
    EXPECT_TRUE(quantile_gauge) << "promtool: " << line;
  }
}

}  // namespace
}  // namespace nordiq::e2e
