// `nordiq eval --model`: the TFT path (a model file through forecast::TftForecaster) and errors.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "synthetic.hpp"
#include "train/eval_command.hpp"

namespace nordiq::train {
namespace {

const std::string kTiny = std::string(NORDIQ_SHARED_DIR) + "/golden/tft_tiny.safetensors";

std::string write_csv(const std::string& name, int steps) {
  const std::string path = ::testing::TempDir() + name;
  std::ofstream out(path);
  out << test::kHeader << "\n";
  for (int i = 0; i < steps; ++i)
    out << test::csv_row(test::kT0 + i * test::kStepMs, "pprisk001", "risk_analytics",
                         i % 50 == 0 ? "heavy_load" : "healthy",
                         30 + 10 * std::sin(i * 0.0218) + (i * 37 % 11) * 0.3)
        << "\n";
  return path;
}

TEST(EvalModel, ScoresATftModelFileAgainstTheBaselines) {
  EvalArgs args;
  args.model = kTiny;  // random-weight golden model: the point is the plumbing, not the accuracy
  args.data = write_csv("eval_tft.csv", 2 * 288);
  args.stride = 24;
  args.threads = 2;
  const EvalReport r = run_eval(args, nullptr);
  ASSERT_EQ(r.models[0], "model");
  // The golden model forecasts 12 steps: origins 288..564, multiples of 24.
  EXPECT_EQ(r.windows, 12);
  for (int k = 0; k < kNumMetrics; ++k) {
    const Scores& s = r.per_metric[0][k];
    EXPECT_TRUE(std::isfinite(s.quantile_loss) && s.quantile_loss >= 0) << kMetrics[k].name;
    EXPECT_TRUE(std::isfinite(s.mae_p50)) << kMetrics[k].name;
    EXPECT_GE(s.coverage_p10_p90, 0.0);
    EXPECT_LE(s.coverage_p10_p90, 1.0);
  }
  // The TFT's forecasts are its own, not a baseline's.
  ASSERT_EQ(r.models[2], "last_value");
  EXPECT_NE(r.per_metric[0][0].mae_p50, r.per_metric[2][0].mae_p50);
}

TEST(EvalModel, BadModelOrDataIsAClearError) {
  EvalArgs args;
  args.model = "/nonexistent/model-dir";
  args.data = write_csv("eval_err.csv", 10);
  try {
    run_eval(args, nullptr);
    FAIL() << "no error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/model-dir"), std::string::npos) << e.what();
  }
  args.model = "baseline";  // 10 steps: no window has 288 + 96 steps
  try {
    run_eval(args, nullptr);
    FAIL() << "no error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("no forecast window"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace nordiq::train
