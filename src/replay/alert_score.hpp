// Scores alerts against the simulator's incident ground truth (issue #11), the same way for the
// daemon's alerts (replayed) and for the baseline rules:
//
// - an incident to warn of is a degrading or critical episode with a threshold crossing inside
//   the scored span; it is *warned* when an alert on its server and signal is open at some time
//   in [start − 2 h, crossing); its lead time is crossing − max(that alert's opening, start − 2 h);
// - an opening is a *false alarm* when no ground-truth episode of its server covers it, from 2 h
//   before the episode's start to its end (the span's end for one still open). An episode covers
//   its own signal; swap alerts count memory episodes and load alerts CPU episodes (the simulator
//   drives swap from memory and load from CPU), and episodes with no signal (state_critical
//   spells, cascade dependants) cover every signal;
// - precision = 1 − false alarms / openings; a *re-open* is an opening within 30 min of the
//   resolution of an alert on the same server and signal;
// - open time: the share of server-time with at least one alert open, overall and outside every
//   episode window of that server.
#pragma once

#include <nlohmann/json.hpp>
#include <array>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "replay/incidents.hpp"

namespace nordiq::replay {

struct AlertInterval {
  uint32_t server = 0;  // index into the scored span's server names
  risk::Signal signal = risk::Signal::cpu;
  EpochMs opened = 0;
  EpochMs resolved = 0;  // the span's end when still open
  bool likely = true;    // opened as "likely" (p50 crosses) rather than "possible"
};

struct ScoredSpan {
  std::vector<std::string> servers;
  EpochMs begin = 0, end = 0;  // data time
  int64_t step_ms = 300'000;
};

// How an incident to warn of was warned: its lead time, or none.
struct IncidentOutcome {
  const Incident* incident = nullptr;  // into the incidents scored
  std::optional<double> lead_minutes;
};

// Incidents split by how they build up: a degrading ramp (2 h), a fresh critical episode (30 min
// from start to peak: it crosses 15–30 min after it starts) and a critical episode escalating a
// degrading one.
enum class IncidentKind { degrading, critical, escalation };
inline constexpr int kNumIncidentKinds = 3;
inline constexpr std::array<const char*, kNumIncidentKinds> kIncidentKindNames{"degrading", "critical", "escalation"};
IncidentKind incident_kind(const Incident& inc);

struct KindScore {
  int incidents = 0, warned = 0, warned_30m = 0;
};

struct AlertScore {
  int incidents = 0;
  int warned = 0, warned_30m = 0;
  std::vector<double> lead_minutes;  // of the warned incidents, ascending
  std::array<KindScore, kNumIncidentKinds> by_kind{};
  std::vector<IncidentOutcome> outcomes;  // every incident to warn of, in ground-truth order
  int openings = 0, false_alarms = 0, reopened_30m = 0;
  std::vector<AlertInterval> false_alarm_alerts;  // the openings counted as false alarms, by server and time
  double server_days = 0;
  double open_share = 0, open_share_outside = 0;

  std::array<int, risk::kNumSignals> false_by_signal() const {
    std::array<int, risk::kNumSignals> by{};
    for (const AlertInterval& a : false_alarm_alerts) ++by[static_cast<int>(a.signal)];
    return by;
  }
  double false_alarms_per_server_day() const { return server_days > 0 ? false_alarms / server_days : 0; }
  double precision() const { return openings > 0 ? 1.0 - static_cast<double>(false_alarms) / openings : 0; }
  double warned_share() const { return incidents > 0 ? static_cast<double>(warned) / incidents : 0; }
  double warned_30m_share() const { return incidents > 0 ? static_cast<double>(warned_30m) / incidents : 0; }
  double reopened_share() const { return openings > 0 ? static_cast<double>(reopened_30m) / openings : 0; }
  double lead_quantile(double q) const;  // minutes; 0 without warned incidents
};

AlertScore score_alerts(std::span<const AlertInterval> alerts, std::span<const Incident> incidents,
                        const ScoredSpan& span);

// Side by side: one column per system (the daemon, then the baselines).
struct NamedScore {
  std::string name;
  AlertScore score;
};
std::string alert_score_table(std::span<const NamedScore> scores);
// One CSV row per incident to warn of and system: when it was warned, if at all.
std::string incident_outcomes_csv(std::span<const NamedScore> scores);
// One CSV row per false alarm and system: server, signal, opened, resolved, likely/possible.
std::string false_alarms_csv(std::span<const NamedScore> scores, std::span<const std::string> servers);
nlohmann::ordered_json alert_score_json(std::span<const NamedScore> scores);

}  // namespace nordiq::replay
