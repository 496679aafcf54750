#include "replay/alert_baselines.hpp"

#include <array>

#include "forecast/ramp.hpp"

namespace nordiq::replay {

namespace {

constexpr int kTrendSteps = 12;   // 1 h of 5-min steps
constexpr int kAheadSteps = 6;    // +30 min

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
            const forecast::Line line = forecast::least_squares_line(signal.data() + i + 1 - n, n);
            alert = line.at(n - 1 + kAheadSteps) >= thresholds[k];
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
