// POST /feed/data, auth, limits and /status against the real daemon over real HTTP.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/stat.h>

#include <chrono>
#include <cmath>

#include "api/api_server.hpp"
#include "e2e/daemon.hpp"
#include "e2e/feed_records.hpp"

namespace nordiq::e2e {
namespace {

using nlohmann::json;
const std::string kKey = "e2e-ingest-key-0123456789";
const std::string kAdminKey = "e2e-admin-key-9876543210";

json parse(const httplib::Result& res) {
  EXPECT_TRUE(res) << "no response";
  if (!res) return json();
  return json::parse(res->body);
}

// Every error response is {"error": code, "message": text}.
void expect_error(const httplib::Result& res, int status, const std::string& code) {
  ASSERT_TRUE(res) << "no response";
  EXPECT_EQ(res->status, status) << res->body;
  const json body = json::parse(res->body);
  EXPECT_EQ(body.value("error", ""), code) << res->body;
  EXPECT_FALSE(body.value("message", "").empty()) << res->body;
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
}

class FeedApi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    daemon_ = new Daemon(dir_->path / "data",
                         {"--max-body-mib", "1", "--max-records", "50", "--rate-admin", "2"},
                         {{"NORDIQ_API_KEY", kKey}, {"NORDIQ_ADMIN_KEY", kAdminKey}});
    daemon_->start();
  }
  static void TearDownTestSuite() {
    EXPECT_EQ(daemon_->stop(SIGTERM), 0);
    const std::string log = daemon_->log();
    EXPECT_EQ(log.find(kKey), std::string::npos) << "the API key was logged";
    EXPECT_EQ(log.find(kAdminKey), std::string::npos) << "the admin key was logged";
    delete daemon_;
    delete dir_;
  }
  httplib::Result post(const std::string& body, const std::string& key = kKey) {
    return daemon_->client(key).Post("/feed/data", body, "application/json");
  }
  static TempDir* dir_;
  static Daemon* daemon_;
};
TempDir* FeedApi::dir_ = nullptr;
Daemon* FeedApi::daemon_ = nullptr;

TEST_F(FeedApi, HealthAndStatusNeedNoKey) {
  auto c = daemon_->client();
  auto health = c.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  const json status = parse(c.Get("/status"));
  EXPECT_EQ(status["status"], "ok");
  EXPECT_TRUE(status.contains("servers_tracked"));
  EXPECT_TRUE(status.contains("servers_ready"));
  EXPECT_TRUE(status.contains("records_stored"));
  EXPECT_TRUE(status["uptime_seconds"].is_number());
  EXPECT_EQ(status["version"], NORDIQ_VERSION);
  EXPECT_TRUE(status.contains("model"));
  EXPECT_TRUE(status.contains("last_forecast"));
}

TEST_F(FeedApi, ValidRecordsAreAcceptedAndInvalidOnesReportedByIndexAndField) {
  const EpochMs t = steps_ago(30);
  auto good = make_record("ppweb101", t, 1);
  auto bad = make_record("ppweb102", t, 2);
  bad.values[static_cast<int>(Metric::mem_used_pct)] = 104.2;
  std::string body = feed_body({good, bad, good});
  // A third record with a bad status and a string in a number field.
  body = body.substr(0, body.size() - 2) +
         R"(,{"timestamp":"2025-01-15T10:00:00","server_name":"x1","status":"bad","cpu_user_pct":"1"}]})";
  auto res = post(body);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  const json r = json::parse(res->body);
  EXPECT_EQ(r["status"], "accepted");
  EXPECT_EQ(r["accepted"], 1);
  EXPECT_EQ(r["duplicates"], 1);  // the same record twice in one batch
  const json& rejected = r["rejected"];
  ASSERT_GE(rejected.size(), 3u);
  EXPECT_EQ(rejected[0], json({{"index", 1}, {"field", "mem_used_pct"},
                               {"error", "must be between 0 and 100, got 104.2"}}));
  std::set<std::string> fields_of_3;
  for (const auto& e : rejected)
    if (e["index"] == 3) fields_of_3.insert(e["field"].get<std::string>());
  EXPECT_TRUE(fields_of_3.count("status"));
  EXPECT_TRUE(fields_of_3.count("cpu_user_pct"));
  EXPECT_TRUE(fields_of_3.count("mem_used_pct"));  // missing → "is required"
  EXPECT_GE(r["servers_tracked"], 1);
  EXPECT_TRUE(r.contains("servers_ready"));
  EXPECT_FALSE(r["warmup_complete"]);
}

TEST_F(FeedApi, AnEmptyBatchIsOk) {
  auto res = post(R"({"records": []})");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(json::parse(res->body)["accepted"], 0);
}

TEST_F(FeedApi, ABatchWithNoValidRecordIs422WithTheErrors) {
  auto bad = make_record("ppweb103", steps_ago(3), 3);
  bad.status = "sleepy";
  auto res = post(feed_body({bad}));
  expect_error(res, 422, "no_valid_records");
  const json r = json::parse(res->body);
  ASSERT_EQ(r["rejected"].size(), 1u);
  EXPECT_EQ(r["rejected"][0]["field"], "status");
  EXPECT_EQ(r["accepted"], 0);
}

TEST(FeedErrors, AHundredThousandBadRecordsGetASmall422ListingTheFirstHundredAndCountsPerField) {
  TempDir dir;
  Daemon daemon(dir.path / "data", {}, {{"NORDIQ_API_KEY", kKey}});
  daemon.start();
  std::string body = "{\"records\":[";
  for (int i = 0; i < 100'000; ++i) body += i ? ",{}" : "{}";
  body += "]}";
  auto res = daemon.client(kKey).Post("/feed/data", body, "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 422);
  EXPECT_LT(res->body.size(), 64u * 1024) << "the error body grows with the batch";
  const json reply = json::parse(res->body);
  EXPECT_EQ(reply["error"], "no_valid_records");
  EXPECT_EQ(reply["rejected"].size(), 100u);
  EXPECT_EQ(reply["rejected_records"], 100'000);
  EXPECT_EQ(reply["errors_total"], 100'000 * (kNumMetrics + 3));
  bool timestamp_counted = false;
  for (const json& t : reply["errors_by_field"])
    if (t["field"] == "timestamp" && t["error"] == "required") timestamp_counted = t["count"] == 100'000;
  EXPECT_TRUE(timestamp_counted) << reply["errors_by_field"].dump();
  // The daemon goes on serving.
  EXPECT_EQ(daemon.client().Get("/health")->status, 200);
}

TEST(FeedAbuse, RepeatedFailedAuthenticationIsSlowedTo429WhileValidKeysStillWork) {
  TempDir dir;
  Daemon daemon(dir.path / "data", {}, {{"NORDIQ_API_KEY", kKey}});
  daemon.start();
  int unauthorized = 0, limited = 0;
  std::string retry_after;
  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < 100; ++i) {
    auto res = daemon.client("wrong-key-" + std::to_string(i)).Get("/predictions/current");
    ASSERT_TRUE(res);
    unauthorized += res->status == 401;
    if (res->status == 429) {
      ++limited;
      retry_after = res->get_header_value("Retry-After");
    }
  }
  // One minute's burst of failures, then 429; the bucket refills at one a second, so a loaded
  // machine that took longer over the 100 sees one more 401 per second it took.
  const double took_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  EXPECT_GE(unauthorized, 60);
  EXPECT_LE(unauthorized, 60 + static_cast<int>(std::ceil(took_s)) + 1) << "in " << took_s << " s";
  EXPECT_EQ(unauthorized + limited, 100);
  EXPECT_FALSE(retry_after.empty());
  auto ok = daemon.client(kKey).Get("/predictions/current");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;
}

TEST(FeedAbuse, WritesFromAnotherOriginAreRefusedEvenWithoutAuth) {
  TempDir dir;
  Daemon daemon(dir.path / "data", {"--no-auth"}, {});
  daemon.start();
  const std::string body = R"({"records": []})";
  httplib::Client c("127.0.0.1", daemon.port());
  auto cross = c.Post("/feed/data", {{"Origin", "http://evil.example"}}, body, "text/plain");
  expect_error(cross, 403, "cross_origin");
  EXPECT_NE(json::parse(cross->body)["message"].get<std::string>().find("Origin"), std::string::npos);
  const std::string self = "http://127.0.0.1:" + std::to_string(daemon.port());
  auto same = c.Post("/feed/data", {{"Origin", self}}, body, "application/json");
  ASSERT_TRUE(same);
  EXPECT_EQ(same->status, 200) << same->body << " origin " << self;
  auto plain = c.Post("/feed/data", body, "application/json");  // not a browser: no Origin
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->status, 200) << plain->body;
  auto read = c.Get("/status", {{"Origin", "http://evil.example"}});  // reads are not refused
  ASSERT_TRUE(read);
  EXPECT_EQ(read->status, 200);
}

TEST(FeedAbuse, TheDataDirAndDatabaseAreTheDaemonsOnly) {
  TempDir dir;
  Daemon daemon(dir.path / "data", {}, {});
  daemon.start();
  for (const char* name : {"", "nordiq.db", "api_key"}) {
    const fs::path p = dir.path / "data" / name;
    ASSERT_TRUE(fs::exists(p)) << p;
    const auto perms = fs::status(p).permissions();
    EXPECT_EQ(perms & (fs::perms::group_all | fs::perms::others_all), fs::perms::none) << p;
  }
}

TEST(ErrorResponses, A503SaysWhenToRetry) {
  httplib::Response res;
  api::ApiServer::send_error(res, 503, "store_unavailable", "retry later");
  EXPECT_EQ(res.status, 503);
  EXPECT_EQ(res.get_header_value("Retry-After"), "5");
  httplib::Response other;
  api::ApiServer::send_error(other, 404, "not_found", "no such thing");
  EXPECT_FALSE(other.has_header("Retry-After"));
}

TEST_F(FeedApi, MalformedBodiesAre400) {
  expect_error(post("{\"records\": [1, 2"), 400, "invalid_body");
  expect_error(post("[]"), 400, "invalid_body");
  expect_error(post("{\"records\": {}}"), 400, "invalid_body");
  expect_error(post(""), 400, "invalid_body");
}

TEST_F(FeedApi, BodiesAndBatchesAboveTheLimitsAre413) {
  std::vector<TestRecord> many;
  for (int i = 0; i < 51; ++i) many.push_back(make_record("ppweb104", steps_ago(60) + i * 1000, i));
  expect_error(post(feed_body(many)), 413, "too_many_records");
  std::string huge = R"({"records": [], "padding": ")" + std::string(1100 * 1024, 'x') + "\"}";
  expect_error(post(huge), 413, "payload_too_large");
}

TEST_F(FeedApi, MissingOrUnknownKeysAre401AndTheWrongRoleIs403) {
  const std::string body = feed_body({make_record("ppweb105", steps_ago(2), 5)});
  auto anon = daemon_->client().Post("/feed/data", body, "application/json");
  expect_error(anon, 401, "unauthorized");
  expect_error(post(body, "not-the-key"), 401, "unauthorized");
  // The ingest key cannot use admin endpoints; the admin key can.
  expect_error(daemon_->client(kKey).Get("/admin/store"), 403, "forbidden");
  auto admin = daemon_->client(kAdminKey).Get("/admin/store");
  ASSERT_TRUE(admin);
  EXPECT_EQ(admin->status, 200) << admin->body;
  // Authorization: Bearer works like X-API-Key.
  auto c = daemon_->client();
  c.set_default_headers({{"Authorization", "Bearer " + kKey}});
  auto bearer = c.Post("/feed/data", body, "application/json");
  ASSERT_TRUE(bearer);
  EXPECT_EQ(bearer->status, 200) << bearer->body;
}

TEST_F(FeedApi, UnknownEndpointsAreJson404) {
  expect_error(daemon_->client(kKey).Get("/no/such/thing"), 404, "not_found");
}

TEST_F(FeedApi, TheAdminRateLimitAnswers429WithRetryAfter) {
  // --rate-admin 2: a burst of 2, then 2 per minute. Other tests may have used some tokens.
  bool limited = false;
  for (int i = 0; i < 4 && !limited; ++i) {
    auto res = daemon_->client(kAdminKey).Get("/admin/store");
    ASSERT_TRUE(res);
    if (res->status != 429) continue;
    limited = true;
    expect_error(res, 429, "rate_limited");
    const int retry_after = std::stoi(res->get_header_value("Retry-After"));
    EXPECT_GE(retry_after, 1);
    EXPECT_LE(retry_after, 60);
  }
  EXPECT_TRUE(limited);
}

TEST(FeedRateLimit, FeedRequestsBeyondTheBurstAre429) {
  TempDir dir;
  Daemon d(dir.path / "data", {"--rate-feed", "2"}, {{"NORDIQ_API_KEY", kKey}});
  d.start();
  const std::string body = R"({"records": []})";
  for (int i = 0; i < 2; ++i) {
    auto ok = d.client(kKey).Post("/feed/data", body, "application/json");
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->status, 200);
  }
  auto limited = d.client(kKey).Post("/feed/data", body, "application/json");
  expect_error(limited, 429, "rate_limited");
  EXPECT_GE(std::stoi(limited->get_header_value("Retry-After")), 1);
  EXPECT_EQ(d.stop(SIGTERM), 0);
}

TEST(FeedIdempotency, TheSameBatchPostedTwiceIsStoredOnce) {
  TempDir dir;
  Daemon d(dir.path / "data", {}, {{"NORDIQ_API_KEY", kKey}});
  d.start();
  std::vector<TestRecord> batch;
  for (int i = 0; i < 40; ++i) batch.push_back(make_record(fmt::format("ppdb{:03}", i % 8), steps_ago(20) + i * 10'000, i));
  const std::string body = feed_body(batch);
  const json first = parse(d.client(kKey).Post("/feed/data", body, "application/json"));
  EXPECT_EQ(first["accepted"], 40);
  EXPECT_EQ(first["duplicates"], 0);
  auto retry = d.client(kKey).Post("/feed/data", body, "application/json");
  ASSERT_TRUE(retry);
  EXPECT_EQ(retry->status, 200);  // a retried batch is not an error
  const json second = json::parse(retry->body);
  EXPECT_EQ(second["accepted"], 0);
  EXPECT_EQ(second["duplicates"], 40);
  const json status = parse(d.client().Get("/status"));
  EXPECT_EQ(status["records_stored"], 40);
  EXPECT_EQ(status["servers_tracked"], 8);
  EXPECT_EQ(d.stop(SIGTERM), 0);
}

TEST(FeedAuth, WithoutAConfiguredKeyOneIsGeneratedWithMode0600AndNeverLogged) {
  TempDir dir;
  Daemon d(dir.path / "data");
  d.start();
  const auto key_file = dir.path / "data" / "api_key";
  ASSERT_TRUE(fs::exists(key_file));
  struct stat st {};
  ASSERT_EQ(::stat(key_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  std::string key = read_file(key_file);
  while (!key.empty() && (key.back() == '\n' || key.back() == '\r')) key.pop_back();
  ASSERT_GE(key.size(), 16u);
  const std::string log = d.log();
  EXPECT_NE(log.find(key_file.string()), std::string::npos) << "the log must say where the key is";
  EXPECT_EQ(log.find(key), std::string::npos) << "the key was logged";
  auto res = d.client(key).Post("/feed/data", R"({"records": []})", "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  expect_error(d.client().Post("/feed/data", R"({"records": []})", "application/json"), 401, "unauthorized");
  // Admin endpoints are disabled without an admin key: the ingest key gets 403.
  expect_error(d.client(key).Get("/admin/store"), 403, "forbidden");
  EXPECT_EQ(d.stop(SIGTERM), 0);
  // A restart reuses the same key file.
  d.start();
  auto again = d.client(key).Post("/feed/data", R"({"records": []})", "application/json");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 200);
  EXPECT_EQ(d.stop(SIGTERM), 0);
}

TEST(FeedAuth, NoAuthServesWithoutKeys) {
  TempDir dir;
  Daemon d(dir.path / "data", {"--no-auth"});
  d.start();
  auto res = d.client().Post("/feed/data", feed_body({make_record("a1", steps_ago(1), 1)}), "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_FALSE(fs::exists(dir.path / "data" / "api_key"));
  EXPECT_EQ(d.stop(SIGINT), 0);
}

TEST(FeedAuth, KeysCanComeFromFiles) {
  TempDir dir;
  std::ofstream(dir.path / "ingest.key") << "file-key-abcdef\n";
  std::ofstream(dir.path / "admin.key") << "file-admin-key-123\n";
  Daemon d(dir.path / "data", {"--api-key-file", (dir.path / "ingest.key").string(), "--admin-key-file",
                               (dir.path / "admin.key").string()});
  d.start();
  auto res = d.client("file-key-abcdef").Post("/feed/data", R"({"records": []})", "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  auto admin = d.client("file-admin-key-123").Get("/admin/store");
  ASSERT_TRUE(admin);
  EXPECT_EQ(admin->status, 200);
  EXPECT_EQ(d.stop(SIGTERM), 0);
}

}  // namespace
}  // namespace nordiq::e2e
