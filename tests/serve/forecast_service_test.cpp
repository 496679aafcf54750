// The forecast cycle (serve/forecast_service): what it holds the store's lock for.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/shared_arena.hpp"
#include "forecast/baseline.hpp"
#include "serve/forecast_service.hpp"
#include "store/fleet_store.hpp"
#include "temp_dir.hpp"

namespace nordiq::serve {
namespace {

namespace fs = std::filesystem;
constexpr int64_t kStep = 300'000;

using test_support::TempDir;

EpochMs base_time() { return (now_ms() / kStep - 100) * kStep; }

void ingest_one(FleetStore& store, std::string_view server, EpochMs t, double value) {
  FeedBatch batch;
  FeedRecord& r = batch.append(server, t, Status::healthy, -1);
  for (int k = 0; k < kNumMetrics; ++k) r.values[k] = value;
  store.ingest(batch);
}

// A store in `dir` where web01 has `closed` closed steps from t0, and the next one open.
std::unique_ptr<FleetStore> store_with_steps(const TempDir& dir, EpochMs t0, int closed) {
  StoreOptions options;
  options.data_dir = dir.path;
  auto store = FleetStore::open(options);
  for (int i = 0; i <= closed; ++i) ingest_one(*store, "web01", t0 + i * kStep, 10.0 + i);
  return store;
}

// The baseline, which in prepare() has a collector close a step of `server` on another thread
// and waits for that POST to be stored: it can only be while prepare() runs if the cycle does
// not hold the store's lock through it.
class IngestDuringPrepare final : public forecast::Forecaster {
 public:
  IngestDuringPrepare(FleetStore& store, EpochMs next_step) : store_(store), next_step_(next_step) {}
  std::string_view description() const override { return "baseline, a POST during prepare"; }
  void prepare(std::span<const WindowView> windows, forecast::ForecastBatch& out) override {
    const int length_before = windows.empty() ? -1 : windows[0].length;
    const float last_before = windows.empty() ? 0.f : windows[0].metric[0][length_before - 1];
    post = std::async(std::launch::async, [this] {
      ingest_one(store_, "web01", next_step_ - 2 * kStep + 5'000, 70.0);  // late: re-averages the last closed step
      ingest_one(store_, "web01", next_step_, 90.0);           // closes the open step
      ingest_one(store_, "web01", next_step_ + kStep, 95.0);  // and the one it opened
    });
    // Not a timing assertion: a POST takes milliseconds; it can only miss this if it is blocked.
    stored_during_prepare = post.wait_for(std::chrono::seconds(30)) == std::future_status::ready;
    // What this cycle forecasts from did not change under it.
    view_unchanged = !windows.empty() && windows[0].length == length_before &&
                     windows[0].metric[0][length_before - 1] == last_before;
    inner_.prepare(windows, out);
  }
  void run(forecast::ForecastBatch& out) override { inner_.run(out); }

  std::future<void> post;  // waited for by the test: a blocked POST finishes after the cycle
  bool stored_during_prepare = false;
  bool view_unchanged = false;

 private:
  FleetStore& store_;
  EpochMs next_step_;
  forecast::BaselineForecaster inner_;
};

TEST(ForecastService, APostClosingAStepIsStoredWhileTheCycleComputesAndTheCycleKeepsItsWindow) {
  TempDir dir;
  const EpochMs t0 = base_time();
  constexpr int kClosedSteps = 20;
  auto store = store_with_steps(dir, t0, kClosedSteps);
  auto forecaster = std::make_unique<IngestDuringPrepare>(*store, t0 + (kClosedSteps + 1) * kStep);
  IngestDuringPrepare& probe = *forecaster;
  ForecastService service(*store, std::move(forecaster), ModelStatus{});
  service.start();  // its first cycle runs here, on this thread
  service.stop();
  probe.post.wait();

  EXPECT_TRUE(probe.stored_during_prepare) << "the POST waited for the cycle: it held the store's lock";
  EXPECT_TRUE(probe.view_unchanged) << "the window the cycle read changed under it";
  const int length = store->windows().read([](const WindowStore& w) { return w.view(*w.find("web01")).length; });
  EXPECT_EQ(length, kClosedSteps + 2);
  const auto snap = service.snapshot();
  ASSERT_EQ(snap->order.size(), 1u);
  const ServerForecast* web01 = snap->find(snap->order[0]);
  ASSERT_NE(web01, nullptr);
  EXPECT_EQ(web01->last_step, t0 + (kClosedSteps - 1) * kStep) << "forecast from the window as the cycle copied it";
}

// The response bodies are rendered from a new snapshot before it is published (api/body_cache):
// a preparer sees the new snapshot while readers still get the previous one, then readers get
// exactly the one it prepared.
TEST(ForecastService, PreparersSeeEachNewSnapshotBeforeReadersDo) {
  TempDir dir;
  const EpochMs t0 = base_time();
  auto store = store_with_steps(dir, t0, 20);
  ForecastService service(*store, std::make_unique<forecast::BaselineForecaster>(), ModelStatus{});
  std::vector<std::shared_ptr<const PredictionSnapshot>> prepared, served_meanwhile;
  service.add_publish_preparer([&](const std::shared_ptr<const PredictionSnapshot>& snap) {
    prepared.push_back(snap);
    served_meanwhile.push_back(service.snapshot());
  });
  service.start();
  ingest_one(*store, "web01", t0 + 21 * kStep, 40.0);  // closes a step: a second cycle
  service.wait_idle();
  service.stop();

  ASSERT_EQ(prepared.size(), 2u);
  for (size_t i = 0; i < prepared.size(); ++i) {
    EXPECT_NE(served_meanwhile[i], prepared[i]) << "cycle " << i << ": readers saw it before it was prepared";
    EXPECT_NE(prepared[i]->find(prepared[i]->order.at(0)), nullptr);
  }
  EXPECT_EQ(served_meanwhile[1], prepared[0]) << "meanwhile, readers kept the previous cycle's snapshot";
  EXPECT_EQ(service.snapshot(), prepared[1]) << "then they got the one prepared";
}

TEST(ForecastService, APreparerThatFailsDoesNotStopThePublish) {
  TempDir dir;
  auto store = store_with_steps(dir, base_time(), 20);
  ForecastService service(*store, std::make_unique<forecast::BaselineForecaster>(), ModelStatus{});
  service.add_publish_preparer([](const std::shared_ptr<const PredictionSnapshot>&) { throw std::runtime_error("full disk"); });
  service.start();
  service.stop();
  EXPECT_EQ(service.snapshot()->order.size(), 1u) << "the cycle's forecasts were published all the same";
}

// A store in `dir` where each server has 20 closed steps from t0 (values apart per server), and the next one open.
std::unique_ptr<FleetStore> store_with_servers(const TempDir& dir, EpochMs t0, const std::vector<std::string>& names) {
  StoreOptions options;
  options.data_dir = dir.path;
  auto store = FleetStore::open(options);
  for (int i = 0; i <= 20; ++i)
    for (size_t s = 0; s < names.size(); ++s) ingest_one(*store, names[s], t0 + i * kStep, 10.0 + i * (s + 1));
  return store;
}

// One post with a record of each of `names` at t, every metric of names[s] at value(s): it closes
// their open steps, so the service runs one more cycle.
void post_step(FleetStore& store, std::span<const std::string> names, EpochMs t, const std::function<double(size_t)>& value) {
  FeedBatch batch;
  for (size_t s = 0; s < names.size(); ++s) {
    FeedRecord& r = batch.append(names[s], t, Status::healthy, -1);
    for (int k = 0; k < kNumMetrics; ++k) r.values[k] = value(s);
  }
  store.ingest(batch);
}

// The baseline, keeping a copy of each cycle's forecast paths per server.
class RecordingForecaster final : public forecast::Forecaster {
 public:
  std::string_view description() const override { return "baseline, recorded"; }
  void prepare(std::span<const WindowView> windows, forecast::ForecastBatch& out) override {
    servers_.clear();
    for (const WindowView& w : windows) servers_.push_back(w.server);
    inner_.prepare(windows, out);
  }
  void run(forecast::ForecastBatch& out) override {
    inner_.run(out);
    auto& cycle = cycles.emplace_back();
    for (size_t b = 0; b < servers_.size(); ++b) {
      const float* row = out.values.data() + b * out.server_stride();
      cycle[servers_[b]].assign(row, row + out.server_stride());
    }
  }
  std::vector<std::map<ServerId, std::vector<float>>> cycles;

 private:
  std::vector<ServerId> servers_;
  forecast::BaselineForecaster inner_;
};

// Each server's paths in a snapshot are a slice of one block its chunk shares
// (ServerForecast::values): the right slice, and kept alive by the snapshot after later cycles
// reuse the batch.
TEST(ForecastService, EachServersPathsAreItsOwnForecastAndOutliveLaterCycles) {
  TempDir dir;
  const EpochMs t0 = base_time();
  const std::vector<std::string> names = {"web01", "db01", "app01"};
  auto store = store_with_servers(dir, t0, names);
  auto forecaster = std::make_unique<RecordingForecaster>();
  RecordingForecaster& recorded = *forecaster;
  ForecastService service(*store, std::move(forecaster), ModelStatus{});
  service.start();
  const auto first = service.snapshot();
  post_step(*store, names, t0 + 21 * kStep, [](size_t s) { return 90.0 - 20.0 * s; });
  service.wait_idle();
  service.stop();

  ASSERT_EQ(recorded.cycles.size(), 2u);
  ASSERT_EQ(first->order.size(), names.size());
  const ServerForecast* any = first->find(first->order[0]);
  for (const auto& [id, paths] : recorded.cycles[0]) {
    const ServerForecast* sf = first->find(id);
    ASSERT_NE(sf, nullptr);
    EXPECT_EQ(sf->values_block, any->values_block) << "one block for the chunk";
    ASSERT_EQ(sf->values.size(), paths.size());
    EXPECT_TRUE(std::equal(paths.begin(), paths.end(), sf->values.begin())) << "server " << sf->name;
    EXPECT_FALSE(std::equal(paths.begin(), paths.end(), recorded.cycles[1].at(id).begin()))
        << "the second cycle forecast " << sf->name << " differently, so the check above can tell them apart";
  }
  EXPECT_NE(service.snapshot()->find(first->order[0])->values_block, any->values_block) << "each cycle a new block";
}

// The cycle copies the windows under the store's lock; the room for those copies is made before
// it, for every window at its longest, so no later cycle grows it (faulting in fresh pages) while
// a POST that closes a step waits for the lock.
TEST(ForecastService, RoomForTheWindowCopiesIsMadeOnceForTheLongestWindows) {
  TempDir dir;
  const EpochMs t0 = base_time();
  const std::vector<std::string> names = {"web01", "db01", "app01"};
  auto store = store_with_servers(dir, t0, names);  // 20 closed steps each
  ForecastService service(*store, std::make_unique<RecordingForecaster>(), ModelStatus{});
  service.start();
  const size_t longest = names.size() * static_cast<size_t>(store->windows().config().capacity);
  EXPECT_EQ(service.window_copy_steps(), longest) << "sized for the windows as they are (60 steps), not at their longest";
  post_step(*store, names, t0 + 21 * kStep, [](size_t) { return 50.0; });
  service.wait_idle();
  EXPECT_EQ(service.cycles(), 2u);
  EXPECT_EQ(service.window_copy_steps(), longest);
  service.stop();
}

// A server that stops reporting keeps its last forecast in the snapshot, served as it was; it
// must not keep the whole block of its cycle chunk (~19 MB for 512 servers) alive with it.
TEST(ForecastService, AServerThatStopsReportingDoesNotKeepSharedBlocksAlive) {
  TempDir dir;
  const EpochMs t0 = base_time();
  // gone01 first: rendered first, so its arena block is not also the one its arena fills next.
  const std::vector<std::string> names = {"gone01", "web01", "db01"};
  auto store = store_with_servers(dir, t0, names);
  auto forecaster = std::make_unique<RecordingForecaster>();
  RecordingForecaster& recorded = *forecaster;
  ForecastService service(*store, std::move(forecaster), ModelStatus{});
  // Rendered JSON as the API renders it: slices of its thread's arena blocks (here one block per
  // server, blocks being smaller than a server's text, so the test can see each one go).
  service.set_renderer([](ServerForecast& sf) {
    thread_local SharedArena arena(std::make_shared<BlockPool>(64));
    const std::string text = "head of " + std::string(sf.name) + std::string(100, '.') + "series of " + std::string(sf.name);
    const std::string_view piece = arena.copy(text, sf.text_block);
    sf.head = piece.substr(0, text.find("series"));
    sf.series = piece.substr(text.find("series"));
  });
  service.start();
  auto first = service.snapshot();
  const ServerId gone = *store->windows().read([](const WindowStore& w) { return w.find("gone01"); });
  const std::weak_ptr<const float[]> first_block = first->find(gone)->values_block;
  const std::weak_ptr<const char[]> first_text_block = first->find(gone)->text_block;
  ASSERT_EQ(first->find(first->order[0])->values_block, first_block.lock()) << "the chunk shares one block";
  const std::vector<float> gone_values(first->find(gone)->values.begin(), first->find(gone)->values.end());
  const std::string gone_head(first->find(gone)->head), gone_series(first->find(gone)->series);
  ASSERT_EQ(gone_series, "series of gone01");
  first.reset();

  for (int i = 21; i <= 22; ++i) {  // two more steps of the others; gone01 is silent
    post_step(*store, std::span(names).subspan(1), t0 + i * kStep, [](size_t) { return 50.0; });
    service.wait_idle();
  }
  service.stop();

  ASSERT_EQ(recorded.cycles.size(), 3u);
  EXPECT_EQ(recorded.cycles[2].count(gone), 0u) << "gone01 was not forecast again";
  const auto last = service.snapshot();
  const ServerForecast* kept = last->find(gone);
  ASSERT_NE(kept, nullptr) << "its last forecast is still served";
  EXPECT_TRUE(std::equal(gone_values.begin(), gone_values.end(), kept->values.begin(), kept->values.end()));
  EXPECT_TRUE(first_block.expired()) << "the first cycle's block went with its other servers' forecasts";
  EXPECT_EQ(kept->head, gone_head);
  EXPECT_EQ(kept->series, gone_series);
  EXPECT_TRUE(first_text_block.expired()) << "and the rendered JSON's block too";
  EXPECT_FALSE(kept->shares_blocks);
}

}  // namespace
}  // namespace nordiq::serve
