// Vectorised float32 exp / sigmoid / tanh and fixed-order reductions for the element-wise
// parts of the TFT (libm expf in scalar loops dominated the LSTM and the gates).
// exp: Cody–Waite range reduction + degree-6 polynomial, ≤ 2 ulp on [-87, 88]; expm1 (e^x − 1):
// exp's − 1, or a degree-8 series where that would cancel (|x| < 0.5), ≤ 1e-6 relative; every element
// (tails included, via masked loads) goes through the same vector code, so results do not
// depend on an element's position. Reductions use 16 independent lanes summed in a fixed order:
// vectorised without -ffast-math and deterministic.
// `vm::ref` holds the scalar twins (libm), compiled in every build: the kernels' reference in
// tests/tft/kernels_test.cpp, and the kernels themselves where AVX-512 is not available.
#pragma once

#include <cmath>
#include <cstddef>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace nordiq::tft::vm {

namespace ref {
inline void exp_n(float* y, const float* x, ptrdiff_t n) {
  for (ptrdiff_t i = 0; i < n; ++i) y[i] = std::exp(x[i]);
}
inline void sigmoid_n(float* y, const float* x, ptrdiff_t n) {
  for (ptrdiff_t i = 0; i < n; ++i) y[i] = 1.0f / (1.0f + std::exp(-x[i]));
}
inline void tanh_n(float* y, const float* x, ptrdiff_t n) {
  for (ptrdiff_t i = 0; i < n; ++i) y[i] = std::tanh(x[i]);
}
inline float max_n(const float* x, ptrdiff_t n) {
  float m = -INFINITY;
  for (ptrdiff_t i = 0; i < n; ++i) m = x[i] > m ? x[i] : m;
  return m;
}
inline void expm1_n(float* y, const float* x, ptrdiff_t n) {
  for (ptrdiff_t i = 0; i < n; ++i) y[i] = std::expm1(x[i]);
}
inline float exp_shifted_sum(float* y, const float* x, ptrdiff_t n, float shift, float scale) {
  float total = 0.0f;
  for (ptrdiff_t i = 0; i < n; ++i) total += y[i] = std::exp((x[i] - shift) * scale);
  return total;
}
}  // namespace ref

#if defined(__AVX512F__)
inline __m512 exp16(__m512 x) {
  const __m512 hi = _mm512_set1_ps(88.3762626647949f), lo = _mm512_set1_ps(-87.3365447504f);
  x = _mm512_max_ps(_mm512_min_ps(x, hi), lo);
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500E-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507E-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073E-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894E-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459E-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201E-1f));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  return _mm512_scalef_ps(p, n);
}
// e^x − 1: NaN stays NaN, and x above exp16's range (88.376) gives +inf (libm's float expm1 only
// overflows above 88.72), so a caller's finiteness test sees an overflow as one.
inline __m512 expm1_16(__m512 x) {
  const __m512 one = _mm512_set1_ps(1.0f);
  __m512 y = _mm512_sub_ps(exp16(x), one);
  // x·(1 + x/2·(1 + x/3·(1 + …))) to x⁸/8!: its truncation is < 0.1 ulp at |x| = 0.5
  __m512 p = _mm512_set1_ps(1.0f / 40320);
  for (const float c : {1.0f / 5040, 1.0f / 720, 1.0f / 120, 1.0f / 24, 1.0f / 6, 0.5f, 1.0f})
    p = _mm512_fmadd_ps(p, x, _mm512_set1_ps(c));
  y = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(_mm512_abs_ps(x), _mm512_set1_ps(0.5f), _CMP_LT_OQ), y,
                           _mm512_mul_ps(p, x));
  y = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, _mm512_set1_ps(88.3762626647949f), _CMP_GT_OQ), y,
                           _mm512_set1_ps(INFINITY));
  return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), y, x);
}
inline __m512 sigmoid16(__m512 x) {
  const __m512 one = _mm512_set1_ps(1.0f);
  return _mm512_div_ps(one, _mm512_add_ps(one, exp16(_mm512_sub_ps(_mm512_setzero_ps(), x))));
}
// tanh(x) = sign(x)·(1 − e^{−2|x|}) / (1 + e^{−2|x|}); for |x| < 0.0625 a short odd series
// keeps the relative error small near 0.
inline __m512 tanh16(__m512 x) {
  const __m512 one = _mm512_set1_ps(1.0f);
  const __m512 ax = _mm512_abs_ps(x);
  const __m512 e = exp16(_mm512_mul_ps(ax, _mm512_set1_ps(-2.0f)));
  __m512 t = _mm512_div_ps(_mm512_sub_ps(one, e), _mm512_add_ps(one, e));
  const __m512 x2 = _mm512_mul_ps(x, x);
  __m512 s = _mm512_fmadd_ps(x2, _mm512_set1_ps(2.0f / 15.0f), _mm512_set1_ps(-1.0f / 3.0f));
  s = _mm512_fmadd_ps(_mm512_mul_ps(s, x2), ax, ax);
  t = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(ax, _mm512_set1_ps(0.0625f), _CMP_LT_OQ), t, s);
  return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(t),
                                             _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(int(0x80000000u)))));
}
inline __mmask16 tail_mask(ptrdiff_t left) { return left >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << left) - 1); }
#endif

// v[i] = 1/√(v[i] + eps): a LayerNorm's scale from its variance. Vector sqrt and divide round as the
// scalar ones do, so this gives 1.0f / std::sqrt(v + eps)'s bits, 16 rows at a time.
inline void inv_std_n(float* v, ptrdiff_t n, float eps) {
#if defined(__AVX512F__)
  const __m512 e = _mm512_set1_ps(eps), one = _mm512_set1_ps(1.0f);
  for (ptrdiff_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    _mm512_mask_storeu_ps(v + i, m, _mm512_div_ps(one, _mm512_sqrt_ps(_mm512_add_ps(_mm512_maskz_loadu_ps(m, v + i), e))));
  }
#else
  for (ptrdiff_t i = 0; i < n; ++i) v[i] = 1.0f / std::sqrt(v[i] + eps);
#endif
}

// y[i] = f(x[i]) over n elements (y may alias x).
template <class V, class S>
inline void map(float* y, const float* x, ptrdiff_t n, V vec, S scalar) {
#if defined(__AVX512F__)
  (void)scalar;
  for (ptrdiff_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    _mm512_mask_storeu_ps(y + i, m, vec(_mm512_maskz_loadu_ps(m, x + i)));
  }
#else
  (void)vec;
  for (ptrdiff_t i = 0; i < n; ++i) y[i] = scalar(x[i]);
#endif
}

inline void exp_n(float* y, const float* x, ptrdiff_t n) {
#if defined(__AVX512F__)
  map(y, x, n, [](__m512 v) { return exp16(v); }, 0);
#else
  ref::exp_n(y, x, n);
#endif
}
inline void expm1_n(float* y, const float* x, ptrdiff_t n) {
#if defined(__AVX512F__)
  map(y, x, n, [](__m512 v) { return expm1_16(v); }, 0);
#else
  ref::expm1_n(y, x, n);
#endif
}
inline void sigmoid_n(float* y, const float* x, ptrdiff_t n) {
#if defined(__AVX512F__)
  map(y, x, n, [](__m512 v) { return sigmoid16(v); }, 0);
#else
  ref::sigmoid_n(y, x, n);
#endif
}
inline void tanh_n(float* y, const float* x, ptrdiff_t n) {
#if defined(__AVX512F__)
  map(y, x, n, [](__m512 v) { return tanh16(v); }, 0);
#else
  ref::tanh_n(y, x, n);
#endif
}

// max over x[0..n) (n ≥ 1); exact, so the order does not matter.
inline float max_n(const float* x, ptrdiff_t n) {
#if defined(__AVX512F__)
  __m512 m = _mm512_set1_ps(-INFINITY);
  for (ptrdiff_t i = 0; i < n; i += 16) m = _mm512_mask_max_ps(m, tail_mask(n - i), m, _mm512_maskz_loadu_ps(tail_mask(n - i), x + i));
  return _mm512_reduce_max_ps(m);
#else
  return ref::max_n(x, n);
#endif
}

// Σ x[i], 16 lanes in a fixed order.
inline float sum(const float* x, ptrdiff_t n) {
  float acc[16] = {};
  ptrdiff_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int l = 0; l < 16; ++l) acc[l] += x[i + l];
  for (int l = 0; i < n; ++i, ++l) acc[l] += x[i];
  float s = 0.0f;
  for (int l = 0; l < 16; ++l) s += acc[l];
  return s;
}
// Σ (x[i] − mu)².
inline float sum_sq_dev(const float* x, ptrdiff_t n, float mu) {
  float acc[16] = {};
  ptrdiff_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int l = 0; l < 16; ++l) {
      const float d = x[i + l] - mu;
      acc[l] += d * d;
    }
  for (int l = 0; i < n; ++i, ++l) {
    const float d = x[i] - mu;
    acc[l] += d * d;
  }
  float s = 0.0f;
  for (int l = 0; l < 16; ++l) s += acc[l];
  return s;
}
// y[i] = e^{(x[i] − shift)·scale} (y may alias x); returns Σ y[i]. The softmax numerator.
inline float exp_shifted_sum(float* y, const float* x, ptrdiff_t n, float shift, float scale) {
#if defined(__AVX512F__)
  const __m512 vs = _mm512_set1_ps(shift), vk = _mm512_set1_ps(scale);
  __m512 acc = _mm512_setzero_ps();
  for (ptrdiff_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    const __m512 e = exp16(_mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), vs), vk));
    _mm512_mask_storeu_ps(y + i, m, e);
    acc = _mm512_add_ps(acc, _mm512_maskz_mov_ps(m, e));
  }
  return _mm512_reduce_add_ps(acc);
#else
  return ref::exp_shifted_sum(y, x, n, shift, scale);
#endif
}
// y[i] *= s.
inline void scale_n(float* y, ptrdiff_t n, float s) {
  for (ptrdiff_t i = 0; i < n; ++i) y[i] *= s;
}
inline float dot(const float* a, const float* b, ptrdiff_t n) {
  float acc[16] = {};
  ptrdiff_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int l = 0; l < 16; ++l) acc[l] += a[i + l] * b[i + l];
  for (int l = 0; i < n; ++i, ++l) acc[l] += a[i] * b[i];
  float s = 0.0f;
  for (int l = 0; l < 16; ++l) s += acc[l];
  return s;
}

}  // namespace nordiq::tft::vm
