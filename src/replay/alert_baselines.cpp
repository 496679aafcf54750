#include "replay/alert_baselines.hpp"

#include <array>

namespace nordiq::replay {

namespace {

constexpr int kTrendSteps = 12;   // 1 h of 5-min steps
constexpr int kAheadSteps = 6;    // +30 min

// Least-squares line over y[0..n), evaluated `ahead` steps after its last point.
double extrapolate(const float* y, int n, int ahead) {
  if (n < 2) return y[n - 1];
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (int i = 0; i < n; ++i) {
    sx += i;
    sy += y[i];
    sxx += static_cast<double>(i) * i;
    sxy += i * static_cast<double>(y[i]);
  }
  const double slope = (n * sxy - sx * sy) / (n * sxx - sx * sx);
  const double intercept = (sy - slope * sx) / n;
  return intercept + slope * (n - 1 + ahead);
}

}  // namespace

std::vector<AlertInterval> baseline_alerts(const train::History& history, const risk::AlertConfig& config,
                                           BaselineRule rule) {
  std::vector<AlertInterval> out;
  std::vector<float> signal;
  for (uint32_t s = 0; s < history.servers.size(); ++s) {
    const train::ServerSeries& series = history.servers[s];
    const float* thresholds = config.thresholds_for(series.profile);
    for (const train::Segment& seg : series.segments) {
      for (int k = 0; k < risk::kNumSignals; ++k) {
        const auto sig = static_cast<risk::Signal>(k);
        signal.resize(static_cast<size_t>(seg.length));
        for (int64_t i = 0; i < seg.length; ++i)
          signal[i] = static_cast<float>(risk::signal_current(sig, series.view(seg, i, 1, history.step_ms)));
        AlertInterval open{s, sig, 0, 0};
        bool is_open = false;
        for (int64_t i = 0; i < seg.length; ++i) {
          const EpochMs at = seg.first_step + (i + 1) * history.step_ms;  // the step's end
          bool alert = signal[i] >= thresholds[k];
          if (!alert && rule == BaselineRule::linear_trend) {
            const int n = static_cast<int>(std::min<int64_t>(i + 1, kTrendSteps));
            alert = extrapolate(signal.data() + i + 1 - n, n, kAheadSteps) >= thresholds[k];
          }
          if (alert && !is_open) {
            open.opened = at;
            is_open = true;
          } else if (!alert && is_open) {
            open.resolved = at;
            out.push_back(open);
            is_open = false;
          }
        }
        if (is_open) {
          open.resolved = seg.first_step + seg.length * history.step_ms;
          out.push_back(open);
        }
      }
    }
  }
  return out;
}

}  // namespace nordiq::replay
