// Optimiser for the TFT parameter buffer (docs/TFT.md §12): Adam exactly as torch.optim.Adam
// (no weight decay, no amsgrad) and clipping by the global L2 norm. Both run over the whole
// buffer of the ParamTable: aliased tensors share one slot, so each shared parameter is stepped
// once; alignment padding has zero gradient and stays zero.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace nordiq::tft {

struct AdamConfig {
  // doubles, like torch's Python hyper-parameters (the bias corrections are computed in double)
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
};

class Adam {
 public:
  Adam(size_t n, AdamConfig config = {}) : config_(config), m_(n, 0.0f), v_(n, 0.0f) {}
  // One step: P -= lr/(1−β1ᵗ) · m / (√v/√(1−β2ᵗ) + ε), with `lr` overriding config.lr if > 0.
  void step(float* P, const float* G, double lr = 0.0);
  int64_t steps() const { return t_; }
  const AdamConfig& config() const { return config_; }
  std::vector<float>& m() { return m_; }
  std::vector<float>& v() { return v_; }
  void set_steps(int64_t t) { t_ = t; }

 private:
  AdamConfig config_;
  std::vector<float> m_, v_;
  int64_t t_ = 0;
};

// ‖G‖₂ over n floats (accumulated in double).
double grad_norm(const float* G, size_t n);
// Scales G by max_norm / (‖G‖ + 1e-6) when that factor is < 1 (torch clip_grad_norm_).
// Returns the norm before clipping.
double clip_grad_norm(float* G, size_t n, double max_norm);

}  // namespace nordiq::tft
