// Reading history from a daemon data dir: the store's step history, as the daemon wrote it.
#include <gtest/gtest.h>

#include <filesystem>

#include "feed_batch_builder.hpp"
#include "store/fleet_store.hpp"
#include "synthetic.hpp"
#include "train/history.hpp"

namespace nordiq::train {
namespace {

using test::kStepMs;
using test::kT0;

void push(FeedBatch& b, std::string_view name, EpochMs t, double v, Status st) {
  FeedRecord& r = test_support::add_record(b, name, t, st);
  for (int k = 0; k < kNumMetrics; ++k) r.values[k] = kMetrics[k].integer ? std::round(v) : v;
}

TEST(HistoryStore, ReadsTheStepHistoryOfADataDir) {
  const auto dir = std::filesystem::path(::testing::TempDir()) / "eval_store_dir";
  std::filesystem::remove_all(dir);
  {
    StoreOptions opt;
    opt.data_dir = dir;
    opt.retention_days = 0;  // fixed 2025 timestamps: never prune
    auto store = FleetStore::open(opt);
    FeedBatch batch;
    for (int i = 0; i < 40; ++i) {
      if (i >= 10 && i < 15) continue;  // 5 missing steps: forward-filled on read
      push(batch, "ppdb001", kT0 + i * kStepMs, 10 + i, Status::healthy);
      // Two records in each step of ppweb001: the store averages them, worst status kept.
      push(batch, "ppweb001", kT0 + i * kStepMs, 20, Status::healthy);
      push(batch, "ppweb001", kT0 + i * kStepMs + 60'000, 30,
           i == 3 ? Status::critical_issue : Status::idle);
    }
    ASSERT_EQ(store->ingest(batch).accepted, batch.records.size());
    store->flush();
  }
  const History h = load_history(dir.string());
  ASSERT_EQ(h.servers.size(), 2u);
  const ServerSeries* db = &h.servers[0];
  const ServerSeries* web = &h.servers[1];
  if (db->name != "ppdb001") std::swap(db, web);
  EXPECT_EQ(db->name, "ppdb001");
  EXPECT_EQ(db->profile, Profile::database);
  ASSERT_EQ(db->segments.size(), 1u);
  ASSERT_EQ(db->steps(), 40);
  EXPECT_EQ(db->segments[0].first_step, kT0);
  EXPECT_FLOAT_EQ(db->metric[5][39], 49.f);
  EXPECT_EQ(db->observed[12], 0);
  EXPECT_FLOAT_EQ(db->metric[5][12], 19.f);  // forward-filled from step 9
  EXPECT_EQ(h.filled_steps, 2 * 5);
  EXPECT_FLOAT_EQ(web->metric[0][0], 25.f);
  EXPECT_EQ(web->status[3], static_cast<uint8_t>(Status::critical_issue));
  EXPECT_EQ(web->status[4], static_cast<uint8_t>(Status::healthy));  // worse than idle
  std::filesystem::remove_all(dir);
}

TEST(HistoryStore, ServersAreListedInTheStoresIdOrderWhateverWhenTheirStepsStart) {
  const auto dir = std::filesystem::path(::testing::TempDir()) / "eval_store_order";
  std::filesystem::remove_all(dir);
  {
    StoreOptions opt;
    opt.data_dir = dir;
    opt.retention_days = 0;
    auto store = FleetStore::open(opt);
    FeedBatch first;  // ppweb001 is seen first (id 0), from step 20 on
    for (int i = 20; i < 30; ++i) push(first, "ppweb001", kT0 + i * kStepMs, 20, Status::healthy);
    ASSERT_EQ(store->ingest(first).accepted, first.records.size());
    FeedBatch second;  // ppdb001 (id 1) then brings older steps, 0..29
    for (int i = 0; i < 30; ++i) push(second, "ppdb001", kT0 + i * kStepMs, 10, Status::healthy);
    ASSERT_EQ(store->ingest(second).accepted, second.records.size());
  }
  const History h = load_history(dir.string());
  ASSERT_EQ(h.servers.size(), 2u);
  EXPECT_EQ(h.servers[0].name, "ppweb001");
  EXPECT_EQ(h.servers[0].steps(), 10);
  EXPECT_EQ(h.servers[1].name, "ppdb001");
  EXPECT_EQ(h.servers[1].steps(), 30);
  std::filesystem::remove_all(dir);
}

TEST(HistoryStore, ADirectoryWithoutAStoreIsAClearError) {
  const auto dir = std::filesystem::path(::testing::TempDir()) / "eval_not_a_store";
  std::filesystem::create_directories(dir);
  try {
    load_history(dir.string());
    FAIL() << "no error";
  } catch (const HistoryError& e) {
    EXPECT_NE(std::string(e.what()).find("not a NordIQ data dir"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace nordiq::train
