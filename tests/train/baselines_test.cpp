// The three baselines on series whose right answer is known.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "synthetic.hpp"
#include "train/baselines.hpp"
#include "train/evaluator.hpp"

namespace nordiq::train {
namespace {

using forecast::kNumQuantiles;
using forecast::kP10;
using forecast::kP50;
using forecast::kP90;

constexpr int H = kHorizonSteps;
constexpr size_t kStride = static_cast<size_t>(kNumMetrics) * kNumQuantiles * H;

float at(const std::vector<float>& v, int k, int q, int t) {
  return v[(static_cast<size_t>(k) * kNumQuantiles + q) * H + t];
}

std::vector<float> run(Baseline b, const History& h, int index, int context = 576) {
  const ServerSeries& s = h.servers[0];
  const int len = std::min(index, context);
  const WindowView w = s.view(s.segments[0], index - len, len, h.step_ms);
  std::vector<float> out(kStride);
  NaiveForecaster(b).forecast_one(w, out.data());
  return out;
}

float ramp(int, int i) { return 10.f + 0.05f * i; }

TEST(Baselines, LinearTrendContinuesARampExactly) {
  const History h = test::make_history(700, ramp);
  const auto f = run(Baseline::linear_trend, h, 500);
  for (int t = 0; t < H; t += 5)
    for (int q = 0; q < kNumQuantiles; ++q)
      EXPECT_NEAR(at(f, 0, q, t), ramp(0, 500 + t), 1e-3) << "t=" << t << " q=" << q;
}

TEST(Baselines, LastValueRepeatsTheLastStepWithBandsWideningLikeSqrtH) {
  // Alternating 0 / 2 (cpu_sys_pct): one-step changes ±2, std 2.
  const History h = test::make_history(400, [](int, int i) { return (i % 2) ? 2.f : 0.f; });
  const auto f = run(Baseline::last_value, h, 301);  // last step 300 → 0
  for (int t : {0, 3, 95}) {
    EXPECT_FLOAT_EQ(at(f, 1, kP50, t), 0.f);
    EXPECT_NEAR(at(f, 1, kP90, t), 1.2815516f * 2 * std::sqrt(t + 1.f), 1e-3);
    EXPECT_FLOAT_EQ(at(f, 1, kP10, t), 0.f);  // clamped at the metric's minimum
  }
}

TEST(Baselines, SeasonalNaiveRepeatsYesterdayAndIsExactOnAPeriodicSeries) {
  auto daily = [](int, int i) {
    return 50.f + 10.f * std::sin(2 * std::numbers::pi_v<float> * (i % 288) / 288.f);
  };
  const History h = test::make_history(1000, daily);
  const auto f = run(Baseline::seasonal_naive, h, 700);
  for (int t = 0; t < H; t += 7)
    for (int q = 0; q < kNumQuantiles; ++q)
      EXPECT_FLOAT_EQ(at(f, 5, q, t), daily(5, 700 + t - 288));  // residuals all 0: no band
}

TEST(Baselines, SeasonalNaiveBandsComeFromDayOverDayResiduals) {
  // x_i = i mod 288 + (day index)·4: day-over-day residuals are all 4 except none; add a
  // 2-valued wobble on odd days so the residual distribution has two values, −2 and +6.
  auto f_of = [](int, int i) {
    const int day = i / 288;
    return static_cast<float>((i % 288) * 0.1 + day * 4 + (day % 2 ? (i % 2 ? 4 : -4) : 0));
  };
  const History h = test::make_history(3 * 288, f_of);
  // Origin at 2·288 + 0: encoder = day 1 (odd, wobbled), its residuals vs day 0: 4 ± 4 → {0, 8}.
  const auto f = run(Baseline::seasonal_naive, h, 2 * 288);
  for (int t = 0; t < 10; ++t) {
    const float point = f_of(0, 2 * 288 + t - 288);
    EXPECT_FLOAT_EQ(at(f, 0, kP50, t), point);
    // Residuals: 144 zeros and 144 eights; median 4 → offsets −4 (p10) and +4 (p90).
    EXPECT_NEAR(at(f, 0, kP10, t), std::max(0.f, point - 4), 1e-4);
    EXPECT_NEAR(at(f, 0, kP90, t), point + 4, 1e-4);
  }
}

TEST(Baselines, QuantilesNeverCrossAndStayInRange) {
  // Noisy series near the bounds of a percentage.
  auto noisy = [](int k, int i) {
    const float r = static_cast<float>((i * 7919 + k * 104729) % 1000) / 1000.f;
    return k == 3 ? 97.f + 3.f * r : 3.f * r;
  };
  const History h = test::make_history(700, noisy);
  for (Baseline b : kBaselines) {
    const auto f = run(b, h, 600);
    for (int k = 0; k < kNumMetrics; ++k)
      for (int t = 0; t < H; ++t)
        for (int q = 0; q < kNumQuantiles; ++q) {
          const float v = at(f, k, q, t);
          ASSERT_TRUE(std::isfinite(v));
          ASSERT_GE(v, kMetrics[k].min) << baseline_name(b);
          ASSERT_LE(v, kMetrics[k].max) << baseline_name(b);
          if (q > 0) {
            ASSERT_LE(at(f, k, q - 1, t), v) << baseline_name(b) << " k=" << k;
          }
        }
  }
}

TEST(Baselines, EvaluatedOnARampTheirMaeIsKnown) {
  // Slope 0.05 per step: last value is off by 0.05·(t+1), mean over 96 steps 0.05·48.5;
  // seasonal naive by 0.05·288; linear trend by ~0.
  const History h = test::make_history(288 + 96 + 50, ramp);
  const auto origins = enumerate_origins(h, {});
  ASSERT_EQ(origins.size(), 51u);
  const auto models = baseline_models();
  const EvalReport r = evaluate(h, origins, models, {});
  ASSERT_EQ(r.models, (std::vector<std::string>{"last_value", "seasonal_naive", "linear_trend",
                                                "robust_profile"}));
  EXPECT_EQ(r.windows, 51);
  for (int k : {0, 5, 12}) {
    EXPECT_NEAR(r.per_metric[0][k].mae_p50, 0.05 * 48.5, 1e-3) << kMetrics[k].name;
    EXPECT_NEAR(r.per_metric[1][k].mae_p50, 0.05 * 288, 1e-3) << kMetrics[k].name;
    EXPECT_NEAR(r.per_metric[2][k].mae_p50, 0.0, 1e-3) << kMetrics[k].name;
  }
  // Per horizon band (steps first+1..end ahead): last value is off by 0.05·h at +h steps, so by
  // 0.05 × the band's mean distance; the trend is exact, so its skill against persistence is 1
  // and persistence's own skill is 0.
  ASSERT_EQ(r.per_horizon.size(), static_cast<size_t>(kNumEvalHorizons));
  const double mean_steps[kNumEvalHorizons] = {1, 4, 9.5, 30.5, 72.5};
  for (int h = 0; h < kNumEvalHorizons; ++h) {
    EXPECT_NEAR(r.per_horizon[h].per_metric[0][0].mae_p50, 0.05 * mean_steps[h], 1e-3) << kEvalHorizons[h].label;
    EXPECT_NEAR(r.per_horizon[h].per_metric[2][0].mae_p50, 0.0, 1e-3) << kEvalHorizons[h].label;
    EXPECT_NEAR(r.per_horizon[h].overall[0].skill_vs_last_value, 0.0, 1e-12);
    EXPECT_NEAR(r.per_horizon[h].per_metric[2][0].skill_vs_last_value, 1.0, 1e-3);
  }
}

}  // namespace
}  // namespace nordiq::train
