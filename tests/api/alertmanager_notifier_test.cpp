// Alertmanager out: what is posted (labels, annotations, endsAt, links), when (every cycle, a
// resolution once), and retries while Alertmanager is away. A fake Alertmanager (a real HTTP
// server on loopback) records the posts; the real one is in tests/e2e/prometheus_e2e_test.cpp.
#include <gtest/gtest.h>
#include <httplib.h>

#include <mutex>
#include <thread>

#include "api/alertmanager_notifier.hpp"
#include "e2e/daemon.hpp"            // free_port()
#include "e2e/external_process.hpp"  // eventually()

namespace nordiq::api {
namespace {

using nlohmann::json;

class FakeAlertmanager {
 public:
  explicit FakeAlertmanager(std::string prefix = "", int port = 0) {
    server_.Post(prefix + "/api/v2/alerts", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(mutex_);
      posts_.push_back(json::parse(req.body));
      res.status = 200;
    });
    port_ = port ? (server_.bind_to_port("127.0.0.1", port) ? port : -1) : server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~FakeAlertmanager() {
    server_.stop();
    thread_.join();
  }
  int port() const { return port_; }
  std::vector<json> posts() {
    std::lock_guard lock(mutex_);
    return posts_;
  }

 private:
  httplib::Server server_;
  std::thread thread_;
  std::mutex mutex_;
  std::vector<json> posts_;
  int port_ = 0;
};

constexpr EpochMs kNow = 1'796'400'000'000;
constexpr int64_t kStepMs = 300'000;

risk::TrackedAlert memory_alert(risk::Level level) {
  risk::TrackedAlert t;
  t.server_name = "ppdb001";
  t.alert.server = 0;
  t.alert.signal = risk::Signal::memory;
  t.alert.level = level;
  t.alert.threshold = 98;
  t.alert.current = 91.5f;
  t.alert.eta_p90 = 25;
  t.alert.eta_p50 = 45;
  t.alert.eta_p10 = risk::kNoCrossing;
  t.alert.horizon_minutes = 480;
  t.alert.probability = 0.75f;
  t.alert.likely = true;
  t.opened_at = kNow - 600'000;
  return t;
}

// One alert event of the memory alert, now at `level`.
std::vector<risk::AlertEvent> one_event(risk::AlertEventKind kind, risk::Level level,
                                        risk::Level previous = risk::Level::healthy) {
  risk::AlertEvent e;
  e.kind = kind;
  e.previous_level = previous;
  e.state = memory_alert(level);
  return {e};
}

// A one-server snapshot with the given open alerts.
serve::PredictionSnapshot snapshot_with(std::vector<risk::TrackedAlert> open) {
  serve::PredictionSnapshot snap;
  auto sf = std::make_shared<serve::ServerForecast>();
  sf->id = 0;
  sf->name = "ppdb001";
  sf->profile = Profile::database;
  sf->step_ms = kStepMs;
  snap.by_id.push_back(sf);
  snap.order.push_back(0);
  snap.open_alerts = std::move(open);
  return snap;
}

AlertmanagerOptions options_for(const std::string& url) {
  AlertmanagerOptions o;
  o.url = url;
  o.external_url = [] { return std::string("https://nordiq.example/"); };
  o.first_backoff_ms = 20;
  o.max_backoff_ms = 100;
  return o;
}

std::string url_of(const FakeAlertmanager& am, const std::string& prefix = "") {
  return "http://127.0.0.1:" + std::to_string(am.port()) + prefix;
}

TEST(AlertmanagerNotifier, OpenAlertIsPostedWithLabelsAnnotationsAndAnEndAFewStepsAhead) {
  FakeAlertmanager am;
  AlertmanagerNotifier notifier(options_for(url_of(am)));
  notifier.start();
  notifier.publish(snapshot_with({memory_alert(risk::Level::warning)}), {}, kNow);
  ASSERT_TRUE(e2e::eventually(std::chrono::seconds(10), [&] { return !am.posts().empty(); }));
  const json post = am.posts().front();
  ASSERT_EQ(post.size(), 1u) << post.dump();
  const json& a = post[0];
  EXPECT_EQ(a["labels"], json({{"alertname", "NordIQForecast"}, {"server", "ppdb001"}, {"metric", "mem_used_pct"},
                               {"severity", "warning"}, {"profile", "database"}}));
  EXPECT_EQ(a["annotations"]["eta_range"], "in ~45 min (25 min – not within 8 h)");
  EXPECT_EQ(a["annotations"]["probability"], "0.75");
  EXPECT_NE(a["annotations"]["message"].get<std::string>().find("memory 98%"), std::string::npos) << a.dump();
  EXPECT_EQ(a["startsAt"], format_iso8601(kNow - 600'000));
  EXPECT_EQ(a["endsAt"], format_iso8601(kNow + 4 * kStepMs)) << "re-posted each cycle, it ends 4 steps after the last";
  EXPECT_EQ(a["generatorURL"], "https://nordiq.example/#/server/ppdb001");
}

TEST(AlertmanagerNotifier, ResolutionIsPostedOnceWithEndsAtNow) {
  FakeAlertmanager am;
  AlertmanagerNotifier notifier(options_for(url_of(am)));
  notifier.start();
  notifier.publish(snapshot_with({}), one_event(risk::AlertEventKind::resolved, risk::Level::warning), kNow);
  ASSERT_TRUE(e2e::eventually(std::chrono::seconds(10), [&] { return am.posts().size() == 1; }));
  EXPECT_EQ(am.posts()[0][0]["endsAt"], format_iso8601(kNow));
  EXPECT_EQ(am.posts()[0][0]["labels"]["severity"], "warning");

  // The next cycle has nothing open and nothing ended: nothing to post, the resolution is not resent.
  notifier.publish(snapshot_with({}), {}, kNow + kStepMs);
  notifier.publish(snapshot_with({memory_alert(risk::Level::critical)}), {}, kNow + 2 * kStepMs);
  ASSERT_TRUE(e2e::eventually(std::chrono::seconds(10), [&] { return am.posts().size() == 2; }));
  ASSERT_EQ(am.posts()[1].size(), 1u) << am.posts()[1].dump();
  EXPECT_EQ(am.posts()[1][0]["labels"]["severity"], "critical");
}

TEST(AlertmanagerNotifier, LevelChangeEndsTheLabelSetOfThePreviousSeverity) {
  FakeAlertmanager am;
  AlertmanagerNotifier notifier(options_for(url_of(am)));
  notifier.start();
  notifier.publish(snapshot_with({memory_alert(risk::Level::critical)}),
                   one_event(risk::AlertEventKind::escalated, risk::Level::critical, risk::Level::warning), kNow);
  ASSERT_TRUE(e2e::eventually(std::chrono::seconds(10), [&] { return !am.posts().empty(); }));
  const json post = am.posts().front();
  ASSERT_EQ(post.size(), 2u) << post.dump();
  EXPECT_EQ(post[0]["labels"]["severity"], "critical");
  EXPECT_EQ(post[0]["endsAt"], format_iso8601(kNow + 4 * kStepMs));
  EXPECT_EQ(post[1]["labels"]["severity"], "warning");
  EXPECT_EQ(post[1]["endsAt"], format_iso8601(kNow));
}

TEST(AlertmanagerNotifier, UrlPathPrefixIsKept) {
  FakeAlertmanager am("/alertmanager");
  AlertmanagerNotifier notifier(options_for(url_of(am, "/alertmanager/")));
  notifier.start();
  notifier.publish(snapshot_with({memory_alert(risk::Level::warning)}), {}, kNow);
  EXPECT_TRUE(e2e::eventually(std::chrono::seconds(10), [&] { return !am.posts().empty(); }));
}

TEST(AlertmanagerNotifier, RetriesUntilAlertmanagerIsBackWithoutBlockingPublish) {
  const int port = e2e::free_port();  // nothing listens there yet
  const uint64_t failed_before = alertmanager_stats().posts_failed.load();
  AlertmanagerNotifier notifier(options_for("http://127.0.0.1:" + std::to_string(port)));
  notifier.start();
  notifier.publish(snapshot_with({memory_alert(risk::Level::warning)}),
                   one_event(risk::AlertEventKind::resolved, risk::Level::degraded), kNow);  // returns at once
  ASSERT_TRUE(e2e::eventually(std::chrono::seconds(10), [&] { return alertmanager_stats().posts_failed > failed_before + 1; }));

  FakeAlertmanager am("", port);
  ASSERT_EQ(am.port(), port);
  ASSERT_TRUE(e2e::eventually(std::chrono::seconds(10), [&] { return !am.posts().empty(); }));
  const json post = am.posts().front();
  ASSERT_EQ(post.size(), 2u) << "the open alert and the unsent resolution: " << post.dump();
  EXPECT_EQ(post[1]["labels"]["severity"], "degraded");
}

TEST(AlertmanagerNotifier, UrlWithoutHttpSchemeIsRefusedNamingTheFlag) {
  try {
    AlertmanagerNotifier notifier(options_for("localhost:9093"));
    FAIL() << "accepted a URL without scheme";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("--alertmanager-url"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace nordiq::api
