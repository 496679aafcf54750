// Background incidents (SIMULATOR.md §6.1–6.2, §7 events): each server's degrading/critical
// episodes and each upstream server's cascade events, drawn per calendar week from sub-streams
// keyed by (server, week), so a week's schedule depends only on (seed, server, week) and every run
// covering that week sees the same incidents. Times are absolute step numbers (t / step).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/metrics.hpp"
#include "core/time.hpp"
#include "sim/rng.hpp"
#include "sim/tables.hpp"

namespace nordiq::sim {

// The knobs that shape a run; identical in both modes.
struct SimConfig {
  uint64_t seed = 42;
  int step_s = 300;
  EpochMs start = 0;  // floored to the step
  double problem_child_pct = 0.10;
  double degrading_per_week = 1.0;
  double critical_per_week = 0.5;
  double cascade_per_week = 0.2;
  bool regimes = false;  // lay sim/regimes.hpp's real-server regimes over the records
  int64_t step_ms() const { return static_cast<int64_t>(step_s) * 1000; }
};

// round(duration / step), at least 1 (§3).
int64_t duration_steps(int64_t duration_ms, int64_t step_ms);

enum class EpisodeKind : uint8_t { degrading, critical };

// Where an intensity curve is at a given step.
enum class Phase : uint8_t { none, ramp, hold, ramp_down };

struct Episode {
  EpisodeKind kind = EpisodeKind::degrading;
  Family family = Family::cpu;
  bool crash = false;
  int64_t start = 0;  // absolute step
  int64_t ramp = 1, hold = 1, fall = 1;
  double s0 = 0;      // intensity at the start (> 0 when escalating)
  double peak = 1;    // 1 (degrading) or 2 (critical)
  int64_t end = 0;    // absolute step at which it is over (s back to 0, crash, escalation)
  bool escalated = false;       // a degrading one cut short by a critical one
  int64_t parent_start = -1;    // a critical escalation: its degrading episode's start
  int64_t threshold_cross = -1; // first step whose noise-free target reached the threshold

  int64_t peak_step() const { return start + ramp; }
  int64_t crash_step() const { return start + ramp + hold + 1; }
  // Intensity and phase at absolute step a (valid for start ≤ a < end).
  double intensity(int64_t a, Phase* phase = nullptr, bool* second_half = nullptr) const;
};

struct CascadeEvent {
  int64_t start = 0, ramp = 1, hold = 1, fall = 1;
  int64_t end() const { return start + ramp + hold + fall; }
  int64_t peak_step() const { return start + ramp; }
  // Envelope c(t) in [0, 1] and its phase.
  double envelope(int64_t a, Phase* phase = nullptr, bool* second_half = nullptr) const;
};

// A start inside the week (§6.1): uniform, redrawn with probability 0.7 while outside weekdays
// 08:00–18:00 UTC. Returns an absolute step.
int64_t draw_start(Rng& rng, int64_t week, int64_t step_ms);

// The week's candidate episodes of one server, sorted by start (overlaps not yet resolved).
std::vector<Episode> draw_week_episodes(uint64_t key, bool problem_child, int64_t week, const SimConfig& cfg);

// The week's cascade events of one upstream server (empty for other profiles).
std::vector<CascadeEvent> draw_week_cascades(uint64_t key, Profile profile, bool problem_child, int64_t week,
                                             const SimConfig& cfg);

// Accepts episodes into a server's timeline in start order, applying escalation and dropping
// (§6.1). Returns false when the candidate was dropped.
bool admit_episode(std::vector<Episode>& timeline, Episode candidate);

}  // namespace nordiq::sim
