#include "tft/gemm.hpp"

#include <dnnl.hpp>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <unordered_map>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

extern "C" void omp_set_num_threads(int);  // libgomp (oneDNN's threading runtime)

namespace nordiq::tft::gemm {
namespace {

struct Key {
  int M, N, K, ldx, ldy;
  bool bias, acc;
  bool operator==(const Key&) const = default;
};
struct KeyHash {
  size_t operator()(const Key& k) const {
    size_t h = 1469598103934665603ull;
    for (int v : {k.M, k.N, k.K, k.ldx, k.ldy, int(k.bias) * 2 + int(k.acc)}) h = (h ^ static_cast<size_t>(v)) * 1099511628211ull;
    return h;
  }
};

// One cached primitive per shape, with its memory objects; each call only swaps data handles,
// so a warmed-up call allocates nothing.
struct Entry {
  dnnl::matmul prim;
  dnnl::memory src, wei, bias, dst;
};

struct ThreadContext {
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::stream strm{eng};
  std::unordered_map<Key, Entry, KeyHash> cache;
};

ThreadContext& context() {
  // Per thread: primitives are created for the calling thread's (single) OpenMP thread count.
  thread_local ThreadContext ctx;
  return ctx;
}

Entry& entry_for(ThreadContext& ctx, const Key& k) {
  auto it = ctx.cache.find(k);
  if (it != ctx.cache.end()) return it->second;
  using dt = dnnl::memory::data_type;
  using dims = dnnl::memory::dims;
  const dnnl::memory::desc src_md(dims{k.M, k.K}, dt::f32, dims{k.ldx, 1});
  const dnnl::memory::desc wei_md(dims{k.K, k.N}, dt::f32, dims{1, k.K});  // W[N,K] viewed as [K,N]
  const dnnl::memory::desc bias_md = k.bias ? dnnl::memory::desc(dims{1, k.N}, dt::f32, dims{k.N, 1}) : dnnl::memory::desc();
  const dnnl::memory::desc dst_md(dims{k.M, k.N}, dt::f32, dims{k.ldy, 1});
  dnnl::primitive_attr attr;
  if (k.acc) {
    dnnl::post_ops po;
    po.append_sum(1.0f);
    attr.set_post_ops(po);
  }
  const dnnl::matmul::desc d(src_md, wei_md, bias_md, dst_md);
  const dnnl::matmul::primitive_desc pd(d, attr, ctx.eng);
  Entry e;
  e.prim = dnnl::matmul(pd);
  e.src = dnnl::memory(src_md, ctx.eng, DNNL_MEMORY_NONE);
  e.wei = dnnl::memory(wei_md, ctx.eng, DNNL_MEMORY_NONE);
  if (k.bias) e.bias = dnnl::memory(bias_md, ctx.eng, DNNL_MEMORY_NONE);
  e.dst = dnnl::memory(dst_md, ctx.eng, DNNL_MEMORY_NONE);
  return ctx.cache.emplace(k, std::move(e)).first->second;
}

}  // namespace

void pin_library_threads_to_one() { omp_set_num_threads(1); }

void linear(const Shape& s, const float* X, const float* W, const float* bias, float* Y) {
  if (s.M <= 0 || s.N <= 0) return;
  const int ldx = s.ldx ? s.ldx : s.K, ldy = s.ldy ? s.ldy : s.N;
  if (s.K == 0) {  // degenerate: Y = bias (or unchanged)
    for (int m = 0; m < s.M; ++m)
      for (int n = 0; n < s.N; ++n) Y[size_t(m) * ldy + n] = (s.accumulate ? Y[size_t(m) * ldy + n] : 0.0f) + (bias ? bias[n] : 0.0f);
    return;
  }
  ThreadContext& ctx = context();
  Entry& e = entry_for(ctx, Key{s.M, s.N, s.K, ldx, ldy, bias != nullptr, s.accumulate});
  e.src.set_data_handle(const_cast<float*>(X));
  e.wei.set_data_handle(const_cast<float*>(W));
  e.dst.set_data_handle(Y);
  // C API with a stack argument array: the C++ execute() builds an unordered_map per call.
  dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, e.src.get()}, {DNNL_ARG_WEIGHTS, e.wei.get()}, {DNNL_ARG_DST, e.dst.get()},
                             {DNNL_ARG_BIAS, nullptr}};
  int nargs = 3;
  if (bias) {
    e.bias.set_data_handle(const_cast<float*>(bias));
    args[3].memory = e.bias.get();
    nargs = 4;
  }
  if (dnnl_primitive_execute(e.prim.get(), ctx.strm.get(), nargs, args) != dnnl_success)
    throw std::runtime_error("oneDNN matmul failed");
  ctx.strm.wait();
}

void linear_reference(const Shape& s, const float* X, const float* W, const float* bias, float* Y) {
  const int ldx = s.ldx ? s.ldx : s.K, ldy = s.ldy ? s.ldy : s.N;
  for (int m = 0; m < s.M; ++m)
    for (int n = 0; n < s.N; ++n) {
      double acc = bias ? bias[n] : 0.0;
      for (int k = 0; k < s.K; ++k) acc += double(X[size_t(m) * ldx + k]) * double(W[size_t(n) * s.K + k]);
      float& y = Y[size_t(m) * ldy + n];
      y = s.accumulate ? float(double(y) + acc) : float(acc);
    }
}

namespace {
#if defined(__AVX512F__)
// MB rows × up to 64 columns, accumulating over k in order 0..K-1 (fixed order: deterministic).
template <int MB>
void block_kmajor(int nb, int K, const float* X, int ldx, const float* WT, int ldw, float* Y, int ldy, bool acc) {
  __mmask16 mk[4];
  for (int j = 0; j < 4; ++j) {
    const int left = std::clamp(nb - 16 * j, 0, 16);
    mk[j] = static_cast<__mmask16>(left == 16 ? 0xFFFF : (1u << left) - 1);
  }
  __m512 c[MB][4];
  for (int r = 0; r < MB; ++r)
    for (int j = 0; j < 4; ++j) c[r][j] = acc ? _mm512_maskz_loadu_ps(mk[j], Y + size_t(r) * ldy + 16 * j) : _mm512_setzero_ps();
  for (int k = 0; k < K; ++k) {
    const float* w = WT + size_t(k) * ldw;
    __m512 wv[4];
    for (int j = 0; j < 4; ++j) wv[j] = _mm512_maskz_loadu_ps(mk[j], w + 16 * j);
    for (int r = 0; r < MB; ++r) {
      const __m512 xb = _mm512_set1_ps(X[size_t(r) * ldx + k]);
      for (int j = 0; j < 4; ++j) c[r][j] = _mm512_fmadd_ps(xb, wv[j], c[r][j]);
    }
  }
  for (int r = 0; r < MB; ++r)
    for (int j = 0; j < 4; ++j) _mm512_mask_storeu_ps(Y + size_t(r) * ldy + 16 * j, mk[j], c[r][j]);
}
#endif
}  // namespace

void small_kmajor(int M, int N, int K, const float* X, int ldx, const float* WT, float* Y, int ldy, bool accumulate) {
#if defined(__AVX512F__)
  for (int n0 = 0; n0 < N; n0 += 64) {
    const int nb = std::min(64, N - n0);
    int m0 = 0;
    for (; m0 + 4 <= M; m0 += 4) block_kmajor<4>(nb, K, X + size_t(m0) * ldx, ldx, WT + n0, N, Y + size_t(m0) * ldy + n0, ldy, accumulate);
    switch (M - m0) {
      case 3: block_kmajor<3>(nb, K, X + size_t(m0) * ldx, ldx, WT + n0, N, Y + size_t(m0) * ldy + n0, ldy, accumulate); break;
      case 2: block_kmajor<2>(nb, K, X + size_t(m0) * ldx, ldx, WT + n0, N, Y + size_t(m0) * ldy + n0, ldy, accumulate); break;
      case 1: block_kmajor<1>(nb, K, X + size_t(m0) * ldx, ldx, WT + n0, N, Y + size_t(m0) * ldy + n0, ldy, accumulate); break;
      default: break;
    }
  }
#else
  for (int m = 0; m < M; ++m) {
    float* y = Y + size_t(m) * ldy;
    if (!accumulate) std::fill(y, y + N, 0.0f);
    for (int k = 0; k < K; ++k) {
      const float xk = X[size_t(m) * ldx + k];
      const float* w = WT + size_t(k) * N;
      for (int n = 0; n < N; ++n) y[n] += xk * w[n];
    }
  }
#endif
}

}  // namespace nordiq::tft::gemm
