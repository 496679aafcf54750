#include "tft/backward.hpp"

// GCC 12 reports the undefined-vector idiom inside avx512fintrin.h's masked/reduce intrinsics as
// "may be used uninitialized" at every inlining site; it is a false positive (as in layers.cpp).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "tft/gemm.hpp"
#include "tft/grad_gemm.hpp"
#include "tft/vmath.hpp"

namespace nordiq::tft::grad {

// ---- arena ------------------------------------------------------------------------------------

void Arena::Block::allocate(size_t n) {
  storage.assign(n + 16, 0.0f);
  mem = reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(storage.data()) + 63) & ~uintptr_t(63));
  size = n;
}

float* Arena::take(size_t n) {
  n = (n + 15) / 16 * 16;  // 64-byte granularity keeps every buffer aligned
  constexpr size_t kBlock = size_t(1) << 22;
  while (true) {
    if (block_ == blocks_.size()) {
      blocks_.emplace_back();
      blocks_.back().allocate(std::max(kBlock, n));
    }
    Block& b = blocks_[block_];
    if (used_ + n <= b.size) {
      float* p = b.mem + used_;
      used_ += n;
      return p;
    }
    if (used_ == 0) {  // a fresh block too small for this request: replace it
      b.allocate(n);
      continue;
    }
    ++block_;
    used_ = 0;
    if (block_ < blocks_.size() && blocks_[block_].size < n) {
      blocks_[block_].allocate(std::max(kBlock, n));
    }
  }
}

float* Arena::take_zero(size_t n) {
  float* p = take(n);
  std::memset(p, 0, sizeof(float) * n);
  return p;
}

nn::Prepared Ctx::prepared() const {
  nn::Prepared p;
  p.P = P;
  p.kappa = kappa;
  p.PT = PT;
  p.interp = interp;
  p.eps = eps;
  p.dropout = dropout;
  p.rng = rng;
  return p;
}

// ---- dropout ----------------------------------------------------------------------------------

const float* dropout_forward(const float* x, int ldx, int rows, int n, float*& mask, const Ctx& c) {
  mask = nullptr;
  if (c.dropout <= 0.0f) return x;
  const size_t N = size_t(rows) * n;
  mask = c.acts->take(N);
  float* y = c.acts->take(N);
  nn::dropout_forward(y, mask, x, ldx, rows, n, c.dropout, *c.rng);
  return y;
}

void dropout_backward(float* dx, int lddx, const float* dy, int rows, int n, const float* mask) {
  for (int r = 0; r < rows; ++r) {
    float* d = dx + size_t(r) * lddx;
    const float* g = dy + size_t(r) * n;
    if (mask) {
      const float* m = mask + size_t(r) * n;
      for (int j = 0; j < n; ++j) d[j] += g[j] * m[j];
    } else {
      for (int j = 0; j < n; ++j) d[j] += g[j];
    }
  }
}

// ---- primitives -------------------------------------------------------------------------------

void interp_backward(float* dx, int lddx, const float* dy, int rows, const nn::InterpTable& t) {
  for (int r = 0; r < rows; ++r) {
    float* d = dx + size_t(r) * lddx;
    const float* g = dy + size_t(r) * t.m;
    for (int j = 0; j < t.m; ++j) {
      d[t.i0[size_t(j)]] += t.l0[size_t(j)] * g[j];
      d[t.i1[size_t(j)]] += t.l1[size_t(j)] * g[j];
    }
  }
}

#if defined(__AVX512F__)
namespace {
// One row of layer_norm_backward, 16 lanes at a time. μ and 1/σ are recomputed exactly as the
// forward computed them (nn::layer_norm_forward: the same masked sums and reductions).
inline void layer_norm_backward_row(float* d, float* dgamma, float* dbeta, const float* gr, const float* xr, int n,
                                    const float* gamma, float eps) {
  __m512 acc = _mm512_setzero_ps();
  for (int i = 0; i < n; i += 16) acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(vm::tail_mask(n - i), xr + i));
  const __m512 mu = _mm512_set1_ps(_mm512_reduce_add_ps(acc) / static_cast<float>(n));
  acc = _mm512_setzero_ps();
  for (int i = 0; i < n; i += 16) {
    const __mmask16 m = vm::tail_mask(n - i);
    const __m512 dev = _mm512_maskz_sub_ps(m, _mm512_maskz_loadu_ps(m, xr + i), mu);
    acc = _mm512_fmadd_ps(dev, dev, acc);
  }
  const __m512 rs = _mm512_set1_ps(1.0f / std::sqrt(_mm512_reduce_add_ps(acc) / static_cast<float>(n) + eps));
  __m512 mg = _mm512_setzero_ps(), mgx = _mm512_setzero_ps();
  for (int i = 0; i < n; i += 16) {  // masked lanes: dy = 0, so they add nothing
    const __mmask16 m = vm::tail_mask(n - i);
    const __m512 xh = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, xr + i), mu), rs);
    const __m512 gy = _mm512_maskz_loadu_ps(m, gr + i);
    const __m512 g = _mm512_mul_ps(gy, _mm512_maskz_loadu_ps(m, gamma + i));
    mg = _mm512_add_ps(mg, g);
    mgx = _mm512_fmadd_ps(g, xh, mgx);
    _mm512_mask_storeu_ps(dgamma + i, m, _mm512_fmadd_ps(gy, xh, _mm512_maskz_loadu_ps(m, dgamma + i)));
    _mm512_mask_storeu_ps(dbeta + i, m, _mm512_add_ps(gy, _mm512_maskz_loadu_ps(m, dbeta + i)));
  }
  const __m512 a = _mm512_set1_ps(_mm512_reduce_add_ps(mg) / static_cast<float>(n));
  const __m512 b = _mm512_set1_ps(_mm512_reduce_add_ps(mgx) / static_cast<float>(n));
  for (int i = 0; i < n; i += 16) {  // dx += (γ·dy − a − x̂·b) / σ
    const __mmask16 m = vm::tail_mask(n - i);
    const __m512 xh = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, xr + i), mu), rs);
    const __m512 g = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, gr + i), _mm512_maskz_loadu_ps(m, gamma + i));
    const __m512 dd = _mm512_mul_ps(rs, _mm512_sub_ps(_mm512_sub_ps(g, a), _mm512_mul_ps(xh, b)));
    _mm512_mask_storeu_ps(d + i, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, d + i), dd));
  }
}
}  // namespace
#endif

void layer_norm_backward(float* dx, int lddx, float* dgamma, float* dbeta, const float* dy, const float* x, int rows,
                         int n, const float* gamma, float eps) {
#if defined(__AVX512F__)
  for (int r = 0; r < rows; ++r)
    layer_norm_backward_row(dx + size_t(r) * lddx, dgamma, dbeta, dy + size_t(r) * n, x + size_t(r) * n, n, gamma, eps);
#else
  layer_norm_backward_reference(dx, lddx, dgamma, dbeta, dy, x, rows, n, gamma, eps);
#endif
}

void layer_norm_backward_reference(float* dx, int lddx, float* dgamma, float* dbeta, const float* dy, const float* x,
                                   int rows, int n, const float* gamma, float eps) {
  for (int r = 0; r < rows; ++r) {
    const float* xr = x + size_t(r) * n;
    const float* gr = dy + size_t(r) * n;
    float* d = dx + size_t(r) * lddx;
    const float mu = vm::sum(xr, n) / static_cast<float>(n);
    const float var = vm::sum_sq_dev(xr, n, mu) / static_cast<float>(n);
    const float rs = 1.0f / std::sqrt(var + eps);
    double mg = 0, mgx = 0;
    for (int j = 0; j < n; ++j) {
      const float xh = (xr[j] - mu) * rs;
      const float g = gr[j] * gamma[j];
      mg += g;
      mgx += double(g) * xh;
      dgamma[j] += gr[j] * xh;
      dbeta[j] += gr[j];
    }
    const float a = float(mg / n), b = float(mgx / n);
    for (int j = 0; j < n; ++j) {
      const float xh = (xr[j] - mu) * rs;
      d[j] += rs * (gr[j] * gamma[j] - a - xh * b);
    }
  }
}

void softmax_backward(float* ds, const float* p, const float* dp, int rows, int n) {
  for (int r = 0; r < rows; ++r) {
    const float* pr = p + size_t(r) * n;
    const float* g = dp + size_t(r) * n;
    float* d = ds + size_t(r) * n;
    float s = 0.0f;
    for (int j = 0; j < n; ++j) s += pr[j] * g[j];
    for (int j = 0; j < n; ++j) d[j] = pr[j] * (g[j] - s);
  }
}

// ---- ResampleNorm -------------------------------------------------------------------------------

void resample_forward(ResAct& a, const float* x, int ldx, int rows, const ResampleNormW& r, const Ctx& c) {
  const size_t n = size_t(rows) * r.out;
  float* u = r.in != r.out ? c.acts->take(n) : nullptr;
  float* pre = c.acts->take(n);
  float* out = c.acts->take(n);
  nn::resample_norm_forward(out, x, ldx, rows, r, c.prepared(), u, pre);
  a = ResAct{x, ldx, rows, u, pre, out};
}

void resample_backward(float* dx, int lddx, const float* dy, const ResAct& a, const ResampleNormW& r, const Ctx& c,
                       float* G) {
  const int m = r.out, rows = a.rows;
  const size_t mark = c.scratch->mark();
  float* dpre = c.scratch->take_zero(size_t(rows) * m);
  layer_norm_backward(dpre, m, G + r.norm.w, G + r.norm.b, dy, a.pre, rows, m, c.P + r.norm.w, c.eps);
  const float* kappa = c.kappa + r.mask;
  float* dmask = G + r.mask;
  const float* u = a.u ? a.u : a.x;
  const int ldu = a.u ? m : a.ldx;
  for (int i = 0; i < rows; ++i) {
    float* d = dpre + size_t(i) * m;
    const float* ui = u + size_t(i) * ldu;
    for (int j = 0; j < m; ++j) {
      dmask[j] += d[j] * ui[j] * kappa[j] * (1.0f - 0.5f * kappa[j]);  // dκ/dmask = 2σ(1−σ)
      d[j] *= kappa[j];                                                 // du
    }
  }
  if (dx) {
    if (a.u) interp_backward(dx, lddx, dpre, rows, c.table(r.in, r.out));
    else dropout_backward(dx, lddx, dpre, rows, m, nullptr);  // plain add
  }
  c.scratch->release(mark);
}

// ---- GateAddNorm ------------------------------------------------------------------------------

void gan_forward(GanAct& a, const float* x, int ldx, int rows, const float* skip, int ld_skip, const GateAddNormW& g,
                 bool dropout, const Ctx& c) {
  const int o = g.out, in = g.glu.in;
  a.rows = rows;
  a.xd = x;
  a.ldx = ldx;
  float* mask = nullptr;
  if (dropout && c.dropout > 0.0f) {
    a.xd = dropout_forward(x, ldx, rows, in, mask, c);
    a.ldx = in;  // from here on the (dropped) input is dense
  }
  a.mask = mask;
  float* u = c.acts->take(size_t(rows) * 2 * o);
  float* pre = c.acts->take(size_t(rows) * o);
  float* out = c.acts->take(size_t(rows) * o);
  nn::linear_forward(u, 2 * o, a.xd, a.ldx, rows, g.glu, c.P, false, c.PT);
  nn::gate_add_norm_forward(out, u, skip, ld_skip, rows, o, c.P + g.norm.w, c.P + g.norm.b, c.eps, pre);
  a.u = u;
  a.pre = pre;
  a.out = out;
}

void gan_backward(float* dx, int lddx, float* dskip, int ld_dskip, const float* dy, const GanAct& a,
                  const GateAddNormW& g, const Ctx& c, float* G) {
  const int o = g.out, in = g.glu.in, rows = a.rows;
  const size_t mark = c.scratch->mark();
  float* dpre = c.scratch->take_zero(size_t(rows) * o);
  layer_norm_backward(dpre, o, G + g.norm.w, G + g.norm.b, dy, a.pre, rows, o, c.P + g.norm.w, c.eps);
  if (dskip) dropout_backward(dskip, ld_dskip, dpre, rows, o, nullptr);
  float* du = c.scratch->take(size_t(rows) * 2 * o);
  for (int r = 0; r < rows; ++r) {
    const float* ur = a.u + size_t(r) * 2 * o;
    const float* d = dpre + size_t(r) * o;
    float* dur = du + size_t(r) * 2 * o;
    vm::sigmoid_n(dur + o, ur + o, o);  // s = σ(gate)
    for (int j = 0; j < o; ++j) {
      const float s = dur[o + j];
      dur[j] = d[j] * s;
      dur[o + j] = d[j] * ur[j] * s * (1.0f - s);
    }
  }
  if (a.mask) {
    float* dxd = dx ? c.scratch->take_zero(size_t(rows) * in) : nullptr;
    grad::linear_backward(dxd, in, G, du, 2 * o, a.xd, a.ldx, rows, g.glu, c.P);
    if (dx) dropout_backward(dx, lddx, dxd, rows, in, a.mask);
  } else {
    grad::linear_backward(dx, lddx, G, du, 2 * o, a.xd, a.ldx, rows, g.glu, c.P);
  }
  c.scratch->release(mark);
}

// ---- GRN ----------------------------------------------------------------------------------------

void grn_train_forward(GrnAct& a, const float* x, int ldx, int rows, const float* ctx, int rows_per_ctx, const GrnW& g,
                       const Ctx& c) {
  a.x = x;
  a.ldx = ldx;
  a.rows = rows;
  a.ctx = g.ctx ? ctx : nullptr;
  a.rows_per_ctx = rows_per_ctx;
  const int groups = rows / rows_per_ctx;
  float* cursor = c.acts->take(nn::grn_acts_floats(g, rows, groups, c.keep()));
  a.act = nn::grn_acts_take(g, rows, groups, cursor, c.keep());
  nn::grn_forward(a.act, x, ldx, rows, a.ctx, rows_per_ctx, g, c.prepared());
}

namespace {
// The backward's views of what nn::grn_forward kept: its gate, and its resample path.
GanAct gate_of(const GrnAct& a, const GrnW& g) {
  return GanAct{a.act.mask ? a.act.dropped : a.act.fc2, a.act.mask, a.act.glu, a.act.gate_pre, a.act.out, g.hidden, a.rows};
}
ResAct resample_of(const GrnAct& a) { return ResAct{a.x, a.ldx, a.rows, a.act.res_interp, a.act.res_pre, a.act.resid}; }
}  // namespace

void grn_backward(float* dx, int lddx, float* dctx, const float* dy, const GrnAct& a, const GrnW& g, const Ctx& c,
                  float* G) {
  const int rows = a.rows, hd = g.hidden, o = g.out;
  const size_t mark = c.scratch->mark();
  float* dskip = nullptr;
  int ld_dskip = o;
  if (g.resample) {
    dskip = c.scratch->take_zero(size_t(rows) * o);
  } else if (dx) {
    dskip = dx;  // the residual is x itself
    ld_dskip = lddx;
  }
  float* d3 = c.scratch->take_zero(size_t(rows) * hd);
  gan_backward(d3, hd, dskip, ld_dskip, dy, gate_of(a, g), g.gate, c, G);
  float* d2 = c.scratch->take_zero(size_t(rows) * hd);
  grad::linear_backward(d2, hd, G, d3, hd, a.act.elu, hd, rows, g.fc2, c.P);
  // ELU'(η1) = 1 for η1 > 0, e^η1 = ELU(η1) + 1 otherwise
  const size_t n = size_t(rows) * hd;
  for (size_t i = 0; i < n; ++i) d2[i] *= a.act.fc1[i] > 0.0f ? 1.0f : a.act.elu[i] + 1.0f;
  grad::linear_backward(dx, lddx, G, d2, hd, a.x, a.ldx, rows, g.fc1, c.P);
  if (a.ctx) {
    // The context is one row per group of rows: sum dη1 per group, then one small product.
    const int groups = rows / a.rows_per_ctx;
    float* s = c.scratch->take_zero(size_t(groups) * hd);
    for (int r = 0; r < rows; ++r) {
      float* sg = s + size_t(r / a.rows_per_ctx) * hd;
      const float* d = d2 + size_t(r) * hd;
      for (int j = 0; j < hd; ++j) sg[j] += d[j];
    }
    grad::linear_backward(dctx, g.ctx, G, s, hd, a.ctx, g.ctx, groups, g.context, c.P);
  }
  if (g.resample) resample_backward(dx, lddx, dskip, resample_of(a), g.res, c, G);
  c.scratch->release(mark);
}

// ---- VSN ----------------------------------------------------------------------------------------

void vsn_train_forward(VsnAct& a, const float* flat, int rows, const float* context, int rows_per_ctx, const VsnW& v,
                       int H, const Ctx& c) {
  a.rows = rows;
  a.rows_per_ctx = rows_per_ctx;
  a.flat = flat;
  a.ctx = v.flat.ctx ? context : nullptr;
  const int groups = rows / rows_per_ctx;
  float* cursor = c.acts->take(nn::vsn_acts_floats(v, rows, groups, true, c.keep()));
  nn::vsn_acts_take(a.act, v, rows, groups, true, cursor, c.keep());
  nn::vsn_forward(a.act, flat, rows, a.ctx, rows_per_ctx, v, H, c.prepared());
}

void vsn_backward(float* dF, float* dcontext, const float* dy, const VsnAct& a, const VsnW& v, int H, const Ctx& c,
                  float* G) {
  const int n = v.n(), S = v.flat_width, rows = a.rows;
  const nn::VsnActs& act = a.act;
  const size_t mark = c.scratch->mark();
  float* dw = c.scratch->take(size_t(rows) * n);
  for (int r = 0; r < rows; ++r)
    for (int i = 0; i < n; ++i) {
      const float* x = act.vars[size_t(i)].out + size_t(r) * H;
      const float* g = dy + size_t(r) * H;
      float s = 0.0f;
      for (int j = 0; j < H; ++j) s += g[j] * x[j];
      dw[size_t(r) * n + i] = s;
    }
  float* dlogits = c.scratch->take(size_t(rows) * n);
  softmax_backward(dlogits, act.weights, dw, rows, n);
  grn_backward(dF, S, dcontext, dlogits, GrnAct{a.flat, a.ctx, S, rows, a.rows_per_ctx, act.flat}, v.flat, c, G);
  float* dxi = c.scratch->take(size_t(rows) * H);
  for (int i = 0; i < n; ++i) {
    const auto& var = v.vars[size_t(i)];
    const nn::GrnActs& vi = act.vars[size_t(i)];
    for (int r = 0; r < rows; ++r) {
      const float wv = act.weights[size_t(r) * n + i];
      const float* g = dy + size_t(r) * H;
      float* d = dxi + size_t(r) * H;
      for (int j = 0; j < H; ++j) d[j] = wv * g[j];
    }
    const float* xi = a.flat + var.flat_offset;
    if (var.categorical)
      resample_backward(dF + var.flat_offset, S, dxi, ResAct{xi, S, rows, vi.res_interp, vi.res_pre, vi.out}, var.cat_norm, c, G);
    else
      grn_backward(dF + var.flat_offset, S, nullptr, dxi, GrnAct{xi, nullptr, S, rows, 1, vi}, var.grn, c, G);
  }
  c.scratch->release(mark);
}

// ---- LSTM ---------------------------------------------------------------------------------------

void lstm_backward(float* dx, float* dh0, float* dc0, const float* dout, size_t dout_stride, const float* dh_n,
                   const float* dc_n, const float* x, const float* gates, const float* cells, const float* out,
                   size_t out_stride, const float* h0, const float* c0, const int32_t* lengths, int servers, int steps,
                   const LstmW& w, const Ctx& c, float* G) {
  const int H = w.hidden, G4 = 4 * H;
  const size_t rows = size_t(servers) * steps;
  const size_t mark = c.scratch->mark();
  float* dZ = c.scratch->take_zero(rows * G4);
  float* dh_next = c.scratch->take_zero(size_t(servers) * H);
  float* dc_next = c.scratch->take_zero(size_t(servers) * H);
  float* tmp = c.scratch->take(size_t(servers) * H);
  float* tc = c.scratch->take(size_t(H));
  if (dh_n) std::memcpy(dh_next, dh_n, sizeof(float) * size_t(servers) * H);
  if (dc_n) std::memcpy(dc_next, dc_n, sizeof(float) * size_t(servers) * H);
  int max_len = 0;
  for (int b = 0; b < servers; ++b) max_len = std::max(max_len, std::min<int>(lengths[b], steps));
  const float* Whh = c.P + w.hh.w;  // [4H, H] = K-major [K = 4H, N = H]
  for (int t = max_len - 1; t >= 0; --t) {
    for (int b = 0; b < servers; ++b) {
      if (t >= lengths[b]) continue;
      const size_t row = size_t(b) * steps + t;
      const float* z = gates + row * G4;
      const float* ct = cells + row * H;
      const float* cp = t > 0 ? cells + (row - 1) * H : c0 + size_t(b) * H;
      const float* go = dout + size_t(b) * dout_stride + size_t(t) * H;
      float* dz = dZ + row * G4;
      float* dhn = dh_next + size_t(b) * H;
      float* dcn = dc_next + size_t(b) * H;
      vm::tanh_n(tc, ct, H);
      for (int j = 0; j < H; ++j) {
        const float i = z[j], f = z[H + j], g = z[2 * H + j], o = z[3 * H + j];
        const float dh = go[j] + dhn[j];
        const float dc = dcn[j] + dh * o * (1.0f - tc[j] * tc[j]);
        dz[j] = dc * g * i * (1.0f - i);
        dz[H + j] = dc * cp[j] * f * (1.0f - f);
        dz[2 * H + j] = dc * i * (1.0f - g * g);
        dz[3 * H + j] = dh * tc[j] * o * (1.0f - o);
        dcn[j] = dc * f;
      }
    }
    // dh_{t−1} = dz_t · W_hh for every server; only active ones take it (the others still wait
    // for their last valid step, carrying dh_n unchanged).
    gemm::small_kmajor(servers, H, G4, dZ + size_t(t) * G4, steps * G4, Whh, tmp, H, false);
    for (int b = 0; b < servers; ++b)
      if (t < lengths[b]) std::memcpy(dh_next + size_t(b) * H, tmp + size_t(b) * H, sizeof(float) * size_t(H));
  }
  for (size_t i = 0; i < size_t(servers) * H; ++i) {
    dh0[i] += dh_next[i];
    dc0[i] += dc_next[i];
  }
  // Input and recurrent weight products over all rows at once (padded rows have dz = 0).
  float* hprev = c.scratch->take(rows * H);
  for (int b = 0; b < servers; ++b)
    for (int t = 0; t < steps; ++t) {
      const float* src = t == 0 ? h0 + size_t(b) * H : out + size_t(b) * out_stride + size_t(t - 1) * H;
      std::memcpy(hprev + (size_t(b) * steps + t) * H, src, sizeof(float) * size_t(H));
    }
  grad::linear_backward(dx, w.ih.in, G, dZ, G4, x, w.ih.in, int(rows), w.ih, c.P);
  grad::linear_backward(nullptr, 0, G, dZ, G4, hprev, H, int(rows), w.hh, c.P);
  c.scratch->release(mark);
}

// ---- attention ----------------------------------------------------------------------------------

// Per server and head, as four small GEMMs over all T keys (masked keys have p = 0 exactly, so
// they receive nothing and add nothing; V and K are finite everywhere):
//   dA = dO·Vᵀ [D, T];  dS = P ⊙ (dA − rowsum(P ⊙ dA)) / √d;
//   dV += Pᵀ·dO;  dQ_h += dS·K_h;  dK_h += dSᵀ·Q_h.
void attention_backward(float* dQ, float* dK, float* dV, const float* dheads, const float* probs, const float* Q,
                        const float* K, const float* V, const int32_t* enc_len, int servers, int E, int D, int n_heads,
                        int d) {
  (void)enc_len;  // the mask is in probs
  const int T = E + D, hd = n_heads * d;
  const float inv_scaler = 1.0f / std::sqrt(static_cast<float>(d));
  thread_local std::vector<float> vt, dO, dS, dSt, pt, kh, qh;  // reused: no allocation once warm
  vt.resize(size_t(d) * T);
  dO.resize(size_t(D) * d);
  dS.resize(size_t(D) * T);
  dSt.resize(size_t(T) * D);
  pt.resize(size_t(T) * D);
  kh.resize(size_t(T) * d);
  qh.resize(size_t(D) * d);
  // rows [rows, d] of head hh out of a [rows, h·d] array → dense [rows, d]
  auto head_rows = [&](float* dst, const float* src, int rows, int hh) {
    for (int r = 0; r < rows; ++r) std::memcpy(dst + size_t(r) * d, src + size_t(r) * hd + hh * d, sizeof(float) * size_t(d));
  };
  auto transpose = [](float* dst, const float* src, int rows, int cols, size_t ld_src) {  // [rows, cols] → [cols, rows]
    for (int r = 0; r < rows; ++r)
      for (int c = 0; c < cols; ++c) dst[size_t(c) * rows + r] = src[size_t(r) * ld_src + c];
  };
  for (int b = 0; b < servers; ++b) {
    transpose(vt.data(), V + size_t(b) * T * d, T, d, size_t(d));
    for (int hh = 0; hh < n_heads; ++hh) {
      const float* P = probs + size_t(b) * D * n_heads * T + size_t(hh) * T;  // row i at P + i·h·T
      const size_t ldp = size_t(n_heads) * T;
      head_rows(dO.data(), dheads + size_t(b) * D * hd, D, hh);
      gemm::small_kmajor(D, T, d, dO.data(), d, vt.data(), dS.data(), T, false);  // dA
      for (int i = 0; i < D; ++i) {
        const float* p = P + size_t(i) * ldp;
        float* ds = dS.data() + size_t(i) * T;
        float s = 0.0f;
        for (int j = 0; j < T; ++j) s += p[j] * ds[j];
        for (int j = 0; j < T; ++j) ds[j] = p[j] * (ds[j] - s) * inv_scaler;
      }
      transpose(pt.data(), P, D, T, ldp);
      gemm::small_kmajor(T, d, D, pt.data(), D, dO.data(), dV + size_t(b) * T * d, d, true);
      head_rows(kh.data(), K + size_t(b) * T * hd, T, hh);
      gemm::small_kmajor(D, d, T, dS.data(), T, kh.data(), dQ + size_t(b) * D * hd + hh * d, hd, true);
      transpose(dSt.data(), dS.data(), D, T, size_t(T));
      head_rows(qh.data(), Q + size_t(b) * D * hd, D, hh);
      gemm::small_kmajor(T, d, D, dSt.data(), D, qh.data(), dK + size_t(b) * T * hd + hh * d, hd, true);
    }
  }
}

void attention_backward_reference(float* dQ, float* dK, float* dV, const float* dheads, const float* probs,
                                  const float* Q, const float* K, const float* V, const int32_t* enc_len, int servers,
                                  int E, int D, int n_heads, int d) {
  const int T = E + D, hd = n_heads * d;
  const float inv_scaler = 1.0f / std::sqrt(static_cast<float>(d));
  std::vector<float> dA(static_cast<size_t>(T), 0.0f);
  for (int b = 0; b < servers; ++b) {
    const int le = std::min(enc_len[b], E);
    const float* Vb = V + size_t(b) * T * d;
    float* dVb = dV + size_t(b) * T * d;
    const float* Kb = K + size_t(b) * T * hd;
    float* dKb = dK + size_t(b) * T * hd;
    for (int i = 0; i < D; ++i) {
      for (int hh = 0; hh < n_heads; ++hh) {
        const float* dO = dheads + ((size_t(b) * D + i) * n_heads + hh) * d;
        const float* p = probs + ((size_t(b) * D + i) * n_heads + hh) * T;
        const float* q = Q + (size_t(b) * D + i) * hd + hh * d;
        float* dq = dQ + (size_t(b) * D + i) * hd + hh * d;
        float s = 0.0f;
        auto key = [&](int j) {  // valid keys: encoder 0..le-1 and decoder E..E+i-1
          float a = 0.0f;
          for (int k = 0; k < d; ++k) {
            a += dO[k] * Vb[size_t(j) * d + k];
            dVb[size_t(j) * d + k] += p[j] * dO[k];
          }
          dA[size_t(j)] = a;
          s += p[j] * a;
        };
        for (int j = 0; j < le; ++j) key(j);
        for (int j = E; j < E + i; ++j) key(j);
        auto score = [&](int j) {
          const float ds = p[j] * (dA[size_t(j)] - s) * inv_scaler;
          const float* kj = Kb + size_t(j) * hd + hh * d;
          float* dkj = dKb + size_t(j) * hd + hh * d;
          for (int k = 0; k < d; ++k) {
            dq[k] += ds * kj[k];
            dkj[k] += ds * q[k];
          }
        };
        for (int j = 0; j < le; ++j) score(j);
        for (int j = E; j < E + i; ++j) score(j);
      }
    }
  }
}

}  // namespace nordiq::tft::grad
