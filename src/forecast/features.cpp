#include "forecast/features.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/core.h>
#include <numbers>
#include <stdexcept>

namespace nordiq::forecast {

namespace {

constexpr int64_t kMsPerDay = 86'400'000;
constexpr double kTwoPi = 2.0 * std::numbers::pi;

inline int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// Writes row b: encoder steps [begin, begin + enc) of the view and dec decoder steps after them.
// The single implementation behind serving and training.
void fill_row(const WindowView& view, int begin, int enc, int dec, const FeatureConfig& config,
              FeatureBatch& out, int b) {
  const Normalization norm = compute_normalization(view, begin, enc);
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

  auto write_common = [&](int t, int64_t step_index, float relative_time) {
    float* row = out.cont_row(b, t);
    row[kColEncoderLength] = length_feature;
    for (int k = 0; k < kNumMetrics; ++k) {
      row[col_center(k)] = norm.center_feature(k);
      row[col_scale(k)] = norm.scale_feature(k);
    }
    time_features(view.first_step + step_index * view.step_ms, row + kColHourSin);
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
        row[col_target(k)] = view.metric[k] ? norm.normalize(k, view.metric[k][step]) : 0.f;
      const int status = view.status ? view.status[step] : -1;
      out.cat_row(b, i)[1] = (status >= 0 && status < kNumStatuses) ? status + 1 : 0;
    }
  }
  // Decoder steps: the known time features; each metric's value one day before the step where
  // the encoder window holds it, and the continuation of the present's trend.
  const bool decoder_inputs = config.decoder_inputs && has_data && view.step_ms > 0;
  const int day_steps = decoder_inputs ? static_cast<int>(kMsPerDay / view.step_ms) : 0;
  for (int j = 0; j < dec; ++j) {
    float* row = write_common(out.encoder + j, static_cast<int64_t>(begin) + enc + j, static_cast<float>(j) / e_max);
    if (!decoder_inputs) continue;
    for (int k = 0; k < kNumMetrics; ++k)
      row[col_trend(k)] = std::clamp(norm.slope[k] * static_cast<float>(j + 1) / norm.scale[k], -kTrendClamp, kTrendClamp);
    const int day_before = begin + enc + j - day_steps;
    if (day_before < begin) continue;
    for (int k = 0; k < kNumMetrics; ++k)
      row[col_lag_day(k)] = view.metric[k] ? norm.normalize(k, view.metric[k][day_before]) : 0.f;
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

void FeatureBatch::resize(int new_batch, int new_encoder, int new_decoder, int new_n_cont) {
  batch = new_batch;
  encoder = new_encoder;
  decoder = new_decoder;
  n_cont = new_n_cont;
  const size_t rows = static_cast<size_t>(batch) * steps();
  x_cat.assign(rows * kNumCat, 0);
  x_cont.assign(rows * static_cast<size_t>(n_cont), 0.f);
  encoder_lengths.assign(static_cast<size_t>(batch), 0);
  decoder_lengths.assign(static_cast<size_t>(batch), 0);
  target_scale.assign(static_cast<size_t>(batch) * kNumMetrics * 2, 0.f);
  norms.resize(static_cast<size_t>(batch));
}

void assemble_features(std::span<const WindowView> windows, const FeatureConfig& config,
                       FeatureBatch& out) {
  int enc_max = 1;
  for (const auto& w : windows) enc_max = std::max(enc_max, std::min(w.length, config.max_encoder));
  out.resize(static_cast<int>(windows.size()), enc_max, config.horizon, config.n_cont());
  for (int b = 0; b < out.batch; ++b) {
    const WindowView& w = windows[b];
    const int enc = std::clamp(std::min(w.length, config.max_encoder), 1, config.max_encoder);
    fill_row(w, std::max(w.length - enc, 0), enc, config.horizon, config, out, b);
  }
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
    const Normalization& norm = out.norms[b];
    for (int j = 0; j < s.decoder_length; ++j) {
      const int step = s.begin + s.encoder_length + j;
      float* y = targets.data() + (static_cast<size_t>(b) * dec_max + j) * kNumMetrics;
      for (int k = 0; k < kNumMetrics; ++k)
        y[k] = s.view.metric[k] ? norm.normalize(k, s.view.metric[k][step]) : 0.f;
    }
  }
}

void denormalize_outputs(const float* z, const FeatureBatch& features, std::span<const int> rows,
                         std::span<const int> dest, ForecastBatch& out) {
  const int horizon = std::min(out.horizon, features.decoder);
  float v[kNumQuantiles];
  for (size_t i = 0; i < rows.size(); ++i) {
    const int r = rows[i];
    const int d = dest[i];
    const Normalization& norm = features.norms[r];
    for (int t = 0; t < horizon; ++t) {
      const float* zt = z + (static_cast<size_t>(r) * features.decoder + t) * kNumMetrics * kNumQuantiles;
      for (int k = 0; k < kNumMetrics; ++k) {
        for (int q = 0; q < kNumQuantiles; ++q) v[q] = norm.denormalize(k, zt[k * kNumQuantiles + q]);
        // The network does not enforce monotone quantiles (TFT.md §7.13); a tiny insertion sort.
        for (int q = 1; q < kNumQuantiles; ++q)
          for (int p = q; p > 0 && v[p] < v[p - 1]; --p) std::swap(v[p], v[p - 1]);
        for (int q = 0; q < kNumQuantiles; ++q) out.path(d, k, q)[t] = v[q];
      }
    }
  }
}

}  // namespace nordiq::forecast
