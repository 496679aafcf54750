// Trains a TFT on a History (what `nordiq train` runs): parameter initialisation (TFT.md §10),
// mini-batches split into fixed chunks computed across threads (gradients summed in chunk order,
// so results never depend on the thread count), dropout, global-norm clipping, Adam, validation
// after every epoch, ReduceLROnPlateau (factor ½, patience 4, cooldown 4, min 1e-5) and early
// stopping on validation loss; the best epoch's weights are kept.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "tft/model.hpp"
#include "train/history.hpp"
#include "train/train_windows.hpp"

namespace nordiq::train {

struct TrainProgress {
  int epoch = 0, epochs = 0;    // epoch is 1-based
  int batch = 0, batches = 0;   // batches done in this epoch, batches per epoch
  double train_loss = 0;        // mean over this epoch's batches so far
  double best_validation_loss = 0;  // +inf before the first validation
  double eta_seconds = 0;       // to the last epoch at the measured pace (early stopping may end sooner)
};

struct TrainOptions {
  int hidden = 32, heads = 4, cont_hidden = 16;
  // The model's inputs (forecast/contract.hpp): decoder (lag-day and trend; targets relative to
  // the present level), hourly (+ each metric's within-hour shape at the step's minute of the hour, and that minute) or
  // anchored (+ the robust anchor; targets relative to it, normalizer version 3).
  forecast::InputSet inputs = forecast::InputSet::hourly;
  WindowOptions windows;
  int epochs = 20;
  int batch = 64;
  double lr = 1e-3;
  float dropout = 0.1f;
  double clip = 1.0;              // max global gradient norm (≤ 0: off)
  uint64_t seed = 42;
  int threads = 1;
  int64_t max_windows = 0;        // training windows per epoch (0 = all), sampled anew each epoch
  int64_t max_validation = 0;     // validation windows (0 = all), a fixed evenly spaced subset
  int early_stop_patience = 8;    // epochs without improvement before stopping
  double full_encoder_share = 0.5;  // share of training windows with the full encoder; the rest
                                    // draw a length uniformly in [min_encoder, available]
  bool progress = true;           // progress bar with loss and ETA on stderr
  // Called after every epoch (tests, logs): epoch (1-based), train loss, validation loss, lr.
  std::function<void(int, double, double, double)> on_epoch;
  // Called after every optimiser step (the daemon's /admin/training-status).
  std::function<void(const TrainProgress&)> on_batch;
  // Polled before every gradient chunk (8 windows) and validation chunk, from worker threads
  // too: true stops training by throwing TrainingCancelled from the calling thread (the daemon's
  // /admin/cancel-training), so a cancel takes one chunk.
  std::function<bool()> cancelled;
};

struct TrainingCancelled : std::runtime_error {
  TrainingCancelled() : std::runtime_error("training cancelled") {}
};

struct TrainResult {
  std::unique_ptr<tft::Model> model;  // best weights + manifest (provenance included)
  int epochs = 0;
  int best_epoch = 0;
  double best_validation_loss = 0;
  double baseline_validation_loss = 0;  // last value, same units
  int64_t train_windows = 0, validation_windows = 0, steps = 0;
  double windows_per_second = 0;        // training windows (forward + backward + step) per second
  double seconds = 0;
};

// The NordIQ input contract (variable lists, embeddings) as the manifest's "model" object.
nlohmann::json contract_model_json(int hidden, int heads, int cont_hidden,
                                   forecast::InputSet inputs = forecast::InputSet::decoder);
// Library initialisation of TFT.md §10 for every unique tensor (deterministic in `seed`).
void init_parameters(tft::Model& model, uint64_t seed);

// Throws std::invalid_argument if the history yields no training or no validation window.
TrainResult train_model(const History& history, const TrainOptions& options, const std::string& data_source);

}  // namespace nordiq::train
