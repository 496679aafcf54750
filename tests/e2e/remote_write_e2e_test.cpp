// POST /api/v1/write against the real daemon: Prometheus' wire format (snappy + protobuf), its
// auth styles, its status-code contract (204 / 4xx not retried / 5xx retried), and records that
// come out as forecasts.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/metrics.hpp"
#include "core/time.hpp"
#include "e2e/daemon.hpp"
#include "e2e/external_process.hpp"
#include "ingest/remote_write_wire.hpp"

namespace nordiq::e2e {
namespace {

using nlohmann::json;
using test::all_metrics;
using test::nordiq_series;
using test::WireSeries;
const std::string kKey = "e2e-remote-write-key-42";


std::string body_of(const std::vector<WireSeries>& series) {
  return test::snappy_block(test::encode_write_request(series));
}

httplib::Headers remote_write_headers() {
  return {{"Content-Encoding", "snappy"}, {"X-Prometheus-Remote-Write-Version", "0.1.0"}};
}

class RemoteWrite : public ::testing::Test {
 protected:
  void SetUp() override {
    daemon = std::make_unique<Daemon>(dir.path / "data", std::vector<std::string>{"--step-seconds", "5"},
                                      Env{{"NORDIQ_API_KEY", kKey}});
    daemon->start();
  }
  httplib::Result write(const std::string& body, const std::string& key = kKey) {
    return daemon->client(key).Post("/api/v1/write", remote_write_headers(), body, "application/x-protobuf");
  }
  std::string metrics() {
    auto res = daemon->client(kKey).Get("/metrics");
    return res ? res->body : "";
  }
  TempDir dir;
  std::unique_ptr<Daemon> daemon;
};

TEST_F(RemoteWrite, SeriesBecomeAForecastServerWithTheirValues) {
  const EpochMs now = now_ms() / 5000 * 5000;
  for (int i = 3; i >= 0; --i) {
    auto res = write(body_of(all_metrics("rw-web1", now - i * 5000, 10)));
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 204) << res->body;
    EXPECT_TRUE(res->body.empty());
  }
  json server;
  ASSERT_TRUE(eventually(std::chrono::seconds(30), [&] {
    auto res = daemon->client(kKey).Get("/predictions/rw-web1");
    if (!res || res->status != 200) return false;
    server = json::parse(res->body);
    return server.contains("current");
  })) << "rw-web1 was never forecast";
  for (int k = 0; k < kNumMetrics; ++k)
    EXPECT_DOUBLE_EQ(server["current"][std::string(kMetrics[k].name)].get<double>(), 10.0 + k) << kMetrics[k].name;
  EXPECT_NE(metrics().find("nordiq_remote_write_samples_total{outcome=\"used\"} 56"), std::string::npos);
}

TEST_F(RemoteWrite, PrometheusAuthStylesBearerAndBasicCarryTheIngestKey) {
  const std::string body = body_of(all_metrics("rw-auth", now_ms(), 1));
  auto bearer = daemon->client().Post("/api/v1/write", {{"Authorization", "Bearer " + kKey}}, body, "application/x-protobuf");
  ASSERT_TRUE(bearer);
  EXPECT_EQ(bearer->status, 204) << bearer->body;

  httplib::Client basic("127.0.0.1", daemon->port());
  basic.set_basic_auth("prometheus", kKey);
  auto ok = basic.Post("/api/v1/write", body, "application/x-protobuf");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 204) << ok->body;

  basic.set_basic_auth("prometheus", "not-the-key");
  auto wrong = basic.Post("/api/v1/write", body, "application/x-protobuf");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  auto none = daemon->client().Post("/api/v1/write", body, "application/x-protobuf");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 401);
  EXPECT_NE(none->body.find("basic auth"), std::string::npos) << none->body;
}

TEST_F(RemoteWrite, BodiesPrometheusMustNotRetryAre400NamingTheProblem) {
  auto not_snappy = write("this is not snappy");
  ASSERT_TRUE(not_snappy);
  EXPECT_EQ(not_snappy->status, 400);
  EXPECT_NE(not_snappy->body.find("snappy"), std::string::npos) << not_snappy->body;

  std::string truncated = test::encode_write_request(all_metrics("rw-bad", now_ms(), 1));
  truncated.resize(truncated.size() - 3);
  auto bad_proto = write(test::snappy_block(truncated));
  ASSERT_TRUE(bad_proto);
  EXPECT_EQ(bad_proto->status, 400);
  EXPECT_NE(bad_proto->body.find("WriteRequest"), std::string::npos) << bad_proto->body;

  WireSeries no_server{{{"__name__", "nordiq:cpu_user_pct"}, {"instance", "bad name:9100"}}, {{5, now_ms()}}};
  auto unusable = write(body_of({no_server}));
  ASSERT_TRUE(unusable);
  EXPECT_EQ(unusable->status, 400);
  EXPECT_NE(unusable->body.find("label instance=\\\"bad name\\\""), std::string::npos) << unusable->body;
  EXPECT_EQ(json::parse(unusable->body).value("error", ""), "invalid_samples");
}

TEST_F(RemoteWrite, UnknownSeriesAreAcceptedAndCountedNotErrors) {
  WireSeries up{{{"__name__", "up"}, {"instance", "web1:9100"}, {"job", "node"}}, {{1, now_ms()}, {1, now_ms() + 1}}};
  auto res = write(body_of({up}));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 204) << res->body;
  EXPECT_NE(metrics().find("nordiq_remote_write_samples_total{outcome=\"unknown_series\"} 2"), std::string::npos);
}

TEST_F(RemoteWrite, WaitingSamplesAreStoredAtShutdownNotLost) {
  // A new server's first timestamp waits for its second; a clean stop stores it.
  auto res = write(body_of(all_metrics("rw-once", now_ms(), 5)));
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 204);
  EXPECT_NE(metrics().find("nordiq_remote_write_waiting 1"), std::string::npos);
  EXPECT_EQ(daemon->stop(SIGTERM), 0);
  EXPECT_NE(daemon->log().find("stored 1 waiting records at shutdown"), std::string::npos) << daemon->log();
  daemon->start();
  auto status = daemon->client().Get("/status");
  ASSERT_TRUE(status);
  EXPECT_EQ(json::parse(status->body)["servers_tracked"], 1) << status->body;
}

}  // namespace
}  // namespace nordiq::e2e
