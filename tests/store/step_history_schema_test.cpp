// The steps table has no per-server index (schema version 2): each server's newest step is kept in
// `servers.last_step`, restore reads the union of the servers' recent spans in one scan by time,
// and a store written by version 1 (with the index) is migrated to it with nothing lost.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "store/fleet_store.hpp"
#include "feed_batch_builder.hpp"
#include "sqlite_probe.hpp"
#include "temp_dir.hpp"

namespace nordiq {
namespace {

namespace fs = std::filesystem;
constexpr int64_t kStep = 300'000;
using test_support::exec;
using test_support::query;
using test_support::TempDir;

FeedBatch batch_of(const std::vector<std::pair<std::string, EpochMs>>& records, double value) {
  FeedBatch batch;
  for (const auto& [name, t] : records) {
    FeedRecord& r = test_support::add_record(batch, name, t);
    for (int k = 0; k < kNumMetrics; ++k) r.values[k] = value + k;
  }
  return batch;
}

StoreOptions options_for(const fs::path& dir) {
  StoreOptions o;
  o.data_dir = dir;
  return o;
}

// The window and open step of every server, as values: what a restart must give back.
struct ServerState {
  int length = 0;
  EpochMs first_step = 0;
  std::vector<float> cpu;
  EpochMs open_step = 0;
  uint32_t open_count = 0;
  bool operator==(const ServerState&) const = default;
};

std::vector<ServerState> states(FleetStore& store) {
  return store.windows().read([](const WindowStore& w) {
    std::vector<ServerState> out;
    for (ServerId id = 0; id < w.server_count(); ++id) {
      const WindowView v = w.view(id);
      ServerState s{v.length, v.first_step, {}, 0, 0};
      for (int i = 0; i < v.length; ++i) s.cpu.push_back(v.metric[0][i]);
      if (const auto open = w.open_step(id)) {
        s.open_step = open->step_start;
        s.open_count = open->count;
      }
      out.push_back(std::move(s));
    }
    return out;
  });
}

// Two fleets' worth of history: `busy` servers reporting for 400 steps (more than a window), and
// one that went silent after 30 steps, 370 steps (> a window's span) before the others' last.
std::vector<ServerState> fill(const fs::path& dir, EpochMs t0) {
  auto store = FleetStore::open(options_for(dir));
  for (int i = 0; i < 400; ++i) {
    std::vector<std::pair<std::string, EpochMs>> records = {{"web01", t0 + i * kStep}, {"ppdb001", t0 + i * kStep + 1'000}};
    if (i < 30) records.emplace_back("quiet01", t0 + i * kStep + 2'000);
    if (i % 7 != 3) records.emplace_back("web02", t0 + i * kStep + 3'000);  // gaps, forward-filled
    FeedBatch b = batch_of(records, i % 17);
    EXPECT_EQ(store->ingest(b).accepted, records.size());
  }
  return states(*store);
}

TEST(StepHistorySchema, RestartRestoresEveryServerFromItsOwnNewestStepWithoutAPerServerIndex) {
  TempDir dir;
  const EpochMs t0 = (now_ms() / kStep - 500) * kStep;
  const std::vector<ServerState> before = fill(dir.path, t0);
  ASSERT_EQ(before.size(), 4u);
  EXPECT_EQ(before[2].length, 29);  // quiet01: 29 closed steps, the 30th open, long before the others' last
  EXPECT_EQ(before[0].length, 288);
  const fs::path db = dir.path / FleetStore::kDatabaseFile;
  EXPECT_EQ(query(db, "SELECT count(*) FROM sqlite_master WHERE name = 'steps_by_server'"), "0");
  EXPECT_EQ(query(db, "SELECT last_step FROM servers WHERE name = 'quiet01'"), std::to_string(t0 + 29 * kStep));
  EXPECT_EQ(query(db, "SELECT last_step FROM servers WHERE name = 'web01'"), std::to_string(t0 + 399 * kStep));
  auto store = FleetStore::open(options_for(dir.path));
  EXPECT_EQ(states(*store), before);
}

TEST(StepHistorySchema, AVersionOneStoreIsMigratedWithItsLastStepsAndRestoresTheSame) {
  TempDir dir;
  const EpochMs t0 = (now_ms() / kStep - 500) * kStep;
  const std::vector<ServerState> before = fill(dir.path, t0);
  // Back to what version 1 wrote: no last_step column, the per-server index.
  const fs::path db = dir.path / FleetStore::kDatabaseFile;
  exec(db,
       "ALTER TABLE servers DROP COLUMN last_step;"
       "CREATE INDEX steps_by_server ON steps (server_id, step_start);"
       "UPDATE schema_versions SET version = 1 WHERE component = 'history';");
  ASSERT_EQ(query(db, "SELECT version FROM schema_versions WHERE component = 'history'"), "1");
  auto store = FleetStore::open(options_for(dir.path));
  EXPECT_EQ(states(*store), before);
  EXPECT_EQ(query(db, "SELECT version FROM schema_versions WHERE component = 'history'"), "3");
  EXPECT_EQ(query(db, "SELECT count(*) FROM sqlite_master WHERE name = 'steps_by_server'"), "0");
  EXPECT_EQ(query(db, "SELECT last_step FROM servers WHERE name = 'quiet01'"), std::to_string(t0 + 29 * kStep));
  // and it goes on from there: a new step raises the server's last step
  FeedBatch next = batch_of({{"quiet01", t0 + 450 * kStep}}, 1);
  EXPECT_EQ(store->ingest(next).accepted, 1u);
  EXPECT_EQ(query(db, "SELECT last_step FROM servers WHERE name = 'quiet01'"), std::to_string(t0 + 450 * kStep));
}

TEST(StepHistorySchema, ALateRecordDoesNotLowerAServersLastStep) {
  TempDir dir;
  const EpochMs t0 = (now_ms() / kStep - 50) * kStep;
  auto store = FleetStore::open(options_for(dir.path));
  FeedBatch now = batch_of({{"web01", t0 + 10 * kStep}}, 1);
  FeedBatch late = batch_of({{"web01", t0 + 2 * kStep}}, 2);
  ASSERT_EQ(store->ingest(now).accepted, 1u);
  ASSERT_EQ(store->ingest(late).accepted, 1u);
  EXPECT_EQ(query(dir.path / FleetStore::kDatabaseFile, "SELECT last_step FROM servers WHERE name = 'web01'"),
            std::to_string(t0 + 10 * kStep));
}

}  // namespace
}  // namespace nordiq
