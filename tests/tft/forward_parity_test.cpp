// Training and serving run one forward (tft/network.hpp: run_network; issue #12), training on a
// workspace that keeps what its backward reads, serving on chunks of servers. With dropout off,
// the training forward must therefore give the engine's numbers exactly when the engine runs
// unfolded, and within the golden README's tolerance for prediction_normalized (§6) when it
// serves folded (tft/folded.hpp), for every model size we ship or benchmark, on a ragged batch.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "test_util.hpp"
#include "tft/training_graph.hpp"

namespace nordiq::tft {
namespace {

struct Divergence {
  double max_abs = 0;
  size_t compared = 0;
};

// Max |Δz| over the valid decoder steps of every window (padded steps are unspecified).
Divergence training_vs_serving(const Model& model, int B, int E, int D, uint32_t seed, bool folded) {
  const auto batch = testing::random_batch(model, B, E, D, seed, true);
  const int K = model.config().n_targets(), Q = model.config().n_quantiles();
  std::vector<float> y(size_t(B) * D * K, 0.0f);
  TrainingGraph graph(model);
  graph.forward(model.params(), batch.inputs(), y.data(), {});  // dropout 0: eval mode
  const float* trained = graph.prediction_normalized();

  std::vector<float> served(size_t(B) * D * K * Q);
  Engine engine(model, 1);
  engine.set_folding(folded);
  ForwardOutputs out;
  out.prediction_normalized = served.data();
  engine.forward(batch.inputs(), out);

  Divergence d;
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < batch.dec[size_t(b)]; ++t)
      for (int i = 0; i < K * Q; ++i) {
        const size_t at = (size_t(b) * D + t) * K * Q + i;
        if (!std::isfinite(trained[at]) || !std::isfinite(served[at])) return {INFINITY, d.compared};
        d.max_abs = std::max(d.max_abs, double(std::fabs(trained[at] - served[at])));
        ++d.compared;
      }
  return d;
}

// The batches are smaller than one engine chunk (Engine::chunk_servers), so the engine's GEMMs
// see the same row counts as training's.
TEST(ForwardParity, TrainingForwardWithoutDropoutIsTheUnfoldedEngineBitForBit) {
  auto tiny = load_model_file(testing::golden("tft_tiny.safetensors"));
  auto medium = load_model_file(testing::golden("tft_medium.safetensors"));
  auto shipped = load_model_file((std::filesystem::path(NORDIQ_SOURCE_DIR) / "models/default/model.safetensors").string());
  for (const auto& [model, d] : {std::pair{tiny.get(), training_vs_serving(*tiny, 6, 24, 12, 11, false)},
                                 std::pair{medium.get(), training_vs_serving(*medium, 4, 96, 24, 12, false)},
                                 std::pair{shipped.get(), training_vs_serving(*shipped, 4, 288, 96, 13, false)}}) {
    EXPECT_GT(d.compared, 0u);
    EXPECT_EQ(d.max_abs, 0.0) << "hidden " << model->config().hidden;
  }
}

TEST(ForwardParity, TrainingForwardWithoutDropoutEqualsServingForwardOnTheTinyNetwork) {
  auto model = load_model_file(testing::golden("tft_tiny.safetensors"));
  const Divergence d = training_vs_serving(*model, 6, 24, 12, 11, true);
  EXPECT_GT(d.compared, 0u);
  EXPECT_LE(d.max_abs, 5e-5);
}

TEST(ForwardParity, TrainingForwardWithoutDropoutEqualsServingForwardAtH64) {
  auto model = load_model_file(testing::golden("tft_medium.safetensors"));
  const Divergence d = training_vs_serving(*model, 4, 96, 24, 12, true);
  EXPECT_GT(d.compared, 0u);
  EXPECT_LE(d.max_abs, 2e-4);
}

TEST(ForwardParity, TrainingForwardWithoutDropoutEqualsServingForwardOnTheShippedModel) {
  const std::filesystem::path shipped = std::filesystem::path(NORDIQ_SOURCE_DIR) / "models/default/model.safetensors";
  ASSERT_TRUE(std::filesystem::exists(shipped)) << shipped;
  auto model = load_model_file(shipped.string());
  const Divergence d = training_vs_serving(*model, 4, 288, 96, 13, true);  // the serving window and horizon
  EXPECT_GT(d.compared, 0u);
  EXPECT_LE(d.max_abs, 2e-4);
}

}  // namespace
}  // namespace nordiq::tft
