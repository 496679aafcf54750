// Block backward passes against modules.safetensors (golden README §4.4): each case's parameter
// gradients `g.*` and input gradients `gin.*` of S = Σ <out, dy>, with the README tolerance
// 1e-5 + 1e-4·max|ref|; plus the quantile loss with its exact ties.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "test_util.hpp"
#include "tft/backward.hpp"
#include "tft/grad_gemm.hpp"
#include "tft/layers.hpp"
#include "tft/loss.hpp"

namespace nordiq::tft {
namespace {

using testing::golden;

const SafeTensors& modules() {
  static const SafeTensors f = SafeTensors::load(golden("modules.safetensors"));
  return f;
}

void expect_close(const std::string& name, const float* got, const std::vector<float>& ref) {
  double maxabs = 0;
  for (float r : ref) maxabs = std::max(maxabs, double(std::fabs(r)));
  const double tol = 1e-5 + 1e-4 * maxabs;
  double worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double d = std::fabs(double(got[i]) - ref[i]);
    if (!(d <= worst)) worst = d, at = i;
  }
  EXPECT_LE(worst, tol) << name << " worst at " << at << ": got " << got[at] << " want " << ref[at];
}

// A block's parameters loaded from "<case>.w.", with a gradient buffer of the same layout.
struct Fixture {
  ParamTable table;
  std::vector<float> P, G, kappa;
  std::map<std::pair<int, int>, nn::InterpTable> interp;
  grad::Arena acts, scratch;
  grad::Rng rng;
  grad::Ctx ctx;
  std::string name;

  explicit Fixture(std::string case_name) : name(std::move(case_name)) {}
  void load() {
    P.assign(table.total(), 0.0f);
    G.assign(table.total(), 0.0f);
    kappa.assign(table.total(), 0.0f);
    load_params(table, modules(), name + ".w.", true, P.data());
    nn::prepare_kappa(table, P.data(), kappa.data());
    ctx.P = P.data();
    ctx.kappa = kappa.data();
    ctx.interp = &interp;
    ctx.acts = &acts;
    ctx.scratch = &scratch;
    ctx.rng = &rng;
  }
  void interp_for(int n, int m) {
    if (n != m && !interp.count({n, m})) interp[{n, m}] = nn::InterpTable::make(n, m);
  }
  std::vector<float> in(const std::string& x) const { return modules().f32(name + ".in." + x); }
  std::vector<float> ref(const std::string& x) const { return modules().f32(name + "." + x); }
  void check_params() const {
    for (const auto& s : table.specs()) expect_close(name + ".g." + s.name, G.data() + s.offset, ref("g." + s.name));
  }
};

TEST(GradModules, LayerNormBackwardMatchesTorch) {
  Fixture f("layer_norm");
  LayerNormW ln = add_layer_norm(f.table, "", 16);
  f.load();
  const auto x = f.in("x"), dy = f.ref("dy.y");
  const int rows = 15;
  std::vector<float> y(x.size()), dx(x.size(), 0.0f);
  nn::layer_norm_forward(y.data(), x.data(), rows, 16, f.P.data() + ln.w, f.P.data() + ln.b, 1e-5f);
  expect_close("layer_norm.out.y", y.data(), f.ref("out.y"));
  grad::layer_norm_backward(dx.data(), 16, f.G.data() + ln.w, f.G.data() + ln.b, dy.data(), x.data(), rows, 16, f.P.data() + ln.w, 1e-5f);
  expect_close("layer_norm.gin.x", dx.data(), f.ref("gin.x"));
  f.check_params();
}

TEST(GradModules, GateAddNormBackwardMatchesTorch) {
  Fixture f("gate_add_norm");
  GateAddNormW g = add_gate_add_norm(f.table, "", 12, 16);
  f.load();
  const auto x = f.in("x"), skip = f.in("skip"), dy = f.ref("dy.y");
  grad::GanAct a;
  grad::gan_forward(a, x.data(), 12, 15, skip.data(), 16, g, true, f.ctx);
  expect_close("gate_add_norm.out.y", a.out, f.ref("out.y"));
  std::vector<float> dx(x.size(), 0.0f), dskip(skip.size(), 0.0f);
  grad::gan_backward(dx.data(), 12, dskip.data(), 16, dy.data(), a, g, f.ctx, f.G.data());
  expect_close("gate_add_norm.gin.x", dx.data(), f.ref("gin.x"));
  expect_close("gate_add_norm.gin.skip", dskip.data(), f.ref("gin.skip"));
  f.check_params();
}

void grn_case(const std::string& name, int in, int hidden, int out, int ctx) {
  Fixture f(name);
  GrnW g = add_grn(f.table, "", in, hidden, out, ctx);
  f.interp_for(in, out);
  f.load();
  const auto x = f.in("x"), dy = f.ref("dy.y");
  std::vector<float> c = ctx ? f.in("context") : std::vector<float>{};
  grad::GrnAct a;
  grad::grn_train_forward(a, x.data(), in, 15, ctx ? c.data() : nullptr, 1, g, f.ctx);
  expect_close(name + ".out.y", a.out(), f.ref("out.y"));
  std::vector<float> dx(x.size(), 0.0f), dc(c.size(), 0.0f);
  grad::grn_backward(dx.data(), in, ctx ? dc.data() : nullptr, dy.data(), a, g, f.ctx, f.G.data());
  expect_close(name + ".gin.x", dx.data(), f.ref("gin.x"));
  if (ctx) expect_close(name + ".gin.context", dc.data(), f.ref("gin.context"));
  f.check_params();
}

TEST(GradModules, GrnWithResampleAndContextBackwardMatchesTorch) { grn_case("grn_resample_ctx", 10, 6, 16, 12); }
TEST(GradModules, GrnSameSizeBackwardMatchesTorch) { grn_case("grn_same", 16, 16, 16, 0); }

// VSN over prescaled reals (and an embedding-like categorical input): the prescalers Lin(1→c)
// run here exactly as the training graph runs them (F = x·w + b; dw += dF·x, dx = <dF, w>).
void vsn_case(const std::string& name, const std::vector<std::pair<std::string, int>>& vars, int rows, int ctx) {
  Fixture f(name);
  const int H = 16;
  VsnW v;
  std::vector<LinearW> pre(vars.size());
  for (size_t i = 0; i < vars.size(); ++i) {
    const auto& [vn, width] = vars[i];
    VsnVarW var;
    var.name = vn;
    var.width = width;
    var.flat_offset = v.flat_width;
    var.categorical = vn == "cat";
    if (var.categorical) {
      var.cat_norm = add_resample_norm(f.table, "single_variable_grns." + vn + ".", width, H);
      f.interp_for(width, H);
    } else {
      pre[i] = add_linear(f.table, "prescalers." + vn + ".", 1, width);
      var.grn = add_grn(f.table, "single_variable_grns." + vn + ".", width, std::min(width, H), H, 0);
      f.interp_for(width, H);
    }
    v.flat_width += width;
    v.vars.push_back(var);
  }
  v.flat = add_grn(f.table, "flattened_grn.", v.flat_width, std::min(H, v.n()), v.n(), ctx);
  f.interp_for(v.flat_width, v.n());
  f.load();
  const int S = v.flat_width;
  std::vector<float> F(size_t(rows) * S);
  std::vector<std::vector<float>> xs(vars.size());
  for (size_t i = 0; i < vars.size(); ++i) {
    xs[i] = f.in(vars[i].first);
    const auto& var = v.vars[i];
    for (int r = 0; r < rows; ++r)
      for (int j = 0; j < var.width; ++j)
        F[size_t(r) * S + var.flat_offset + j] =
            var.categorical ? xs[i][size_t(r) * var.width + j] : xs[i][size_t(r)] * f.P[pre[i].w + j] + f.P[pre[i].b + j];
  }
  std::vector<float> c = ctx ? f.in("context") : std::vector<float>{};
  grad::VsnAct a;
  grad::vsn_train_forward(a, F.data(), rows, ctx ? c.data() : nullptr, 1, v, H, f.ctx);
  expect_close(name + ".out.y", a.out(), f.ref("out.y"));
  expect_close(name + ".out.weights", a.act.weights, f.ref("out.weights"));
  std::vector<float> dF(F.size(), 0.0f), dc(c.size(), 0.0f);
  grad::vsn_backward(dF.data(), ctx ? dc.data() : nullptr, f.ref("dy.y").data(), a, v, H, f.ctx, f.G.data());
  for (size_t i = 0; i < vars.size(); ++i) {
    const auto& var = v.vars[i];
    std::vector<float> gin(xs[i].size(), 0.0f);
    for (int r = 0; r < rows; ++r)
      for (int j = 0; j < var.width; ++j) {
        const float d = dF[size_t(r) * S + var.flat_offset + j];
        if (var.categorical) {
          gin[size_t(r) * var.width + j] = d;
        } else {
          f.G[pre[i].w + j] += d * xs[i][size_t(r)];
          f.G[pre[i].b + j] += d;
          gin[size_t(r)] += d * f.P[pre[i].w + j];
        }
      }
    expect_close(name + ".gin." + vars[i].first, gin.data(), f.ref("gin." + vars[i].first));
  }
  if (ctx) expect_close(name + ".gin.context", dc.data(), f.ref("gin.context"));
  f.check_params();
}

TEST(GradModules, VsnWithContextBackwardMatchesTorch) { vsn_case("vsn3_ctx", {{"a", 8}, {"b", 8}, {"c", 8}}, 15, 16); }
TEST(GradModules, StaticMixedVsnBackwardMatchesTorch) { vsn_case("vsn_static_mixed", {{"cat", 5}, {"r1", 8}, {"r2", 8}}, 4, 0); }

TEST(GradModules, RaggedLstmBackwardMatchesTorchIncludingFinalStateGradients) {
  Fixture f("lstm_ragged");
  const int In = 6, H = 8, B = 3, T = 7;
  LstmW w;
  w.hidden = H;
  // torch's LSTM names (weight_ih_l0, ...), in the layout of TftWeights::LstmW
  w.ih.in = In, w.ih.out = 4 * H, w.hh.in = H, w.hh.out = 4 * H;
  w.ih.w = f.table.add("weight_ih_l0", {4 * H, In});
  w.hh.w = f.table.add("weight_hh_l0", {4 * H, H});
  w.ih.b = f.table.add("bias_ih_l0", {4 * H});
  w.hh.b = f.table.add("bias_hh_l0", {4 * H});
  f.load();
  const auto x = f.in("x"), h0 = f.in("h0"), c0 = f.in("c0");
  std::vector<int32_t> len;
  for (auto l : modules().i64("lstm_ragged.in.lengths")) len.push_back(int32_t(l));
  // forward with the inference kernel (gates = x W_ihᵀ + b_ih + b_hh)
  std::vector<float> gates(size_t(B) * T * 4 * H), cells(size_t(B) * T * H), out(size_t(B) * T * H), whh_t(size_t(H) * 4 * H),
      bias(size_t(4) * H), scratch(size_t(B) * 4 * H);
  for (int n = 0; n < 4 * H; ++n) {
    bias[size_t(n)] = f.P[w.ih.b + size_t(n)] + f.P[w.hh.b + size_t(n)];
    for (int k = 0; k < H; ++k) whh_t[size_t(k) * 4 * H + n] = f.P[w.hh.w + size_t(n) * H + k];
  }
  LinearW ihb = w.ih;
  for (int r = 0; r < B * T; ++r)
    for (int n = 0; n < 4 * H; ++n) {
      float acc = bias[size_t(n)];
      for (int k = 0; k < In; ++k) acc += x[size_t(r) * In + k] * f.P[ihb.w + size_t(n) * In + k];
      gates[size_t(r) * 4 * H + n] = acc;
    }
  std::vector<float> h = h0, c = c0;
  nn::lstm_forward(out.data(), size_t(T) * H, h.data(), c.data(), gates.data(), cells.data(), len.data(), B, T, H, whh_t.data(), scratch.data());
  expect_close("lstm_ragged.out.out", out.data(), f.ref("out.out"));
  expect_close("lstm_ragged.out.h_n", h.data(), f.ref("out.h_n"));
  expect_close("lstm_ragged.out.c_n", c.data(), f.ref("out.c_n"));
  std::vector<float> dx(x.size(), 0.0f), dh0(h0.size(), 0.0f), dc0(c0.size(), 0.0f);
  // dy.h_n / dy.c_n arrive at each sequence's own final state (after step ℓ−1)
  auto dout = f.ref("dy.out");
  const auto dhn = f.ref("dy.h_n"), dcn = f.ref("dy.c_n");
  grad::lstm_backward(dx.data(), dh0.data(), dc0.data(), dout.data(), size_t(T) * H, dhn.data(), dcn.data(), x.data(), gates.data(),
                       cells.data(), out.data(), size_t(T) * H, h0.data(), c0.data(), len.data(), B, T, w, f.ctx, f.G.data());
  expect_close("lstm_ragged.gin.x", dx.data(), f.ref("gin.x"));
  expect_close("lstm_ragged.gin.h0", dh0.data(), f.ref("gin.h0"));
  expect_close("lstm_ragged.gin.c0", dc0.data(), f.ref("gin.c0"));
  f.check_params();
}

TEST(GradModules, MaskedAttentionBackwardMatchesTorch) {
  Fixture f("imha_mask");
  const int B = 2, E = 6, D = 4, T = E + D, H = 16, nh = 4, d = 4, hd = nh * d;
  AttentionW a;
  a.heads = nh;
  a.d = d;
  for (int i = 0; i < nh; ++i) {
    a.q.push_back(add_linear(f.table, "q_layers." + std::to_string(i) + ".", H, d));
    a.k.push_back(add_linear(f.table, "k_layers." + std::to_string(i) + ".", H, d));
  }
  a.v = add_linear(f.table, "v_layer.", H, d);
  a.w_h = add_linear(f.table, "w_h.", d, H, false);
  f.load();
  const auto q_in = f.in("q"), kv = f.in("kv"), dy = f.ref("dy.y");
  const std::vector<int32_t> enc = {6, 3};
  std::vector<float> Q(size_t(B) * D * hd), K(size_t(B) * T * hd), V(size_t(B) * T * d);
  for (int i = 0; i < nh; ++i) {
    nn::linear_forward(Q.data() + i * d, hd, q_in.data(), H, B * D, a.q[size_t(i)], f.P.data());
    nn::linear_forward(K.data() + i * d, hd, kv.data(), H, B * T, a.k[size_t(i)], f.P.data());
  }
  nn::linear_forward(V.data(), d, kv.data(), H, B * T, a.v, f.P.data());
  std::vector<float> probs(size_t(B) * D * nh * T), heads(size_t(B) * D * hd), mean(size_t(B) * D * d), y(size_t(B) * D * H),
      scr(size_t(T) * (d + 1));
  nn::attention_forward(probs.data(), heads.data(), mean.data(), Q.data(), K.data(), V.data(), enc.data(), B, E, D, nh, d, scr.data());
  nn::linear_forward(y.data(), H, mean.data(), d, B * D, a.w_h, f.P.data());
  expect_close("imha_mask.out.y", y.data(), f.ref("out.y"));
  expect_close("imha_mask.out.attention", probs.data(), f.ref("out.attention"));
  std::vector<float> dmean(mean.size(), 0.0f), dheads(heads.size()), dQ(Q.size(), 0.0f), dK(K.size(), 0.0f), dV(V.size(), 0.0f);
  grad::linear_backward(dmean.data(), d, f.G.data(), dy.data(), H, mean.data(), d, B * D, a.w_h, f.P.data());
  for (size_t r = 0; r < size_t(B) * D; ++r)
    for (int hh = 0; hh < nh; ++hh)
      for (int k = 0; k < d; ++k) dheads[r * hd + size_t(hh) * d + k] = dmean[r * d + k] / float(nh);
  grad::attention_backward(dQ.data(), dK.data(), dV.data(), dheads.data(), probs.data(), Q.data(), K.data(), V.data(), enc.data(), B, E,
                            D, nh, d);
  std::vector<float> dq(q_in.size(), 0.0f), dkv(kv.size(), 0.0f);
  for (int i = 0; i < nh; ++i) {
    grad::linear_backward(dq.data(), H, f.G.data(), dQ.data() + i * d, hd, q_in.data(), H, B * D, a.q[size_t(i)], f.P.data());
    grad::linear_backward(dkv.data(), H, f.G.data(), dK.data() + i * d, hd, kv.data(), H, B * T, a.k[size_t(i)], f.P.data());
  }
  grad::linear_backward(dkv.data(), H, f.G.data(), dV.data(), d, kv.data(), H, B * T, a.v, f.P.data());
  expect_close("imha_mask.gin.q", dq.data(), f.ref("gin.q"));
  expect_close("imha_mask.gin.kv", dkv.data(), f.ref("gin.kv"));
  f.check_params();
}

TEST(GradModules, QuantileLossAndItsTieRuleMatchTorch) {
  const SafeTensors& m = modules();
  const auto z = m.f32("quantile_loss.in.z"), y = m.f32("quantile_loss.in.y");
  std::vector<int32_t> len;
  for (auto l : m.i64("quantile_loss.in.decoder_lengths")) len.push_back(int32_t(l));
  const std::vector<float> q = {0.02f, 0.1f, 0.25f, 0.5f, 0.75f, 0.9f, 0.98f};
  std::vector<float> dz(z.size());
  const double loss = quantile_loss(z.data(), y.data(), len.data(), q.data(), {3, 6, 1, 7}, 0, dz.data(), nullptr);
  EXPECT_NEAR(loss, m.f32("quantile_loss.out.loss")[0], 1e-5 * std::fabs(loss));
  expect_close("quantile_loss.gin.z", dz.data(), m.f32("quantile_loss.gin.z"));
  // the two exact ties get (1 − 2q)/(Q·Σℓ): not either one-sided value
  const float n = 7.0f * (6 + 4 + 2);
  EXPECT_FLOAT_EQ(dz[size_t(0 * 6 + 0) * 7 + 3], (1.0f - 2 * 0.5f) / n);
  EXPECT_FLOAT_EQ(dz[size_t(1 * 6 + 2) * 7 + 0], (1.0f - 2 * 0.02f) / n);
}

}  // namespace
}  // namespace nordiq::tft
