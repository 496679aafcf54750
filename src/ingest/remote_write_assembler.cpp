#include "ingest/remote_write_assembler.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace nordiq {

namespace {

constexpr std::string_view kSeriesPrefix = "nordiq:";
constexpr uint16_t kAllMetrics = (1u << kNumMetrics) - 1;
constexpr int64_t kExpiryScanEveryMs = 1000;

// Rates of counters overshoot a bounded range by a little (a scrape's timing jitter: CPU at
// 100.2 %); within this much of the range the value is clamped, further out it is rejected.
constexpr double kRangeTolerance = 1.0;

// nordiq:<metric> → the metric's index, -1 for any other series.
int metric_of_series(std::string_view name) {
  if (!name.starts_with(kSeriesPrefix)) return -1;
  const auto m = metric_from_name(name.substr(kSeriesPrefix.size()));
  return m ? static_cast<int>(*m) : -1;
}

// The value as the feed contract wants it, or NaN when it is out of range beyond the tolerance.
double contract_value(int metric, double v) {
  const MetricSpec& spec = kMetrics[metric];
  if (!std::isfinite(v) || v < spec.min - kRangeTolerance || v > spec.max + kRangeTolerance) return std::nan("");
  v = std::clamp(v, spec.min, spec.max);
  return spec.integer ? std::round(v) : v;
}

}  // namespace

std::string_view strip_port(std::string_view instance) {
  if (instance.starts_with('[')) {  // [v6 address]:port
    const size_t close = instance.find(']');
    return close == std::string_view::npos ? instance : instance.substr(1, close - 1);
  }
  const size_t colon = instance.rfind(':');
  if (colon == std::string_view::npos || instance.find(':') != colon) return instance;  // no port, or bare v6
  const std::string_view port = instance.substr(colon + 1);
  const bool numeric = !port.empty() && std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
  return numeric ? instance.substr(0, colon) : instance;
}

RemoteWriteAssembler::RemoteWriteAssembler(RemoteWriteOptions options) : options_(std::move(options)) {}

RemoteWriteAssembler::ServerState* RemoteWriteAssembler::state_for(std::string_view name) {
  if (auto it = servers_.find(name); it != servers_.end()) return &it->second;
  if (servers_.size() >= options_.max_servers) return nullptr;
  auto [it, inserted] = servers_.try_emplace(std::string(name));
  it->second.name = it->first;
  return &it->second;
}

RemoteWriteCounts RemoteWriteAssembler::add(const RemoteWriteRequest& request, EpochMs now, FeedBatch& out) {
  RemoteWriteCounts counts;
  ++add_calls_;
  touched_.clear();
  auto reject = [&](size_t n, auto&& why) {
    counts.rejected += n;
    if (counts.first_rejection.empty()) counts.first_rejection = why();
  };
  for (const RemoteSeries& series : request.series) {
    counts.samples += series.sample_count;
    const std::string_view name = request.label(series, "__name__");
    const int metric = metric_of_series(name);
    if (metric < 0) {
      ++counts.unknown_series;
      continue;
    }
    std::string_view server = request.label(series, "nordiq_server");
    std::string_view source = "nordiq_server";
    if (server.empty()) {
      server = strip_port(request.label(series, options_.server_label));
      source = options_.server_label;
    }
    if (!valid_server_name(server)) {
      reject(series.sample_count, [&] {
        return fmt::format("series {}: label {}=\"{}\" is not a valid server name ([A-Za-z0-9._-]{{1,128}})", name,
                           source, server);
      });
      continue;
    }
    ServerState* state = state_for(server);
    if (!state) {
      reject(series.sample_count, [&] {
        return fmt::format("series {}: server \"{}\" is over the limit of {} servers", name, server, options_.max_servers);
      });
      continue;
    }
    if (state->touched != add_calls_) {
      state->touched = add_calls_;
      touched_.push_back(state);
    }
    for (uint32_t i = 0; i < series.sample_count; ++i)
      add_sample(*state, metric, request.samples[series.first_sample + i], now, out, counts);
  }
  for (ServerState* s : touched_) complete_ready(*s, now, out);
  complete_expired(now, out);
  return counts;
}

void RemoteWriteAssembler::add_sample(ServerState& s, int metric, const RemoteSample& sample, EpochMs now,
                                      FeedBatch& out, RemoteWriteCounts& counts) {
  if (std::isnan(sample.value)) {  // Prometheus' staleness marker is a NaN
    ++counts.stale;
    return;
  }
  const double value = contract_value(metric, sample.value);
  if (std::isnan(value)) {
    ++counts.rejected;
    if (counts.first_rejection.empty())
      counts.first_rejection = fmt::format("series nordiq:{} of {}: {} is outside {}..{}", kMetrics[metric].name,
                                           s.name, sample.value, kMetrics[metric].min, kMetrics[metric].max);
    return;
  }
  if (sample.timestamp_ms > now + options_.max_future_ms) {
    ++counts.rejected;
    if (counts.first_rejection.empty())
      counts.first_rejection = fmt::format("series nordiq:{} of {}: timestamp {} is more than 5 minutes in the future",
                                           kMetrics[metric].name, s.name, sample.timestamp_ms);
    return;
  }
  if (s.emitted_any && sample.timestamp_ms <= s.last_emitted) {
    ++counts.late;
    return;
  }
  Partial& slot = *waiting_slot(s, sample.timestamp_ms, now).first;
  slot.values[metric] = value;
  slot.present |= static_cast<uint16_t>(1u << metric);
  s.learned |= static_cast<uint16_t>(1u << metric);
  ++counts.used;
  if (s.waiting.size() > options_.max_pending_per_server) {  // bounded memory: complete the oldest
    emit(s, s.waiting.front(), out);
    s.waiting.erase(s.waiting.begin());
    --pending_total_;
  }
}

std::pair<RemoteWriteAssembler::Partial*, bool> RemoteWriteAssembler::waiting_slot(ServerState& s, EpochMs timestamp,
                                                                                  EpochMs first_seen) {
  auto it = std::lower_bound(s.waiting.begin(), s.waiting.end(), timestamp,
                             [](const Partial& p, EpochMs t) { return p.timestamp < t; });
  if (it != s.waiting.end() && it->timestamp == timestamp) return {&*it, false};
  Partial fresh;
  fresh.timestamp = timestamp;
  fresh.first_seen = first_seen;
  it = s.waiting.insert(it, fresh);
  ++pending_total_;
  return {&*it, true};
}

// Completes the server's waiting timestamps that can be: every one but the newest (a newer one
// arrived), and the newest once it has every metric the server sends (not for the first
// timestamp ever: which metrics it sends is not known yet).
void RemoteWriteAssembler::complete_ready(ServerState& s, EpochMs now, FeedBatch& out) {
  size_t done = 0;
  while (done < s.waiting.size()) {
    const Partial& p = s.waiting[done];
    const bool newer_exists = done + 1 < s.waiting.size();
    const bool complete = s.emitted_any && (p.present & s.learned) == s.learned;
    const bool expired = now - p.first_seen >= options_.hold_ms;
    if (!newer_exists && !complete && !expired) break;
    emit(s, p, out);
    ++done;
  }
  s.waiting.erase(s.waiting.begin(), s.waiting.begin() + static_cast<std::ptrdiff_t>(done));
  pending_total_ -= done;
}

void RemoteWriteAssembler::emit(ServerState& s, const Partial& p, FeedBatch& out) {
  FeedRecord& r = out.append(s.name, p.timestamp, Status::healthy, -1);
  for (int k = 0; k < kNumMetrics; ++k) {
    const uint16_t bit = static_cast<uint16_t>(1u << k);
    if (p.present & bit) {
      s.last[k] = p.values[k];
      s.carried |= bit;
    }
    r.values[k] = (s.carried & bit) ? s.last[k] : 0.0;  // carried forward, or 0 if it never came
  }
  // CPU idle that never came is what the other modes leave (100 when none came either): a 0 would
  // read as a saturated CPU, e.g. while the rules' rate() waits for its second scrape.
  constexpr int kIdle = static_cast<int>(Metric::cpu_idle_pct);
  if (!(s.carried & (1u << kIdle))) {
    const double busy = r.values[static_cast<int>(Metric::cpu_user_pct)] + r.values[static_cast<int>(Metric::cpu_sys_pct)] +
                        r.values[static_cast<int>(Metric::cpu_iowait_pct)];
    r.values[kIdle] = std::clamp(100.0 - busy, 0.0, 100.0);
  }
  s.emitted_any = true;
  s.last_emitted = p.timestamp;
}

void RemoteWriteAssembler::complete_expired(EpochMs now, FeedBatch& out) {
  if (pending_total_ == 0 || now < next_expiry_scan_) return;
  next_expiry_scan_ = now + kExpiryScanEveryMs;
  for (auto& [name, s] : servers_)
    if (!s.waiting.empty() && now - s.waiting.front().first_seen >= options_.hold_ms) complete_ready(s, now, out);
}

void RemoteWriteAssembler::complete_all(FeedBatch& out) {
  for (auto& [name, s] : servers_) {
    for (const Partial& p : s.waiting) emit(s, p, out);
    pending_total_ -= s.waiting.size();
    s.waiting.clear();
  }
}

void RemoteWriteAssembler::requeue(const FeedBatch& batch) {
  for (const FeedRecord& r : batch.records) {
    auto it = servers_.find(batch.name(r));
    if (it == servers_.end()) continue;
    ServerState& s = it->second;
    const auto [slot, inserted] = waiting_slot(s, r.timestamp, 0);  // first seen 0: due at once
    if (!inserted) continue;  // the retry's samples already came back
    slot->present = kAllMetrics;
    std::copy(std::begin(r.values), std::end(r.values), std::begin(slot->values));
    // Accept this timestamp again: the retried request brings the same samples.
    if (s.emitted_any && s.last_emitted >= r.timestamp) s.last_emitted = r.timestamp - 1;
  }
}

}  // namespace nordiq
