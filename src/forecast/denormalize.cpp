// The network's output z → raw forecast paths (features.hpp, denormalize_outputs). Per value:
// z·scale + centre + anchor offset, the metric's inverse transform (expm1 for log1p metrics),
// the centre where that is not finite (a diverging network), the metric's range, then the
// quantiles sorted. 500 servers × 96 steps × 14 metrics × 7 quantiles is 4.7 M values a cycle:
// a libm expm1 per log1p value and a branchy insertion sort per step took ~40 ms of CPU per
// 500-server cycle together, so with AVX-512 each (server, metric) is done 16 steps at a time,
// the quantiles in registers.
#include <algorithm>
#include <cmath>
#include <vector>

#include "core/simd.hpp"
#include "forecast/features.hpp"
#include "tft/vmath.hpp"

namespace nordiq::forecast {

namespace {

#if defined(__AVX512F__)
NORDIQ_AVX512_BEGIN

// Compare-exchange: a ← min, b ← max. min(b, a) / max(b, a) return a when the two are equal,
// so equal values keep their order, as the insertion sort did.
inline void order(__m512& a, __m512& b) {
  const __m512 lo = _mm512_min_ps(b, a);
  b = _mm512_max_ps(a, b);
  a = lo;
}

// Sorts 7 vectors lane-wise: an optimal network of 16 compare-exchanges (depth 6).
inline void sort7(__m512* v) {
  static_assert(kNumQuantiles == 7, "the network sorts exactly 7 quantiles");
  constexpr int kPairs[16][2] = {{0, 6}, {2, 3}, {4, 5}, {0, 2}, {1, 4}, {3, 6}, {0, 1}, {2, 5},
                                 {3, 4}, {1, 2}, {4, 6}, {2, 3}, {4, 5}, {1, 2}, {3, 4}, {5, 6}};
  for (const auto& [a, b] : kPairs) order(v[a], v[b]);
}

// One server's paths: z is its [D, 14, 7] block, offsets its [D, 14] anchor offsets, paths its
// [14, 7, stride] block of ForecastBatch::values, of which the first `horizon` steps are written.
// First z is transposed into the paths as it is (rows read in order; a gather per 16 steps was
// slower: 16 cache lines each), and each metric's offsets into `offset_paths`; then each metric
// is computed in place, 16 steps at a time.
void denormalize_row(const float* z, const float* offsets, const Normalization& norm, int horizon, int stride,
                     float* paths, std::vector<float>& offset_paths) {
  constexpr int kRow = kNumMetrics * kNumQuantiles;  // floats per decoder step of z
  offset_paths.resize(static_cast<size_t>(kNumMetrics) * horizon);
  for (int t = 0; t < horizon; ++t) {
    const float* zt = z + static_cast<size_t>(t) * kRow;
    for (int i = 0; i < kRow; ++i) paths[static_cast<size_t>(i) * stride + t] = zt[i];
    for (int k = 0; k < kNumMetrics; ++k) offset_paths[static_cast<size_t>(k) * horizon + t] = offsets[t * kNumMetrics + k];
  }
  for (int k = 0; k < kNumMetrics; ++k) {
    const bool log1p = kMetrics[k].transform == MetricTransform::log1p;
    const __m512 scale = _mm512_set1_ps(norm.scale[k]), center = _mm512_set1_ps(norm.center[k]);
    const __m512 fallback = _mm512_set1_ps(inverse_transform(k, norm.center[k]));
    const __m512 lo = _mm512_set1_ps(static_cast<float>(kMetrics[k].min));
    const __m512 hi = _mm512_set1_ps(static_cast<float>(kMetrics[k].max));
    const __m512 inf = _mm512_set1_ps(INFINITY);
    float* metric_paths = paths + static_cast<size_t>(k) * kNumQuantiles * stride;
    const float* metric_offsets = offset_paths.data() + static_cast<size_t>(k) * horizon;
    for (int t0 = 0; t0 < horizon; t0 += 16) {
      const __mmask16 m = tft::vm::tail_mask(horizon - t0);
      const __m512 off = _mm512_maskz_loadu_ps(m, metric_offsets + t0);
      __m512 v[kNumQuantiles];
      for (int q = 0; q < kNumQuantiles; ++q) {
        const __m512 zq = _mm512_maskz_loadu_ps(m, metric_paths + q * stride + t0);
        // the scalar rule's fused multiply-add (Normalization::denormalize): the same bits
        __m512 x = _mm512_add_ps(_mm512_fmadd_ps(zq, scale, center), off);
        if (log1p) x = tft::vm::expm1_16(x);
        x = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(_mm512_abs_ps(x), inf, _CMP_LT_OQ), fallback, x);
        v[q] = _mm512_min_ps(hi, _mm512_max_ps(lo, x));  // x < lo ? lo : (x > hi ? hi : x)
      }
      sort7(v);
      for (int q = 0; q < kNumQuantiles; ++q) _mm512_mask_storeu_ps(metric_paths + q * stride + t0, m, v[q]);
    }
  }
}
NORDIQ_AVX512_END
#else
void denormalize_row(const float* z, const float* offsets, const Normalization& norm, int horizon, int stride,
                     float* paths, std::vector<float>&) {
  float v[kNumQuantiles];
  for (int t = 0; t < horizon; ++t) {
    const float* zt = z + static_cast<size_t>(t) * kNumMetrics * kNumQuantiles;
    for (int k = 0; k < kNumMetrics; ++k) {
      for (int q = 0; q < kNumQuantiles; ++q)
        v[q] = norm.denormalize(k, zt[k * kNumQuantiles + q], offsets[static_cast<size_t>(t) * kNumMetrics + k]);
      // The network does not enforce monotone quantiles (TFT.md §7.13); a tiny insertion sort.
      for (int q = 1; q < kNumQuantiles; ++q)
        for (int p = q; p > 0 && v[p] < v[p - 1]; --p) std::swap(v[p], v[p - 1]);
      for (int q = 0; q < kNumQuantiles; ++q) paths[(static_cast<size_t>(k) * kNumQuantiles + q) * stride + t] = v[q];
    }
  }
}
#endif

}  // namespace

void denormalize_outputs(const float* z, const FeatureBatch& features, std::span<const int> rows,
                         std::span<const int> dest, ForecastBatch& out, const ForEachRow& for_each) {
  const int horizon = std::min(out.horizon, features.decoder);
  const size_t z_row = static_cast<size_t>(features.decoder) * kNumMetrics * kNumQuantiles;
  each_row(for_each, static_cast<int>(rows.size()), [&](int i) {
    const int r = rows[i];
    const float* offsets = features.anchor_offset.data() + static_cast<size_t>(r) * features.decoder * kNumMetrics;
    thread_local std::vector<float> offset_paths;
    denormalize_row(z + static_cast<size_t>(r) * z_row, offsets, features.norms[r], horizon, out.horizon,
                    out.path(dest[i], 0, 0), offset_paths);
  });
}

}  // namespace nordiq::forecast
