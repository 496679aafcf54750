// The forecast service (issue #3): when servers' steps close, ONE batched forecast for all of
// them on a worker thread (never one per server, never on a GET), then risk, alerts and the
// fleet summary; the result is published as an immutable snapshot swapped atomically, which
// every GET reads. Ingestion only enqueues ids (the store's step-closed callback) and never
// waits for a forecast; the cycle holds the store's shared lock only while it copies the
// windows of its servers (gather_views), so a POST that closes a step never waits for a cycle's
// fits or network. Its threads run at a lower CPU priority (core/thread_priority.hpp).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "cascade/cascade_detector.hpp"
#include "core/latency_histogram.hpp"
#include "forecast/forecaster.hpp"
#include "forecast/served_forecaster.hpp"
#include "risk/alert_config.hpp"
#include "risk/alert_store.hpp"
#include "risk/alert_tracker.hpp"
#include "risk/fleet_summary.hpp"
#include "store/fleet_store.hpp"

namespace nordiq::serve {

// Servers forecast together in one part of a cycle (serve/forecast_service.cpp, run_cycle).
inline constexpr size_t kCycleChunk = 512;

// One server's forecast as published; immutable once in a snapshot. JSON fragments are rendered
// once on the worker thread so that GETs only concatenate them.
// One server's row of the TFT's interpretation (forecast::Interpretation), kept for /explain.
struct ServerInterpretation {
  forecast::InputSet inputs = forecast::InputSet::decoder;  // names: forecast::input_contract(inputs)
  std::vector<float> static_importance, encoder_importance, decoder_importance;
  std::vector<float> attention;  // over the server's own encoder steps, oldest first, ending at last_step
};

struct ServerForecast {
  ServerId id = 0;
  std::string_view name;  // owned by the store, stable for its lifetime
  Profile profile = Profile::generic;
  forecast::ModelKind model = forecast::ModelKind::baseline;
  int steps = 0;  // closed steps in the window when forecast
  EpochMs last_step = 0;
  int64_t step_ms = 0;
  std::array<float, kNumMetrics> current{};
  risk::RiskAssessment risk;
  std::vector<risk::Alert> alerts;  // alerts true at this forecast
  risk::ThresholdEtas threshold_etas{};  // minutes to each signal's threshold per path (GET /metrics)
  int horizon = 0;
  // [K][Q][horizon]: a slice of one block that a cycle chunk's servers share, kept alive by
  // `values_block`. One large allocation on huge pages instead of a fresh 37 KB vector per server
  // (ForecastService::assess_servers): their 4 KiB page faults were ~4 % of a cycle's CPU.
  std::span<const float> values;
  std::shared_ptr<const float[]> values_block;
  // Whether `values_block` and `text_block` hold other servers' paths and JSON too (its cycle
  // chunk's, its renderer's). A forecast carried into a later snapshot (its server was not forecast
  // again) gets blocks of its own, so that a server that stopped reporting does not keep whole
  // blocks (~19 MB of paths per 512 servers, 4 MiB of JSON) alive for ever.
  bool shares_blocks = false;
  // Gives a forecast its own copy of v as its values (forecasts built alone: tests, tools).
  void own_values(std::span<const float> v);
  // Gives a forecast its own copies of its paths and its rendered head and series, so that it holds
  // no block shared with other servers (a forecast carried into a later snapshot).
  void leave_shared_blocks();
  // Which forecaster serves each metric and horizon band, and how the server's served forecasts
  // have scored so far (forecast/skill_tracker.hpp); `served` is false without the tracker.
  bool served = false;
  std::array<std::array<uint8_t, forecast::kNumEvalHorizons>, kNumMetrics> served_by{};
  forecast::ServerBands skill{};
  std::shared_ptr<const ServerInterpretation> interpretation;  // null: not a TFT forecast

  // Rendered JSON: `head` = the object's members before "forecast" (no braces),
  // `timestamps` = the 96-string array (shared by the servers whose last step is the same),
  // `series` holds the [K][Q] arrays of the fleet-wide quantiles (p10, p50, p90), sliced by
  // `spans`. A compact snapshot: the other four quantiles (p02, p25, p75, p98: ~33 KB of JSON per
  // server) are rendered from `values` when a request asks for them (api/predictions_json.hpp).
  // `head` and `series` are slices of one block that the servers rendered on a thread share
  // (core/shared_arena.hpp), kept alive by `text_block`.
  std::string_view head, series;
  std::shared_ptr<const char[]> text_block;
  std::shared_ptr<const std::string> timestamps;
  std::array<std::pair<uint32_t, uint32_t>, kNumMetrics * forecast::kNumQuantiles> spans{};  // length 0: not rendered
  // The server's entry ("name":{...}) of the full GET /predictions/current as raw deflate ending
  // on a byte boundary, with the entry's CRC-32 and length: made on the forecaster's threads while
  // readers ask for gzip, so a cycle's gzip body is assembled, not compressed (api/gzip_pieces.hpp).
  // Empty: not made.
  std::string gzip_entry;
  uint32_t gzip_entry_crc = 0, gzip_entry_bytes = 0;

  const float* path(int k, int q) const {
    return values.data() + (static_cast<size_t>(k) * forecast::kNumQuantiles + q) * horizon;
  }
  // The rendered array of (k, q); empty when that quantile is rendered on demand.
  std::string_view series_json(int k, int q) const {
    const auto& s = spans[k * forecast::kNumQuantiles + q];
    return std::string_view(series).substr(s.first, s.second);
  }
};

struct PredictionSnapshot {
  uint64_t cycle = 0;
  EpochMs computed_at = 0;  // wall clock of the cycle
  EpochMs latest_step = 0;  // newest closed step over the fleet
  double cycle_seconds = 0;
  std::vector<std::shared_ptr<const ServerForecast>> by_id;  // index = ServerId (null: none yet)
  std::vector<ServerId> order;                                // forecast servers, by name
  risk::FleetSummary summary;
  std::vector<risk::TrackedAlert> open_alerts;  // most urgent first
  int servers_tft = 0, servers_baseline = 0;
  // The fleet's forecast accuracy by metric and horizon band (null without the tracker).
  std::shared_ptr<const forecast::DriftSummary> drift;
  // Correlated degradation across the fleet at this cycle (cascade/cascade_detector.hpp).
  std::shared_ptr<const cascade::CascadeStatus> cascade;

  const ServerForecast* find(ServerId id) const {
    return id < by_id.size() ? by_id[id].get() : nullptr;
  }
};

struct ModelStatus {
  std::string name = "baseline";  // what /status and /predictions report
  bool tft_loaded = false;
  std::string detail;  // why the baseline is used, or the model's provenance
  nlohmann::json info = nlohmann::json::object();
};

class ForecastService {
 public:
  ForecastService(FleetStore& store, std::unique_ptr<forecast::Forecaster> forecaster,
                  ModelStatus model, risk::AlertConfig alerts = risk::default_alert_config());
  ~ForecastService();

  // Restores open alerts, runs a first cycle for every restored server, subscribes to the
  // store's step-closed notification and starts the worker. Call once, before serving.
  void start();
  void stop();  // idempotent; the worker finishes its current cycle

  std::shared_ptr<const PredictionSnapshot> snapshot() const;
  // Blocks until every step closed so far has been forecast (tests, benchmarks).
  void wait_idle();
  // Runs one cycle synchronously on the calling thread (tests, benchmarks, start-up). `servers`
  // holds distinct ids (per-server work runs on several threads).
  void run_cycle(std::span<const ServerId> servers);

  // Called on the cycle's thread with each cycle's alert events (after they are recorded); set
  // before start(). `nordiq eval alerts` scores them.
  void on_alert_events(std::function<void(std::span<const risk::AlertEvent>)> callback) {
    on_alert_events_ = std::move(callback);
  }
  // Called on the cycle's thread with each cycle's cascade starts and ends; set before start().
  void on_cascade_events(std::function<void(std::span<const cascade::CascadeEvent>)> callback) {
    on_cascade_events_ = std::move(callback);
  }
  // Called on the cycle's thread after each cycle is published, with its snapshot and alert
  // events (the Alertmanager notifier); keep it short. Set before start().
  using CycleListener = std::function<void(const PredictionSnapshot&, std::span<const risk::AlertEvent>)>;
  void add_cycle_listener(CycleListener listener) { cycle_listeners_.push_back(std::move(listener)); }
  // Called on the cycle's thread with each new snapshot just before it is published: readers
  // still get the previous one meanwhile (the response bodies rendered ahead, api/body_cache.hpp,
  // so that no request waits for them). Set before start().
  using PublishPreparer = std::function<void(const std::shared_ptr<const PredictionSnapshot>&)>;
  void add_publish_preparer(PublishPreparer prepare) { publish_preparers_.push_back(std::move(prepare)); }
  // Called on the forecaster's threads with each new ServerForecast before it is published, to
  // render what GETs serve (api/predictions_json.hpp); none: nothing rendered (the eval replay).
  // Set before start().
  using Renderer = std::function<void(ServerForecast&)>;
  void set_renderer(Renderer renderer) { renderer_ = std::move(renderer); }
  const risk::AlertConfig& alert_config() const { return alert_config_; }

  risk::AlertStore& alert_store() { return *alert_store_; }
  FleetStore& store() const { return store_; }
  // What is being served (a copy: a hot reload may replace it at any time).
  ModelStatus model() const {
    std::lock_guard lock(model_mutex_);
    return model_;
  }
  // Hot reload (SPEC §2.4): waits for a running cycle to end, then serves `model` from the next
  // one. The served forecaster keeps its classical candidates and restarts its scoring
  // (forecast::SkillTracker::restart_scoring): the errors it measured belong to the old model.
  void replace_model(std::unique_ptr<forecast::Forecaster> model, ModelStatus status);
  const LatencyHistogram& cycle_latency() const { return cycle_latency_; }
  uint64_t cycles() const { return cycles_.load(std::memory_order_relaxed); }
  // Steps of window the cycle's copies have room for (the largest chunk times the store's capacity);
  // read it between cycles.
  size_t window_copy_steps() const { return window_status_.size(); }
  uint64_t forecasts(forecast::ModelKind m) const {
    return forecasts_[static_cast<int>(m)].load(std::memory_order_relaxed);
  }
  uint64_t alert_events(risk::AlertEventKind k) const {
    return alert_events_[static_cast<int>(k)].load(std::memory_order_relaxed);
  }
  uint64_t cycle_errors() const { return cycle_errors_.load(std::memory_order_relaxed); }

 private:
  void enqueue(std::span<const ServerId> ids);
  void worker_loop();
  // Server b of the batch, whose meta_ entry is meta_[first + b].
  // Its values are copied into values_block at row b.
  std::shared_ptr<ServerForecast> build_server(const forecast::ForecastBatch& batch, int b, size_t first,
                                               const std::shared_ptr<float[]>& values_block);
  // The phases of run_cycle, in order. The first three run per chunk of kCycleChunk servers, so
  // the batch buffers (network inputs and outputs, ~150 KiB a server) hold one chunk, not the fleet.
  void gather_views(std::span<const ServerId> servers);  // appends to meta_
  void size_window_copies(size_t servers);  // before the lock: room for a chunk's longest windows
  void copy_windows();  // re-points views_ at window_values_ / window_status_
  void assess_servers(size_t first, std::vector<std::shared_ptr<ServerForecast>>& fresh);
  void track_alerts_and_cascades(std::span<const ServerId> forecast_ids);
  std::shared_ptr<PredictionSnapshot> next_snapshot(std::vector<std::shared_ptr<ServerForecast>> fresh, EpochMs now);
  void persist_and_publish(std::shared_ptr<PredictionSnapshot> snap, std::span<const ServerId> forecast_ids,
                           EpochMs now, std::chrono::steady_clock::time_point started);

  FleetStore& store_;
  std::unique_ptr<forecast::Forecaster> forecaster_;
  forecast::ServedForecaster* served_ = nullptr;  // forecaster_ when it is the served one
  std::mutex cycle_mutex_;          // held through run_cycle: a model swap happens between cycles
  mutable std::mutex model_mutex_;  // guards model_
  ModelStatus model_;
  risk::AlertConfig alert_config_;
  std::unique_ptr<risk::AlertStore> alert_store_;
  risk::AlertTracker tracker_;
  std::function<void(std::span<const risk::AlertEvent>)> on_alert_events_;
  std::function<void(std::span<const cascade::CascadeEvent>)> on_cascade_events_;
  Renderer renderer_;
  std::vector<CycleListener> cycle_listeners_;
  std::vector<PublishPreparer> publish_preparers_;
  cascade::CascadeDetector cascade_;
  std::vector<cascade::CascadeEvent> cascade_events_;
  std::vector<EpochMs> step_end_;  // per ServerId: the data time of this cycle's forecast
  std::vector<std::string_view> name_of_;  // per ServerId: its name (owned by the store, stable)

  // Cycle scratch, reused (worker thread only).
  forecast::ForecastBatch batch_;
  std::vector<WindowView> views_;
  struct Meta {
    ServerId id;
    std::string_view name;
    int steps;
    EpochMs last_step;
    std::array<float, kNumMetrics> current;
    Profile profile;
    int64_t step_ms;
    std::array<float, risk::kNumSignals> over_share{};  // of the window's steps at or over each threshold
  };
  std::vector<Meta> meta_;
  // First contact: the open step's averages of servers with no closed step, one per server of
  // the cycle (sized before any view points into it).
  struct OpenStep {
    std::array<float, kNumMetrics> values{};
    uint8_t status = 0;
  };
  std::vector<OpenStep> open_values_;
  // The chunk's windows, copied out under the store's lock (gather_views): metric-major per server.
  std::vector<float> window_values_;
  std::vector<uint8_t> window_status_;
  std::vector<risk::Alert> alerts_scratch_;
  std::vector<risk::AlertEvent> events_scratch_;

  mutable std::mutex snapshot_mutex_;
  std::shared_ptr<const PredictionSnapshot> snapshot_;

  std::mutex queue_mutex_;
  std::condition_variable queue_cv_, idle_cv_;
  std::vector<ServerId> pending_;
  std::vector<uint8_t> pending_mark_;
  bool busy_ = false;
  bool stopping_ = false;
  std::thread worker_;
  bool started_ = false;

  LatencyHistogram cycle_latency_;
  std::atomic<uint64_t> cycles_{0}, cycle_errors_{0};
  std::array<std::atomic<uint64_t>, 2> forecasts_{};
  std::array<std::atomic<uint64_t>, 4> alert_events_{};
  EpochMs next_prune_ = 0;
};

}  // namespace nordiq::serve
