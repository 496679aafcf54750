// Padding independence (golden README §2.4): cells the network never reads may hold anything.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <set>

#include "test_util.hpp"

namespace nordiq::tft {
namespace {

using testing::Batch;
using testing::Outputs;

// Overwrites every don't-care cell: padded encoder steps (all columns), static columns at steps
// ≥ 1, encoder-only columns (status, targets) at decoder steps.
void refill_dont_care(const Model& m, Batch& b, uint32_t seed, bool zeros) {
  const ModelConfig& c = m.config();
  const TftWeights& w = m.weights();
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-50.0f, 50.0f);
  std::set<int> static_cat, static_real, enc_only_cat, enc_only_real, dec_real;
  for (const auto& v : w.static_vsn.vars) (v.categorical ? static_cat : static_real).insert(v.source);
  for (const auto& v : w.decoder_vsn.vars) dec_real.insert(v.source);
  for (const auto& v : w.encoder_vsn.vars) {
    if (v.categorical) enc_only_cat.insert(v.source);
    else if (!dec_real.count(v.source)) enc_only_real.insert(v.source);
  }
  const int T = b.E + b.D;
  for (int s = 0; s < b.B; ++s)
    for (int t = 0; t < T; ++t) {
      const bool pad_enc = t >= b.enc[size_t(s)] && t < b.E;
      const bool dec = t >= b.E;
      for (int col = 0; col < c.n_cat(); ++col) {
        const bool dc = pad_enc || (t >= 1 && static_cat.count(col)) || (dec && enc_only_cat.count(col));
        if (!dc) continue;
        const int classes = c.embedding_sizes.at(c.x_categoricals[size_t(col)]).first;
        b.x_cat[(size_t(s) * T + t) * c.n_cat() + col] = zeros ? 0 : int32_t(rng() % uint32_t(classes));
      }
      for (int col = 0; col < c.n_real(); ++col) {
        const bool dc = pad_enc || (t >= 1 && static_real.count(col)) || (dec && enc_only_real.count(col));
        if (dc) b.x_cont[(size_t(s) * T + t) * c.n_real() + col] = zeros ? 0.0f : u(rng);
      }
    }
}

void expect_identical(const Outputs& a, const Outputs& b, const Batch& batch, int n_enc_vars) {
  EXPECT_EQ(0, std::memcmp(a.pn.data(), b.pn.data(), a.pn.size() * 4)) << "prediction_normalized";
  EXPECT_EQ(0, std::memcmp(a.pred.data(), b.pred.data(), a.pred.size() * 4)) << "prediction";
  EXPECT_EQ(0, std::memcmp(a.attn.data(), b.attn.data(), a.attn.size() * 4)) << "attention";
  EXPECT_EQ(0, std::memcmp(a.sw.data(), b.sw.data(), a.sw.size() * 4)) << "static weights";
  EXPECT_EQ(0, std::memcmp(a.dw.data(), b.dw.data(), a.dw.size() * 4)) << "decoder weights";
  for (int s = 0; s < batch.B; ++s)
    for (int t = 0; t < batch.enc[size_t(s)]; ++t) {
      const size_t off = (size_t(s) * batch.E + t) * n_enc_vars;
      ASSERT_EQ(0, std::memcmp(&a.ew[off], &b.ew[off], size_t(n_enc_vars) * 4)) << "encoder weights " << s << "," << t;
    }
}

TEST(TftPadding, GarbageBeyondEncoderLengthsChangesNoOutputBit) {
  const auto f = SafeTensors::load(testing::golden("tft_ragged.safetensors"));
  auto model = load_model(f);
  const Batch golden = testing::batch_from_golden(f, 24);
  Engine engine(*model, 1);
  const auto& c = model->config();
  const auto& w = model->weights();
  Outputs ref(c, w, golden.B, golden.E, golden.D);
  engine.forward(golden.inputs(), ref.ptrs());
  for (uint32_t seed : {1u, 2u}) {
    Batch other = golden;
    refill_dont_care(*model, other, seed, false);
    ASSERT_NE(other.x_cont, golden.x_cont);
    Outputs got(c, w, other.B, other.E, other.D);
    engine.forward(other.inputs(), got.ptrs());
    expect_identical(ref, got, golden, w.encoder_vsn.n());
  }
  Batch zeros = golden;
  refill_dont_care(*model, zeros, 0, true);
  Outputs got(c, w, zeros.B, zeros.E, zeros.D);
  engine.forward(zeros.inputs(), got.ptrs());
  expect_identical(ref, got, golden, w.encoder_vsn.n());
}

TEST(TftPadding, EachRaggedSampleAloneUnpaddedGivesTheSameForecast) {
  const auto f = SafeTensors::load(testing::golden("tft_ragged.safetensors"));
  auto model = load_model(f);
  const Batch g = testing::batch_from_golden(f, 24);
  Engine engine(*model, 1);
  const auto& c = model->config();
  Outputs all(c, model->weights(), g.B, g.E, g.D);
  engine.forward(g.inputs(), all.ptrs());
  const int T = g.E + g.D, KQ = c.n_targets() * c.n_quantiles();
  for (int s = 0; s < g.B; ++s) {
    const int e = g.enc[size_t(s)];
    Batch one;
    one.B = 1;
    one.E = e;
    one.D = g.D;
    for (int t = 0; t < T; ++t) {
      if (t >= e && t < g.E) continue;  // drop the padding gap
      const size_t cell = size_t(s) * T + t;
      one.x_cat.insert(one.x_cat.end(), &g.x_cat[cell * c.n_cat()], &g.x_cat[(cell + 1) * c.n_cat()]);
      one.x_cont.insert(one.x_cont.end(), &g.x_cont[cell * c.n_real()], &g.x_cont[(cell + 1) * c.n_real()]);
    }
    one.enc = {e};
    one.dec = {g.dec[size_t(s)]};
    one.target_scale.assign(&g.target_scale[size_t(s) * c.n_targets() * 2], &g.target_scale[size_t(s + 1) * c.n_targets() * 2]);
    Outputs o(c, model->weights(), 1, one.E, one.D);
    engine.forward(one.inputs(), o.ptrs());
    for (int i = 0; i < g.D * KQ; ++i) ASSERT_NEAR(o.pn[size_t(i)], all.pn[size_t(s) * g.D * KQ + i], 2e-6) << "sample " << s;
  }
}

}  // namespace
}  // namespace nordiq::tft
