// The durable store: idempotent inserts, restore after reopen, retention of late records,
// limits, notifications, and clear errors for foreign/corrupt/newer files.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "store/fleet_store.hpp"
#include "feed_batch_builder.hpp"
#include "temp_dir.hpp"

namespace nordiq {
namespace {

namespace fs = std::filesystem;
constexpr int64_t kStep = 300'000;

using test_support::TempDir;

// A batch as the parser would produce it (the store does not care how it was parsed).
struct BatchBuilder {
  FeedBatch batch;
  BatchBuilder& add(std::string_view name, EpochMs t, double v, Status s = Status::healthy) {
    FeedRecord& r = test_support::add_record(batch, name, t, s);
    for (int k = 0; k < kNumMetrics; ++k) r.values[k] = v + k;
    return *this;
  }
};

// Recent step-aligned start so records are inside the retention.
EpochMs base_time() { return (now_ms() / kStep - 100) * kStep; }

StoreOptions options_for(const fs::path& dir) {
  StoreOptions o;
  o.data_dir = dir;
  return o;
}

TEST(FleetStore, SameBatchTwiceIsStoredOnceAndCountedAsDuplicates) {
  TempDir dir;
  auto store = FleetStore::open(options_for(dir.path));
  const EpochMs t0 = base_time();
  BatchBuilder b;
  b.add("ppdb001", t0, 1).add("web01", t0, 2).add("ppdb001", t0 + 5'000, 3);
  auto first = store->ingest(b.batch);
  EXPECT_EQ(first.accepted, 3u);
  EXPECT_EQ(first.duplicates, 0u);
  auto second = store->ingest(b.batch);
  EXPECT_EQ(second.accepted, 0u);
  EXPECT_EQ(second.duplicates, 3u);
  EXPECT_EQ(store->records_stored(), 3u);
  EXPECT_EQ(store->windows().server_count(), 2u);
  auto open = store->windows().read([](const WindowStore& w) { return w.open_step(*w.find("ppdb001")); });
  ASSERT_TRUE(open);
  EXPECT_EQ(open->count, 2u);  // the duplicates did not reach the window either
  // Duplicates inside one batch are caught too.
  BatchBuilder c;
  c.add("new01", t0, 1).add("new01", t0, 1);
  auto third = store->ingest(c.batch);
  EXPECT_EQ(third.accepted, 1u);
  EXPECT_EQ(third.duplicates, 1u);
}

TEST(FleetStore, ReopeningRestoresWindowsOpenStepsAndCounts) {
  TempDir dir;
  const EpochMs t0 = base_time();
  std::vector<float> before;
  {
    auto store = FleetStore::open(options_for(dir.path));
    for (int i = 0; i < 20; ++i) {
      BatchBuilder b;
      b.add("ppdb001", t0 + i * kStep, i).add("ppdb001", t0 + i * kStep + 60'000, i + 1);
      if (i % 3 == 0) b.add("ml-node-1", t0 + i * kStep, 10 * i, Status::critical_issue);
      ASSERT_EQ(store->ingest(b.batch).accepted, b.batch.records.size());
    }
    EXPECT_EQ(store->windows().ready_count(), 2u);  // 19 closed steps; 16 with fills
  }
  auto store = FleetStore::open(options_for(dir.path));
  EXPECT_EQ(store->records_stored(), 40u + 7u);
  EXPECT_EQ(store->windows().server_count(), 2u);
  EXPECT_EQ(store->windows().ready_count(), 2u);
  store->windows().read([&](const WindowStore& w) {
    const ServerId db = *w.find("ppdb001");
    EXPECT_EQ(w.profile(db), Profile::database);
    const WindowView v = w.view(db);
    EXPECT_EQ(v.length, 19);
    EXPECT_EQ(v.first_step, t0);
    for (int i = 0; i < 19; ++i) EXPECT_FLOAT_EQ(v.metric[2][i], i + 0.5f + 2) << i;
    const auto open = w.open_step(db);
    EXPECT_TRUE(open && open->count == 2 && open->step_start == t0 + 19 * kStep);
    const ServerId ml = *w.find("ml-node-1");
    EXPECT_EQ(w.profile(ml), Profile::ml_compute);
    const WindowView m = w.view(ml);
    EXPECT_EQ(m.length, 16);  // steps 0..15 with fills, step 18 open
    EXPECT_EQ(m.status[0], static_cast<uint8_t>(Status::critical_issue));
    return 0;
  });
  // After the restart the same records are still duplicates.
  BatchBuilder again;
  again.add("ppdb001", t0, 0).add("ppdb001", t0 + 19 * kStep + 60'000, 20);
  EXPECT_EQ(store->ingest(again.batch).duplicates, 2u);
}

TEST(FleetStore, OlderRecordsAreStoredInTheHistoryButDoNotRewriteTheWindow) {
  TempDir dir;
  auto store = FleetStore::open(options_for(dir.path));
  const EpochMs t0 = base_time();
  for (int i = 0; i < 6; ++i) {
    BatchBuilder b;
    b.add("web01", t0 + i * kStep, 10);
    store->ingest(b.batch);
  }
  BatchBuilder late;
  late.add("web01", t0 + 2 * kStep + 1'000, 40);
  EXPECT_EQ(store->ingest(late.batch).accepted, 1u);
  const ServerId id = *store->windows().read([](const WindowStore& w) { return w.find("web01"); });
  const float in_window = store->windows().read([&](const WindowStore& w) { return w.view(id).metric[0][2]; });
  EXPECT_FLOAT_EQ(in_window, 10);
  const auto history = store->history(id, t0, t0 + 10 * kStep);
  ASSERT_EQ(history.size(), 6u);
  EXPECT_EQ(history[2].count, 2u);
  EXPECT_DOUBLE_EQ(history[2].mean(0), 25);
  EXPECT_EQ(store->records_stored(), 7u);
}

TEST(FleetStore, SubscribersHearWhichServersAreNewOrClosedAStep) {
  TempDir dir;
  auto store = FleetStore::open(options_for(dir.path));
  std::vector<std::vector<ServerId>> calls;
  store->on_steps_closed([&](std::span<const ServerId> ids) { calls.emplace_back(ids.begin(), ids.end()); });
  const EpochMs t0 = base_time();
  BatchBuilder a;
  a.add("a1", t0, 1).add("b1", t0, 1);
  store->ingest(a.batch);
  ASSERT_EQ(calls.size(), 1u);  // first contact: both are due a forecast
  EXPECT_EQ(calls[0], (std::vector<ServerId>{0, 1}));
  BatchBuilder b;
  b.add("b1", t0 + kStep, 1).add("a1", t0 + 1, 1).add("b1", t0 + kStep + 1, 1);
  store->ingest(b.batch);
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[1], (std::vector<ServerId>{1}));  // a1 only merged into its open step
}

TEST(FleetStore, RecordsOfNewServersBeyondTheLimitAreRejected) {
  TempDir dir;
  auto opts = options_for(dir.path);
  opts.max_servers = 2;
  auto store = FleetStore::open(opts);
  const EpochMs t0 = base_time();
  BatchBuilder b;
  b.add("a1", t0, 1).add("b1", t0, 1).add("c1", t0, 1).add("a1", t0 + 1, 1);
  auto out = store->ingest(b.batch);
  EXPECT_EQ(out.accepted, 3u);
  ASSERT_EQ(b.batch.errors.size(), 1u);
  EXPECT_EQ(b.batch.errors[0].index, 2u);
  EXPECT_EQ(b.batch.errors[0].field, "server_name");
  EXPECT_EQ(b.batch.rejected, 1u);
  EXPECT_EQ(store->windows().server_count(), 2u);
}

TEST(FleetStore, AFileThatIsNotADatabaseIsAClearError) {
  TempDir dir;
  std::ofstream(dir.path / FleetStore::kDatabaseFile) << "this is not sqlite, just text that is long enough "
                                                         "to look like a header of something else entirely\n";
  try {
    FleetStore::open(options_for(dir.path));
    FAIL() << "opened a text file";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("not a usable NordIQ database"), std::string::npos) << e.what();
  }
}

TEST(FleetStore, AnotherApplicationsSqliteFileIsRefused) {
  TempDir dir;
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir.path / FleetStore::kDatabaseFile).c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE invoices(id INTEGER)", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  try {
    FleetStore::open(options_for(dir.path));
    FAIL() << "opened a foreign database";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("another application"), std::string::npos) << e.what();
  }
}

TEST(FleetStore, ASchemaNewerThanTheBinaryIsRefused) {
  TempDir dir;
  { FleetStore::open(options_for(dir.path)); }
  {
    auto db = Database::open(dir.path / FleetStore::kDatabaseFile);
    db->exec("UPDATE schema_versions SET version = 99 WHERE component = 'history'");
  }
  try {
    FleetStore::open(options_for(dir.path));
    FAIL() << "opened a newer schema";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("newer"), std::string::npos) << e.what();
  }
}

TEST(Database, ComponentsMigrateIndependentlyAndOnlyOnce) {
  TempDir dir;
  const Migration v1[] = {{1, "CREATE TABLE alerts_test (id INTEGER PRIMARY KEY)"}};
  const Migration v2[] = {{1, "CREATE TABLE alerts_test (id INTEGER PRIMARY KEY)"},
                          {2, "ALTER TABLE alerts_test ADD COLUMN note TEXT"}};
  {
    auto db = Database::open(dir.path / "x.db");
    db->migrate("alerts", v1);
    EXPECT_EQ(db->schema_version("alerts"), 1);
    EXPECT_EQ(db->schema_version("fleet"), 0);
  }
  auto db = Database::open(dir.path / "x.db");
  db->migrate("alerts", v2);  // v1 is not re-run (it would fail: the table exists)
  EXPECT_EQ(db->schema_version("alerts"), 2);
  Statement insert(*db, "INSERT INTO alerts_test (id, note) VALUES (?, ?)");
  insert.bind(1, int64_t{1}).bind(2, std::string_view("ok"));
  insert.run();
  Statement q(*db, "SELECT note FROM alerts_test WHERE id = 1");
  ASSERT_TRUE(q.step());
  EXPECT_EQ(q.column_text(0), "ok");
}

TEST(FleetStore, TheStepHistoryViewHoldsAveragesAndStatusNames) {
  TempDir dir;
  const EpochMs t0 = base_time();
  {
    auto store = FleetStore::open(options_for(dir.path));
    BatchBuilder b;
    b.add("oracle7", t0, 10, Status::healthy).add("oracle7", t0 + 1, 20, Status::offline);
    store->ingest(b.batch);
  }
  auto db = Database::open(dir.path / FleetStore::kDatabaseFile);
  Statement q(*db, "SELECT server_name, profile, count, status, cpu_user_pct, mem_used_pct FROM step_history");
  ASSERT_TRUE(q.step());
  EXPECT_EQ(q.column_text(0), "oracle7");
  EXPECT_EQ(q.column_text(1), "database");
  EXPECT_EQ(q.column_int(2), 2);
  EXPECT_EQ(q.column_text(3), "offline");
  EXPECT_DOUBLE_EQ(q.column_double(4), 15);
  EXPECT_DOUBLE_EQ(q.column_double(5), 20);  // + metric index 5
  EXPECT_FALSE(q.step());
}

// Each record's status is bound in place (no copy per record): every status must still be stored
// by its name, record by record.
TEST(FleetStore, EveryRecordKeepsItsOwnStatusName) {
  TempDir dir;
  const EpochMs t0 = base_time();
  {
    auto store = FleetStore::open(options_for(dir.path));
    BatchBuilder b;
    for (int s = 0; s < kNumStatuses; ++s) b.add("web3", t0 + s, 10, static_cast<Status>(s));
    store->ingest(b.batch);
  }
  auto db = Database::open(dir.path / FleetStore::kDatabaseFile);
  Statement q(*db, "SELECT status FROM records ORDER BY ts");
  for (int s = 0; s < kNumStatuses; ++s) {
    ASSERT_TRUE(q.step()) << "record " << s;
    EXPECT_EQ(q.column_text(0), status_name(static_cast<Status>(s)));
  }
  EXPECT_FALSE(q.step());
}

}  // namespace
}  // namespace nordiq
