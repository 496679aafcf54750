#include "train/train_windows.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "forecast/normalizer.hpp"
#include "tft/loss.hpp"
#include "train/baselines.hpp"
#include "train/origins.hpp"

namespace nordiq::train {

WindowSplit split_windows(const History& h, const WindowOptions& o) {
  if (o.stride < 1) throw std::invalid_argument("window stride must be ≥ 1");
  if (o.min_encoder < 1 || o.min_encoder > o.max_encoder)
    throw std::invalid_argument("min encoder length must be in 1..max encoder length");
  WindowSplit s;
  int days = o.validation_days;
  if (days <= 0) {
    const double span_days = double(h.last_step - h.first_step + h.step_ms) / 86'400'000.0;
    days = std::max(1, int(std::lround(span_days / 5.0)));
  }
  s.validation_start = holdout_start(h, days);
  for (uint32_t si = 0; si < h.servers.size(); ++si) {
    const ServerSeries& srv = h.servers[si];
    for (uint32_t gi = 0; gi < srv.segments.size(); ++gi) {
      const Segment& seg = srv.segments[gi];
      for (int64_t t = o.min_encoder; t + o.horizon <= seg.length; t += o.stride) {
        const EpochMs origin_time = seg.first_step + t * h.step_ms;
        const EpochMs end_time = origin_time + o.horizon * h.step_ms;  // end of the last target step
        Window w{si, gi, t, int32_t(std::min<int64_t>(t, o.max_encoder))};
        if (end_time <= s.validation_start) s.train.push_back(w);
        else if (origin_time >= s.validation_start) s.validation.push_back(w);
        // windows straddling the split are used by neither (no held-out target is trained on)
      }
    }
  }
  return s;
}

int available_encoder(const Window& w, int max_encoder) { return int(std::min<int64_t>(w.origin, max_encoder)); }

void assemble_windows(const History& h, std::span<const Window> windows, const forecast::FeatureConfig& config,
                      int pad_to, forecast::FeatureBatch& out, std::vector<float>& targets,
                      std::vector<forecast::TrainingSlice>& slices) {
  slices.clear();
  for (const Window& w : windows) {
    const ServerSeries& srv = h.servers[w.server];
    const Segment& seg = srv.segments[w.segment];
    forecast::TrainingSlice s;
    s.view = srv.view(seg, w.origin - w.encoder, w.encoder + config.horizon, h.step_ms);
    s.begin = 0;
    s.encoder_length = w.encoder;
    s.decoder_length = config.horizon;
    slices.push_back(s);
  }
  forecast::assemble_training_batch(slices, config, out, targets);
  const int E = out.encoder;
  const int Ep = pad_to > 1 ? std::min((E + pad_to - 1) / pad_to * pad_to, std::max(E, config.max_encoder)) : E;
  if (Ep == E) return;
  // Move the decoder rows from step E to step Ep (row by row from the end: in place is safe as
  // the buffers only grow), zeroing the new padding.
  const int B = out.batch, D = out.decoder, T = E + D, Tp = Ep + D, C = out.n_cont;
  out.x_cont.resize(size_t(B) * Tp * C);
  out.x_cat.resize(size_t(B) * Tp * forecast::kNumCat);
  for (int b = B - 1; b >= 0; --b) {
    for (int t = T - 1; t >= 0; --t) {
      const int tp = t < E ? t : t - E + Ep;
      std::memmove(&out.x_cont[(size_t(b) * Tp + tp) * C], &out.x_cont[(size_t(b) * T + t) * C],
                   sizeof(float) * C);
      std::memmove(&out.x_cat[(size_t(b) * Tp + tp) * forecast::kNumCat], &out.x_cat[(size_t(b) * T + t) * forecast::kNumCat],
                   sizeof(int32_t) * forecast::kNumCat);
    }
    for (int t = E; t < Ep; ++t) {
      std::fill_n(&out.x_cont[(size_t(b) * Tp + t) * C], C, 0.0f);
      std::fill_n(&out.x_cat[(size_t(b) * Tp + t) * forecast::kNumCat], forecast::kNumCat, 0);
    }
  }
  out.encoder = Ep;
}

double last_value_baseline_loss(const History& h, std::span<const Window> windows, const forecast::FeatureConfig& config) {
  if (windows.empty()) return 0.0;
  NaiveForecaster base(Baseline::last_value, config.horizon);
  const int D = config.horizon, K = kNumMetrics, Q = forecast::kNumQuantiles;
  std::vector<float> values(size_t(K) * Q * D), z(size_t(D) * K * Q), y(size_t(D) * K);
  const int32_t dec = D;
  double total = 0;
  for (const Window& w : windows) {
    const ServerSeries& srv = h.servers[w.server];
    const Segment& seg = srv.segments[w.segment];
    const WindowView enc = srv.view(seg, w.origin - w.encoder, w.encoder, h.step_ms);
    const WindowView fut = srv.view(seg, w.origin, D, h.step_ms);
    base.forecast_one(enc, values.data());
    const forecast::Normalization norm = forecast::compute_normalization(enc, 0, w.encoder);
    for (int t = 0; t < D; ++t)
      for (int k = 0; k < K; ++k) {
        y[size_t(t) * K + k] = norm.normalize(k, fut.metric[k][t]);
        for (int q = 0; q < Q; ++q) z[(size_t(t) * K + k) * Q + q] = norm.normalize(k, values[(size_t(k) * Q + q) * D + t]);
      }
    // per window with the loss's own normaliser, then the mean over windows = the batch loss
    total += tft::quantile_loss(z.data(), y.data(), &dec, forecast::kQuantiles.data(), {1, D, K, Q}, 0, nullptr, nullptr);
  }
  return total / double(windows.size());
}

}  // namespace nordiq::train
