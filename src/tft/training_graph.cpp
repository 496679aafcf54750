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
#include "tft/network.hpp"

namespace nordiq::tft {
namespace {

using grad::Arena;
using grad::Ctx;
using grad::GanAct;
using grad::GrnAct;

// A VSN application (§4): which input steps its rows read, plus the block's activations.
struct VsnView {
  int T = 0, step0 = 0, steps = 0;  // row (b, t) reads input step step0 + t
  const int32_t* valid = nullptr;   // per server: steps at or past it are padding
  grad::VsnAct act;
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
  Derived der;      // derived from the parameters of each forward
  nn::Prepared prep;
  Workspace ws;     // every activation of the last forward (tft/network.hpp)
  Arena scratch;    // the backward's temporaries
  grad::Rng rng;
  Ctx ctx;
  ForwardInputs in;
  const float* y = nullptr;
  double normaliser = 0, loss_value = 0;
  std::vector<double> per_target;

  explicit Impl(const Model& m) : model(m), der(m) {
    ctx.interp = &der.interp;
    ctx.eps = m.config().layer_norm_eps;
    ctx.rng = &rng;
    ctx.acts = &scratch;
    ctx.scratch = &scratch;
  }

  void validate(const ForwardInputs& x) const {
    if (x.batch < 1) throw std::invalid_argument("tft training batch: batch must be ≥ 1");
    validate_inputs(model, x, "tft training batch");
  }

  // The VSN of steps step0.. of each server as run_network ran it.
  VsnView vsn_view(const nn::VsnActs& acts, const float* flat, const VsnW& v, int step0, int steps, const int32_t* valid,
                   const float* context) const {
    VsnView view{in.encoder_steps + in.decoder_steps, step0, steps, valid, {}};
    view.act.rows = in.batch * steps;
    view.act.rows_per_ctx = steps;
    view.act.flat = flat;
    view.act.ctx = v.flat.ctx ? context : nullptr;
    view.act.act = acts;
    return view;
  }

  void vsn_backward(const VsnView& a, const VsnW& v, const float* dy, float* dcontext, float* G, float* dx_cont) {
    const ModelConfig& c = model.config();
    const int H = c.hidden, S = v.flat_width, rows = a.act.rows;
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
  // The network's one forward (tft/network.hpp), unfolded, keeping what the backward reads.
  double forward(const float* P, const ForwardInputs& x, const float* targets, const TrainStepOptions& opt) {
    validate(x);
    gemm::pin_library_threads_to_one();
    in = x;
    y = targets;
    scratch.reset();
    der.update(model, P, false);
    prep = der.prepared(model, P);
    prep.dropout = opt.dropout;
    prep.rng = &rng;
    rng.state = opt.seed * 0x2545F4914F6CDD1Dull + 0x9E3779B97F4A7C15ull;
    ctx.P = P;
    ctx.kappa = der.kappa.data();
    ctx.PT = der.PT.data();
    ctx.dropout = opt.dropout;
    ws.ensure(model, der.folds, x.batch, x.encoder_steps, x.decoder_steps, false, nn::Keep{true, opt.dropout > 0.0f});
    run_network(ws, model, P, der, prep, x, ForwardOutputs{}, 0, x.batch, nullptr, nullptr);

    const ModelConfig& c = model.config();
    normaliser = opt.normaliser_steps;
    per_target.assign(size_t(c.n_targets()), 0.0);
    loss_value = targets ? quantile_loss(ws.z, targets, x.decoder_lengths, c.quantiles.data(),
                                         {x.batch, x.decoder_steps, c.n_targets(), c.n_quantiles()}, normaliser, nullptr,
                                         per_target.data())
                         : 0.0;
    return loss_value;
  }

  // ---- backward -----------------------------------------------------------------------------
  // §12 in the forward's reverse order, one phase per part of the network. Activation gradients
  // live in the scratch arena until the end; parameter gradients accumulate into G.
  struct Grads {
    float *dtheta_dec, *dphi_dec, *dattn_out;  // from the output layers back to the attention
    float *dtheta;                             // the enrichment's output, every step
    float *dctx[4];                            // the four static contexts
    float *dlstm, *dvsn_all;                   // the LSTMs' outputs, the VSNs' (skip of the post-LSTM gate)
    float *de, *dd;                            // the encoder / decoder VSNs' outputs
  };

  void backward(float* G, float* dx_cont, const GradTraceSink* sink) {
    if (!y) throw std::logic_error("TrainingGraph::backward: the last forward had no targets");
    sink_ = sink;
    Grads gr{};
    output_backward(gr, G);
    attention_backward(gr, G);
    enrichment_backward(gr, G);
    lstm_backward(gr, G);
    inputs_backward(gr, G, dx_cont);
    scratch.reset();
  }

  const GradTraceSink* sink_ = nullptr;
  void emit(const std::string& name, std::vector<int64_t> shape, const float* data) const {
    if (!sink_) return;
    size_t n = 1;
    for (auto s : shape) n *= size_t(s);
    (*sink_)(name, shape, std::span<const float>(data, n));
  }
  // [B, T, H] → its steps t0.. (a copy, for the trace)
  std::vector<float> part_;
  const float* split(const float* src, int t0, int steps) {
    const int B = in.batch, T = in.encoder_steps + in.decoder_steps, H = model.config().hidden;
    part_.resize(size_t(B) * steps * H);
    for (int b = 0; b < B; ++b)
      std::memcpy(&part_[size_t(b) * steps * H], src + (size_t(b) * T + t0) * H, sizeof(float) * size_t(steps) * H);
    return part_.data();
  }
  // dst[b, dst_t0 + t, :] += src[b, src_t0 + t, :] for t < steps, per server b (tensors of [B, steps, H]).
  void add_steps(float* dst, int dst_steps, int dst_t0, const float* src, int src_steps, int src_t0, int steps) const {
    const int H = model.config().hidden;
    for (int b = 0; b < in.batch; ++b) {
      float* o = dst + (size_t(b) * dst_steps + dst_t0) * H;
      const float* i = src + (size_t(b) * src_steps + src_t0) * H;
      for (size_t j = 0; j < size_t(steps) * H; ++j) o[j] += i[j];
    }
  }

  // The quantile loss, the output layers, the pre-output gate, the position-wise GRN and the
  // post-attention gate (a gate's view: its input as the GLU read it, the mask, the GLU's linear
  // output, the LayerNorm's input, the output).
  void output_backward(Grads& gr, float* G) {
    const ModelConfig& c = model.config();
    const TftWeights& w = model.weights();
    const Workspace& f = ws;
    const int B = in.batch, D = in.decoder_steps, H = c.hidden, Qn = c.n_quantiles(), KQ = c.n_targets() * Qn, RD = B * D;
    float* dz = scratch.take(size_t(RD) * KQ);
    quantile_loss(f.z, y, in.decoder_lengths, c.quantiles.data(), {B, D, c.n_targets(), Qn}, normaliser, dz, nullptr);
    emit("gt.prediction_normalized", {B, D, c.n_targets(), Qn}, dz);
    float* domega = scratch.take_zero(size_t(RD) * H);
    for (int k = 0; k < c.n_targets(); ++k)
      grad::linear_backward(domega, H, G, dz + k * Qn, KQ, f.omega, H, RD, w.output_layers[size_t(k)], ctx.P);
    emit("gt.pre_output", {B, D, H}, domega);
    float* dpsi = scratch.take_zero(size_t(RD) * H);
    gr.dphi_dec = scratch.take_zero(size_t(RD) * H);
    const GanAct pre_out{f.pos_ff.out, nullptr, f.pre_glu, f.pre_pre, f.omega, H, RD};
    grad::gan_backward(dpsi, H, gr.dphi_dec, H, domega, pre_out, w.pre_output, ctx, G);
    emit("gt.pos_wise_ff", {B, D, H}, dpsi);
    float* dalpha = scratch.take_zero(size_t(RD) * H);
    grad::grn_backward(dalpha, H, nullptr, dpsi, GrnAct{f.alpha, nullptr, H, RD, 1, f.pos_ff}, w.pos_wise_ff, ctx, G);
    emit("gt.post_attn", {B, D, H}, dalpha);
    gr.dattn_out = scratch.take_zero(size_t(RD) * H);
    gr.dtheta_dec = scratch.take_zero(size_t(RD) * H);
    const float* attn_in = ctx.dropout > 0.0f ? f.post_attn_in : f.attn_out;  // as the gate's GLU read it
    const GanAct post_attn{attn_in, f.post_attn_mask, f.post_attn_glu, f.post_attn_pre, f.alpha, H, RD};
    grad::gan_backward(gr.dattn_out, H, gr.dtheta_dec, H, dalpha, post_attn, w.post_attn, ctx, G);
    emit("gt.attn.output", {B, D, H}, gr.dattn_out);
  }

  // w_h and its dropout, the heads' mean and dropout, the attention core, the Q/K/V projections.
  void attention_backward(Grads& gr, float* G) {
    const ModelConfig& c = model.config();
    const TftWeights& w = model.weights();
    const Workspace& f = ws;
    const int B = in.batch, E = in.encoder_steps, D = in.decoder_steps, T = E + D, H = c.hidden, d = c.head_dim;
    const int nh = c.heads, hd = nh * d, RD = B * D, RT = B * T;
    float* dattn_pre = scratch.take_zero(size_t(RD) * H);
    grad::dropout_backward(dattn_pre, H, gr.dattn_out, RD, H, f.attn_mask);
    float* dmean = scratch.take_zero(size_t(RD) * d);
    grad::linear_backward(dmean, d, G, dattn_pre, H, f.heads_mean, d, RD, w.attention.w_h, ctx.P);
    float* dheads = scratch.take(size_t(RD) * hd);
    for (int r = 0; r < RD; ++r)
      for (int hh = 0; hh < nh; ++hh)
        for (int k = 0; k < d; ++k) {
          const size_t i = size_t(r) * hd + hh * d + k;
          dheads[i] = dmean[size_t(r) * d + k] / static_cast<float>(nh) * (f.heads_mask ? f.heads_mask[i] : 1.0f);
        }
    float* dQ = scratch.take_zero(size_t(RD) * hd);
    float* dK = scratch.take_zero(size_t(RT) * hd);
    float* dV = scratch.take_zero(size_t(RT) * d);
    grad::attention_backward(dQ, dK, dV, dheads, f.probs, f.Q, f.K, f.V, in.encoder_lengths, B, E, D, nh, d);
    const float* theta = f.enrich.out;
    gr.dtheta = scratch.take_zero(size_t(RT) * H);
    for (int i = 0; i < nh; ++i) {
      grad::linear_backward(gr.dtheta_dec, H, G, dQ + i * d, hd, f.theta_dec, H, RD, w.attention.q[size_t(i)], ctx.P);
      grad::linear_backward(gr.dtheta, H, G, dK + i * d, hd, theta, H, RT, w.attention.k[size_t(i)], ctx.P);
    }
    grad::linear_backward(gr.dtheta, H, G, dV, d, theta, H, RT, w.attention.v, ctx.P);
    add_steps(gr.dtheta, T, E, gr.dtheta_dec, D, 0, D);
    emit("gt.enriched", {B, T, H}, gr.dtheta);
  }

  // Static enrichment → φ (plus the pre-output skip on decoder rows) and c_e; the post-LSTM gate.
  void enrichment_backward(Grads& gr, float* G) {
    const ModelConfig& c = model.config();
    const TftWeights& w = model.weights();
    const Workspace& f = ws;
    const int B = in.batch, E = in.encoder_steps, D = in.decoder_steps, T = E + D, H = c.hidden, RT = B * T;
    float* dphi = scratch.take_zero(size_t(RT) * H);
    for (auto& p : gr.dctx) p = scratch.take_zero(size_t(B) * H);
    grad::grn_backward(dphi, H, gr.dctx[3], gr.dtheta, GrnAct{f.phi, f.ctx[3].out, H, RT, T, f.enrich}, w.static_enrichment,
                       ctx, G);
    add_steps(dphi, T, E, gr.dphi_dec, D, 0, D);
    emit("gt.post_lstm", {B, T, H}, dphi);
    gr.dlstm = scratch.take_zero(size_t(RT) * H);
    gr.dvsn_all = scratch.take_zero(size_t(RT) * H);
    const GanAct post_lstm{ctx.dropout > 0.0f ? f.post_in : f.lstm_out, f.post_mask, f.post_glu, f.post_pre, f.phi, H, RT};
    grad::gan_backward(gr.dlstm, H, gr.dvsn_all, H, dphi, post_lstm, post_lstm_gate(w, H), ctx, G);
    emit("gt.lstm_encoder.out", {B, E, H}, split(gr.dlstm, 0, E));
    emit("gt.lstm_decoder.out", {B, D, H}, split(gr.dlstm, E, D));
  }

  // The LSTMs, decoder first: its initial-state gradient is the encoder's final-state gradient.
  void lstm_backward(Grads& gr, float* G) {
    const TftWeights& w = model.weights();
    const Workspace& f = ws;
    const int B = in.batch, E = in.encoder_steps, D = in.decoder_steps, T = E + D, H = model.config().hidden;
    gr.de = scratch.take_zero(size_t(B) * E * H);
    gr.dd = scratch.take_zero(size_t(B) * D * H);
    float* dh_enc = scratch.take_zero(size_t(B) * H);
    float* dc_enc = scratch.take_zero(size_t(B) * H);
    grad::lstm_backward(gr.dd, dh_enc, dc_enc, gr.dlstm + size_t(E) * H, size_t(T) * H, nullptr, nullptr, f.d_vsn.out,
                        f.dec_gates, f.dec_cells, f.lstm_out + size_t(E) * H, size_t(T) * H, f.enc_h, f.enc_c,
                        in.decoder_lengths, B, D, w.lstm_decoder, ctx, G);
    emit("gt.lstm_encoder.h_n", {B, H}, dh_enc);
    emit("gt.lstm_encoder.c_n", {B, H}, dc_enc);
    grad::lstm_backward(gr.de, gr.dctx[1], gr.dctx[2], gr.dlstm, size_t(T) * H, dh_enc, dc_enc, f.e_vsn.out, f.enc_gates,
                        f.enc_cells, f.lstm_out, size_t(T) * H, f.ctx[1].out, f.ctx[2].out, in.encoder_lengths, B, E,
                        w.lstm_encoder, ctx, G);
    add_steps(gr.de, E, 0, gr.dvsn_all, T, 0, E);  // the post-LSTM gate's skip
    add_steps(gr.dd, D, 0, gr.dvsn_all, T, E, D);
    emit("gt.encoder_vsn.output", {B, E, H}, gr.de);
    emit("gt.decoder_vsn.output", {B, D, H}, gr.dd);
  }

  // The decoder and encoder VSNs, the static context GRNs, the static VSN (down to x_cont).
  void inputs_backward(Grads& gr, float* G, float* dx_cont) {
    const TftWeights& w = model.weights();
    const Workspace& f = ws;
    const int B = in.batch, E = in.encoder_steps, D = in.decoder_steps, H = model.config().hidden;
    vsn_backward(vsn_view(f.d_vsn, f.d_flat, w.decoder_vsn, E, D, nullptr, f.ctx[0].out), w.decoder_vsn, gr.dd, gr.dctx[0],
                 G, dx_cont);
    vsn_backward(vsn_view(f.e_vsn, f.e_flat, w.encoder_vsn, 0, E, in.encoder_lengths, f.ctx[0].out), w.encoder_vsn, gr.de,
                 gr.dctx[0], G, dx_cont);
    emit("gt.ctx_variable_selection", {B, H}, gr.dctx[0]);
    emit("gt.ctx_initial_hidden", {B, H}, gr.dctx[1]);
    emit("gt.ctx_initial_cell", {B, H}, gr.dctx[2]);
    emit("gt.ctx_enrichment", {B, H}, gr.dctx[3]);
    float* ds = scratch.take_zero(size_t(B) * H);
    const GrnW* cw[4] = {&w.ctx_variable_selection, &w.ctx_initial_hidden, &w.ctx_initial_cell, &w.ctx_enrichment};
    for (int i = 0; i < 4; ++i)
      grad::grn_backward(ds, H, nullptr, gr.dctx[i], GrnAct{f.s_vsn.out, nullptr, H, B, 1, f.ctx[i]}, *cw[i], ctx, G);
    emit("gt.static_embedding", {B, H}, ds);
    vsn_backward(vsn_view(f.s_vsn, f.s_flat, w.static_vsn, 0, 1, nullptr, nullptr), w.static_vsn, ds, nullptr, G, dx_cont);
  }
};

TrainingGraph::TrainingGraph(const Model& model) : impl_(std::make_unique<Impl>(model)) {}
TrainingGraph::~TrainingGraph() = default;

double TrainingGraph::forward(const float* P, const ForwardInputs& in, const float* y, const TrainStepOptions& options) {
  return impl_->forward(P, in, y, options);
}
void TrainingGraph::backward(float* G, float* dx_cont, const GradTraceSink* sink) { impl_->backward(G, dx_cont, sink); }
const float* TrainingGraph::prediction_normalized() const { return impl_->ws.z; }
double TrainingGraph::loss() const { return impl_->loss_value; }
const std::vector<double>& TrainingGraph::loss_per_target() const { return impl_->per_target; }

}  // namespace nordiq::tft
