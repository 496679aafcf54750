#include <gtest/gtest.h>

#include <filesystem>
#include <unistd.h>

#include "risk/alert_store.hpp"

using namespace nordiq;
using namespace nordiq::risk;

namespace {

class TempDir {
 public:
  TempDir() {
    path_ = std::filesystem::temp_directory_path() /
            ("nordiq-alert-store-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::filesystem::path db() const { return path_ / "nordiq.db"; }

 private:
  std::filesystem::path path_;
};

AlertEvent event(AlertEventKind kind, const char* server, Signal s, Level level, EpochMs at, Level previous = Level::healthy) {
  AlertEvent e;
  e.kind = kind;
  e.at = at;
  e.previous_level = previous;
  e.state.server_name = server;
  e.state.alert.signal = s;
  e.state.alert.level = level;
  e.state.alert.threshold = 95;
  e.state.alert.current = 97;
  e.state.alert.eta_p90 = 0;
  e.state.alert.eta_p50 = 0;
  e.state.alert.eta_p10 = kNoCrossing;
  e.state.alert.horizon_minutes = 480;
  e.state.opened_at = 1000;
  e.state.updated_at = at;
  return e;
}

}  // namespace

TEST(AlertStore, OpenAlertsSurviveReopeningAndResolvedOnesDoNot) {
  TempDir dir;
  {
    auto db = Database::open(dir.db());
    AlertStore store(*db);
    AlertEvent events[] = {event(AlertEventKind::opened, "web1", Signal::memory, Level::warning, 1000),
                           event(AlertEventKind::opened, "db1", Signal::disk, Level::degraded, 1000),
                           event(AlertEventKind::escalated, "web1", Signal::memory, Level::critical, 2000, Level::warning)};
    AlertEvent& why = events[2];  // the state the restored alert must keep
    why.state.alert.probability = 0.75f;
    why.state.alert.window_minutes = 120;
    why.state.alert.likely = true;
    why.state.alert.climb = true;
    store.record_cycle(events, nullptr, {});
    const AlertEvent resolved[] = {event(AlertEventKind::resolved, "db1", Signal::disk, Level::degraded, 3000)};
    store.record_cycle(resolved, nullptr, {});
  }
  auto db = Database::open(dir.db());
  AlertStore store(*db);
  const auto open = store.load_open();
  ASSERT_EQ(open.size(), 1u);
  EXPECT_EQ(open[0].server_name, "web1");
  EXPECT_EQ(open[0].alert.signal, Signal::memory);
  EXPECT_EQ(open[0].alert.level, Level::critical);
  EXPECT_EQ(open[0].alert.eta_p10, kNoCrossing);
  EXPECT_EQ(open[0].opened_at, 1000);
  EXPECT_FLOAT_EQ(open[0].alert.probability, 0.75f);  // why it is open, as before the restart
  EXPECT_EQ(open[0].alert.window_minutes, 120);
  EXPECT_TRUE(open[0].alert.likely);
  EXPECT_TRUE(open[0].alert.climb);

  const auto all = store.events(0, 10'000);
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[0].event, "resolved");  // newest first
  EXPECT_EQ(all[1].event, "escalated");
  EXPECT_EQ(all[1].previous_level, "warning");
  EXPECT_EQ(all[1].metric, "mem_used_pct");
  EXPECT_EQ(all[1].message, "memory at 97% (threshold 95%) now");
  EXPECT_EQ(store.events(0, 10'000, "db1").size(), 2u);
  EXPECT_EQ(store.events(1500, 10'000).size(), 2u);
}

TEST(AlertStore, AnOpenAlertStoredByTheFirstSchemaIsKeptWhenTheSchemaGainsWhyItIsOpen) {
  TempDir dir;
  {
    auto db = Database::open(dir.db());
    AlertStore store(*db);
    const AlertEvent opened[] = {event(AlertEventKind::opened, "web1", Signal::memory, Level::warning, 1000)};
    store.record_cycle(opened, nullptr, {});
  }
  {
    // Back to what version 1 wrote: no probability, window, likely or climb columns.
    auto db = Database::open(dir.db());
    db->exec("ALTER TABLE alerts_open DROP COLUMN probability; ALTER TABLE alerts_open DROP COLUMN window_minutes;"
             "ALTER TABLE alerts_open DROP COLUMN likely; ALTER TABLE alerts_open DROP COLUMN climb;"
             "UPDATE schema_versions SET version = 1 WHERE component = 'alerts';");
    ASSERT_EQ(db->schema_version(AlertStore::kComponent), 1);
  }
  auto db = Database::open(dir.db());
  AlertStore store(*db);
  EXPECT_EQ(db->schema_version(AlertStore::kComponent), 2);
  const auto open = store.load_open();
  ASSERT_EQ(open.size(), 1u);
  EXPECT_EQ(open[0].server_name, "web1");
  EXPECT_EQ(open[0].alert.level, Level::warning);
  EXPECT_FALSE(open[0].alert.climb);
}

TEST(AlertStore, OneFleetSnapshotPerStepAndRiskRowsPerServer) {
  TempDir dir;
  auto db = Database::open(dir.db());
  AlertStore store(*db);
  FleetSnapshotRow snap;
  snap.step = 300'000;
  snap.at = 301'000;
  snap.summary.total_servers = 2;
  snap.summary.per_level[static_cast<int>(Level::critical)] = 1;
  snap.summary.fleet_health = 60;
  const ServerRiskRow risks[] = {{"web1", 300'000, 80, Level::critical, Signal::memory, forecast::ModelKind::baseline}};
  store.record_cycle({}, &snap, risks);
  snap.at = 302'000;  // the same step again (a second cycle within the step): replaced
  snap.summary.fleet_health = 55;
  store.record_cycle({}, &snap, risks);
  snap.step = 600'000;
  store.record_cycle({}, &snap, {});
  const auto rows = store.snapshots(0, 1'000'000);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].step, 300'000);
  EXPECT_EQ(rows[0].summary.fleet_health, 55);
  EXPECT_EQ(rows[0].summary.per_level[static_cast<int>(Level::critical)], 1);
  EXPECT_EQ(store.latest_snapshot()->step, 600'000);
  const auto r = store.server_risk("web1", 0, 1'000'000);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].level, "critical");
  EXPECT_EQ(r[0].driver, "memory");
  store.prune(400'000);
  EXPECT_EQ(store.snapshots(0, 1'000'000).size(), 1u);
  EXPECT_TRUE(store.server_risk("web1", 0, 1'000'000).empty());
}
