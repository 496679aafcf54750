// SPEC §1.3 step bucketing on the in-memory windows: averaging, worst status, closing, forward
// fill and restart, late records, capacity/compaction, readiness, restore.
#include <gtest/gtest.h>

#include <array>

#include "store/window_store.hpp"

namespace nordiq {
namespace {

constexpr int64_t kStep = 300'000;
const EpochMs kT0 = 1'736'935'200'000;  // 2025-01-15T10:00:00Z, a step boundary

std::array<double, kNumMetrics> values(double v) {
  std::array<double, kNumMetrics> out{};
  out.fill(v);
  return out;
}

struct Fixture : ::testing::Test {
  WindowStore store;
  ServerId id = store.intern("ppdb001", Profile::database);

  StepEffect add(EpochMs t, double v, Status s = Status::healthy) {
    const auto vals = values(v);
    return store.apply(id, t, s, vals.data());
  }
  WindowView view() {
    return store.read([&](const WindowStore& w) { return w.view(id); });
  }
  float at(int i, Metric m = Metric::cpu_user_pct) { return view().metric[static_cast<int>(m)][i]; }
  Status status_at(int i) { return static_cast<Status>(view().status[i]); }
};

using WindowStoreTest = Fixture;

TEST_F(WindowStoreTest, InterningGivesDenseIdsAndResolvesNamesBothWays) {
  bool created = false;
  EXPECT_EQ(store.intern("ppdb001", Profile::generic, &created), id);
  EXPECT_FALSE(created);
  const ServerId web = store.intern("web01", Profile::generic, &created);
  EXPECT_TRUE(created);
  EXPECT_EQ(web, id + 1);
  EXPECT_EQ(store.server_count(), 2u);
  store.read([&](const WindowStore& w) {
    EXPECT_EQ(w.find("web01"), web);
    EXPECT_EQ(w.find("nope"), std::nullopt);
    EXPECT_EQ(w.name(id), "ppdb001");
    EXPECT_EQ(w.profile(id), Profile::database);  // first resolution sticks
    return 0;
  });
}

TEST_F(WindowStoreTest, RecordsWithinAStepAreAveragedAndTheStepClosesOnALaterRecord) {
  EXPECT_EQ(add(kT0 + 5'000, 10), StepEffect::opened);
  EXPECT_EQ(add(kT0 + 100'000, 20), StepEffect::merged_open);
  EXPECT_EQ(add(kT0 + 299'999, 60), StepEffect::merged_open);
  EXPECT_EQ(view().length, 0);  // still open
  auto open = store.read([&](const WindowStore& w) { return w.open_step(id); });
  ASSERT_TRUE(open);
  EXPECT_EQ(open->count, 3u);
  EXPECT_DOUBLE_EQ(open->mean(0), 30.0);

  EXPECT_EQ(add(kT0 + kStep, 1), StepEffect::closed);
  const WindowView v = view();
  ASSERT_EQ(v.length, 1);
  EXPECT_EQ(v.first_step, kT0);
  EXPECT_EQ(v.last_step(), kT0);
  EXPECT_EQ(v.profile, Profile::database);
  for (int k = 0; k < kNumMetrics; ++k) EXPECT_FLOAT_EQ(v.metric[k][0], 30.0f) << k;
}

TEST_F(WindowStoreTest, TheWorstStatusOfAStepWins) {
  add(kT0, 1, Status::idle);
  add(kT0 + 1'000, 1, Status::heavy_load);
  add(kT0 + 2'000, 1, Status::healthy);
  add(kT0 + 3'000, 1, Status::morning_spike);
  add(kT0 + kStep, 1, Status::idle);
  add(kT0 + kStep + 1, 1, Status::offline);
  add(kT0 + kStep + 2, 1, Status::critical_issue);
  add(kT0 + 2 * kStep, 1, Status::idle);
  EXPECT_EQ(status_at(0), Status::heavy_load);
  EXPECT_EQ(status_at(1), Status::critical_issue);
}

TEST_F(WindowStoreTest, GapsUpToTwelveStepsAreForwardFilledFromThePreviousStep) {
  add(kT0, 5, Status::heavy_load);
  add(kT0 + kStep, 7);              // closes step 0
  add(kT0 + 14 * kStep, 9);         // closes step 1; 12 missing steps before step 14
  add(kT0 + 15 * kStep, 11);        // closes step 14
  const WindowView v = view();
  ASSERT_EQ(v.length, 15);
  EXPECT_EQ(v.first_step, kT0);
  EXPECT_FLOAT_EQ(at(0), 5);
  for (int i = 1; i <= 13; ++i) {
    EXPECT_FLOAT_EQ(at(i), 7) << i;
    EXPECT_EQ(status_at(i), Status::healthy) << i;
  }
  EXPECT_FLOAT_EQ(at(14), 9);
  EXPECT_EQ(v.last_step(), kT0 + 14 * kStep);
}

TEST_F(WindowStoreTest, AGapOfMoreThanTwelveStepsRestartsTheSeries) {
  for (int i = 0; i < 20; ++i) add(kT0 + i * kStep, i);
  EXPECT_EQ(view().length, 19);
  EXPECT_EQ(store.ready_count(), 1u);
  add(kT0 + (19 + 14) * kStep, 100);  // closes step 19 (length 20); 13 missing steps follow
  add(kT0 + (19 + 15) * kStep, 200);  // closing step 33 restarts the series
  const WindowView v = view();
  EXPECT_EQ(v.length, 1);
  EXPECT_EQ(v.first_step, kT0 + 33 * kStep);
  EXPECT_FLOAT_EQ(at(0), 100);
  EXPECT_EQ(store.ready_count(), 0u);
}

TEST_F(WindowStoreTest, ALateRecordForThePreviousStepReaveragesIt) {
  add(kT0, 10);
  add(kT0 + kStep, 50);  // step 0 closed with 10
  EXPECT_EQ(add(kT0 + 10, 40), StepEffect::merged_previous);
  ASSERT_EQ(view().length, 1);
  EXPECT_FLOAT_EQ(at(0), 25);
  EXPECT_EQ(add(kT0 + 20, 25, Status::critical_issue), StepEffect::merged_previous);
  EXPECT_FLOAT_EQ(at(0), 25);
  EXPECT_EQ(status_at(0), Status::critical_issue);
  EXPECT_EQ(add(kT0 + kStep + 1, 70), StepEffect::merged_open);
  add(kT0 + 2 * kStep, 0);
  EXPECT_FLOAT_EQ(at(1), 60);
}

TEST_F(WindowStoreTest, OlderRecordsDoNotRewriteTheWindow) {
  for (int i = 0; i < 5; ++i) add(kT0 + i * kStep, i);
  EXPECT_EQ(add(kT0 + 2 * kStep + 7, 1000), StepEffect::stored_only);
  EXPECT_EQ(add(kT0 - kStep, 1000), StepEffect::stored_only);
  const WindowView v = view();
  ASSERT_EQ(v.length, 4);
  for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(at(i), i);
}

TEST_F(WindowStoreTest, ALateRecordInTheGapBeforeTheOpenStepBecomesAClosedStep) {
  add(kT0, 1);
  add(kT0 + 3 * kStep, 4);  // step 0 closed, step 3 open, steps 1-2 missing
  EXPECT_EQ(add(kT0 + 2 * kStep, 3), StepEffect::appended_late);
  WindowView v = view();
  ASSERT_EQ(v.length, 3);  // 0, filled 1, late 2
  EXPECT_FLOAT_EQ(at(1), 1);
  EXPECT_FLOAT_EQ(at(2), 3);
  EXPECT_EQ(add(kT0 + 2 * kStep + 5, 5), StepEffect::merged_previous);
  EXPECT_FLOAT_EQ(at(2), 4);
  add(kT0 + 4 * kStep, 0);
  v = view();
  ASSERT_EQ(v.length, 4);
  EXPECT_FLOAT_EQ(at(3), 4);
}

TEST_F(WindowStoreTest, WindowsKeepTheLatestCapacityStepsContiguous) {
  const int n = 3 * kMaxEncoderSteps + 17;  // forces growth and several compactions
  for (int i = 0; i <= n; ++i) add(kT0 + i * kStep, i);
  const WindowView v = view();
  ASSERT_EQ(v.length, kMaxEncoderSteps);
  EXPECT_EQ(v.last_step(), kT0 + (n - 1) * kStep);
  EXPECT_EQ(v.first_step, kT0 + (n - kMaxEncoderSteps) * kStep);
  for (int i = 0; i < v.length; ++i)
    for (int k = 0; k < kNumMetrics; ++k)
      ASSERT_FLOAT_EQ(v.metric[k][i], static_cast<float>(n - kMaxEncoderSteps + i)) << i << " " << k;
}

TEST_F(WindowStoreTest, ServersBecomeReadyAtTwelveClosedSteps) {
  for (int i = 0; i < 12; ++i) add(kT0 + i * kStep, i);
  EXPECT_EQ(view().length, 11);
  EXPECT_EQ(store.ready_count(), 0u);
  add(kT0 + 12 * kStep, 0);
  EXPECT_EQ(store.ready_count(), 1u);
}

TEST_F(WindowStoreTest, ApplyBatchReportsEachNewServerOrServerWhoseStepClosedOnce) {
  const ServerId web = store.intern("web01", Profile::web_api);
  const ServerId quiet = store.intern("quiet01", Profile::generic);
  const auto v = values(1);
  std::vector<WindowStore::Sample> samples = {
      {id, kT0, Status::healthy, v.data()},          {web, kT0, Status::healthy, v.data()},
      {quiet, kT0, Status::healthy, v.data()},       {id, kT0 + kStep, Status::healthy, v.data()},
      {id, kT0 + 2 * kStep, Status::healthy, v.data()}, {web, kT0 + kStep, Status::healthy, v.data()},
      {quiet, kT0 + 1, Status::healthy, v.data()}};
  std::vector<ServerId> closed;
  store.apply_batch(samples, closed);
  EXPECT_EQ(closed, (std::vector<ServerId>{id, web, quiet}));  // quiet: its first record
  closed.clear();
  store.apply_batch(std::span(samples).subspan(0, 1), closed);
  EXPECT_TRUE(closed.empty());
}

TEST_F(WindowStoreTest, RestoringStepAggregatesRebuildsTheSameWindowAndOpenStep) {
  // Live: irregular data with a fill gap.
  std::vector<StepAggregate> steps;
  auto record = [&](EpochMs t, double v, Status s) {
    add(t, v, s);
    const EpochMs step = store.step_of(t);
    if (steps.empty() || steps.back().step_start != step) steps.push_back(StepAggregate{step});
    const auto vals = values(v);
    steps.back().add(vals.data(), s);
  };
  record(kT0, 1, Status::healthy);
  record(kT0 + 10, 3, Status::heavy_load);
  record(kT0 + kStep, 5, Status::healthy);
  record(kT0 + 4 * kStep, 7, Status::idle);
  record(kT0 + 5 * kStep, 9, Status::healthy);
  record(kT0 + 5 * kStep + 1, 10, Status::offline);

  WindowStore restored;
  const ServerId rid = restored.intern("ppdb001", Profile::database);
  for (size_t i = 0; i + 1 < steps.size(); ++i) restored.restore_closed(rid, steps[i]);
  restored.restore_open(rid, steps.back());
  const WindowView a = view();
  const WindowView b = restored.read([&](const WindowStore& w) { return w.view(rid); });
  ASSERT_EQ(a.length, b.length);
  EXPECT_EQ(a.first_step, b.first_step);
  for (int i = 0; i < a.length; ++i) {
    EXPECT_EQ(a.status[i], b.status[i]);
    for (int k = 0; k < kNumMetrics; ++k) EXPECT_FLOAT_EQ(a.metric[k][i], b.metric[k][i]);
  }
  auto open = restored.read([&](const WindowStore& w) { return w.open_step(rid); });
  ASSERT_TRUE(open);
  EXPECT_EQ(open->count, 2u);
  EXPECT_DOUBLE_EQ(open->mean(0), 9.5);
  EXPECT_EQ(open->worst, Status::offline);
  // A late record for the previous step still merges after a restore.
  const auto late = values(3);
  EXPECT_EQ(restored.apply(rid, kT0 + 4 * kStep + 9, Status::healthy, late.data()),
            StepEffect::merged_previous);
}

TEST(WindowStoreConfig, StepLengthIsConfigurable) {
  WindowConfig cfg;
  cfg.step_seconds = 60;
  WindowStore store(cfg);
  const ServerId id = store.intern("a1", Profile::generic);
  const auto v = values(2);
  store.apply(id, kT0, Status::healthy, v.data());
  store.apply(id, kT0 + 60'000, Status::healthy, v.data());
  const WindowView view = store.read([&](const WindowStore& w) { return w.view(id); });
  EXPECT_EQ(view.length, 1);
  EXPECT_EQ(view.step_ms, 60'000);
  EXPECT_EQ(store.step_of(kT0 + 59'999), kT0);
  EXPECT_EQ(store.step_of(-1), -60'000);
}

}  // namespace
}  // namespace nordiq
