// The order statistics the classical forecasters share (forecast/order_stats.hpp).
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace nordiq::forecast

