#include "forecast/features.hpp"
#include "forecast/order_stats.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <fmt/core.h>
#include <numbers>
#include <stdexcept>

#include "core/grow.hpp"
#include "forecast/robust_profile.hpp"

namespace nordiq::forecast {

namespace {

constexpr int64_t kMsPerDay = 86'400'000;
constexpr double kTwoPi = 2.0 * std::numbers::pi;

inline int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// Steps [begin, begin + count) of a view as a view of their own.
WindowView sub_view(const WindowView& view, int begin, int count) {
  WindowView v = view;
  v.length = count;
  v.first_step = view.first_step + static_cast<int64_t>(begin) * view.step_ms;
  for (int k = 0; k < kNumMetrics; ++k) v.metric[k] = view.metric[k] ? view.metric[k] + begin : nullptr;
  v.status = view.status ? view.status + begin : nullptr;
  return v;
}

// Anchored models: the robust classical forecast of each decoder step, fitted on the encoder
// steps only (serving and training see the same), as anchor − center in transformed units, and
// as the clamped input column. A metric the view lacks keeps offset 0.
void write_anchors(const WindowView& view, int begin, int enc, int dec, const Normalization& norm,
                   FeatureBatch& out, int b) {
  thread_local RobustProfileScratch scratch;
  const WindowView encoder = sub_view(view, begin, enc);
  for (int k = 0; k < kNumMetrics; ++k)
    if (!encoder.metric[k]) return;  // the robust fit reads every metric
  fit_robust_profile(encoder, scratch.fit, scratch.level, scratch, /*with_band=*/false);
  for (int j = 0; j < dec; ++j) {
    float* offsets = out.anchor_offset.data() + (static_cast<size_t>(b) * out.decoder + j) * kNumMetrics;
    float* row = out.cont_row(b, out.encoder + j);
    const EpochMs when = encoder.last_step() + (j + 1) * view.step_ms;
    for (int k = 0; k < kNumMetrics; ++k) {
      const float anchor = transform(k, clamp_to_range(k, robust_median_at(scratch.fit, scratch.level, k, when), 0.f));
      offsets[k] = std::isfinite(anchor) ? anchor - norm.center[k] : 0.f;
      row[col_anchor(k)] = std::clamp(offsets[k] / norm.scale[k], -kTrendClamp, kTrendClamp);
    }
  }
}

// Hourly models: per slot of the hour (hour_steps of them), each metric's within-hour shape at
// that slot: the median, over the encoder's last kHourlySamples hours, of the value at the slot
// minus the median of the hour centred on it, normalised as a deviation (÷ scale). A job that
// repeats at one minute of every hour keeps its height; a one-off burst is outvoted; a level
// shift or a ramp leaves the centred medians with the value, so it reads as no shape at all.
// Slot s is the one of the decoder step s + 1 steps after the encoder's last. 0 where absent.
constexpr int kHourlySamples = 4;
constexpr int kMaxHourSteps = 60;  // one-minute steps; coarser grids have fewer slots
static_assert(2 * (kMaxHourSteps / 2) + 1 <= kMaxCentredWindow);

void write_hourly(const TransformedWindow& window, const Normalization& norm, int hour_steps, int dec,
                  EpochMs first_decoder_step, int64_t step_ms, FeatureBatch& out, int b) {
  std::array<std::array<float, kNumMetrics>, kMaxHourSteps> slot_shape{};
  const int half = hour_steps / 2;
  // The positions the slots read below: the latest centre whose hour the encoder holds, and the
  // kHourlySamples hours before it, none before `half`.
  const int newest = window.len - 1 - half;
  const int oldest = std::max(half, newest - kHourlySamples * hour_steps + 1);
  std::array<float, kHourlySamples * kMaxHourSteps> centred;  // [i − oldest]: x[i] − its hour's median
  for (int k = 0; k < kNumMetrics; ++k) {
    if (!window.present[k] || newest < oldest) continue;
    centred_deviations(window.column(k), oldest, newest, half, centred.data());
    for (int s = 0; s < hour_steps; ++s) {
      // the latest encoder step at the slot of decoder step s whose centred hour the encoder holds
      int latest = window.len - 1 + (s + 1) - hour_steps;
      while (latest + half > window.len - 1) latest -= hour_steps;
      std::array<float, kHourlySamples> shape;
      int n = 0;
      for (int i = latest; i - half >= 0 && n < kHourlySamples; i -= hour_steps) shape[n++] = centred[i - oldest];
      if (n == 0) continue;
      for (int a = 1; a < n; ++a)  // at most 4: insertion sort
        for (int c = a; c > 0 && shape[c] < shape[c - 1]; --c) std::swap(shape[c], shape[c - 1]);
      const float median = n % 2 ? shape[n / 2] : 0.5f * (shape[n / 2 - 1] + shape[n / 2]);
      slot_shape[s][k] = median / norm.scale[k];
    }
  }
  for (int j = 0; j < dec; ++j) {
    float* row = out.cont_row(b, out.encoder + j);
    for (int k = 0; k < kNumMetrics; ++k) row[col_hourly(k)] = slot_shape[j % hour_steps][k];
    const EpochMs when = first_decoder_step + j * step_ms;
    const double minute = static_cast<double>(((when % 3'600'000) + 3'600'000) % 3'600'000) / 60'000.0;
    row[kColMinuteSin] = static_cast<float>(std::sin(kTwoPi * minute / 60.0));
    row[kColMinuteSin + 1] = static_cast<float>(std::cos(kTwoPi * minute / 60.0));
  }
}

// Writes row b: encoder steps [begin, begin + enc) of the view and dec decoder steps after them.
// The single implementation behind serving and training.
void fill_row(const WindowView& view, int begin, int enc, int dec, const FeatureConfig& config,
              FeatureBatch& out, int b) {
  thread_local TransformedWindow window;  // transform(k, ·) of the encoder steps, once
  window.assign(view, begin, enc);
  const Normalization norm = normalization_of(window);
  out.norms[b] = norm;
  out.encoder_lengths[b] = enc;
  out.decoder_lengths[b] = dec;
  for (int k = 0; k < kNumMetrics; ++k) {
    out.target_scale[(static_cast<size_t>(b) * kNumMetrics + k) * 2 + 0] = norm.center[k];
    out.target_scale[(static_cast<size_t>(b) * kNumMetrics + k) * 2 + 1] = norm.scale[k];
  }
  const float e_max = static_cast<float>(config.max_encoder);
  const float length_feature = 2.f * static_cast<float>(enc) / e_max - 1.f;
  const int32_t profile_code = static_cast<int32_t>(view.profile) + 1;

  std::array<float, 2 * kNumMetrics> statics;  // the centre and scale features, the same on every row
  for (int k = 0; k < kNumMetrics; ++k) {
    statics[2 * k] = norm.center_feature(k);
    statics[2 * k + 1] = norm.scale_feature(k);
  }
  auto write_common = [&](int t, int64_t step_index, float relative_time) {
    float* row = out.cont_row(b, t);
    row[kColEncoderLength] = length_feature;
    for (int k = 0; k < kNumMetrics; ++k) {
      row[col_center(k)] = statics[2 * k];
      row[col_scale(k)] = statics[2 * k + 1];
    }
    time_features_on_grid(view.first_step + step_index * view.step_ms, view.step_ms, row + kColHourSin);
    row[kColRelativeTime] = relative_time;
    out.cat_row(b, t)[0] = profile_code;
    return row;
  };

  const bool has_data = view.length > 0;
  for (int i = 0; i < enc; ++i) {
    const int step = begin + i;
    float* row = write_common(i, step, static_cast<float>(i - enc) / e_max);
    if (has_data) {
      for (int k = 0; k < kNumMetrics; ++k)
        row[col_target(k)] = window.present[k] && i < window.len ? norm.normalize_transformed(k, window.column(k)[i]) : 0.f;
      const int status = view.status ? view.status[step] : -1;
      out.cat_row(b, i)[1] = (status >= 0 && status < kNumStatuses) ? status + 1 : 0;
    }
  }
  // Decoder steps: the known time features; each metric's value one day before the step where
  // the encoder window holds it, and the continuation of the present's trend.
  const bool decoder_inputs = config.inputs != InputSet::base && has_data && view.step_ms > 0;
  if (decoder_inputs && config.inputs == InputSet::anchored) write_anchors(view, begin, enc, dec, norm, out, b);
  const int64_t hour_steps = decoder_inputs ? 3'600'000 / view.step_ms : 0;
  if (decoder_inputs && config.inputs == InputSet::hourly && hour_steps >= 2 && hour_steps <= kMaxHourSteps)
    write_hourly(window, norm, static_cast<int>(hour_steps), dec, view.first_step + (begin + enc) * view.step_ms,
                 view.step_ms, out, b);
  const int day_steps = decoder_inputs ? static_cast<int>(kMsPerDay / view.step_ms) : 0;
  for (int j = 0; j < dec; ++j) {
    float* row = write_common(out.encoder + j, static_cast<int64_t>(begin) + enc + j, static_cast<float>(j) / e_max);
    if (!decoder_inputs) continue;
    for (int k = 0; k < kNumMetrics; ++k)
      row[col_trend(k)] = std::clamp(norm.slope[k] * static_cast<float>(j + 1) / norm.scale[k], -kTrendClamp, kTrendClamp);
    const int day_before = begin + enc + j - day_steps;
    // only a day-before step inside the encoder window (never a future one, whatever the step)
    if (day_before < begin || day_before - begin >= window.len) continue;
    for (int k = 0; k < kNumMetrics; ++k)
      row[col_lag_day(k)] = window.present[k] ? norm.normalize_transformed(k, window.column(k)[day_before - begin]) : 0.f;
  }
}

}  // namespace

void time_features(EpochMs t, float out[kNumTimeFeatures]) {
  const int64_t day = floor_div(t, kMsPerDay);
  const int64_t ms_of_day = t - day * kMsPerDay;
  const int dow = static_cast<int>(((day + 3) % 7 + 7) % 7);  // 1970-01-01 was a Thursday (3)
  const double hour = static_cast<double>(ms_of_day) / 3'600'000.0;
  out[0] = static_cast<float>(std::sin(kTwoPi * hour / 24.0));
  out[1] = static_cast<float>(std::cos(kTwoPi * hour / 24.0));
  out[2] = static_cast<float>(std::sin(kTwoPi * dow / 7.0));
  out[3] = static_cast<float>(std::cos(kTwoPi * dow / 7.0));
  out[4] = dow >= 5 ? 1.f : 0.f;
  out[5] = (dow < 5 && hour >= 9.0 && hour < 17.0) ? 1.f : 0.f;
}

void time_features_on_grid(EpochMs t, int64_t step_ms, float out[kNumTimeFeatures]) {
  constexpr int64_t kMsPerWeek = 7 * kMsPerDay;
  // The features are a function of t modulo a week (UTC: no DST), so one week of a step grid is
  // every value they take on it, and the table's entry e is time_features(e · step), bit for bit.
  struct WeekTable {
    int64_t step_ms = 0;
    std::vector<float> values;  // [week / step, kNumTimeFeatures]
  };
  constexpr int64_t kMaxEntries = 20'160;  // 30-second steps: 484 KB a thread
  thread_local WeekTable week;
  if (step_ms <= 0 || kMsPerWeek % step_ms != 0 || kMsPerWeek / step_ms > kMaxEntries || t % step_ms != 0)
    return time_features(t, out);
  if (week.step_ms != step_ms) {
    const int64_t entries = kMsPerWeek / step_ms;
    week.values.resize(static_cast<size_t>(entries) * kNumTimeFeatures);
    for (int64_t e = 0; e < entries; ++e) time_features(e * step_ms, week.values.data() + e * kNumTimeFeatures);
    week.step_ms = step_ms;
  }
  const int64_t e = floor_div(t, step_ms) % (kMsPerWeek / step_ms);
  const float* v = week.values.data() + (e < 0 ? e + kMsPerWeek / step_ms : e) * kNumTimeFeatures;
  std::copy(v, v + kNumTimeFeatures, out);
}

void FeatureBatch::resize(int new_batch, int new_encoder, int new_decoder, int new_n_cont) {
  batch = new_batch;
  encoder = new_encoder;
  decoder = new_decoder;
  n_cont = new_n_cont;
  const size_t rows = static_cast<size_t>(batch) * steps();
  assign_with_headroom(x_cat, rows * kNumCat, int32_t{0});
  assign_with_headroom(x_cont, rows * static_cast<size_t>(n_cont), 0.f);
  encoder_lengths.assign(static_cast<size_t>(batch), 0);
  decoder_lengths.assign(static_cast<size_t>(batch), 0);
  target_scale.assign(static_cast<size_t>(batch) * kNumMetrics * 2, 0.f);
  norms.resize(static_cast<size_t>(batch));
  assign_with_headroom(anchor_offset, static_cast<size_t>(batch) * decoder * kNumMetrics, 0.f);
}


void assemble_features(std::span<const WindowView> windows, const FeatureConfig& config,
                       FeatureBatch& out, const ForEachRow& for_each) {
  int enc_max = 1;
  for (const auto& w : windows) enc_max = std::max(enc_max, std::min(w.length, config.max_encoder));
  out.resize(static_cast<int>(windows.size()), enc_max, config.horizon, config.n_cont());
  each_row(for_each, out.batch, [&](int b) {
    const WindowView& w = windows[b];
    const int enc = std::clamp(std::min(w.length, config.max_encoder), 1, config.max_encoder);
    fill_row(w, std::max(w.length - enc, 0), enc, config.horizon, config, out, b);
  });
}

void assemble_training_batch(std::span<const TrainingSlice> slices, const FeatureConfig& config,
                             FeatureBatch& out, std::vector<float>& targets) {
  int enc_max = 1, dec_max = 1;
  for (size_t i = 0; i < slices.size(); ++i) {
    const auto& s = slices[i];
    if (s.encoder_length < 1 || s.encoder_length > config.max_encoder)
      throw std::invalid_argument(fmt::format("training slice {}: encoder_length {} outside [1, {}]", i,
                                              s.encoder_length, config.max_encoder));
    if (s.decoder_length < 1 || s.decoder_length > config.horizon)
      throw std::invalid_argument(fmt::format("training slice {}: decoder_length {} outside [1, {}]", i,
                                              s.decoder_length, config.horizon));
    if (s.begin < 0 || s.begin + s.encoder_length + s.decoder_length > s.view.length)
      throw std::invalid_argument(fmt::format(
          "training slice {}: steps [{}, {}) do not fit its window of {} steps", i, s.begin,
          s.begin + s.encoder_length + s.decoder_length, s.view.length));
    enc_max = std::max(enc_max, s.encoder_length);
    dec_max = std::max(dec_max, s.decoder_length);
  }
  out.resize(static_cast<int>(slices.size()), enc_max, dec_max, config.n_cont());
  targets.assign(slices.size() * static_cast<size_t>(dec_max) * kNumMetrics, 0.f);
  for (int b = 0; b < out.batch; ++b) {
    const auto& s = slices[b];
    fill_row(s.view, s.begin, s.encoder_length, s.decoder_length, config, out, b);
    for (int j = 0; j < s.decoder_length; ++j) {
      const int step = s.begin + s.encoder_length + j;
      float* y = targets.data() + (static_cast<size_t>(b) * dec_max + j) * kNumMetrics;
      for (int k = 0; k < kNumMetrics; ++k)
        y[k] = s.view.metric[k] ? out.normalize_target(b, j, k, s.view.metric[k][step]) : 0.f;
    }
  }
}

}  // namespace nordiq::forecast
