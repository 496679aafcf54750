// The alert lifecycle (SPEC §3.3): which alerts are open, and the events that change them —
// opened, escalated (level rose), de-escalated (level fell), resolved (no longer forecast).
// The tracker is the in-memory truth; the caller persists its events and, after a restart,
// restores the open alerts so that they stay open (no second "opened").
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/time.hpp"
#include "risk/alerts.hpp"

namespace nordiq::risk {

enum class AlertEventKind : uint8_t { opened, escalated, de_escalated, resolved };
inline constexpr std::array<std::string_view, 4> kAlertEventNames = {"opened", "escalated",
                                                                     "de_escalated", "resolved"};
inline std::string_view event_name(AlertEventKind k) { return kAlertEventNames[static_cast<int>(k)]; }

struct TrackedAlert {
  Alert alert;               // the latest state (ETAs, level, current value)
  std::string server_name;
  EpochMs opened_at = 0;
  EpochMs updated_at = 0;
};

struct AlertEvent {
  AlertEventKind kind = AlertEventKind::opened;
  EpochMs at = 0;
  Level previous_level = Level::healthy;  // level before the event (healthy for "opened")
  TrackedAlert state;                     // the alert after the event (its last state if resolved)
};

// Hysteresis (issue #11), in data time: an alert opens only once its condition has been seen in
// every cycle of its server for `open_after_ms` (`measured_open_after_ms` for a value already
// over its threshold), and resolves only once it has not been seen for `resolve_after_ms`. Zero for both: the alert follows each cycle (tests of the bare
// lifecycle).
struct AlertPolicy {
  int64_t open_after_ms = 0;
  int64_t resolve_after_ms = 0;
  // A value already over its threshold opens once it has stayed there this long (a one-step
  // spike or a short busy spell is not an incident).
  int64_t measured_open_after_ms = 0;
};

class AlertTracker {
 public:
  using NameOf = std::function<std::string(ServerId)>;
  using TimeOf = std::function<EpochMs(ServerId)>;

  explicit AlertTracker(AlertPolicy policy = {}) : policy_(policy) {}

  // Puts back an alert that was open before a restart; emits nothing.
  void restore(TrackedAlert alert);

  // One forecast cycle: `servers` were forecast now and `alerts` are every alert now true for
  // them. Alerts of servers not in `servers` are left as they are. Appends the events in order
  // (opened/escalated/de-escalated for `alerts` order, then resolutions). `name_of` is called
  // only for newly opened alerts.
  void update(std::span<const ServerId> servers, std::span<const Alert> alerts, EpochMs now,
              const NameOf& name_of, std::vector<AlertEvent>& events);
  // The same with each server's own time (the data time of its step): events and open/update
  // stamps use time_of(server).
  void update(std::span<const ServerId> servers, std::span<const Alert> alerts, const TimeOf& time_of,
              const NameOf& name_of, std::vector<AlertEvent>& events);
  // Conditions seen but not yet open (waiting for consistent evidence).
  size_t pending_count() const { return pending_.size(); }

  // Open alerts, most urgent first (copies: for the API's snapshot, not a hot path).
  std::vector<TrackedAlert> open_alerts() const;
  const TrackedAlert* find(ServerId server, Signal signal) const;
  size_t open_count() const { return open_.size(); }

 private:
  static uint64_t key(ServerId server, Signal s) {
    return (static_cast<uint64_t>(server) << 8) | static_cast<uint64_t>(s);
  }
  struct Entry {
    TrackedAlert tracked;
    uint64_t seen_cycle = 0;
    EpochMs last_seen = 0;  // data time the condition was last reproduced
  };
  struct Pending {
    EpochMs first_seen = 0;
    uint64_t seen_cycle = 0;
  };
  AlertPolicy policy_;
  std::unordered_map<uint64_t, Entry> open_;
  std::unordered_map<uint64_t, Pending> pending_;
  std::vector<uint8_t> in_cycle_;  // indexed by dense server id
  uint64_t cycle_ = 0;
};

}  // namespace nordiq::risk
