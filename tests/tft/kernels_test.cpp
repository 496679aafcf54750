// Each fast kernel against its slow twin on random shapes, as ggml's test-backend-ops does: the
// vector exp / sigmoid / tanh / max / softmax numerator (tft/vmath.hpp vs vm::ref), the backward
// matmul (oneDNN vs grad::matmul_reference), LayerNorm's backward (AVX-512 vs double sums) and the
// attention core's backward (four GEMMs vs key by key). The twins are compiled in every build, so
// this runs with -march=native too, where the fast paths are the ones served. (The forward GEMM
// kernels have theirs in engine_test.cpp.)
// GCC 12 reports the undefined-vector idiom inside avx512fintrin.h's masked/reduce intrinsics
// (inlined here from tft/vmath.hpp) as "may be used uninitialized": a false positive.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "tft/backward.hpp"
#include "tft/grad_gemm.hpp"
#include "tft/layers.hpp"
#include "tft/vmath.hpp"

namespace nordiq::tft {
namespace {

std::vector<float> uniform(size_t n, float lo, float hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

// max |a − b| / max(1, max |b|): the error relative to the values' scale.
double scaled_error(const std::vector<float>& a, const std::vector<float>& b) {
  double err = 0, scale = 1;
  for (size_t i = 0; i < a.size(); ++i) {
    err = std::max(err, double(std::fabs(a[i] - b[i])));
    scale = std::max(scale, double(std::fabs(b[i])));
  }
  return err / scale;
}

TEST(TftKernels, VectorExpSigmoidTanhMatchTheirLibmTwins) {
  const std::vector<int> sizes = {1, 7, 16, 17, 33, 100};
  const std::vector<std::pair<float, float>> ranges = {{-87, 88}, {-10, 10}, {-1e-3f, 1e-3f}, {-0.07f, 0.07f}};
  uint32_t seed = 1;
  for (int n : sizes)
    for (const auto& [lo, hi] : ranges) {
      const auto x = uniform(size_t(n), lo, hi, seed++);
      std::vector<float> fast(x.size()), slow(x.size());
      vm::exp_n(fast.data(), x.data(), n);
      vm::ref::exp_n(slow.data(), x.data(), n);
      for (int i = 0; i < n; ++i)  // ≤ 2 ulp promised; 4 allowed
        EXPECT_NEAR(fast[size_t(i)], slow[size_t(i)], 4.8e-7 * std::fabs(slow[size_t(i)])) << "exp(" << x[size_t(i)] << ")";
      vm::sigmoid_n(fast.data(), x.data(), n);
      vm::ref::sigmoid_n(slow.data(), x.data(), n);
      for (int i = 0; i < n; ++i) EXPECT_NEAR(fast[size_t(i)], slow[size_t(i)], 3e-7) << "sigmoid(" << x[size_t(i)] << ")";
      vm::tanh_n(fast.data(), x.data(), n);
      vm::ref::tanh_n(slow.data(), x.data(), n);
      for (int i = 0; i < n; ++i)  // relative near 0, absolute elsewhere
        EXPECT_NEAR(fast[size_t(i)], slow[size_t(i)], 4e-7 * std::max(1e-3f, std::fabs(slow[size_t(i)])) + 1e-9)
            << "tanh(" << x[size_t(i)] << ")";
    }
}

TEST(TftKernels, VectorExpm1MatchesLibmAcrossItsRangeAndAroundZero) {
  const std::vector<std::pair<float, float>> ranges = {{-87, 88}, {-10, 10}, {-0.6f, 0.6f}, {-1e-3f, 1e-3f}, {-1e-30f, 1e-30f}};
  uint32_t seed = 11;
  for (int n : {1, 7, 16, 17, 100})
    for (const auto& [lo, hi] : ranges) {
      auto x = uniform(size_t(n), lo, hi, seed++);
      x[0] = n == 100 ? 0.5f : x[0];  // where the series hands over to exp − 1
      std::vector<float> fast(x.size()), slow(x.size());
      vm::expm1_n(fast.data(), x.data(), n);
      vm::ref::expm1_n(slow.data(), x.data(), n);
      for (int i = 0; i < n; ++i)  // relative everywhere: near 0 expm1(x) ≈ x, and exp − 1 would cancel
        EXPECT_NEAR(fast[size_t(i)], slow[size_t(i)], 1e-6 * std::fabs(slow[size_t(i)])) << "expm1(" << x[size_t(i)] << ")";
    }
  const std::vector<float> edges = {std::nanf(""), 89.0f, INFINITY, -100.0f, -INFINITY, 0.0f};
  std::vector<float> y(edges.size());
  vm::expm1_n(y.data(), edges.data(), ptrdiff_t(edges.size()));
  EXPECT_TRUE(std::isnan(y[0]));
  EXPECT_EQ(y[1], INFINITY);  // an overflow is seen as one
  EXPECT_EQ(y[2], INFINITY);
  EXPECT_EQ(y[3], -1.0f);
  EXPECT_EQ(y[4], -1.0f);
  EXPECT_EQ(y[5], 0.0f);
}

TEST(TftKernels, MaxAndSoftmaxNumeratorMatchTheirTwins) {
  for (int n : {1, 5, 16, 31, 288}) {
    const auto x = uniform(size_t(n), -30, 30, uint32_t(n));
    EXPECT_EQ(vm::max_n(x.data(), n), vm::ref::max_n(x.data(), n));  // exact in any order
    const float mx = vm::ref::max_n(x.data(), n);
    std::vector<float> fast(x.size()), slow(x.size());
    const float sf = vm::exp_shifted_sum(fast.data(), x.data(), n, mx, 0.35f);
    const float ss = vm::ref::exp_shifted_sum(slow.data(), x.data(), n, mx, 0.35f);
    EXPECT_NEAR(sf, ss, 1e-6 * ss);
    EXPECT_LE(scaled_error(fast, slow), 1e-6);
  }
}

TEST(TftKernels, BackwardMatmulMatchesItsTwinForAnyStridesAndShapes) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> dim(1, 70);
  for (int c = 0; c < 40; ++c) {
    const int M = dim(rng), N = dim(rng), K = dim(rng);
    const bool a_t = rng() % 2, b_t = rng() % 2, acc = rng() % 2;  // transposed views, as the backward uses
    const int a_rs = a_t ? 1 : K + 3, a_cs = a_t ? M + 2 : 1, b_rs = b_t ? 1 : N + 1, b_cs = b_t ? K + 5 : 1;
    const int ldc = N + 4;
    const auto A = uniform(size_t(std::max(a_rs * (M - 1) + a_cs * (K - 1) + 1, 1)), -1, 1, uint32_t(3 * c));
    const auto B = uniform(size_t(std::max(b_rs * (K - 1) + b_cs * (N - 1) + 1, 1)), -1, 1, uint32_t(3 * c + 1));
    std::vector<float> fast = uniform(size_t(M) * ldc, -1, 1, uint32_t(3 * c + 2)), slow = fast;
    grad::matmul(M, N, K, A.data(), a_rs, a_cs, B.data(), b_rs, b_cs, fast.data(), ldc, acc);
    grad::matmul_reference(M, N, K, A.data(), a_rs, a_cs, B.data(), b_rs, b_cs, slow.data(), ldc, acc);
    EXPECT_LE(scaled_error(fast, slow), 2e-6) << M << "x" << N << "x" << K << " a_t " << a_t << " b_t " << b_t << " acc " << acc;
  }
}

TEST(TftKernels, LayerNormBackwardMatchesItsTwin) {
  for (int n : {3, 16, 17, 32, 48, 64, 100}) {
    const int rows = 1 + n % 7, ldd = n + 3;
    const auto x = uniform(size_t(rows) * n, -3, 3, uint32_t(n));
    const auto dy = uniform(size_t(rows) * n, -1, 1, uint32_t(n + 1));
    const auto gamma = uniform(size_t(n), 0.5f, 1.5f, uint32_t(n + 2));
    std::vector<float> dx = uniform(size_t(rows) * ldd, -1, 1, uint32_t(n + 3)), dx_ref = dx;
    std::vector<float> dg = uniform(size_t(n), -1, 1, uint32_t(n + 4)), dg_ref = dg, db = dg, db_ref = dg;
    grad::layer_norm_backward(dx.data(), ldd, dg.data(), db.data(), dy.data(), x.data(), rows, n, gamma.data(), 1e-5f);
    grad::layer_norm_backward_reference(dx_ref.data(), ldd, dg_ref.data(), db_ref.data(), dy.data(), x.data(), rows, n,
                                        gamma.data(), 1e-5f);
    EXPECT_LE(scaled_error(dx, dx_ref), 2e-6) << "dx, n " << n;
    EXPECT_LE(scaled_error(dg, dg_ref), 2e-6) << "dgamma, n " << n;
    EXPECT_LE(scaled_error(db, db_ref), 2e-6) << "dbeta, n " << n;
  }
}

TEST(TftKernels, AttentionBackwardMatchesItsKeyByKeyTwin) {
  struct Shape {
    int servers, E, D, heads, d;
  };
  for (const Shape s : {Shape{1, 4, 3, 1, 8}, Shape{3, 9, 5, 3, 4}, Shape{2, 24, 12, 4, 8}, Shape{2, 7, 6, 2, 16}}) {
    const int T = s.E + s.D, hd = s.heads * s.d;
    const uint32_t seed = uint32_t(T * 10 + s.heads);
    std::vector<int32_t> enc_len(size_t(s.servers));
    for (int b = 0; b < s.servers; ++b) enc_len[size_t(b)] = std::max(1, s.E - 2 * b);  // ragged
    const auto Q = uniform(size_t(s.servers) * s.D * hd, -1, 1, seed);
    const auto K = uniform(size_t(s.servers) * T * hd, -1, 1, seed + 1);
    const auto V = uniform(size_t(s.servers) * T * s.d, -1, 1, seed + 2);
    std::vector<float> probs(size_t(s.servers) * s.D * s.heads * T), heads(size_t(s.servers) * s.D * hd),
        mean(size_t(s.servers) * s.D * s.d), scratch(size_t(T) * (s.d + 1));
    nn::attention_forward(probs.data(), heads.data(), mean.data(), Q.data(), K.data(), V.data(), enc_len.data(), s.servers,
                          s.E, s.D, s.heads, s.d, scratch.data());  // real probabilities, masked keys exactly 0
    const auto dheads = uniform(heads.size(), -1, 1, seed + 3);
    std::vector<float> dQ(Q.size(), 0.0f), dK(K.size(), 0.0f), dV(V.size(), 0.0f);
    std::vector<float> dQr = dQ, dKr = dK, dVr = dV;
    grad::attention_backward(dQ.data(), dK.data(), dV.data(), dheads.data(), probs.data(), Q.data(), K.data(), V.data(),
                             enc_len.data(), s.servers, s.E, s.D, s.heads, s.d);
    grad::attention_backward_reference(dQr.data(), dKr.data(), dVr.data(), dheads.data(), probs.data(), Q.data(), K.data(),
                                       V.data(), enc_len.data(), s.servers, s.E, s.D, s.heads, s.d);
    const std::string shape = std::to_string(s.servers) + "x" + std::to_string(T) + " h" + std::to_string(s.heads);
    EXPECT_LE(scaled_error(dQ, dQr), 2e-6) << "dQ " << shape;
    EXPECT_LE(scaled_error(dK, dKr), 2e-6) << "dK " << shape;
    EXPECT_LE(scaled_error(dV, dVr), 2e-6) << "dV " << shape;
  }
}

}  // namespace
}  // namespace nordiq::tft
