// GEMM backend: the one place matrix products happen. Every linear layer of the TFT is
//   Y[M,N] (+)= X[M,K] · W[N,K]ᵀ (+ bias[N])
// with PyTorch weight layout W[out,in] and arbitrary row strides of X and Y.
// The fast backend is oneDNN's matmul primitive, single-threaded per call (the engine threads
// over the batch itself), primitives cached per shape and per thread. `linear_reference` is the
// slow, obvious twin the tests compare the backend against.
#pragma once

#include <cstdint>

namespace nordiq::tft::gemm {

struct Shape {
  int M = 0, N = 0, K = 0;
  int ldx = 0, ldy = 0;      // row strides in floats (0 = K / N)
  bool accumulate = false;   // Y += ... instead of Y = ...
};

void linear(const Shape& s, const float* X, const float* W, const float* bias, float* Y);
void linear_reference(const Shape& s, const float* X, const float* W, const float* bias, float* Y);

// C[M,N] (+)= A[M,K] · B[K,N] (+ bias[N]) through oneDNN, where element (i,k) of A is A[i·a_rs + k·a_cs]
// and element (k,j) of B is B[k·b_rs + j·b_cs]; C is row-major with leading dimension ldc. Transposes
// are strides, so nothing is copied. `linear` is this with W[N,K] read as [K,N]; the backward's
// products (grad_gemm.hpp) are too. K ≥ 1. Single-threaded per call, primitives cached per shape and
// per thread.
struct Strided {
  int M = 0, N = 0, K = 0;
  int a_rs = 0, a_cs = 0, b_rs = 0, b_cs = 0, ldc = 0;
  bool accumulate = false;
  bool operator==(const Strided&) const = default;
};
void strided_matmul(const Strided& s, const float* A, const float* B, const float* bias, float* C);

// Y[M,N] (+)= X[M,K] · WT[K,N] (+ bias) with W stored K-major (transposed): a register-blocked
// AVX-512 kernel (6 rows × 64 columns) for the TFT's narrow layers (K ≤ 128), where a library
// call costs more than the arithmetic: the single-variable GRNs (K = c), the LSTM recurrence
// (M = servers of a chunk), attention scores and A·V. Sums over k in order, one accumulator per
// output. With accumulate, Y += X·WT + bias.
void kmajor(const Shape& s, const float* X, const float* WT, const float* bias, float* Y);
void small_kmajor(int M, int N, int K, const float* X, int ldx, const float* WT, float* Y, int ldy,
                  bool accumulate);

// Makes oneDNN run single-threaded on the calling thread (OpenMP ICV); call once per thread.
void pin_library_threads_to_one();

// What the matrix products did while counting was on (`nordiq bench`: how close the forward's
// matrix work comes to the machine's GEMM peak, which the whole cycle's rate does not say).
// Off by default: a call then costs one relaxed atomic load more. On, each linear/kmajor call adds
// its FLOPs (2·M·N·K) and the time its thread spent in it.
struct WorkCount {
  double flop = 0;
  double thread_seconds = 0;  // summed over threads
  int64_t calls = 0;
};
void count_work(bool on);  // also resets the counts when turned on
WorkCount work_counted();

}  // namespace nordiq::tft::gemm
