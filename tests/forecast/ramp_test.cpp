// Ramps (forecast/ramp.hpp): detected when steady, not for jumps or noise, and continued.
#include <gtest/gtest.h>

#include <random>

#include "forecast/baseline.hpp"
#include "forecast/ramp.hpp"
#include "forecast/served_forecaster.hpp"
#include "window_fixture.hpp"

namespace nordiq::forecast {
namespace {

constexpr int kDisk = static_cast<int>(Metric::disk_usage_pct);

testing::OwnedWindow disk_series(int n, const std::function<float(int)>& disk) {
  return testing::OwnedWindow::make(n, [&](int k, int i) { return k == kDisk ? disk(i) : testing::plausible(k, 0); });
}

float noise(int i) {  // deterministic ±0.6
  static std::mt19937 rng(3);
  static std::vector<float> v = [] {
    std::vector<float> out(1000);
    std::uniform_real_distribution<float> u(-0.6f, 0.6f);
    for (float& x : out) x = u(rng);
    return out;
  }();
  return v[static_cast<size_t>(i) % v.size()];
}

TEST(Ramp, ASteadyTwoHourClimbIsDetectedAndContinued) {
  const auto w = disk_series(60, [](int i) { return 40.f + 0.5f * i + noise(i); });
  const Ramps ramps = detect_ramps(w.view());
  ASSERT_TRUE(ramps[kDisk].present);
  EXPECT_NEAR(ramps[kDisk].slope, 0.5f, 0.1f);
  EXPECT_NEAR(ramps[kDisk].level, 40.f + 0.5f * 59, 1.f);
  // A forecast that stays flat at the last value is lifted to continue the climb.
  std::vector<float> values(static_cast<size_t>(kNumMetrics) * kNumQuantiles * kHorizonSteps, 69.5f);
  continue_ramps(ramps, kHorizonSteps, kDefaultStepSeconds * 1000LL, values.data());
  const float* p50 = values.data() + (static_cast<size_t>(kDisk) * kNumQuantiles + kP50) * kHorizonSteps;
  EXPECT_GT(p50[5], 69.5f + 0.5f * 5);  // +30 min
  EXPECT_GT(p50[11], p50[5]);            // still climbing at +1 h
  EXPECT_EQ(p50[60], 69.5f);             // +5 h: the ramp is no longer trusted
}

TEST(Ramp, AClimbOfAnHourIsSeenAtTheAlertScaleBeforeTheServedForecastTrustsIt) {
  // Flat at 40, then one point per step for the last hour (steps 48..59).
  const auto w = disk_series(60, [](int i) { return (i < 48 ? 40.f : 40.f + (i - 47)) + noise(i); });
  EXPECT_FALSE(detect_ramps(w.view())[kDisk].present);  // served: 90 min of climb, not yet
  const Ramp early = detect_ramps(w.view(), kAlertRampScales)[kDisk];
  ASSERT_TRUE(early.present);
  EXPECT_NEAR(early.slope, 1.f, 0.2f);
  EXPECT_NEAR(early.level, 52.f, 1.f);
  // Half an hour of climb is not enough for either.
  const auto young = disk_series(60, [](int i) { return (i < 54 ? 40.f : 40.f + (i - 53)) + noise(i); });
  EXPECT_FALSE(detect_ramps(young.view(), kAlertRampScales)[kDisk].present);
}

TEST(Ramp, AJumpToAPlateauIsNotARamp) {
  const auto w = disk_series(60, [](int i) { return (i < 40 ? 40.f : 70.f) + noise(i); });
  EXPECT_FALSE(detect_ramps(w.view())[kDisk].present);
  const auto just_jumped = disk_series(60, [](int i) { return (i < 54 ? 40.f : 70.f) + noise(i); });
  EXPECT_FALSE(detect_ramps(just_jumped.view())[kDisk].present);
}

TEST(Ramp, NoiseOrAFlatServerIsNotARamp) {
  const auto w = disk_series(60, [](int i) { return 50.f + 4 * noise(i * 7); });
  EXPECT_FALSE(detect_ramps(w.view())[kDisk].present);
  const auto flat = disk_series(60, [](int) { return 50.f; });
  EXPECT_FALSE(detect_ramps(flat.view())[kDisk].present);
}

TEST(Ramp, AFallingRampOnlyEverLowersTheForecast) {
  const auto w = disk_series(60, [](int i) { return 80.f - 0.6f * i + noise(i); });
  const Ramps ramps = detect_ramps(w.view());
  ASSERT_TRUE(ramps[kDisk].present);
  std::vector<float> values(static_cast<size_t>(kNumMetrics) * kNumQuantiles * kHorizonSteps, 10.f);
  continue_ramps(ramps, kHorizonSteps, kDefaultStepSeconds * 1000LL, values.data());  // already below the ramp: unchanged
  for (float v : values) EXPECT_EQ(v, 10.f);
}

// A model that ignores the present: the day's mean, ±5 (what the first shipped model did).
class DailyMeanForecaster final : public Forecaster {
 public:
  std::string_view description() const override { return "daily mean"; }
  void prepare(std::span<const WindowView> windows, ForecastBatch& out) override {
    out.resize(static_cast<int>(windows.size()));
    for (int b = 0; b < out.batch; ++b)
      for (int k = 0; k < kNumMetrics; ++k)
        for (int q = 0; q < kNumQuantiles; ++q)
          std::fill_n(out.path(b, k, q), out.horizon, 50.f + static_cast<float>(kNormalZ[q]) * 4.f);
  }
  void run(ForecastBatch&) override {}
};

// Issue #10's behaviour test on the serving path: a steady 2 h ramp → the +30 min p50 continues
// it, even over a model that would pull it back.
TEST(Ramp, TheServedForecastContinuesASteadyRamp) {
  const auto w = disk_series(120, [](int i) { return i < 96 ? 50.f + noise(i) : 50.f + 0.8f * (i - 96) + noise(i); });
  ServedForecaster served(std::make_unique<DailyMeanForecaster>(), kDefaultStepSeconds * 1000LL);
  ForecastBatch out;
  const WindowView v = w.view();
  // 24 steps of ramp, after 96 flat ones: the last value is ~69 and rising 0.8 per step.
  served.forecast(std::span(&v, 1), out);
  const float last = w.columns[kDisk].back();
  EXPECT_GT(out.path(0, kDisk, kP50)[5], last + 0.8f * 4);
}

}  // namespace
}  // namespace nordiq::forecast
