// Feature assembly: windows → the TFT's input tensors (TFT.md §2) and back. Shared by serving
// (assemble_features) and training (assemble_training_batch): both call the same row writer, so
// the network sees identical features for identical history whatever the caller.
//
// Per row b (one server or one training window), with ℓ encoder steps and ℓd decoder steps:
//   x_cat[b,t,0] = profile enum + 1 (every valid step), x_cat[b,t,1] = status enum + 1 on
//     encoder steps (0 = unknown on decoder steps, which the network never reads)
//   x_cont[b,t,0]         encoder_length feature = 2ℓ/E_max − 1
//   x_cont[b,t,1+2k]      center_feature(k),  x_cont[b,t,2+2k] scale_feature(k)  (normalizer.hpp)
//   x_cont[b,t,29..34]    hour_sin hour_cos dow_sin dow_cos is_weekend is_business_hours of the
//                         step's start time (UTC; hour includes minutes; Monday = 0)
//   x_cont[b,t,35]        relative_time_idx = (i − ℓ)/E_max for encoder step i, j/E_max for
//                         decoder step j (0-based)
//   x_cont[b,t,36+k]      normalised metric k on encoder steps, 0 on decoder steps
//   x_cont[b,t,50+k]      on decoder steps: normalised metric k one day before the step, from
//                         the encoder window (0 where it does not reach back a day); 0 on
//                         encoder steps (contract.hpp says why)
//   x_cont[b,t,64+k]      on decoder steps: slope·(j+1)/scale of the centre's line, clamped to
//                         ±kTrendClamp (the linear continuation of the present); 0 on encoder steps
//   x_cont[b,t,78+k]      anchored models, on decoder steps: (anchor − center)/scale, clamped to
//                         ±kTrendClamp, where anchor is the robust classical forecast of the step
//                         fitted on the encoder window (robust_profile.hpp); 0 on encoder steps
//   x_cont[b,t,78+k]      hourly models, on decoder steps: metric k's within-hour shape at the
//                         step's minute of the hour (median over the encoder's last 4 hours of
//                         the value there minus its centred hour's median, ÷ scale; hourly jobs);
//                         x_cont[b,t,92..93] minute_sin, minute_cos of the step's start; 0 on
//                         encoder steps
// Targets and outputs of anchored models (normalizer version 3) are relative to the anchor:
//   target z = (transform(y) − center − anchor_offset[b,j,k]) / scale, anchor_offset = anchor − center
//   (0 for other models), so "z = 0" is the robust forecast rather than persistence.
// Encoder steps sit at t = 0..ℓ−1, decoder steps at t = E..E+ℓd−1 (E = padded encoder length
// of the batch); every other cell is 0 (finite padding, TFT.md §13).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/window.hpp"
#include "forecast/contract.hpp"
#include "forecast/forecaster.hpp"
#include "forecast/normalizer.hpp"

namespace nordiq::forecast {


struct FeatureConfig {
  int max_encoder = kMaxEncoderSteps;  // E_max of the model (its manifest)
  int horizon = kHorizonSteps;         // D of the model
  InputSet inputs = InputSet::decoder;  // the model's inputs (contract.hpp)
  int n_cont() const { return n_cont_of(inputs); }
};

// hour_sin hour_cos dow_sin dow_cos is_weekend is_business_hours (Mon–Fri 09:00–17:00 UTC).
void time_features(EpochMs t, float out[kNumTimeFeatures]);
// The same values, read from a week of the step grid computed once per thread (4 trigonometric
// calls per step and server were ~1.5 % of a forecast cycle); time_features itself off the grid.
void time_features_on_grid(EpochMs t, int64_t step_ms, float out[kNumTimeFeatures]);

struct FeatureBatch {
  int batch = 0;
  int encoder = 0;  // E: padded encoder length = max ℓ of the batch
  int decoder = 0;  // D: padded decoder length
  int n_cont = kNumCont;  // x_cont columns per step (the model's x_reals)
  std::vector<int32_t> x_cat;            // [B, E+D, 2]
  std::vector<float> x_cont;             // [B, E+D, n_cont]
  std::vector<int32_t> encoder_lengths;  // [B]
  std::vector<int32_t> decoder_lengths;  // [B]
  std::vector<float> target_scale;       // [B, 14, 2] (center, scale), transformed units
  std::vector<Normalization> norms;      // [B] the same statistics, for de-normalisation
  std::vector<float> anchor_offset;      // [B, D, 14] anchor − center, transformed units (0 unanchored)

  int steps() const { return encoder + decoder; }
  float offset(int b, int j, int k) const {
    return anchor_offset[(static_cast<size_t>(b) * decoder + j) * kNumMetrics + k];
  }
  // Raw value of decoder step j → the network's target z, and back (clamped to the metric's range).
  float normalize_target(int b, int j, int k, float raw) const { return norms[b].normalize(k, raw, offset(b, j, k)); }
  float denormalize_output(int b, int j, int k, float z) const { return norms[b].denormalize(k, z, offset(b, j, k)); }
  // Sizes every buffer and zeroes the tensors; capacity is kept across calls.
  void resize(int batch, int encoder, int decoder, int n_cont = kNumCont);
  float* cont_row(int b, int t) { return x_cont.data() + (static_cast<size_t>(b) * steps() + t) * n_cont; }
  const float* cont_row(int b, int t) const {
    return x_cont.data() + (static_cast<size_t>(b) * steps() + t) * n_cont;
  }
  int32_t* cat_row(int b, int t) { return x_cat.data() + (static_cast<size_t>(b) * steps() + t) * kNumCat; }
};

// Serving: row b = windows[b]; its encoder is its last min(length, E_max) steps, its decoder the
// full horizon after its last step. Windows with length 0 get ℓ = 1 of zeros (never read back:
// the forecaster keeps the baseline for short windows).
void assemble_features(std::span<const WindowView> windows, const FeatureConfig& config,
                       FeatureBatch& out, const ForEachRow& for_each = {});

// Training: one slice of a server's history — encoder = steps [begin, begin + encoder_length),
// decoder = the next decoder_length steps (must lie inside the view).
struct TrainingSlice {
  WindowView view;
  int begin = 0;
  int encoder_length = 0;
  int decoder_length = 0;
};
// Fills `out` exactly as serving would for the same encoder steps, and `targets` with the
// normalised future values y[b, t, k] ([B, D, 14], zero beyond each row's decoder length).
// Throws std::invalid_argument naming the slice if it does not fit its view or E_max.
void assemble_training_batch(std::span<const TrainingSlice> slices, const FeatureConfig& config,
                             FeatureBatch& out, std::vector<float>& targets);

// Network output z ([B, D, 14, 7], normalised) → out.values for the given rows: de-normalised,
// inverse-transformed, clamped to each metric's range, sorted across quantiles. rows[i] is the
// feature-batch row written to forecast-batch row dest[i]; only the first out.horizon steps
// (≤ D) are written.
void denormalize_outputs(const float* z, const FeatureBatch& features, std::span<const int> rows,
                         std::span<const int> dest, ForecastBatch& out, const ForEachRow& for_each = {});

// The start time of forecast step t (0-based) of a window: the series continues past its last step.
inline EpochMs forecast_step_time(const WindowView& w, int t) {
  return w.last_step() + (t + 1) * w.step_ms;
}

}  // namespace nordiq::forecast
