#include "tft/folded.hpp"

// GCC 12's false "may be used uninitialized" inside avx512fintrin.h (see layers.cpp).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "tft/gemm.hpp"
#include "tft/vmath.hpp"

namespace nordiq::tft::nn {

const FoldedGlu* Folds::glu_of(const GrnW& g) const {
  auto it = glu.find(&g);
  return it == glu.end() ? nullptr : &it->second;
}

const FoldedVsn* Folds::vsn_of(const VsnW& v) const {
  auto it = vsn.find(&v);
  return it == vsn.end() ? nullptr : &it->second;
}

namespace {

// Products are summed in double and rounded once: the folded weights are as exact as float allows.
FoldedGlu fold_glu(const GrnW& g, const float* P) {
  const int hidden = g.hidden, width = 2 * g.out;
  const float* W2 = P + g.fc2.w;       // [hidden, hidden]
  const float* Wg = P + g.gate.glu.w;  // [2·out, hidden]
  FoldedGlu f;
  f.wt.assign(size_t(hidden) * width, 0.0f);
  f.b.assign(size_t(width), 0.0f);
  for (int i = 0; i < width; ++i) {
    double bias = P[g.gate.glu.b + size_t(i)];
    for (int h = 0; h < hidden; ++h) bias += double(Wg[size_t(i) * hidden + h]) * P[g.fc2.b + size_t(h)];
    f.b[size_t(i)] = float(bias);
    for (int k = 0; k < hidden; ++k) {
      double acc = 0.0;
      for (int h = 0; h < hidden; ++h) acc += double(Wg[size_t(i) * hidden + h]) * W2[size_t(h) * hidden + k];
      f.wt[size_t(k) * width + i] = float(acc);
    }
  }
  return f;
}

// LN(x·a + c) as the closed form of FoldedVar (folded.hpp), in double, rounded once.
void fold_skip_norm(FoldedVar& f, std::vector<double> a, std::vector<double> c, const float* gamma,
                    const float* beta) {
  const size_t out = a.size();
  double mean_a = 0, mean_c = 0;
  for (size_t j = 0; j < out; ++j) mean_a += a[j], mean_c += c[j];
  mean_a /= double(out);
  mean_c /= double(out);
  double p = 0, q = 0, w = 0;
  for (size_t j = 0; j < out; ++j) {
    a[j] -= mean_a;
    c[j] -= mean_c;
    p += a[j] * a[j], q += a[j] * c[j], w += c[j] * c[j];
  }
  p /= double(out), q /= double(out), w /= double(out);
  const double x0 = p > 0 ? -q / p : 0.0;
  f.skip_p = float(p);
  f.skip_x0 = float(x0);
  f.skip_m = float(std::max(0.0, w - p * x0 * x0));
  f.skip_ag.resize(out);
  f.skip_cg.resize(out);
  f.skip_beta.assign(beta, beta + out);
  for (size_t j = 0; j < out; ++j) {
    f.skip_ag[j] = float(a[j] * gamma[j]);
    f.skip_cg[j] = float(c[j] * gamma[j]);
  }
}

FoldedVar fold_var(const VsnVarW& var, const float* P, const float* kappa) {
  const GrnW& g = var.grn;
  const int c = var.width, hidden = g.hidden, out = g.out;
  const float* pw = P + var.prescaler.w;  // [c, 1]
  const float* pb = P + var.prescaler.b;
  const float* W1 = P + g.fc1.w;          // [hidden, c]
  FoldedVar f;
  f.a1.resize(size_t(hidden));
  f.b1.resize(size_t(hidden));
  for (int h = 0; h < hidden; ++h) {
    double a = 0.0, b = P[g.fc1.b + size_t(h)];
    for (int j = 0; j < c; ++j) {
      a += double(W1[size_t(h) * c + j]) * pw[j];
      b += double(W1[size_t(h) * c + j]) * pb[j];
    }
    f.a1[size_t(h)] = float(a);
    f.b1[size_t(h)] = float(b);
  }
  // the skip before its LayerNorm: x·a + c
  const InterpTable t = InterpTable::make(c, out);
  const float* k = kappa + g.res.mask;
  std::vector<double> sa(static_cast<size_t>(out)), sc(static_cast<size_t>(out));
  for (int j = 0; j < out; ++j) {
    const size_t i0 = size_t(t.i0[size_t(j)]), i1 = size_t(t.i1[size_t(j)]);
    const double l0 = t.l0[size_t(j)], l1 = t.l1[size_t(j)];
    sa[size_t(j)] = k[j] * (l0 * pw[i0] + l1 * pw[i1]);
    sc[size_t(j)] = k[j] * (l0 * pb[i0] + l1 * pb[i1]);
  }
  fold_skip_norm(f, sa, sc, P + g.res.norm.w, P + g.res.norm.b);
  return f;
}

// Column s of the flattened input is coef[s]·z[src[s]] + cst[s].
struct FlatColumns {
  std::vector<int> src;
  std::vector<double> coef, cst;
};

FlatColumns flat_columns(const VsnW& v, const FoldedVsn& f, const float* P) {
  FlatColumns m;
  m.src.resize(size_t(v.flat_width));
  m.coef.resize(size_t(v.flat_width));
  m.cst.resize(size_t(v.flat_width));
  for (size_t i = 0; i < v.vars.size(); ++i) {
    const VsnVarW& var = v.vars[i];
    for (int j = 0; j < var.width; ++j) {
      const size_t s = size_t(var.flat_offset + j);
      m.src[s] = f.z_offset[i] + (var.categorical ? j : 0);
      m.coef[s] = var.categorical ? 1.0 : P[var.prescaler.w + size_t(j)];
      m.cst[s] = var.categorical ? 0.0 : P[var.prescaler.b + size_t(j)];
    }
  }
  return m;
}

// y = F·Wᵀ + b for a Linear W [out, S] of the flattened input, as an affine map of z.
FoldedLinear fold_linear_of_flat(const float* W, const float* b, int out, const FlatColumns& m, int width) {
  const int S = int(m.src.size());
  std::vector<double> wt(size_t(width) * out, 0.0), bias(size_t(out), 0.0);
  for (int o = 0; o < out; ++o) {
    bias[size_t(o)] = b ? b[o] : 0.0;
    for (int s = 0; s < S; ++s) {
      const double w = W[size_t(o) * S + s];
      wt[size_t(m.src[size_t(s)]) * out + o] += w * m.coef[size_t(s)];
      bias[size_t(o)] += w * m.cst[size_t(s)];
    }
  }
  FoldedLinear f;
  f.in = width;
  f.out = out;
  f.wt.assign(wt.begin(), wt.end());
  f.b.assign(bias.begin(), bias.end());
  return f;
}

FoldedVsn fold_vsn(const VsnW& v, const float* P, const float* kappa) {
  FoldedVsn f;
  for (const auto& var : v.vars) {
    f.z_offset.push_back(f.width);
    f.width += var.categorical ? var.width : 1;
  }
  const FlatColumns m = flat_columns(v, f, P);
  const GrnW& g = v.flat;
  f.fc1 = fold_linear_of_flat(P + g.fc1.w, P + g.fc1.b, g.hidden, m, f.width);
  // the skip κ ⊙ I(F) is the Linear whose rows are κ_o × (the interpolation taps of output o)
  const InterpTable t = InterpTable::make(g.in, g.out);
  std::vector<float> taps(size_t(g.out) * g.in, 0.0f);
  for (int o = 0; o < g.out; ++o) {
    const float k = kappa[g.res.mask + size_t(o)];
    taps[size_t(o) * g.in + t.i0[size_t(o)]] += k * t.l0[size_t(o)];
    taps[size_t(o) * g.in + t.i1[size_t(o)]] += k * t.l1[size_t(o)];
  }
  f.skip = fold_linear_of_flat(taps.data(), nullptr, g.out, m, f.width);
  for (const auto& var : v.vars) f.vars.push_back(var.categorical ? FoldedVar{} : fold_var(var, P, kappa));
  return f;
}

// Folding needs every resample in place (the skips are ResampleNorms); a VSN without is served unfolded.
bool foldable(const VsnW& v) {
  if (!v.flat.resample) return false;
  return std::all_of(v.vars.begin(), v.vars.end(), [](const VsnVarW& var) { return var.categorical || var.grn.resample; });
}

// a.elu = ELU(fc1(prescaler(x))) = ELU(x·a1 + b1), as grn_elu computes it.
void fc1_elu(const GrnActs& a, const float* x, int ldx, int rows, const GrnW& g, const FoldedVar& f) {
  const int hidden = g.hidden;
#if defined(__AVX512F__)
  if (hidden == 16) {  // one register per row
    const __m512 a1 = _mm512_loadu_ps(f.a1.data()), b1 = _mm512_loadu_ps(f.b1.data()), one = _mm512_set1_ps(1.0f);
    for (int r = 0; r < rows; ++r) {
      const __m512 pre = _mm512_fmadd_ps(_mm512_set1_ps(x[size_t(r) * ldx]), a1, b1);
      const __m512 neg = _mm512_sub_ps(vm::exp16(pre), one);
      _mm512_storeu_ps(a.elu + size_t(r) * 16, _mm512_mask_blend_ps(_mm512_cmp_ps_mask(pre, _mm512_setzero_ps(), _CMP_GT_OQ), neg, pre));
    }
    return;
  }
#endif
  for (int r = 0; r < rows; ++r) {
    const float xr = x[size_t(r) * ldx];
    float* pre = a.fc1 + size_t(r) * hidden;
    for (int h = 0; h < hidden; ++h) pre[h] = xr * f.a1[size_t(h)] + f.b1[size_t(h)];
  }
  grn_elu(a, rows, g);
}

#if defined(__AVX512F__)
// The last pass of var_epilogue32: ξ's rows LayerNormed in place from their mean and
// 1/√(var + eps) (layers.cpp's LayerNorm operations), and acts->out += weight · ξ.
void norm_and_weigh32(const VsnActs* acts, int i, int n, int row0, float* xi, int rows, const float* mean,
                      const float* scale, const GrnW& g, const Prepared& p) {
  const float *gg = p.P + g.gate.norm.w, *gb = p.P + g.gate.norm.b;
  const __m512 g0 = _mm512_loadu_ps(gg), g1 = _mm512_loadu_ps(gg + 16);
  const __m512 b0 = _mm512_loadu_ps(gb), b1 = _mm512_loadu_ps(gb + 16);
  for (int r = 0; r < rows; ++r, xi += 32) {
    const __m512 mu = _mm512_set1_ps(mean[r]), rs = _mm512_set1_ps(scale[r]);
    const __m512 y0 = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(xi), mu), rs), g0, b0);
    const __m512 y1 = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(xi + 16), mu), rs), g1, b1);
    _mm512_storeu_ps(xi, y0);
    _mm512_storeu_ps(xi + 16, y1);
    if (!acts) continue;
    const __m512 w = _mm512_set1_ps(acts->weights[size_t(row0 + r) * n + i]);
    float* o = acts->out + size_t(row0 + r) * 32;
    _mm512_storeu_ps(o, _mm512_fmadd_ps(w, y0, _mm512_loadu_ps(o)));
    _mm512_storeu_ps(o + 16, _mm512_fmadd_ps(w, y1, _mm512_loadu_ps(o + 16)));
  }
}

// For out = 32, everything after the GLU's GEMM, in passes over the rows: (1) the skip (its
// LayerNorm in closed form) plus the gate, kept in ξ, with the row's mean; (2) the row's variance;
// (3) the variances' 1/√(var + eps), 16 rows at a time; (4) the LayerNorm, the store of ξ and the
// weighted sum into the VSN's output. The same operations as layers.cpp's LayerNorm in the same
// order, so the same bits as its norm_rows, which is laid out in passes for the same reason: the
// rows' reduction → sqrt → divide chains, which bound a row-at-a-time loop, overlap.
void var_epilogue32(const VsnActs* acts, int i, int n, int r0, const GrnActs& a, const float* x, int ldx, int rows,
                    const GrnW& g, const FoldedVar& f, const Prepared& p) {
  alignas(64) float mean[kVsnRowBlock], scale[kVsnRowBlock];
  const __m512 sa0 = _mm512_loadu_ps(f.skip_ag.data()), sa1 = _mm512_loadu_ps(f.skip_ag.data() + 16);
  const __m512 sc0 = _mm512_loadu_ps(f.skip_cg.data()), sc1 = _mm512_loadu_ps(f.skip_cg.data() + 16);
  const __m512 sb0 = _mm512_loadu_ps(f.skip_beta.data()), sb1 = _mm512_loadu_ps(f.skip_beta.data() + 16);
  for (int r0b = 0; r0b < rows; r0b += kVsnRowBlock) {
    const int nr = std::min(kVsnRowBlock, rows - r0b);
    for (int r = r0b; r < r0b + nr; ++r) {
      const float xs = x[size_t(r) * ldx];
      const __m512 xr = _mm512_set1_ps(xs), sr = _mm512_set1_ps(f.skip_scale(xs, p.eps));
      const __m512 s0 = _mm512_fmadd_ps(sr, _mm512_fmadd_ps(xr, sa0, sc0), sb0);
      const __m512 s1 = _mm512_fmadd_ps(sr, _mm512_fmadd_ps(xr, sa1, sc1), sb1);
      const float* u = a.glu + size_t(r) * 64;
      const __m512 y0 = _mm512_fmadd_ps(_mm512_loadu_ps(u), vm::sigmoid16(_mm512_loadu_ps(u + 32)), s0);
      const __m512 y1 = _mm512_fmadd_ps(_mm512_loadu_ps(u + 16), vm::sigmoid16(_mm512_loadu_ps(u + 48)), s1);
      float* xi = a.out + size_t(r) * 32;
      _mm512_storeu_ps(xi, y0);
      _mm512_storeu_ps(xi + 16, y1);
      mean[r - r0b] = _mm512_reduce_add_ps(_mm512_add_ps(y0, y1)) / 32.0f;
    }
    // the variances in a loop of their own: short, so many rows' reductions are in flight at once
    for (int r = 0; r < nr; ++r) {
      const float* xi = a.out + size_t(r0b + r) * 32;
      const __m512 mu = _mm512_set1_ps(mean[r]);
      const __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(xi), mu), d1 = _mm512_sub_ps(_mm512_loadu_ps(xi + 16), mu);
      scale[r] = _mm512_reduce_add_ps(_mm512_fmadd_ps(d1, d1, _mm512_mul_ps(d0, d0))) / 32.0f;
    }
    vm::inv_std_n(scale, nr, p.eps);
    norm_and_weigh32(acts, i, n, r0 + r0b, a.out + size_t(r0b) * 32, nr, mean, scale, g, p);
  }
}
#endif

// ξ_i = GRN(prescaler(x)) for rows r0.. (nr of them; scalars x with stride ldx) into a.out, and
// (with acts) acts->out += acts->weights[·, i] · ξ_i, computed (the path without a table).
void exact_var_forward(const VsnActs* acts, const VsnW& v, int i, int r0, const GrnActs& a, const float* x, int ldx,
                        int rows, const FoldedVar& f, const Prepared& p) {
  const GrnW& g = v.vars[size_t(i)].grn;
  const int out = g.out;
  fc1_elu(a, x, ldx, rows, g, f);
  grn_glu_input(a, rows, g, p);
#if defined(__AVX512F__)
  if (out == 32) return var_epilogue32(acts, i, v.n(), r0, a, x, ldx, rows, g, f, p);
#endif
  for (int r = 0; r < rows; ++r) {
    const float xr = x[size_t(r) * ldx], sr = f.skip_scale(xr, p.eps);
    float* s = a.resid + size_t(r) * out;
    for (int j = 0; j < out; ++j)
      s[j] = sr * (xr * f.skip_ag[size_t(j)] + f.skip_cg[size_t(j)]) + f.skip_beta[size_t(j)];
  }
  gate_add_norm_forward(a.out, a.glu, a.resid, out, rows, out, p.P + g.gate.norm.w, p.P + g.gate.norm.b, p.eps);
  if (acts) vsn_accumulate(*acts, a.out, v, i, r0, rows, out);
}

// One row's ξ from its interval's cubic: into xi (if not null), and (o not null) o += w·ξ.
inline void table_row(const float* c, float d, int out, float* xi, float* o, float w) {
#if defined(__AVX512F__)
  if (out % 16 == 0) {
    const __m512 dv = _mm512_set1_ps(d), wv = _mm512_set1_ps(w);
    for (int j = 0; j < out; j += 16) {
      __m512 y = _mm512_fmadd_ps(_mm512_loadu_ps(c + 3 * out + j), dv, _mm512_loadu_ps(c + 2 * out + j));
      y = _mm512_fmadd_ps(y, dv, _mm512_loadu_ps(c + out + j));
      y = _mm512_fmadd_ps(y, dv, _mm512_loadu_ps(c + j));
      if (xi) _mm512_storeu_ps(xi + j, y);
      if (o) _mm512_storeu_ps(o + j, _mm512_fmadd_ps(wv, y, _mm512_loadu_ps(o + j)));
    }
    return;
  }
#endif
  for (int j = 0; j < out; ++j) {
    const float y = VarTable::cubic(c, d, out, j);
    if (xi) xi[j] = y;
    if (o) o[j] = std::fma(w, y, o[j]);
  }
}

// The rows a variable's table does not cover (far outside [lo, hi), or NaN), gathered.
struct Misses {
  std::vector<int> row;
  std::vector<float> x, xi;
};

#if defined(__AVX512F__)
// The serving case of tabulated_var_forward, specialised by width: o[r] += w[r·n] · ξ(x[r]) for every
// covered row (the rest into `miss`). The same arithmetic as table_row, with a row's OUT/4 cache
// lines of coefficients prefetched unrolled and no branch per output block: with a loop per row
// and the generic table_row, the instructions around the arithmetic outnumbered it.
template <int OUT>
void table_rows_accumulate(const VarTable& t, const float* x, int ldx, int rows, float* o, const float* w, int n,
                           Misses& miss) {
  constexpr int kBlock = 32;
  constexpr int kLines = OUT * 4 * int(sizeof(float)) / 64;
  const float* coef[kBlock];
  float dist[kBlock];
  int row[kBlock];
  for (int b0 = 0; b0 < rows; b0 += kBlock) {
    int found = 0;
    const int b1 = std::min(rows, b0 + kBlock);
    for (int r = b0; r < b1; ++r) {
      const float xr = x[size_t(r) * ldx];
      if (!t.covers(xr)) {
        miss.row.push_back(r);
        miss.x.push_back(xr);
        continue;
      }
      const float* c = t.interval(xr, dist[found]);
      #pragma GCC unroll 16
      for (int l = 0; l < kLines; ++l) __builtin_prefetch(c + l * 16);
      coef[found] = c;
      row[found++] = r;
    }
    for (int k = 0; k < found; ++k) {
      const float* c = coef[k];
      const __m512 dv = _mm512_set1_ps(dist[k]), wv = _mm512_set1_ps(w[size_t(row[k]) * n]);
      float* orow = o + size_t(row[k]) * OUT;
      #pragma GCC unroll 4
      for (int j = 0; j < OUT; j += 16) {
        __m512 y = _mm512_fmadd_ps(_mm512_loadu_ps(c + 3 * OUT + j), dv, _mm512_loadu_ps(c + 2 * OUT + j));
        y = _mm512_fmadd_ps(y, dv, _mm512_loadu_ps(c + OUT + j));
        y = _mm512_fmadd_ps(y, dv, _mm512_loadu_ps(c + j));
        _mm512_storeu_ps(orow + j, _mm512_fmadd_ps(wv, y, _mm512_loadu_ps(orow + j)));
      }
    }
  }
}
#endif

// Every covered row through table_row (any width; ξ kept when xi_out, o += w·ξ when acts).
void table_rows(const VsnActs* acts, const VarTable& t, int i, int n, int r0, const float* x, int ldx, int rows,
                float* xi_out, Misses& miss) {
  const int out = t.out;
  // In blocks: first every row's interval, its coefficients prefetched, then the cubics, so that
  // many rows' loads from the table are in flight at once (a row's interval depends on its x).
  constexpr int kBlock = 32;
  const float* coef[kBlock];
  float dist[kBlock];
  int row[kBlock];
  const size_t lines = size_t(4 * out) * sizeof(float) / 64;
  for (int b0 = 0; b0 < rows; b0 += kBlock) {
    int found = 0;
    for (int r = b0; r < std::min(rows, b0 + kBlock); ++r) {
      const float xr = x[size_t(r) * ldx];
      if (!t.covers(xr)) {
        miss.row.push_back(r);
        miss.x.push_back(xr);
        continue;
      }
      coef[found] = t.interval(xr, dist[found]);
      for (size_t l = 0; l < lines; ++l) __builtin_prefetch(coef[found] + l * 16);
      row[found++] = r;
    }
    for (int k = 0; k < found; ++k) {
      const int r = row[k];
      float* o = acts ? acts->out + size_t(r0 + r) * out : nullptr;
      table_row(coef[k], dist[k], out, xi_out ? xi_out + size_t(r) * out : nullptr, o,
                acts ? acts->weights[size_t(r0 + r) * n + i] : 0.0f);
    }
  }
}

// ξ_i of rows r0.. (as exact_var_forward) from the variable's table (var_table.hpp) where it covers
// the row's x, computed where it does not. ξ is written to a.out only when `store_xi` (a trace, or
// no acts); with acts, acts->out += weight · ξ.
void tabulated_var_forward(const VsnActs* acts, const VsnW& v, int i, int r0, const GrnActs& a, const float* x,
                           int ldx, int rows, const FoldedVar& f, const Prepared& p, bool store_xi) {
  const VarTable& t = f.table;
  const int out = t.out, n = v.n();
  thread_local Misses miss;
  miss.row.clear();
  miss.x.clear();
  bool done = false;
#if defined(__AVX512F__)
  if (acts && !store_xi && (out == 32 || out == 64)) {
    float* o = acts->out + size_t(r0) * out;
    const float* w = acts->weights + size_t(r0) * n + i;
    if (out == 32) table_rows_accumulate<32>(t, x, ldx, rows, o, w, n, miss);
    else table_rows_accumulate<64>(t, x, ldx, rows, o, w, n, miss);
    done = true;
  }
#endif
  if (!done) table_rows(acts, t, i, n, r0, x, ldx, rows, store_xi ? a.out : nullptr, miss);
  if (miss.row.empty()) return;
  const int m = int(miss.row.size());
  if (miss.xi.size() < size_t(m) * out) miss.xi.resize(size_t(m) * out);
  GrnActs scratch = a;  // a's buffers hold ≥ rows rows; only the output moves
  scratch.out = miss.xi.data();
  exact_var_forward(nullptr, v, i, 0, scratch, miss.x.data(), 1, m, f, p);
  for (int k = 0; k < m; ++k) {
    const int r = miss.row[size_t(k)];
    const float* xi = miss.xi.data() + size_t(k) * out;
    if (store_xi) std::memcpy(a.out + size_t(r) * out, xi, sizeof(float) * size_t(out));
    if (acts) vsn_accumulate(*acts, xi, v, i, r0 + r, 1, out);
  }
}

void folded_var_forward(const VsnActs* acts, const VsnW& v, int i, int r0, const GrnActs& a, const float* x, int ldx,
                        int rows, const FoldedVar& f, const Prepared& p) {
  if (f.table.out == 0) return exact_var_forward(acts, v, i, r0, a, x, ldx, rows, f, p);
  tabulated_var_forward(acts, v, i, r0, a, x, ldx, rows, f, p, !acts || acts->vars_kept);
}

}  // namespace

Folds fold_network(const TftWeights& w, const float* P, const float* kappa, float eps) {
  Folds folds;
  for (const VsnW* v : {&w.static_vsn, &w.encoder_vsn, &w.decoder_vsn}) {
    folds.glu[&v->flat] = fold_glu(v->flat, P);
    for (const auto& var : v->vars)
      if (!var.categorical) folds.glu[&var.grn] = fold_glu(var.grn, P);
    if (!foldable(*v)) continue;
    FoldedVsn& f = folds.vsn[v] = fold_vsn(*v, P, kappa);
    if (v == &w.static_vsn) continue;  // one row per server: not worth a table
    for (size_t i = 0; i < v->vars.size(); ++i) {
      const GrnW& g = v->vars[i].grn;
      if (v->vars[i].categorical) continue;
      f.vars[i].table = tabulate_var(f.vars[i], folds.glu[&g], P + g.gate.norm.w, P + g.gate.norm.b, eps, g.hidden,
                                     g.out, -kVarTableRange, kVarTableRange);
    }
  }
  for (const GrnW* g : {&w.ctx_variable_selection, &w.ctx_initial_hidden, &w.ctx_initial_cell, &w.ctx_enrichment,
                        &w.static_enrichment, &w.pos_wise_ff})
    folds.glu[g] = fold_glu(*g, P);
  return folds;
}

void folded_vsn_gather(float* z, const VsnW& v, const FoldedVsn& f, const float* P, const int32_t* x_cat, int n_cat,
                       const float* x_cont, int n_real, int T, int servers, int step0, int steps,
                       const int32_t* valid_steps) {
  for (int b = 0; b < servers; ++b) {
    const int valid = valid_steps ? valid_steps[b] : steps;
    for (int t = 0; t < steps; ++t) {
      float* row = z + (size_t(b) * steps + t) * f.width;
      const size_t cell = size_t(b) * T + size_t(step0 + t);
      const bool pad = t >= valid;
      for (size_t i = 0; i < v.vars.size(); ++i) {
        const VsnVarW& var = v.vars[i];
        float* dst = row + f.z_offset[i];
        if (var.categorical) {
          const int code = pad ? 0 : x_cat[cell * n_cat + size_t(var.source)];
          std::memcpy(dst, P + var.embedding + size_t(code) * var.width, sizeof(float) * size_t(var.width));
        } else {
          *dst = pad ? 0.0f : x_cont[cell * n_real + size_t(var.source)];
        }
      }
    }
  }
}

const float* SharedInputs::xi_of(int i) const {
  if (steps == 0 || slot[size_t(i)] < 0) return nullptr;
  return xi.data() + size_t(slot[size_t(i)]) * steps * out;
}

void find_shared_inputs(SharedInputs& s, const VsnW& v, const FoldedVsn& f, const Prepared& p, const float* x_cont,
                        int n_real, int T, int servers, int step0, int steps, const int32_t* valid_steps) {
  // a server's input to the network at step t (padding reads 0, as folded_vsn_gather), bit for bit
  auto value_bits = [&](int b, int t, int source) {
    const bool pad = valid_steps && t >= valid_steps[b];
    const float x = pad ? 0.0f : x_cont[(size_t(b) * T + size_t(step0 + t)) * n_real + size_t(source)];
    uint32_t bits;
    std::memcpy(&bits, &x, sizeof bits);
    return bits;
  };
  auto same_for_all = [&](int source) {
    for (int t = 0; t < steps; ++t) {
      const uint32_t first = value_bits(0, t, source);
      for (int b = 1; b < servers; ++b)
        if (value_bits(b, t, source) != first) return false;
    }
    return true;
  };
  s.steps = 0;
  s.slot.assign(v.vars.size(), -1);
  int shared = 0;
  for (size_t i = 0; i < v.vars.size(); ++i)
    if (!v.vars[i].categorical && servers > 1 && same_for_all(v.vars[i].source)) s.slot[i] = shared++;
  if (shared == 0) return;
  s.steps = steps;
  s.out = v.vars[0].categorical ? v.vars[0].cat_norm.out : v.vars[0].grn.out;
  s.xi.resize(size_t(shared) * steps * s.out);
  s.x.resize(size_t(steps));
  for (size_t i = 0; i < v.vars.size(); ++i) {
    if (s.slot[i] < 0) continue;
    const GrnW& g = v.vars[i].grn;
    s.scratch.resize(grn_acts_floats(g, steps, 1) + 64);
    float* cursor = reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(s.scratch.data()) + 63) & ~uintptr_t(63));
    GrnActs a = grn_acts_take(g, steps, 1, cursor);
    a.out = s.xi.data() + size_t(s.slot[i]) * steps * s.out;
    for (int t = 0; t < steps; ++t) {
      const uint32_t bits = value_bits(0, t, v.vars[i].source);
      std::memcpy(&s.x[size_t(t)], &bits, sizeof bits);
    }
    folded_var_forward(nullptr, v, int(i), 0, a, s.x.data(), 1, steps, f.vars[i], p);
  }
}

void folded_vsn_forward(VsnActs& a, const float* z, int rows, const float* context, int rows_per_ctx, const VsnW& v,
                        const FoldedVsn& f, int hidden, const Prepared& p, const SharedInputs* shared) {
  const int n = v.n(), K = f.width;
  const GrnW& g = v.flat;
  const GrnActs& s = a.flat;
  gemm::kmajor(gemm::Shape{rows, g.out, K, K, g.out, false}, z, f.skip.wt.data(), f.skip.b.data(), s.resid);
  layer_norm_forward(s.resid, s.resid, rows, g.out, p.P + g.res.norm.w, p.P + g.res.norm.b, p.eps);
  gemm::kmajor(gemm::Shape{rows, g.hidden, K, K, g.hidden, false}, z, f.fc1.wt.data(), f.fc1.b.data(), s.fc1);
  grn_add_context(s, rows, context, rows_per_ctx, g, p);
  grn_elu(s, rows, g);
  grn_glu_input(s, rows, g, p);
  gate_add_norm_forward(s.out, s.glu, s.resid, g.out, rows, g.out, p.P + g.gate.norm.w, p.P + g.gate.norm.b, p.eps);
  softmax_rows(a.weights, s.out, rows, n);
  std::fill(a.out, a.out + size_t(rows) * hidden, 0.0f);
  // Variables outer, so that each row still sums its variables in order (TFT.md §13), and a
  // table's intervals stay in cache while all of the chunk's rows read them.
  for (int i = 0; i < n; ++i) {
    const VsnVarW& var = v.vars[size_t(i)];
    if (const float* xi = shared ? shared->xi_of(i) : nullptr) {
      // rows of one server are consecutive, so runs of steps: row r is step r mod steps
      for (int r = 0; r < rows;) {
        const int t = r % shared->steps, run = std::min(shared->steps - t, rows - r);
        vsn_accumulate(a, xi + size_t(t) * hidden, v, i, r, run, hidden);
        r += run;
      }
      continue;
    }
    const FoldedVar* fv = var.categorical ? nullptr : &f.vars[size_t(i)];
    if (fv && fv->table.out > 0) {  // all of the chunk's rows at once
      folded_var_forward(&a, v, i, 0, a.vars[size_t(i)], z + f.z_offset[size_t(i)], K, rows, *fv, p);
      continue;
    }
    for (int r0 = 0; r0 < rows; r0 += kVsnRowBlock) {  // one block's intermediates stay in L2
      const int nr = std::min(kVsnRowBlock, rows - r0);
      const GrnActs va = grn_acts_rows(a.vars[size_t(i)], var, r0);
      const float* zi = z + size_t(r0) * K + f.z_offset[size_t(i)];
      if (fv) {
        exact_var_forward(&a, v, i, r0, va, zi, K, nr, *fv, p);
      } else {
        resample_norm_forward(va.out, zi, K, nr, var.cat_norm, p);
        vsn_accumulate(a, va.out, v, i, r0, nr, hidden);
      }
    }
  }
}

}  // namespace nordiq::tft::nn
