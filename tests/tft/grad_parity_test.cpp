// Gradient parity with tft_tiny_grad.safetensors (golden README §4.3 and §6 tolerances): the
// loss, every g.* (all 1004 names, aliases = summed gradient), g.x_cont (exact zeros in
// don't-care cells), every gt.* intermediate gradient, and adam1.* from the golden gradients.
#include <gtest/gtest.h>

#include <cmath>

#include "test_util.hpp"
#include "tft/adam.hpp"
#include "tft/grad_check.hpp"
#include "tft/training_graph.hpp"

namespace nordiq::tft {
namespace {

using testing::golden;

TEST(GradParity, TinyGradFileMatchesLossGradientsAndAdamWithinReadmeTolerances) {
  const SafeTensors f = SafeTensors::load(golden("tft_tiny_grad.safetensors"));
  ASSERT_TRUE(has_gradient_checks(f));
  CheckReport report;
  check_gradients(f, {}, report);
  size_t g = 0, gt = 0, adam = 0;
  bool loss = false, x_cont = false;
  for (const auto& c : report.checks) {
    EXPECT_TRUE(c.pass) << c.name << ": max |Δ| " << c.max_abs << ", " << c.worst_excess << "× tolerance (" << c.tolerance << ")";
    if (c.name.rfind("g.", 0) == 0) ++g;
    if (c.name.rfind("gt.", 0) == 0) ++gt;
    if (c.name.rfind("adam1.", 0) == 0) ++adam;
    loss |= c.name == "loss";
    x_cont |= c.name == "g.x_cont";
  }
  EXPECT_TRUE(loss);
  EXPECT_TRUE(x_cont);
  EXPECT_EQ(g, 1004u + 1u);  // every state_dict name, plus g.x_cont
  EXPECT_EQ(adam, 1004u);
  size_t gt_in_file = 0;
  for (const auto& [name, info] : f.tensors()) gt_in_file += name.rfind("gt.", 0) == 0;
  EXPECT_EQ(gt, gt_in_file);
  EXPECT_GE(gt, 18u);
  EXPECT_TRUE(report.not_checked.empty()) << report.not_checked.front();
}

TEST(GradParity, DontCareInputCellsGetExactlyZeroGradient) {
  const SafeTensors f = SafeTensors::load(golden("tft_tiny_grad.safetensors"));
  auto model = load_model(f);
  auto batch = testing::batch_from_golden(f, 24);
  const auto y = f.f32("in.y");
  TrainingGraph graph(*model);
  std::vector<float> G(model->table().total(), 0.0f), dx(batch.x_cont.size(), 0.0f);
  graph.forward(model->params(), batch.inputs(), y.data(), {});
  graph.backward(G.data(), dx.data());
  const int T = batch.E + batch.D, R = model->config().n_real();
  for (int b = 0; b < batch.B; ++b)
    for (int t = 0; t < T; ++t)
      for (int col = 0; col < R; ++col) {
        const bool read = (t == 0 && col <= 28) || (col >= 29 && col <= 35 && (t < batch.enc[size_t(b)] || t >= batch.E)) ||
                          (col >= 36 && t < batch.enc[size_t(b)]);
        if (!read) {
          ASSERT_EQ(dx[(size_t(b) * T + t) * R + col], 0.0f) << b << "," << t << "," << col;
        }
      }
  // the padding row of both embeddings is never trained
  for (const char* e : {"input_embeddings.embeddings.profile.weight", "input_embeddings.embeddings.status.weight"}) {
    const ParamSpec* s = model->table().find(e);
    for (int j = 0; j < s->shape[1]; ++j) EXPECT_EQ(G[s->offset + size_t(j)], 0.0f) << e;
  }
}

TEST(GradParity, GradientsAreIndependentOfPaddingGarbage) {
  // tft_ragged's don't-care cells hold garbage: gradients must not depend on it.
  const SafeTensors f = SafeTensors::load(golden("tft_ragged.safetensors"));
  auto model = load_model(f);
  auto batch = testing::batch_from_golden(f, 24);
  std::vector<float> y(size_t(batch.B) * batch.D * 14);
  for (size_t i = 0; i < y.size(); ++i) y[i] = std::sin(0.37f * float(i));
  auto grads = [&](const testing::Batch& bt) {
    TrainingGraph graph(*model);
    std::vector<float> G(model->table().total(), 0.0f);
    graph.forward(model->params(), bt.inputs(), y.data(), {});
    graph.backward(G.data());
    return G;
  };
  const auto G1 = grads(batch);
  auto zeroed = batch;
  const int T = batch.E + batch.D, R = model->config().n_real();
  for (int b = 0; b < batch.B; ++b)
    for (int t = batch.enc[size_t(b)]; t < batch.E; ++t)
      for (int col = 0; col < R; ++col) zeroed.x_cont[(size_t(b) * T + t) * R + col] = 0.0f;
  const auto G2 = grads(zeroed);
  double worst = 0;
  for (size_t i = 0; i < G1.size(); ++i) worst = std::max(worst, double(std::fabs(G1[i] - G2[i])));
  EXPECT_EQ(worst, 0.0);
}

TEST(Adam, FirstStepMovesEveryWeightByAboutLrTimesSignOfGradient) {
  std::vector<float> P = {1.0f, -2.0f, 0.5f, 0.0f}, G = {0.3f, -4.0f, 1e-3f, 0.0f};
  Adam adam(P.size());
  adam.step(P.data(), G.data());
  EXPECT_NEAR(P[0], 1.0f - 1e-3f, 1e-7);
  EXPECT_NEAR(P[1], -2.0f + 1e-3f, 1e-7);
  EXPECT_NEAR(P[2], 0.5f - 1e-3f, 1e-7);
  EXPECT_EQ(P[3], 0.0f);  // zero gradient (padding): never moves
}

TEST(Adam, ClippingScalesToMaxNormOnlyWhenAbove) {
  std::vector<float> G = {3.0f, 4.0f};
  EXPECT_NEAR(clip_grad_norm(G.data(), 2, 10.0), 5.0, 1e-9);
  EXPECT_EQ(G[0], 3.0f);
  clip_grad_norm(G.data(), 2, 1.0);
  EXPECT_NEAR(std::hypot(G[0], G[1]), 1.0, 1e-5);
  EXPECT_NEAR(G[0] / G[1], 0.75, 1e-6);
}

}  // namespace
}  // namespace nordiq::tft
