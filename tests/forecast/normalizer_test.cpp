#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "forecast/normalizer.hpp"
#include "window_fixture.hpp"

using namespace nordiq;
using namespace nordiq::forecast;
using nordiq::testing::OwnedWindow;

TEST(Normalizer, TransformIsIdentityForPercentagesAndUptimeAndLog1pForCountsAndRates) {
  for (int k = 0; k < kNumMetrics; ++k) {
    const bool log = kMetrics[k].name.find("_pct") == std::string_view::npos &&
                     kMetrics[k].name != "uptime_days";
    EXPECT_FLOAT_EQ(transform(k, 3.f), log ? std::log1p(3.f) : 3.f) << kMetrics[k].name;
    EXPECT_NEAR(inverse_transform(k, transform(k, 3.f)), 3.f, 1e-5) << kMetrics[k].name;
  }
}

TEST(Normalizer, CenterIsThePresentLevelAndScaleIsThePopulationStdOfTheWindow) {
  // Values 10, 20, 30, 40 on every metric, over steps 2..5 of a longer window: fewer than 12
  // steps, all on one line, so the centre is the line's last value, 40.
  auto w = OwnedWindow::make(8, [](int, int i) { return i >= 2 && i < 6 ? 10.f * (i - 1) : 999.f; });
  const Normalization n = compute_normalization(w.view(), 2, 4);
  for (int k = 0; k < kNumMetrics; ++k) {
    double mean = 0, sq = 0;
    for (int v = 10; v <= 40; v += 10) mean += transform(k, static_cast<float>(v)) / 4.0;
    for (int v = 10; v <= 40; v += 10) sq += std::pow(transform(k, static_cast<float>(v)) - mean, 2) / 4.0;
    // log1p bends the line: its Theil–Sen fit overshoots the last point a little.
    EXPECT_NEAR(n.center[k], transform(k, 40.f), kMetrics[k].transform == MetricTransform::log1p ? 0.1 : 1e-4)
        << kMetrics[k].name;
    EXPECT_NEAR(n.scale[k], std::max<double>(std::sqrt(sq), kScaleFloor[k]), 1e-5) << kMetrics[k].name;
  }
}

TEST(Normalizer, CenterFollowsThePresentAndIgnoresABurst) {
  // 276 steps at 30 then 12 steps at 80 with one spike to 100: the window's mean would be ~32,
  // the centre is the last hour's median, 80; the scale still spans the whole window.
  auto w = OwnedWindow::make(288, [](int, int i) { return i < 276 ? 30.f : (i == 280 ? 100.f : 80.f); });
  const Normalization n = compute_normalization(w.view(), 0, 288);
  EXPECT_FLOAT_EQ(n.center[5], 80.f);
  EXPECT_GT(n.scale[5], 5.f);
  EXPECT_FLOAT_EQ(n.normalize(5, 80.f), 0.f);  // "no change" is z = 0
}

TEST(Normalizer, CenterIsAtTheEndOfARampAndIgnoresTwoSpikes) {
  // A ramp 50, 51, ..., 61 over the last hour with two spikes to 100: the centre is 61, where
  // the ramp is now (a median would say 55.5, half an hour behind).
  float x[kCenterSteps];
  for (int i = 0; i < kCenterSteps; ++i) x[i] = 50.f + static_cast<float>(i);
  x[3] = 100.f;
  x[8] = 100.f;
  EXPECT_NEAR(present_level(5, x, kCenterSteps).level, 61.f, 1e-4);
  EXPECT_NEAR(present_level(5, x, kCenterSteps).slope, 1.f, 1e-5);
  EXPECT_FLOAT_EQ(present_level(5, x, 1).level, 50.f);
  EXPECT_EQ(present_level(5, x, 1).slope, 0.f);
  EXPECT_EQ(present_level(5, x, 0).level, kDefaultCenter);
}

TEST(Normalizer, ConstantZeroSeriesGetsTheFloorAndLaterValuesStayModerate) {
  auto w = OwnedWindow::make(288, [](int, int) { return 0.f; });
  const Normalization n = compute_normalization(w.view(), 0, 288);
  for (int k = 0; k < kNumMetrics; ++k) {
    EXPECT_EQ(n.center[k], 0.f);
    EXPECT_EQ(n.scale[k], kScaleFloor[k]) << kMetrics[k].name;
    EXPECT_GT(kScaleFloor[k], 0.01f);
  }
  // The predecessor turned a later non-zero value into ~1e4; with a 1-point floor 50 % is 50.
  EXPECT_FLOAT_EQ(n.normalize(5, 50.f), 50.f);
  EXPECT_LT(std::fabs(n.normalize(10, 100.f)), 50.f);  // 100 connections: log1p(100)/0.1 ≈ 46
}

TEST(Normalizer, SingleStepAndEmptyWindowsAreGuarded) {
  auto w = OwnedWindow::make(1, [](int, int) { return 7.f; });
  const Normalization one = compute_normalization(w.view(), 0, 1);
  const Normalization none = compute_normalization(w.view(0), 0, 0);
  for (int k = 0; k < kNumMetrics; ++k) {
    EXPECT_FLOAT_EQ(one.center[k], transform(k, 7.f));
    EXPECT_EQ(one.scale[k], kScaleFloor[k]);
    EXPECT_EQ(none.center[k], kDefaultCenter);
    EXPECT_EQ(none.scale[k], kScaleFloor[k]);
    EXPECT_TRUE(std::isfinite(one.scale_feature(k)));
  }
}

TEST(Normalizer, DenormalizeInvertsNormalizeInsideTheRange) {
  auto w = OwnedWindow::make(50, nordiq::testing::plausible);
  const Normalization n = compute_normalization(w.view(), 0, 50);
  for (int k = 0; k < kNumMetrics; ++k) {
    const float x = w.columns[k][17];
    EXPECT_NEAR(n.denormalize(k, n.normalize(k, x)), x, 1e-3f * std::max(1.f, x)) << kMetrics[k].name;
  }
}

TEST(Normalizer, DenormalizeClampsToTheRangeAndReplacesNonFiniteValues) {
  auto w = OwnedWindow::make(50, nordiq::testing::plausible);
  const Normalization n = compute_normalization(w.view(), 0, 50);
  EXPECT_EQ(n.denormalize(5, 1e6f), 100.f);           // memory above 100 %
  EXPECT_EQ(n.denormalize(5, -1e6f), 0.f);            // and below 0
  EXPECT_EQ(n.denormalize(8, -1e6f), 0.f);            // expm1(very negative) = −1 → 0 MB/s
  EXPECT_EQ(n.denormalize(13, 1e9f), 3650.f);         // uptime
  const float nan_mem = n.denormalize(5, std::nanf(""));
  EXPECT_FLOAT_EQ(nan_mem, n.center[5]);              // falls back to the center
  EXPECT_TRUE(std::isfinite(n.denormalize(8, INFINITY)));
  EXPECT_FLOAT_EQ(n.denormalize(8, INFINITY), std::expm1(n.center[8]));  // a log1p metric's centre, in MB/s
  EXPECT_FLOAT_EQ(n.denormalize(8, std::nanf("")), std::expm1(n.center[8]));
}

TEST(Normalizer, CenterAndScaleFeaturesFollowTheManifestRules) {
  auto w = OwnedWindow::make(50, nordiq::testing::plausible);
  const Normalization n = compute_normalization(w.view(), 0, 50);
  EXPECT_FLOAT_EQ(n.center_feature(5), n.center[5] / 100.f);
  EXPECT_FLOAT_EQ(n.center_feature(13), n.center[13] / 365.f);
  EXPECT_FLOAT_EQ(n.scale_feature(8), std::log(n.scale[8]));
}

TEST(NormalizerManifest, OwnManifestIsAcceptedAndAChangedFloorIsNamed) {
  nlohmann::json m = normalizer_manifest();
  EXPECT_EQ(check_normalizer_manifest(m), "");
  EXPECT_EQ(m["metrics"].size(), 14u);
  EXPECT_EQ(m["metrics"][8]["transform"], "log1p");
  m["metrics"][3]["scale_floor"] = 0.001;
  const std::string err = check_normalizer_manifest(m);
  EXPECT_NE(err.find("metrics[3].scale_floor"), std::string::npos) << err;
  nlohmann::json m2 = normalizer_manifest();
  m2.erase("scale_feature");
  EXPECT_NE(check_normalizer_manifest(m2).find("scale_feature"), std::string::npos);
  EXPECT_NE(check_normalizer_manifest(nlohmann::json::array()), "");
}
