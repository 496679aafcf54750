#include "tft/gemm.hpp"

#include <dnnl.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <utility>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <unordered_map>
#include <vector>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

extern "C" void omp_set_num_threads(int);  // libgomp (oneDNN's threading runtime)

namespace nordiq::tft::gemm {
namespace {

std::atomic<bool> counting{false};
std::atomic<int64_t> counted_flop{0}, counted_ns{0}, counted_calls{0};

// Adds one call's FLOPs and thread time to the counts while counting is on (RAII around a call).
class CountedCall {
 public:
  CountedCall(int M, int N, int K)
      : on_(counting.load(std::memory_order_relaxed)), flop_(2 * int64_t(M) * N * K) {
    if (on_) start_ = std::chrono::steady_clock::now();
  }
  ~CountedCall() {
    if (!on_) return;
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start_);
    counted_flop.fetch_add(flop_, std::memory_order_relaxed);
    counted_ns.fetch_add(ns.count(), std::memory_order_relaxed);
    counted_calls.fetch_add(1, std::memory_order_relaxed);
  }
  CountedCall(const CountedCall&) = delete;
  CountedCall& operator=(const CountedCall&) = delete;

 private:
  bool on_;
  int64_t flop_;
  std::chrono::steady_clock::time_point start_{};
};

// One cached primitive per strided shape, with its memory objects; each call only swaps data
// handles, so a warmed-up call allocates nothing. The forward's `linear` and the backward's
// products (grad_gemm.cpp) share it.
struct Key {
  Strided shape;
  bool bias;
  bool operator==(const Key&) const = default;
};
struct KeyHash {
  size_t operator()(const Key& k) const {
    const Strided& s = k.shape;
    size_t h = 1469598103934665603ull;
    for (int v : {s.M, s.N, s.K, s.a_rs, s.a_cs, s.b_rs, s.b_cs, s.ldc, int(k.bias) * 2 + int(s.accumulate)})
      h = (h ^ static_cast<size_t>(v)) * 1099511628211ull;
    return h;
  }
};

struct Entry {
  dnnl::matmul prim;
  dnnl::memory a, b, bias, c;
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
  const Strided& s = k.shape;
  const dnnl::memory::desc a_md(dims{s.M, s.K}, dt::f32, dims{s.a_rs, s.a_cs});
  const dnnl::memory::desc b_md(dims{s.K, s.N}, dt::f32, dims{s.b_rs, s.b_cs});
  const dnnl::memory::desc bias_md = k.bias ? dnnl::memory::desc(dims{1, s.N}, dt::f32, dims{s.N, 1}) : dnnl::memory::desc();
  const dnnl::memory::desc c_md(dims{s.M, s.N}, dt::f32, dims{s.ldc, 1});
  dnnl::primitive_attr attr;
  if (s.accumulate) {
    dnnl::post_ops po;
    po.append_sum(1.0f);
    attr.set_post_ops(po);
  }
  const dnnl::matmul::desc d(a_md, b_md, bias_md, c_md);
  const dnnl::matmul::primitive_desc pd(d, attr, ctx.eng);
  Entry e;
  e.prim = dnnl::matmul(pd);
  e.a = dnnl::memory(a_md, ctx.eng, DNNL_MEMORY_NONE);
  e.b = dnnl::memory(b_md, ctx.eng, DNNL_MEMORY_NONE);
  if (k.bias) e.bias = dnnl::memory(bias_md, ctx.eng, DNNL_MEMORY_NONE);
  e.c = dnnl::memory(c_md, ctx.eng, DNNL_MEMORY_NONE);
  return ctx.cache.emplace(k, std::move(e)).first->second;
}

}  // namespace

void pin_library_threads_to_one() { omp_set_num_threads(1); }

void linear(const Shape& s, const float* X, const float* W, const float* bias, float* Y) {
  if (s.M <= 0 || s.N <= 0) return;
  const int ldx = s.ldx ? s.ldx : s.K, ldy = s.ldy ? s.ldy : s.N;
  const CountedCall counted(s.M, s.N, s.K);
  if (s.K == 0) {  // degenerate: Y = bias (or unchanged)
    for (int m = 0; m < s.M; ++m)
      for (int n = 0; n < s.N; ++n) Y[size_t(m) * ldy + n] = (s.accumulate ? Y[size_t(m) * ldy + n] : 0.0f) + (bias ? bias[n] : 0.0f);
    return;
  }
  strided_matmul(Strided{s.M, s.N, s.K, ldx, 1, 1, s.K, ldy, s.accumulate}, X, W, bias, Y);
}

void strided_matmul(const Strided& s, const float* A, const float* B, const float* bias, float* C) {
  ThreadContext& ctx = context();
  Entry& e = entry_for(ctx, Key{s, bias != nullptr});
  e.a.set_data_handle(const_cast<float*>(A));
  e.b.set_data_handle(const_cast<float*>(B));
  e.c.set_data_handle(C);
  // C API with a stack argument array: the C++ execute() builds an unordered_map per call.
  dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, e.a.get()}, {DNNL_ARG_WEIGHTS, e.b.get()}, {DNNL_ARG_DST, e.c.get()},
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
// MB rows × NV·16 columns (the last vector masked to nb), accumulating over k in order 0..K-1
// (one accumulator per output, a fixed order: results do not depend on M, on the row's
// position or on the thread). Start value: Y (accumulate), else bias (or 0).
template <int MB, int NV>
void block_kmajor(int nb, int K, const float* X, int ldx, const float* WT, int ldw, const float* bias, float* Y, int ldy,
                  bool acc) {
  __mmask16 mk[NV];
  #pragma GCC unroll 16
  for (int j = 0; j < NV; ++j) {
    const int left = std::clamp(nb - 16 * j, 0, 16);
    mk[j] = static_cast<__mmask16>(left == 16 ? 0xFFFF : (1u << left) - 1);
  }
  __m512 c[MB][NV];
  #pragma GCC unroll 16
  for (int j = 0; j < NV; ++j) {
    const __m512 b0 = bias && !acc ? _mm512_maskz_loadu_ps(mk[j], bias + 16 * j) : _mm512_setzero_ps();
    #pragma GCC unroll 16
    for (int r = 0; r < MB; ++r) c[r][j] = acc ? _mm512_maskz_loadu_ps(mk[j], Y + size_t(r) * ldy + 16 * j) : b0;
  }
  for (int k = 0; k < K; ++k) {
    const float* w = WT + size_t(k) * ldw;
    __m512 wv[NV];
    #pragma GCC unroll 16
    for (int j = 0; j < NV; ++j) wv[j] = _mm512_maskz_loadu_ps(mk[j], w + 16 * j);
    #pragma GCC unroll 16
    for (int r = 0; r < MB; ++r) {
      const __m512 xb = _mm512_set1_ps(X[size_t(r) * ldx + k]);
      #pragma GCC unroll 16
      for (int j = 0; j < NV; ++j) c[r][j] = _mm512_fmadd_ps(xb, wv[j], c[r][j]);
    }
  }
  if (acc && bias)
    #pragma GCC unroll 16
    for (int j = 0; j < NV; ++j) {
      const __m512 b0 = _mm512_maskz_loadu_ps(mk[j], bias + 16 * j);
      #pragma GCC unroll 16
      for (int r = 0; r < MB; ++r) c[r][j] = _mm512_add_ps(c[r][j], b0);
    }
  #pragma GCC unroll 16
  for (int r = 0; r < MB; ++r)
    #pragma GCC unroll 16
    for (int j = 0; j < NV; ++j) _mm512_mask_storeu_ps(Y + size_t(r) * ldy + 16 * j, mk[j], c[r][j]);
}

using BlockFn = void (*)(int, int, const float*, int, const float*, int, const float*, float*, int, bool);

// rows per block: as many as the 32 vector registers allow next to NV weight vectors
template <int NV>
constexpr int kRows = NV == 1 ? 12 : NV == 2 ? 10 : NV == 3 ? 7 : 6;

template <int NV, size_t... I>
constexpr std::array<BlockFn, sizeof...(I)> row_table(std::index_sequence<I...>) {
  return {&block_kmajor<int(I) + 1, NV>...};
}

template <int NV>
void columns(int M, int nb, int K, const float* X, int ldx, const float* WT, int ldw, const float* bias, float* Y, int ldy,
             bool acc) {
  static constexpr auto table = row_table<NV>(std::make_index_sequence<kRows<NV>>{});
  constexpr int R = kRows<NV>;
  int m0 = 0;
  for (; m0 + R <= M; m0 += R) block_kmajor<R, NV>(nb, K, X + size_t(m0) * ldx, ldx, WT, ldw, bias, Y + size_t(m0) * ldy, ldy, acc);
  if (M > m0) table[size_t(M - m0 - 1)](nb, K, X + size_t(m0) * ldx, ldx, WT, ldw, bias, Y + size_t(m0) * ldy, ldy, acc);
}
#endif
}  // namespace

void kmajor(const Shape& s, const float* X, const float* WT, const float* bias, float* Y) {
  const int M = s.M, N = s.N, K = s.K;
  const int ldx = s.ldx ? s.ldx : K, ldy = s.ldy ? s.ldy : N;
  if (M <= 0 || N <= 0) return;
  const CountedCall counted(M, N, K);
#if defined(__AVX512F__)
  for (int n0 = 0; n0 < N; n0 += 64) {
    const int nb = std::min(64, N - n0);
    const float* w = WT + n0;
    const float* b = bias ? bias + n0 : nullptr;
    float* y = Y + n0;
    switch ((nb + 15) / 16) {
      case 1: columns<1>(M, nb, K, X, ldx, w, N, b, y, ldy, s.accumulate); break;
      case 2: columns<2>(M, nb, K, X, ldx, w, N, b, y, ldy, s.accumulate); break;
      case 3: columns<3>(M, nb, K, X, ldx, w, N, b, y, ldy, s.accumulate); break;
      default: columns<4>(M, nb, K, X, ldx, w, N, b, y, ldy, s.accumulate); break;
    }
  }
#else
  for (int m = 0; m < M; ++m) {
    float* y = Y + size_t(m) * ldy;
    std::vector<float> acc(size_t(N), 0.0f);
    if (s.accumulate) std::copy(y, y + N, acc.begin());
    else if (bias) std::copy(bias, bias + N, acc.begin());
    for (int k = 0; k < K; ++k) {
      const float xk = X[size_t(m) * ldx + k];
      const float* w = WT + size_t(k) * N;
      for (int n = 0; n < N; ++n) acc[size_t(n)] += xk * w[n];
    }
    if (s.accumulate && bias)
      for (int n = 0; n < N; ++n) acc[size_t(n)] += bias[n];
    std::copy(acc.begin(), acc.end(), y);
  }
#endif
}

void small_kmajor(int M, int N, int K, const float* X, int ldx, const float* WT, float* Y, int ldy, bool accumulate) {
  kmajor(Shape{M, N, K, ldx, ldy, accumulate}, X, WT, nullptr, Y);
}

void count_work(bool on) {
  if (on) {
    counted_flop.store(0);
    counted_ns.store(0);
    counted_calls.store(0);
  }
  counting.store(on);
}

WorkCount work_counted() {
  return {double(counted_flop.load()), double(counted_ns.load()) * 1e-9, counted_calls.load()};
}

}  // namespace nordiq::tft::gemm
