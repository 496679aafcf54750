// SQLite's page cache is sized to the fleet: it holds what ingest touches, and does not fill with
// the history as it grows (a long-running daemon's memory stays flat).
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "feed_batch_builder.hpp"
#include "store/fleet_store.hpp"
#include "temp_dir.hpp"

namespace nordiq {
namespace {

namespace fs = std::filesystem;
constexpr int64_t kStep = 300'000;
using test_support::TempDir;

// One record per server at time t (what a collector round looks like).
FeedBatch round_of(int servers, EpochMs t, int first_server = 0) {
  FeedBatch batch;
  for (int i = 0; i < servers; ++i) {
    FeedRecord& r = test_support::add_record(batch, "srv" + std::to_string(first_server + i), t);
    for (int k = 0; k < kNumMetrics; ++k) r.values[k] = static_cast<float>((i * 7 + k + t / kStep) % 50);
  }
  return batch;
}

StoreOptions options_for(const fs::path& dir) {
  StoreOptions o;
  o.data_dir = dir;
  o.integrity_check = false;
  return o;
}

int64_t cache_size_pragma(Database& db) {
  Statement q(db, "PRAGMA cache_size");
  EXPECT_TRUE(q.step());
  return q.column_int(0);
}

TEST(PageCache, GrowsWithTheFleetFromAFloorUpToACap) {
  EXPECT_EQ(page_cache_bytes(0), 256 << 10);
  EXPECT_LT(page_cache_bytes(20), page_cache_bytes(500));
  EXPECT_LT(page_cache_bytes(500), page_cache_bytes(10'000));
  EXPECT_GE(page_cache_bytes(10'000), 4 << 20);  // 10,000 servers missed no page at 4 MiB
  EXPECT_EQ(page_cache_bytes(1'000'000), 64 << 20);
  EXPECT_EQ(page_cache_bytes(size_t{1} << 62), 64 << 20);  // no overflow
}

TEST(PageCache, StaysWithinItsBoundWhileTheHistoryGrowsFarBeyondIt) {
  TempDir dir;
  auto store = FleetStore::open(options_for(dir.path));
  const int servers = 20;
  const EpochMs t0 = (now_ms() / kStep - 600) * kStep;
  for (int s = 0; s < 600; ++s) {
    FeedBatch batch = round_of(servers, t0 + s * kStep);
    ASSERT_EQ(store->ingest(batch).accepted, static_cast<size_t>(servers));
  }
  store->flush();  // the WAL into the file, so its size counts every page written
  const auto file_bytes = static_cast<int64_t>(fs::file_size(dir.path / FleetStore::kDatabaseFile));
  const int64_t bound = page_cache_bytes(servers);
  ASSERT_GT(file_bytes, 4 * bound);  // a cache that kept every page would be far over the bound
  // SQLite's per-page bookkeeping rides on top of the page size it is bounded by.
  EXPECT_LE(store->database().cache_stats().used_bytes, bound + bound / 8);
}

TEST(PageCache, IsResizedAsServersJoinAndWhenTheStoreReopens) {
  TempDir dir;
  const EpochMs t0 = (now_ms() / kStep - 10) * kStep;
  {
    auto store = FleetStore::open(options_for(dir.path));
    FeedBatch few = round_of(10, t0);
    store->ingest(few);
    EXPECT_EQ(cache_size_pragma(store->database()), -page_cache_bytes(10) / 1024);
    FeedBatch many = round_of(3000, t0 + kStep, 10);
    store->ingest(many);
    EXPECT_EQ(cache_size_pragma(store->database()), -page_cache_bytes(3010) / 1024);
  }
  auto reopened = FleetStore::open(options_for(dir.path));
  EXPECT_EQ(cache_size_pragma(reopened->database()), -page_cache_bytes(3010) / 1024);
}

TEST(PageCache, HoldsWhatARoundOfIngestTouches) {
  TempDir dir;
  auto store = FleetStore::open(options_for(dir.path));
  const int servers = 500;
  const EpochMs t0 = (now_ms() / kStep - 40) * kStep;
  // Collectors post every 30 s: ten rounds a step, each updating every server's open step.
  int round = 0;
  auto post_steps = [&](int steps) {
    for (int r = 0; r < steps * 10; ++r, ++round) {
      FeedBatch batch = round_of(servers, t0 + round * (kStep / 10));
      store->ingest(batch);
    }
  };
  post_steps(6);
  store->database().cache_stats(/*reset=*/true);
  post_steps(4);
  const Database::CacheStats stats = store->database().cache_stats();
  ASSERT_GT(stats.hits, 40 * servers);  // the lookups were counted
  // A page the cache does not hold is read from the file or the WAL. Allow one per round; the
  // whole history, kept in cache, would need none, and a cache far too small for the open step's
  // rows needs hundreds.
  EXPECT_LE(stats.misses, 40);
}

}  // namespace
}  // namespace nordiq
