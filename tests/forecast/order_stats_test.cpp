// The order statistics the classical forecasters share (forecast/order_stats.hpp).
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "forecast/order_stats.hpp"

namespace nordiq::forecast {
namespace {

TEST(OrderStats, MedianOfAnEvenCountIsTheMeanOfTheMiddleTwo) {
  std::vector<float> v = {9.f, 1.f, 4.f, 6.f};
  EXPECT_EQ(median_inplace(v), 5.f);
  std::vector<float> odd = {3.f, -1.f, 2.f};
  EXPECT_EQ(median_inplace(odd), 2.f);
}

// Type 7: linear between the order statistics around q·(n − 1).
TEST(OrderStats, SortedQuantileInterpolatesBetweenNeighbours) {
  const float v[4] = {0.f, 10.f, 20.f, 30.f};
  EXPECT_FLOAT_EQ(sorted_quantile(v, 4, 0.5), 15.f);
  EXPECT_FLOAT_EQ(sorted_quantile(v, 4, 0.1), 3.f);
  EXPECT_FLOAT_EQ(sorted_quantile(v, 4, 1.0), 30.f);
  EXPECT_FLOAT_EQ(sorted_quantile(v, 1, 0.9), 0.f);
}

// The band fits' sort: the same order as std::sort for every finite and infinite value, in every
// size, including runs of equal values and inputs whose keys share digits (passes skipped).
TEST(OrderStats, RadixSortOrdersLikeStdSort) {
  std::mt19937 rng(11);
  std::normal_distribution<float> noise(0.f, 7.f);
  std::uniform_real_distribution<float> narrow(1.f, 1.001f);  // shared sign, exponent and top bits
  std::vector<uint32_t> keys;
  auto check = [&](std::vector<float> v) {
    std::vector<float> expected = v;
    std::sort(expected.begin(), expected.end());
    radix_sort(v, keys);
    ASSERT_EQ(v.size(), expected.size());
    for (size_t i = 0; i < v.size(); ++i) ASSERT_EQ(v[i], expected[i]) << "position " << i << " of " << v.size();
  };
  for (size_t n : {0u, 1u, 2u, 3u, 17u, 280u, 5000u}) {
    std::vector<float> v(n), w(n), ties(n);
    for (size_t i = 0; i < n; ++i) {
      v[i] = noise(rng);
      w[i] = narrow(rng);
      ties[i] = std::round(noise(rng) / 4.f);
    }
    check(v);
    check(w);
    check(ties);
  }
  check({3.f, -0.f, 0.f, -2.5f, std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
         std::numeric_limits<float>::denorm_min(), -std::numeric_limits<float>::denorm_min(),
         std::numeric_limits<float>::max(), std::numeric_limits<float>::lowest(), 1e-30f, -1e30f});
}

// std::sort leaves −0 and +0 in any order; the radix sort puts −0 first, deterministically.
TEST(OrderStats, RadixSortPutsNegativeZeroBeforePositiveZero) {
  std::vector<float> v = {0.f, -0.f, 0.f, -0.f};
  std::vector<uint32_t> keys;
  radix_sort(v, keys);
  EXPECT_TRUE(std::signbit(v[0]) && std::signbit(v[1]));
  EXPECT_FALSE(std::signbit(v[2]) || std::signbit(v[3]));
}

TEST(OrderStats, SlidingCentredDeviationsEqualASelectionAtEveryPosition) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> noise(-3.f, 3.f);
  std::uniform_int_distribution<int> coarse(0, 4);  // many ties
  for (int half : {0, 1, 6, 30}) {
    for (bool ties : {false, true}) {
      const int len = 4 * (2 * half + 1) + 40;
      std::vector<float> x(static_cast<size_t>(len));
      for (float& v : x) v = ties ? static_cast<float>(coarse(rng)) : noise(rng);
      if (len > 20) x[len / 2] = 1e6f;  // a burst passes through the window
      const int lo = half, hi = len - 1 - half;
      std::vector<float> out(static_cast<size_t>(hi - lo + 1));
      centred_deviations(x.data(), lo, hi, half, out.data());
      for (int i = lo; i <= hi; ++i) {
        std::vector<float> window(x.begin() + (i - half), x.begin() + (i + half + 1));
        std::nth_element(window.begin(), window.begin() + half, window.end());
        ASSERT_EQ(out[static_cast<size_t>(i - lo)], x[static_cast<size_t>(i)] - window[static_cast<size_t>(half)])
            << "half " << half << " ties " << ties << " at " << i;
      }
    }
  }
}

}  // namespace
}  // namespace nordiq::forecast

