// Batched TFT forward pass: one call runs B windows (servers) with ragged encoder/decoder
// lengths, multi-threaded over the batch on a persistent thread pool.
//
// Thread safety: calls on one Engine are serialised (it owns one thread pool and one arena per
// thread); use one Engine per concurrent caller. The calling thread works too, and oneDNN is
// pinned to one OpenMP thread on every thread that runs the forward.
//
// Determinism: the batch is cut into chunks whose size depends only on (B, E, D) — never on the
// thread count — and each chunk is computed by exactly the same code whichever thread runs it,
// so results are bit-identical for any number of threads.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "tft/model.hpp"

namespace nordiq::tft {

// Inputs, row-major, batch first (docs/TFT.md §2). T = E + D. E = max encoder length of the
// batch (the encoder of sample b occupies steps 0..enc_len[b]-1), decoder at steps E..E+D-1.
struct ForwardInputs {
  int batch = 0;                           // B
  int encoder_steps = 0;                   // E (padded)
  int decoder_steps = 0;                   // D (padded)
  const int32_t* x_cat = nullptr;          // [B, T, n_cat]  category codes (0 = unknown)
  const float* x_cont = nullptr;           // [B, T, n_real] x_reals order of the manifest
  const int32_t* encoder_lengths = nullptr;  // [B], 1..E
  const int32_t* decoder_lengths = nullptr;  // [B], 1..D
  const float* target_scale = nullptr;     // [B, K, 2] (center, scale); may be null if no `prediction`
};

// Caller-owned output buffers; any pointer may be null (not wanted). K targets, Q quantiles.
struct ForwardOutputs {
  float* prediction_normalized = nullptr;  // [B, D, K, Q]  network output z
  float* prediction = nullptr;             // [B, D, K, Q]  z · scale + center
  float* attention = nullptr;              // [B, D, h, T]  masked keys exactly 0
  float* static_weights = nullptr;         // [B, n_static]
  float* encoder_weights = nullptr;        // [B, E, n_encoder] (padded steps: unspecified)
  float* decoder_weights = nullptr;        // [B, D, n_decoder]
  // The same interpretation reduced per server, O(B·T) instead of the [B,D,h,T] tensor (what
  // serving keeps for /explain): each row sums to 1.
  float* attention_mean = nullptr;         // [B, T] attention, mean over heads and valid decoder steps
  float* encoder_importance = nullptr;     // [B, n_encoder] encoder weights, mean over valid encoder steps
  float* decoder_importance = nullptr;     // [B, n_decoder] decoder weights, mean over valid decoder steps
};

// Per-stage intermediate tensors (golden `t.*` names), delivered with the golden layouts.
using TraceSink = std::function<void(const std::string& name, const std::vector<int64_t>& shape,
                                     std::span<const float> data)>;

class Engine {
 public:
  // The model must outlive the engine. threads ≥ 1 (including the calling thread).
  explicit Engine(const Model& model, int threads = 1);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  void set_threads(int threads);

  // The engine derives transposed/concatenated weights from the model's parameters on the first
  // forward. Call this after changing the parameters (training) so the next forward re-derives.
  void reload_parameters();
  int threads() const;

  // Serving folds what is linear between non-linearities (tft/folded.hpp): the same network
  // within float rounding, and faster. Off, the engine runs the blocks exactly as training does
  // (the test that holds the two forwards to the same numbers). On by default.
  void set_folding(bool on);

  // Validates the inputs (lengths in range, codes in range) and throws std::invalid_argument
  // naming the bad field; then runs the forward pass. No allocation once warmed up for a shape.
  void forward(const ForwardInputs& in, const ForwardOutputs& out);

  // Same computation, on the calling thread, as one chunk, additionally emitting every golden
  // trace `t.*` to `sink` (for `nordiq tft check` and debugging; slow path).
  void forward_traced(const ForwardInputs& in, const ForwardOutputs& out, const TraceSink& sink);

  // Runs fn(task) for tasks [0, tasks) on the engine's threads (between forwards: the cycle's
  // per-server work before and after the network).
  void parallel_for(int tasks, const std::function<void(int task)>& fn);

  // Servers per chunk that forward() uses for a batch shape (exposed for tests/benchmarks).
  static int chunk_servers(int batch, int encoder_steps, int decoder_steps);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Multiply-adds per window of the network (docs/TFT.md §7 cost formula); ×2 for FLOPs.
double forward_macs_per_window(const ModelConfig& config, int encoder_steps, int decoder_steps);

}  // namespace nordiq::tft
