// Order statistics shared by the classical forecasters (robust_profile, the eval baselines) and
// the normaliser's Theil–Sen centre: one definition of "quantile" and "median" for all of them.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

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

// x[i] − the median of x[i − half .. i + half] for every i in [lo, hi] (each window inside x; at
// most 2·half + 1 ≤ kMaxCentredWindow values), into out[i − lo]. Why: the hourly inputs need this
// at 48 consecutive positions per metric and server every cycle; one sorted window slid along
// (drop the value that leaves, insert the one that comes) costs ~2·half moves per position instead
// of a selection of 2·half + 1 values. The median is the value a selection finds (x without NaN).
inline constexpr int kMaxCentredWindow = 121;
inline void centred_deviations(const float* x, int lo, int hi, int half, float* out) {
  const int n = 2 * half + 1;
  std::array<float, kMaxCentredWindow> sorted;
  std::copy(x + lo - half, x + lo + half + 1, sorted.begin());
  std::sort(sorted.begin(), sorted.begin() + n);
  out[0] = x[lo] - sorted[half];
  for (int i = lo + 1; i <= hi; ++i) {
    const float leaves = x[i - half - 1], comes = x[i + half];
    int at = static_cast<int>(std::lower_bound(sorted.begin(), sorted.begin() + n, leaves) - sorted.begin());
    // the slot of the value that leaves moves toward where `comes` belongs, then takes it
    while (at + 1 < n && sorted[at + 1] < comes) {
      sorted[at] = sorted[at + 1];
      ++at;
    }
    while (at > 0 && sorted[at - 1] > comes) {
      sorted[at] = sorted[at - 1];
      --at;
    }
    sorted[at] = comes;
    out[i - lo] = x[i] - sorted[half];
  }
}

// Sorts v ascending, exactly as std::sort orders it (v must hold no NaN; −0 sorts before +0),
// by a least-significant-digit radix sort on order-preserving 32-bit keys. Why: the band fits
// sort a few hundred noisy changes, where std::sort's comparisons mispredict about every other
// branch; four counting passes make no comparison at all (≈ 5× faster at n = 280). `keys` is
// scratch (2n words), reused across calls.
inline void radix_sort(std::span<float> v, std::vector<uint32_t>& keys) {
  const size_t n = v.size();
  if (n < 2) return;
  keys.resize(2 * n);
  uint32_t* from = keys.data();
  uint32_t* to = from + n;
  // A float's bits order like unsigned integers once negatives are flipped whole and positives
  // get their sign bit set.
  std::array<std::array<uint32_t, 256>, 4> count{};
  for (size_t i = 0; i < n; ++i) {
    const uint32_t bits = std::bit_cast<uint32_t>(v[i]);
    const uint32_t key = bits ^ (static_cast<uint32_t>(-static_cast<int32_t>(bits >> 31)) | 0x80000000u);
    from[i] = key;
    for (int d = 0; d < 4; ++d) ++count[d][(key >> (8 * d)) & 0xFFu];
  }
  for (int d = 0; d < 4; ++d) {
    auto& slot = count[d];
    if (slot[(from[0] >> (8 * d)) & 0xFFu] == n) continue;  // one digit for every key: nothing moves
    uint32_t sum = 0;
    for (uint32_t& c : slot) sum += std::exchange(c, sum);
    for (size_t i = 0; i < n; ++i) to[slot[(from[i] >> (8 * d)) & 0xFFu]++] = from[i];
    std::swap(from, to);
  }
  for (size_t i = 0; i < n; ++i) {
    const uint32_t key = from[i];
    v[i] = std::bit_cast<float>(key ^ ((key >> 31) ? 0x80000000u : 0xFFFFFFFFu));
  }
}

}  // namespace nordiq::forecast
