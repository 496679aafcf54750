// Scores: the pinball-based quantile loss, p50 MAE and p10–p90 coverage on hand-computed
// numbers, the unit-free overall, and the JSON shape of the report.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "synthetic.hpp"
#include "forecast/forecaster.hpp"
#include "train/eval_command.hpp"
#include "train/eval_metrics.hpp"

namespace nordiq::train {
namespace {

using forecast::kNumQuantiles;

TEST(EvalMetrics, QuantileLossTermIsTwiceThePinball) {
  // y = 10, ŷ = 8: e = 2 > 0 → 2·q·e.
  EXPECT_DOUBLE_EQ(quantile_loss_term(10, 8, 0.1), 0.4);
  EXPECT_DOUBLE_EQ(quantile_loss_term(10, 8, 0.9), 3.6);
  // y = 10, ŷ = 13: e = −3 → 2·(q − 1)·e.
  EXPECT_DOUBLE_EQ(quantile_loss_term(10, 13, 0.1), 5.4);
  EXPECT_DOUBLE_EQ(quantile_loss_term(10, 13, 0.9), 0.6);
  EXPECT_DOUBLE_EQ(quantile_loss_term(10, 10, 0.5), 0.0);
}

// A forecast with 2 horizon steps in which every metric's quantile q at step t is base[q] + t.
struct Fixture {
  static constexpr int kH = 2;
  std::vector<float> values = std::vector<float>(kNumMetrics * kNumQuantiles * kH);
  std::vector<float> y[kNumMetrics];
  std::vector<uint8_t> status = std::vector<uint8_t>(kH, 1);
  WindowView future;

  Fixture(const float (&base)[kNumQuantiles], float y0, float y1) {
    for (int k = 0; k < kNumMetrics; ++k) {
      for (int q = 0; q < kNumQuantiles; ++q)
        for (int t = 0; t < kH; ++t) values[(k * kNumQuantiles + q) * kH + t] = base[q] + t;
      y[k] = {y0 * (k + 1), y1 * (k + 1)};
      future.metric[k] = y[k].data();
    }
    future.length = kH;
    future.status = status.data();
  }
};

TEST(EvalMetrics, ScoresOneForecastOnHandComputedNumbers) {
  const float base[kNumQuantiles] = {0, 1, 2, 3, 4, 5, 6};
  // Metric 0: y = 3 at t=0 (ŷ = 0..6), y = 10 at t=1 (ŷ = 1..7).
  Fixture f(base, 3, 10);
  ScoreAccumulator acc;
  score_forecast(f.values.data(), Fixture::kH, f.future, nullptr, acc);
  // t=0: e_q = 3 − q_idx: ρ = 2·max((q−1)e, qe) for levels .02 .1 .25 .5 .75 .9 .98 and
  // e = 3, 2, 1, 0, −1, −2, −3 → 0.12, 0.4, 0.5, 0, 0.5, 0.4, 0.12 → Σ = 2.04.
  // t=1: e = 9..3 → 2·q·e: 0.36, 1.6, 3.5, 6, 7.5, 7.2, 5.88 → Σ = 32.04.
  const double expected = (2.04 / 7 + 32.04 / 7);
  EXPECT_NEAR(acc.loss_sum[0], expected, 1e-6);  // levels are floats (0.02f, ...)
  EXPECT_NEAR(acc.abs_err_sum[0], 0 + 6, 1e-9);  // p50 = 3 and 4
  EXPECT_NEAR(acc.err_sum[0], 0 - 6, 1e-9);      // too low at t=1
  EXPECT_EQ(acc.covered[0], 1);                  // 3 ∈ [1, 5]; 10 ∉ [2, 6]
  EXPECT_EQ(acc.targets[0], 2);
  EXPECT_NEAR(acc.abs_y_sum[0], 13, 1e-9);

  // Unobserved steps are skipped.
  ScoreAccumulator masked;
  const uint8_t observed[2] = {1, 0};
  score_forecast(f.values.data(), Fixture::kH, f.future, observed, masked);
  EXPECT_EQ(masked.targets[0], 1);
  EXPECT_NEAR(masked.loss_sum[0], 2.04 / 7, 1e-6);
}

TEST(EvalMetrics, OverallDividesByEachMetricsMeanAbsoluteTarget) {
  // Metric k's targets and errors scale with (k + 1): its scaled loss and MAE are the same for
  // every metric, so the overall equals metric 0's value divided by its mean |y|.
  const float base[kNumQuantiles] = {0, 1, 2, 3, 4, 5, 6};
  Fixture f(base, 3, 10);
  ScoreAccumulator acc;
  score_forecast(f.values.data(), Fixture::kH, f.future, nullptr, acc);
  const EvalReport r = summarize(1, {"model"}, {acc});
  EXPECT_NEAR(r.mean_abs_target[0], 6.5, 1e-12);
  EXPECT_NEAR(r.per_metric[0][0].mae_p50, 3.0, 1e-12);
  EXPECT_NEAR(r.per_metric[0][0].coverage_p10_p90, 0.5, 1e-12);
  EXPECT_NEAR(r.per_metric[0][0].bias_p50, -3.0, 1e-12);  // (0 − 6) / 2
  // Metric 1: y = 6, 20; ŷ unchanged → errors differ, so compute the mean directly.
  double loss = 0, mae = 0, bias = 0, cov = 0;
  for (int k = 0; k < kNumMetrics; ++k) {
    loss += r.per_metric[0][k].quantile_loss / r.mean_abs_target[k];
    mae += r.per_metric[0][k].mae_p50 / r.mean_abs_target[k];
    bias += r.per_metric[0][k].bias_p50 / r.mean_abs_target[k];
    cov += r.per_metric[0][k].coverage_p10_p90;
  }
  EXPECT_NEAR(r.overall[0].quantile_loss, loss / kNumMetrics, 1e-12);
  EXPECT_NEAR(r.overall[0].mae_p50, mae / kNumMetrics, 1e-12);
  EXPECT_NEAR(r.overall[0].bias_p50, bias / kNumMetrics, 1e-12);
  EXPECT_NEAR(r.overall[0].coverage_p10_p90, cov / kNumMetrics, 1e-12);
  EXPECT_NEAR(r.per_metric[0][1].mae_p50, (3 + 16) / 2.0, 1e-12);  // |6−3|, |20−4|
  EXPECT_NEAR(r.per_metric[0][1].bias_p50, (-3 - 16) / 2.0, 1e-12);
}

TEST(EvalMetrics, AllZeroMetricIsLeftOutOfTheOverallLossButKeepsItsCoverage) {
  const float base[kNumQuantiles] = {-2, -1, -1, 0, 1, 1, 2};
  Fixture f(base, 0, 0);  // every target 0
  ScoreAccumulator acc;
  score_forecast(f.values.data(), Fixture::kH, f.future, nullptr, acc);
  const EvalReport r = summarize(1, {"m"}, {acc});
  EXPECT_EQ(r.overall[0].quantile_loss, 0.0);  // no metric has a scale
  EXPECT_EQ(r.overall[0].mae_p50, 0.0);
  // p10..p90 is [−1, 1] at t=0 and [0, 2] at t=1: both targets (0) are covered.
  EXPECT_NEAR(r.overall[0].coverage_p10_p90, 1.0, 1e-12);
}

TEST(EvalMetrics, HorizonBandsSplitTheHorizonAtEachDistance) {
  using B = std::array<StepBand, kNumEvalHorizons>;
  EXPECT_EQ(horizon_bands(300'000, 96), (B{{{0, 1}, {1, 6}, {6, 12}, {12, 48}, {48, 96}}}));
  EXPECT_EQ(horizon_bands(60'000, 96), (B{{{0, 5}, {5, 30}, {30, 60}, {-1, -1}, {-1, -1}}}));
  EXPECT_EQ(horizon_bands(300'000, 12), (B{{{0, 1}, {1, 6}, {6, 12}, {-1, -1}, {-1, -1}}}));
  EXPECT_EQ(horizon_bands(420'000, 96), (B{}));
}

TEST(EvalMetrics, ScoringAStepRangeCountsOnlyThoseSteps) {
  const float base[kNumQuantiles] = {0, 1, 2, 3, 4, 5, 6};
  Fixture f(base, 3, 10);  // p50 = 3 then 4: |error| 0 at t=0, 6 at t=1
  ScoreAccumulator second;
  score_forecast(f.values.data(), Fixture::kH, f.future, nullptr, second, 1, 2);
  EXPECT_EQ(second.targets[0], 1);
  EXPECT_NEAR(second.abs_err_sum[0], 6, 1e-9);
  EXPECT_NEAR(second.loss_sum[0], 32.04 / 7, 1e-6);
  EXPECT_EQ(second.covered[0], 0);
}

TEST(EvalReportJson, HasExactlyTheShapeOfTheIssue) {
  // A real run of the eval pipeline on a small CSV: 2 servers, 2 days.
  const std::string path = ::testing::TempDir() + "eval_shape.csv";
  {
    std::ofstream out(path);
    out << test::kHeader << "\n";
    for (int i = 0; i < 2 * 288; ++i)
      for (const char* s : {"ppdb001", "ppweb001"})
        out << test::csv_row(test::kT0 + i * test::kStepMs, s, s[2] == 'd' ? "database" : "web_api",
                             "healthy", 20 + (i % 288) * 0.1 + (s[2] == 'd' ? 5 : 0))
            << "\n";
  }
  EvalArgs args;
  args.model = "baseline";
  args.data = path;
  args.stride = 7;
  args.threads = 2;
  const EvalReport r = run_eval(args, nullptr);
  const auto j = report_json(r);
  // Origins per server: indices 288..480; stride 7 keeps the multiples of 7: 294..476 → 27.
  EXPECT_EQ(j.at("windows").get<int64_t>(), 2 * 27);
  std::vector<std::string> keys;
  for (const auto& [k, v] : j.items()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"windows", "overall", "per_metric", "per_horizon"}));
  const std::vector<std::string> models = {"model", "served", "last_value", "seasonal_naive",
                                           "linear_trend", "robust_profile"};
  const std::vector<std::string> scores = {"quantile_loss", "mae_p50", "coverage_p10_p90",
                                           "skill_vs_last_value", "bias_p50"};
  auto check_models = [&](const nlohmann::ordered_json& entry) {
    std::vector<std::string> got;
    for (const auto& [m, s] : entry.items()) {
      got.push_back(m);
      std::vector<std::string> fields;
      for (const auto& [f, v] : s.items()) {
        fields.push_back(f);
        EXPECT_TRUE(v.is_number_float()) << m << "." << f;
      }
      EXPECT_EQ(fields, scores);
    }
    EXPECT_EQ(got, models);
  };
  check_models(j.at("overall"));
  std::vector<std::string> metrics;
  for (const auto& [k, v] : j.at("per_metric").items()) {
    metrics.push_back(k);
    check_models(v);
  }
  ASSERT_EQ(metrics.size(), static_cast<size_t>(kNumMetrics));
  for (int k = 0; k < kNumMetrics; ++k) EXPECT_EQ(metrics[k], kMetrics[k].name);
  std::vector<std::string> horizons;
  for (const auto& [h, block] : j.at("per_horizon").items()) {
    horizons.push_back(h);
    std::vector<std::string> block_keys;
    for (const auto& [k, v] : block.items()) block_keys.push_back(k);
    EXPECT_EQ(block_keys, (std::vector<std::string>{"overall", "per_metric"}));
    check_models(block.at("overall"));
    ASSERT_EQ(block.at("per_metric").size(), static_cast<size_t>(kNumMetrics));
    for (const auto& [k, v] : block.at("per_metric").items()) check_models(v);
  }
  EXPECT_EQ(horizons, (std::vector<std::string>{"5m", "30m", "1h", "4h", "8h"}));
  // A repeating daily pattern: seasonal naive is exact.
  EXPECT_NEAR(j["per_metric"]["mem_used_pct"]["seasonal_naive"]["mae_p50"].get<double>(), 0.0,
              1e-4);
  // The same numbers whatever the thread count.
  args.threads = 1;
  EXPECT_EQ(report_json(run_eval(args, nullptr)).dump(), j.dump());
}

}  // namespace
}  // namespace nordiq::train
