#include "replay/alert_replay.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <unordered_map>

#include "serve/forecast_service.hpp"
#include "forecast/served_forecaster.hpp"
#include "store/fleet_store.hpp"
#include "train/model_source.hpp"

namespace nordiq::replay {

namespace {

// A private data dir, removed with everything in it when done.
struct ScratchDir {
  std::filesystem::path path;
  ScratchDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "nordiq-eval-alerts-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("eval alerts: cannot create a scratch data dir");
    path = pattern;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

// Quiets the per-cycle log lines (and the cascade warnings) while replaying thousands of cycles.
struct LogLevelGuard {
  spdlog::level::level_enum saved = spdlog::get_level();
  LogLevelGuard() { spdlog::set_level(spdlog::level::err); }
  ~LogLevelGuard() { spdlog::set_level(saved); }
};

// Where each server's series stands: segment and step within it (segments are in time order).
struct SeriesCursor {
  size_t segment = 0;
  int64_t step = 0;
};

// The records of step `t` of every server observed then, in one batch.
void step_batch(const train::History& h, EpochMs t, std::vector<SeriesCursor>& cursors, FeedBatch& batch) {
  batch.clear();
  for (size_t s = 0; s < h.servers.size(); ++s) {
    const train::ServerSeries& series = h.servers[s];
    SeriesCursor& c = cursors[s];
    while (c.segment < series.segments.size()) {
      const train::Segment& seg = series.segments[c.segment];
      if (c.step >= seg.length) {
        ++c.segment;
        c.step = 0;
        continue;
      }
      const EpochMs at = seg.first_step + c.step * h.step_ms;
      if (at > t) break;
      const int64_t column = seg.begin + c.step++;
      if (at < t || !series.observed[column]) continue;  // forward-filled steps are not records
      FeedRecord& r = batch.append(series.name, t, static_cast<Status>(series.status[column]),
                                   static_cast<int8_t>(series.profile));
      for (int k = 0; k < kNumMetrics; ++k) r.values[k] = series.metric[k][column];
    }
  }
}

}  // namespace

ReplayResult replay_history(const train::History& history, const ReplayOptions& options) {
  ScratchDir dir;
  LogLevelGuard quiet;
  StoreOptions so;
  so.data_dir = dir.path;
  so.retention_days = 0;  // keep everything: the history may be older than the retention
  so.window.step_seconds = static_cast<int>(history.step_ms / 1000);
  auto store = FleetStore::open(so);
  std::vector<ServerId> closed;
  store->on_steps_closed([&](std::span<const ServerId> ids) { closed.insert(closed.end(), ids.begin(), ids.end()); });

  const train::ModelSource model = train::open_model(options.model, options.threads);
  auto forecaster = std::make_unique<forecast::ServedForecaster>(model.make(), history.step_ms);
  serve::ModelStatus status;
  status.name = model.description;
  serve::ForecastService service(*store, std::move(forecaster), status, options.config);

  std::unordered_map<std::string, uint32_t> index;
  for (uint32_t s = 0; s < history.servers.size(); ++s) index[history.servers[s].name] = s;
  ReplayResult result;
  std::vector<AlertInterval>& out = result.alerts;
  std::map<std::pair<uint32_t, int>, AlertInterval> open;
  service.on_alert_events([&](std::span<const risk::AlertEvent> events) {
    for (const risk::AlertEvent& e : events) {
      const uint32_t s = index.at(e.state.server_name);
      const auto key = std::make_pair(s, static_cast<int>(e.state.alert.signal));
      if (e.kind == risk::AlertEventKind::opened) {
        open[key] = {s, e.state.alert.signal, e.at, 0, e.state.alert.likely};
      } else if (e.kind == risk::AlertEventKind::resolved) {
        auto it = open.find(key);
        if (it == open.end()) continue;
        it->second.resolved = e.at;
        out.push_back(it->second);
        open.erase(it);
      }
    }
  });

  std::map<uint64_t, DetectedCascade> open_cascades;  // by cascade id
  service.on_cascade_events([&](std::span<const cascade::CascadeEvent> events) {
    for (const cascade::CascadeEvent& e : events) {
      if (e.kind == cascade::CascadeEventKind::started) {
        DetectedCascade& d = open_cascades[e.cascade.id];
        d.source = e.cascade.source.server;
        d.started_at = e.cascade.started_at;
        d.detected_at = e.at;
        for (const auto& m : e.cascade.dependents) d.dependents.push_back(m.server);
      } else if (auto it = open_cascades.find(e.cascade.id); it != open_cascades.end()) {
        // Dependants named later in its life count too.
        for (const auto& m : e.cascade.dependents)
          if (std::find(it->second.dependents.begin(), it->second.dependents.end(), m.server) == it->second.dependents.end())
            it->second.dependents.push_back(m.server);
        it->second.ended_at = e.at;
        result.cascades.push_back(std::move(it->second));
        open_cascades.erase(it);
      }
    }
  });

  std::vector<SeriesCursor> cursor(history.servers.size());
  FeedBatch batch;
  const int64_t total = (history.last_step - history.first_step) / history.step_ms + 1;
  for (int64_t i = 0; i < total; ++i) {
    step_batch(history, history.first_step + i * history.step_ms, cursor, batch);
    if (batch.records.empty()) continue;
    store->ingest(batch);
    if (!closed.empty()) {
      service.run_cycle(closed);
      closed.clear();
    }
    if (options.progress) options.progress(i + 1, total);
  }
  const EpochMs end = history.last_step + history.step_ms;
  for (auto& [key, a] : open) {
    a.resolved = end;
    out.push_back(a);
  }
  for (auto& [id, c] : open_cascades) {
    c.ended_at = end;
    result.cascades.push_back(std::move(c));
  }
  return result;
}

}  // namespace nordiq::replay
