#include <gtest/gtest.h>

#include <cmath>

#include "forecast/baseline.hpp"
#include "window_fixture.hpp"

using namespace nordiq;
using namespace nordiq::forecast;
using nordiq::testing::OwnedWindow;

namespace {
ForecastBatch run(const std::vector<WindowView>& views) {
  BaselineForecaster f;
  ForecastBatch out;
  f.forecast(views, out);
  return out;
}
double damp_sum(int h) {
  double s = 0, p = 1;
  for (int i = 1; i <= h; ++i) s += (p *= kBaselineDamping);
  return s;
}
}  // namespace

TEST(Baseline, FlatSeriesForecastsItsLastValueWithBandsWideningWithSqrtHUpToTheFittedSpan) {
  const OwnedWindow w = OwnedWindow::make(30, [](int, int) { return 40.f; });
  const ForecastBatch out = run({w.view()});
  ASSERT_EQ(out.batch, 1);
  EXPECT_EQ(out.model[0], ModelKind::baseline);
  const int k = 5;  // memory
  for (int t = 0; t < 96; ++t) EXPECT_FLOAT_EQ(out.at(0, t, k, kP50), 40.f);
  const double sigma = kBaselineMinSigma[k];
  EXPECT_NEAR(out.at(0, 0, k, kP90) - 40.0, kNormalZ[kP90] * sigma, 1e-4);
  EXPECT_NEAR(out.at(0, 3, k, kP90) - 40.0, 2 * kNormalZ[kP90] * sigma, 1e-4);  // √4 = 2
  const double held = std::sqrt(static_cast<double>(kBaselineBandSteps)) * kNormalZ[kP10] * sigma;
  EXPECT_NEAR(out.at(0, kBaselineBandSteps - 1, k, kP10) - 40.0, held, 1e-3);
  EXPECT_NEAR(out.at(0, 95, k, kP10) - 40.0, held, 1e-3);  // held past the span the fit saw
}

TEST(Baseline, ExactLinearTrendIsExtrapolatedWithDamping) {
  // Only the last 24 steps are fitted: the first 10 steps are noise that must be ignored.
  const OwnedWindow w = OwnedWindow::make(34, [](int, int i) { return i < 10 ? 90.f : 10.f + 0.5f * i; });
  const ForecastBatch out = run({w.view()});
  const double last = 10 + 0.5 * 33;
  for (int h : {1, 2, 10, 96})
    EXPECT_NEAR(out.at(0, h - 1, 0, kP50), last + 0.5 * damp_sum(h), 1e-3) << h;
  // The damped trend levels off: 96 steps ahead moves far less than 96 slopes.
  EXPECT_LT(out.at(0, 95, 0, kP50) - last, 0.5 * 35);
}

TEST(Baseline, BandsComeFromTheResidualStdOfTheFit) {
  // Alternating ±3 around a flat line: residual std with n−2 dof, slope ≈ 0.
  const OwnedWindow w = OwnedWindow::make(24, [](int, int i) { return 50.f + (i % 2 ? 3.f : -3.f); });
  const ForecastBatch out = run({w.view()});
  double ybar = 50, xbar = 11.5, sxy = 0, sxx = 0;
  for (int i = 0; i < 24; ++i) {
    sxy += (i - xbar) * (w.columns[0][i] - ybar);
    sxx += (i - xbar) * (i - xbar);
  }
  const double slope = sxy / sxx;
  double ss = 0;
  for (int i = 0; i < 24; ++i) ss += std::pow(w.columns[0][i] - (ybar + slope * (i - xbar)), 2);
  const double sigma = std::sqrt(ss / 22);
  EXPECT_NEAR(out.at(0, 0, 0, kP90) - out.at(0, 0, 0, kP50), kNormalZ[kP90] * sigma, 1e-3);
  EXPECT_NEAR(out.at(0, 8, 0, kP98) - out.at(0, 8, 0, kP50), 3 * kNormalZ[6] * sigma, 1e-3);
}

TEST(Baseline, EveryValueIsInsideItsMetricsRangeAndQuantilesNeverCross) {
  // Steep ramps towards both ends of every range.
  const OwnedWindow up = OwnedWindow::make(40, [](int k, int i) { return k == 13 ? 3600.f + i : std::min(100.f, 2.5f * i); });
  const OwnedWindow down = OwnedWindow::make(40, [](int, int i) { return std::max(0.f, 100.f - 2.5f * i); });
  const OwnedWindow noisy = OwnedWindow::make(300, nordiq::testing::plausible);
  const ForecastBatch out = run({up.view(), down.view(), noisy.view()});
  ASSERT_EQ(out.batch, 3);
  for (int b = 0; b < 3; ++b)
    for (int k = 0; k < kNumMetrics; ++k)
      for (int t = 0; t < 96; ++t)
        for (int q = 0; q < kNumQuantiles; ++q) {
          const float v = out.at(b, t, k, q);
          ASSERT_TRUE(std::isfinite(v));
          ASSERT_GE(v, kMetrics[k].min) << kMetrics[k].name;
          ASSERT_LE(v, kMetrics[k].max) << kMetrics[k].name;
          if (q > 0) {
            ASSERT_LE(out.at(b, t, k, q - 1), v);
          }
        }
  EXPECT_EQ(out.at(0, 95, 5, kP50), 100.f);
  EXPECT_EQ(out.at(0, 95, 13, kP98), 3650.f);
  EXPECT_EQ(out.at(1, 95, 5, kP50), 0.f);
}

TEST(Baseline, ShortAndEmptyWindowsStillGetAForecast) {
  const OwnedWindow w = OwnedWindow::make(1, [](int, int) { return 12.f; });
  const ForecastBatch out = run({w.view(), w.view(0)});
  EXPECT_FLOAT_EQ(out.at(0, 50, 0, kP50), 12.f);  // one step: no trend
  EXPECT_GT(out.at(0, 50, 0, kP90), 12.f);
  for (int t = 0; t < 96; ++t) EXPECT_EQ(out.at(1, t, 0, kP90), 0.f);
}

TEST(Baseline, ReusedBatchIsResizedForEachCall) {
  const OwnedWindow w = OwnedWindow::make(30, nordiq::testing::plausible);
  BaselineForecaster f;
  ForecastBatch out;
  std::vector<WindowView> views(5, w.view());
  f.forecast(views, out);
  EXPECT_EQ(out.batch, 5);
  const float* before = out.values.data();
  views.resize(2);
  f.forecast(views, out);
  EXPECT_EQ(out.batch, 2);
  EXPECT_EQ(out.values.size(), 2u * kNumMetrics * kNumQuantiles * 96);
  EXPECT_EQ(out.values.data(), before);  // shrinking keeps the buffer
  EXPECT_EQ(out.path(1, 3, kP50)[10], out.path(0, 3, kP50)[10]);
}
