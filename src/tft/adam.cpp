#include "tft/adam.hpp"

#include <cmath>

namespace nordiq::tft {

void Adam::step(float* P, const float* G, double lr) {
  ++t_;
  const AdamConfig& c = config_;
  const double rate = lr > 0.0 ? lr : c.lr;
  // Bias corrections as torch computes them (Python floats), then float32 element-wise.
  const double bc1 = 1.0 - std::pow(c.beta1, double(t_));
  const double bc2 = 1.0 - std::pow(c.beta2, double(t_));
  const float step_size = float(rate / bc1);
  const float bc2_sqrt = float(std::sqrt(bc2));
  const float b1 = float(c.beta1), b2 = float(c.beta2), a1 = float(1.0 - c.beta1), a2 = float(1.0 - c.beta2);
  const float eps = float(c.eps);
  const size_t n = m_.size();
  for (size_t i = 0; i < n; ++i) {
    const float g = G[i];
    // the operation order of torch's CPU kernels (mul_, add_(alpha), addcmul_, addcdiv_)
    m_[i] = m_[i] * b1 + a1 * g;
    v_[i] = v_[i] * b2 + a2 * g * g;
    const float denom = std::sqrt(v_[i]) / bc2_sqrt + eps;
    P[i] = P[i] + (-step_size) * m_[i] / denom;
  }
}

double grad_norm(const float* G, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; ++i) s += double(G[i]) * G[i];
  return std::sqrt(s);
}

double clip_grad_norm(float* G, size_t n, double max_norm) {
  const double norm = grad_norm(G, n);
  const double f = max_norm / (norm + 1e-6);
  if (f < 1.0)
    for (size_t i = 0; i < n; ++i) G[i] = float(G[i] * f);
  return norm;
}

}  // namespace nordiq::tft
