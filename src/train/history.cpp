// HistoryBuilder: buckets records into steps and lays each server's series out contiguously,
// forward-filling short gaps and restarting after long ones (SPEC §1.3).
#include "train/history.hpp"

#include <algorithm>
#include <limits>
#include <unordered_map>

namespace nordiq::train {

WindowView ServerSeries::view(const Segment& seg, int64_t start, int length,
                              int64_t step_ms) const {
  WindowView v;
  v.server = id;
  v.profile = profile;
  v.length = length;
  v.step_ms = step_ms;
  v.first_step = seg.first_step + start * step_ms;
  const int64_t at = seg.begin + start;
  for (int k = 0; k < kNumMetrics; ++k) v.metric[k] = metric[k].data() + at;
  v.status = status.data() + at;
  return v;
}

namespace {

// Floor division: timestamps before 1970 still map to the step that contains them.
int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

struct RawRecord {
  int64_t step;  // absolute step number (timestamp / step_ms)
  float values[kNumMetrics];
  uint8_t status;
  uint32_t weight;  // records already averaged into `values`
};

struct ServerBuild {
  ServerSeries series;
  std::vector<uint32_t> count;  // records averaged into each step (0 = forward-filled)
  int64_t last = std::numeric_limits<int64_t>::min();  // absolute step number of the last step
  std::vector<RawRecord> late;  // records older than `last`, merged at finish()
};

struct NameHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

}  // namespace

struct HistoryBuilder::Impl {
  HistoryOptions options;
  int64_t step_ms;
  std::vector<ServerBuild> servers;
  std::unordered_map<std::string, ServerId, NameHash, std::equal_to<>> ids;
  int64_t records = 0;

  // Appends (or merges) one step at or after the server's last step.
  void append(ServerBuild& b, int64_t step, const float* values, uint8_t status, uint32_t weight) {
    ServerSeries& s = b.series;
    if (!s.segments.empty() && step == b.last) {
      const int64_t i = s.steps() - 1;
      const uint32_t c = b.count[i];
      const float w = static_cast<float>(weight) / static_cast<float>(c + weight);
      for (int k = 0; k < kNumMetrics; ++k) s.metric[k][i] += (values[k] - s.metric[k][i]) * w;
      s.status[i] = static_cast<uint8_t>(
          worse_status(static_cast<Status>(s.status[i]), static_cast<Status>(status)));
      b.count[i] = c + weight;
      return;
    }
    const int64_t gap = s.segments.empty() ? -1 : step - b.last - 1;
    if (gap < 0 || gap > options.max_forward_fill) {
      s.segments.push_back({s.steps(), 0, step * step_ms});
    } else {
      // Forward fill: repeat the previous step's values and status, marked not observed.
      const int64_t prev = s.steps() - 1;
      for (int64_t g = 0; g < gap; ++g) {
        for (int k = 0; k < kNumMetrics; ++k) s.metric[k].push_back(s.metric[k][prev]);
        s.status.push_back(s.status[prev]);
        s.observed.push_back(0);
        b.count.push_back(0);
      }
      s.segments.back().length += gap;
    }
    for (int k = 0; k < kNumMetrics; ++k) s.metric[k].push_back(values[k]);
    s.status.push_back(status);
    s.observed.push_back(1);
    b.count.push_back(weight);
    s.segments.back().length += 1;
    b.last = step;
  }

  // Rebuilds a server whose records arrived out of order: its observed steps plus the late
  // records, sorted by step and appended again (forward fill recomputed from scratch).
  void rebuild(ServerBuild& b) {
    std::vector<RawRecord> all;
    all.reserve(b.series.steps() + b.late.size());
    const ServerSeries& s = b.series;
    for (const Segment& seg : s.segments) {
      const int64_t first = seg.first_step / step_ms;
      for (int64_t i = 0; i < seg.length; ++i) {
        const int64_t at = seg.begin + i;
        if (!s.observed[at]) continue;
        RawRecord r;
        r.step = first + i;
        for (int k = 0; k < kNumMetrics; ++k) r.values[k] = s.metric[k][at];
        r.status = s.status[at];
        r.weight = b.count[at];
        all.push_back(r);
      }
    }
    all.insert(all.end(), b.late.begin(), b.late.end());
    std::stable_sort(all.begin(), all.end(),
                     [](const RawRecord& x, const RawRecord& y) { return x.step < y.step; });
    ServerBuild fresh;
    fresh.series.name = std::move(b.series.name);
    fresh.series.id = b.series.id;
    fresh.series.profile = b.series.profile;
    for (const RawRecord& r : all) append(fresh, r.step, r.values, r.status, r.weight);
    b = std::move(fresh);
  }
};

HistoryBuilder::HistoryBuilder(const HistoryOptions& options) : impl_(std::make_unique<Impl>()) {
  if (options.step_seconds <= 0) throw HistoryError("step must be a positive number of seconds");
  if (options.max_forward_fill < 0) throw HistoryError("max forward fill must be ≥ 0");
  impl_->options = options;
  impl_->step_ms = options.step_seconds * 1000LL;
}

HistoryBuilder::~HistoryBuilder() = default;

ServerId HistoryBuilder::intern(std::string_view name, Profile profile) {
  if (auto it = impl_->ids.find(name); it != impl_->ids.end()) return it->second;
  const auto id = static_cast<ServerId>(impl_->servers.size());
  impl_->ids.emplace(std::string(name), id);
  ServerBuild& b = impl_->servers.emplace_back();
  b.series.name = std::string(name);
  b.series.id = id;
  b.series.profile = profile;
  return id;
}

void HistoryBuilder::add(ServerId server, EpochMs timestamp, const float (&values)[kNumMetrics],
                         Status status) {
  Impl& m = *impl_;
  ServerBuild& b = m.servers.at(server);
  ++m.records;
  const int64_t step = floor_div(timestamp, m.step_ms);
  if (b.series.segments.empty() || step >= b.last) {
    m.append(b, step, values, static_cast<uint8_t>(status), 1);
    return;
  }
  RawRecord r;
  r.step = step;
  std::copy(values, values + kNumMetrics, r.values);
  r.status = static_cast<uint8_t>(status);
  r.weight = 1;
  b.late.push_back(r);
}

History HistoryBuilder::finish() {
  Impl& m = *impl_;
  History h;
  h.step_ms = m.step_ms;
  h.records = m.records;
  EpochMs first = std::numeric_limits<EpochMs>::max(), last = std::numeric_limits<EpochMs>::min();
  for (ServerBuild& b : m.servers) {
    if (!b.late.empty()) m.rebuild(b);
    if (!b.series.segments.empty()) {
      const Segment& f = b.series.segments.front();
      const Segment& l = b.series.segments.back();
      first = std::min(first, f.first_step);
      last = std::max(last, l.first_step + (l.length - 1) * m.step_ms);
    }
  }
  h.servers.reserve(m.servers.size());
  for (ServerBuild& b : m.servers) h.servers.push_back(std::move(b.series));
  h.first_step = h.servers.empty() ? 0 : first;
  h.last_step = h.servers.empty() ? 0 : last;
  // Counted on the final series, so out-of-order input (rebuilt) is counted once.
  int64_t observed_steps = 0;
  for (const ServerSeries& s : h.servers) {
    for (uint8_t o : s.observed) observed_steps += o;
    if (!s.segments.empty()) h.restarts += static_cast<int64_t>(s.segments.size()) - 1;
  }
  for (const ServerSeries& s : h.servers) h.filled_steps += s.steps();
  h.filled_steps -= observed_steps;
  // Records that shared a step with another record of the same server (averaged).
  h.merged_records = m.records - observed_steps;
  m.servers.clear();
  m.ids.clear();
  return h;
}

History truncate_history(const History& history, EpochMs end) {
  History out;
  out.step_ms = history.step_ms;
  EpochMs first = std::numeric_limits<EpochMs>::max(), last = std::numeric_limits<EpochMs>::min();
  for (const ServerSeries& s : history.servers) {
    ServerSeries t;
    t.name = s.name;
    t.profile = s.profile;
    int64_t keep = 0;  // steps kept: segments are in time order, back to back in the columns
    for (const Segment& seg : s.segments) {
      if (seg.first_step >= end) break;
      const int64_t n = std::min<int64_t>(seg.length, (end - seg.first_step + history.step_ms - 1) / history.step_ms);
      t.segments.push_back({seg.begin, n, seg.first_step});
      keep = seg.begin + n;
      first = std::min(first, seg.first_step);
      last = std::max(last, seg.first_step + (n - 1) * history.step_ms);
      if (n < seg.length) break;
    }
    if (t.segments.empty()) continue;
    for (int k = 0; k < kNumMetrics; ++k) t.metric[k].assign(s.metric[k].begin(), s.metric[k].begin() + keep);
    t.status.assign(s.status.begin(), s.status.begin() + keep);
    t.observed.assign(s.observed.begin(), s.observed.begin() + keep);
    t.id = static_cast<ServerId>(out.servers.size());
    out.servers.push_back(std::move(t));
  }
  out.first_step = out.servers.empty() ? 0 : first;
  out.last_step = out.servers.empty() ? 0 : last;
  return out;
}

}  // namespace nordiq::train
