#include "tft/grad_gemm.hpp"

#include "tft/gemm.hpp"

namespace nordiq::tft::grad {

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
  gemm::strided_matmul(gemm::Strided{M, N, K, a_rs, a_cs, b_rs, b_cs, ldc, accumulate}, A, B, nullptr, C);
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
