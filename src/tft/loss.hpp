// The training loss (docs/TFT.md §11): twice the pinball loss per quantile, in normalised space,
// averaged over (sample, valid decoder step, quantile) per target and summed over targets.
#pragma once

#include <cstdint>

namespace nordiq::tft {

struct QuantileLossShape {
  int batch = 0, decoder = 0, targets = 0, quantiles = 0;
};

// z [B, D, K, Q] network output, y [B, D, K] targets, decoder_lengths [B]. The denominator is
// Q · normaliser_steps; pass normaliser_steps ≤ 0 to use Σ_b decoder_lengths[b] of this batch
// (a batch split across threads passes the whole batch's count, so the parts' gradients add up
// to the batch gradient). Writes dL/dz into dz (if non-null; 0 at padded steps, tie rule of
// §11 at e = 0) and L_k into per_target (if non-null). Returns L = Σ_k L_k.
double quantile_loss(const float* z, const float* y, const int32_t* decoder_lengths, const float* quantiles,
                     const QuantileLossShape& shape, double normaliser_steps, float* dz, double* per_target);

}  // namespace nordiq::tft
