// A server's open step is not written to `steps` with every record (schema version 3): its sums
// live in memory and its records in `records`. Its row is written when a newer step closes it or
// at a clean stop; after a kill it is summed again from its records; a failed ingest leaves it as
// it was.
#include <gtest/gtest.h>
#include <unistd.h>
#include <sys/wait.h>

#include <filesystem>
#include <string>

#include "feed_batch_builder.hpp"
#include "sqlite_probe.hpp"
#include "store/fleet_store.hpp"
#include "temp_dir.hpp"

namespace nordiq {
namespace {

namespace fs = std::filesystem;
constexpr int64_t kStep = 300'000;
using test_support::exec;
using test_support::query;
using test_support::TempDir;

std::unique_ptr<FleetStore> open_store(const fs::path& dir) {
  StoreOptions o;
  o.data_dir = dir;
  return FleetStore::open(o);
}

EpochMs base_time() { return (now_ms() / kStep - 100) * kStep; }

// One record of `name` at t, every metric `v`.
void add(FeedBatch& b, std::string_view name, EpochMs t, double v, Status s = Status::healthy) {
  FeedRecord& r = test_support::add_record(b, name, t, s);
  for (int k = 0; k < kNumMetrics; ++k) r.values[k] = v;
}

size_t ingest(FleetStore& store, std::initializer_list<std::tuple<const char*, EpochMs, double, Status>> records) {
  FeedBatch b;
  for (const auto& [name, t, v, s] : records) add(b, name, t, v, s);
  return store.ingest(b).accepted;
}

// "count sum_cpu_user_pct worst_severity" of a server's step row, or "" without one.
std::string step_row(const fs::path& dir, const char* server, EpochMs step) {
  return query(dir / FleetStore::kDatabaseFile,
               "SELECT count || ' ' || sum_cpu_user_pct || ' ' || worst_severity FROM steps JOIN servers ON id = "
               "server_id WHERE name = '" + std::string(server) + "' AND step_start = " + std::to_string(step));
}

std::optional<StepAggregate> open_step(FleetStore& store, const char* server) {
  return store.windows().read([&](const WindowStore& w) { return w.open_step(*w.find(server)); });
}

constexpr Status kOk = Status::healthy;
const std::string kCriticalRank = std::to_string(status_severity(Status::critical_issue));
const std::string kHealthyRank = std::to_string(status_severity(Status::healthy));

TEST(OpenStep, HasNoRowUntilANewerStepClosesItThenItsWholeRow) {
  TempDir dir;
  auto store = open_store(dir.path);
  const EpochMs t0 = base_time();
  ASSERT_EQ(ingest(*store, {{"web01", t0, 10, kOk}, {"web01", t0 + 5'000, 20, Status::critical_issue}}), 2u);
  ASSERT_EQ(ingest(*store, {{"web01", t0 + 10'000, 30, kOk}}), 1u);
  EXPECT_EQ(step_row(dir.path, "web01", t0), "");  // committed records, no row yet
  ASSERT_EQ(ingest(*store, {{"web01", t0 + kStep, 40, kOk}}), 1u);
  EXPECT_EQ(step_row(dir.path, "web01", t0), "3 60.0 " + kCriticalRank);
  EXPECT_EQ(step_row(dir.path, "web01", t0 + kStep), "");
  // a late record goes into its closed step's row
  ASSERT_EQ(ingest(*store, {{"web01", t0 + 20'000, 6, kOk}}), 1u);
  EXPECT_EQ(step_row(dir.path, "web01", t0), "4 66.0 " + kCriticalRank);
}

TEST(OpenStep, AfterAKillItIsSummedAgainFromItsRecords) {
  TempDir dir;
  const EpochMs t0 = base_time();
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {  // a daemon killed mid-step: no destructor, no flush
    auto store = open_store(dir.path);
    for (int i = 0; i < 9; ++i) ingest(*store, {{"db01", t0 + i * kStep, double(i), kOk}});
    ingest(*store, {{"db01", t0 + 9 * kStep, 10, kOk}, {"db01", t0 + 9 * kStep + 5'000, 11, Status::critical_issue}});
    ingest(*store, {{"db01", t0 + 9 * kStep + 10'000, 12, kOk}});
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ASSERT_EQ(step_row(dir.path, "db01", t0 + 9 * kStep), "");  // only its records survived
  auto store = open_store(dir.path);
  const auto open = open_step(*store, "db01");
  ASSERT_TRUE(open);
  EXPECT_EQ(open->step_start, t0 + 9 * kStep);
  EXPECT_EQ(open->count, 3u);
  EXPECT_DOUBLE_EQ(open->mean(0), 11.0);
  EXPECT_EQ(open->worst, Status::critical_issue);
  EXPECT_EQ(store->windows().read([](const WindowStore& w) { return w.view(*w.find("db01")).length; }), 9);
  ASSERT_EQ(ingest(*store, {{"db01", t0 + 10 * kStep, 1, kOk}}), 1u);
  EXPECT_EQ(step_row(dir.path, "db01", t0 + 9 * kStep), "3 33.0 " + kCriticalRank);
}

TEST(OpenStep, AfterACleanStopItGoesOnWithoutCountingTwice) {
  TempDir dir;
  const EpochMs t0 = base_time();
  {
    auto store = open_store(dir.path);
    ingest(*store, {{"web01", t0 + 5 * kStep, 10, kOk}, {"web01", t0 + 5 * kStep + 5'000, 20, kOk}});
  }
  EXPECT_EQ(step_row(dir.path, "web01", t0 + 5 * kStep), "2 30.0 " + kHealthyRank);  // training sees it
  auto store = open_store(dir.path);
  ASSERT_EQ(ingest(*store, {{"web01", t0 + 5 * kStep + 10'000, 30, kOk}}), 1u);
  EXPECT_EQ(open_step(*store, "web01")->count, 3u);
  const ServerId id = *store->windows().read([](const WindowStore& w) { return w.find("web01"); });
  const auto history = store->history(id, t0, t0 + 10 * kStep);
  ASSERT_EQ(history.size(), 1u);  // the open step as it stands, not the stale row beside it
  EXPECT_EQ(history[0].count, 3u);
  ASSERT_EQ(ingest(*store, {{"web01", t0 + 6 * kStep, 40, kOk}}), 1u);
  EXPECT_EQ(step_row(dir.path, "web01", t0 + 5 * kStep), "3 60.0 " + kHealthyRank);
}

TEST(OpenStep, AFailedIngestLeavesEveryOpenStepAsItWas) {
  TempDir dir;
  const EpochMs t0 = base_time();
  auto store = open_store(dir.path);
  ASSERT_EQ(ingest(*store, {{"web01", t0, 10, kOk}, {"web01", t0 + 5'000, 20, kOk}, {"db01", t0, 5, kOk}}), 3u);
  // Another program makes db01's next record fail, after web01's has closed web01's step.
  const fs::path db = dir.path / FleetStore::kDatabaseFile;
  exec(db, "CREATE TRIGGER refuse AFTER INSERT ON records WHEN NEW.server_id = 1 AND NEW.ts >= " +
               std::to_string(t0 + kStep) + " BEGIN SELECT RAISE(ABORT, 'refused'); END;");
  FeedBatch failing;
  add(failing, "web01", t0 + kStep, 30);
  add(failing, "db01", t0 + kStep, 6);
  EXPECT_THROW(store->ingest(failing), StoreError);
  EXPECT_EQ(step_row(dir.path, "web01", t0), "");
  exec(db, "DROP TRIGGER refuse;");
  FeedBatch retried;
  add(retried, "web01", t0 + kStep, 30);
  add(retried, "db01", t0 + kStep, 6);
  ASSERT_EQ(store->ingest(retried).accepted, 2u);
  EXPECT_EQ(step_row(dir.path, "web01", t0), "2 30.0 " + kHealthyRank);
  EXPECT_EQ(step_row(dir.path, "db01", t0), "1 5.0 " + kHealthyRank);
  EXPECT_EQ(open_step(*store, "web01")->count, 1u);
}

}  // namespace
}  // namespace nordiq
