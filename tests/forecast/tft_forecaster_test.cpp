#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "forecast/tft_forecaster.hpp"
#include "tft/safetensors.hpp"
#include "window_fixture.hpp"

using namespace nordiq;
using namespace nordiq::forecast;
using nordiq::testing::OwnedWindow;

namespace {

const std::string kTiny = std::string(NORDIQ_SHARED_DIR) + "/golden/tft_tiny.safetensors";

std::unique_ptr<tft::Model> tiny() { return tft::load_model_file(kTiny); }

void expect_valid(const ForecastBatch& out, int b) {
  for (int k = 0; k < kNumMetrics; ++k)
    for (int t = 0; t < out.horizon; ++t)
      for (int q = 0; q < kNumQuantiles; ++q) {
        const float v = out.at(b, t, k, q);
        ASSERT_TRUE(std::isfinite(v));
        ASSERT_GE(v, kMetrics[k].min) << kMetrics[k].name;
        ASSERT_LE(v, kMetrics[k].max) << kMetrics[k].name;
        if (q > 0) {
          ASSERT_LE(out.at(b, t, k, q - 1), v);
        }
      }
}

}  // namespace

TEST(TftForecaster, LongWindowsGetTheNetworkShortOnesTheBaseline) {
  TftForecaster f(tiny(), "tiny");
  const OwnedWindow long_w = OwnedWindow::make(40, nordiq::testing::plausible);
  const OwnedWindow short_w = OwnedWindow::make(kMinEncoderSteps - 1, nordiq::testing::plausible);
  ForecastBatch out;
  f.forecast(std::vector<WindowView>{long_w.view(), short_w.view()}, out);
  ASSERT_EQ(out.batch, 2);
  EXPECT_EQ(out.horizon, 12);  // the tiny golden model's decoder length
  EXPECT_EQ(out.model[0], ModelKind::tft);
  EXPECT_EQ(out.model[1], ModelKind::baseline);
  expect_valid(out, 0);
  expect_valid(out, 1);
  EXPECT_EQ(f.description(), "tft:tiny");
}

TEST(TftForecaster, ServerForecastDoesNotDependOnItsBatchmates) {
  TftForecaster f(tiny(), "tiny");
  const OwnedWindow a = OwnedWindow::make(40, nordiq::testing::plausible);
  const OwnedWindow b = OwnedWindow::make(15, [](int k, int i) { return nordiq::testing::plausible(k, 3 * i + 1); });
  ForecastBatch alone, mixed;
  f.forecast(std::vector<WindowView>{a.view()}, alone);
  f.forecast(std::vector<WindowView>{b.view(), a.view(), b.view()}, mixed);
  ASSERT_EQ(mixed.model[1], ModelKind::tft);
  for (int k = 0; k < kNumMetrics; ++k)
    for (int q = 0; q < kNumQuantiles; ++q)
      for (int t = 0; t < alone.horizon; ++t) {
        const float x = alone.at(0, t, k, q), y = mixed.at(1, t, k, q);
        ASSERT_NEAR(x, y, 1e-4f * std::max(1.f, std::fabs(x))) << kMetrics[k].name;
      }
}

TEST(TftForecaster, OutputsAreTheNetworksDenormalisedPrediction) {
  // The forecaster must equal: the same features → the engine → z·scale + center → inverse
  // transform → clamp → sort. Checked for the median of an unclamped metric.
  auto model = tiny();
  tft::Engine engine(*model, 1);
  const OwnedWindow w = OwnedWindow::make(30, nordiq::testing::plausible);
  const WindowView v = w.view();
  FeatureBatch fb;
  FeatureConfig cfg{24, 12, InputSet::base};  // the reference model predates them
  assemble_features(std::span(&v, 1), cfg, fb);
  std::vector<float> z(12 * kNumMetrics * kNumQuantiles);
  tft::ForwardInputs in{1, fb.encoder, fb.decoder, fb.x_cat.data(), fb.x_cont.data(),
                        fb.encoder_lengths.data(), fb.decoder_lengths.data(), fb.target_scale.data()};
  tft::ForwardOutputs o;
  o.prediction_normalized = z.data();
  engine.forward(in, o);

  TftForecaster f(std::move(model), "tiny");
  ForecastBatch out;
  f.forecast(std::span(&v, 1), out);
  const int k = static_cast<int>(Metric::net_in_mb_s);  // log1p metric: checks the inverse transform
  for (int t = 0; t < 12; ++t) {
    float sorted[kNumQuantiles];
    for (int q = 0; q < kNumQuantiles; ++q) sorted[q] = fb.norms[0].denormalize(k, z[(t * kNumMetrics + k) * kNumQuantiles + q]);
    std::sort(sorted, sorted + kNumQuantiles);
    for (int q = 0; q < kNumQuantiles; ++q)  // the batched expm1 is within 1e-6 of libm's
      EXPECT_NEAR(out.at(0, t, k, q), sorted[q], 2e-6f * std::fabs(sorted[q])) << t << " " << q;
  }
}

TEST(TftForecaster, ModelWithAnotherContractIsRefusedNamingTheField) {
  auto file = tft::SafeTensors::load(kTiny);
  nlohmann::json manifest = tft::read_manifest(file);
  manifest["model"]["targets"][5] = "memory";
  try {
    TftForecaster f(std::make_unique<tft::Model>(tft::ModelConfig::from_manifest(manifest)), "bad");
    FAIL() << "expected a refusal";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("target 5 is 'memory'"), std::string::npos) << e.what();
  }

  auto model = tiny();
  nlohmann::json m2 = model->manifest();
  m2["normalizer"] = normalizer_manifest(input_set_of(model->config().x_reals.size()));
  m2["normalizer"]["metrics"][8]["scale_floor"] = 1.0;
  model->set_manifest(m2);
  try {
    TftForecaster f(std::move(model), "bad-normalizer");
    FAIL() << "expected a refusal";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("metrics[8].scale_floor"), std::string::npos) << e.what();
  }
}

// Issue #14, output sanity: weights that are finite at load can still give non-finite outputs.
// Such a model is refused by the probe before it serves; one that fails on some inputs at run time
// gives those servers their baseline forecast, never a NaN.
TEST(TftForecaster, NonFiniteNetworkOutputsFallBackToTheBaselineAndFailTheProbe) {
  auto model = tiny();
  const size_t n = model->table().total();
  for (size_t i = 0; i < n; ++i) model->params()[i] = std::numeric_limits<float>::quiet_NaN();
  TftForecaster broken(std::move(model), "broken");
  EXPECT_THROW(
      {
        try {
          broken.probe_outputs();
        } catch (const std::runtime_error& e) {
          EXPECT_NE(std::string(e.what()).find("non-finite"), std::string::npos) << e.what();
          EXPECT_NE(std::string(e.what()).find("tft:broken"), std::string::npos) << e.what();
          throw;
        }
      },
      std::runtime_error);
  const OwnedWindow w = OwnedWindow::make(288, [](int k, int i) { return k == 3 ? 70.f : 20.f + (i % 7); });
  ForecastBatch out;
  broken.forecast(std::vector<WindowView>{w.view()}, out);
  EXPECT_EQ(broken.last_nonfinite_servers(), 1);
  EXPECT_EQ(out.model[0], ModelKind::baseline);
  EXPECT_EQ(out.interpretation.present[0], 0);
  expect_valid(out, 0);

  TftForecaster sound(tiny(), "tiny");
  EXPECT_NO_THROW(sound.probe_outputs());
  EXPECT_EQ(sound.last_nonfinite_servers(), 0);
}
