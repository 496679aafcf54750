// The store's read-only step-history reader (training and evaluation read a data dir through
// it): closed steps in the key's order while a daemon's store keeps writing, one snapshot for
// all its queries, and clear errors for a dir that holds no store.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "feed_batch_builder.hpp"
#include "sqlite_probe.hpp"
#include "store/fleet_store.hpp"
#include "store/step_history_reader.hpp"
#include "temp_dir.hpp"

namespace nordiq {
namespace {

constexpr int64_t kStep = 300'000;
using test_support::TempDir;

void post(FleetStore& store, std::initializer_list<std::pair<const char*, EpochMs>> records, double v) {
  FeedBatch b;
  for (const auto& [name, t] : records) {
    FeedRecord& r = test_support::add_record(b, name, t);
    for (int k = 0; k < kNumMetrics; ++k) r.values[k] = v;
  }
  ASSERT_EQ(store.ingest(b).accepted, records.size());
}

std::vector<std::string> rows_of(StepHistoryReader& reader, EpochMs since, EpochMs t0) {
  std::vector<std::string> out;
  reader.steps_since(since, [&](const StepHistoryRow& r) {
    out.push_back(std::string(r.server) + "@" + std::to_string((r.step_start - t0) / kStep) + "=" +
                  std::to_string(int(r.means[0])));
  });
  return out;
}

TEST(StepHistoryReader, ReadsTheClosedStepsInTimeOrderWhileTheStoreWrites) {
  TempDir dir;
  StoreOptions options;
  options.data_dir = dir.path;
  auto store = FleetStore::open(options);
  const EpochMs t0 = (now_ms() / kStep - 100) * kStep;
  post(*store, {{"web01", t0}, {"db01", t0 + 1'000}}, 10);
  post(*store, {{"web01", t0 + kStep}, {"db01", t0 + kStep + 1'000}}, 20);
  post(*store, {{"db01", t0 + 2 * kStep}, {"web01", t0 + 2 * kStep}}, 30);  // steps 2 stay open
  StepHistoryReader reader(dir.path);
  std::vector<std::string> servers;
  reader.servers_since(t0, [&](std::string_view name, std::string_view) { servers.emplace_back(name); });
  EXPECT_EQ(servers, (std::vector<std::string>{"web01", "db01"}));  // the order they joined
  EXPECT_EQ(rows_of(reader, t0, t0), (std::vector<std::string>{"web01@0=10", "db01@0=10", "web01@1=20", "db01@1=20"}));
  EXPECT_EQ(rows_of(reader, t0 + kStep, t0), (std::vector<std::string>{"web01@1=20", "db01@1=20"}));
  EXPECT_EQ(reader.newest_step(), t0 + kStep);
  // One snapshot: a step closed after the reader opened is not in it; a new reader sees it.
  post(*store, {{"web01", t0 + 3 * kStep}}, 40);
  EXPECT_EQ(reader.newest_step(), t0 + kStep);
  EXPECT_EQ(StepHistoryReader(dir.path).newest_step(), t0 + 2 * kStep);
}

TEST(StepHistoryReader, ADirWithoutAStoreOrAForeignFileIsAClearError) {
  TempDir dir;
  try {
    StepHistoryReader reader(dir.path);
    FAIL() << "no error";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("not a NordIQ data dir (no nordiq.db in it)"), std::string::npos) << e.what();
  }
  test_support::exec(dir.path / FleetStore::kDatabaseFile, "CREATE TABLE t (x INTEGER);");
  try {
    StepHistoryReader reader(dir.path);
    reader.newest_step();
    FAIL() << "no error";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("not a NordIQ store with step history"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace nordiq
