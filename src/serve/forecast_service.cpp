#include "serve/forecast_service.hpp"

#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <spdlog/spdlog.h>

#include "core/huge_pages.hpp"
#include "core/thread_priority.hpp"
#include "risk/risk_score.hpp"

namespace nordiq::serve {

namespace {
constexpr int64_t kPruneEveryMs = 3'600'000;
}  // namespace

ForecastService::ForecastService(FleetStore& store, std::unique_ptr<forecast::Forecaster> forecaster,
                                 ModelStatus model, risk::AlertConfig alerts)
    : store_(store),
      forecaster_(std::move(forecaster)),
      served_(dynamic_cast<forecast::ServedForecaster*>(forecaster_.get())),
      model_(std::move(model)),
      alert_config_(alerts),
      alert_store_(std::make_unique<risk::AlertStore>(store.database())),
      tracker_(alerts.policy),
      snapshot_(std::make_shared<PredictionSnapshot>()) {}

ForecastService::~ForecastService() { stop(); }

void ForecastService::start() {
  if (started_) return;
  started_ = true;
  // Open alerts survive restarts: put them back before the first cycle sees them again.
  std::vector<risk::AlertEvent> orphans;
  for (risk::TrackedAlert& t : alert_store_->load_open()) {
    const auto id = store_.windows().read([&](const WindowStore& w) { return w.find(t.server_name); });
    if (id) {
      t.alert.server = *id;
      tracker_.restore(std::move(t));
    } else {  // the server is gone from the store (pruned): close its alert for the record
      orphans.push_back({risk::AlertEventKind::resolved, now_ms(), t.alert.level, std::move(t)});
    }
  }
  if (!orphans.empty()) alert_store_->record_cycle(orphans, nullptr, {});
  spdlog::info("forecast: model {} ({}); {} open alerts restored", model_.name, model_.detail,
               tracker_.open_count());

  std::vector<ServerId> all(store_.windows().server_count());
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<ServerId>(i);
  if (!all.empty()) run_cycle(all);

  store_.on_steps_closed([this](std::span<const ServerId> ids) { enqueue(ids); });
  worker_ = std::thread([this] { worker_loop(); });
}

void ForecastService::stop() {
  {
    std::lock_guard lock(queue_mutex_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  idle_cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

std::shared_ptr<const PredictionSnapshot> ForecastService::snapshot() const {
  std::lock_guard lock(snapshot_mutex_);
  return snapshot_;
}

void ForecastService::enqueue(std::span<const ServerId> ids) {
  {
    std::lock_guard lock(queue_mutex_);
    for (ServerId id : ids) {
      if (id >= pending_mark_.size()) pending_mark_.resize(static_cast<size_t>(id) + 1, 0);
      if (!pending_mark_[id]) {
        pending_mark_[id] = 1;
        pending_.push_back(id);
      }
    }
  }
  queue_cv_.notify_one();
}

void ForecastService::wait_idle() {
  std::unique_lock lock(queue_mutex_);
  idle_cv_.wait(lock, [&] { return stopping_ || (pending_.empty() && !busy_); });
}

void ForecastService::worker_loop() {
  name_this_thread("nordiq-forecast");
  if (!enter_batch_priority()) spdlog::warn("forecast: could not lower the cycle's CPU priority to nice {}", batch_nice());
  std::vector<ServerId> batch;
  std::unique_lock lock(queue_mutex_);
  for (;;) {
    queue_cv_.wait(lock, [&] { return stopping_ || !pending_.empty(); });
    if (stopping_) break;
    batch.swap(pending_);
    pending_.clear();
    for (ServerId id : batch) pending_mark_[id] = 0;
    busy_ = true;
    lock.unlock();
    try {
      run_cycle(batch);
    } catch (const std::exception& e) {
      cycle_errors_.fetch_add(1, std::memory_order_relaxed);
      spdlog::error("forecast cycle failed for {} servers: {}", batch.size(), e.what());
    }
    lock.lock();
    busy_ = false;
    if (pending_.empty()) idle_cv_.notify_all();
  }
}

namespace {
std::shared_ptr<const ServerInterpretation> interpretation_row(const forecast::Interpretation& ip, int b) {
  if (static_cast<size_t>(b) >= ip.present.size() || !ip.present[b]) return nullptr;
  auto row = [](const std::vector<float>& v, int width, int i, int count) {
    const float* p = v.data() + static_cast<size_t>(i) * width;
    return std::vector<float>(p, p + count);
  };
  auto out = std::make_shared<ServerInterpretation>();
  out->inputs = ip.inputs;
  out->static_importance = row(ip.static_importance, ip.static_vars, b, ip.static_vars);
  out->encoder_importance = row(ip.encoder_importance, ip.encoder_vars, b, ip.encoder_vars);
  out->decoder_importance = row(ip.decoder_importance, ip.decoder_vars, b, ip.decoder_vars);
  out->attention = row(ip.attention, ip.encoder_steps, b, ip.encoder_length[b]);
  return out;
}
}  // namespace

void ServerForecast::own_values(std::span<const float> v) {
  std::shared_ptr<float[]> block(new float[v.size()]);
  std::copy(v.begin(), v.end(), block.get());
  values = std::span<const float>(block.get(), v.size());
  values_block = std::move(block);
}

void ServerForecast::leave_shared_blocks() {
  own_values(values);
  std::shared_ptr<char[]> block(new char[head.size() + series.size()]);
  std::copy(head.begin(), head.end(), block.get());
  std::copy(series.begin(), series.end(), block.get() + head.size());
  head = std::string_view(block.get(), head.size());
  series = std::string_view(block.get() + head.size(), series.size());
  text_block = std::move(block);
  shares_blocks = false;
}

std::shared_ptr<ServerForecast> ForecastService::build_server(const forecast::ForecastBatch& batch, int b, size_t first,
                                                              const std::shared_ptr<float[]>& values_block) {
  const Meta& m = meta_[first + static_cast<size_t>(b)];
  auto sf = std::make_shared<ServerForecast>();
  sf->id = m.id;
  sf->name = m.name;
  sf->profile = m.profile;
  sf->model = batch.model[b];
  sf->steps = m.steps;
  sf->last_step = m.last_step;
  sf->step_ms = m.step_ms;
  sf->current = m.current;
  sf->horizon = batch.horizon;
  const size_t stride = batch.server_stride();
  float* values = values_block.get() + static_cast<size_t>(b) * stride;
  std::memcpy(values, batch.values.data() + static_cast<size_t>(b) * stride, stride * sizeof(float));
  sf->values = std::span<const float>(values, stride);
  sf->values_block = values_block;
  sf->shares_blocks = true;
  if (served_ && !batch.served_by.empty()) {
    sf->served = true;
    const uint8_t* by = batch.served_by.data() + static_cast<size_t>(b) * kNumMetrics * forecast::kNumEvalHorizons;
    for (int k = 0; k < kNumMetrics; ++k)
      std::copy(by + k * forecast::kNumEvalHorizons, by + (k + 1) * forecast::kNumEvalHorizons, sf->served_by[k].begin());
    if (const forecast::ServerBands* skill = served_->tracker().find(m.id)) sf->skill = *skill;
  }
  sf->interpretation = interpretation_row(batch.interpretation, b);

  // Risk reads only the latest step: a one-step view over the copied current values.
  WindowView now_view;
  now_view.server = m.id;
  now_view.profile = sf->profile;
  now_view.length = 1;
  now_view.first_step = m.last_step;
  now_view.step_ms = sf->step_ms;
  for (int k = 0; k < kNumMetrics; ++k) now_view.metric[k] = &sf->current[k];
  sf->risk = risk::assess_risk(now_view, batch, b);
  const float* thresholds = alert_config_.thresholds_for(sf->profile);
  sf->threshold_etas = risk::time_to_thresholds(now_view, batch, b, thresholds);
  if (served_) {
    // Alerts also continue the climbs seen earlier than the served forecast trusts them.
    thread_local forecast::ForecastBatch outlook;
    risk::detect_alerts_with_climbs(now_view, batch, b, sf->risk, sf->threshold_etas, served_->alert_ramps(b), outlook,
                                    sf->alerts, alert_config_.rules, m.steps, thresholds);
  } else {
    risk::detect_alerts(now_view, batch, b, sf->risk, sf->threshold_etas, sf->alerts, alert_config_.rules, m.steps,
                        thresholds);
  }
  risk::drop_routine_alerts(sf->alerts, m.over_share, alert_config_.rules);
  if (renderer_) renderer_(*sf);
  return sf;
}

void ForecastService::replace_model(std::unique_ptr<forecast::Forecaster> model, ModelStatus status) {
  std::lock_guard cycle(cycle_mutex_);
  if (served_) {
    served_->replace_model(std::move(model));
  } else {
    forecaster_ = std::move(model);
  }
  std::lock_guard lock(model_mutex_);
  model_ = std::move(status);
}

// One cycle, in the phases below: copies of the servers' windows under the store's lock, the
// forecaster's prepare and the model without it, risk and the alert lifecycle, the new snapshot,
// then persist and publish.
void ForecastService::run_cycle(std::span<const ServerId> servers) {
  std::lock_guard cycle(cycle_mutex_);
  const auto t0 = std::chrono::steady_clock::now();
  const EpochMs now = now_ms();
  meta_.clear();
  alerts_scratch_.clear();
  std::vector<std::shared_ptr<ServerForecast>> fresh;
  fresh.reserve(servers.size());
  for (size_t begin = 0; begin < servers.size(); begin += kCycleChunk) {
    const size_t first = meta_.size();
    gather_views(servers.subspan(begin, std::min(kCycleChunk, servers.size() - begin)));
    forecaster_->run(batch_);
    assess_servers(first, fresh);
  }
  std::vector<ServerId> forecast_ids(meta_.size());
  for (size_t i = 0; i < meta_.size(); ++i) forecast_ids[i] = meta_[i].id;
  track_alerts_and_cascades(forecast_ids);
  auto snap = next_snapshot(std::move(fresh), now);
  persist_and_publish(std::move(snap), forecast_ids, now, t0);
}

// Phase 1. Under the store's shared lock: the views, and a copy of each window's columns (one
// memcpy per column, ~17 KB a server, ~1 ms for 500). Ingest needs the exclusive lock to close a
// step; when the forecaster's prepare (features, robust fits: ~400 ms for 500 servers in a cycle
// that refits their hourly shapes) ran under it, every POST that closed a step during a cycle
// waited for it (`nordiq bench`: feed p99 38–40 ms against a p50 of 6). Then, without the lock,
// everything the forecaster and the cycle read from the windows, on the copies.
void ForecastService::gather_views(std::span<const ServerId> servers) {
  views_.clear();
  const size_t first = meta_.size();
  // A server with no closed step yet is forecast from its open step's averages (first contact):
  // a one-step view over `open_values_`, which must not reallocate while the views point into it.
  open_values_.resize(servers.size());
  size_t open_used = 0;
  size_window_copies(servers.size());
  store_.windows().read([&](const WindowStore& w) {
    for (ServerId id : servers) {
      WindowView v = w.view(id);
      const int closed_steps = v.length;  // 0 for a first-contact forecast from the open step
      if (v.length <= 0) {
        const std::optional<StepAggregate> open = w.open_step(id);
        if (!open || open->count == 0) continue;
        OpenStep& o = open_values_[open_used++];
        for (int k = 0; k < kNumMetrics; ++k) {
          o.values[k] = static_cast<float>(open->mean(k));
          v.metric[k] = &o.values[k];
        }
        o.status = static_cast<uint8_t>(open->worst);
        v.status = &o.status;
        v.length = 1;
        v.first_step = open->step_start;
      }
      views_.push_back(v);
      meta_.push_back(Meta{id, w.name(id), closed_steps, v.last_step(), {}, v.profile, v.step_ms});
    }
    copy_windows();
  });
  // Per server and independent of the others (the cascade detector's tracks are per server once
  // sized): on the forecaster's threads. On the cycle's thread alone the detector's baselines were
  // ~1 % of a 500-server cycle's CPU while the other thread waited.
  ServerId largest = 0;
  for (size_t i = first; i < meta_.size(); ++i) largest = std::max(largest, meta_[i].id);
  if (meta_.size() > first) cascade_.reserve(static_cast<size_t>(largest) + 1);
  forecast::each_row(forecaster_->for_each_row(), static_cast<int>(meta_.size() - first), [&](int j) {
    Meta& m = meta_[first + static_cast<size_t>(j)];
    const WindowView& v = views_[static_cast<size_t>(j)];
    if (m.steps > 0) cascade_.observe(m.id, m.name, v);
    for (int k = 0; k < kNumMetrics; ++k) m.current[k] = v.metric[k][v.length - 1];
    if (m.steps > 0 && alert_config_.rules.routine_over_share < 1.0f) {
      const float* thresholds = alert_config_.thresholds_for(v.profile);
      for (int s = 0; s < risk::kNumSignals; ++s)
        m.over_share[s] = static_cast<float>(risk::share_over_threshold(static_cast<risk::Signal>(s), v, thresholds[s]));
    }
  });
  forecaster_->prepare(views_, batch_);
}

// Room for every window of a chunk of `servers` at its longest (the store keeps at most
// `capacity` steps a server), made before the store's lock is taken: grown under it (a new
// daemon's first two cycles, then a larger chunk), the copies' fresh pages were faulted in while
// every POST that closes a step waited, 28–30 ms at 500 servers against ~1.5 ms in later cycles.
// They grow to the largest chunk and stay there.
void ForecastService::size_window_copies(size_t servers) {
  const size_t steps = servers * static_cast<size_t>(store_.windows().config().capacity);
  if (window_status_.size() >= steps) return;
  window_values_.resize(steps * kNumMetrics);  // value-initialised: its pages are touched here
  window_status_.resize(steps);
}

void ForecastService::copy_windows() {
  size_t steps = 0;
  for (const WindowView& v : views_) steps += static_cast<size_t>(v.length);
  // Sized by size_window_copies, before the lock; this only guards that bound.
  if (window_status_.size() < steps) {
    window_values_.resize(steps * kNumMetrics);
    window_status_.resize(steps);
  }
  float* values = window_values_.data();
  uint8_t* status = window_status_.data();
  for (WindowView& v : views_) {
    const auto n = static_cast<size_t>(v.length);
    for (int k = 0; k < kNumMetrics; ++k) {
      std::memcpy(values, v.metric[k], n * sizeof(float));
      v.metric[k] = values;
      values += n;
    }
    if (v.status) std::memcpy(status, v.status, n);
    v.status = status;
    status += n;
  }
}

// Phase 3: each forecast server's risk, alerts and rendered fragments.
void ForecastService::assess_servers(size_t first, std::vector<std::shared_ptr<ServerForecast>>& fresh) {
  const int n = static_cast<int>(meta_.size() - first);
  const size_t base = fresh.size();
  fresh.resize(base + static_cast<size_t>(n));
  // The chunk's forecast paths, one block the snapshot keeps (ServerForecast::values). Each
  // cycle's is fresh memory (the previous snapshot's went back to the system: malloc_trim below),
  // so it asks for huge pages: 500 servers' 19 MB fault in 2 MiB at a time, not 4 KiB.
  const size_t block_floats = static_cast<size_t>(n) * batch_.server_stride();
  const std::shared_ptr<float[]> values_block(new float[block_floats]);
  advise_huge_pages(values_block.get(), block_floats * sizeof(float));
  // build_server reads the batch and the configuration and writes only its own server: on the
  // forecaster's threads when it has them (risk and the rendered JSON are per server)
  const auto build = [&](int b) { fresh[base + static_cast<size_t>(b)] = build_server(batch_, b, first, values_block); };
  forecast::each_row(forecaster_->for_each_row(), n, build);
  for (int b = 0; b < n; ++b) {
    const ServerForecast& sf = *fresh[base + static_cast<size_t>(b)];
    alerts_scratch_.insert(alerts_scratch_.end(), sf.alerts.begin(), sf.alerts.end());
    forecasts_[static_cast<int>(batch_.model[b])].fetch_add(1, std::memory_order_relaxed);
  }
}

// Phase 4: the alert lifecycle and fleet cascades, in data time.
void ForecastService::track_alerts_and_cascades(std::span<const ServerId> forecast_ids) {
  events_scratch_.clear();
  // Events carry the data time of their server's step (its end: when the forecast could be made),
  // not the wall clock: a backfill of last week is last week's alerts.
  for (size_t i = 0; i < meta_.size(); ++i) {
    const ServerId id = meta_[i].id;
    if (id >= step_end_.size()) {
      step_end_.resize(static_cast<size_t>(id) + 1, 0);
      name_of_.resize(static_cast<size_t>(id) + 1);
    }
    step_end_[id] = meta_[i].last_step + meta_[i].step_ms;
    name_of_[id] = meta_[i].name;
  }
  // Names by id, not by a scan of meta_: when a whole fleet opens alerts at once (a shared
  // dependency fails) a scan per opening is quadratic in the fleet.
  tracker_.update(forecast_ids, alerts_scratch_, [&](ServerId id) { return step_end_[id]; },
                  [&](ServerId id) { return id < name_of_.size() ? std::string(name_of_[id]) : std::string(); },
                  events_scratch_);

  EpochMs data_now = 0;
  for (ServerId id : forecast_ids) data_now = std::max(data_now, step_end_[id]);
  cascade_events_.clear();
  if (!forecast_ids.empty()) cascade_.evaluate(data_now, cascade_events_);
  for (const auto& e : cascade_events_)
    spdlog::warn("cascade {}: source {} ({}), {} dependants, correlation {:.2f}",
                 e.kind == cascade::CascadeEventKind::started ? "started" : "ended", e.cascade.source.server,
                 profile_id(e.cascade.source.profile), e.cascade.dependents.size(), e.cascade.correlation);
}

// Phase 5: the new snapshot: the previous one's servers, with this cycle's replaced.
std::shared_ptr<PredictionSnapshot> ForecastService::next_snapshot(std::vector<std::shared_ptr<ServerForecast>> fresh,
                                                                   EpochMs now) {
  const auto previous = snapshot();
  auto snap = std::make_shared<PredictionSnapshot>();
  snap->cycle = previous->cycle + 1;
  snap->computed_at = now;
  snap->by_id = previous->by_id;
  bool new_server = false;
  for (auto& sf : fresh) {
    if (sf->id >= snap->by_id.size()) snap->by_id.resize(static_cast<size_t>(sf->id) + 1);
    new_server |= snap->by_id[sf->id] == nullptr;
    snap->by_id[sf->id] = std::move(sf);
  }
  // A forecast carried over from the previous snapshot (its server was not forecast this cycle)
  // leaves the blocks it shares for its own, once: the rest of those blocks then goes when their
  // other servers' forecasts are replaced. A server that stopped reporting (an autoscaling group's
  // replaced instance) would otherwise hold ~19 MB for as long as the daemon runs.
  for (size_t i = 0; i < previous->by_id.size(); ++i) {
    std::shared_ptr<const ServerForecast>& sf = snap->by_id[i];
    if (!sf || sf != previous->by_id[i] || !sf->shares_blocks) continue;
    auto own = std::make_shared<ServerForecast>(*sf);
    own->leave_shared_blocks();
    sf = std::move(own);
  }
  if (new_server || previous->order.empty()) {
    for (size_t i = 0; i < snap->by_id.size(); ++i)
      if (snap->by_id[i]) snap->order.push_back(static_cast<ServerId>(i));
    std::sort(snap->order.begin(), snap->order.end(),
              [&](ServerId a, ServerId b) { return snap->by_id[a]->name < snap->by_id[b]->name; });
  } else {
    snap->order = previous->order;
  }
  std::vector<risk::ServerOutlook> outlooks;
  outlooks.reserve(snap->order.size());
  for (ServerId id : snap->order) {
    const ServerForecast& sf = *snap->by_id[id];
    outlooks.push_back({sf.risk.score, sf.risk.level, risk::earliest_p90_eta(sf.alerts)});
    snap->latest_step = std::max(snap->latest_step, sf.last_step);
    (sf.model == forecast::ModelKind::tft ? snap->servers_tft : snap->servers_baseline)++;
  }
  snap->summary = risk::summarize_fleet(outlooks);
  snap->drift = served_ ? std::make_shared<const forecast::DriftSummary>(forecast::summarize_drift(served_->tracker()))
                        : previous->drift;
  snap->open_alerts = tracker_.open_alerts();
  snap->cascade = std::make_shared<const cascade::CascadeStatus>(cascade_.status());
  return snap;
}

// Phase 6: persist (events, one fleet snapshot per step, per-server risk), then publish.
void ForecastService::persist_and_publish(std::shared_ptr<PredictionSnapshot> snap,
                                          std::span<const ServerId> forecast_ids, EpochMs now,
                                          std::chrono::steady_clock::time_point started) {
  std::vector<risk::ServerRiskRow> risk_rows;
  risk_rows.reserve(forecast_ids.size());
  for (ServerId id : forecast_ids) {
    const ServerForecast& sf = *snap->by_id[id];
    risk_rows.push_back({sf.name, sf.last_step, sf.risk.score, sf.risk.level, sf.risk.driver, sf.model});
  }
  int opened = 0, resolved = 0;
  for (const auto& e : events_scratch_) {
    alert_events_[static_cast<int>(e.kind)].fetch_add(1, std::memory_order_relaxed);
    opened += e.kind == risk::AlertEventKind::opened;
    resolved += e.kind == risk::AlertEventKind::resolved;
  }
  try {
    risk::FleetSnapshotRow row{snap->latest_step, now, snap->summary,
                               static_cast<int>(snap->open_alerts.size())};
    alert_store_->record_cycle(events_scratch_, snap->order.empty() ? nullptr : &row, risk_rows);
    // Alert events, fleet snapshots and risk rows are kept as long as the records (--retention-days).
    if (const int days = store_.options().retention_days; days > 0 && now >= next_prune_) {
      alert_store_->prune(now - int64_t{days} * 86'400'000);
      next_prune_ = now + kPruneEveryMs;
    }
  } catch (const std::exception& e) {
    cycle_errors_.fetch_add(1, std::memory_order_relaxed);
    spdlog::error("forecast: cannot record alerts/fleet history: {}", e.what());
  }
  if (on_alert_events_ && !events_scratch_.empty()) on_alert_events_(events_scratch_);
  if (on_cascade_events_ && !cascade_events_.empty()) on_cascade_events_(cascade_events_);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  snap->cycle_seconds = seconds;
  const std::shared_ptr<const PredictionSnapshot> published = std::move(snap);
  for (const PublishPreparer& prepare : publish_preparers_) {
    try {  // what a preparer makes ahead is an optimisation: its failure must not stop the publish
      prepare(published);
    } catch (const std::exception& e) {
      cycle_errors_.fetch_add(1, std::memory_order_relaxed);
      spdlog::error("forecast: preparing the snapshot's responses failed: {}", e.what());
    }
  }
  {
    std::lock_guard lock(snapshot_mutex_);
    snapshot_ = published;
  }
  for (const CycleListener& listener : cycle_listeners_) listener(*published, events_scratch_);
  // The previous snapshot (forecast paths and rendered JSON of every server) was just freed, but
  // glibc keeps freed pages mapped inside its arenas: RSS stayed at the cycle's peak. Handing them
  // back costs ~40 ms at 3,000 servers, here on the worker after publishing, and cut the steady
  // RSS of 3,000 servers from 1,022 to 708 MB (README, "Memory per server").
  ::malloc_trim(0);
  cycle_latency_.observe(seconds);
  cycles_.fetch_add(1, std::memory_order_relaxed);
  const auto& s = published->summary;
  spdlog::info("forecast cycle: {} servers in {:.1f} ms ({}); fleet {} critical, {} warning; "
               "alerts {} open (+{} opened, {} resolved)",
               meta_.size(), seconds * 1e3, forecaster_->description(),
               s.per_level[static_cast<int>(risk::Level::critical)],
               s.per_level[static_cast<int>(risk::Level::warning)], tracker_.open_count(), opened,
               resolved);
}

}  // namespace nordiq::serve
