// Inputs the whole batch shares (tft/folded.hpp SharedInputs): the known time features of servers
// whose windows end at the same step are computed once per step. A server's forecast must not
// depend on whether its batch shares them.
#include <gtest/gtest.h>

#include <cstring>
#include <set>

#include "test_util.hpp"

namespace nordiq::tft {
namespace {

using testing::Batch;
using testing::Outputs;

// Server s of the batch alone, as a batch of one.
Batch alone(const Batch& g, const ModelConfig& c, int s) {
  const int T = g.E + g.D;
  Batch one;
  one.B = 1;
  one.E = g.E;
  one.D = g.D;
  one.x_cat.assign(&g.x_cat[size_t(s) * T * c.n_cat()], &g.x_cat[size_t(s + 1) * T * c.n_cat()]);
  one.x_cont.assign(&g.x_cont[size_t(s) * T * c.n_real()], &g.x_cont[size_t(s + 1) * T * c.n_real()]);
  one.enc = {g.enc[size_t(s)]};
  one.dec = {g.dec[size_t(s)]};
  one.target_scale.assign(&g.target_scale[size_t(s) * c.n_targets() * 2], &g.target_scale[size_t(s + 1) * c.n_targets() * 2]);
  return one;
}

// A batch of full windows whose decoder (known) inputs are server 0's for every server, at every step.
Batch batch_sharing_known_inputs(const Model& model, int B) {
  const ModelConfig& c = model.config();
  Batch b = testing::random_batch(model, B, 24, 12, 7);
  std::fill(b.enc.begin(), b.enc.end(), b.E);
  std::set<int> known;
  for (const auto& v : model.weights().decoder_vsn.vars) known.insert(v.source);
  const int T = b.E + b.D;
  for (int s = 1; s < B; ++s)
    for (int t = 0; t < T; ++t)
      for (int col : known) b.x_cont[(size_t(s) * T + t) * c.n_real() + col] = b.x_cont[size_t(t) * c.n_real() + col];
  return b;
}

TEST(TftSharedInputs, AServersForecastIsTheSameAloneAsInABatchSharingItsTimeFeatures) {
  const auto f = SafeTensors::load(testing::golden("tft_tiny.safetensors"));
  auto model = load_model(f);
  const ModelConfig& c = model->config();
  const Batch batch = batch_sharing_known_inputs(*model, 3);
  Engine engine(*model, 1);
  Outputs all(c, model->weights(), batch.B, batch.E, batch.D);
  engine.forward(batch.inputs(), all.ptrs());
  const size_t per = size_t(batch.D) * c.n_targets() * c.n_quantiles();
  for (int s = 0; s < batch.B; ++s) {
    const Batch one = alone(batch, c, s);
    Outputs o(c, model->weights(), 1, one.E, one.D);
    engine.forward(one.inputs(), o.ptrs());
    for (size_t i = 0; i < per; ++i) ASSERT_NEAR(o.pn[i], all.pn[size_t(s) * per + i], 2e-6) << "server " << s << ", value " << i;
  }
}

TEST(TftSharedInputs, ServersThatDifferInOneKnownInputGetTheirOwnForecast) {
  // The same batch, but server 2's time features one step later at a single step: sharing must
  // not apply to it (its forecast differs from the one the shared features give).
  const auto f = SafeTensors::load(testing::golden("tft_tiny.safetensors"));
  auto model = load_model(f);
  const ModelConfig& c = model->config();
  Batch batch = batch_sharing_known_inputs(*model, 3);
  const int T = batch.E + batch.D, col = model->weights().decoder_vsn.vars[0].source;
  batch.x_cont[(size_t(2) * T + batch.E + 3) * c.n_real() + col] += 0.5f;
  Engine engine(*model, 1);
  Outputs all(c, model->weights(), batch.B, batch.E, batch.D);
  engine.forward(batch.inputs(), all.ptrs());
  const size_t per = size_t(batch.D) * c.n_targets() * c.n_quantiles();
  const Batch one = alone(batch, c, 2);
  Outputs o(c, model->weights(), 1, one.E, one.D);
  engine.forward(one.inputs(), o.ptrs());
  for (size_t i = 0; i < per; ++i) ASSERT_NEAR(o.pn[i], all.pn[2 * per + i], 2e-6) << "value " << i;
}

}  // namespace
}  // namespace nordiq::tft
