// Durability and lifecycle of the real daemon: kill -9 right after 200 responses loses nothing,
// SIGTERM drains and exits 0, restarts restore windows, start-up errors are clear.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <limits>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "e2e/daemon.hpp"
#include "e2e/feed_records.hpp"
#include "store/database.hpp"
#include "store/fleet_store.hpp"

namespace nordiq::e2e {
namespace {

using nlohmann::json;
const std::string kKey = "e2e-lifecycle-key-42";

json post_ok(const Daemon& d, const std::string& body) {
  auto res = d.client(kKey).Post("/feed/data", body, "application/json");
  EXPECT_TRUE(res);
  if (!res) return json();
  EXPECT_EQ(res->status, 200) << res->body;
  return json::parse(res->body);
}

json status_of(const Daemon& d) {
  auto res = d.client().Get("/status");
  EXPECT_TRUE(res && res->status == 200);
  return res ? json::parse(res->body) : json();
}

// Everything in the records table, keyed by (server, timestamp): read straight from the file.
std::map<std::pair<std::string, EpochMs>, std::vector<double>> stored_records(const fs::path& data_dir) {
  auto db = Database::open(data_dir / FleetStore::kDatabaseFile);
  std::string sql = "SELECT s.name, r.ts";
  for (const auto& m : kMetrics) sql += ", r." + std::string(m.name);
  sql += " FROM records r JOIN servers s ON s.id = r.server_id";
  Statement q(*db, sql);
  std::map<std::pair<std::string, EpochMs>, std::vector<double>> out;
  while (q.step()) {
    std::vector<double> values;
    for (int k = 0; k < kNumMetrics; ++k) values.push_back(q.column_double(2 + k));
    out[{std::string(q.column_text(0)), q.column_int(1)}] = values;
  }
  return out;
}

TEST(Durability, EveryAcceptedRecordSurvivesASigkillRightAfterTheResponse) {
  TempDir dir;
  const fs::path data = dir.path / "data";
  Daemon d(data, {}, {{"NORDIQ_API_KEY", kKey}});
  d.start();
  std::vector<TestRecord> sent;
  const EpochMs t0 = steps_ago(40);
  size_t accepted = 0;
  for (int batch = 0; batch < 15; ++batch) {
    std::vector<TestRecord> records;
    for (int s = 0; s < 10; ++s)
      records.push_back(make_record(fmt::format("ppml{:02}", s), t0 + batch * 150'000 + s * 1'000, batch * 10 + s));
    accepted += post_ok(d, feed_body(records))["accepted"].get<size_t>();
    sent.insert(sent.end(), records.begin(), records.end());
  }
  ASSERT_EQ(accepted, sent.size());
  EXPECT_EQ(d.stop(SIGKILL), 128 + SIGKILL);  // no chance to flush anything

  const auto stored = stored_records(data);
  ASSERT_EQ(stored.size(), sent.size());
  for (const auto& r : sent) {
    auto it = stored.find({r.server, r.timestamp});
    ASSERT_NE(it, stored.end()) << r.server << " " << format_iso8601(r.timestamp);
    for (int k = 0; k < kNumMetrics; ++k)
      EXPECT_EQ(it->second[k], r.values[k]) << r.server << " " << kMetrics[k].name;
  }

  // The restarted daemon knows every record: counts, servers, windows, and re-posts are duplicates.
  d.start();
  const json status = status_of(d);
  EXPECT_EQ(status["records_stored"], sent.size());
  EXPECT_EQ(status["servers_tracked"], 10);
  EXPECT_EQ(status["servers_ready"], 0);  // 7 closed steps each: not yet 12
  const json again = post_ok(d, feed_body(sent));
  EXPECT_EQ(again["accepted"], 0);
  EXPECT_EQ(again["duplicates"], sent.size());
  EXPECT_EQ(d.stop(SIGTERM), 0);
}

// Kill trials (issue #14): three clients post steadily while the daemon is SIGKILLed at a random
// moment, again and again on the same data dir. Every record of every answered 200 must be there
// afterwards, and the database must pass PRAGMA quick_check. NORDIQ_KILL_TRIALS sets the count
// (5 in CI; scripts/kill_trials.sh runs 50).
TEST(Durability, RandomSigkillsUnderASteadyFeedLoseNoAcknowledgedRecord) {
  const char* env = std::getenv("NORDIQ_KILL_TRIALS");
  const int trials = env ? std::max(1, std::atoi(env)) : 5;
  TempDir dir;
  const fs::path data = dir.path / "data";
  Daemon d(data, {}, {{"NORDIQ_API_KEY", kKey}});
  std::mutex acked_mutex;
  std::vector<TestRecord> acked;
  std::mt19937 rng(20261204);
  const EpochMs t0 = steps_ago(2000);
  std::atomic<int> next_batch{0};
  for (int trial = 0; trial < trials; ++trial) {
    d.start();
    std::atomic<bool> killed{false};
    std::vector<std::thread> posters;
    for (int p = 0; p < 3; ++p)
      posters.emplace_back([&, p] {
        auto client = d.client(kKey);
        while (!killed) {
          const int batch = next_batch++;
          std::vector<TestRecord> records;
          for (int s = 0; s < 20; ++s)
            records.push_back(make_record(fmt::format("kill{:02}", p * 20 + s), t0 + batch * 1'000, batch * 20 + s));
          auto res = client.Post("/feed/data", feed_body(records), "application/json");
          if (!res || res->status != 200) continue;  // killed mid-request: not acknowledged
          std::lock_guard lock(acked_mutex);
          acked.insert(acked.end(), records.begin(), records.end());
        }
      });
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(100, 700)(rng)));
    EXPECT_EQ(d.stop(SIGKILL), 128 + SIGKILL);
    killed = true;
    for (auto& t : posters) t.join();
  }
  ASSERT_GT(acked.size(), 0u);
  auto db = Database::open(data / FleetStore::kDatabaseFile);
  EXPECT_TRUE(db->quick_check().empty());
  db.reset();
  const auto stored = stored_records(data);
  size_t missing = 0;
  for (const auto& r : acked) missing += stored.count({r.server, r.timestamp}) == 0;
  EXPECT_EQ(missing, 0u) << "of " << acked.size() << " acknowledged records over " << trials << " kills";
  // The step history counts every stored record once: the closed steps' rows, written in the
  // transactions of the records that closed them, and the open step, summed again from its records.
  std::map<std::string, uint64_t> records_of;
  for (const auto& [key, values] : stored) ++records_of[key.first];
  StoreOptions options;
  options.data_dir = data;
  options.retention_days = 0;
  auto store = FleetStore::open(options);
  for (const auto& [server, count] : records_of) {
    const ServerId id = *store->windows().read([&](const WindowStore& w) { return w.find(server); });
    uint64_t in_steps = 0;
    for (const StepAggregate& step : store->history(id, 0, std::numeric_limits<EpochMs>::max())) in_steps += step.count;
    EXPECT_EQ(in_steps, count) << server;
  }
  std::cout << trials << " SIGKILLs under 3 posters: " << acked.size() << " acknowledged records, " << missing
            << " missing, " << stored.size() << " stored\n";
}

TEST(Durability, TheRestartAfterASigkillLogsTheWalRecovery) {
  TempDir dir;
  Daemon d(dir.path / "data", {}, {{"NORDIQ_API_KEY", kKey}});
  d.start();
  std::vector<TestRecord> records;
  const EpochMs t0 = steps_ago(20);
  for (int s = 0; s < 10; ++s) records.push_back(make_record(fmt::format("ppml{:02}", s), t0 + s * 1'000, s));
  post_ok(d, feed_body(records));
  EXPECT_EQ(d.stop(SIGKILL), 128 + SIGKILL);
  d.start();  // nothing else opened the database in between
  EXPECT_EQ(status_of(d)["records_stored"], records.size());
  EXPECT_EQ(d.stop(SIGTERM), 0);
  EXPECT_NE(d.log().find("recovered"), std::string::npos) << d.log();
}

TEST(Lifecycle, SigtermDrainsExitsZeroAndARestartRestoresTheWindows) {
  TempDir dir;
  const fs::path data = dir.path / "data";
  Daemon d(data, {"--log-format", "json"}, {{"NORDIQ_API_KEY", kKey}});
  d.start();
  const EpochMs t0 = steps_ago(30);
  std::vector<TestRecord> records;
  for (int step = 0; step < 14; ++step)
    for (int s = 0; s < 3; ++s) records.push_back(make_record(fmt::format("oracle{}", s), t0 + step * 300'000, step + s));
  const json r = post_ok(d, feed_body(records));
  EXPECT_EQ(r["accepted"], records.size());
  EXPECT_EQ(r["servers_ready"], 3);  // 13 closed steps each
  EXPECT_EQ(r["warmup_complete"], true);
  EXPECT_EQ(d.stop(SIGTERM), 0);
  const std::string log = d.log();
  EXPECT_NE(log.find("stopped cleanly"), std::string::npos) << log;
  // --log-format json: every line is one JSON object.
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    const json entry = json::parse(line, nullptr, false);
    ASSERT_FALSE(entry.is_discarded()) << line;
    EXPECT_TRUE(entry.contains("level") && entry.contains("message") && entry.contains("time")) << line;
  }

  d.start();
  const json status = status_of(d);
  EXPECT_EQ(status["records_stored"], records.size());
  EXPECT_EQ(status["servers_tracked"], 3);
  EXPECT_EQ(status["servers_ready"], 3);
  // The open step came back too: the next step closes it and the fleet keeps going.
  std::vector<TestRecord> next;
  for (int s = 0; s < 3; ++s) next.push_back(make_record(fmt::format("oracle{}", s), t0 + 14 * 300'000, 99));
  EXPECT_EQ(post_ok(d, feed_body(next))["accepted"], 3);
  EXPECT_EQ(d.stop(SIGINT), 0);
}

TEST(Lifecycle, ABadLogLevelIsAClearStartupError) {
  TempDir dir;
  Daemon d(dir.path / "data", {}, {{"NORDIQ_API_KEY", kKey}, {"NORDIQ_LOG_LEVEL", "LOUD"}});
  EXPECT_NE(d.run_to_exit(), 0);
  const std::string log = d.log();
  EXPECT_NE(log.find("NORDIQ_LOG_LEVEL"), std::string::npos) << log;
  EXPECT_NE(log.find("LOUD"), std::string::npos) << log;
}

TEST(Lifecycle, LogLevelsAreAcceptedCaseInsensitively) {
  TempDir dir;
  Daemon d(dir.path / "data", {}, {{"NORDIQ_API_KEY", kKey}, {"NORDIQ_LOG_LEVEL", "warning"}});
  d.start();
  EXPECT_EQ(d.stop(SIGTERM), 0);
  EXPECT_EQ(d.log().find("listening"), std::string::npos) << "INFO lines printed at WARNING";
}

TEST(Lifecycle, AForeignDataFileIsAClearStartupError) {
  TempDir dir;
  fs::create_directories(dir.path / "data");
  std::ofstream(dir.path / "data" / FleetStore::kDatabaseFile) << std::string(4096, 'z');
  Daemon d(dir.path / "data", {}, {{"NORDIQ_API_KEY", kKey}});
  EXPECT_NE(d.run_to_exit(), 0);
  const std::string log = d.log();
  EXPECT_NE(log.find("not a usable NordIQ database"), std::string::npos) << log;
  EXPECT_EQ(log.find("Sanitizer"), std::string::npos) << log;
}

TEST(Lifecycle, AnAddressInUseIsAClearStartupError) {
  TempDir dir;
  Daemon first(dir.path / "a", {}, {{"NORDIQ_API_KEY", kKey}});
  first.start();
  Daemon second(dir.path / "b", {"--port", std::to_string(first.port())}, {{"NORDIQ_API_KEY", kKey}});
  EXPECT_NE(second.run_to_exit(), 0);  // the later --port wins over the harness's
  EXPECT_NE(second.log().find("cannot listen"), std::string::npos) << second.log();
  EXPECT_EQ(first.stop(SIGTERM), 0);
}

TEST(Lifecycle, ASecondDaemonOnTheSameDataDirIsRefused) {
  TempDir dir;
  Daemon first(dir.path / "a", {}, {{"NORDIQ_API_KEY", kKey}});
  first.start();
  Daemon second(dir.path / "a", {}, {{"NORDIQ_API_KEY", kKey}});
  EXPECT_NE(second.run_to_exit(), 0);
  EXPECT_NE(second.log().find("in use by another nordiq process"), std::string::npos) << second.log();
  EXPECT_EQ(first.stop(SIGTERM), 0);  // the first daemon is untouched
}

TEST(Lifecycle, ACorruptDatabaseIsAClearStartupErrorWithARecoveryPath) {
  TempDir dir;
  {
    Daemon d(dir.path / "a", {}, {{"NORDIQ_API_KEY", kKey}});
    d.start();
    EXPECT_EQ(d.stop(SIGTERM), 0);
  }
  const fs::path db = dir.path / "a" / "nordiq.db";
  ASSERT_GE(fs::file_size(db), 4 * 4096u);
  {  // garbage over the third page (a table's B-tree root: the first pages hold the schema's tables)
    std::fstream f(db, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(2 * 4096);
    const std::string garbage(4096, '\x5a');
    f.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
  }
  Daemon corrupt(dir.path / "a", {}, {{"NORDIQ_API_KEY", kKey}});
  EXPECT_NE(corrupt.run_to_exit(), 0);
  const std::string log = corrupt.log();
  EXPECT_NE(log.find("corrupt"), std::string::npos) << log;
  EXPECT_NE(log.find("nordiq.db"), std::string::npos) << log;
  EXPECT_NE(log.find("backup"), std::string::npos) << log;
  EXPECT_NE(log.find("integrity check"), std::string::npos) << log;
}

}  // namespace
}  // namespace nordiq::e2e
