// Matrix products of the backward pass. A linear layer y = x Wᵀ + b needs two products besides
// its forward: dx = dy · W and dW += dyᵀ · x. Both are one strided matmul; oneDNN takes the
// transposes as strides, so nothing is copied: gemm::strided_matmul, whose primitive cache (per shape
// and thread) the forward's products share; callers pin oneDNN to one thread per caller thread.
#pragma once

#include "tft/model.hpp"

namespace nordiq::tft::grad {

// C[M,N] (+)= A[M,K] · B[K,N] where element (i,k) of A is A[i·a_rs + k·a_cs] and element (k,j)
// of B is B[k·b_rs + j·b_cs]; C is row-major with leading dimension ldc.
void matmul(int M, int N, int K, const float* A, int a_rs, int a_cs, const float* B, int b_rs, int b_cs, float* C,
            int ldc, bool accumulate);
// The slow, obvious twin of matmul (double accumulation), compiled in every build: the tests'
// reference (tests/tft/kernels_test.cpp).
void matmul_reference(int M, int N, int K, const float* A, int a_rs, int a_cs, const float* B, int b_rs, int b_cs,
                      float* C, int ldc, bool accumulate);

// Backward of y[rows, out] = x[rows, in] (stride ldx) · Wᵀ + b, accumulating:
//   dx (+)= dy · W  (if dx is non-null; stride lddx),  G[l.w] += dyᵀ x,  G[l.b] += Σ_rows dy.
void linear_backward(float* dx, int lddx, float* G, const float* dy, int lddy, const float* x, int ldx, int rows,
                     const LinearW& l, const float* P);

}  // namespace nordiq::tft::grad
