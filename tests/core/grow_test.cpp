// The cycle's big buffers grow with headroom (core/grow.hpp): a batch one server larger than the
// last must not reallocate (and so re-fault) the whole buffer.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "core/grow.hpp"

namespace nordiq {
namespace {

TEST(AssignWithHeadroom, ABatchOneServerLargerKeepsTheBufferAndItsValues) {
  std::vector<float> v;
  assign_with_headroom(v, 10'000, 1.f);
  const float* first = v.data();
  assign_with_headroom(v, 10'037, 0.f);  // one server more of a few dozen values
  EXPECT_EQ(v.data(), first);
  ASSERT_EQ(v.size(), 10'037u);
  EXPECT_TRUE(std::all_of(v.begin(), v.end(), [](float x) { return x == 0.f; }));
  assign_with_headroom(v, 9'000, 2.f);  // fewer servers: same buffer
  EXPECT_EQ(v.data(), first);
  EXPECT_EQ(v.size(), 9'000u);
  EXPECT_TRUE(std::all_of(v.begin(), v.end(), [](float x) { return x == 2.f; }));
}

TEST(AssignWithHeadroom, GrowingPastTheHeadroomGrowsGeometrically) {
  std::vector<int> v;
  assign_with_headroom(v, 1'000, 0);
  const size_t reserved = v.capacity();
  EXPECT_GE(reserved, 1'100u);
  assign_with_headroom(v, reserved + 1, 7);
  EXPECT_GE(v.capacity(), reserved + reserved / 2);
  EXPECT_EQ(v.size(), reserved + 1);
  EXPECT_TRUE(std::all_of(v.begin(), v.end(), [](int x) { return x == 7; }));
}

}  // namespace
}  // namespace nordiq
