// The serving safety net: which forecast is served, how its band is calibrated, and that the
// tracker only learns from actuals that have arrived.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "core/worker_pool.hpp"
#include "forecast/baseline.hpp"
#include "forecast/served_forecaster.hpp"
#include "forecast/skill_tracker.hpp"
#include "window_fixture.hpp"

namespace nordiq::forecast {
namespace {

constexpr int64_t kStep = 300'000;
constexpr int kH = kHorizonSteps;
constexpr EpochMs kT0 = 1736935200000;  // 2025-01-15T10:00:00Z
constexpr size_t kRow = static_cast<size_t>(kNumMetrics) * kNumQuantiles * kH;

// A flat forecast: p50 everywhere, the other quantiles p50 + z_q · spread.
std::vector<float> flat(float p50, float spread) {
  std::vector<float> v(kRow);
  for (int k = 0; k < kNumMetrics; ++k)
    for (int q = 0; q < kNumQuantiles; ++q)
      for (int t = 0; t < kH; ++t)
        v[(static_cast<size_t>(k) * kNumQuantiles + q) * kH + t] = p50 + static_cast<float>(kNormalZ[q]) * spread;
  return v;
}

struct Replay {
  SkillTracker tracker{kStep, kH};
  std::vector<float> out = std::vector<float>(kRow);
  std::vector<uint8_t> served_by = std::vector<uint8_t>(kNumMetrics * kNumEvalHorizons);
  EpochMs last = kT0;

  // One step: the actual arrives (every metric = y), then the next forecast is served. The
  // hourly variant forecasts what robust_profile does unless a test gives it its own.
  void step(float y, const std::vector<float>& model, const std::vector<float>& robust,
            const std::vector<float>& last_value, const std::vector<float>* hourly = nullptr) {
    last += kStep;
    std::vector<float> row(kNumMetrics, y);
    tracker.observe(0, last, 1, row.data());
    tracker.serve(0, last, {model.data(), robust.data(), last_value.data(), (hourly ? *hourly : robust).data()},
                  out.data(), served_by.data());
  }
  Candidate served(int metric, int band) const {
    return static_cast<Candidate>(served_by[metric * kNumEvalHorizons + band]);
  }
  const BandSkill& skill(int metric, int band) const { return (*tracker.find(0))[metric][band]; }
};

TEST(SkillTracker, ServesTheCandidateThatHasBeenRightOnceThereIsEnoughEvidence) {
  Replay run;
  const auto model = flat(60, 1), robust = flat(50.5f, 1), last_value = flat(55, 1);
  for (int i = 0; i < 5; ++i) run.step(50, model, robust, last_value);
  for (int b = 0; b < kNumEvalHorizons; ++b) EXPECT_EQ(run.served(0, b), Candidate::model) << "band " << b;
  for (int i = 0; i < 400; ++i) run.step(50, model, robust, last_value);
  for (int b = 0; b < kNumEvalHorizons; ++b) {
    EXPECT_EQ(run.served(0, b), Candidate::robust_profile) << "band " << b;
    EXPECT_EQ(run.skill(0, b).switches, 1u) << "band " << b;
  }
  // What is served is the robust forecast's p50.
  EXPECT_FLOAT_EQ(run.out[(0 * kNumQuantiles + kP50) * kH + 50], 50.5f);
}

TEST(SkillTracker, ServesTheHourlyVariantWhereItIsTheOneThatHasBeenRight) {
  Replay run;
  const auto model = flat(60, 1), robust = flat(45, 1), last_value = flat(55, 1), hourly = flat(50.2f, 1);
  for (int i = 0; i < 400; ++i) run.step(50, model, robust, last_value, &hourly);
  for (int b = 0; b < kNumEvalHorizons; ++b) EXPECT_EQ(run.served(0, b), Candidate::robust_hourly) << "band " << b;
  EXPECT_FLOAT_EQ(run.out[(0 * kNumQuantiles + kP50) * kH + 50], 50.2f);
}

TEST(SkillTracker, AfterAModelReloadTheNewModelIsServedAndJudgedOnItsOwnForecasts) {
  Replay run;
  const auto old_model = flat(60, 1), robust = flat(50.5f, 1), last_value = flat(55, 1);
  for (int i = 0; i < 400; ++i) run.step(50, old_model, robust, last_value);
  ASSERT_EQ(run.served(0, 0), Candidate::robust_profile);
  run.tracker.restart_scoring();
  const auto new_model = flat(50, 1);  // right on target
  run.step(50, new_model, robust, last_value);
  for (int b = 0; b < kNumEvalHorizons; ++b) EXPECT_EQ(run.served(0, b), Candidate::model) << "band " << b;
  for (int i = 0; i < 400; ++i) run.step(50, new_model, robust, last_value);
  for (int b = 0; b < kNumEvalHorizons; ++b) {
    EXPECT_EQ(run.served(0, b), Candidate::model) << "band " << b;
    EXPECT_LT(run.skill(0, b).abs_err[0], 0.01f) << "the old model's errors must not follow the new one, band " << b;
  }
}

TEST(SkillTracker, DoesNotFlapBetweenCandidatesThatAreAboutAsGood) {
  Replay run;
  std::mt19937 rng(7);
  std::normal_distribution<float> noise(0.f, 2.f);
  const auto model = flat(50.1f, 2), robust = flat(49.9f, 2), last_value = flat(70, 2);
  for (int i = 0; i < 3000; ++i) run.step(50 + noise(rng), model, robust, last_value);
  for (int b = 0; b < kNumEvalHorizons; ++b) {
    EXPECT_LE(run.skill(0, b).switches, 1u) << "band " << b;
    EXPECT_NE(run.served(0, b), Candidate::last_value) << "band " << b;
  }
}

TEST(SkillTracker, RecalibratesABandThatIsTooWideOrTooNarrowTowardEightyPercentCoverage) {
  for (const float spread : {4.f, 0.25f}) {  // true σ = 1: the p10–p90 band should be ±1.28
    Replay run;
    std::mt19937 rng(11);
    std::normal_distribution<float> noise(0.f, 1.f);
    const auto model = flat(50, spread), other = flat(80, 1);
    for (int i = 0; i < 4000; ++i) run.step(50 + noise(rng), model, other, other);
    for (int b = 0; b < kNumEvalHorizons; ++b) {
      const BandSkill& s = run.skill(0, b);
      EXPECT_EQ(s.served, Candidate::model);
      EXPECT_NEAR(s.served_coverage, 0.8, 0.1) << "spread " << spread << " band " << b;
      EXPECT_NEAR(s.width[0] * spread, 1.0, 0.35) << "spread " << spread << " band " << b;
    }
    // The served band is the model's, scaled: p90 − p50 ≈ 1.28 σ.
    const float p50 = run.out[(0 * kNumQuantiles + kP50) * kH + 10];
    const float p90 = run.out[(0 * kNumQuantiles + kP90) * kH + 10];
    EXPECT_NEAR(p90 - p50, 1.28f, 0.5f) << "spread " << spread;
  }
}

TEST(SkillTracker, ScoresAForecastOnlyOnceItsTargetHasArrived) {
  SkillTracker tracker(kStep, kH);
  const auto c = flat(50, 1);
  std::vector<float> out(kRow);
  tracker.serve(0, kT0, {c.data(), c.data(), c.data(), c.data()}, out.data());
  std::vector<float> rows(kNumMetrics * 6, 50.f);
  tracker.observe(0, kT0 + kStep, 1, rows.data());  // +5 min has arrived, +10..+30 min not
  EXPECT_EQ((*tracker.find(0))[0][0].samples, 1u);
  EXPECT_EQ((*tracker.find(0))[0][1].samples, 0u);
  tracker.observe(0, kT0 + 2 * kStep, 5, rows.data());  // through +30 min
  EXPECT_EQ((*tracker.find(0))[0][1].samples, 1u);
  EXPECT_EQ((*tracker.find(0))[0][4].samples, 0u);
  EXPECT_EQ(tracker.observed_through(0), kT0 + 6 * kStep);
}

// The eval replay hands a server's consecutive origins in one batch; serving hands one origin per
// cycle. Both must serve the same forecasts: the batch is processed causally, in order.
TEST(ServedForecaster, ABatchOfConsecutiveOriginsServesWhatOneAtATimeServes) {
  const auto series = testing::OwnedWindow::make(420, [](int k, int i) {
    return testing::plausible(k, i) + (i > 300 ? 15.f : 0.f);  // a level shift late on
  });
  ServedForecaster one(std::make_unique<BaselineForecaster>(), kStep), batched(std::make_unique<BaselineForecaster>(), kStep);
  ForecastBatch a, b;
  std::vector<float> one_at_a_time;
  for (int len = 1; len <= 420; ++len) {
    const WindowView v = series.view(len, 3);
    one.forecast(std::span(&v, 1), a);
    one_at_a_time.insert(one_at_a_time.end(), a.values.begin(), a.values.end());
  }
  std::vector<float> in_batches;
  for (int lo = 1; lo <= 420; lo += 64) {
    std::vector<WindowView> views;
    for (int len = lo; len < lo + 64 && len <= 420; ++len) views.push_back(series.view(len, 3));
    batched.forecast(views, b);
    in_batches.insert(in_batches.end(), b.values.begin(), b.values.end());
  }
  ASSERT_EQ(one_at_a_time.size(), in_batches.size());
  EXPECT_EQ(one_at_a_time, in_batches);
  // And it learned something: some (metric, band) no longer serves the cold-start choice.
  int moved = 0;
  for (uint8_t c : b.served_by) moved += c != static_cast<uint8_t>(Candidate::model);
  EXPECT_GT(moved, 0);
}

// The baseline, lending three threads for per-row work as the TFT lends its engine's.
class ThreadedBaseline final : public Forecaster {
 public:
  std::string_view description() const override { return "baseline on threads"; }
  void prepare(std::span<const WindowView> windows, ForecastBatch& out) override { inner_.prepare(windows, out); }
  void run(ForecastBatch& out) override { inner_.run(out); }
  ForEachRow for_each_row() override {
    return [this](int n, const std::function<void(int)>& fn) { pool_.run(n, [&](int task, int) { fn(task); }); };
  }

 private:
  BaselineForecaster inner_;
  WorkerPool pool_{3};
};

TEST(ServedForecaster, ServersServedOnSeveralThreadsGetWhatOneThreadGives) {
  constexpr int kServers = 7, kSteps = 300;  // several hours: shapes refitted, forecasts scored, candidates switched
  std::vector<testing::OwnedWindow> series;
  for (int s = 0; s < kServers; ++s)
    series.push_back(testing::OwnedWindow::make(kSteps, [s](int k, int i) {
      return testing::plausible(k, i + 37 * s) + (i > 150 + 10 * s ? 5.f * s : 0.f);
    }));
  ServedForecaster one(std::make_unique<BaselineForecaster>(), kStep), threaded(std::make_unique<ThreadedBaseline>(), kStep);
  ForecastBatch a, b;
  int moved = 0;
  for (int len = 0; len <= kSteps; ++len) {  // from an empty window on
    std::vector<WindowView> views;
    for (int s = 0; s < kServers; ++s) views.push_back(series[s].view(len, static_cast<ServerId>(2 * s + 1)));
    one.forecast(views, a);
    threaded.forecast(views, b);
    ASSERT_EQ(a.values, b.values) << "cycle " << len;
    ASSERT_EQ(a.served_by, b.served_by) << "cycle " << len;
  }
  for (uint8_t c : b.served_by) moved += c != static_cast<uint8_t>(Candidate::model);
  EXPECT_GT(moved, 0);
}

// Servers that came up together (a restart) come due for their hourly refit together. A serving
// cycle refits such a wave a share at a time, oldest first, so no cycle refits the whole fleet,
// while no shape grows older than two hours and a young server is refitted whenever it is due.
TEST(ServedForecaster, ShapesThatCameDueTogetherAreRefittedSpreadOverTheHour) {
  constexpr int kMature = 48, kYoung = 2, kFirst = 120, kCycles = 4 * 12;  // four hours of 5-min steps
  constexpr int kShare = (5 * (kMature + kYoung) + 47) / 48;  // 5/4 of an hour's share of the batch
  std::vector<testing::OwnedWindow> series;
  for (int s = 0; s < kMature + kYoung; ++s)
    series.push_back(
        testing::OwnedWindow::make(kFirst + kCycles, [s](int k, int i) { return testing::plausible(k, i + 11 * s); }));
  ServedForecaster served(std::make_unique<ThreadedBaseline>(), kStep);
  ForecastBatch out;
  std::vector<int> refits_in_last_hour(kMature, 0);
  for (int c = 0; c <= kCycles; ++c) {
    std::vector<WindowView> views;
    for (int s = 0; s < kMature + kYoung; ++s) {
      const int len = s < kMature ? kFirst + c : 1 + c;  // the young ones start from their first step
      views.push_back(series[s].view(len, static_cast<ServerId>(s)));
    }
    served.forecast(views, out);
    int mature_refits = 0;
    for (int s = 0; s < kMature + kYoung; ++s) {
      const RobustFit* fit = served.shape_of(static_cast<ServerId>(s));
      ASSERT_NE(fit, nullptr) << "server " << s << ", cycle " << c;
      const RobustFit& shape = *fit;
      const int64_t age = (views[s].last_step() - shape.fitted_step) / kStep;
      if (c == 0) {  // every shape fitted in the first cycle
        EXPECT_EQ(age, 0) << "server " << s;
        continue;
      }
      if (s >= kMature) {  // never left waiting
        EXPECT_LT(age, robust_refit_interval(shape.fitted_length, kStep)) << "young server " << s << ", cycle " << c;
        continue;
      }
      EXPECT_LT(age, 24) << "server " << s << ", cycle " << c;
      mature_refits += age == 0;
      if (age == 0 && c > kCycles - 12) ++refits_in_last_hour[s];
    }
    EXPECT_LE(mature_refits, kShare) << "cycle " << c;
  }
  for (int s = 0; s < kMature; ++s) EXPECT_EQ(refits_in_last_hour[s], 1) << "server " << s;
}

}  // namespace
}  // namespace nordiq::forecast
