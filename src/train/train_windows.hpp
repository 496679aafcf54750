// Training and validation windows cut from a History, and their assembly into network batches.
//
// A window is (server, segment, origin): the forecast starts at step `origin` of the segment;
// its targets are the `horizon` steps from there, its encoder up to `max_encoder` steps before.
// The split is by time: a training window's targets all end before the validation start (the
// last `validation_days` whole days), a validation window's origin is at or after it. Batches are
// built by forecast::assemble_training_batch, the code path serving uses, so the network is
// trained on exactly the features it will be served.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "forecast/features.hpp"
#include "train/history.hpp"

namespace nordiq::train {

struct Window {
  uint32_t server = 0, segment = 0;
  int64_t origin = 0;     // first forecast step, relative to the segment
  int32_t encoder = 0;    // encoder length used for this window (≤ steps available before origin)
};

struct WindowOptions {
  int max_encoder = kMaxEncoderSteps;
  int min_encoder = kMinEncoderSteps;
  int horizon = kHorizonSteps;
  int stride = 12;           // steps between consecutive origins of one series
  int validation_days = 0;   // 0: about a fifth of the span, at least one day
};

struct WindowSplit {
  std::vector<Window> train, validation;
  EpochMs validation_start = 0;
};

// Every origin with ≥ min_encoder steps before it and `horizon` steps from it inside its segment,
// every `stride` steps. Encoder = min(available, max_encoder) (training re-draws it per epoch).
WindowSplit split_windows(const History& history, const WindowOptions& options);

// Steps available before the window's origin, capped at max_encoder.
int available_encoder(const Window& w, int max_encoder);

// Assembles windows into `out` (+ targets [B, D, 14]) with the serving feature code, then pads
// the encoder axis to a multiple of `pad_to` (padding is provably inert, TFT.md §2, and a few
// distinct shapes keep the GEMM primitive caches small).
void assemble_windows(const History& history, std::span<const Window> windows, const forecast::FeatureConfig& config,
                      int pad_to, forecast::FeatureBatch& out, std::vector<float>& targets,
                      std::vector<forecast::TrainingSlice>& slices_scratch);

// The last-value baseline (train/baselines.hpp, with its bands) on `windows`, normalised with each
// window's own statistics and scored with the training loss (TFT.md §11): the reference a model
// must beat, in the same units as its validation loss.
double last_value_baseline_loss(const History& history, std::span<const Window> windows,
                                const forecast::FeatureConfig& config);

}  // namespace nordiq::train
