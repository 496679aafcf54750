#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numbers>

#include "core/time.hpp"
#include "forecast/features.hpp"
#include "forecast/robust_profile.hpp"
#include "window_fixture.hpp"

using namespace nordiq;
using namespace nordiq::forecast;
using nordiq::testing::OwnedWindow;

namespace {
EpochMs at(const char* iso) { return *parse_iso8601(iso); }
}  // namespace

TEST(TimeFeatures, WednesdayMorningIsBusinessHours) {
  float f[kNumTimeFeatures];
  time_features(at("2025-01-15T10:30:00Z"), f);
  const double hour = 10.5, dow = 2;  // Wednesday, Monday = 0
  EXPECT_NEAR(f[0], std::sin(2 * std::numbers::pi * hour / 24), 1e-6);
  EXPECT_NEAR(f[1], std::cos(2 * std::numbers::pi * hour / 24), 1e-6);
  EXPECT_NEAR(f[2], std::sin(2 * std::numbers::pi * dow / 7), 1e-6);
  EXPECT_NEAR(f[3], std::cos(2 * std::numbers::pi * dow / 7), 1e-6);
  EXPECT_EQ(f[4], 0.f);
  EXPECT_EQ(f[5], 1.f);
}

TEST(TimeFeatures, BusinessHoursAreMondayToFridayNineToFiveUtc) {
  float f[kNumTimeFeatures];
  time_features(at("2025-01-13T08:59:00Z"), f);  // Monday
  EXPECT_EQ(f[5], 0.f);
  time_features(at("2025-01-13T09:00:00Z"), f);
  EXPECT_EQ(f[5], 1.f);
  time_features(at("2025-01-17T16:55:00Z"), f);  // Friday
  EXPECT_EQ(f[5], 1.f);
  time_features(at("2025-01-17T17:00:00Z"), f);
  EXPECT_EQ(f[5], 0.f);
  time_features(at("2025-01-18T10:00:00Z"), f);  // Saturday
  EXPECT_EQ(f[4], 1.f);
  EXPECT_EQ(f[5], 0.f);
  time_features(at("2025-01-19T23:59:00Z"), f);  // Sunday
  EXPECT_EQ(f[4], 1.f);
  time_features(at("2025-01-13T00:00:00Z"), f);  // Monday midnight
  EXPECT_EQ(f[4], 0.f);
  EXPECT_NEAR(f[0], 0.f, 1e-7);
  EXPECT_NEAR(f[1], 1.f, 1e-7);
  EXPECT_NEAR(f[2], 0.f, 1e-7);  // dow 0
  time_features(at("1969-12-31T23:00:00Z"), f);  // before the epoch: a Wednesday
  EXPECT_NEAR(f[2], std::sin(2 * std::numbers::pi * 2 / 7), 1e-6);
}

class AssembleFeatures : public ::testing::Test {
 protected:
  OwnedWindow long_window = OwnedWindow::make(300, nordiq::testing::plausible);
  OwnedWindow short_window = OwnedWindow::make(20, [](int k, int i) { return nordiq::testing::plausible(k, i + 5); });
  FeatureBatch batch;

  void SetUp() override {
    long_window.profile = Profile::database;
    short_window.profile = Profile::web_api;
    short_window.status[19] = static_cast<uint8_t>(Status::critical_issue);
    const WindowView views[2] = {long_window.view(300, 0), short_window.view(20, 1)};
    assemble_features(views, FeatureConfig{kMaxEncoderSteps, kHorizonSteps, InputSet::anchored}, batch);
  }
};

TEST_F(AssembleFeatures, PadsToTheLongestEncoderCappedAtTheModelsMaximum) {
  EXPECT_EQ(batch.batch, 2);
  EXPECT_EQ(batch.encoder, 288);
  EXPECT_EQ(batch.decoder, 96);
  EXPECT_EQ(batch.encoder_lengths[0], 288);
  EXPECT_EQ(batch.encoder_lengths[1], 20);
  EXPECT_EQ(batch.decoder_lengths[0], 96);
  EXPECT_EQ(batch.x_cont.size(), 2u * 384 * kNumCont);
}

TEST_F(AssembleFeatures, StaticRealsAreRepeatedOnEveryValidStep) {
  for (int t : {0, 19, 288, 383}) {
    const float* row = batch.cont_row(1, t);
    EXPECT_FLOAT_EQ(row[kColEncoderLength], 2.f * 20 / 288 - 1) << t;
    for (int k = 0; k < kNumMetrics; ++k) {
      EXPECT_FLOAT_EQ(row[col_center(k)], batch.norms[1].center_feature(k));
      EXPECT_FLOAT_EQ(row[col_scale(k)], batch.norms[1].scale_feature(k));
    }
    EXPECT_EQ(batch.x_cat[(384 + t) * 2 + 0], static_cast<int>(Profile::web_api) + 1);
  }
  EXPECT_FLOAT_EQ(batch.cont_row(0, 5)[kColEncoderLength], 1.f);
}

TEST_F(AssembleFeatures, EncoderUsesTheLastStepsNormalisedWithTheirOwnStatistics) {
  // Row 0: encoder = steps 12..299 of the long window.
  const Normalization expected = compute_normalization(long_window.view(), 12, 288);
  for (int k = 0; k < kNumMetrics; ++k) {
    EXPECT_FLOAT_EQ(batch.norms[0].center[k], expected.center[k]);
    EXPECT_FLOAT_EQ(batch.target_scale[k * 2 + 0], expected.center[k]);
    EXPECT_FLOAT_EQ(batch.target_scale[k * 2 + 1], expected.scale[k]);
    for (int i : {0, 100, 287}) {
      const float raw = long_window.columns[k][12 + i];
      EXPECT_FLOAT_EQ(batch.cont_row(0, i)[col_target(k)],
                      (transform(k, raw) - expected.center[k]) / expected.scale[k]);
    }
  }
}

TEST_F(AssembleFeatures, RelativeTimeIndexRunsFromMinusOneToTheHorizon) {
  EXPECT_FLOAT_EQ(batch.cont_row(1, 0)[kColRelativeTime], -20.f / 288);
  EXPECT_FLOAT_EQ(batch.cont_row(1, 19)[kColRelativeTime], -1.f / 288);
  EXPECT_FLOAT_EQ(batch.cont_row(1, 288)[kColRelativeTime], 0.f);
  EXPECT_FLOAT_EQ(batch.cont_row(1, 383)[kColRelativeTime], 95.f / 288);
  EXPECT_FLOAT_EQ(batch.cont_row(0, 0)[kColRelativeTime], -1.f);
}

TEST_F(AssembleFeatures, StatusCodesAreEnumPlusOneAndUnknownOnTheDecoder) {
  EXPECT_EQ(batch.x_cat[(384 + 19) * 2 + 1], static_cast<int>(Status::critical_issue) + 1);
  EXPECT_EQ(batch.x_cat[(384 + 0) * 2 + 1], static_cast<int>(Status::healthy) + 1);
  EXPECT_EQ(batch.x_cat[(384 + 288) * 2 + 1], 0);
}

TEST_F(AssembleFeatures, DecoderStepsContinueTheSeriesInTimeAndCarryNoTargets) {
  float expected[kNumTimeFeatures];
  const WindowView v = short_window.view();
  for (int j : {0, 1, 95}) {
    time_features(forecast_step_time(v, j), expected);
    const float* row = batch.cont_row(1, 288 + j);
    for (int f = 0; f < kNumTimeFeatures; ++f) EXPECT_FLOAT_EQ(row[kColHourSin + f], expected[f]);
    for (int k = 0; k < kNumMetrics; ++k) EXPECT_EQ(row[col_target(k)], 0.f);
  }
  EXPECT_EQ(forecast_step_time(v, 0), v.last_step() + 300000);
}

TEST_F(AssembleFeatures, PaddingCellsAreZero) {
  for (int t = 20; t < 288; ++t) {
    const float* row = batch.cont_row(1, t);
    for (int c = 0; c < kNumCont; ++c) ASSERT_EQ(row[c], 0.f) << "t=" << t << " c=" << c;
    ASSERT_EQ(batch.x_cat[(384 + t) * 2 + 0], 0);
  }
}

TEST(AssembleTraining, SameEncoderStepsGiveBitIdenticalFeaturesToServing) {
  const OwnedWindow history = OwnedWindow::make(400, nordiq::testing::plausible);
  for (const InputSet inputs : {InputSet::decoder, InputSet::anchored, InputSet::hourly}) {
    SCOPED_TRACE(static_cast<int>(inputs));
    const FeatureConfig config{kMaxEncoderSteps, kHorizonSteps, inputs};
    // Serving at the moment step 299 closed: the store's window holds steps 0..299.
    FeatureBatch served;
    const WindowView serving_view = history.view(300);
    assemble_features(std::span(&serving_view, 1), config, served);
    // Training on the same history: encoder 12..299, decoder 300..395 (the view reaches past the
    // encoder: an anchor fitted on more than the encoder steps would differ here).
    FeatureBatch trained;
    std::vector<float> targets;
    const TrainingSlice slice{history.view(), 12, 288, 96};
    assemble_training_batch(std::span(&slice, 1), config, trained, targets);

    ASSERT_EQ(served.x_cont.size(), trained.x_cont.size());
    EXPECT_EQ(std::memcmp(served.x_cont.data(), trained.x_cont.data(), served.x_cont.size() * sizeof(float)), 0);
    EXPECT_EQ(served.x_cat, trained.x_cat);
    EXPECT_EQ(served.target_scale, trained.target_scale);
    EXPECT_EQ(served.anchor_offset, trained.anchor_offset);
    ASSERT_EQ(targets.size(), 96u * kNumMetrics);
    for (int j : {0, 50, 95})
      for (int k = 0; k < kNumMetrics; ++k)
        EXPECT_FLOAT_EQ(targets[j * kNumMetrics + k], trained.normalize_target(0, j, k, history.columns[k][300 + j]));
  }
}

TEST(AssembleTraining, SlicesThatDoNotFitAreRefusedWithTheirIndex) {
  const OwnedWindow history = OwnedWindow::make(100, nordiq::testing::plausible);
  FeatureBatch out;
  std::vector<float> targets;
  const TrainingSlice good{history.view(), 0, 50, 10};
  const TrainingSlice bad[2] = {good, {history.view(), 60, 30, 20}};
  try {
    assemble_training_batch(bad, FeatureConfig{}, out, targets);
    FAIL() << "expected an exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("training slice 1"), std::string::npos) << e.what();
  }
  const TrainingSlice too_long{history.view(), 0, 300, 10};
  EXPECT_THROW(assemble_training_batch(std::span(&too_long, 1), FeatureConfig{}, out, targets),
               std::invalid_argument);
}

TEST(Denormalize, OutputsAreDenormalisedClampedAndSortedAcrossQuantiles) {
  const OwnedWindow w = OwnedWindow::make(30, nordiq::testing::plausible);
  FeatureBatch features;
  const WindowView v = w.view();
  assemble_features(std::span(&v, 1), FeatureConfig{}, features);
  std::vector<float> z(static_cast<size_t>(96) * kNumMetrics * kNumQuantiles);
  for (int t = 0; t < 96; ++t)
    for (int k = 0; k < kNumMetrics; ++k)
      for (int q = 0; q < kNumQuantiles; ++q)
        z[(t * kNumMetrics + k) * kNumQuantiles + q] = 0.5f * (3 - q) + (k == 5 && t == 7 ? 1e4f : 0.f);
  ForecastBatch out;
  out.resize(1);
  const int rows[1] = {0}, dest[1] = {0};
  denormalize_outputs(z.data(), features, rows, dest, out);
  const Normalization& n = features.norms[0];
  for (int k = 0; k < kNumMetrics; ++k) {
    for (int t = 0; t < 96; ++t)
      for (int q = 1; q < kNumQuantiles; ++q) ASSERT_LE(out.at(0, t, k, q - 1), out.at(0, t, k, q));
    // The crossing input (descending in q) comes out ascending: p02 is z = −1.5.
    if (k != 5) {
      EXPECT_NEAR(out.at(0, 3, k, 0), features.denormalize_output(0, 3, k, -1.5f), 1e-4f * std::max(1.f, out.at(0, 3, k, 0)));
      const float anchor = n.center[k] + features.offset(0, 3, k);  // z = 0 is the anchor
      EXPECT_NEAR(out.at(0, 3, k, kP50), inverse_transform(k, anchor), 1e-4f * std::max(1.f, anchor));
    }
  }
  EXPECT_EQ(out.at(0, 7, 5, kP90), 100.f);
}

TEST_F(AssembleFeatures, LagDayColumnsHoldYesterdaysValueOnDecoderStepsOnly) {
  // The long window's encoder is its steps 12..299; decoder step j is step 300 + j, and one day
  // (288 steps) before it is step 12 + j: inside the encoder, so the column holds its value.
  for (int j : {0, 1, 95})
    for (int k : {0, 5, 8, 13}) {
      const float raw = long_window.columns[k][12 + j];
      EXPECT_FLOAT_EQ(batch.cont_row(0, 288 + j)[col_lag_day(k)], batch.norms[0].normalize(k, raw))
          << kMetrics[k].name << " decoder step " << j;
    }
  for (int i : {0, 150, 287})
    for (int k = 0; k < kNumMetrics; ++k) EXPECT_EQ(batch.cont_row(0, i)[col_lag_day(k)], 0.f);
  // The short window (20 steps) does not reach back a day: nothing to hand over.
  for (int j = 0; j < 96; ++j)
    for (int k = 0; k < kNumMetrics; ++k) ASSERT_EQ(batch.cont_row(1, 288 + j)[col_lag_day(k)], 0.f);
}

TEST_F(AssembleFeatures, TrendColumnsContinueThePresentSlopeOnDecoderStepsOnly) {
  for (int k : {0, 5, 8}) {
    const Normalization& n = batch.norms[0];
    for (int j : {0, 5, 95}) {
      const float expected = std::clamp(n.slope[k] * (j + 1) / n.scale[k], -kTrendClamp, kTrendClamp);
      EXPECT_FLOAT_EQ(batch.cont_row(0, 288 + j)[col_trend(k)], expected) << kMetrics[k].name;
    }
    EXPECT_EQ(batch.cont_row(0, 100)[col_trend(k)], 0.f);
  }
}

TEST(AssembleFeaturesTrend, ARampsTrendInputIsItsLinearContinuation) {
  // Memory climbing one point a step with a spread (scale) of s: decoder step j gets (j+1)/s.
  const OwnedWindow w = OwnedWindow::make(24, [](int, int i) { return 20.f + static_cast<float>(i); });
  FeatureBatch fb;
  const WindowView v = w.view();
  assemble_features(std::span(&v, 1), FeatureConfig{}, fb);
  const float scale = fb.norms[0].scale[5];
  EXPECT_NEAR(fb.cont_row(0, fb.encoder + 0)[col_trend(5)], 1.f / scale, 1e-5);
  EXPECT_NEAR(fb.cont_row(0, fb.encoder + 5)[col_trend(5)], 6.f / scale, 1e-5);
  EXPECT_EQ(fb.cont_row(0, fb.encoder + 95)[col_trend(5)], kTrendClamp);  // 96/6.9 > 8: clamped
}

TEST(InputContract, ColumnIndexesNameTheContractsRealsInOrder) {
  const InputContract& c = input_contract(InputSet::anchored);
  ASSERT_EQ(c.x_reals.size(), static_cast<size_t>(kNumCont));
  EXPECT_EQ(c.x_reals[kColEncoderLength], "encoder_length");
  EXPECT_EQ(c.x_reals[kColHourSin], "hour_sin");
  EXPECT_EQ(c.x_reals[kColRelativeTime], "relative_time_idx");
  for (int k = 0; k < kNumMetrics; ++k) {
    const std::string name(kMetrics[k].name);
    EXPECT_EQ(c.x_reals[col_center(k)], name + "_center");
    EXPECT_EQ(c.x_reals[col_scale(k)], name + "_scale");
    EXPECT_EQ(c.x_reals[col_target(k)], name);
    EXPECT_EQ(c.x_reals[col_lag_day(k)], name + "_lag_day");
  }
  for (int k = 0; k < kNumMetrics; ++k) {
    EXPECT_EQ(c.x_reals[col_trend(k)], std::string(kMetrics[k].name) + "_trend");
    EXPECT_EQ(c.x_reals[col_anchor(k)], std::string(kMetrics[k].name) + "_anchor");
  }
  // The lag-day, trend and anchor inputs reach the decoder only; each smaller contract is a
  // prefix of the larger one, and the one without any is the reference one.
  EXPECT_EQ(c.decoder_variables.size(), static_cast<size_t>(kNumKnownReals + 3 * kNumMetrics));
  EXPECT_EQ(c.encoder_variables.size(), static_cast<size_t>(1 + kNumKnownReals + kNumMetrics));
  const InputContract& decoder = input_contract(InputSet::decoder);
  ASSERT_EQ(decoder.x_reals.size(), static_cast<size_t>(kNumContDecoder));
  EXPECT_TRUE(std::equal(decoder.x_reals.begin(), decoder.x_reals.end(), c.x_reals.begin()));
  EXPECT_EQ(decoder.decoder_variables.size(), static_cast<size_t>(kNumKnownReals + 2 * kNumMetrics));
  const InputContract& base = input_contract(InputSet::base);
  ASSERT_EQ(base.x_reals.size(), static_cast<size_t>(kNumContBase));
  EXPECT_TRUE(std::equal(base.x_reals.begin(), base.x_reals.end(), c.x_reals.begin()));
  EXPECT_EQ(base.decoder_variables.size(), static_cast<size_t>(kNumKnownReals));
  for (const InputSet s : {InputSet::base, InputSet::decoder, InputSet::anchored, InputSet::hourly})
    EXPECT_EQ(input_set_of(input_contract(s).x_reals.size()), s);
}

// Normalizer version 3 (issue #10): an anchored model's z = 0 is the robust classical forecast of
// its encoder window, step by step; a version-2 model's z = 0 is the present level.
TEST(AnchoredFeatures, ZeroOutputIsTheRobustForecastOfTheEncoderWindow) {
  // A day and a half with an hour-of-day shape and an hourly job, so the anchor is not flat.
  const OwnedWindow w = OwnedWindow::make(432, [](int k, int i) {
    const float hour = static_cast<float>(i % 288) / 12.f;
    return 30.f + 2.f * static_cast<float>(k % 3) + 15.f * std::sin(hour / 24.f * 6.2832f) + (i % 12 == 3 ? 20.f : 0.f) +
           static_cast<float>((i * 7919 + k * 31) % 13) * 0.1f;
  });
  const WindowView v = w.view();
  FeatureBatch anchored, present;
  assemble_features(std::span(&v, 1), FeatureConfig{288, 96, InputSet::anchored}, anchored);
  assemble_features(std::span(&v, 1), FeatureConfig{288, 96, InputSet::decoder}, present);
  ASSERT_EQ(anchored.n_cont, kNumCont);
  ASSERT_EQ(present.n_cont, kNumContDecoder);

  // The robust forecaster on the same encoder steps (the last 288 of the window).
  const OwnedWindow encoder = OwnedWindow::make(288, [&](int k, int i) { return w.columns[k][144 + i]; });
  WindowView ev = encoder.view();
  ev.first_step = v.first_step + 144 * v.step_ms;
  std::vector<float> robust(static_cast<size_t>(kNumMetrics) * kNumQuantiles * 96);
  RobustProfileScratch scratch;
  robust_profile_forecast(ev, 96, robust.data(), scratch);

  std::vector<float> z(static_cast<size_t>(96) * kNumMetrics * kNumQuantiles, 0.f);
  ForecastBatch a, p;
  a.resize(1);
  p.resize(1);
  const int rows[1] = {0}, dest[1] = {0};
  denormalize_outputs(z.data(), anchored, rows, dest, a);
  denormalize_outputs(z.data(), present, rows, dest, p);
  float spread = 0.f;
  for (int k = 0; k < kNumMetrics; ++k)
    for (int t = 0; t < 96; ++t) {
      const float want = robust[(static_cast<size_t>(k) * kNumQuantiles + kP50) * 96 + t];
      ASSERT_NEAR(a.at(0, t, k, kP50), want, 1e-3f * std::max(1.f, std::fabs(want))) << kMetrics[k].name << " +" << t + 1;
      EXPECT_NEAR(p.at(0, t, k, kP50), inverse_transform(k, present.norms[0].center[k]), 1e-3f);
      spread = std::max(spread, std::fabs(a.at(0, t, k, kP50) - a.at(0, 0, k, kP50)));
      // The input column is the same anchor, relative to the present and scaled; encoders get 0.
      const Normalization& n = anchored.norms[0];
      EXPECT_FLOAT_EQ(anchored.cont_row(0, 288 + t)[col_anchor(k)],
                      std::clamp(anchored.offset(0, t, k) / n.scale[k], -kTrendClamp, kTrendClamp));
    }
  EXPECT_GT(spread, 5.f);  // the daily shape reached the anchor: the test can tell it from a flat level
  for (int i : {0, 100, 287})
    for (int k = 0; k < kNumMetrics; ++k) EXPECT_EQ(anchored.cont_row(0, i)[col_anchor(k)], 0.f);
}

// The batched de-normalisation gives, for every server, metric, step and quantile, the rule value
// by value (Normalization::denormalize: fma(z, scale, centre) + anchor offset, the inverse
// transform, the centre's value where that is not finite, the metric's range), the quantiles then
// sorted. z from −40 to 40 (log1p metrics overflow at the top), NaN, ±inf and 1e30; rows written to
// other forecast rows; a forecast horizon longer and shorter than the decoder's.
TEST(Denormalize, EveryValueIsWhatTheValueByValueRuleGives) {
  const OwnedWindow a = OwnedWindow::make(300, nordiq::testing::plausible);
  const OwnedWindow b = OwnedWindow::make(40, nordiq::testing::plausible);
  const WindowView views[2] = {a.view(), b.view()};
  uint32_t seed = 7;
  const auto uniform = [&seed](float lo, float hi) {
    seed = seed * 1664525u + 1013904223u;
    return lo + (hi - lo) * static_cast<float>(seed >> 8) / static_cast<float>(1u << 24);
  };
  for (const auto& [decoder, horizon] : {std::pair{20, 96}, std::pair{96, 40}}) {
    FeatureBatch features;
    assemble_features(views, FeatureConfig{kMaxEncoderSteps, decoder}, features);
    for (float& o : features.anchor_offset) o = uniform(-2.f, 2.f);
    std::vector<float> z(static_cast<size_t>(2) * decoder * kNumMetrics * kNumQuantiles);
    for (size_t i = 0; i < z.size(); ++i) {
      const float special[4] = {std::nanf(""), INFINITY, -INFINITY, 1e30f};
      z[i] = i % 53 == 0 ? special[(i / 53) % 4] : (i % 11 == 0 ? uniform(-40.f, 40.f) : uniform(-3.f, 3.f));
    }
    ForecastBatch out;
    out.resize(2, horizon);
    const int rows[2] = {1, 0}, dest[2] = {0, 1};
    denormalize_outputs(z.data(), features, rows, dest, out);
    for (int i = 0; i < 2; ++i)
      for (int t = 0; t < std::min(decoder, horizon); ++t)
        for (int k = 0; k < kNumMetrics; ++k) {
          float v[kNumQuantiles];
          for (int q = 0; q < kNumQuantiles; ++q)
            v[q] = features.denormalize_output(
                rows[i], t, k, z[((static_cast<size_t>(rows[i]) * decoder + t) * kNumMetrics + k) * kNumQuantiles + q]);
          std::sort(v, v + kNumQuantiles);
          for (int q = 0; q < kNumQuantiles; ++q) {
            const float got = out.at(dest[i], t, k, q);
            ASSERT_TRUE(std::isfinite(got)) << kMetrics[k].name << " t=" << t << " q=" << q;
            // identity metrics: the same arithmetic, so the same bits; log1p ones: a vector expm1 (≤ 1e-6 relative)
            if (kMetrics[k].transform == MetricTransform::identity)
              ASSERT_EQ(got, v[q]) << kMetrics[k].name << " t=" << t << " q=" << q;
            else
              ASSERT_NEAR(got, v[q], 1e-6f * std::fabs(v[q])) << kMetrics[k].name << " t=" << t << " q=" << q;
          }
        }
  }
}

// The week table gives time_features' own bits on the step grid, before 1970 and decades on, and
// time_features itself off the grid, for a step that does not divide the week, or a tiny one.
TEST(TimeFeatures, OnTheStepGridTheWeekTableGivesTheDirectValuesBitForBit) {
  for (const int64_t step : std::initializer_list<int64_t>{300'000, 60'000, 420'000, 660'000, 1'000}) {
    for (int64_t i = -3000; i < 3000; i += 7) {
      for (const int64_t t : {int64_t{1'735'689'600'000} + i * step, i * step, int64_t{4'102'444'800'000} + i * step,
                              int64_t{4'102'444'800'000} + i * step + 17}) {
        float direct[kNumTimeFeatures], table[kNumTimeFeatures];
        time_features(t, direct);
        time_features_on_grid(t, step, table);
        ASSERT_EQ(0, std::memcmp(direct, table, sizeof direct)) << "step " << step << " t " << t;
      }
    }
  }
}
