#include "tft/network.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <cstring>
#include <vector>

#include "core/grow.hpp"
#include "tft/gemm.hpp"

namespace nordiq::tft {
namespace {

float* take(float*& cursor, size_t n) {
  float* p = cursor;
  cursor += (n + 15) / 16 * 16;
  return p;
}

// Per-server means of the attention rows and variable weights over the valid steps.
void reduce_interpretation(const Workspace& s, const TftWeights& w, const ForwardOutputs& out, const float* probs,
                           const int32_t* enc_len, const int32_t* dec_len, int b0, int n, int E, int D, int nh) {
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

// The chunk's de-normalised predictions and variable-selection weights, where asked for.
void write_outputs(const Workspace& s, const ModelConfig& c, const TftWeights& w, const ForwardInputs& in,
                   const ForwardOutputs& out, const float* z, int b0, int n) {
  const int E = in.encoder_steps, D = in.decoder_steps, KQ = c.n_targets() * c.n_quantiles();
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
  if (out.static_weights)
    std::memcpy(out.static_weights + size_t(b0) * w.static_vsn.n(), s.s_vsn.weights, sizeof(float) * size_t(n) * w.static_vsn.n());
  if (out.encoder_weights)
    std::memcpy(out.encoder_weights + size_t(b0) * E * w.encoder_vsn.n(), s.e_vsn.weights,
                sizeof(float) * size_t(n) * E * w.encoder_vsn.n());
  if (out.decoder_weights)
    std::memcpy(out.decoder_weights + size_t(b0) * D * w.decoder_vsn.n(), s.d_vsn.weights,
                sizeof(float) * size_t(n) * D * w.decoder_vsn.n());
}

// Training's dropout (§8) of x [rows, n] into y with mask; x itself when not training.
const float* dropped(float* y, float* mask, const float* x, int rows, int n, const nn::Prepared& p) {
  if (p.dropout <= 0.0f) return x;
  nn::dropout_forward(y, mask, x, n, rows, n, p.dropout, *p.rng);
  return y;
}

}  // namespace

// ---- inputs -------------------------------------------------------------------------------------

namespace {

// Whether every float of x[0..n) is finite: exponent bits not all set, as integers, so the loop
// vectorises (std::isfinite in a loop does not).
bool all_finite(const float* x, size_t n) {
  uint32_t all_ones = 0;
  for (size_t i = 0; i < n; ++i) {
    uint32_t bits;
    std::memcpy(&bits, x + i, sizeof bits);
    all_ones |= (bits & 0x7f800000u) == 0x7f800000u;
  }
  return all_ones == 0;
}

// A VSN's variables in order, all of them and the categorical ones.
struct VarLists {
  explicit VarLists(const VsnW& v) {
    for (const auto& var : v.vars) {
      all.push_back(&var);
      if (var.categorical) categorical.push_back(&var);
    }
  }
  std::vector<const VsnVarW*> all, categorical;
};

}  // namespace

void validate_inputs(const Model& m, const ForwardInputs& in, const char* who) {
  validate_shapes(m, in, who);
  validate_values(m, in, who, 0, in.batch);
}

void validate_shapes(const Model& m, const ForwardInputs& in, const char* who) {
  auto bad = [who](const std::string& msg) { throw std::invalid_argument(fmt::format("{}: {}", who, msg)); };
  if (in.encoder_steps < 1 || in.decoder_steps < 1)
    bad(fmt::format("encoder/decoder steps must be ≥ 1, got {}/{}", in.encoder_steps, in.decoder_steps));
  if (!in.x_cat && m.config().n_cat() > 0) bad("x_cat is null");
  if (!in.x_cont || !in.encoder_lengths || !in.decoder_lengths) bad("x_cont, encoder_lengths and decoder_lengths are required");
  for (int b = 0; b < in.batch; ++b) {
    const int le = in.encoder_lengths[b], ld = in.decoder_lengths[b];
    if (le < 1 || le > in.encoder_steps) bad(fmt::format("encoder_lengths[{}] = {} outside 1..{}", b, le, in.encoder_steps));
    if (ld < 1 || ld > in.decoder_steps) bad(fmt::format("decoder_lengths[{}] = {} outside 1..{}", b, ld, in.decoder_steps));
  }
}

void validate_values(const Model& m, const ForwardInputs& in, const char* who, int b0, int n) {
  const ModelConfig& c = m.config();
  auto bad = [who](const std::string& msg) { throw std::invalid_argument(fmt::format("{}: {}", who, msg)); };
  const int T = in.encoder_steps + in.decoder_steps;
  const size_t n_real = size_t(c.n_real());
  const TftWeights& w = m.weights();
  const VarLists static_vars(w.static_vsn), encoder_vars(w.encoder_vsn), decoder_vars(w.decoder_vsn);
  for (int b = b0; b < b0 + n; ++b) {
    const int le = in.encoder_lengths[b];
    // Every real the network reads lies in the server's valid encoder rows and its decoder rows:
    // when all of those rows' values are finite (always, in a healthy cycle), no cell needs a look.
    const float* rows = in.x_cont + size_t(b) * T * n_real;
    const bool reals_finite = all_finite(rows, size_t(le) * n_real) &&
                              all_finite(rows + size_t(in.encoder_steps) * n_real, size_t(in.decoder_steps) * n_real);
    // every cell the network reads must hold a valid code / a finite value (the first bad one in
    // step order, then variable order, is named); with every real finite, the codes alone
    auto check_vsn = [&](const VarLists& lists, int t0, int t1) {
      const std::vector<const VsnVarW*>& vars = reals_finite ? lists.categorical : lists.all;
      for (int t = t0; t < t1; ++t) {
        const size_t cell = size_t(b) * T + size_t(t);
        for (const VsnVarW* var : vars) {
          if (var->categorical) {
            const int code = in.x_cat[cell * size_t(c.n_cat()) + size_t(var->source)];
            if (code < 0 || code >= var->classes)
              bad(fmt::format("x_cat[{},{},{}] ({}) = {} outside 0..{}", b, t, var->source, var->name, code, var->classes - 1));
          } else if (!std::isfinite(in.x_cont[cell * n_real + size_t(var->source)])) {
            bad(fmt::format("x_cont[{},{},{}] ({}) is not finite", b, t, var->source, var->name));
          }
        }
      }
    };
    check_vsn(static_vars, 0, 1);
    check_vsn(encoder_vars, 0, le);
    check_vsn(decoder_vars, in.encoder_steps, T);
  }
}

// ---- derived weights ----------------------------------------------------------------------------

Derived::Derived(const Model& m) {
  const TftWeights& w = m.weights();
  kappa.assign(m.table().total(), 0.0f);
  PT.assign(m.table().total(), 0.0f);
  for (const VsnW* v : {&w.static_vsn, &w.encoder_vsn, &w.decoder_vsn}) {
    nn::add_interp_tables(interp, v->flat);
    for (const auto& var : v->vars) {
      if (!var.categorical) nn::add_interp_tables(interp, var.grn);
      else if (var.cat_norm.in != var.cat_norm.out && !interp.count({var.cat_norm.in, var.cat_norm.out}))
        interp[{var.cat_norm.in, var.cat_norm.out}] = nn::InterpTable::make(var.cat_norm.in, var.cat_norm.out);
    }
  }
  for (const GrnW* g : {&w.ctx_variable_selection, &w.ctx_initial_hidden, &w.ctx_initial_cell, &w.ctx_enrichment,
                        &w.static_enrichment, &w.pos_wise_ff})
    nn::add_interp_tables(interp, *g);
}

void Derived::update(const Model& m, const float* P, bool fold) {
  const ModelConfig& c = m.config();
  const TftWeights& w = m.weights();
  nn::prepare_kappa(m.table(), P, kappa.data());
  nn::prepare_transposed(m.table(), P, PT.data());
  const float* pt = PT.data();
  const int H = c.hidden, d = c.head_dim, hd = c.heads * d;
  // concatenated per-head projections, transposed: column block i = head i
  q_wt.resize(size_t(H) * hd);
  k_wt.resize(size_t(H) * hd);
  q_b.resize(size_t(hd));
  k_b.resize(size_t(hd));
  for (int i = 0; i < c.heads; ++i) {
    for (int k = 0; k < H; ++k)
      for (int j = 0; j < d; ++j) {
        q_wt[size_t(k) * hd + size_t(i) * d + j] = pt[w.attention.q[size_t(i)].w + size_t(k) * d + j];
        k_wt[size_t(k) * hd + size_t(i) * d + j] = pt[w.attention.k[size_t(i)].w + size_t(k) * d + j];
      }
    std::memcpy(&q_b[size_t(i) * d], P + w.attention.q[size_t(i)].b, sizeof(float) * size_t(d));
    std::memcpy(&k_b[size_t(i) * d], P + w.attention.k[size_t(i)].b, sizeof(float) * size_t(d));
  }
  const int Q = c.n_quantiles(), K = c.n_targets(), KQ = K * Q;
  out_wt.resize(size_t(H) * KQ);
  out_b.resize(size_t(KQ));
  for (int k = 0; k < K; ++k) {
    for (int h = 0; h < H; ++h)
      for (int q = 0; q < Q; ++q) out_wt[size_t(h) * KQ + size_t(k) * Q + q] = pt[w.output_layers[size_t(k)].w + size_t(h) * Q + q];
    std::memcpy(&out_b[size_t(k) * Q], P + w.output_layers[size_t(k)].b, sizeof(float) * size_t(Q));
  }
  auto lstm_bias = [&](const LstmW& l, std::vector<float>& bias) {
    bias.resize(size_t(4) * H);
    for (int j = 0; j < 4 * H; ++j) bias[size_t(j)] = P[l.ih.b + size_t(j)] + P[l.hh.b + size_t(j)];
  };
  lstm_bias(w.lstm_encoder, enc_bias);
  lstm_bias(w.lstm_decoder, dec_bias);
  folds = fold ? nn::fold_network(w, P, kappa.data(), m.config().layer_norm_eps) : nn::Folds{};
}

nn::Prepared Derived::prepared(const Model& m, const float* P) const {
  nn::Prepared p;
  p.P = P;
  p.kappa = kappa.data();
  p.PT = PT.data();
  p.interp = &interp;
  p.eps = m.config().layer_norm_eps;
  p.folds = &folds;
  return p;
}

// ---- workspace ----------------------------------------------------------------------------------

size_t Workspace::layout(const Model& m, const nn::Folds& folded, float* base) {
  const ModelConfig& cfg = m.config();
  const TftWeights& w = m.weights();
  const int B = servers, T = E + D, H = cfg.hidden, hd = cfg.heads * cfg.head_dim, KQ = cfg.n_targets() * cfg.n_quantiles();
  const size_t RE = size_t(B) * E, RD = size_t(B) * D, RT = size_t(B) * T;
  const bool keep_vars = trace || keep.train, drop = keep.train && keep.dropout;
  float* cur = base;
  auto grab = [&](size_t n) { return take(cur, n); };
  auto grab_if = [&](bool want, size_t n) { return want ? take(cur, n) : nullptr; };
  // the flattened inputs: for the trace, training, or a VSN served unfolded
  auto flat_width = [&](const VsnW& v) { return keep_vars || !folded.vsn_of(v) ? size_t(v.flat_width) : 0; };
  auto z_width = [&](const VsnW& v) { return folded.vsn_of(v) ? size_t(folded.vsn_of(v)->width) : 0; };
  s_flat = grab(size_t(B) * flat_width(w.static_vsn));
  e_flat = grab(RE * flat_width(w.encoder_vsn));
  d_flat = grab(RD * flat_width(w.decoder_vsn));
  s_z = grab(size_t(B) * z_width(w.static_vsn));
  e_z = grab(RE * z_width(w.encoder_vsn));
  d_z = grab(RD * z_width(w.decoder_vsn));
  nn::vsn_acts_take(s_vsn, w.static_vsn, B, B, keep_vars, cur, keep);
  nn::vsn_acts_take(e_vsn, w.encoder_vsn, int(RE), B, keep_vars, cur, keep);
  nn::vsn_acts_take(d_vsn, w.decoder_vsn, int(RD), B, keep_vars, cur, keep);
  ctx[0] = nn::grn_acts_take(w.ctx_variable_selection, B, B, cur, keep);
  ctx[1] = nn::grn_acts_take(w.ctx_initial_hidden, B, B, cur, keep);
  ctx[2] = nn::grn_acts_take(w.ctx_initial_cell, B, B, cur, keep);
  ctx[3] = nn::grn_acts_take(w.ctx_enrichment, B, B, cur, keep);
  vsn_all = grab(RT * H);
  enc_gates = grab(RE * 4 * H);
  dec_gates = grab(RD * 4 * H);
  enc_cells = grab_if(keep.train, RE * H);
  dec_cells = grab_if(keep.train, RD * H);
  lstm_out = grab(RT * H);
  h = grab(size_t(B) * H);
  c = grab(size_t(B) * H);
  enc_h = grab(size_t(B) * H);
  enc_c = grab(size_t(B) * H);
  lstm_scratch = grab(size_t(B) * 4 * H);
  post_in = grab_if(drop, RT * H);
  post_mask = grab_if(drop, RT * H);
  post_glu = grab(RT * 2 * H);
  post_pre = grab_if(keep.train, RT * H);
  phi = grab(RT * H);
  enrich = nn::grn_acts_take(w.static_enrichment, int(RT), B, cur, keep);
  theta_dec = grab(RD * H);
  phi_dec = grab(RD * H);
  Q = grab(RD * hd);
  K = grab(RT * hd);
  V = grab(RT * cfg.head_dim);
  heads = grab(RD * hd);
  heads_mask = grab_if(drop, RD * hd);
  heads_dropped = grab_if(drop, RD * hd);
  heads_mean = grab(RD * cfg.head_dim);
  probs = grab(RD * cfg.heads * T);
  attn_scratch = grab(size_t(T) * (cfg.head_dim + 1));
  attn_out = grab(RD * H);
  attn_mask = grab_if(drop, RD * H);
  attn_dropped = grab_if(drop, RD * H);
  post_attn_in = grab_if(drop, RD * H);
  post_attn_mask = grab_if(drop, RD * H);
  post_attn_glu = grab(RD * 2 * H);
  post_attn_pre = grab_if(keep.train, RD * H);
  alpha = grab(RD * H);
  pos_ff = nn::grn_acts_take(w.pos_wise_ff, int(RD), B, cur, keep);
  pre_glu = grab(RD * 2 * H);
  pre_pre = grab_if(keep.train, RD * H);
  omega = grab(RD * H);
  z = grab(RD * KQ);
  return size_t(cur - base);
}

void Workspace::ensure(const Model& m, const nn::Folds& folded, int servers_, int E_, int D_, bool trace_, nn::Keep keep_) {
  if (servers_ == servers && E_ == E && D_ == D && trace_ == trace && keep_.train == keep.train &&
      keep_.dropout == keep.dropout && !mem.empty())
    return;
  servers = servers_;
  E = E_;
  D = D_;
  trace = trace_;
  keep = keep_;
  // measure with a fake base, then allocate only if the arena must grow
  float dummy_base[16];
  const size_t need = layout(m, folded, dummy_base) + 64;
  if (mem.size() < need) assign_with_headroom(mem, need, 0.0f);  // a server more: no new arena
  auto* base = reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(mem.data()) + 63) & ~uintptr_t(63));
  layout(m, folded, base);
}

// ---- the forward --------------------------------------------------------------------------------

void run_network(Workspace& s, const Model& m, const float* P, const Derived& der, const nn::Prepared& prep,
                 const ForwardInputs& in, const ForwardOutputs& out, int b0, int n, const nn::SharedInputs* enc_shared,
                 const nn::SharedInputs* dec_shared) {
  const ModelConfig& c = m.config();
  const TftWeights& w = m.weights();
  const int E = in.encoder_steps, D = in.decoder_steps, T = E + D, H = c.hidden, d = c.head_dim, nh = c.heads;
  const int hd = nh * d, KQ = c.n_targets() * c.n_quantiles();
  const int RE = n * E, RD = n * D, RT = n * T;
  const int32_t* x_cat = in.x_cat ? in.x_cat + size_t(b0) * T * c.n_cat() : nullptr;
  const float* x_cont = in.x_cont + size_t(b0) * T * c.n_real();
  const int32_t* enc_len = in.encoder_lengths + b0;
  const int32_t* dec_len = in.decoder_lengths + b0;
  const bool keep_vars = s.trace || s.keep.train;

  // one VSN over steps step0.. of each server: folded on its compact inputs where it could be
  auto vsn = [&](nn::VsnActs& a, float* flat, float* zc, const VsnW& v, int step0, int steps, const int32_t* valid,
                 const float* context, const nn::SharedInputs* shared) {
    const nn::FoldedVsn* folded = der.folds.vsn_of(v);
    if (keep_vars || !folded) nn::vsn_gather(flat, v, P, x_cat, c.n_cat(), x_cont, c.n_real(), T, n, step0, steps, valid);
    if (!folded) return nn::vsn_forward(a, flat, n * steps, context, steps, v, H, prep);
    nn::folded_vsn_gather(zc, v, *folded, P, x_cat, c.n_cat(), x_cont, c.n_real(), T, n, step0, steps, valid);
    nn::folded_vsn_forward(a, zc, n * steps, context, steps, v, *folded, H, prep, s.trace ? nullptr : shared);
  };
  // 1–2. static VSN on step 0
  vsn(s.s_vsn, s.s_flat, s.s_z, w.static_vsn, 0, 1, nullptr, nullptr, nullptr);
  // 3. static covariate encoders
  const GrnW* ctxw[4] = {&w.ctx_variable_selection, &w.ctx_initial_hidden, &w.ctx_initial_cell, &w.ctx_enrichment};
  for (int i = 0; i < 4; ++i) nn::grn_forward(s.ctx[i], s.s_vsn.out, H, n, nullptr, 1, *ctxw[i], prep);
  const float* c_s = s.ctx[0].out;
  // 4. encoder / decoder VSNs with context c_s (padded encoder steps read as zeros)
  vsn(s.e_vsn, s.e_flat, s.e_z, w.encoder_vsn, 0, E, enc_len, c_s, enc_shared);
  vsn(s.d_vsn, s.d_flat, s.d_z, w.decoder_vsn, E, D, nullptr, c_s, dec_shared);
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
  nn::lstm_forward(s.lstm_out, size_t(T) * H, s.h, s.c, s.enc_gates, s.enc_cells, enc_len, n, E, H, PT + w.lstm_encoder.hh.w,
                   s.lstm_scratch);
  std::memcpy(s.enc_h, s.h, sizeof(float) * size_t(n) * H);
  std::memcpy(s.enc_c, s.c, sizeof(float) * size_t(n) * H);
  g.M = RD;
  gemm::kmajor(g, s.d_vsn.out, PT + w.lstm_decoder.ih.w, der.dec_bias.data(), s.dec_gates);
  nn::lstm_forward(s.lstm_out + size_t(E) * H, size_t(T) * H, s.h, s.c, s.dec_gates, s.dec_cells, dec_len, n, D, H,
                   PT + w.lstm_decoder.hh.w, s.lstm_scratch);
  // 6. post-LSTM gate (shared weights for both halves, dropout on its input): φ = LN(GLU(lstm) + vsn)
  const float* post_in = dropped(s.post_in, s.post_mask, s.lstm_out, RT, H, prep);
  nn::linear_forward(s.post_glu, 2 * H, post_in, H, RT, w.post_lstm_glu, P, false, PT);
  nn::gate_add_norm_forward(s.phi, s.post_glu, s.vsn_all, H, RT, H, P + w.post_lstm_norm.w, P + w.post_lstm_norm.b, prep.eps,
                            s.post_pre);
  // 7. static enrichment with context c_e
  nn::grn_forward(s.enrich, s.phi, H, RT, s.ctx[3].out, T, w.static_enrichment, prep);
  const float* theta = s.enrich.out;
  for (int b = 0; b < n; ++b) {
    std::memcpy(s.theta_dec + size_t(b) * D * H, theta + (size_t(b) * T + E) * H, sizeof(float) * size_t(D) * H);
    std::memcpy(s.phi_dec + size_t(b) * D * H, s.phi + (size_t(b) * T + E) * H, sizeof(float) * size_t(D) * H);
  }
  // 8. attention; training drops each head's output (the mean is then of the dropped heads) and w_h's
  gemm::kmajor(gemm::Shape{RD, hd, H, H, hd, false}, s.theta_dec, der.q_wt.data(), der.q_b.data(), s.Q);
  gemm::kmajor(gemm::Shape{RT, hd, H, H, hd, false}, theta, der.k_wt.data(), der.k_b.data(), s.K);
  nn::linear_forward(s.V, d, theta, H, RT, w.attention.v, P, false, PT);
  float* probs = out.attention ? out.attention + size_t(b0) * D * nh * T : s.probs;
  nn::attention_forward(probs, s.heads, s.heads_mean, s.Q, s.K, s.V, enc_len, n, E, D, nh, d, s.attn_scratch);
  if (prep.dropout > 0.0f) {
    const float* kept = dropped(s.heads_dropped, s.heads_mask, s.heads, RD, hd, prep);
    for (int r = 0; r < RD; ++r)
      for (int k = 0; k < d; ++k) {
        float acc = 0.0f;
        for (int hh = 0; hh < nh; ++hh) acc += kept[size_t(r) * hd + hh * d + k];
        s.heads_mean[size_t(r) * d + k] = acc / static_cast<float>(nh);
      }
  }
  nn::linear_forward(s.attn_out, H, s.heads_mean, d, RD, w.attention.w_h, P, false, PT);
  const float* attn = dropped(s.attn_dropped, s.attn_mask, s.attn_out, RD, H, prep);
  // 9. post-attention gate (dropout on its input), 10. position-wise GRN, 11. pre-output gate (skip φ_dec)
  const float* post_attn_in = dropped(s.post_attn_in, s.post_attn_mask, attn, RD, H, prep);
  nn::linear_forward(s.post_attn_glu, 2 * H, post_attn_in, H, RD, w.post_attn.glu, P, false, PT);
  nn::gate_add_norm_forward(s.alpha, s.post_attn_glu, s.theta_dec, H, RD, H, P + w.post_attn.norm.w, P + w.post_attn.norm.b,
                            prep.eps, s.post_attn_pre);
  nn::grn_forward(s.pos_ff, s.alpha, H, RD, nullptr, 1, w.pos_wise_ff, prep);
  nn::linear_forward(s.pre_glu, 2 * H, s.pos_ff.out, H, RD, w.pre_output.glu, P, false, PT);
  nn::gate_add_norm_forward(s.omega, s.pre_glu, s.phi_dec, H, RD, H, P + w.pre_output.norm.w, P + w.pre_output.norm.b, prep.eps,
                            s.pre_pre);
  // 12. the K output heads as one GEMM: z [rows, K·Q] is exactly the [B, D, K, Q] layout
  float* z = out.prediction_normalized ? out.prediction_normalized + size_t(b0) * D * KQ : s.z;
  gemm::kmajor(gemm::Shape{RD, KQ, H, H, KQ, false}, s.omega, der.out_wt.data(), der.out_b.data(), z);
  // 13. de-normalisation and the interpretation outputs
  write_outputs(s, c, w, in, out, z, b0, n);
  reduce_interpretation(s, w, out, probs, enc_len, dec_len, b0, n, E, D, nh);
}

}  // namespace nordiq::tft
