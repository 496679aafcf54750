#include "risk/alert_tracker.hpp"

#include <algorithm>

namespace nordiq::risk {

void AlertTracker::restore(TrackedAlert alert) {
  const uint64_t k = key(alert.alert.server, alert.alert.signal);
  open_[k] = Entry{std::move(alert), cycle_};
}

void AlertTracker::update(std::span<const ServerId> servers, std::span<const Alert> alerts,
                          EpochMs now, const NameOf& name_of, std::vector<AlertEvent>& events) {
  ++cycle_;
  for (ServerId s : servers) {
    if (s >= in_cycle_.size()) in_cycle_.resize(static_cast<size_t>(s) + 1, 0);
    in_cycle_[s] = 1;
  }
  for (const Alert& a : alerts) {
    const uint64_t k = key(a.server, a.signal);
    auto it = open_.find(k);
    if (it == open_.end()) {
      Entry e;
      e.tracked.alert = a;
      e.tracked.server_name = name_of ? name_of(a.server) : std::string();
      e.tracked.opened_at = now;
      e.tracked.updated_at = now;
      e.seen_cycle = cycle_;
      events.push_back({AlertEventKind::opened, now, Level::healthy, e.tracked});
      open_.emplace(k, std::move(e));
      continue;
    }
    Entry& e = it->second;
    const Level before = e.tracked.alert.level;
    e.tracked.alert = a;
    e.tracked.updated_at = now;
    e.seen_cycle = cycle_;
    if (a.level != before)
      events.push_back({a.level > before ? AlertEventKind::escalated : AlertEventKind::de_escalated,
                        now, before, e.tracked});
  }
  // Resolve what this cycle's servers no longer forecast, in a stable (urgency) order.
  std::vector<uint64_t> resolved;
  for (const auto& [k, e] : open_) {
    const ServerId s = e.tracked.alert.server;
    if (e.seen_cycle != cycle_ && s < in_cycle_.size() && in_cycle_[s]) resolved.push_back(k);
  }
  std::sort(resolved.begin(), resolved.end(), [&](uint64_t x, uint64_t y) {
    return more_urgent(open_.at(x).tracked.alert, open_.at(y).tracked.alert);
  });
  for (uint64_t k : resolved) {
    auto it = open_.find(k);
    events.push_back({AlertEventKind::resolved, now, it->second.tracked.alert.level, it->second.tracked});
    events.back().state.updated_at = now;
    open_.erase(it);
  }
  for (ServerId s : servers) in_cycle_[s] = 0;
}

std::vector<TrackedAlert> AlertTracker::open_alerts() const {
  std::vector<TrackedAlert> out;
  out.reserve(open_.size());
  for (const auto& [k, e] : open_) out.push_back(e.tracked);
  std::sort(out.begin(), out.end(),
            [](const TrackedAlert& a, const TrackedAlert& b) { return more_urgent(a.alert, b.alert); });
  return out;
}

const TrackedAlert* AlertTracker::find(ServerId server, Signal signal) const {
  auto it = open_.find(key(server, signal));
  return it == open_.end() ? nullptr : &it->second.tracked;
}

}  // namespace nordiq::risk
