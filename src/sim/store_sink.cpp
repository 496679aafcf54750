#include "sim/store_sink.hpp"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fmt/core.h>
#include <stdexcept>

#include "ingest/feed_batch.hpp"
#include "sim/options.hpp"
#include "store/data_dir_lock.hpp"
#include "store/fleet_store.hpp"

namespace nordiq::sim {

namespace {

// Rows go through FleetStore::ingest, the daemon's own write path: servers are interned, raw
// records and step aggregates are written in one transaction per block, and an existing
// (server, timestamp) row is kept and counted as a duplicate.
class StoreSink final : public RowSink {
 public:
  StoreSink(const std::string& data_dir, int days) {
    StoreOptions opts;
    if (!data_dir.empty()) opts.data_dir = data_dir;
    std::error_code ec;
    std::filesystem::create_directories(opts.data_dir, ec);
    // Held while writing; `nordiq serve` holds the same lock, so a live daemon is detected.
    lock_ = std::make_unique<DataDirLock>(
        opts.data_dir, "stop the daemon, or fill a live daemon with `nordiq simulate stream --speed N`");
    store_ = FleetStore::open(opts);
    if (opts.retention_days > 0 && days > opts.retention_days)
      spdlog::warn("--days {} exceeds the store's retention of {} days: the oldest days will be pruned", days,
                   opts.retention_days);
  }
  void write_block(const FleetEngine& engine, int64_t first_k, int64_t steps, const SimRecord* records, int) override {
    const auto& fleet = engine.fleet();
    const size_t n = fleet.size();
    batch_.clear();
    for (int64_t s = 0; s < steps; ++s) {
      const EpochMs t = engine.time_of(first_k + s);
      const SimRecord* row = records + s * n;
      for (int i : fleet.by_name()) {
        if (!row[i].online) continue;
        FeedRecord& r = batch_.append(fleet[i].name, t, row[i].status, static_cast<int8_t>(fleet[i].profile));
        for (int m = 0; m < kNumMetrics; ++m) r.values[m] = row[i].value(static_cast<Metric>(m));
      }
    }
    const auto outcome = store_->ingest(batch_);
    duplicates_ += outcome.duplicates;
    if (batch_.rejected > 0)
      throw std::runtime_error(fmt::format("the store rejected {} records; first: {} {}", batch_.rejected,
                                           batch_.errors.front().field, batch_.errors.front().error));
  }

  void finish() override { store_->flush(); }
  uint64_t duplicates() const override { return duplicates_; }

 private:
  std::unique_ptr<DataDirLock> lock_;  // released after store_ closes (declared first)
  std::unique_ptr<FleetStore> store_;
  FeedBatch batch_;
  uint64_t duplicates_ = 0;
};

}  // namespace

std::unique_ptr<RowSink> make_store_sink(const std::string& data_dir, int days) {
  return std::make_unique<StoreSink>(data_dir, days);
}

}  // namespace nordiq::sim
