#include "risk/alert_tracker.hpp"

#include <algorithm>

namespace nordiq::risk {

void AlertTracker::restore(TrackedAlert alert) {
  const uint64_t k = key(alert.alert.server, alert.alert.signal);
  const EpochMs seen = alert.updated_at;
  open_[k] = Entry{std::move(alert), cycle_, seen};
}

void AlertTracker::update(std::span<const ServerId> servers, std::span<const Alert> alerts,
                          EpochMs now, const NameOf& name_of, std::vector<AlertEvent>& events) {
  update(servers, alerts, [now](ServerId) { return now; }, name_of, events);
}

void AlertTracker::update(std::span<const ServerId> servers, std::span<const Alert> alerts,
                          const TimeOf& time_of, const NameOf& name_of, std::vector<AlertEvent>& events) {
  ++cycle_;
  for (ServerId s : servers) {
    if (s >= in_cycle_.size()) in_cycle_.resize(static_cast<size_t>(s) + 1, 0);
    in_cycle_[s] = 1;
  }
  for (const Alert& a : alerts) {
    const uint64_t k = key(a.server, a.signal);
    const EpochMs now = time_of(a.server);
    auto it = open_.find(k);
    if (it == open_.end()) {
      // Consistent evidence first: the condition must hold in consecutive cycles for a while.
      const bool measured = a.eta_p90 == 0 && a.eta_p50 == 0;
      const int64_t wait = measured ? policy_.measured_open_after_ms : policy_.open_after_ms;
      if (wait > 0) {
        // A pending condition its server's cycle did not reproduce was dropped (below), so one
        // that is still here has held in every cycle since first_seen.
        auto p = pending_.try_emplace(k, Pending{now, cycle_}).first;
        p->second.seen_cycle = cycle_;
        if (now - p->second.first_seen < wait) continue;
      }
      pending_.erase(k);
      Entry e;
      e.tracked.alert = a;
      e.tracked.server_name = name_of ? name_of(a.server) : std::string();
      e.tracked.opened_at = now;
      e.tracked.updated_at = now;
      e.seen_cycle = cycle_;
      e.last_seen = now;
      events.push_back({AlertEventKind::opened, now, Level::healthy, e.tracked});
      open_.emplace(k, std::move(e));
      continue;
    }
    Entry& e = it->second;
    const Level before = e.tracked.alert.level;
    e.tracked.alert = a;
    e.tracked.updated_at = now;
    e.seen_cycle = cycle_;
    e.last_seen = now;
    if (a.level != before)
      events.push_back({a.level > before ? AlertEventKind::escalated : AlertEventKind::de_escalated,
                        now, before, e.tracked});
  }
  // Pending conditions of this cycle's servers that were not reproduced start over.
  std::erase_if(pending_, [&](const auto& kv) {
    const ServerId s = static_cast<ServerId>(kv.first >> 8);
    return kv.second.seen_cycle != cycle_ && s < in_cycle_.size() && in_cycle_[s];
  });
  // Resolve what this cycle's servers have not forecast for long enough, in a stable (urgency)
  // order.
  std::vector<uint64_t> resolved;
  for (const auto& [k, e] : open_) {
    const ServerId s = e.tracked.alert.server;
    if (e.seen_cycle != cycle_ && s < in_cycle_.size() && in_cycle_[s] &&
        time_of(s) - e.last_seen >= policy_.resolve_after_ms)
      resolved.push_back(k);
  }
  std::sort(resolved.begin(), resolved.end(), [&](uint64_t x, uint64_t y) {
    return more_urgent(open_.at(x).tracked.alert, open_.at(y).tracked.alert);
  });
  for (uint64_t k : resolved) {
    auto it = open_.find(k);
    const EpochMs now = time_of(it->second.tracked.alert.server);
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
