// Finite-difference checks of every block's backward (and of the whole training graph, dropout
// on): central differences of S = Σ out ⊙ dy (or of the loss) against the analytic gradient, on
// random parameters and inputs. Independent of the golden files, so they also cover shapes and
// paths those do not (dropout, ragged decoders, c = H without resample, width ≠ H LSTM inputs).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>

#include "test_util.hpp"
#include "tft/backward.hpp"
#include "tft/grad_gemm.hpp"
#include "tft/training_graph.hpp"

namespace nordiq::tft {
namespace {

// Compares analytic[i] with (S(x+h) − S(x−h)) / 2h for `samples` random elements of x.
void fd_check(const std::string& what, const std::function<double()>& S, float* x, size_t n, const float* analytic,
              int samples = 24, float h = 1e-2f, double atol = 3e-3, double rtol = 3e-2) {
  std::mt19937 rng(uint32_t(n * 7 + what.size()));
  int checked = 0;
  for (int s = 0; s < samples; ++s) {
    const size_t i = rng() % n;
    const float keep = x[i];
    x[i] = keep + h;
    const double up = S();
    x[i] = keep - h;
    const double down = S();
    x[i] = keep;
    const double fd = (up - down) / (2.0 * h);
    EXPECT_NEAR(analytic[i], fd, atol + rtol * std::fabs(fd)) << what << "[" << i << "]";
    ++checked;
  }
  EXPECT_GT(checked, 0);
}

std::vector<float> randn(size_t n, uint32_t seed, float sd = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, sd);
  std::vector<float> v(n);
  for (auto& x : v) x = g(rng);
  return v;
}

double dot(const float* a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < b.size(); ++i) s += double(a[i]) * b[i];
  return s;
}

// Parameters of one block with random values, gradients and the training context.
struct Block {
  ParamTable table;
  std::vector<float> P, G, kappa;
  std::map<std::pair<int, int>, nn::InterpTable> interp;
  grad::Arena acts, scratch;
  grad::Rng rng;
  grad::Ctx ctx;
  float dropout = 0.0f;
  void init(uint32_t seed) {
    P = randn(table.total(), seed, 0.5f);
    for (const auto& s : table.specs())  // LayerNorm gains near 1 keep the blocks well conditioned
      if (s.name.size() > 11 && s.name.compare(s.name.size() - 11, 11, "norm.weight") == 0)
        for (size_t i = 0; i < s.numel; ++i) P[s.offset + i] += 1.0f;
    G.assign(table.total(), 0.0f);
    kappa.assign(table.total(), 0.0f);
  }
  void prepare(uint64_t seed = 5) {
    nn::prepare_kappa(table, P.data(), kappa.data());
    acts.reset();
    scratch.reset();
    rng.state = seed;  // the same dropout mask on every forward
    ctx.P = P.data();
    ctx.kappa = kappa.data();
    ctx.interp = &interp;
    ctx.acts = &acts;
    ctx.scratch = &scratch;
    ctx.rng = &rng;
    ctx.dropout = dropout;
  }
  void interp_for(int n, int m) {
    if (n != m && !interp.count({n, m})) interp[{n, m}] = nn::InterpTable::make(n, m);
  }
};

TEST(GradFiniteDifference, GrnWithResampleContextAndDropout) {
  Block b;
  GrnW g = add_grn(b.table, "", 7, 5, 11, 6);
  b.interp_for(7, 11);
  b.init(1);
  b.dropout = 0.3f;
  const int rows = 12, per_ctx = 4;
  auto x = randn(size_t(rows) * 7, 2), c = randn(size_t(rows / per_ctx) * 6, 3), dy = randn(size_t(rows) * 11, 4);
  grad::GrnAct a;
  auto S = [&] {
    b.prepare();
    grad::grn_train_forward(a, x.data(), 7, rows, c.data(), per_ctx, g, b.ctx);
    return dot(a.out(), dy);
  };
  S();
  std::vector<float> dx(x.size(), 0.0f), dc(c.size(), 0.0f);
  grad::grn_backward(dx.data(), 7, dc.data(), dy.data(), a, g, b.ctx, b.G.data());
  const auto G = b.G;
  fd_check("grn.x", S, x.data(), x.size(), dx.data());
  fd_check("grn.context", S, c.data(), c.size(), dc.data());
  fd_check("grn.params", S, b.P.data(), b.P.size(), G.data(), 60);
}

TEST(GradFiniteDifference, GrnWithoutResampleAndCategoricalResampleNorm) {
  Block b;
  GrnW g = add_grn(b.table, "g.", 9, 9, 9, 0);
  ResampleNormW r = add_resample_norm(b.table, "r.", 5, 9);
  b.interp_for(5, 9);
  b.init(7);
  const int rows = 6;
  auto x = randn(size_t(rows) * 9, 8), e = randn(size_t(rows) * 5, 9), dy = randn(size_t(rows) * 9, 10), dr = randn(size_t(rows) * 9, 11);
  grad::GrnAct a;
  grad::ResAct ra;
  auto S = [&] {
    b.prepare();
    grad::grn_train_forward(a, x.data(), 9, rows, nullptr, 1, g, b.ctx);
    grad::resample_forward(ra, e.data(), 5, rows, r, b.ctx);
    return dot(a.out(), dy) + dot(ra.out, dr);
  };
  S();
  std::vector<float> dx(x.size(), 0.0f), de(e.size(), 0.0f);
  grad::grn_backward(dx.data(), 9, nullptr, dy.data(), a, g, b.ctx, b.G.data());
  grad::resample_backward(de.data(), 5, dr.data(), ra, r, b.ctx, b.G.data());
  const auto G = b.G;
  fd_check("grn_same.x", S, x.data(), x.size(), dx.data());
  fd_check("resample.x", S, e.data(), e.size(), de.data());
  fd_check("params", S, b.P.data(), b.P.size(), G.data(), 60);
}

TEST(GradFiniteDifference, LstmRaggedWithFinalStateGradient) {
  Block b;
  const int In = 3, H = 5, B = 3, T = 6;
  LstmW w;
  w.hidden = H;
  w.ih = add_linear(b.table, "ih.", In, 4 * H);
  w.hh = add_linear(b.table, "hh.", H, 4 * H);
  b.init(12);
  const std::vector<int32_t> len = {6, 2, 4};
  auto x = randn(size_t(B) * T * In, 13), h0 = randn(size_t(B) * H, 14), c0 = randn(size_t(B) * H, 15);
  auto dout = randn(size_t(B) * T * H, 16), dhn = randn(size_t(B) * H, 17), dcn = randn(size_t(B) * H, 18);
  std::vector<float> gates(size_t(B) * T * 4 * H), cells(size_t(B) * T * H), out(size_t(B) * T * H), h, c;
  auto S = [&] {
    b.prepare();
    std::vector<float> whh_t(size_t(H) * 4 * H), scratch(size_t(B) * 4 * H);
    for (int n = 0; n < 4 * H; ++n)
      for (int k = 0; k < H; ++k) whh_t[size_t(k) * 4 * H + n] = b.P[w.hh.w + size_t(n) * H + k];
    for (int r = 0; r < B * T; ++r)
      for (int n = 0; n < 4 * H; ++n) {
        float acc = b.P[w.ih.b + size_t(n)] + b.P[w.hh.b + size_t(n)];
        for (int k = 0; k < In; ++k) acc += x[size_t(r) * In + k] * b.P[w.ih.w + size_t(n) * In + k];
        gates[size_t(r) * 4 * H + n] = acc;
      }
    h = h0;
    c = c0;
    nn::lstm_forward(out.data(), size_t(T) * H, h.data(), c.data(), gates.data(), cells.data(), len.data(), B, T, H, whh_t.data(),
                     scratch.data());
    return dot(out.data(), dout) + dot(h.data(), dhn) + dot(c.data(), dcn);
  };
  S();
  std::vector<float> dx(x.size(), 0.0f), dh0(h0.size(), 0.0f), dc0(c0.size(), 0.0f);
  grad::lstm_backward(dx.data(), dh0.data(), dc0.data(), dout.data(), size_t(T) * H, dhn.data(), dcn.data(), x.data(), gates.data(),
                       cells.data(), out.data(), size_t(T) * H, h0.data(), c0.data(), len.data(), B, T, w, b.ctx, b.G.data());
  const auto G = b.G;
  fd_check("lstm.x", S, x.data(), x.size(), dx.data(), 30);
  fd_check("lstm.h0", S, h0.data(), h0.size(), dh0.data());
  fd_check("lstm.c0", S, c0.data(), c0.size(), dc0.data());
  fd_check("lstm.params", S, b.P.data(), b.P.size(), G.data(), 60);
  // padded steps of x never matter
  for (int bb = 0; bb < B; ++bb)
    for (int t = len[size_t(bb)]; t < T; ++t)
      for (int k = 0; k < In; ++k) EXPECT_EQ(dx[(size_t(bb) * T + t) * In + k], 0.0f);
}

TEST(GradFiniteDifference, MaskedAttentionCore) {
  const int B = 2, E = 5, D = 3, T = E + D, nh = 2, d = 3, hd = nh * d;
  const std::vector<int32_t> enc = {5, 2};
  auto Q = randn(size_t(B) * D * hd, 20), K = randn(size_t(B) * T * hd, 21), V = randn(size_t(B) * T * d, 22);
  auto dheads = randn(size_t(B) * D * hd, 23);
  std::vector<float> probs(size_t(B) * D * nh * T), heads(size_t(B) * D * hd), mean(size_t(B) * D * d), scr(size_t(T) * (d + 1));
  auto S = [&] {
    nn::attention_forward(probs.data(), heads.data(), mean.data(), Q.data(), K.data(), V.data(), enc.data(), B, E, D, nh, d, scr.data());
    return dot(heads.data(), dheads);
  };
  S();
  std::vector<float> dQ(Q.size(), 0.0f), dK(K.size(), 0.0f), dV(V.size(), 0.0f);
  grad::attention_backward(dQ.data(), dK.data(), dV.data(), dheads.data(), probs.data(), Q.data(), K.data(), V.data(), enc.data(), B, E,
                            D, nh, d);
  fd_check("attention.Q", S, Q.data(), Q.size(), dQ.data(), 30);
  fd_check("attention.K", S, K.data(), K.size(), dK.data(), 40);
  fd_check("attention.V", S, V.data(), V.size(), dV.data(), 40);
  // masked keys (padded encoder steps of sample 1) get nothing
  for (int t = 2; t < E; ++t)
    for (int k = 0; k < hd; ++k) EXPECT_EQ(dK[(size_t(1) * T + t) * hd + k], 0.0f);
}

TEST(GradFiniteDifference, WholeNetworkLossWithDropoutAndRaggedBatch) {
  nlohmann::json manifest = nlohmann::json::parse(SafeTensors::load(testing::golden("tft_tiny.safetensors")).metadata().at("config"));
  manifest["model"]["hidden_size"] = 8;
  manifest["model"]["attention_head_size"] = 2;
  manifest["model"]["head_dim"] = 4;
  manifest["model"]["hidden_continuous_size"] = 8;  // c = H: single-variable GRNs without resample
  Model model(ModelConfig::from_manifest(manifest));
  auto P = randn(model.table().total(), 30, 0.3f);
  for (const auto& s : model.table().specs()) {
    if (s.name.size() > 11 && s.name.compare(s.name.size() - 11, 11, "norm.weight") == 0)
      for (size_t i = 0; i < s.numel; ++i) P[s.offset + i] += 1.0f;
    if (s.name.rfind("input_embeddings.", 0) == 0)
      for (int j = 0; j < s.shape[1]; ++j) P[s.offset + size_t(j)] = 0.0f;
  }
  auto batch = testing::random_batch(model, 3, 7, 4, 31, true);
  // Targets far above every output: the loss is then linear in z (no pinball kink can be crossed
  // by a finite-difference step), while dL/dz is still the full §11 gradient. The kink and tie
  // rule are tested on their own (GradModules.QuantileLoss...).
  auto y = randn(size_t(3) * 4 * 14, 32);
  for (auto& v : y) v += 50.0f;
  TrainingGraph graph(model);
  TrainStepOptions opt;
  opt.dropout = 0.2f;
  opt.seed = 99;
  auto S = [&] { return graph.forward(P.data(), batch.inputs(), y.data(), opt); };
  S();
  std::vector<float> G(P.size(), 0.0f), dx(batch.x_cont.size(), 0.0f);
  graph.backward(G.data(), dx.data());
  fd_check("tft.params", S, P.data(), P.size(), G.data(), 150, 1e-2f, 2e-3, 5e-2);
  fd_check("tft.x_cont", S, batch.x_cont.data(), batch.x_cont.size(), dx.data(), 60, 1e-2f, 2e-3, 5e-2);
}

}  // namespace
}  // namespace nordiq::tft
