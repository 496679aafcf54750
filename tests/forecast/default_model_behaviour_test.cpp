// Behaviour of the SHIPPED model (models/default) on the serving path (TftForecaster: features →
// batched engine forward → de-normalised quantiles), on the situations an SRE checks first:
// does the forecast follow the present? Each window is a full day of plausible metrics for a
// database server, with deterministic noise, and only the behaviour under test differs.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "forecast/tft_forecaster.hpp"
#include "tft/safetensors.hpp"
#include "window_fixture.hpp"

using namespace nordiq;
using namespace nordiq::forecast;
using nordiq::testing::OwnedWindow;

namespace {

constexpr int kDay = kMaxEncoderSteps;
constexpr int kCpuUser = 0, kCpuSys = 1, kIowait = 2, kIdle = 3, kMem = 5, kDisk = 7;
constexpr int k30Min = 5;  // forecast step that ends 30 min after the last one

// Deterministic pseudo-random noise in [−1, 1].
float noise(int i, int k) {
  const double v = std::sin(i * 12.9898 + k * 78.233) * 43758.5453;
  return static_cast<float>(2.0 * (v - std::floor(v)) - 1.0);
}

// A plausible day for every metric; `override_value(k, i)` returns NaN to keep the default.
OwnedWindow day_with(const std::function<float(int, int)>& override_value) {
  OwnedWindow w = OwnedWindow::make(kDay, [&](int k, int i) {
    const float o = override_value(k, i);
    if (!std::isnan(o)) return o;
    switch (k) {
      case kCpuUser: return 25.f + 2.f * noise(i, k);
      case kCpuSys: return 10.f + noise(i, k);
      case kIowait: return 5.f + noise(i, k);
      case 4: return 8.f + noise(i, k);                   // java
      case kMem: return 60.f + noise(i, k);
      case 6: return 3.f;                                 // swap
      case kDisk: return 55.f + 0.2f * noise(i, k);
      case 8: case 9: return 30.f + 3.f * noise(i, k);    // MB/s
      case 10: case 11: return 6.f + std::round(2.f * noise(i, k));
      case 12: return 4.f + 0.3f * noise(i, k);           // load
      case 13: return 40.f + i / 288.f;                   // uptime
      default: return 0.f;
    }
  });
  for (int i = 0; i < kDay; ++i)  // CPU parts sum to 100
    w.columns[kIdle][i] = 100.f - w.columns[kCpuUser][i] - w.columns[kCpuSys][i] - w.columns[kIowait][i];
  w.profile = Profile::database;
  return w;
}

ForecastBatch forecast_with_default_model(const OwnedWindow& w) {
  const std::string path = std::string(NORDIQ_SOURCE_DIR) + "/models/default/model.safetensors";
  TftForecaster f(tft::load_model_file(path), "default", 1);
  ForecastBatch out;
  f.forecast(std::vector<WindowView>{w.view()}, out);
  EXPECT_EQ(out.model[0], ModelKind::tft);
  return out;
}

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

}  // namespace

TEST(DefaultModelBehaviour, LevelShiftHeldForTwoHoursIsForecastAtTheNewLevel) {
  // 22 h at the usual level, then 2 h with CPU at 85, memory at 88 and disk at 85.
  constexpr int kShift = kDay - 24;
  const OwnedWindow w = day_with([](int k, int i) {
    if (i < kShift) return kNaN;
    switch (k) {
      case kCpuUser: return 70.f + 2.f * noise(i, k);  // CPU used = user + sys + iowait ≈ 85
      case kMem: return 88.f + noise(i, k);
      case kDisk: return 85.f + 0.2f * noise(i, k);
      default: return kNaN;
    }
  });
  const ForecastBatch out = forecast_with_default_model(w);
  struct Case { int k; float before, after; };
  for (const Case c : {Case{kCpuUser, 25.f, 70.f}, Case{kMem, 60.f, 88.f}, Case{kDisk, 55.f, 85.f}}) {
    const float p50 = out.at(0, 0, c.k, kP50);
    EXPECT_NEAR(p50, c.after, 0.2f * (c.after - c.before)) << kMetrics[c.k].name << " at +5 min";
  }
}

TEST(DefaultModelBehaviour, SteadyTwoHourRampIsNotPulledBackToTheDailyMean) {
  // Disk climbing steadily from 56 % to 79 % over the last 2 h (1 point a step). The first
  // shipped model forecast such a disk back near its daily mean (a ramp to 89 % at 30 %). The
  // +30 min p50 must stay at the ramp's present level. (Continuing the ramp, +6 points by
  // +30 min, is not reached yet: the shipped model holds the level, see the README.)
  constexpr int kStart = kDay - 24;
  constexpr float kSlope = 1.f;  // points per step
  const OwnedWindow w = day_with([](int k, int i) {
    if (k != kDisk || i < kStart) return kNaN;
    return 55.f + kSlope * static_cast<float>(i - kStart + 1);
  });
  const float last = w.columns[kDisk][kDay - 1];
  const float rise = last - 55.f;
  const ForecastBatch out = forecast_with_default_model(w);
  EXPECT_GT(out.at(0, k30Min, kDisk, kP50), last - 0.1f * rise) << "disk at +30 min, last value " << last;
  EXPECT_GT(out.at(0, 0, kDisk, kP50), last - 0.1f * rise) << "disk at +5 min, last value " << last;
}

TEST(DefaultModelBehaviour, FlatNoisyServerDoesNotDrift) {
  const OwnedWindow w = day_with([](int, int) { return kNaN; });
  const ForecastBatch out = forecast_with_default_model(w);
  for (int t = 0; t < kHorizonSteps; ++t) {
    EXPECT_NEAR(out.at(0, t, kCpuUser, kP50), 25.f, 3.f) << "cpu_user_pct at step " << t;
    EXPECT_NEAR(out.at(0, t, kMem, kP50), 60.f, 3.f) << "mem_used_pct at step " << t;
    EXPECT_NEAR(out.at(0, t, kDisk, kP50), 55.f, 2.f) << "disk_usage_pct at step " << t;
  }
}

TEST(DefaultModelBehaviour, FlatServerFarFromItsProfilesUsualLevelIsNotPulledTowardIt) {
  // The simulator's profiles have usual CPU levels (a database's user CPU runs near 25 %), and a
  // model trained on them could learn to pull any server back there. A real server sits wherever
  // its load puts it: a flat one must be forecast flat, at its own level, for the whole 8 h.
  for (const Profile p : {Profile::generic, Profile::database, Profile::ml_compute, Profile::web_api}) {
    for (const float level : {8.f, 36.f, 60.f}) {
      OwnedWindow w = day_with([&](int k, int i) { return k == kCpuUser ? level + 2.f * noise(i, k) : kNaN; });
      for (int i = 0; i < kDay; ++i)
        w.columns[kIdle][i] = 100.f - w.columns[kCpuUser][i] - w.columns[kCpuSys][i] - w.columns[kIowait][i];
      w.profile = p;
      const ForecastBatch out = forecast_with_default_model(w);
      float worst = 0.f;
      for (int t = 0; t < kHorizonSteps; ++t) worst = std::max(worst, std::fabs(out.at(0, t, kCpuUser, kP50) - level));
      EXPECT_LE(worst, 3.f) << kProfileIds[static_cast<int>(p)] << " at " << level << " % CPU user";
    }
  }
}
