// Test helper: one server with a calm current state and a flat calm forecast, to be edited.
#pragma once

#include <array>
#include <vector>

#include "core/window.hpp"
#include "forecast/forecaster.hpp"

namespace nordiq::testing {

struct OneServer {
  std::array<std::vector<float>, kNumMetrics> columns;
  std::vector<uint8_t> status;
  WindowView view;
  forecast::ForecastBatch forecast;

  // Calm: idle 90 (CPU used 10), memory 40, iowait 1, swap 0, load 1, disk 50.
  static constexpr std::array<float, kNumMetrics> kCalm = {5, 4, 1, 90, 2, 40, 0, 50, 3, 3, 5, 5, 1, 20};

  explicit OneServer(Profile profile = Profile::generic, int length = 30) {
    for (int k = 0; k < kNumMetrics; ++k) columns[k].assign(static_cast<size_t>(length), kCalm[k]);
    status.assign(static_cast<size_t>(length), static_cast<uint8_t>(Status::healthy));
    view.server = 7;
    view.profile = profile;
    view.length = length;
    view.first_step = 1736935200000;
    for (int k = 0; k < kNumMetrics; ++k) view.metric[k] = columns[k].data();
    view.status = status.data();
    forecast.resize(1);
    for (int k = 0; k < kNumMetrics; ++k)
      for (int q = 0; q < forecast::kNumQuantiles; ++q) set(k, q, 0, 96, kCalm[k]);
  }
  void set_current(Metric m, float v) { columns[static_cast<int>(m)].back() = v; }
  // Sets quantile q of metric m to v on horizon steps [from, to).
  void set(int k, int q, int from, int to, float v) {
    for (int t = from; t < to; ++t) forecast.path(0, k, q)[t] = v;
  }
  void set(Metric m, int q, int from, int to, float v) { set(static_cast<int>(m), q, from, to, v); }
  // Sets every quantile ≥ q (for rising signals) so the forecast stays monotone.
  void set_upper(Metric m, int q, int from, int to, float v) {
    for (int i = q; i < forecast::kNumQuantiles; ++i) set(m, i, from, to, v);
  }
};

}  // namespace nordiq::testing
