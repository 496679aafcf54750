#include "tft/loss.hpp"

#include <algorithm>
#include <vector>

namespace nordiq::tft {

double quantile_loss(const float* z, const float* y, const int32_t* decoder_lengths, const float* quantiles,
                     const QuantileLossShape& s, double normaliser_steps, float* dz, double* per_target) {
  const int B = s.batch, D = s.decoder, K = s.targets, Q = s.quantiles;
  if (normaliser_steps <= 0) {
    normaliser_steps = 0;
    for (int b = 0; b < B; ++b) normaliser_steps += std::clamp<int>(decoder_lengths[b], 0, D);
  }
  const double norm = double(Q) * std::max(normaliser_steps, 1.0);
  const float inv = float(1.0 / norm);
  if (per_target) std::fill(per_target, per_target + K, 0.0);
  double total = 0;
  for (int b = 0; b < B; ++b) {
    const int len = std::clamp<int>(decoder_lengths[b], 0, D);
    for (int t = 0; t < D; ++t) {
      const size_t row = size_t(b) * D + t;
      for (int k = 0; k < K; ++k) {
        const float* zk = z + (row * K + k) * Q;
        float* dk = dz ? dz + (row * K + k) * Q : nullptr;
        if (t >= len) {
          if (dk) std::fill(dk, dk + Q, 0.0f);
          continue;
        }
        const float yk = y[row * K + k];
        double acc = 0;
        for (int q = 0; q < Q; ++q) {
          const float qq = quantiles[q];
          const float e = yk - zk[q];
          acc += 2.0 * std::max(double(qq - 1.0f) * e, double(qq) * e);
          // e = 0: PyTorch's max gives each side half the gradient (1 − 2q).
          if (dk) dk[q] = (e > 0 ? -2.0f * qq : e < 0 ? 2.0f * (1.0f - qq) : 1.0f - 2.0f * qq) * inv;
        }
        if (per_target) per_target[k] += acc / norm;
        total += acc;
      }
    }
  }
  return total / norm;
}

}  // namespace nordiq::tft
