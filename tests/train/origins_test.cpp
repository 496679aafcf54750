// Forecast origins: every step with ≥ 288 steps of history and 96 of future in its segment,
// inside the held-out span, subsampled by stride.
#include <gtest/gtest.h>

#include "synthetic.hpp"
#include "train/origins.hpp"

namespace nordiq::train {
namespace {

using test::kStepMs;
using test::kT0;

TEST(Origins, EveryStepWithFullHistoryAndFutureIsAnOrigin) {
  // 288 + 96 + 9 steps → origins at indices 288..297 (10).
  const History h = test::make_history(288 + 96 + 9, [](int, int) { return 1.f; });
  const auto o = enumerate_origins(h, {});
  ASSERT_EQ(o.size(), 10u);
  EXPECT_EQ(o.front().index, 288);
  EXPECT_EQ(o.back().index, 297);
  // Exactly 383 steps: no origin.
  EXPECT_TRUE(enumerate_origins(test::make_history(383, [](int, int) { return 1.f; }), {}).empty());
  EXPECT_EQ(enumerate_origins(test::make_history(384, [](int, int) { return 1.f; }), {}).size(), 1u);
}

TEST(Origins, StrideKeepsEveryNthStepAlignedOnTheHeldOutStart) {
  // Two days + 100 steps: origins 288..(676−96)=580 → 293 candidates; stride 12 → 25.
  const History h = test::make_history(2 * 288 + 100, [](int, int) { return 1.f; });
  OriginOptions opt;
  opt.stride = 12;
  const auto o = enumerate_origins(h, opt);
  ASSERT_EQ(o.size(), 25u);
  for (const Origin& x : o) EXPECT_EQ(x.index % 12, 0);
  EXPECT_EQ(o.front().index, 288);
  EXPECT_EQ(o.back().index, 576);
  opt.stride = 0;
  EXPECT_THROW(enumerate_origins(h, opt), std::invalid_argument);
}

TEST(Origins, HoldoutDaysKeepOnlyOriginsInTheLastDays) {
  // 10 days of history; hold out the last 2 days: the held-out span starts at step 8·288 and
  // origins there need 96 steps of future: 2·288 − 96 + 1 = 481 origins, the encoder may reach
  // back into the training span.
  const History h = test::make_history(10 * 288, [](int, int) { return 1.f; });
  OriginOptions opt;
  opt.holdout_days = 2;
  EXPECT_EQ(holdout_start(h, 2), kT0 + 8 * 288 * kStepMs);
  const auto o = enumerate_origins(h, opt);
  ASSERT_EQ(o.size(), 481u);
  EXPECT_EQ(o.front().index, 8 * 288);
  EXPECT_EQ(o.back().index, 10 * 288 - 96);
  opt.stride = 288;
  EXPECT_EQ(enumerate_origins(h, opt).size(), 2u);  // 8·288 and 9·288
  // More days than the history: everything is held out.
  EXPECT_EQ(holdout_start(h, 30), h.first_step);
}

TEST(Origins, WindowsNeverCrossASeriesRestart) {
  HistoryBuilder b;
  const ServerId id = b.intern("ppdb001", Profile::database);
  float v[kNumMetrics] = {};
  for (int i = 0; i < 400; ++i) b.add(id, kT0 + i * kStepMs, v, Status::healthy);
  // 20 missing steps (> 12): restart; second segment of 390 steps.
  for (int i = 420; i < 810; ++i) b.add(id, kT0 + i * kStepMs, v, Status::healthy);
  const History h = b.finish();
  ASSERT_EQ(h.servers[0].segments.size(), 2u);
  const auto o = enumerate_origins(h, {});
  // Segment 0: 400 − 384 + 1 = 17; segment 1: 390 − 384 + 1 = 7.
  ASSERT_EQ(o.size(), 24u);
  EXPECT_EQ(o[16].segment, 0u);
  EXPECT_EQ(o[16].index, 400 - 96);
  EXPECT_EQ(o[17].segment, 1u);
  EXPECT_EQ(o[17].index, 288);
}

}  // namespace
}  // namespace nordiq::train
