#include "tft/grad_gemm.hpp"

#include <dnnl.hpp>

#include <unordered_map>

namespace nordiq::tft::grad {
namespace {

struct Key {
  int M, N, K, a_rs, a_cs, b_rs, b_cs, ldc;
  bool acc;
  bool operator==(const Key&) const = default;
};
struct KeyHash {
  size_t operator()(const Key& k) const {
    size_t h = 1469598103934665603ull;
    for (int v : {k.M, k.N, k.K, k.a_rs, k.a_cs, k.b_rs, k.b_cs, k.ldc, int(k.acc)})
      h = (h ^ static_cast<size_t>(v)) * 1099511628211ull;
    return h;
  }
};
struct Entry {
  dnnl::matmul prim;
  dnnl::memory a, b, c;
};
struct ThreadContext {
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::stream strm{eng};
  std::unordered_map<Key, Entry, KeyHash> cache;
};
ThreadContext& context() {
  thread_local ThreadContext ctx;
  return ctx;
}

}  // namespace

void matmul_reference(int M, int N, int K, const float* A, int a_rs, int a_cs, const float* B, int b_rs, int b_cs,
                      float* C, int ldc, bool accumulate) {
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      double acc = accumulate ? C[size_t(i) * ldc + j] : 0.0;
      for (int k = 0; k < K; ++k) acc += double(A[size_t(i) * a_rs + size_t(k) * a_cs]) * B[size_t(k) * b_rs + size_t(j) * b_cs];
      C[size_t(i) * ldc + j] = float(acc);
    }
}

void matmul(int M, int N, int K, const float* A, int a_rs, int a_cs, const float* B, int b_rs, int b_cs, float* C,
            int ldc, bool accumulate) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    if (!accumulate)
      for (int i = 0; i < M; ++i)
        for (int j = 0; j < N; ++j) C[size_t(i) * ldc + j] = 0.0f;
    return;
  }
  ThreadContext& ctx = context();
  const Key key{M, N, K, a_rs, a_cs, b_rs, b_cs, ldc, accumulate};
  auto it = ctx.cache.find(key);
  if (it == ctx.cache.end()) {
    using dt = dnnl::memory::data_type;
    using dims = dnnl::memory::dims;
    const dnnl::memory::desc a_md(dims{M, K}, dt::f32, dims{a_rs, a_cs});
    const dnnl::memory::desc b_md(dims{K, N}, dt::f32, dims{b_rs, b_cs});
    const dnnl::memory::desc c_md(dims{M, N}, dt::f32, dims{ldc, 1});
    dnnl::primitive_attr attr;
    if (accumulate) {
      dnnl::post_ops po;
      po.append_sum(1.0f);
      attr.set_post_ops(po);
    }
    const dnnl::matmul::desc d(a_md, b_md, c_md);
    const dnnl::matmul::primitive_desc pd(d, attr, ctx.eng);
    Entry e;
    e.prim = dnnl::matmul(pd);
    e.a = dnnl::memory(a_md, ctx.eng, DNNL_MEMORY_NONE);
    e.b = dnnl::memory(b_md, ctx.eng, DNNL_MEMORY_NONE);
    e.c = dnnl::memory(c_md, ctx.eng, DNNL_MEMORY_NONE);
    it = ctx.cache.emplace(key, std::move(e)).first;
  }
  Entry& e = it->second;
  e.a.set_data_handle(const_cast<float*>(A));
  e.b.set_data_handle(const_cast<float*>(B));
  e.c.set_data_handle(C);
  e.prim.execute(ctx.strm, {{DNNL_ARG_SRC, e.a}, {DNNL_ARG_WEIGHTS, e.b}, {DNNL_ARG_DST, e.c}});
  ctx.strm.wait();
}

void linear_backward(float* dx, int lddx, float* G, const float* dy, int lddy, const float* x, int ldx, int rows,
                     const LinearW& l, const float* P) {
  if (rows <= 0) return;
  // dx[rows, in] += dy[rows, out] · W[out, in]
  if (dx) matmul(rows, l.in, l.out, dy, lddy, 1, P + l.w, l.in, 1, dx, lddx, true);
  // dW[out, in] += dyᵀ[out, rows] · x[rows, in]
  matmul(l.out, l.in, rows, dy, 1, lddy, x, ldx, 1, G + l.w, l.in, true);
  if (l.b != kNoParam) {
    float* db = G + l.b;
    for (int r = 0; r < rows; ++r) {
      const float* d = dy + size_t(r) * lddy;
      for (int j = 0; j < l.out; ++j) db[j] += d[j];
    }
  }
}

}  // namespace nordiq::tft::grad
