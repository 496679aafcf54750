#include "store/window_store.hpp"

#include <algorithm>
#include <cstring>
#include <mutex>
#include <stdexcept>

namespace nordiq {

void StepAggregate::add(const double* values, Status status) {
  for (int k = 0; k < kNumMetrics; ++k) sums[k] += values[k];
  worst = count == 0 ? status : worse_status(worst, status);
  ++count;
}

void StepAggregate::merge(const StepAggregate& other) {
  if (other.count == 0) return;
  for (int k = 0; k < kNumMetrics; ++k) sums[k] += other.sums[k];
  worst = count == 0 ? other.worst : worse_status(worst, other.worst);
  count += other.count;
}

struct WindowStore::Server {
  std::string name;
  Profile profile = Profile::generic;
  // Window: column k occupies values[k * alloc + start, k * alloc + start + length).
  std::vector<float> values;
  std::vector<uint8_t> status;
  int alloc = 0;
  int start = 0;
  int length = 0;
  EpochMs last_step = 0;  // step of the window's last entry (valid when length > 0)
  bool has_open = false;
  StepAggregate open;     // the step being filled
  bool has_prev = false;
  StepAggregate prev;     // the window's last real closed step, kept to merge late records
  uint64_t closed_mark = 0;  // apply_batch generation that last reported this server
};

WindowStore::WindowStore(WindowConfig config) : config_(config) {
  if (config_.step_seconds <= 0) throw std::invalid_argument("step_seconds must be > 0");
  if (config_.capacity < kMaxEncoderSteps)
    throw std::invalid_argument("window capacity must be at least 288 steps");
}

WindowStore::~WindowStore() = default;

EpochMs WindowStore::step_of(EpochMs t) const {
  const int64_t step = config_.step_ms();
  int64_t q = t / step;
  if (t % step != 0 && t < 0) --q;  // floor for times before the epoch
  return q * step;
}

ServerId WindowStore::intern(std::string_view name, Profile profile, bool* created) {
  std::unique_lock lock(mutex_);
  if (auto it = ids_.find(name); it != ids_.end()) {
    if (created) *created = false;
    return it->second;
  }
  const auto id = static_cast<ServerId>(servers_.size());
  auto server = std::make_unique<Server>();
  server->name = std::string(name);
  server->profile = profile;
  ids_.emplace(server->name, id);
  servers_.push_back(std::move(server));
  server_count_.store(servers_.size(), std::memory_order_release);
  if (created) *created = true;
  return id;
}

void WindowStore::set_length(Server& s, int length) {
  const bool was_ready = s.length >= kMinEncoderSteps;
  s.length = length;
  const bool ready = s.length >= kMinEncoderSteps;
  if (ready != was_ready) ready_count_.fetch_add(ready ? 1 : size_t(-1), std::memory_order_acq_rel);
}

namespace {

// Appends one row at the end of a server's window, keeping each column contiguous: the buffer
// grows geometrically up to 2×capacity, after which a full buffer is compacted (one memmove per
// column every `capacity` appends) — readers always see [start, start + length) contiguous.
template <class S>
void push_row(S& s, int capacity, const float* row, uint8_t status, auto&& set_length) {
  if (s.length == capacity) {  // drop the oldest step
    ++s.start;
    set_length(s, s.length - 1);
  }
  if (s.start + s.length == s.alloc) {
    if (s.alloc < 2 * capacity) {
      const int alloc = std::min(std::max(16, s.alloc * 2), 2 * capacity);
      std::vector<float> values(static_cast<size_t>(alloc) * kNumMetrics);
      std::vector<uint8_t> status_col(static_cast<size_t>(alloc));
      for (int k = 0; k < kNumMetrics; ++k)
        std::copy_n(s.values.data() + static_cast<size_t>(k) * s.alloc + s.start, s.length,
                    values.data() + static_cast<size_t>(k) * alloc);
      std::copy_n(s.status.data() + s.start, s.length, status_col.data());
      s.values = std::move(values);
      s.status = std::move(status_col);
      s.alloc = alloc;
    } else {
      for (int k = 0; k < kNumMetrics; ++k) {
        float* col = s.values.data() + static_cast<size_t>(k) * s.alloc;
        std::memmove(col, col + s.start, sizeof(float) * s.length);
      }
      std::memmove(s.status.data(), s.status.data() + s.start, s.length);
    }
    s.start = 0;
  }
  const int at = s.start + s.length;
  for (int k = 0; k < kNumMetrics; ++k) s.values[static_cast<size_t>(k) * s.alloc + at] = row[k];
  s.status[at] = status;
  set_length(s, s.length + 1);
}

}  // namespace

void WindowStore::append_step(Server& s, const StepAggregate& step) {
  auto set_len = [this](Server& srv, int len) { set_length(srv, len); };
  const int64_t step_ms = config_.step_ms();
  if (s.length > 0) {
    const int64_t missing = (step.step_start - s.last_step) / step_ms - 1;
    if (missing > config_.max_forward_fill) {
      set_length(s, 0);  // too long a gap: the series restarts
      s.start = 0;
    } else if (missing > 0) {
      // Forward fill from the last real step (copied first: a push may move the buffer).
      float last[kNumMetrics];
      const int at = s.start + s.length - 1;
      for (int k = 0; k < kNumMetrics; ++k) last[k] = s.values[static_cast<size_t>(k) * s.alloc + at];
      const uint8_t last_status = s.status[at];
      for (int64_t i = 0; i < missing; ++i) push_row(s, config_.capacity, last, last_status, set_len);
    }
  }
  float row[kNumMetrics];
  for (int k = 0; k < kNumMetrics; ++k) row[k] = static_cast<float>(step.mean(k));
  push_row(s, config_.capacity, row, static_cast<uint8_t>(step.worst), set_len);
  s.last_step = step.step_start;
  s.prev = step;
  s.has_prev = true;
}

void WindowStore::close_open_step(Server& s) {
  append_step(s, s.open);
  s.has_open = false;
}

void WindowStore::rewrite_last(Server& s) {
  const int at = s.start + s.length - 1;
  for (int k = 0; k < kNumMetrics; ++k)
    s.values[static_cast<size_t>(k) * s.alloc + at] = static_cast<float>(s.prev.mean(k));
  s.status[at] = static_cast<uint8_t>(s.prev.worst);
}

StepEffect WindowStore::apply_locked(ServerId id, EpochMs t, Status status, const double* values) {
  Server& s = *servers_.at(id);
  StepAggregate rec;
  rec.step_start = step_of(t);
  rec.add(values, status);
  if (!s.has_open) {
    s.open = rec;
    s.has_open = true;
    return StepEffect::opened;
  }
  if (rec.step_start == s.open.step_start) {
    s.open.merge(rec);
    return StepEffect::merged_open;
  }
  if (rec.step_start > s.open.step_start) {
    close_open_step(s);
    s.open = rec;
    s.has_open = true;
    return StepEffect::closed;
  }
  if (rec.step_start == s.open.step_start - config_.step_ms()) {
    if (s.has_prev && s.length > 0 && s.prev.step_start == rec.step_start) {
      s.prev.merge(rec);
      rewrite_last(s);
      return StepEffect::merged_previous;
    }
    if (!s.has_prev || s.length == 0 || s.prev.step_start < rec.step_start) {
      append_step(s, rec);
      return StepEffect::appended_late;
    }
  }
  return StepEffect::stored_only;
}

StepEffect WindowStore::apply(ServerId id, EpochMs t, Status status, const double* values) {
  std::unique_lock lock(mutex_);
  return apply_locked(id, t, status, values);
}

void WindowStore::apply_batch(std::span<const Sample> samples, std::vector<ServerId>& closed) {
  std::unique_lock lock(mutex_);
  const uint64_t generation = ++generation_;
  for (const Sample& sample : samples) {
    const StepEffect effect = apply_locked(sample.server, sample.timestamp, sample.status, sample.values);
    // A first record counts too: the server gets a (baseline) forecast from first contact, not
    // only once its first step closes minutes later.
    if (effect == StepEffect::closed || effect == StepEffect::appended_late || effect == StepEffect::opened) {
      Server& s = *servers_[sample.server];
      if (s.closed_mark != generation) {
        s.closed_mark = generation;
        closed.push_back(sample.server);
      }
    }
  }
}

void WindowStore::restore_closed(ServerId id, const StepAggregate& step) {
  std::unique_lock lock(mutex_);
  append_step(*servers_.at(id), step);
}

void WindowStore::restore_open(ServerId id, const StepAggregate& step) {
  std::unique_lock lock(mutex_);
  Server& s = *servers_.at(id);
  s.open = step;
  s.has_open = true;
}

WindowView WindowStore::view(ServerId id) const {
  const Server& s = *servers_.at(id);
  WindowView v;
  v.server = id;
  v.profile = s.profile;
  v.length = s.length;
  v.step_ms = config_.step_ms();
  if (s.length > 0) {
    v.first_step = s.last_step - static_cast<int64_t>(s.length - 1) * v.step_ms;
    for (int k = 0; k < kNumMetrics; ++k)
      v.metric[k] = s.values.data() + static_cast<size_t>(k) * s.alloc + s.start;
    v.status = s.status.data() + s.start;
  }
  return v;
}

std::optional<StepAggregate> WindowStore::open_step(ServerId id) const {
  const Server& s = *servers_.at(id);
  if (!s.has_open) return std::nullopt;
  return s.open;
}

std::optional<ServerId> WindowStore::find(std::string_view name) const {
  auto it = ids_.find(name);
  if (it == ids_.end()) return std::nullopt;
  return it->second;
}

std::string_view WindowStore::name(ServerId id) const { return servers_.at(id)->name; }
Profile WindowStore::profile(ServerId id) const { return servers_.at(id)->profile; }

}  // namespace nordiq
