// Order statistics shared by the classical forecasters (robust_profile, the eval baselines) and
// the normaliser's Theil–Sen centre: one definition of "quantile" and "median" for all of them.
#pragma once

#include <algorithm>
#include <cstddef>
#include <span>

namespace nordiq::forecast {

// Quantile of sorted data, linear interpolation between order statistics (type 7); n ≥ 1.
template <class T>
inline T sorted_quantile(const T* v, size_t n, double q) {
  const double pos = q * static_cast<double>(n - 1);
  const size_t lo = static_cast<size_t>(pos);
  const size_t hi = std::min(lo + 1, n - 1);
  return static_cast<T>(v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo)));
}

// Median of v (reordered in place; the mean of the two middle values for an even count);
// v must not be empty.
inline float median_inplace(std::span<float> v) {
  const size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid), v.end());
  const float upper = v[mid];
  if (v.size() % 2) return upper;
  const float lower = *std::max_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid));
  return 0.5f * (lower + upper);
}

}  // namespace nordiq::forecast
