// The whole TFT as a training graph: a forward that keeps every activation its backward needs
// (one arena, reused across batches of the same shape), the quantile loss, and the full
// backward of docs/TFT.md §12 into ONE gradient buffer laid out by the model's ParamTable
// (aliased tensors share an offset, so their gradients are summed automatically).
//
// One graph is used by one thread at a time; a trainer runs one graph per thread over disjoint
// parts of a mini-batch and adds the gradient buffers in a fixed order (deterministic).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "tft/engine.hpp"
#include "tft/model.hpp"

namespace nordiq::tft {

// Receives intermediate gradients under the golden names (`gt.*`, tft_tiny_grad layout).
using GradTraceSink = std::function<void(const std::string& name, const std::vector<int64_t>& shape,
                                         std::span<const float> data)>;

struct TrainStepOptions {
  float dropout = 0.0f;         // §8 positions; 0 = the network in eval mode
  uint64_t seed = 0;            // dropout masks
  double normaliser_steps = 0;  // loss denominator / Q (0: Σ decoder lengths of this batch)
};

class TrainingGraph {
 public:
  // The model provides configuration, parameter table and block layout; parameter VALUES are
  // passed to forward() (a trainer owns its own buffer). The model must outlive the graph.
  explicit TrainingGraph(const Model& model);
  ~TrainingGraph();
  TrainingGraph(const TrainingGraph&) = delete;
  TrainingGraph& operator=(const TrainingGraph&) = delete;

  // Forward pass keeping activations; y [B, D, K] normalised targets. Returns the loss (§11).
  // The inputs (and P) must stay alive and unchanged until backward() returns. Throws
  // std::invalid_argument naming a bad field (lengths, codes, non-finite values).
  double forward(const float* P, const ForwardInputs& in, const float* y, const TrainStepOptions& options);

  // Backward of the last forward: ACCUMULATES dL/dW into G (table().total() floats) and, when
  // dx_cont is non-null, dL/dx_cont into it ([B, T, n_real]; cells the network never reads get
  // nothing). With a sink, also emits the intermediate gradients `gt.*`.
  void backward(float* G, float* dx_cont = nullptr, const GradTraceSink* sink = nullptr);

  const float* prediction_normalized() const;  // z [B, D, K, Q] of the last forward
  double loss() const;
  const std::vector<double>& loss_per_target() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nordiq::tft
