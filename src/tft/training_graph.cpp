#include "tft/training_graph.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "tft/backward.hpp"
#include "tft/gemm.hpp"
#include "tft/grad_gemm.hpp"
#include "tft/layers.hpp"
#include "tft/loss.hpp"

namespace nordiq::tft {
namespace {

using grad::Arena;
using grad::Ctx;
using grad::GanAct;
using grad::GrnAct;
using grad::ResAct;

// A VSN application (§4): which input steps its rows read, plus the block's activations.
struct VsnAct {
  int rows = 0, T = 0, step0 = 0, steps = 0;  // row (b, t) reads input step step0 + t
  const int32_t* valid = nullptr;             // per server: steps at or past it are padding
  float* flat = nullptr;                      // F [rows, S]
  grad::VsnAct act;
  float* out = nullptr;
};

GateAddNormW post_lstm_gate(const TftWeights& w, int H) {
  GateAddNormW g;
  g.glu = w.post_lstm_glu;
  g.norm = w.post_lstm_norm;
  g.out = H;
  return g;
}

}  // namespace

struct TrainingGraph::Impl {
  const Model& model;
  std::map<std::pair<int, int>, nn::InterpTable> interp;
  std::vector<float> kappa, PT, enc_bias, dec_bias;  // PT: transposed weights, as the engine reads them
  Arena acts, scratch;
  grad::Rng rng;
  Ctx ctx;
  ForwardInputs in;
  const float* y = nullptr;
  double normaliser = 0, loss_value = 0;
  std::vector<double> per_target;

  // activations
  VsnAct s_vsn, e_vsn, d_vsn;
  GrnAct cgrn[4];
  float *vsn_all, *enc_gates, *dec_gates, *enc_cells, *dec_cells, *lstm_out, *h_state, *c_state, *enc_h, *enc_c, *lstm_scratch;
  GanAct post_lstm;
  GrnAct enrich;
  float *theta_dec, *phi_dec, *Q, *K, *V, *heads, *heads_mask, *mean, *probs, *attn_pre, *attn_mask;
  const float* attn_out;
  GanAct post_attn;
  GrnAct pos_ff;
  GanAct pre_out;
  float* z;

  explicit Impl(const Model& m) : model(m) {
    const TftWeights& w = m.weights();
    for (const VsnW* v : {&w.static_vsn, &w.encoder_vsn, &w.decoder_vsn}) {
      nn::add_interp_tables(interp, v->flat);
      for (const auto& var : v->vars) {
        if (var.categorical) {
          if (var.cat_norm.in != var.cat_norm.out && !interp.count({var.cat_norm.in, var.cat_norm.out}))
            interp[{var.cat_norm.in, var.cat_norm.out}] = nn::InterpTable::make(var.cat_norm.in, var.cat_norm.out);
        } else {
          nn::add_interp_tables(interp, var.grn);
        }
      }
    }
    for (const GrnW* g : {&w.ctx_variable_selection, &w.ctx_initial_hidden, &w.ctx_initial_cell, &w.ctx_enrichment,
                          &w.static_enrichment, &w.pos_wise_ff})
      nn::add_interp_tables(interp, *g);
    kappa.assign(m.table().total(), 0.0f);
    PT.assign(m.table().total(), 0.0f);
    ctx.interp = &interp;
    ctx.eps = m.config().layer_norm_eps;
    ctx.rng = &rng;
    ctx.acts = &acts;
    ctx.scratch = &scratch;
  }

  void validate(const ForwardInputs& x) const {
    const ModelConfig& c = model.config();
    auto bad = [](const std::string& msg) { throw std::invalid_argument("tft training batch: " + msg); };
    if (x.batch < 1) bad("batch must be ≥ 1");
    if (x.encoder_steps < 1 || x.decoder_steps < 1)
      bad(fmt::format("encoder/decoder steps must be ≥ 1, got {}/{}", x.encoder_steps, x.decoder_steps));
    if ((!x.x_cat && c.n_cat() > 0) || !x.x_cont || !x.encoder_lengths || !x.decoder_lengths)
      bad("x_cat, x_cont, encoder_lengths and decoder_lengths are required");
    const int T = x.encoder_steps + x.decoder_steps;
    const TftWeights& w = model.weights();
    for (int b = 0; b < x.batch; ++b) {
      const int le = x.encoder_lengths[b], ld = x.decoder_lengths[b];
      if (le < 1 || le > x.encoder_steps) bad(fmt::format("encoder_lengths[{}] = {} outside 1..{}", b, le, x.encoder_steps));
      if (ld < 1 || ld > x.decoder_steps) bad(fmt::format("decoder_lengths[{}] = {} outside 1..{}", b, ld, x.decoder_steps));
      auto check = [&](const VsnW& v, int t0, int t1) {
        for (int t = t0; t < t1; ++t) {
          const size_t cell = size_t(b) * T + size_t(t);
          for (const auto& var : v.vars) {
            if (var.categorical) {
              const int code = x.x_cat[cell * size_t(c.n_cat()) + size_t(var.source)];
              if (code < 0 || code >= var.classes)
                bad(fmt::format("x_cat[{},{},{}] ({}) = {} outside 0..{}", b, t, var.source, var.name, code, var.classes - 1));
            } else if (!std::isfinite(x.x_cont[cell * size_t(c.n_real()) + size_t(var.source)])) {
              bad(fmt::format("x_cont[{},{},{}] ({}) is not finite", b, t, var.source, var.name));
            }
          }
        }
      };
      check(w.static_vsn, 0, 1);
      check(w.encoder_vsn, 0, le);
      check(w.decoder_vsn, x.encoder_steps, T);
    }
  }

  void prepare(const float* P) {
    const ModelConfig& c = model.config();
    const TftWeights& w = model.weights();
    const int H = c.hidden;
    nn::prepare_kappa(model.table(), P, kappa.data());
    // The same derived weights as the engine's, so the narrow layers take the same GEMM kernel
    // (gemm::kmajor) and training and serving compute the same numbers.
    nn::prepare_transposed(model.table(), P, PT.data());
    auto lstm_bias = [&](const LstmW& l, std::vector<float>& bias) {
      bias.resize(size_t(4) * H);
      for (int n = 0; n < 4 * H; ++n) bias[size_t(n)] = P[l.ih.b + size_t(n)] + P[l.hh.b + size_t(n)];
    };
    lstm_bias(w.lstm_encoder, enc_bias);
    lstm_bias(w.lstm_decoder, dec_bias);
    ctx.P = P;
    ctx.kappa = kappa.data();
    ctx.PT = PT.data();
  }

  // ---- VSN ----------------------------------------------------------------------------------
  void vsn_forward(VsnAct& a, const VsnW& v, int step0, int steps, const int32_t* valid, const float* context,
                   int rows_per_ctx) {
    const ModelConfig& c = model.config();
    const int B = in.batch, T = in.encoder_steps + in.decoder_steps, H = c.hidden, S = v.flat_width;
    a.rows = B * steps;
    a.T = T;
    a.step0 = step0;
    a.steps = steps;
    a.valid = valid;
    a.flat = acts.take(size_t(a.rows) * S);
    nn::vsn_gather(a.flat, v, ctx.P, in.x_cat, c.n_cat(), in.x_cont, c.n_real(), T, B, step0, steps, valid);
    grad::vsn_train_forward(a.act, a.flat, a.rows, context, rows_per_ctx, v, H, ctx);
    a.out = a.act.out();
  }

  void vsn_backward(const VsnAct& a, const VsnW& v, const float* dy, float* dcontext, float* G, float* dx_cont) {
    const ModelConfig& c = model.config();
    const int H = c.hidden, S = v.flat_width, rows = a.rows;
    const size_t mark = scratch.mark();
    float* dF = scratch.take_zero(size_t(rows) * S);
    grad::vsn_backward(dF, dcontext, dy, a.act, v, H, ctx, G);
    // Prescalers Lin(1→c) and embeddings (§4, §3.10); padded steps read 0 / code 0 → nothing.
    const int B = in.batch, T = a.T, nc = c.n_cat(), nr = c.n_real();
    for (int b = 0; b < B; ++b) {
      const int valid = a.valid ? a.valid[b] : a.steps;
      for (int t = 0; t < std::min(valid, a.steps); ++t) {
        const size_t cell = size_t(b) * T + size_t(a.step0 + t);
        const float* row = dF + (size_t(b) * a.steps + t) * S;
        for (const auto& var : v.vars) {
          const float* d = row + var.flat_offset;
          if (var.categorical) {
            const int code = in.x_cat[cell * nc + size_t(var.source)];
            if (code == 0) continue;  // padding_idx: row 0 is never trained
            float* ge = G + var.embedding + size_t(code) * var.width;
            for (int j = 0; j < var.width; ++j) ge[j] += d[j];
          } else {
            const float x = in.x_cont[cell * nr + size_t(var.source)];
            const float* wp = ctx.P + var.prescaler.w;
            float* gw = G + var.prescaler.w;
            float* gb = G + var.prescaler.b;
            float dxv = 0.0f;
            for (int j = 0; j < var.width; ++j) {
              gw[j] += d[j] * x;
              gb[j] += d[j];
              dxv += d[j] * wp[j];
            }
            if (dx_cont) dx_cont[cell * nr + size_t(var.source)] += dxv;
          }
        }
      }
    }
    scratch.release(mark);
  }

  // ---- forward ------------------------------------------------------------------------------
  double forward(const float* P, const ForwardInputs& x, const float* targets, const TrainStepOptions& opt) {
    validate(x);
    gemm::pin_library_threads_to_one();
    in = x;
    y = targets;
    acts.reset();
    scratch.reset();
    prepare(P);
    ctx.dropout = opt.dropout;
    rng.state = opt.seed * 0x2545F4914F6CDD1Dull + 0x9E3779B97F4A7C15ull;
    const ModelConfig& c = model.config();
    const TftWeights& w = model.weights();
    const int B = x.batch, E = x.encoder_steps, D = x.decoder_steps, T = E + D, H = c.hidden, d = c.head_dim;
    const int nh = c.heads, hd = nh * d, KQ = c.n_targets() * c.n_quantiles();
    const int RE = B * E, RD = B * D, RT = B * T;

    vsn_forward(s_vsn, w.static_vsn, 0, 1, nullptr, nullptr, 1);
    const GrnW* cw[4] = {&w.ctx_variable_selection, &w.ctx_initial_hidden, &w.ctx_initial_cell, &w.ctx_enrichment};
    for (int i = 0; i < 4; ++i) grad::grn_train_forward(cgrn[i], s_vsn.out, H, B, nullptr, 1, *cw[i], ctx);
    const float* c_s = cgrn[0].out();
    vsn_forward(e_vsn, w.encoder_vsn, 0, E, x.encoder_lengths, c_s, E);
    vsn_forward(d_vsn, w.decoder_vsn, E, D, nullptr, c_s, D);
    vsn_all = acts.take(size_t(RT) * H);
    for (int b = 0; b < B; ++b) {
      std::memcpy(vsn_all + size_t(b) * T * H, e_vsn.out + size_t(b) * E * H, sizeof(float) * size_t(E) * H);
      std::memcpy(vsn_all + (size_t(b) * T + E) * H, d_vsn.out + size_t(b) * D * H, sizeof(float) * size_t(D) * H);
    }
    // LSTMs (§5): the recurrence of the inference engine, keeping gates and cells.
    enc_gates = acts.take(size_t(RE) * 4 * H);
    dec_gates = acts.take(size_t(RD) * 4 * H);
    enc_cells = acts.take(size_t(RE) * H);
    dec_cells = acts.take(size_t(RD) * H);
    lstm_out = acts.take(size_t(RT) * H);
    h_state = acts.take(size_t(B) * H);
    c_state = acts.take(size_t(B) * H);
    enc_h = acts.take(size_t(B) * H);
    enc_c = acts.take(size_t(B) * H);
    lstm_scratch = acts.take(size_t(B) * 4 * H);
    const float* PTd = PT.data();
    gemm::kmajor(gemm::Shape{RE, 4 * H, H, H, 4 * H, false}, e_vsn.out, PTd + w.lstm_encoder.ih.w, enc_bias.data(), enc_gates);
    std::memcpy(h_state, cgrn[1].out(), sizeof(float) * size_t(B) * H);
    std::memcpy(c_state, cgrn[2].out(), sizeof(float) * size_t(B) * H);
    nn::lstm_forward(lstm_out, size_t(T) * H, h_state, c_state, enc_gates, enc_cells, x.encoder_lengths, B, E, H, PTd + w.lstm_encoder.hh.w, lstm_scratch);
    std::memcpy(enc_h, h_state, sizeof(float) * size_t(B) * H);
    std::memcpy(enc_c, c_state, sizeof(float) * size_t(B) * H);
    gemm::kmajor(gemm::Shape{RD, 4 * H, H, H, 4 * H, false}, d_vsn.out, PTd + w.lstm_decoder.ih.w, dec_bias.data(), dec_gates);
    nn::lstm_forward(lstm_out + size_t(E) * H, size_t(T) * H, h_state, c_state, dec_gates, dec_cells, x.decoder_lengths, B, D, H, PTd + w.lstm_decoder.hh.w, lstm_scratch);
    // post-LSTM gate (dropout on its input), static enrichment
    grad::gan_forward(post_lstm, lstm_out, H, RT, vsn_all, H, post_lstm_gate(w, H), true, ctx);
    const float* phi = post_lstm.out;
    grad::grn_train_forward(enrich, phi, H, RT, cgrn[3].out(), T, w.static_enrichment, ctx);
    const float* theta = enrich.out();
    theta_dec = acts.take(size_t(RD) * H);
    phi_dec = acts.take(size_t(RD) * H);
    for (int b = 0; b < B; ++b) {
      std::memcpy(theta_dec + size_t(b) * D * H, theta + (size_t(b) * T + E) * H, sizeof(float) * size_t(D) * H);
      std::memcpy(phi_dec + size_t(b) * D * H, phi + (size_t(b) * T + E) * H, sizeof(float) * size_t(D) * H);
    }
    // attention (§6) with dropout on each head's output and after w_h (§8)
    Q = acts.take(size_t(RD) * hd);
    K = acts.take(size_t(RT) * hd);
    V = acts.take(size_t(RT) * d);
    for (int i = 0; i < nh; ++i) {
      nn::linear_forward(Q + i * d, hd, theta_dec, H, RD, w.attention.q[size_t(i)], P, false, PTd);
      nn::linear_forward(K + i * d, hd, theta, H, RT, w.attention.k[size_t(i)], P, false, PTd);
    }
    nn::linear_forward(V, d, theta, H, RT, w.attention.v, P, false, PTd);
    heads = acts.take(size_t(RD) * hd);
    mean = acts.take(size_t(RD) * d);
    probs = acts.take(size_t(RD) * nh * T);
    float* attn_scratch = acts.take(size_t(T) * (d + 1));
    nn::attention_forward(probs, heads, mean, Q, K, V, x.encoder_lengths, B, E, D, nh, d, attn_scratch);
    heads_mask = nullptr;
    if (ctx.dropout > 0.0f) {
      const float* dropped = grad::dropout_forward(heads, hd, RD, hd, heads_mask, ctx);
      for (int r = 0; r < RD; ++r)
        for (int k = 0; k < d; ++k) {
          float acc = 0.0f;
          for (int hh = 0; hh < nh; ++hh) acc += dropped[size_t(r) * hd + hh * d + k];
          mean[size_t(r) * d + k] = acc / static_cast<float>(nh);
        }
    }
    attn_pre = acts.take(size_t(RD) * H);
    nn::linear_forward(attn_pre, H, mean, d, RD, w.attention.w_h, P, false, PTd);
    attn_out = grad::dropout_forward(attn_pre, H, RD, H, attn_mask, ctx);
    grad::gan_forward(post_attn, attn_out, H, RD, theta_dec, H, w.post_attn, true, ctx);
    grad::grn_train_forward(pos_ff, post_attn.out, H, RD, nullptr, 1, w.pos_wise_ff, ctx);
    grad::gan_forward(pre_out, pos_ff.out(), H, RD, phi_dec, H, w.pre_output, false, ctx);
    z = acts.take(size_t(RD) * KQ);
    const int Qn = c.n_quantiles();
    for (int k = 0; k < c.n_targets(); ++k) nn::linear_forward(z + k * Qn, KQ, pre_out.out, H, RD, w.output_layers[size_t(k)], P, false, PTd);

    normaliser = opt.normaliser_steps;
    per_target.assign(size_t(c.n_targets()), 0.0);
    loss_value = targets ? quantile_loss(z, targets, x.decoder_lengths, c.quantiles.data(),
                                         {B, D, c.n_targets(), Qn}, normaliser, nullptr, per_target.data())
                         : 0.0;
    return loss_value;
  }

  // ---- backward -----------------------------------------------------------------------------
  void backward(float* G, float* dx_cont, const GradTraceSink* sink) {
    if (!y) throw std::logic_error("TrainingGraph::backward: the last forward had no targets");
    const ModelConfig& c = model.config();
    const TftWeights& w = model.weights();
    const float* P = ctx.P;
    const int B = in.batch, E = in.encoder_steps, D = in.decoder_steps, T = E + D, H = c.hidden, d = c.head_dim;
    const int nh = c.heads, hd = nh * d, Qn = c.n_quantiles(), KQ = c.n_targets() * Qn;
    const int RE = B * E, RD = B * D, RT = B * T;
    Arena& g = scratch;  // activation gradients live until the end of backward
    auto emit = [&](const std::string& name, std::vector<int64_t> shape, const float* data) {
      if (!sink) return;
      size_t n = 1;
      for (auto s : shape) n *= size_t(s);
      (*sink)(name, shape, std::span<const float>(data, n));
    };
    std::vector<float> part;
    auto split = [&](const float* src, int t0, int steps) {  // [B, T, H] → [B, steps, H]
      part.resize(size_t(B) * steps * H);
      for (int b = 0; b < B; ++b)
        std::memcpy(&part[size_t(b) * steps * H], src + (size_t(b) * T + t0) * H, sizeof(float) * size_t(steps) * H);
      return part.data();
    };

    float* dz = g.take(size_t(RD) * KQ);
    quantile_loss(z, y, in.decoder_lengths, c.quantiles.data(), {B, D, c.n_targets(), Qn}, normaliser, dz, nullptr);
    emit("gt.prediction_normalized", {B, D, c.n_targets(), Qn}, dz);
    float* domega = g.take_zero(size_t(RD) * H);
    for (int k = 0; k < c.n_targets(); ++k)
      grad::linear_backward(domega, H, G, dz + k * Qn, KQ, pre_out.out, H, RD, w.output_layers[size_t(k)], P);
    emit("gt.pre_output", {B, D, H}, domega);
    float* dpsi = g.take_zero(size_t(RD) * H);
    float* dphi_dec = g.take_zero(size_t(RD) * H);
    grad::gan_backward(dpsi, H, dphi_dec, H, domega, pre_out, w.pre_output, ctx, G);
    emit("gt.pos_wise_ff", {B, D, H}, dpsi);
    float* dalpha = g.take_zero(size_t(RD) * H);
    grad::grn_backward(dalpha, H, nullptr, dpsi, pos_ff, w.pos_wise_ff, ctx, G);
    emit("gt.post_attn", {B, D, H}, dalpha);
    float* dattn_out = g.take_zero(size_t(RD) * H);
    float* dtheta_dec = g.take_zero(size_t(RD) * H);
    grad::gan_backward(dattn_out, H, dtheta_dec, H, dalpha, post_attn, w.post_attn, ctx, G);
    emit("gt.attn.output", {B, D, H}, dattn_out);
    // attention
    float* dattn_pre = g.take_zero(size_t(RD) * H);
    grad::dropout_backward(dattn_pre, H, dattn_out, RD, H, attn_mask);
    float* dmean = g.take_zero(size_t(RD) * d);
    grad::linear_backward(dmean, d, G, dattn_pre, H, mean, d, RD, w.attention.w_h, P);
    float* dheads = g.take(size_t(RD) * hd);
    for (int r = 0; r < RD; ++r)
      for (int hh = 0; hh < nh; ++hh)
        for (int k = 0; k < d; ++k) {
          const size_t i = size_t(r) * hd + hh * d + k;
          dheads[i] = dmean[size_t(r) * d + k] / static_cast<float>(nh) * (heads_mask ? heads_mask[i] : 1.0f);
        }
    float* dQ = g.take_zero(size_t(RD) * hd);
    float* dK = g.take_zero(size_t(RT) * hd);
    float* dV = g.take_zero(size_t(RT) * d);
    grad::attention_backward(dQ, dK, dV, dheads, probs, Q, K, V, in.encoder_lengths, B, E, D, nh, d);
    const float* theta = enrich.out();
    float* dtheta = g.take_zero(size_t(RT) * H);
    for (int i = 0; i < nh; ++i) {
      grad::linear_backward(dtheta_dec, H, G, dQ + i * d, hd, theta_dec, H, RD, w.attention.q[size_t(i)], P);
      grad::linear_backward(dtheta, H, G, dK + i * d, hd, theta, H, RT, w.attention.k[size_t(i)], P);
    }
    grad::linear_backward(dtheta, H, G, dV, d, theta, H, RT, w.attention.v, P);
    for (int b = 0; b < B; ++b)
      for (size_t j = 0; j < size_t(D) * H; ++j) dtheta[(size_t(b) * T + E) * H + j] += dtheta_dec[size_t(b) * D * H + j];
    emit("gt.enriched", {B, T, H}, dtheta);
    // static enrichment → φ (plus the pre-output skip on decoder rows), c_e
    float* dphi = g.take_zero(size_t(RT) * H);
    float* dctx[4];
    for (auto& p : dctx) p = g.take_zero(size_t(B) * H);
    grad::grn_backward(dphi, H, dctx[3], dtheta, enrich, w.static_enrichment, ctx, G);
    for (int b = 0; b < B; ++b)
      for (size_t j = 0; j < size_t(D) * H; ++j) dphi[(size_t(b) * T + E) * H + j] += dphi_dec[size_t(b) * D * H + j];
    emit("gt.post_lstm", {B, T, H}, dphi);
    float* dlstm = g.take_zero(size_t(RT) * H);
    float* dvsn_all = g.take_zero(size_t(RT) * H);
    grad::gan_backward(dlstm, H, dvsn_all, H, dphi, post_lstm, post_lstm_gate(w, H), ctx, G);
    emit("gt.lstm_encoder.out", {B, E, H}, split(dlstm, 0, E));
    emit("gt.lstm_decoder.out", {B, D, H}, split(dlstm, E, D));
    // LSTMs: decoder first; its initial-state gradient is the encoder's final-state gradient
    float* de = g.take_zero(size_t(RE) * H);
    float* dd = g.take_zero(size_t(RD) * H);
    float* dh_enc = g.take_zero(size_t(B) * H);
    float* dc_enc = g.take_zero(size_t(B) * H);
    grad::lstm_backward(dd, dh_enc, dc_enc, dlstm + size_t(E) * H, size_t(T) * H, nullptr, nullptr, d_vsn.out, dec_gates,
                         dec_cells, lstm_out + size_t(E) * H, size_t(T) * H, enc_h, enc_c, in.decoder_lengths, B, D,
                         w.lstm_decoder, ctx, G);
    emit("gt.lstm_encoder.h_n", {B, H}, dh_enc);
    emit("gt.lstm_encoder.c_n", {B, H}, dc_enc);
    grad::lstm_backward(de, dctx[1], dctx[2], dlstm, size_t(T) * H, dh_enc, dc_enc, e_vsn.out, enc_gates, enc_cells,
                         lstm_out, size_t(T) * H, cgrn[1].out(), cgrn[2].out(), in.encoder_lengths, B, E, w.lstm_encoder,
                         ctx, G);
    for (int b = 0; b < B; ++b) {
      for (size_t j = 0; j < size_t(E) * H; ++j) de[size_t(b) * E * H + j] += dvsn_all[size_t(b) * T * H + j];
      for (size_t j = 0; j < size_t(D) * H; ++j) dd[size_t(b) * D * H + j] += dvsn_all[(size_t(b) * T + E) * H + j];
    }
    emit("gt.encoder_vsn.output", {B, E, H}, de);
    emit("gt.decoder_vsn.output", {B, D, H}, dd);
    vsn_backward(d_vsn, w.decoder_vsn, dd, dctx[0], G, dx_cont);
    vsn_backward(e_vsn, w.encoder_vsn, de, dctx[0], G, dx_cont);
    emit("gt.ctx_variable_selection", {B, H}, dctx[0]);
    emit("gt.ctx_initial_hidden", {B, H}, dctx[1]);
    emit("gt.ctx_initial_cell", {B, H}, dctx[2]);
    emit("gt.ctx_enrichment", {B, H}, dctx[3]);
    float* ds = g.take_zero(size_t(B) * H);
    const GrnW* cw[4] = {&w.ctx_variable_selection, &w.ctx_initial_hidden, &w.ctx_initial_cell, &w.ctx_enrichment};
    for (int i = 0; i < 4; ++i) grad::grn_backward(ds, H, nullptr, dctx[i], cgrn[i], *cw[i], ctx, G);
    emit("gt.static_embedding", {B, H}, ds);
    vsn_backward(s_vsn, w.static_vsn, ds, nullptr, G, dx_cont);
    scratch.reset();
  }
};

TrainingGraph::TrainingGraph(const Model& model) : impl_(std::make_unique<Impl>(model)) {}
TrainingGraph::~TrainingGraph() = default;

double TrainingGraph::forward(const float* P, const ForwardInputs& in, const float* y, const TrainStepOptions& options) {
  return impl_->forward(P, in, y, options);
}
void TrainingGraph::backward(float* G, float* dx_cont, const GradTraceSink* sink) { impl_->backward(G, dx_cont, sink); }
const float* TrainingGraph::prediction_normalized() const { return impl_->z; }
double TrainingGraph::loss() const { return impl_->loss_value; }
const std::vector<double>& TrainingGraph::loss_per_target() const { return impl_->per_target; }

}  // namespace nordiq::tft
