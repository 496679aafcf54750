// The hourly models' decoder inputs (contract.hpp, `nordiq train --inputs hourly`): each metric's
// within-hour shape at the decoder step's minute of the hour, and that minute.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "forecast/features.hpp"
#include "window_fixture.hpp"

using namespace nordiq;
using namespace nordiq::forecast;
using nordiq::testing::OwnedWindow;

namespace {

constexpr int kJobSlot = 7;      // an hourly job at minute 35 of every hour
constexpr int kBurstStep = 290;  // one burst, at minute 10, that does not repeat
constexpr int kSteps = 300;      // starts at 10:00, so step i sits at minute 5·(i mod 12)

float noise(int k, int i) { return 0.1f * static_cast<float>((i * 7919 + k * 31) % 5); }

float cpu_with_job(int k, int i) {
  float v = 30.f + 3.f * static_cast<float>(k % 4) + noise(k, i);
  if (i % 12 == kJobSlot) v += 25.f;
  if (i == kBurstStep) v += 40.f;
  return v;
}

FeatureBatch hourly_features(const OwnedWindow& w) {
  const WindowView v = w.view();
  FeatureBatch batch;
  assemble_features(std::span(&v, 1), FeatureConfig{288, 96, InputSet::hourly}, batch);
  return batch;
}

float hourly(const FeatureBatch& batch, int j, int k = 0) { return batch.cont_row(0, batch.encoder + j)[col_hourly(k)]; }

}  // namespace

TEST(HourlyInputs, DecoderSeesTheRepeatingJobAtItsMinuteAndNotAOneOffBurst) {
  const OwnedWindow w = OwnedWindow::make(kSteps, cpu_with_job);
  const FeatureBatch batch = hourly_features(w);
  ASSERT_EQ(batch.n_cont, kNumContHourly);
  const int k = 0;  // cpu_user_pct (no transform)
  const float scale = batch.norms[0].scale[k];
  for (int j = 0; j < 96; ++j) {
    SCOPED_TRACE(j);
    // decoder step j is window step 300 + j: at slot j mod 12
    const float want = j % 12 == kJobSlot ? 25.f : 0.f;  // the burst at minute 10 is outvoted
    EXPECT_NEAR(hourly(batch, j, k) * scale, want, 0.45f);
    EXPECT_EQ(hourly(batch, j, k), hourly(batch, j % 12, k));  // one value per minute of the hour
  }
}

// What the first version of this input (the median LEVEL of the last 4 hours at the minute) got
// wrong: a level held for 2 h read as halfway back, and the network followed it back.
TEST(HourlyInputs, ALevelShiftOrARampReadsAsNoShape) {
  const OwnedWindow shifted = OwnedWindow::make(kSteps, [](int k, int i) { return (i < kSteps - 24 ? 30.f : 60.f) + noise(k, i); });
  const OwnedWindow ramp = OwnedWindow::make(kSteps, [](int k, int i) { return 20.f + 0.2f * static_cast<float>(i) + noise(k, i); });
  for (const OwnedWindow* w : {&shifted, &ramp}) {
    const FeatureBatch batch = hourly_features(*w);
    for (int j = 0; j < 12; ++j) EXPECT_NEAR(hourly(batch, j) * batch.norms[0].scale[0], 0.f, 0.45f) << j;
  }
}

TEST(HourlyInputs, AShortWindowUsesOnlyTheCentredHoursItHolds) {
  // 20 steps (1 h 40 min) and one spike at step 10 (slot 10).
  const OwnedWindow w = OwnedWindow::make(20, [](int, int i) { return i == 10 ? 80.f : 20.f; });
  const FeatureBatch batch = hourly_features(w);
  const float scale = batch.norms[0].scale[0];
  // Decoder step j sits at slot (20 + j) mod 12; the encoder holds steps 0..19, so the hour
  // centred on a step (±6) fits for steps 6..13 only: slots 6..11 and 0..1.
  EXPECT_FLOAT_EQ(hourly(batch, 2), 60.f / scale);  // slot 10: step 10, 80 against its hour's 20
  for (int j : {0, 1, 3, 4, 5}) EXPECT_EQ(hourly(batch, j), 0.f) << j;   // slots 8, 9, 11, 0, 1: flat
  for (int j = 6; j < 12; ++j) EXPECT_EQ(hourly(batch, j), 0.f) << j;    // slots 2..7: no centred hour yet
}

TEST(HourlyInputs, MinuteOfTheHourIsKnownOnDecoderStepsOnly) {
  const OwnedWindow w = OwnedWindow::make(kSteps, cpu_with_job);
  const FeatureBatch batch = hourly_features(w);
  for (int j = 0; j < 96; ++j) {
    const double minute = 5.0 * (j % 12);
    const float* row = batch.cont_row(0, batch.encoder + j);
    EXPECT_NEAR(row[kColMinuteSin], std::sin(2 * std::numbers::pi * minute / 60), 1e-6) << j;
    EXPECT_NEAR(row[kColMinuteSin + 1], std::cos(2 * std::numbers::pi * minute / 60), 1e-6) << j;
  }
  for (int i = 0; i < batch.encoder; ++i) {
    const float* row = batch.cont_row(0, i);
    for (int c = col_hourly(0); c < kNumContHourly; ++c) ASSERT_EQ(row[c], 0.f) << "encoder step " << i << " column " << c;
  }
}

TEST(HourlyInputs, TheContractFollowsTheColumnIndexes) {
  const InputContract& c = input_contract(InputSet::hourly);
  ASSERT_EQ(c.x_reals.size(), static_cast<size_t>(kNumContHourly));
  const InputContract& decoder = input_contract(InputSet::decoder);
  EXPECT_TRUE(std::equal(decoder.x_reals.begin(), decoder.x_reals.end(), c.x_reals.begin()));
  for (int k = 0; k < kNumMetrics; ++k) EXPECT_EQ(c.x_reals[col_hourly(k)], std::string(kMetrics[k].name) + "_hourly");
  EXPECT_EQ(c.x_reals[kColMinuteSin], "minute_sin");
  EXPECT_EQ(c.x_reals[kColMinuteSin + 1], "minute_cos");
  EXPECT_EQ(c.decoder_variables.size(), static_cast<size_t>(kNumKnownReals + 3 * kNumMetrics + 2));
  EXPECT_EQ(c.encoder_variables, decoder.encoder_variables);
  EXPECT_EQ(input_set_of(c.x_reals.size()), InputSet::hourly);
  EXPECT_NE(kNumContHourly, kNumCont);  // the column count alone tells the four sets apart
}
