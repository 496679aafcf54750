#include "tft/layers.hpp"

// GCC 12 reports the undefined-vector idiom inside avx512fintrin.h's masked/reduce intrinsics as
// "may be used uninitialized" at every inlining site; it is a false positive.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <cstdlib>
#include <stdexcept>

#if defined(__AVX__)
#include <immintrin.h>
#endif

#include "tft/folded.hpp"
#include "tft/gemm.hpp"
#include "tft/vmath.hpp"

namespace nordiq::tft::nn {

float sigmoid(float x) {
  float y;
  vm::sigmoid_n(&y, &x, 1);
  return y;
}

void dropout_forward(float* y, float* mask, const float* x, int ldx, int rows, int n, float rate, Rng& rng) {
  const float keep = 1.0f / (1.0f - rate);
  for (int r = 0; r < rows; ++r) {
    float* mr = mask + size_t(r) * n;
    for (int j = 0; j < n; ++j) mr[j] = rng.uniform() < rate ? 0.0f : keep;
    const float* xr = x + size_t(r) * ldx;
    float* yr = y + size_t(r) * n;
    for (int j = 0; j < n; ++j) yr[j] = xr[j] * mr[j];
  }
}

InterpTable InterpTable::make(int n, int m) {
  InterpTable t;
  t.n = n;
  t.m = m;
  // The ratio is rounded to float32 and the position evaluated exactly (in double): this is
  // torch's float32 grid, which trained weights depend on (TFT.md §3.2).
  const float scale = m > 1 ? static_cast<float>(n - 1) / static_cast<float>(m - 1) : 0.0f;
  for (int j = 0; j < m; ++j) {
    const double s = static_cast<double>(scale) * j;
    const int i0 = std::min(static_cast<int>(std::floor(s)), n - 1);
    const int i1 = std::min(i0 + 1, n - 1);
    const float l1 = static_cast<float>(std::clamp(s - i0, 0.0, 1.0));
    t.i0.push_back(i0);
    t.i1.push_back(i1);
    t.l1.push_back(l1);
    t.l0.push_back(1.0f - l1);
  }
  return t;
}

void prepare_kappa(const ParamTable& table, const float* P, float* kappa) {
  for (const auto& s : table.specs()) {
    if (s.alias_of >= 0 || s.name.size() < 5 || s.name.compare(s.name.size() - 5, 5, ".mask") != 0) continue;
    vm::sigmoid_n(kappa + s.offset, P + s.offset, static_cast<ptrdiff_t>(s.numel));
    for (size_t i = 0; i < s.numel; ++i) kappa[s.offset + i] *= 2.0f;
  }
}

void add_interp_tables(std::map<std::pair<int, int>, InterpTable>& tables, const GrnW& g) {
  if (g.resample && !tables.count({g.in, g.out})) tables[{g.in, g.out}] = InterpTable::make(g.in, g.out);
}

void linear_forward(float* y, int ldy, const float* x, int ldx, int rows, const LinearW& l, const float* P, bool accumulate,
                    const float* PT) {
  gemm::Shape s;
  s.M = rows;
  s.N = l.out;
  s.K = l.in;
  s.ldx = ldx;
  s.ldy = ldy;
  s.accumulate = accumulate;
  const float* bias = l.b == kNoParam ? nullptr : P + l.b;
  // Narrow layers: the register-blocked kernel (no per-call overhead; faster than oneDNN at
  // N = 32, within 10 % elsewhere). Wide inputs (the flattened VSN inputs, K = S): oneDNN.
  if (PT && l.in <= 128) gemm::kmajor(s, x, PT + l.w, bias, y);
  else gemm::linear(s, x, P + l.w, bias, y);
}

void prepare_transposed(const ParamTable& table, const float* P, float* PT) {
  for (const auto& s : table.specs()) {
    if (s.alias_of >= 0) continue;
    if (s.shape.size() != 2) {
      std::memcpy(PT + s.offset, P + s.offset, s.numel * sizeof(float));
      continue;
    }
    const size_t rows = size_t(s.shape[0]), cols = size_t(s.shape[1]);
    for (size_t r = 0; r < rows; ++r)
      for (size_t c = 0; c < cols; ++c) PT[s.offset + c * rows + r] = P[s.offset + r * cols + c];
  }
}

void interp_forward(float* y, const float* x, int ldx, int rows, const InterpTable& t) {
#if defined(__AVX512F__)
  if (t.n <= 32) {
    // Whole input row in two registers; both taps gathered with in-register permutes. Same
    // operations as the scalar loop below (fma(x[i0], λ0, x[i1]·λ1)), so the same bits.
    const __mmask16 lo = vm::tail_mask(t.n), hi = t.n > 16 ? vm::tail_mask(t.n - 16) : __mmask16(0);
    for (int r = 0; r < rows; ++r) {
      const float* xr = x + size_t(r) * ldx;
      float* yr = y + size_t(r) * t.m;
      const __m512 x0 = _mm512_maskz_loadu_ps(lo, xr), x1 = _mm512_maskz_loadu_ps(hi, xr + 16);
      for (int j = 0; j < t.m; j += 16) {
        const __mmask16 mk = vm::tail_mask(t.m - j);
        const __m512i i0 = _mm512_maskz_loadu_epi32(mk, t.i0.data() + j), i1 = _mm512_maskz_loadu_epi32(mk, t.i1.data() + j);
        const __m512 a = _mm512_permutex2var_ps(x0, i0, x1), b = _mm512_permutex2var_ps(x0, i1, x1);
        const __m512 l0 = _mm512_maskz_loadu_ps(mk, t.l0.data() + j), l1 = _mm512_maskz_loadu_ps(mk, t.l1.data() + j);
        _mm512_mask_storeu_ps(yr + j, mk, _mm512_fmadd_ps(a, l0, _mm512_mul_ps(b, l1)));
      }
    }
    return;
  }
#endif
  for (int r = 0; r < rows; ++r) {
    const float* xr = x + size_t(r) * ldx;
    float* yr = y + size_t(r) * t.m;
    for (int j = 0; j < t.m; ++j) yr[j] = std::fma(xr[t.i0[size_t(j)]], t.l0[size_t(j)], xr[t.i1[size_t(j)]] * t.l1[size_t(j)]);
  }
}

namespace {
// A row's mean and variance: float32, two passes, fixed-order masked sums.
inline void row_moments(const float* x, int n, float& mean, float& var) {
#if defined(__AVX512F__)
  __m512 acc = _mm512_setzero_ps();
  for (int i = 0; i < n; i += 16) acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(vm::tail_mask(n - i), x + i));
  mean = _mm512_reduce_add_ps(acc) / static_cast<float>(n);
  const __m512 vmu = _mm512_set1_ps(mean);
  acc = _mm512_setzero_ps();
  for (int i = 0; i < n; i += 16) {
    const __mmask16 m = vm::tail_mask(n - i);
    const __m512 d = _mm512_maskz_sub_ps(m, _mm512_maskz_loadu_ps(m, x + i), vmu);
    acc = _mm512_fmadd_ps(d, d, acc);
  }
  var = _mm512_reduce_add_ps(acc) / static_cast<float>(n);
#else
  mean = vm::sum(x, n) / static_cast<float>(n);
  var = vm::sum_sq_dev(x, n, mean) / static_cast<float>(n);
#endif
}

// y = (x − mean)·inv_std·γ + β over one row (y may alias x).
inline void row_normalize(float* y, const float* x, int n, float mean, float inv_std, const float* gamma,
                          const float* beta) {
#if defined(__AVX512F__)
  const __m512 vmu = _mm512_set1_ps(mean), r = _mm512_set1_ps(inv_std);
  for (int i = 0; i < n; i += 16) {
    const __mmask16 m = vm::tail_mask(n - i);
    const __m512 xh = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), vmu), r);
    _mm512_mask_storeu_ps(y + i, m, _mm512_fmadd_ps(xh, _mm512_maskz_loadu_ps(m, gamma + i), _mm512_maskz_loadu_ps(m, beta + i)));
  }
#else
  for (int j = 0; j < n; ++j) y[j] = (x[j] - mean) * inv_std * gamma[j] + beta[j];
#endif
}

// LayerNorm of rows of n (y may alias x). Every row's moments first, then their 1/√(var + eps) 16
// at a time, then the rows normalised: per row the same operations as one row at a time (the same
// bits); the passes let the rows' reduction → sqrt → divide chains overlap, where one row at a
// time waits on each.
void norm_rows(float* y, const float* x, int rows, int n, const float* gamma, const float* beta, float eps) {
  constexpr int kBlock = 256;
  alignas(64) float mean[kBlock], inv_std[kBlock];
  for (int r0 = 0; r0 < rows; r0 += kBlock) {
    const int nr = std::min(kBlock, rows - r0);
    for (int r = 0; r < nr; ++r) row_moments(x + size_t(r0 + r) * n, n, mean[r], inv_std[r]);
    vm::inv_std_n(inv_std, nr, eps);
    for (int r = 0; r < nr; ++r)
      row_normalize(y + size_t(r0 + r) * n, x + size_t(r0 + r) * n, n, mean[r], inv_std[r], gamma, beta);
  }
}
}  // namespace

void layer_norm_forward(float* y, const float* x, int rows, int n, const float* gamma, const float* beta, float eps) {
  norm_rows(y, x, rows, n, gamma, beta, eps);
}

void resample_norm_forward(float* y, const float* x, int ldx, int rows, const ResampleNormW& rn, const Prepared& p,
                           float* keep_interp, float* keep_pre) {
  const int m = rn.out;
  if (rn.in != rn.out) {
    interp_forward(y, x, ldx, rows, p.table(rn.in, rn.out));
    if (keep_interp) std::memcpy(keep_interp, y, sizeof(float) * size_t(rows) * size_t(m));
  } else {
    for (int r = 0; r < rows; ++r) std::memcpy(y + size_t(r) * m, x + size_t(r) * ldx, sizeof(float) * size_t(m));
  }
  const float* kappa = p.kappa + rn.mask;
  const float* g = p.P + rn.norm.w;
  const float* b = p.P + rn.norm.b;
  for (int r = 0; r < rows; ++r) {
    float* yr = y + size_t(r) * m;
#if defined(__AVX512F__)
    for (int j = 0; j < m; j += 16) {
      const __mmask16 mk = vm::tail_mask(m - j);
      _mm512_mask_storeu_ps(yr + j, mk, _mm512_mul_ps(_mm512_maskz_loadu_ps(mk, yr + j), _mm512_maskz_loadu_ps(mk, kappa + j)));
    }
#else
    for (int j = 0; j < m; ++j) yr[j] *= kappa[j];
#endif
    if (keep_pre) std::memcpy(keep_pre + size_t(r) * m, yr, sizeof(float) * size_t(m));
  }
  norm_rows(y, y, rows, m, g, b, p.eps);
}

void gate_add_norm_forward(float* y, const float* u, const float* skip, int ld_skip, int rows, int o,
                           const float* gamma, const float* beta, float eps, float* keep_pre) {
  for (int r = 0; r < rows; ++r) {
    const float* ur = u + size_t(r) * 2 * o;
    const float* sr = skip + size_t(r) * ld_skip;
    float* yr = y + size_t(r) * o;
#if defined(__AVX512F__)
    for (int j = 0; j < o; j += 16) {
      const __mmask16 m = vm::tail_mask(o - j);
      const __m512 g = vm::sigmoid16(_mm512_maskz_loadu_ps(m, ur + o + j));
      _mm512_mask_storeu_ps(yr + j, m, _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, ur + j), g, _mm512_maskz_loadu_ps(m, sr + j)));
    }
#else
    vm::sigmoid_n(yr, ur + o, o);
    for (int j = 0; j < o; ++j) yr[j] = ur[j] * yr[j] + sr[j];
#endif
    if (keep_pre) std::memcpy(keep_pre + size_t(r) * o, yr, sizeof(float) * size_t(o));
  }
  norm_rows(y, y, rows, o, gamma, beta, eps);
}

size_t grn_acts_floats(const GrnW& g, int rows, int groups, Keep keep) {
  const size_t R = size_t(rows), hd = size_t(g.hidden), o = size_t(g.out);
  size_t n = 3 * R * hd + (g.ctx ? size_t(groups) * hd : 0) + R * 2 * o + (g.resample ? R * o : 0) + R * o + 6 * 16;
  if (keep.train) n += (g.resample ? 2 * R * o : 0) + R * o + 3 * 16;
  if (keep.train && keep.dropout) n += 2 * R * hd + 2 * 16;
  return n;
}

namespace {
float* take(float*& cursor, size_t n) {
  float* p = cursor;
  cursor += (n + 15) / 16 * 16;  // keep every buffer 64-byte aligned
  return p;
}
}  // namespace

GrnActs grn_acts_take(const GrnW& g, int rows, int groups, float*& cursor, Keep keep) {
  const size_t R = size_t(rows);
  GrnActs a;
  a.fc1 = take(cursor, R * size_t(g.hidden));
  a.elu = take(cursor, R * size_t(g.hidden));
  a.fc2 = take(cursor, R * size_t(g.hidden));
  if (g.ctx) a.ctx_proj = take(cursor, size_t(groups) * size_t(g.hidden));
  a.glu = take(cursor, R * 2 * size_t(g.out));
  if (g.resample) a.resid = take(cursor, R * size_t(g.out));
  a.out = take(cursor, R * size_t(g.out));
  if (keep.train) {
    if (g.resample && g.res.in != g.res.out) a.res_interp = take(cursor, R * size_t(g.out));
    if (g.resample) a.res_pre = take(cursor, R * size_t(g.out));
    a.gate_pre = take(cursor, R * size_t(g.out));
  }
  if (keep.train && keep.dropout) {
    a.mask = take(cursor, R * size_t(g.hidden));
    a.dropped = take(cursor, R * size_t(g.hidden));
  }
  return a;
}

void grn_add_context(const GrnActs& a, int rows, const float* context, int rows_per_ctx, const GrnW& g, const Prepared& p) {
  if (!g.ctx || !context) return;
  const int hdim = g.hidden, groups = rows / rows_per_ctx;
  linear_forward(a.ctx_proj, hdim, context, g.ctx, groups, g.context, p.P, false, p.PT);
  for (int r = 0; r < rows; ++r) {
    float* f = a.fc1 + size_t(r) * hdim;
    const float* c = a.ctx_proj + size_t(r / rows_per_ctx) * hdim;
    for (int j = 0; j < hdim; ++j) f[j] += c[j];
  }
}

void grn_elu(const GrnActs& a, int rows, const GrnW& g) {
  // ELU(α=1): x > 0 ? x : e^x − 1
  const size_t n = size_t(rows) * g.hidden;
  vm::exp_n(a.elu, a.fc1, static_cast<ptrdiff_t>(n));
  for (size_t i = 0; i < n; ++i) a.elu[i] = a.fc1[i] > 0.0f ? a.fc1[i] : a.elu[i] - 1.0f;
}

void grn_glu_input(const GrnActs& a, int rows, const GrnW& g, const Prepared& p) {
  const int hdim = g.hidden;
  if (const FoldedGlu* f = p.folds ? p.folds->glu_of(g) : nullptr) {
    gemm::kmajor(gemm::Shape{rows, 2 * g.out, hdim, hdim, 2 * g.out, false}, a.elu, f->wt.data(), f->b.data(), a.glu);
    return;
  }
  linear_forward(a.fc2, hdim, a.elu, hdim, rows, g.fc2, p.P, false, p.PT);
  const float* glu_in = a.fc2;
  if (p.dropout > 0.0f) {  // training: §8's dropout at the GLU input
    if (!a.mask) throw std::logic_error("grn forward: dropout without mask buffers (Keep.dropout)");
    dropout_forward(a.dropped, a.mask, a.fc2, hdim, rows, hdim, p.dropout, *p.rng);
    glu_in = a.dropped;
  }
  linear_forward(a.glu, 2 * g.out, glu_in, hdim, rows, g.gate.glu, p.P, false, p.PT);
}

void grn_forward(const GrnActs& a, const float* x, int ldx, int rows, const float* context, int rows_per_ctx,
                 const GrnW& g, const Prepared& p) {
  const float* skip = x;
  int ld_skip = ldx;
  if (g.resample) {
    resample_norm_forward(a.resid, x, ldx, rows, g.res, p, a.res_interp, a.res_pre);
    skip = a.resid;
    ld_skip = g.out;
  }
  linear_forward(a.fc1, g.hidden, x, ldx, rows, g.fc1, p.P, false, p.PT);
  grn_add_context(a, rows, context, rows_per_ctx, g, p);
  grn_elu(a, rows, g);
  grn_glu_input(a, rows, g, p);
  gate_add_norm_forward(a.out, a.glu, skip, ld_skip, rows, g.out, p.P + g.gate.norm.w, p.P + g.gate.norm.b, p.eps,
                        a.gate_pre);
}

void softmax_rows(float* y, const float* x, int rows, int n) {
  for (int r = 0; r < rows; ++r) {
    const float* xr = x + size_t(r) * n;
    float* yr = y + size_t(r) * n;
    const float mx = vm::max_n(xr, n);
    for (int j = 0; j < n; ++j) yr[j] = xr[j] - mx;
    vm::exp_n(yr, yr, n);
    const float s = vm::sum(yr, n);
    for (int j = 0; j < n; ++j) yr[j] /= s;
  }
}

namespace {
// A categorical variable's ResampleNorm: out, and with keep.train its interpolated input and pre-norm values.
size_t cat_acts_floats(const VsnVarW& var, int rows, Keep keep) {
  const size_t n = size_t(rows) * size_t(var.cat_norm.out) + 16;
  return keep.train ? (var.cat_norm.in != var.cat_norm.out ? 3 : 2) * n : n;
}
GrnActs cat_acts_take(const VsnVarW& var, int rows, float*& cursor, Keep keep) {
  const size_t n = size_t(rows) * size_t(var.cat_norm.out);
  GrnActs a;
  a.out = take(cursor, n);
  if (keep.train && var.cat_norm.in != var.cat_norm.out) a.res_interp = take(cursor, n);
  if (keep.train) a.res_pre = take(cursor, n);
  return a;
}
}  // namespace

size_t vsn_acts_floats(const VsnW& v, int rows, int groups, bool keep_vars, Keep keep) {
  size_t total = grn_acts_floats(v.flat, rows, groups, keep) + 2 * size_t(rows) * size_t(v.n()) + 64;
  size_t per_var_max = 0;
  for (const auto& var : v.vars) {
    const size_t need = var.categorical ? cat_acts_floats(var, rows, keep) : grn_acts_floats(var.grn, rows, groups, keep);
    total += keep_vars ? need : 0;
    per_var_max = std::max(per_var_max, need);
  }
  const int H = v.vars.empty() ? 0 : (v.vars[0].categorical ? v.vars[0].cat_norm.out : v.vars[0].grn.out);
  return total + (keep_vars ? 0 : per_var_max) + size_t(rows) * size_t(H) + 16;
}

void vsn_acts_take(VsnActs& a, const VsnW& v, int rows, int groups, bool keep_vars, float*& cursor, Keep keep) {
  a.flat = grn_acts_take(v.flat, rows, groups, cursor, keep);
  a.weights = take(cursor, size_t(rows) * size_t(v.n()));
  a.vars_kept = keep_vars;
  a.vars.resize(v.vars.size());
  float* shared = cursor;
  size_t per_var_max = 0;
  for (size_t i = 0; i < v.vars.size(); ++i) {
    const auto& var = v.vars[i];
    float* start = keep_vars ? cursor : shared;
    float* c = start;
    a.vars[i] = var.categorical ? cat_acts_take(var, rows, c, keep) : grn_acts_take(var.grn, rows, groups, c, keep);
    per_var_max = std::max(per_var_max, size_t(c - start));
    if (keep_vars) cursor = c;
  }
  if (!keep_vars) cursor = shared + per_var_max;
  const int H = v.vars[0].categorical ? v.vars[0].cat_norm.out : v.vars[0].grn.out;
  a.out = take(cursor, size_t(rows) * size_t(H));
}

void vsn_forward(VsnActs& a, const float* flat, int rows, const float* context, int rows_per_ctx, const VsnW& v,
                 int hidden, const Prepared& p) {
  const int n = v.n();
  const int S = v.flat_width;
  grn_forward(a.flat, flat, S, rows, context, rows_per_ctx, v.flat, p);
  softmax_rows(a.weights, a.flat.out, rows, n);
  std::fill(a.out, a.out + size_t(rows) * hidden, 0.0f);
  for (int r0 = 0; r0 < rows; r0 += kVsnRowBlock) {
    const int nr = std::min(kVsnRowBlock, rows - r0);
    for (int i = 0; i < n; ++i) {
      const auto& var = v.vars[size_t(i)];
      const GrnActs va = grn_acts_rows(a.vars[size_t(i)], var, r0);
      const float* xi = flat + size_t(r0) * S + var.flat_offset;
      if (var.categorical) resample_norm_forward(va.out, xi, S, nr, var.cat_norm, p, va.res_interp, va.res_pre);
      else grn_forward(va, xi, S, nr, nullptr, 1, var.grn, p);
      vsn_accumulate(a, va.out, v, i, r0, nr, hidden);
    }
  }
}

GrnActs grn_acts_rows(const GrnActs& full, const VsnVarW& var, int r0) {
  auto at = [r = size_t(r0)](float* p, size_t width) { return p ? p + r * width : nullptr; };
  const size_t hd = var.categorical ? 0 : size_t(var.grn.hidden);
  const size_t o = var.categorical ? size_t(var.cat_norm.out) : size_t(var.grn.out);
  GrnActs a = full;
  a.fc1 = at(full.fc1, hd);
  a.elu = at(full.elu, hd);
  a.fc2 = at(full.fc2, hd);
  a.glu = at(full.glu, 2 * o);
  a.resid = at(full.resid, o);
  a.out = at(full.out, o);
  a.res_interp = at(full.res_interp, o);
  a.res_pre = at(full.res_pre, o);
  a.gate_pre = at(full.gate_pre, o);
  a.mask = at(full.mask, hd);
  a.dropped = at(full.dropped, hd);
  return a;
}

void vsn_accumulate(const VsnActs& a, const float* xi, const VsnW& v, int i, int r0, int nr, int hidden) {
  // out += w_v · ξ_v, variables in order (the reduction order of TFT.md §13)
  const int n = v.n();
  for (int r = 0; r < nr; ++r) {
    const float w = a.weights[size_t(r0 + r) * n + i];
    const float* x = xi + size_t(r) * hidden;
    float* o = a.out + size_t(r0 + r) * hidden;
    for (int j = 0; j < hidden; ++j) o[j] += w * x[j];
  }
}

void vsn_gather(float* flat, const VsnW& v, const float* P, const int32_t* x_cat, int n_cat, const float* x_cont,
                int n_real, int T, int servers, int step0, int steps, const int32_t* valid_steps) {
  const int S = v.flat_width;
  for (int b = 0; b < servers; ++b) {
    const int valid = valid_steps ? valid_steps[b] : steps;
    for (int t = 0; t < steps; ++t) {
      float* row = flat + (size_t(b) * steps + t) * S;
      const size_t cell = size_t(b) * T + size_t(step0 + t);
      const bool pad = t >= valid;
      for (const auto& var : v.vars) {
        float* dst = row + var.flat_offset;
        if (var.categorical) {
          const int code = pad ? 0 : x_cat[cell * n_cat + size_t(var.source)];
          std::memcpy(dst, P + var.embedding + size_t(code) * var.width, sizeof(float) * size_t(var.width));
        } else {
          const float x = pad ? 0.0f : x_cont[cell * n_real + size_t(var.source)];
          const float* w = P + var.prescaler.w;
          const float* bias = P + var.prescaler.b;
          for (int j = 0; j < var.width; ++j) dst[j] = x * w[j] + bias[j];
        }
      }
    }
  }
}

void lstm_forward(float* out, size_t out_stride, float* h, float* c, float* gates, float* cells, const int32_t* lengths,
                  int servers, int steps, int H, const float* WhhT, float* scratch) {
  const int G = 4 * H;
  int max_len = 0;
  for (int b = 0; b < servers; ++b) max_len = std::max(max_len, std::min(lengths[b], steps));
  for (int b = 0; b < servers; ++b)
    for (int t = std::max(0, std::min(lengths[b], steps)); t < steps; ++t)
      std::fill(out + size_t(b) * out_stride + size_t(t) * H, out + size_t(b) * out_stride + size_t(t + 1) * H, 0.0f);
  for (int t = 0; t < max_len; ++t) {
    // z = (x W_ihᵀ + b) + h W_hhᵀ for every server (inactive ones are discarded below)
    for (int b = 0; b < servers; ++b)
      std::memcpy(scratch + size_t(b) * G, gates + (size_t(b) * steps + t) * G, sizeof(float) * size_t(G));
    gemm::small_kmajor(servers, G, H, h, H, WhhT, scratch, G, true);
    for (int b = 0; b < servers; ++b) {
      if (t >= lengths[b]) continue;
      float* z = scratch + size_t(b) * G;
      vm::sigmoid_n(z, z, 2 * H);               // i, f
      vm::tanh_n(z + 2 * H, z + 2 * H, H);      // g
      vm::sigmoid_n(z + 3 * H, z + 3 * H, H);   // o
      float* cb = c + size_t(b) * H;
      float* hb = h + size_t(b) * H;
      float* ob = out + size_t(b) * out_stride + size_t(t) * H;
      for (int j = 0; j < H; ++j) cb[j] = z[H + j] * cb[j] + z[j] * z[2 * H + j];
      vm::tanh_n(ob, cb, H);
      for (int j = 0; j < H; ++j) {
        ob[j] *= z[3 * H + j];
        hb[j] = ob[j];
      }
      std::memcpy(gates + (size_t(b) * steps + t) * G, z, sizeof(float) * size_t(G));
      if (cells) std::memcpy(cells + (size_t(b) * steps + t) * H, cb, sizeof(float) * size_t(H));
    }
  }
}

namespace {

// kt[k·T + j] = K[j·ld + k] for j < T, k < d: one head's keys, K-major for the score GEMM. With
// AVX, 8 keys × 8 dimensions at a time through registers (the scalar loop's strided stores were
// ~40 % of the attention's own time); the copy is exact either way.
void transpose_keys(float* kt, const float* K, int ld, int T, int d) {
  int j0 = 0;
#if defined(__AVX__)
  if (d % 8 == 0) {
    for (; j0 + 8 <= T; j0 += 8)
      for (int k0 = 0; k0 < d; k0 += 8) {
        __m256 r[8], t[8], u[8];
        for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(K + size_t(j0 + i) * ld + k0);
        for (int i = 0; i < 8; i += 2) {
          t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
          t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
        }
        for (int i = 0; i < 8; i += 4) {
          u[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
          u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
          u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
          u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
        }
        for (int i = 0; i < 4; ++i) {
          _mm256_storeu_ps(kt + size_t(k0 + i) * T + j0, _mm256_permute2f128_ps(u[i], u[i + 4], 0x20));
          _mm256_storeu_ps(kt + size_t(k0 + i + 4) * T + j0, _mm256_permute2f128_ps(u[i], u[i + 4], 0x31));
        }
      }
  }
#endif
  for (int j = j0; j < T; ++j)
    for (int k = 0; k < d; ++k) kt[size_t(k) * T + j] = K[size_t(j) * ld + k];
}

}  // namespace

void attention_forward(float* probs, float* heads, float* mean, const float* Q, const float* K, const float* V,
                       const int32_t* enc_len, int servers, int E, int D, int n_heads, int d, float* scratch) {
  const int T = E + D;
  const int hd = n_heads * d;
  const float inv_scaler = 1.0f / std::sqrt(static_cast<float>(d));
  float* kt = scratch;  // [d, T]: this head's keys transposed (K-major for the score GEMM)
  for (int b = 0; b < servers; ++b) {
    const int le = std::min(enc_len[b], E);
    const float* Kb = K + size_t(b) * T * hd;
    const float* Vb = V + size_t(b) * T * d;
    float* Pb = probs + size_t(b) * D * n_heads * T;
    for (int hh = 0; hh < n_heads; ++hh) {
      transpose_keys(kt, Kb + hh * d, hd, T, d);
      // scores of every (query, key) pair straight into this head's probability rows
      float* P0 = Pb + size_t(hh) * T;
      const size_t ldp = size_t(n_heads) * T;
      gemm::small_kmajor(D, T, d, Q + size_t(b) * D * hd + hh * d, hd, kt, P0, int(ldp), false);
      for (int i = 0; i < D; ++i) {
        // valid keys: encoder 0..le-1 and decoder E..E+i-1. Masked keys get probability 0
        // exactly, which is what the −1e9 replacement gives after max subtraction. The scaling
        // by 1/√d commutes with the max, so softmax(s/√d) = e^{(s − max s)/√d} / Σ: one pass.
        float* p = P0 + size_t(i) * ldp;
        const float mx = i > 0 ? std::max(vm::max_n(p, le), vm::max_n(p + E, i)) : vm::max_n(p, le);
        const float sum = vm::exp_shifted_sum(p, p, le, mx, inv_scaler) + vm::exp_shifted_sum(p + E, p + E, i, mx, inv_scaler);
        vm::scale_n(p, le, 1.0f / sum);
        vm::scale_n(p + E, i, 1.0f / sum);
        std::fill(p + le, p + E, 0.0f);
        std::fill(p + E + i, p + T, 0.0f);
      }
      // O_h = A_h · V over all keys (masked probabilities are exactly 0 and V is finite)
      gemm::small_kmajor(D, d, T, P0, int(ldp), Vb, heads + size_t(b) * D * hd + hh * d, hd, false);
    }
    for (int i = 0; i < D; ++i) {
      float* m = mean + (size_t(b) * D + i) * d;
      const float* o = heads + (size_t(b) * D + i) * hd;
      for (int k = 0; k < d; ++k) {
        float acc = 0.0f;
        for (int hh = 0; hh < n_heads; ++hh) acc += o[hh * d + k];
        m[k] = acc / static_cast<float>(n_heads);
      }
    }
  }
}

}  // namespace nordiq::tft::nn
