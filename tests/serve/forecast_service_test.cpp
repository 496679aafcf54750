// The forecast cycle (serve/forecast_service): what it holds the store's lock for.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <future>

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
  StoreOptions options;
  options.data_dir = dir.path;
  auto store = FleetStore::open(options);
  const EpochMs t0 = base_time();
  constexpr int kClosedSteps = 20;
  for (int i = 0; i <= kClosedSteps; ++i) ingest_one(*store, "web01", t0 + i * kStep, 10.0 + i);
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

}  // namespace
}  // namespace nordiq::serve
