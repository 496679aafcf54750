// The model's input contract (SPEC §2.1), written ONCE: the x_cont columns in order and which
// network sees which variable. The feature writer (features.hpp's column indexes), the model
// check (tft_forecaster.cpp) and the manifest the trainer writes (trainer.cpp) all derive from
// this table, so they cannot drift apart.
//
// x_cont columns, in order:
//   encoder_length                                  static
//   <metric>_center, <metric>_scale  (× 14)         static
//   hour_sin hour_cos dow_sin dow_cos is_weekend is_business_hours relative_time_idx
//                                                   known: encoder and decoder
//   <metric>  (× 14, normalised)                    unknown: encoder only (the targets)
//   <metric>_lag_day  (× 14)                        known, decoder only: the normalised value one
//                                                   day before the decoder step, read from the
//                                                   encoder window (0 where the window does not
//                                                   reach back that far). It hands the decoder the
//                                                   seasonal-naive forecast — yesterday at this
//                                                   time, hourly jobs included — as an input,
//                                                   instead of making attention find it. Never
//                                                   on encoder steps: a serving window holds one
//                                                   day, so an encoder step's value a day earlier
//                                                   does not exist, and training must not see
//                                                   what serving cannot.
//   <metric>_trend  (× 14)                          known, decoder only: the last hour's Theil–Sen
//                                                   slope extrapolated to the decoder step,
//                                                   slope·(j+1)/scale, clamped to ±kTrendClamp:
//                                                   the linear-trend forecast from the present
//                                                   level (z = 0), for ramps that continue.
#pragma once

#include <string>
#include <vector>

#include "core/metrics.hpp"

namespace nordiq::forecast {

inline constexpr int kNumCat = 2;  // profile, status
inline constexpr int kNumTimeFeatures = 6;
inline constexpr int kNumKnownReals = kNumTimeFeatures + 1;  // + relative_time_idx
inline constexpr int kColEncoderLength = 0;
inline constexpr int col_center(int k) { return 1 + 2 * k; }
inline constexpr int col_scale(int k) { return 2 + 2 * k; }
inline constexpr int kColHourSin = 1 + 2 * kNumMetrics;  // then hour_cos, dow_sin, dow_cos, is_weekend, is_business_hours
inline constexpr int kColRelativeTime = kColHourSin + kNumTimeFeatures;
inline constexpr int col_target(int k) { return kColRelativeTime + 1 + k; }
inline constexpr int col_lag_day(int k) { return kColRelativeTime + 1 + kNumMetrics + k; }
inline constexpr int col_trend(int k) { return col_lag_day(kNumMetrics) + k; }
inline constexpr int kNumCont = col_trend(kNumMetrics);       // with the decoder-only inputs
inline constexpr int kNumContBase = col_lag_day(0);            // without (models before them)
inline constexpr float kTrendClamp = 8.f;

struct InputContract {
  std::vector<std::string> x_categoricals;     // {"profile", "status"}
  std::vector<std::string> x_reals;            // the kNumCont column names, in order
  std::vector<std::string> static_variables;   // profile, encoder_length, centers and scales
  std::vector<std::string> known_reals;        // every known real (encoder's and decoder-only)
  std::vector<std::string> encoder_variables;  // status, the known time features, the metrics
  std::vector<std::string> decoder_variables;  // the known time features, lag-day values, trends
  std::vector<std::string> targets;            // the 14 metrics
};

// The contract with the decoder-only inputs (lag-day and trend: what `nordiq train` writes), or
// without them (the reference tensors' models): both are served.
const InputContract& input_contract(bool decoder_inputs = true);

}  // namespace nordiq::forecast
