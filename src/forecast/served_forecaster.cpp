#include "forecast/served_forecaster.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace nordiq::forecast {

ServedForecaster::~ServedForecaster() = default;
ServedForecaster::ServedForecaster(std::unique_ptr<Forecaster> model, int64_t step_ms, int horizon)
    : model_(std::move(model)),
      description_(std::string(model_->description()) + " (served)"),
      tracker_(step_ms, horizon) {}

void ServedForecaster::replace_model(std::unique_ptr<Forecaster> model) {
  model_ = std::move(model);
  description_ = std::string(model_->description()) + " (served)";
  tracker_.restart_scoring();
}

namespace {

// The longest refit interval: an hour's steps (a shape fitted on a full window).
int max_refit_interval(int64_t step_ms) { return static_cast<int>(std::max<int64_t>(1, 3'600'000 / step_ms)); }

// Scratch of one thread: the robust fits' buffers, and the candidates' rows.
struct ThreadScratch {
  RobustProfileScratch robust;
  std::vector<float> candidates;  // [kNumCandidates][K][Q][horizon]
};
ThreadScratch& thread_scratch() {
  thread_local ThreadScratch scratch;
  return scratch;
}

}  // namespace

int robust_refit_interval(int fitted_length, int64_t step_ms) {
  return std::clamp(fitted_length / 8, 1, max_refit_interval(step_ms));
}

bool ServedForecaster::servers_distinct(std::span<const WindowView> windows) {
  seen_mark_.clear();
  for (const WindowView& w : windows) {
    if (w.server >= seen_mark_.size()) seen_mark_.resize(static_cast<size_t>(w.server) + 1, 0);
    if (seen_mark_[w.server]++) return false;
  }
  return true;
}

void ServedForecaster::prepare(std::span<const WindowView> windows, ForecastBatch& out) {
  model_->prepare(windows, out);
  const size_t n = windows.size();
  if (levels_.size() < n) levels_.resize(n);
  if (ramps_.size() < n) ramps_.resize(n);
  if (alert_ramps_.size() < n) alert_ramps_.resize(n);
  batch_shapes_.assign(n, nullptr);
  // One window per server (a serving cycle): the fits are independent and run on the model's
  // threads; the shapes to refit are chosen first. Otherwise (the eval replay's batches of one
  // server's consecutive steps) each window sees the refits of those before it, in order.
  batch_parallel_ = servers_distinct(windows);
  if (batch_parallel_) {
    choose_refits(windows);
    each_row(model_->for_each_row(), static_cast<int>(n), [&](int b) { fit_window(windows[b], b, refit_[b] != 0); });
  } else {
    for (size_t b = 0; b < n; ++b) {
      const bool refit = windows[b].length > 0 && shape_age(windows[b]) != ShapeAge::fresh;
      if (refit) claim_shape(windows[b]);
      fit_window(windows[b], static_cast<int>(b), refit);
    }
  }
  actuals_.clear();
  actual_rows_.clear();
  for (const WindowView& w : windows) collect_actuals(w);
}

ServedForecaster::ShapeAge ServedForecaster::shape_age(const WindowView& w) {
  if (w.server >= shapes_.size()) shapes_.resize(static_cast<size_t>(w.server) + 1);
  const std::shared_ptr<RobustFit>& shape = shapes_[w.server];
  if (!shape || shape->empty || shape->step_ms != w.step_ms || w.last_step() < shape->fitted_step) return ShapeAge::stale;
  const int interval = robust_refit_interval(shape->fitted_length, w.step_ms);
  const int64_t age_steps = (w.last_step() - shape->fitted_step) / w.step_ms;
  if (age_steps < interval) return ShapeAge::fresh;
  const bool full_window = interval == max_refit_interval(w.step_ms);
  return full_window && age_steps < 2 * interval ? ShapeAge::due : ShapeAge::stale;
}

void ServedForecaster::claim_shape(const WindowView& w) {
  std::shared_ptr<RobustFit>& shape = shapes_[w.server];
  // A shape an earlier window of the batch still reads is not refitted in place.
  if (!shape || shape.use_count() > 1) shape = std::make_shared<RobustFit>();
}

// Why spread the refits: servers restored together, or that joined together, come due together,
// so once an hour one cycle refitted every shape (500 servers: that cycle ~30 % longer than the
// others), and for ever after, since a refit restarts its server's hour. In steady state 1/12 of a
// fleet's shapes come due per 5-min step; taking a quarter more than that per cycle, oldest first,
// spreads such a wave over the hour within a few hours and keeps up with the steady rate. A shape
// left waiting is at most two hours old; then it is stale and refitted regardless.
void ServedForecaster::choose_refits(std::span<const WindowView> windows) {
  const size_t n = windows.size();
  refit_.assign(n, 0);
  due_.clear();
  int64_t hour_steps = 1;
  for (size_t b = 0; b < n; ++b) {
    const WindowView& w = windows[b];
    if (w.length == 0) continue;
    switch (shape_age(w)) {
      case ShapeAge::fresh: break;
      case ShapeAge::stale: refit_[b] = 1; break;
      case ShapeAge::due:
        due_.push_back({shapes_[w.server]->fitted_step, w.server, static_cast<uint32_t>(b)});
        hour_steps = max_refit_interval(w.step_ms);
        break;
    }
  }
  const size_t share = static_cast<size_t>((5 * static_cast<int64_t>(n) + 4 * hour_steps - 1) / (4 * hour_steps));
  const size_t take = std::min(due_.size(), std::max<size_t>(share, 1));
  const auto older = [](const DueShape& a, const DueShape& b) {
    return a.fitted_step != b.fitted_step ? a.fitted_step < b.fitted_step : a.server < b.server;
  };
  std::partial_sort(due_.begin(), due_.begin() + static_cast<std::ptrdiff_t>(take), due_.end(), older);
  for (size_t i = 0; i < take; ++i) refit_[due_[i].row] = 1;
  for (size_t b = 0; b < n; ++b)
    if (refit_[b]) claim_shape(windows[b]);
}

void ServedForecaster::fit_window(const WindowView& w, int b, bool refit) {
  ThreadScratch& scratch = thread_scratch();
  ramps_[b] = detect_ramps(w);
  alert_ramps_[b] = detect_ramps(w, kAlertRampScales);
  if (w.length == 0) {
    levels_[b].empty = true;
    return;
  }
  const std::shared_ptr<RobustFit>& shape = shapes_[w.server];
  if (refit) fit_robust_profile(w, *shape, scratch.robust.level, scratch.robust);
  fit_robust_level(w, *shape, levels_[b], scratch.robust);
  batch_shapes_[b] = shape;
}

// The steps this server's pending forecasts have not been scored against yet (at most one
// horizon: older targets can no longer be pending).
void ServedForecaster::collect_actuals(const WindowView& w) {
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

void ServedForecaster::run(ForecastBatch& out) {
  model_->run(out);
  if (out.horizon != tracker_.horizon()) throw std::logic_error("served forecaster: model horizon differs from the tracker's");
  out.served_by.assign(static_cast<size_t>(out.batch) * kNumMetrics * kNumEvalHorizons, 0);
  for (int b = 0; b < out.batch; ++b) {
    tracker_.reserve(actuals_[b].server);  // so that serving servers in parallel never grows it
    batch_seen_[actuals_[b].server] = 0;
  }
  if (batch_parallel_) {
    each_row(model_->for_each_row(), out.batch, [&](int b) { serve_row(out, b); });
  } else {
    for (int b = 0; b < out.batch; ++b) serve_row(out, b);  // in order: one server's steps, causally
  }
}

void ServedForecaster::serve_row(ForecastBatch& out, int b) {
  const int H = out.horizon;
  const size_t stride = out.server_stride();
  const Actuals& a = actuals_[b];
  tracker_.observe(a.server, a.first_step, a.steps, actual_rows_.data() + a.offset);
  if (levels_[b].empty) return;  // no step at all: the model's flat forecast stays
  std::vector<float>& rows = thread_scratch().candidates;
  rows.resize(kNumCandidates * stride);
  float* model_row = rows.data();
  float* robust_row = model_row + stride;
  float* last_value_row = robust_row + stride;
  float* hourly_row = last_value_row + stride;
  float* row = out.values.data() + b * stride;
  std::memcpy(model_row, row, stride * sizeof(float));
  write_robust_profile(*batch_shapes_[b], levels_[b], H, robust_row);
  write_last_value_band(*batch_shapes_[b], levels_[b], H, last_value_row);
  write_robust_hourly(*batch_shapes_[b], levels_[b], H, hourly_row);
  for (float* row_of : {model_row, robust_row, last_value_row, hourly_row})
    continue_ramps(ramps_[b], H, tracker_.step_ms(), row_of);
  tracker_.serve(a.server, levels_[b].last_step, {model_row, robust_row, last_value_row, hourly_row}, row,
                 out.served_by.data() + static_cast<size_t>(b) * kNumMetrics * kNumEvalHorizons);
}

}  // namespace nordiq::forecast
