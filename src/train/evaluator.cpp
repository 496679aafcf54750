#include "train/evaluator.hpp"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>

#include "forecast/robust_profile.hpp"
#include "train/baselines.hpp"

namespace nordiq::train {

WindowView history_view(const History& h, const Origin& o, int context) {
  const ServerSeries& s = h.servers[o.server];
  const Segment& seg = s.segments[o.segment];
  const int64_t len = std::min<int64_t>(o.index, context);
  return s.view(seg, o.index - len, static_cast<int>(len), h.step_ms);
}

WindowView future_view(const History& h, const Origin& o, int horizon) {
  const ServerSeries& s = h.servers[o.server];
  const Segment& seg = s.segments[o.segment];
  const int64_t len = std::min<int64_t>(seg.length - o.index, horizon);
  return s.view(seg, o.index, static_cast<int>(std::max<int64_t>(len, 0)), h.step_ms);
}

const uint8_t* future_observed(const History& h, const Origin& o) {
  const ServerSeries& s = h.servers[o.server];
  return s.observed.data() + s.segments[o.segment].begin + o.index;
}

std::vector<EvalModel> baseline_models(int horizon) {
  std::vector<EvalModel> out;
  for (Baseline b : kBaselines)
    out.push_back({std::string(baseline_name(b)),
                   [b, horizon] { return std::make_unique<NaiveForecaster>(b, horizon); }});
  out.push_back({"robust_profile",
                 [horizon] { return std::make_unique<forecast::RobustProfileForecaster>(horizon); }});
  return out;
}

EvalReport evaluate(const History& history, std::span<const Origin> origins,
                    std::span<const EvalModel> models, const EvalOptions& options) {
  if (options.batch < 1 || options.horizon < 1 || options.context < 1)
    throw std::invalid_argument("batch, horizon and context must be ≥ 1");
  const int64_t total = static_cast<int64_t>(origins.size());
  const int64_t batches = (total + options.batch - 1) / options.batch;
  const int threads =
      static_cast<int>(std::clamp<int64_t>(options.threads, 1, std::max<int64_t>(batches, 1)));

  // [batch][model][all steps, then each of kEvalHorizons]: merged in batch order, so the sums do
  // not depend on the thread count.
  constexpr size_t kBlocks = 1 + kNumEvalHorizons;
  const size_t M = models.size();
  std::vector<ScoreAccumulator> acc(static_cast<size_t>(batches) * M * kBlocks);
  auto slot = [&](int64_t b, size_t m, size_t block) -> ScoreAccumulator& {
    return acc[(static_cast<size_t>(b) * M + m) * kBlocks + block];
  };
  const auto bands = horizon_bands(history.step_ms, options.horizon);
  std::atomic<int64_t> next{0}, done{0};
  std::exception_ptr error;
  std::mutex error_mutex;

  auto work = [&]() {
    try {
      std::vector<std::unique_ptr<forecast::Forecaster>> fc;
      for (const EvalModel& m : models) fc.push_back(m.causal_replay ? nullptr : m.make());
      std::vector<WindowView> windows;
      forecast::ForecastBatch out;
      for (int64_t b; (b = next.fetch_add(1)) < batches;) {
        const int64_t lo = b * options.batch, hi = std::min(total, lo + options.batch);
        windows.clear();
        for (int64_t i = lo; i < hi; ++i)
          windows.push_back(history_view(history, origins[i], options.context));
        for (size_t m = 0; m < models.size(); ++m) {
          if (models[m].causal_replay) continue;  // scored by replay_causally below
          fc[m]->forecast(windows, out);
          if (out.batch != static_cast<int>(windows.size()) || out.horizon < options.horizon)
            throw std::runtime_error(fmt::format(
                "forecaster '{}' returned {} windows × {} steps for {} windows × {} steps",
                models[m].name, out.batch, out.horizon, windows.size(), options.horizon));
          for (int64_t i = lo; i < hi; ++i) {
            const Origin& o = origins[i];
            const float* values = out.values.data() + (i - lo) * out.server_stride();
            const WindowView future = future_view(history, o, options.horizon);
            const uint8_t* observed = future_observed(history, o);
            score_forecast(values, out.horizon, future, observed, slot(b, m, 0), 0, options.horizon);
            for (int h = 0; h < kNumEvalHorizons; ++h)
              if (bands[h].end > 0)
                score_forecast(values, out.horizon, future, observed, slot(b, m, 1 + h),
                               bands[h].first, bands[h].end);
          }
        }
        const int64_t d = done.fetch_add(hi - lo) + (hi - lo);
        if (options.progress) options.progress(d, total);
      }
    } catch (...) {
      std::lock_guard lock(error_mutex);
      if (!error) error = std::current_exception();
      next.store(batches);  // stop the others early
    }
  };

  if (threads == 1) {
    work();
  } else {
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) pool.emplace_back(work);
    for (auto& t : pool) t.join();
  }
  if (error) std::rethrow_exception(error);

  std::vector<ScoreAccumulator> merged(M);
  std::vector<std::vector<ScoreAccumulator>> merged_h(kNumEvalHorizons, std::vector<ScoreAccumulator>(M));
  for (int64_t b = 0; b < batches; ++b)
    for (size_t m = 0; m < M; ++m) {
      merged[m] += slot(b, m, 0);
      for (int h = 0; h < kNumEvalHorizons; ++h) merged_h[h][m] += slot(b, m, 1 + h);
    }
  for (size_t m = 0; m < M; ++m) {
    if (!models[m].causal_replay) continue;
    const std::vector<ScoreAccumulator> replayed = replay_causally(history, origins, models[m], options);
    merged[m] = replayed[0];
    for (int h = 0; h < kNumEvalHorizons; ++h) merged_h[h][m] = replayed[1 + h];
  }
  std::vector<std::string> names;
  for (const EvalModel& m : models) names.push_back(m.name);
  return summarize(total, names, merged, merged_h);
}

}  // namespace nordiq::train
