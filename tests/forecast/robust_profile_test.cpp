// robust_profile on series whose right answer is known: it follows a held level, repeats the
// server's hour-of-day shape, ignores bursts, and its bands come from the window's own changes.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "forecast/normalizer.hpp"
#include "forecast/robust_profile.hpp"
#include "window_fixture.hpp"

using namespace nordiq;
using namespace nordiq::forecast;
using nordiq::testing::OwnedWindow;

namespace {

constexpr EpochMs kMidnight = 1736899200000;  // 2025-01-15T00:00:00Z
constexpr int kDay = 288;
constexpr int kCpu = 0;

ForecastBatch run(const OwnedWindow& w) {
  RobustProfileForecaster f;
  ForecastBatch out;
  f.forecast(std::vector<WindowView>{w.view()}, out);
  return out;
}

// Deterministic pseudo-random noise in [−1, 1] (a sine hash: no short period).
float noise(int i) {
  const double v = std::sin(i * 12.9898) * 43758.5453;
  return static_cast<float>(2.0 * (v - std::floor(v)) - 1.0);
}

}  // namespace

TEST(RobustProfile, RepeatsTheHourOfDayShapeOfTheLastDay) {
  // Two days of a daily sine (amplitude 20): the forecast for the next 8 h follows yesterday's
  // shape at the same hours, within the bin's width (one hour of a 24 h sine).
  auto daily = [](int, int i) {
    return 50.f + 20.f * static_cast<float>(std::sin(2 * std::numbers::pi * (i % kDay) / kDay));
  };
  const OwnedWindow w = OwnedWindow::make(2 * kDay, daily, kMidnight);
  const ForecastBatch out = run(w);
  for (int t : {0, 11, 47, 95}) {
    const float truth = daily(kCpu, 2 * kDay + t);
    EXPECT_NEAR(out.at(0, t, kCpu, kP50), truth, 3.0f) << "step " << t;
  }
}

TEST(RobustProfile, IgnoresShortBursts) {
  // Flat at 20 % with a 100 % spike every 10th step: the median level stays at 20.
  const OwnedWindow w = OwnedWindow::make(kDay, [](int, int i) { return i % 10 == 0 ? 100.f : 20.f; }, kMidnight);
  const ForecastBatch out = run(w);
  for (int t : {0, 5, 47, 95}) EXPECT_NEAR(out.at(0, t, kCpu, kP50), 20.f, 0.5f) << "step " << t;
}

TEST(RobustProfile, FlatNoisyServerDoesNotDriftAndItsBandsCoverItsNoise) {
  const OwnedWindow w = OwnedWindow::make(kDay, [](int, int i) { return 40.f + 2.f * noise(i); }, kMidnight);
  const ForecastBatch out = run(w);
  for (int t = 0; t < kHorizonSteps; ++t) {
    EXPECT_NEAR(out.at(0, t, kCpu, kP50), 40.f, 1.f) << "step " << t;  // under the noise σ ≈ 1.15
    EXPECT_LT(out.at(0, t, kCpu, kP10), out.at(0, t, kCpu, kP50));
    EXPECT_GT(out.at(0, t, kCpu, kP90), out.at(0, t, kCpu, kP50));
  }
  // Changes of uniform noise on [−2, 2] spread over ±4: p10..p90 is a few points wide.
  const float width = out.at(0, 0, kCpu, kP90) - out.at(0, 0, kCpu, kP10);
  EXPECT_GT(width, 1.5f);
  EXPECT_LT(width, 6.f);
}

TEST(RobustProfile, QuantilesNeverCrossAndStayInRange) {
  const OwnedWindow w = OwnedWindow::make(
      kDay, [](int k, int i) { return k == 3 ? 99.f - (i % 5) : 1.f + 90.f * (i % 3 == 0); }, kMidnight);
  const ForecastBatch out = run(w);
  for (int k = 0; k < kNumMetrics; ++k)
    for (int t = 0; t < kHorizonSteps; ++t) {
      for (int q = 1; q < kNumQuantiles; ++q) ASSERT_LE(out.at(0, t, k, q - 1), out.at(0, t, k, q));
      ASSERT_GE(out.at(0, t, k, kP02), kMetrics[k].min);
      ASSERT_LE(out.at(0, t, k, kP98), kMetrics[k].max);
    }
}

TEST(RobustProfile, ShortOrEmptyWindowsStillGetAForecast) {
  const OwnedWindow w = OwnedWindow::make(3, [](int, int i) { return 10.f + i; }, kMidnight);
  const ForecastBatch out = run(w);
  EXPECT_NEAR(out.at(0, 0, kCpu, kP50), 11.f, 1e-4);  // the median of 10, 11, 12
  const OwnedWindow empty = OwnedWindow::make(0, [](int, int) { return 0.f; });
  const ForecastBatch none = run(empty);
  EXPECT_EQ(none.at(0, 0, kCpu, kP50), 0.f);
}

TEST(RobustProfile, HourlyVariantHoldsTheNewLevelWithTheHourlyJobWhereTheDayProfileReverts) {
  // One day: 50 % until 20:00, then 30 % (a shift held 4 h), and every hour a job adds 40 points
  // at its 4th step. One day cannot tell the shift from the time of day: robust_profile forecasts
  // tomorrow's night back at 50; the hourly variant keeps 30 and the job, and nothing else.
  constexpr int kJobSlot = 3;
  auto value = [](int, int i) {
    const float level = i < 20 * 12 ? 50.f : 30.f;
    return level + (i % 12 == kJobSlot ? 40.f : 0.f);
  };
  const OwnedWindow w = OwnedWindow::make(kDay, value, kMidnight);
  RobustProfileScratch scratch;
  RobustFit fit;
  RobustLevel level;
  fit_robust_profile(w.view(), fit, level, scratch);
  std::vector<float> hourly(static_cast<size_t>(kNumMetrics) * kNumQuantiles * kHorizonSteps);
  std::vector<float> daily(hourly.size());
  write_robust_hourly(fit, level, kHorizonSteps, hourly.data());
  write_robust_profile(fit, level, kHorizonSteps, daily.data());
  auto p50 = [](const std::vector<float>& v, int t) { return v[(kCpu * kNumQuantiles + kP50) * kHorizonSteps + t]; };
  for (int t = 0; t < kHorizonSteps; ++t) {
    const bool job = (kDay + t) % 12 == kJobSlot;  // step t forecasts index (kDay − 1) + t + 1
    EXPECT_NEAR(p50(hourly, t), job ? 70.f : 30.f, 0.5f) << "step " << t;
  }
  EXPECT_NEAR(p50(daily, 0), 50.f, 0.5f);  // the known limit of the daily profile
}

// The three candidates' paths, value by value, against their rule written out: p50 = the base
// (level, hourly level or last value) + the shape at the step's hour and slot; every other quantile
// adds its offset, interpolated between the two anchors around the step's horizon (the first
// anchor's before it, the last's widened by √(h / 96) beyond it), clamped to the metric's range.
// A horizon of 100 steps: anchors on both sides, beyond the last, and a part block of 16 steps.
TEST(RobustProfile, EveryPathValueIsItsCandidatesRuleWrittenOut) {
  const OwnedWindow w = OwnedWindow::make(
      kDay, [](int k, int i) { return 30.f + 20.f * std::sin(i * 0.05f + k) + 8.f * noise(i * 31 + k) + (i % 12 == 3 ? 15.f : 0.f); },
      kMidnight);
  const WindowView v = w.view();
  RobustProfileScratch s;
  fit_robust_profile(v, s.fit, s.level, s);
  constexpr int kH = 100;
  std::vector<float> robust(kNumMetrics * kNumQuantiles * kH), hourly(robust.size()), last(robust.size());
  write_robust_profile(s.fit, s.level, kH, robust.data());
  write_robust_hourly(s.fit, s.level, kH, hourly.data());
  write_last_value_band(s.fit, s.level, kH, last.data());
  const auto& anchors = kRobustAnchors;
  for (int k = 0; k < kNumMetrics; ++k) {
    const RobustMetricFit& m = s.fit.metric[k];
    for (int t = 0; t < kH; ++t) {
      const EpochMs when = s.level.last_step + (t + 1) * v.step_ms;
      const int bin = static_cast<int>(when / 3'600'000 % 24), slot = s.fit.slot_of(when);
      const float p50[3] = {s.level.level[k] + m.seasonal(bin, slot),
                            s.level.hourly_level[k] + (slot >= 0 ? m.hourly_slot[slot] : 0.f), s.level.last[k]};
      const float* paths[3] = {robust.data(), hourly.data(), last.data()};
      const int h = t + 1;
      size_t up = 0;
      while (up < anchors.size() && anchors[up] < h) ++up;
      for (int q = 0; q < kNumQuantiles; ++q) {
        float offset = 0.f;
        if (q != kP50) {
          if (up == 0) offset = m.offsets[0][q];
          else if (up == anchors.size()) offset = m.offsets[up - 1][q] * std::sqrt(h / static_cast<float>(anchors.back()));
          else offset = m.offsets[up - 1][q] + (m.offsets[up][q] - m.offsets[up - 1][q]) *
                                                   static_cast<float>(h - anchors[up - 1]) / static_cast<float>(anchors[up] - anchors[up - 1]);
        }
        for (int c = 0; c < 3; ++c) {
          const float want = clamp_to_range(k, p50[c] + offset, 0.f);
          ASSERT_NEAR(paths[c][(static_cast<size_t>(k) * kNumQuantiles + q) * kH + t], want, 1e-5f * std::max(1.f, std::fabs(want)))
              << kMetrics[k].name << " candidate " << c << " q=" << q << " t=" << t;
        }
      }
    }
  }
}
