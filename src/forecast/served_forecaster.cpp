#include "forecast/served_forecaster.hpp"

#include <algorithm>
#include <cstring>

namespace nordiq::forecast {

ServedForecaster::~ServedForecaster() = default;
ServedForecaster::ServedForecaster(std::unique_ptr<Forecaster> model, int64_t step_ms, int horizon)
    : model_(std::move(model)),
      description_(std::string(model_->description()) + " (served)"),
      tracker_(step_ms, horizon) {}

void ServedForecaster::prepare(std::span<const WindowView> windows, ForecastBatch& out) {
  model_->prepare(windows, out);
  const size_t n = windows.size();
  if (fits_.size() < n) fits_.resize(n);
  actuals_.clear();
  actual_rows_.clear();
  for (size_t b = 0; b < n; ++b) {
    const WindowView& w = windows[b];
    fit_robust_profile(w, fits_[b], scratch_);
    // The steps this server's pending forecasts have not been scored against yet (at most one
    // horizon: older targets can no longer be pending).
    if (w.server >= batch_seen_.size()) batch_seen_.resize(static_cast<size_t>(w.server) + 1, 0);
    const EpochMs seen = std::max(tracker_.observed_through(w.server), batch_seen_[w.server]);
    int first = 0;
    if (w.length > 0 && seen >= w.first_step)
      first = static_cast<int>(std::min<int64_t>(w.length, (seen - w.first_step) / w.step_ms + 1));
    first = std::max(first, w.length - tracker_.horizon());
    Actuals a{w.server, w.first_step + first * w.step_ms, std::max(0, w.length - first), actual_rows_.size()};
    for (int i = first; i < w.length; ++i)
      for (int k = 0; k < kNumMetrics; ++k) actual_rows_.push_back(w.metric[k][i]);
    actuals_.push_back(a);
    if (w.length > 0) batch_seen_[w.server] = std::max(batch_seen_[w.server], w.last_step());
  }
}

void ServedForecaster::run(ForecastBatch& out) {
  model_->run(out);
  const int H = out.horizon;
  const size_t stride = out.server_stride();
  if (H != tracker_.horizon()) throw std::logic_error("served forecaster: model horizon differs from the tracker's");
  candidate_rows_.resize(kNumCandidates * stride);
  float* model_row = candidate_rows_.data();
  float* robust_row = model_row + stride;
  float* last_value_row = robust_row + stride;
  out.served_by.assign(static_cast<size_t>(out.batch) * kNumMetrics * kNumEvalHorizons, 0);
  for (int b = 0; b < out.batch; ++b) {
    const Actuals& a = actuals_[b];
    tracker_.observe(a.server, a.first_step, a.steps, actual_rows_.data() + a.offset);
    batch_seen_[a.server] = 0;
    if (fits_[b].empty) continue;  // no step at all: the model's flat forecast stays
    float* row = out.values.data() + b * stride;
    std::memcpy(model_row, row, stride * sizeof(float));
    write_robust_profile(fits_[b], H, robust_row);
    write_last_value_band(fits_[b], H, last_value_row);
    tracker_.serve(a.server, fits_[b].last_step, {model_row, robust_row, last_value_row}, row,
                   out.served_by.data() + static_cast<size_t>(b) * kNumMetrics * kNumEvalHorizons);
  }
}

}  // namespace nordiq::forecast
