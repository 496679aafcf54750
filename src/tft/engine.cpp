#include "tft/engine.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <cstdlib>
#include <mutex>
#include <stdexcept>

#include "core/thread_priority.hpp"
#include "core/worker_pool.hpp"
#include "tft/folded.hpp"
#include "tft/gemm.hpp"
#include "tft/layers.hpp"

namespace nordiq::tft {
namespace {

using nn::GrnActs;
using nn::VsnActs;

float* take(float*& cursor, size_t n) {
  float* p = cursor;
  cursor += (n + 15) / 16 * 16;
  return p;
}

// Weights derived from the parameters before every forward (cheap, and so always in sync with
// a parameter buffer a trainer is updating): concatenated Q/K projections and output heads,
// transposed recurrent LSTM weights, summed LSTM biases, ResampleNorm gate factors.
struct Derived {
  std::vector<float> kappa, PT;           // gate factors; transposed 2-D weights (same offsets)
  std::vector<float> q_wt, q_b, k_wt, k_b;  // [H, h·d] (transposed), [h·d]
  std::vector<float> out_wt, out_b;         // [H, K·Q] (transposed), [K·Q]
  std::vector<float> enc_whh_t, dec_whh_t, enc_bias, dec_bias;
  std::map<std::pair<int, int>, nn::InterpTable> interp;
  nn::Folds folds;  // single-variable GRNs and fc2 ∘ GLU, folded (tft/folded.hpp)
};

// Activation arena of one chunk of servers: one allocation, laid out from (config, servers, E, D).
struct Workspace {
  std::vector<float> mem;
  int servers = 0, E = 0, D = 0;
  bool keep = false;
  float *s_flat, *e_flat, *d_flat;
  float *s_z, *e_z, *d_z;  // the folded VSNs' compact inputs (tft/folded.hpp)
  VsnActs s_vsn, e_vsn, d_vsn;
  GrnActs ctx[4];  // variable selection, initial hidden, initial cell, enrichment
  float *vsn_all, *enc_gates, *dec_gates, *lstm_out, *h, *c, *enc_h, *enc_c, *lstm_scratch;
  float *post_glu, *phi;
  GrnActs enrich;
  float *theta_dec, *phi_dec, *Q, *K, *V, *heads, *heads_mean, *probs, *attn_scratch, *attn_out;
  float *post_attn_glu, *alpha;
  GrnActs pos_ff;
  float *pre_glu, *omega, *z;

  // Lays the arena out; with base == nullptr only measures. Returns floats used.
  size_t layout(const Model& m, const nn::Folds& folded, float* base) {
    const ModelConfig& cfg = m.config();
    const TftWeights& w = m.weights();
    const int B = servers, T = E + D, H = cfg.hidden, hd = cfg.heads * cfg.head_dim, KQ = cfg.n_targets() * cfg.n_quantiles();
    const size_t RE = size_t(B) * E, RD = size_t(B) * D, RT = size_t(B) * T;
    float* cur = base;
    auto grab = [&](size_t n) { return take(cur, n); };
    // the flattened inputs: only for the trace, or a VSN served unfolded
    auto flat_width = [&](const VsnW& v) { return keep || !folded.vsn_of(v) ? size_t(v.flat_width) : 0; };
    auto z_width = [&](const VsnW& v) { return folded.vsn_of(v) ? size_t(folded.vsn_of(v)->width) : 0; };
    s_flat = grab(size_t(B) * flat_width(w.static_vsn));
    e_flat = grab(RE * flat_width(w.encoder_vsn));
    d_flat = grab(RD * flat_width(w.decoder_vsn));
    s_z = grab(size_t(B) * z_width(w.static_vsn));
    e_z = grab(RE * z_width(w.encoder_vsn));
    d_z = grab(RD * z_width(w.decoder_vsn));
    nn::vsn_acts_take(s_vsn, w.static_vsn, B, B, keep, cur);
    nn::vsn_acts_take(e_vsn, w.encoder_vsn, int(RE), B, keep, cur);
    nn::vsn_acts_take(d_vsn, w.decoder_vsn, int(RD), B, keep, cur);
    ctx[0] = nn::grn_acts_take(w.ctx_variable_selection, B, B, cur);
    ctx[1] = nn::grn_acts_take(w.ctx_initial_hidden, B, B, cur);
    ctx[2] = nn::grn_acts_take(w.ctx_initial_cell, B, B, cur);
    ctx[3] = nn::grn_acts_take(w.ctx_enrichment, B, B, cur);
    vsn_all = grab(RT * H);
    enc_gates = grab(RE * 4 * H);
    dec_gates = grab(RD * 4 * H);
    lstm_out = grab(RT * H);
    h = grab(size_t(B) * H);
    c = grab(size_t(B) * H);
    enc_h = grab(size_t(B) * H);
    enc_c = grab(size_t(B) * H);
    lstm_scratch = grab(size_t(B) * 4 * H);
    post_glu = grab(RT * 2 * H);
    phi = grab(RT * H);
    enrich = nn::grn_acts_take(w.static_enrichment, int(RT), B, cur);
    theta_dec = grab(RD * H);
    phi_dec = grab(RD * H);
    Q = grab(RD * hd);
    K = grab(RT * hd);
    V = grab(RT * cfg.head_dim);
    heads = grab(RD * hd);
    heads_mean = grab(RD * cfg.head_dim);
    probs = grab(RD * cfg.heads * T);
    attn_scratch = grab(size_t(T) * (cfg.head_dim + 1));
    attn_out = grab(RD * H);
    post_attn_glu = grab(RD * 2 * H);
    alpha = grab(RD * H);
    pos_ff = nn::grn_acts_take(w.pos_wise_ff, int(RD), B, cur);
    pre_glu = grab(RD * 2 * H);
    omega = grab(RD * H);
    z = grab(RD * KQ);
    return size_t(cur - base);
  }

  void ensure(const Model& m, const nn::Folds& folded, int servers_, int E_, int D_, bool keep_) {
    if (servers_ == servers && E_ == E && D_ == D && keep_ == keep && !mem.empty()) return;
    servers = servers_;
    E = E_;
    D = D_;
    keep = keep_;
    // measure with a fake base, then allocate only if the arena must grow
    float dummy_base[16];
    const size_t need = layout(m, folded, dummy_base) + 64;
    if (mem.size() < need) mem.assign(need, 0.0f);
    auto* base = reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(mem.data()) + 63) & ~uintptr_t(63));
    layout(m, folded, base);
  }
};

}  // namespace

struct Engine::Impl {
  const Model& model;
  Derived der;
  nn::Prepared prep;
  std::vector<std::unique_ptr<Workspace>> ws;  // one per thread
  Workspace trace_ws;

  // Chunks of servers; worker i uses ws[i]. Its threads are the forecast cycle's: batch priority
  // (core/thread_priority.hpp) and a name that `top -H` shows.
  WorkerPool pool{1, [] {
                    gemm::pin_library_threads_to_one();
                    name_this_thread("nordiq-forecast");
                    enter_batch_priority();
                  }};

  std::mutex call_mu;  // one forward at a time per engine (the pool and arenas are shared)
  nn::SharedInputs enc_shared, dec_shared;  // per forward: inputs the whole batch shares

  explicit Impl(const Model& m) : model(m) {
    const TftWeights& w = m.weights();
    der.kappa.assign(m.table().total(), 0.0f);
    der.PT.assign(m.table().total(), 0.0f);
    auto add_vsn = [&](const VsnW& v) {
      nn::add_interp_tables(der.interp, v.flat);
      for (const auto& var : v.vars) {
        if (var.categorical) {
          if (var.cat_norm.in != var.cat_norm.out && !der.interp.count({var.cat_norm.in, var.cat_norm.out}))
            der.interp[{var.cat_norm.in, var.cat_norm.out}] = nn::InterpTable::make(var.cat_norm.in, var.cat_norm.out);
        } else {
          nn::add_interp_tables(der.interp, var.grn);
        }
      }
    };
    add_vsn(w.static_vsn);
    add_vsn(w.encoder_vsn);
    add_vsn(w.decoder_vsn);
    prep.interp = &der.interp;
    prep.eps = m.config().layer_norm_eps;
  }

  bool prepared = false;
  bool fold = true;  // Engine::set_folding

  // Derived weights, recomputed when the parameters may have changed (first forward, or after
  // Engine::reload_parameters()).
  void prepare() {
    if (prepared) return;
    const ModelConfig& c = model.config();
    const TftWeights& w = model.weights();
    const float* P = model.params();
    nn::prepare_kappa(model.table(), P, der.kappa.data());
    nn::prepare_transposed(model.table(), P, der.PT.data());
    const float* PT = der.PT.data();
    const int H = c.hidden, d = c.head_dim, hd = c.heads * d;
    // concatenated per-head projections, transposed: column block i = head i
    der.q_wt.resize(size_t(H) * hd);
    der.k_wt.resize(size_t(H) * hd);
    der.q_b.resize(size_t(hd));
    der.k_b.resize(size_t(hd));
    for (int i = 0; i < c.heads; ++i) {
      for (int k = 0; k < H; ++k)
        for (int j = 0; j < d; ++j) {
          der.q_wt[size_t(k) * hd + size_t(i) * d + j] = PT[w.attention.q[size_t(i)].w + size_t(k) * d + j];
          der.k_wt[size_t(k) * hd + size_t(i) * d + j] = PT[w.attention.k[size_t(i)].w + size_t(k) * d + j];
        }
      std::memcpy(&der.q_b[size_t(i) * d], P + w.attention.q[size_t(i)].b, sizeof(float) * size_t(d));
      std::memcpy(&der.k_b[size_t(i) * d], P + w.attention.k[size_t(i)].b, sizeof(float) * size_t(d));
    }
    const int Q = c.n_quantiles(), K = c.n_targets(), KQ = K * Q;
    der.out_wt.resize(size_t(H) * KQ);
    der.out_b.resize(size_t(KQ));
    for (int k = 0; k < K; ++k) {
      for (int h = 0; h < H; ++h)
        for (int q = 0; q < Q; ++q) der.out_wt[size_t(h) * KQ + size_t(k) * Q + q] = PT[w.output_layers[size_t(k)].w + size_t(h) * Q + q];
      std::memcpy(&der.out_b[size_t(k) * Q], P + w.output_layers[size_t(k)].b, sizeof(float) * size_t(Q));
    }
    auto lstm = [&](const LstmW& l, std::vector<float>& wt, std::vector<float>& bias) {
      wt.assign(PT + l.hh.w, PT + l.hh.w + size_t(H) * 4 * H);
      bias.resize(size_t(4) * H);
      for (int n = 0; n < 4 * H; ++n) bias[size_t(n)] = P[l.ih.b + size_t(n)] + P[l.hh.b + size_t(n)];
    };
    lstm(w.lstm_encoder, der.enc_whh_t, der.enc_bias);
    lstm(w.lstm_decoder, der.dec_whh_t, der.dec_bias);
    der.folds = fold ? nn::fold_network(w, P, der.kappa.data()) : nn::Folds{};
    for (auto& arena : ws) arena->servers = -1;  // the compact inputs' widths may have changed
    trace_ws.servers = -1;
    prep.P = P;
    prep.kappa = der.kappa.data();
    prep.PT = PT;
    prep.folds = &der.folds;
    prepared = true;
  }

  // The known inputs every server of the batch shares, per folded VSN (tft/folded.hpp).
  void find_shared_inputs(const ForwardInputs& in) {
    const ModelConfig& c = model.config();
    const TftWeights& w = model.weights();
    const int E = in.encoder_steps, D = in.decoder_steps, T = E + D;
    auto find = [&](nn::SharedInputs& shared, const VsnW& v, int step0, int steps, const int32_t* valid) {
      shared.steps = 0;
      if (const nn::FoldedVsn* folded = der.folds.vsn_of(v))
        nn::find_shared_inputs(shared, v, *folded, prep, in.x_cont, c.n_real(), T, in.batch, step0, steps, valid);
    };
    find(enc_shared, w.encoder_vsn, 0, E, in.encoder_lengths);
    find(dec_shared, w.decoder_vsn, E, D, nullptr);
  }

  void validate(const ForwardInputs& in) const {
    const ModelConfig& c = model.config();
    auto bad = [](const std::string& msg) { throw std::invalid_argument("tft forward: " + msg); };
    if (in.batch < 0) bad("batch must be ≥ 0");
    if (in.batch == 0) return;
    if (in.encoder_steps < 1 || in.decoder_steps < 1) bad(fmt::format("encoder/decoder steps must be ≥ 1, got {}/{}", in.encoder_steps, in.decoder_steps));
    if (!in.x_cat && c.n_cat() > 0) bad("x_cat is null");
    if (!in.x_cont || !in.encoder_lengths || !in.decoder_lengths) bad("x_cont, encoder_lengths and decoder_lengths are required");
    const int T = in.encoder_steps + in.decoder_steps;
    const TftWeights& w = model.weights();
    for (int b = 0; b < in.batch; ++b) {
      const int le = in.encoder_lengths[b], ld = in.decoder_lengths[b];
      if (le < 1 || le > in.encoder_steps) bad(fmt::format("encoder_lengths[{}] = {} outside 1..{}", b, le, in.encoder_steps));
      if (ld < 1 || ld > in.decoder_steps) bad(fmt::format("decoder_lengths[{}] = {} outside 1..{}", b, ld, in.decoder_steps));
      // every cell the network reads must hold a valid code / a finite value
      auto check_vsn = [&](const VsnW& v, int t0, int t1) {
        for (int t = t0; t < t1; ++t) {
          const size_t cell = size_t(b) * T + size_t(t);
          for (const auto& var : v.vars) {
            if (var.categorical) {
              const int code = in.x_cat[cell * size_t(c.n_cat()) + size_t(var.source)];
              if (code < 0 || code >= var.classes)
                bad(fmt::format("x_cat[{},{},{}] ({}) = {} outside 0..{}", b, t, var.source, var.name, code, var.classes - 1));
            } else {
              const float x = in.x_cont[cell * size_t(c.n_real()) + size_t(var.source)];
              if (!std::isfinite(x)) bad(fmt::format("x_cont[{},{},{}] ({}) is not finite", b, t, var.source, var.name));
            }
          }
        }
      };
      check_vsn(w.static_vsn, 0, 1);
      check_vsn(w.encoder_vsn, 0, le);
      check_vsn(w.decoder_vsn, in.encoder_steps, T);
    }
  }

  // The whole network for servers [b0, b0 + n) of the batch (docs/TFT.md §7).
  void run_chunk(Workspace& s, const ForwardInputs& in, const ForwardOutputs& out, int b0, int n) {
    const ModelConfig& c = model.config();
    const TftWeights& w = model.weights();
    const float* P = model.params();
    const int E = in.encoder_steps, D = in.decoder_steps, T = E + D, H = c.hidden, d = c.head_dim, nh = c.heads;
    const int hd = nh * d, KQ = c.n_targets() * c.n_quantiles();
    const int RE = n * E, RD = n * D, RT = n * T;
    const int32_t* x_cat = in.x_cat ? in.x_cat + size_t(b0) * T * c.n_cat() : nullptr;
    const float* x_cont = in.x_cont + size_t(b0) * T * c.n_real();
    const int32_t* enc_len = in.encoder_lengths + b0;
    const int32_t* dec_len = in.decoder_lengths + b0;

    // one VSN over steps step0.. of each server: folded on its compact inputs where it could be
    auto vsn = [&](nn::VsnActs& a, float* flat, float* z, const VsnW& v, int step0, int steps, const int32_t* valid,
                   const float* context, const nn::SharedInputs* shared) {
      const nn::FoldedVsn* folded = der.folds.vsn_of(v);
      if (s.keep || !folded) nn::vsn_gather(flat, v, P, x_cat, c.n_cat(), x_cont, c.n_real(), T, n, step0, steps, valid);
      if (!folded) return nn::vsn_forward(a, flat, n * steps, context, steps, v, H, prep);
      nn::folded_vsn_gather(z, v, *folded, P, x_cat, c.n_cat(), x_cont, c.n_real(), T, n, step0, steps, valid);
      nn::folded_vsn_forward(a, z, n * steps, context, steps, v, *folded, H, prep, s.keep ? nullptr : shared);
    };
    // 1–2. static VSN on step 0
    vsn(s.s_vsn, s.s_flat, s.s_z, w.static_vsn, 0, 1, nullptr, nullptr, nullptr);
    // 3. static covariate encoders
    const GrnW* ctxw[4] = {&w.ctx_variable_selection, &w.ctx_initial_hidden, &w.ctx_initial_cell, &w.ctx_enrichment};
    for (int i = 0; i < 4; ++i) nn::grn_forward(s.ctx[i], s.s_vsn.out, H, n, nullptr, 1, *ctxw[i], prep);
    const float* c_s = s.ctx[0].out;
    // 4. encoder / decoder VSNs with context c_s (padded encoder steps read as zeros)
    vsn(s.e_vsn, s.e_flat, s.e_z, w.encoder_vsn, 0, E, enc_len, c_s, &enc_shared);
    vsn(s.d_vsn, s.d_flat, s.d_z, w.decoder_vsn, E, D, nullptr, c_s, &dec_shared);
    for (int b = 0; b < n; ++b) {
      std::memcpy(s.vsn_all + size_t(b) * T * H, s.e_vsn.out + size_t(b) * E * H, sizeof(float) * size_t(E) * H);
      std::memcpy(s.vsn_all + (size_t(b) * T + E) * H, s.d_vsn.out + size_t(b) * D * H, sizeof(float) * size_t(D) * H);
    }
    // 5. LSTMs: input projections as one GEMM over all rows, then the recurrence
    const float* PT = der.PT.data();
    gemm::Shape g{RE, 4 * H, H, H, 4 * H, false};
    gemm::kmajor(g, s.e_vsn.out, PT + w.lstm_encoder.ih.w, der.enc_bias.data(), s.enc_gates);
    std::memcpy(s.h, s.ctx[1].out, sizeof(float) * size_t(n) * H);
    std::memcpy(s.c, s.ctx[2].out, sizeof(float) * size_t(n) * H);
    nn::lstm_forward(s.lstm_out, size_t(T) * H, s.h, s.c, s.enc_gates, nullptr, enc_len, n, E, H, der.enc_whh_t.data(), s.lstm_scratch);
    std::memcpy(s.enc_h, s.h, sizeof(float) * size_t(n) * H);
    std::memcpy(s.enc_c, s.c, sizeof(float) * size_t(n) * H);
    g.M = RD;
    gemm::kmajor(g, s.d_vsn.out, PT + w.lstm_decoder.ih.w, der.dec_bias.data(), s.dec_gates);
    nn::lstm_forward(s.lstm_out + size_t(E) * H, size_t(T) * H, s.h, s.c, s.dec_gates, nullptr, dec_len, n, D, H, der.dec_whh_t.data(), s.lstm_scratch);
    // 6. post-LSTM gate (shared weights for both halves): φ = LN(GLU(lstm) + vsn)
    nn::linear_forward(s.post_glu, 2 * H, s.lstm_out, H, RT, w.post_lstm_glu, P, false, PT);
    nn::gate_add_norm_forward(s.phi, s.post_glu, s.vsn_all, H, RT, H, P + w.post_lstm_norm.w, P + w.post_lstm_norm.b, prep.eps);
    // 7. static enrichment with context c_e
    nn::grn_forward(s.enrich, s.phi, H, RT, s.ctx[3].out, T, w.static_enrichment, prep);
    const float* theta = s.enrich.out;
    for (int b = 0; b < n; ++b) {
      std::memcpy(s.theta_dec + size_t(b) * D * H, theta + (size_t(b) * T + E) * H, sizeof(float) * size_t(D) * H);
      std::memcpy(s.phi_dec + size_t(b) * D * H, s.phi + (size_t(b) * T + E) * H, sizeof(float) * size_t(D) * H);
    }
    // 8. attention
    gemm::kmajor(gemm::Shape{RD, hd, H, H, hd, false}, s.theta_dec, der.q_wt.data(), der.q_b.data(), s.Q);
    gemm::kmajor(gemm::Shape{RT, hd, H, H, hd, false}, theta, der.k_wt.data(), der.k_b.data(), s.K);
    nn::linear_forward(s.V, d, theta, H, RT, w.attention.v, P, false, PT);
    float* probs = out.attention ? out.attention + size_t(b0) * D * nh * T : s.probs;
    nn::attention_forward(probs, s.heads, s.heads_mean, s.Q, s.K, s.V, enc_len, n, E, D, nh, d, s.attn_scratch);
    nn::linear_forward(s.attn_out, H, s.heads_mean, d, RD, w.attention.w_h, P, false, PT);
    // 9. post-attention gate, 10. position-wise GRN, 11. pre-output gate (skip φ_dec)
    nn::linear_forward(s.post_attn_glu, 2 * H, s.attn_out, H, RD, w.post_attn.glu, P, false, PT);
    nn::gate_add_norm_forward(s.alpha, s.post_attn_glu, s.theta_dec, H, RD, H, P + w.post_attn.norm.w, P + w.post_attn.norm.b, prep.eps);
    nn::grn_forward(s.pos_ff, s.alpha, H, RD, nullptr, 1, w.pos_wise_ff, prep);
    nn::linear_forward(s.pre_glu, 2 * H, s.pos_ff.out, H, RD, w.pre_output.glu, P, false, PT);
    nn::gate_add_norm_forward(s.omega, s.pre_glu, s.phi_dec, H, RD, H, P + w.pre_output.norm.w, P + w.pre_output.norm.b, prep.eps);
    // 12. the K output heads as one GEMM: z [rows, K·Q] is exactly the [B, D, K, Q] layout
    float* z = out.prediction_normalized ? out.prediction_normalized + size_t(b0) * D * KQ : s.z;
    gemm::kmajor(gemm::Shape{RD, KQ, H, H, KQ, false}, s.omega, der.out_wt.data(), der.out_b.data(), z);
    // 13. de-normalisation
    if (out.prediction) {
      const int K = c.n_targets(), Qn = c.n_quantiles();
      for (int b = 0; b < n; ++b) {
        const float* ts = in.target_scale + size_t(b0 + b) * K * 2;
        for (int t = 0; t < D; ++t) {
          const float* zr = z + (size_t(b) * D + t) * KQ;
          float* pr = out.prediction + ((size_t(b0 + b) * D) + t) * KQ;
          for (int k = 0; k < K; ++k)
            for (int q = 0; q < Qn; ++q) pr[k * Qn + q] = zr[k * Qn + q] * ts[2 * k + 1] + ts[2 * k];
        }
      }
    }
    // variable-selection weights
    if (out.static_weights)
      std::memcpy(out.static_weights + size_t(b0) * w.static_vsn.n(), s.s_vsn.weights, sizeof(float) * size_t(n) * w.static_vsn.n());
    if (out.encoder_weights)
      std::memcpy(out.encoder_weights + size_t(b0) * E * w.encoder_vsn.n(), s.e_vsn.weights, sizeof(float) * size_t(RE) * w.encoder_vsn.n());
    if (out.decoder_weights)
      std::memcpy(out.decoder_weights + size_t(b0) * D * w.decoder_vsn.n(), s.d_vsn.weights, sizeof(float) * size_t(RD) * w.decoder_vsn.n());
    reduce_interpretation(s, out, probs, enc_len, dec_len, b0, n, E, D, nh);
  }

  // Per-server means of the attention rows and variable weights over the valid steps.
  void reduce_interpretation(const Workspace& s, const ForwardOutputs& out, const float* probs, const int32_t* enc_len,
                             const int32_t* dec_len, int b0, int n, int E, int D, int nh) const {
    const TftWeights& w = model.weights();
    const int T = E + D;
    auto mean_rows = [](float* dst, const float* rows, size_t stride, int count, int width) {
      std::fill(dst, dst + width, 0.0f);
      for (int r = 0; r < count; ++r) {
        const float* row = rows + size_t(r) * stride;
        for (int i = 0; i < width; ++i) dst[i] += row[i];
      }
      const float inv = count > 0 ? 1.0f / float(count) : 0.0f;
      for (int i = 0; i < width; ++i) dst[i] *= inv;
    };
    for (int b = 0; b < n; ++b) {
      if (out.attention_mean)  // rows (t, head) of server b are contiguous: [D, h, T]
        mean_rows(out.attention_mean + size_t(b0 + b) * T, probs + size_t(b) * D * nh * T, size_t(T), dec_len[b] * nh, T);
      if (out.encoder_importance)
        mean_rows(out.encoder_importance + size_t(b0 + b) * w.encoder_vsn.n(), s.e_vsn.weights + size_t(b) * E * w.encoder_vsn.n(),
                  size_t(w.encoder_vsn.n()), enc_len[b], w.encoder_vsn.n());
      if (out.decoder_importance)
        mean_rows(out.decoder_importance + size_t(b0 + b) * w.decoder_vsn.n(), s.d_vsn.weights + size_t(b) * D * w.decoder_vsn.n(),
                  size_t(w.decoder_vsn.n()), dec_len[b], w.decoder_vsn.n());
    }
  }

  void set_threads(int threads) {
    pool.resize(threads);
    while (ws.size() < size_t(pool.threads())) ws.push_back(std::make_unique<Workspace>());
    ws.resize(size_t(pool.threads()));
  }
};

Engine::Engine(const Model& model, int threads) : impl_(std::make_unique<Impl>(model)) { set_threads(threads); }
Engine::~Engine() = default;

void Engine::reload_parameters() {
  std::lock_guard call(impl_->call_mu);
  impl_->prepared = false;
}

void Engine::set_folding(bool on) {
  std::lock_guard call(impl_->call_mu);
  impl_->fold = on;
  impl_->prepared = false;
}

void Engine::set_threads(int threads) {
  std::lock_guard call(impl_->call_mu);
  impl_->set_threads(threads);
}
int Engine::threads() const { return impl_->pool.threads(); }

void Engine::parallel_for(int tasks, const std::function<void(int task)>& fn) {
  std::lock_guard call(impl_->call_mu);
  impl_->pool.run(tasks, [&](int task, int) { fn(task); });
}

int Engine::chunk_servers(int batch, int encoder_steps, int decoder_steps) {
  // ~1500 rows of the padded time axis per chunk: large enough for efficient GEMMs, small
  // enough that a chunk's activations stay near the caches. Depends only on the batch shape.
  const int T = std::max(1, encoder_steps + decoder_steps);
  constexpr int rows = 1536;  // measured at E=288, D=96: 768 and 3072 rows were 5–10 % slower
  return std::clamp((rows + T - 1) / T, 1, std::max(1, batch));
}

void Engine::forward(const ForwardInputs& in, const ForwardOutputs& out) {
  std::lock_guard call(impl_->call_mu);
  impl_->validate(in);
  if (in.batch == 0) return;
  if (out.prediction && !in.target_scale) throw std::invalid_argument("tft forward: target_scale is required for prediction");
  gemm::pin_library_threads_to_one();
  impl_->prepare();
  const int per = chunk_servers(in.batch, in.encoder_steps, in.decoder_steps);
  const int chunks = (in.batch + per - 1) / per;
  const Model& m = impl_->model;
  impl_->find_shared_inputs(in);
  impl_->pool.run(chunks, [&](int i, int worker) {
    Workspace& w = *impl_->ws[size_t(worker)];
    const int b0 = i * per, n = std::min(per, in.batch - b0);
    w.ensure(m, impl_->der.folds, per, in.encoder_steps, in.decoder_steps, false);
    impl_->run_chunk(w, in, out, b0, n);
  });
}

void Engine::forward_traced(const ForwardInputs& in, const ForwardOutputs& out, const TraceSink& sink) {
  std::lock_guard call(impl_->call_mu);
  impl_->validate(in);
  if (in.batch == 0) return;
  if (out.prediction && !in.target_scale) throw std::invalid_argument("tft forward: target_scale is required for prediction");
  gemm::pin_library_threads_to_one();
  impl_->prepare();
  const Model& m = impl_->model;
  Workspace& s = impl_->trace_ws;
  const int B = in.batch, E = in.encoder_steps, D = in.decoder_steps, T = E + D;
  s.ensure(m, impl_->der.folds, B, E, D, true);
  impl_->run_chunk(s, in, out, 0, B);

  const ModelConfig& c = m.config();
  const TftWeights& w = m.weights();
  const float* P = m.params();
  const int64_t H = c.hidden, d = c.head_dim, nh = c.heads, hd = nh * d;
  std::vector<float> buf;
  auto emit = [&](const std::string& name, std::vector<int64_t> shape, const float* data) {
    size_t n = 1;
    for (auto x : shape) n *= size_t(x);
    sink(name, shape, std::span<const float>(data, n));
  };
  // [rows, H] per variable → [rows, H, n]
  auto var_outputs = [&](const std::string& name, std::vector<int64_t> shape, const VsnActs& a, const VsnW& v, size_t rows) {
    const size_t n = size_t(v.n());
    buf.assign(rows * size_t(H) * n, 0.0f);
    for (size_t i = 0; i < n; ++i)
      for (size_t r = 0; r < rows; ++r)
        for (size_t j = 0; j < size_t(H); ++j) buf[(r * size_t(H) + j) * n + i] = a.vars[i].out[r * size_t(H) + j];
    emit(name, shape, buf.data());
  };
  for (int ci = 0; ci < c.n_cat(); ++ci) {
    const std::string& name = c.x_categoricals[size_t(ci)];
    const auto [classes, e] = c.embedding_sizes.at(name);
    const ParamSpec* spec = m.table().find("input_embeddings.embeddings." + name + ".weight");
    buf.assign(size_t(B) * T * size_t(e), 0.0f);
    for (size_t cell = 0; cell < size_t(B) * T; ++cell) {
      const int code = in.x_cat[cell * size_t(c.n_cat()) + size_t(ci)];
      if (code >= 0 && code < classes) std::memcpy(&buf[cell * size_t(e)], P + spec->offset + size_t(code) * size_t(e), sizeof(float) * size_t(e));
    }
    emit("t.emb." + name, {B, T, e}, buf.data());
  }
  const int64_t ns = w.static_vsn.n(), ne = w.encoder_vsn.n(), nd = w.decoder_vsn.n();
  emit("t.static_vsn.inputs_flat", {B, w.static_vsn.flat_width}, s.s_flat);
  var_outputs("t.static_vsn.var_outputs", {B, H, ns}, s.s_vsn, w.static_vsn, size_t(B));
  emit("t.static_vsn.logits", {B, ns}, s.s_vsn.flat.out);
  emit("t.static_embedding", {B, H}, s.s_vsn.out);
  emit("t.ctx_variable_selection", {B, H}, s.ctx[0].out);
  emit("t.ctx_initial_hidden", {B, H}, s.ctx[1].out);
  emit("t.ctx_initial_cell", {B, H}, s.ctx[2].out);
  emit("t.ctx_enrichment", {B, H}, s.ctx[3].out);
  emit("t.encoder_vsn.inputs_flat", {B, E, w.encoder_vsn.flat_width}, s.e_flat);
  var_outputs("t.encoder_vsn.var_outputs", {B, E, H, ne}, s.e_vsn, w.encoder_vsn, size_t(B) * E);
  emit("t.encoder_vsn.logits", {B, E, ne}, s.e_vsn.flat.out);
  emit("t.encoder_vsn.output", {B, E, H}, s.e_vsn.out);
  emit("t.decoder_vsn.inputs_flat", {B, D, w.decoder_vsn.flat_width}, s.d_flat);
  var_outputs("t.decoder_vsn.var_outputs", {B, D, H, nd}, s.d_vsn, w.decoder_vsn, size_t(B) * D);
  emit("t.decoder_vsn.logits", {B, D, nd}, s.d_vsn.flat.out);
  emit("t.decoder_vsn.output", {B, D, H}, s.d_vsn.out);
  // [B, T, H] → the encoder / decoder part
  auto part = [&](const float* src, int t0, int steps) {
    buf.resize(size_t(B) * steps * size_t(H));
    for (int b = 0; b < B; ++b)
      std::memcpy(&buf[size_t(b) * steps * size_t(H)], src + (size_t(b) * T + t0) * size_t(H), sizeof(float) * size_t(steps) * size_t(H));
    return buf.data();
  };
  emit("t.lstm_encoder.out", {B, E, H}, part(s.lstm_out, 0, E));
  emit("t.lstm_encoder.h_n", {B, H}, s.enc_h);
  emit("t.lstm_encoder.c_n", {B, H}, s.enc_c);
  emit("t.lstm_decoder.out", {B, D, H}, part(s.lstm_out, E, D));
  emit("t.lstm_decoder.h_n", {B, H}, s.h);
  emit("t.lstm_decoder.c_n", {B, H}, s.c);
  buf.resize(size_t(B) * T * size_t(H));
  for (size_t r = 0; r < size_t(B) * T; ++r)
    for (size_t j = 0; j < size_t(H); ++j) {
      const float* u = s.post_glu + r * 2 * size_t(H);
      buf[r * size_t(H) + j] = u[j] * nn::sigmoid(u[size_t(H) + j]);
    }
  emit("t.post_lstm_glu", {B, T, H}, buf.data());
  emit("t.post_lstm", {B, T, H}, s.phi);
  emit("t.enriched", {B, T, H}, s.enrich.out);
  buf.assign(size_t(B) * D * T, 0.0f);
  for (int b = 0; b < B; ++b)
    for (int i = 0; i < D; ++i)
      for (int j = 0; j < T; ++j)
        buf[(size_t(b) * D + i) * T + j] = (j < E ? j >= in.encoder_lengths[b] : j - E >= i) ? 1.0f : 0.0f;
  emit("t.attn.mask", {B, D, T}, buf.data());
  auto per_head = [&](const float* src, int steps) {  // [B·steps, h·d] → [B, h, steps, d]
    buf.resize(size_t(B) * steps * size_t(hd));
    for (int b = 0; b < B; ++b)
      for (int64_t hh = 0; hh < nh; ++hh)
        for (int t = 0; t < steps; ++t)
          std::memcpy(&buf[((size_t(b) * nh + hh) * steps + t) * d], src + (size_t(b) * steps + t) * hd + hh * d, sizeof(float) * size_t(d));
    return buf.data();
  };
  emit("t.attn.q", {B, nh, D, d}, per_head(s.Q, D));
  emit("t.attn.k", {B, nh, T, d}, per_head(s.K, T));
  emit("t.attn.v", {B, T, d}, s.V);
  emit("t.attn.heads", {B, D, nh, d}, s.heads);
  emit("t.attn.heads_mean", {B, D, d}, s.heads_mean);
  emit("t.attn.output", {B, D, H}, s.attn_out);
  emit("t.post_attn", {B, D, H}, s.alpha);
  emit("t.pos_wise_ff", {B, D, H}, s.pos_ff.out);
  emit("t.pre_output", {B, D, H}, s.omega);
}

double forward_macs_per_window(const ModelConfig& c, int E, int D) {
  const double H = c.hidden, cc = c.cont_hidden, d = c.head_dim, h = c.heads, T = E + D;
  const double R = cc + 2 * cc * cc + 2 * cc * H;
  auto G = [](double S, double m, double n, double x) { return S * m + m * m + 2 * m * n + x * m; };
  auto width = [&](const std::vector<std::string>& vars, int& n_real) {
    double S = 0;
    n_real = 0;
    for (const auto& v : vars) {
      auto it = c.embedding_sizes.find(v);
      if (it != c.embedding_sizes.end() && std::find(c.x_categoricals.begin(), c.x_categoricals.end(), v) != c.x_categoricals.end()) S += it->second.second;
      else { S += cc; ++n_real; }
    }
    return S;
  };
  int rs, re, rd;
  const double Ss = width(c.static_variables, rs), Se = width(c.encoder_variables, re), Sd = width(c.decoder_variables, rd);
  const double ns = c.static_variables.size(), ne = c.encoder_variables.size(), nd = c.decoder_variables.size();
  double macs = rs * R + G(Ss, std::min(H, ns), ns, 0) + 16 * H * H;
  macs += E * (re * R + G(Se, std::min(H, ne), ne, H));
  macs += D * (rd * R + G(Sd, std::min(H, nd), nd, H));
  macs += 8 * H * H * T + 2 * H * H * T + 5 * H * H * T;
  macs += T * H * d + h * (D + T) * H * d + 2 * h * D * T * d + D * d * H;
  macs += 8 * H * H * D + D * c.n_targets() * c.n_quantiles() * H;
  return macs;
}

}  // namespace nordiq::tft
