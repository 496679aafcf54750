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
//                                                   level, for ramps that continue.
//   <metric>_anchor  (× 14)                         known, decoder only (normalizer version 3):
//                                                   the robust anchor at the decoder step,
//                                                   (anchor − center)/scale, clamped to
//                                                   ±kTrendClamp. The anchor is the robust
//                                                   classical forecast of the encoder window
//                                                   (forecast/robust_profile.hpp: median level
//                                                   of the last 4 h + hour-of-day and
//                                                   within-hour shapes); in version 3 the
//                                                   targets are relative to it (normalizer.hpp).
//   <metric>_hourly  (× 14)                         hourly models (in place of the anchor), known,
//                                                   decoder only: the metric's within-hour shape
//                                                   at the decoder step's minute of the hour: the
//                                                   median over the encoder's last 4 hours of the
//                                                   value at that minute minus the median of the
//                                                   hour centred on it, ÷ scale. Hourly jobs
//                                                   repeat at one slot of every hour; hour-of-day
//                                                   cannot tell the slots of an hour apart, and
//                                                   lag_day holds one noisy sample. A shape, not a
//                                                   level: a level shift or a ramp reads as 0.
//   minute_sin minute_cos                           hourly models, known, decoder only: the decoder
//                                                   step's minute of the hour, 2π·minute/60.
#pragma once

#include <cstddef>
#include <cstdint>
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
inline constexpr int col_anchor(int k) { return col_trend(kNumMetrics) + k; }
inline constexpr int kNumCont = col_anchor(kNumMetrics);       // every input (the anchored contract)
inline constexpr int col_hourly(int k) { return col_trend(kNumMetrics) + k; }  // hourly models: where anchored ones have the anchor
inline constexpr int kColMinuteSin = col_hourly(kNumMetrics);  // then minute_cos
inline constexpr int kNumContHourly = kColMinuteSin + 2;       // lag-day, trend, within-hour shapes, minute of the hour
inline constexpr int kNumContDecoder = col_trend(kNumMetrics); // lag-day and trend, no anchor
inline constexpr int kNumContBase = col_lag_day(0);            // no decoder-only input (reference models)
inline constexpr float kTrendClamp = 8.f;

// Which inputs a model takes; the column count of its x_reals says which (input_set_of).
//   base      the reference tensors' models: no decoder-only input
//   decoder   + lag-day and trend (normalizer version 2: targets relative to the present level)
//   anchored  + the robust anchor (normalizer version 3: targets relative to the anchor)
//   hourly    decoder's + each metric's within-hour shape at the step's minute of the hour, and
//             that minute (normalizer version 2)
enum class InputSet : uint8_t { base, decoder, anchored, hourly };
inline constexpr int n_cont_of(InputSet s) {
  switch (s) {
    case InputSet::anchored: return kNumCont;
    case InputSet::hourly: return kNumContHourly;
    case InputSet::decoder: return kNumContDecoder;
    case InputSet::base: break;
  }
  return kNumContBase;
}
// The input set with `n_reals` columns; base for any other count (the contract check names it).
inline constexpr InputSet input_set_of(size_t n_reals) {
  return n_reals == static_cast<size_t>(kNumCont)          ? InputSet::anchored
         : n_reals == static_cast<size_t>(kNumContHourly)  ? InputSet::hourly
         : n_reals == static_cast<size_t>(kNumContDecoder) ? InputSet::decoder
                                                           : InputSet::base;
}

struct InputContract {
  std::vector<std::string> x_categoricals;     // {"profile", "status"}
  std::vector<std::string> x_reals;            // the kNumCont column names, in order
  std::vector<std::string> static_variables;   // profile, encoder_length, centers and scales
  std::vector<std::string> known_reals;        // every known real (encoder's and decoder-only)
  std::vector<std::string> encoder_variables;  // status, the known time features, the metrics
  std::vector<std::string> decoder_variables;  // the known time features, lag-day values, trends
  std::vector<std::string> targets;            // the 14 metrics
};

// The contract of each input set (`nordiq train --inputs`: hourly by default, the default model's;
// decoder; anchored, also --anchor); all four are served.
const InputContract& input_contract(InputSet inputs = InputSet::hourly);

}  // namespace nordiq::forecast
