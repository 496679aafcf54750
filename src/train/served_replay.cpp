// nordiq eval's causal replay (the `served` column): what a daemon that had run over the history
// would have served at each origin, scored exactly like the other forecasters.
#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>

#include "forecast/served_forecaster.hpp"
#include "train/evaluator.hpp"

namespace nordiq::train {

namespace {

constexpr size_t kBlocks = 1 + kNumEvalHorizons;

// One server, every segment, every step in order; scores the forecasts made at its origins
// (`first`..`last`, ordered by segment then index) into acc[kBlocks].
void replay_server(const History& history, uint32_t server, std::span<const Origin> its_origins,
                   forecast::Forecaster& fc, const EvalOptions& options,
                   const std::array<StepBand, kNumEvalHorizons>& bands, ScoreAccumulator* acc) {
  const ServerSeries& s = history.servers[server];
  std::vector<WindowView> windows;
  std::vector<int64_t> index;
  forecast::ForecastBatch out;
  size_t next_origin = 0;
  for (uint32_t seg = 0; seg < s.segments.size(); ++seg) {
    const int64_t length = s.segments[seg].length;
    for (int64_t lo = 1; lo < length; lo += options.batch) {
      const int64_t hi = std::min(length, lo + options.batch);
      windows.clear();
      for (int64_t i = lo; i < hi; ++i) windows.push_back(history_view(history, {server, seg, i}, options.context));
      fc.forecast(windows, out);
      if (out.batch != static_cast<int>(windows.size()) || out.horizon < options.horizon)
        throw std::runtime_error(fmt::format("replayed forecaster returned {} windows × {} steps", out.batch, out.horizon));
      for (; next_origin < its_origins.size(); ++next_origin) {
        const Origin& o = its_origins[next_origin];
        if (o.segment != seg || o.index >= hi) break;
        if (o.index < lo) continue;  // cannot happen: origins have ≥ 1 step of history
        const float* values = out.values.data() + (o.index - lo) * out.server_stride();
        const WindowView future = future_view(history, o, options.horizon);
        const uint8_t* observed = future_observed(history, o);
        score_forecast(values, out.horizon, future, observed, acc[0], 0, options.horizon);
        for (int h = 0; h < kNumEvalHorizons; ++h)
          if (bands[h].valid())
            score_forecast(values, out.horizon, future, observed, acc[1 + h], bands[h].first, bands[h].end);
      }
    }
  }
}

}  // namespace

EvalModel served_model(std::function<std::unique_ptr<forecast::Forecaster>()> model, int64_t step_ms,
                       int horizon) {
  return {"served",
          [model = std::move(model), step_ms, horizon] {
            return std::make_unique<forecast::ServedForecaster>(model(), step_ms, horizon);
          },
          true};
}

std::vector<ScoreAccumulator> replay_causally(const History& history, std::span<const Origin> origins,
                                              const EvalModel& model, const EvalOptions& options) {
  const size_t servers = history.servers.size();
  // Each server's origins: a contiguous run, since origins are ordered by server.
  std::vector<std::pair<size_t, size_t>> runs(servers, {0, 0});
  for (size_t i = 0; i < origins.size();) {
    size_t j = i;
    while (j < origins.size() && origins[j].server == origins[i].server) ++j;
    runs[origins[i].server] = {i, j};
    i = j;
  }
  std::vector<ScoreAccumulator> per_server(servers * kBlocks);
  const auto bands = horizon_bands(history.step_ms, options.horizon);
  std::atomic<size_t> next{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto work = [&] {
    try {
      auto fc = model.make();
      for (size_t s; (s = next.fetch_add(1)) < servers;) {
        if (runs[s].first == runs[s].second) continue;  // no origin: nothing to score
        replay_server(history, static_cast<uint32_t>(s),
                      origins.subspan(runs[s].first, runs[s].second - runs[s].first), *fc, options, bands,
                      per_server.data() + s * kBlocks);
      }
    } catch (...) {
      std::lock_guard lock(error_mutex);
      if (!error) error = std::current_exception();
      next.store(servers);
    }
  };
  const int threads = static_cast<int>(std::clamp<size_t>(options.threads, 1, std::max<size_t>(servers, 1)));
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
  std::vector<ScoreAccumulator> merged(kBlocks);
  for (size_t s = 0; s < servers; ++s)
    for (size_t b = 0; b < kBlocks; ++b) merged[b] += per_server[s * kBlocks + b];
  return merged;
}

}  // namespace nordiq::train
