#include "sim/schedule.hpp"

#include <algorithm>
#include <cmath>

#include "sim/calendar.hpp"

namespace nordiq::sim {

int64_t duration_steps(int64_t duration_ms, int64_t step_ms) {
  const int64_t n = (duration_ms + step_ms / 2) / step_ms;
  return std::max<int64_t>(1, n);
}

double Episode::intensity(int64_t a, Phase* phase, bool* second_half) const {
  const int64_t j = a - start;
  Phase ph;
  double s;
  bool late = false;
  if (j <= ramp) {
    ph = Phase::ramp;
    s = s0 + (peak - s0) * static_cast<double>(j) / static_cast<double>(ramp);
    late = 2 * j >= ramp;
  } else if (j <= ramp + hold) {
    ph = Phase::hold;
    s = peak;
  } else {
    ph = Phase::ramp_down;
    const int64_t d = j - ramp - hold;
    s = peak * std::max(0.0, 1.0 - static_cast<double>(d) / static_cast<double>(fall));
  }
  if (phase) *phase = ph;
  if (second_half) *second_half = late;
  return s;
}

double CascadeEvent::envelope(int64_t a, Phase* phase, bool* second_half) const {
  const int64_t j = a - start;
  Phase ph = Phase::none;
  double c = 0;
  bool late = false;
  if (j < 0 || a >= end()) {
    ph = Phase::none;
  } else if (j <= ramp) {
    ph = Phase::ramp;
    c = static_cast<double>(j) / static_cast<double>(ramp);
    late = 2 * j >= ramp;
  } else if (j <= ramp + hold) {
    ph = Phase::hold;
    c = 1.0;
  } else {
    ph = Phase::ramp_down;
    c = 1.0 - static_cast<double>(j - ramp - hold) / static_cast<double>(fall);
  }
  if (phase) *phase = ph;
  if (second_half) *second_half = late;
  return c;
}

int64_t draw_start(Rng& rng, int64_t week, int64_t step_ms) {
  const int64_t steps_per_week = kWeekMs / step_ms;
  const int64_t first = week_start(week) / step_ms;
  int64_t a = first;
  for (int attempt = 0; attempt < 32; ++attempt) {
    a = first + static_cast<int64_t>(rng.below(static_cast<uint64_t>(steps_per_week)));
    const int64_t in_week_ms = (a - first) * step_ms;
    const int weekday = static_cast<int>(in_week_ms / kDayMs);
    const int hour = static_cast<int>((in_week_ms % kDayMs) / 3'600'000);
    const bool business = weekday < 5 && hour >= 8 && hour < 18;
    if (business || rng.uniform() >= 0.7) break;
  }
  return a;
}

std::vector<Episode> draw_week_episodes(uint64_t key, bool problem_child, int64_t week, const SimConfig& cfg) {
  Rng rng = Rng::substream(key, StreamId::incidents, week);
  const double mult = problem_child ? 2.0 : 1.0;
  const int n_deg = rng.poisson(cfg.degrading_per_week * mult);
  const int n_crit = rng.poisson(cfg.critical_per_week * mult);
  const int64_t step_ms = cfg.step_ms();
  std::vector<Episode> out;
  out.reserve(n_deg + n_crit);
  for (int i = 0; i < n_deg + n_crit; ++i) {
    Episode e;
    e.kind = i < n_deg ? EpisodeKind::degrading : EpisodeKind::critical;
    e.start = draw_start(rng, week, step_ms);
    e.family = static_cast<Family>(rng.below(kNumFamilies));
    if (e.kind == EpisodeKind::critical) {
      e.crash = rng.uniform() < 0.5;
      e.ramp = duration_steps(30 * 60'000, step_ms);
      e.hold = duration_steps(15 * 60'000, step_ms);
      e.fall = duration_steps(30 * 60'000, step_ms);
      e.peak = 2.0;
    } else {
      e.ramp = duration_steps(2 * 3'600'000, step_ms);
      e.hold = duration_steps(30 * 60'000, step_ms);
      e.fall = duration_steps(3'600'000, step_ms);
      e.peak = 1.0;
    }
    e.end = e.crash ? e.crash_step() : e.start + e.ramp + e.hold + e.fall;
    out.push_back(e);
  }
  // Stable: at equal starts a degrading episode comes first, so a critical one escalates it.
  std::stable_sort(out.begin(), out.end(), [](const Episode& a, const Episode& b) { return a.start < b.start; });
  return out;
}

std::vector<CascadeEvent> draw_week_cascades(uint64_t key, Profile profile, bool problem_child, int64_t week,
                                             const SimConfig& cfg) {
  std::vector<CascadeEvent> out;
  if (!is_cascade_upstream(profile) || cfg.cascade_per_week <= 0) return out;
  Rng rng = Rng::substream(key, StreamId::cascades, week);
  const int n = rng.poisson(cfg.cascade_per_week * (problem_child ? 1.5 : 1.0));
  const int64_t step_ms = cfg.step_ms();
  for (int i = 0; i < n; ++i) {
    CascadeEvent e;
    e.start = draw_start(rng, week, step_ms);
    e.ramp = duration_steps(30 * 60'000, step_ms);
    const double hold_ms = rng.uniform(3'600'000.0, 6 * 3'600'000.0);
    e.hold = duration_steps(static_cast<int64_t>(hold_ms), step_ms);
    e.fall = duration_steps(45 * 60'000, step_ms);
    out.push_back(e);
  }
  std::sort(out.begin(), out.end(), [](const CascadeEvent& a, const CascadeEvent& b) { return a.start < b.start; });
  return out;
}

bool admit_episode(std::vector<Episode>& timeline, Episode c) {
  if (!timeline.empty()) {
    Episode& last = timeline.back();
    if (c.start < last.end) {  // `last` is still active when `c` starts
      if (c.kind == EpisodeKind::critical && last.kind == EpisodeKind::degrading && !last.escalated &&
          c.start >= last.start) {
        c.family = last.family;
        c.s0 = last.intensity(c.start);
        c.parent_start = last.start;
        last.end = c.start;
        last.escalated = true;
        timeline.push_back(c);
        return true;
      }
      return false;
    }
  }
  timeline.push_back(c);
  return true;
}

}  // namespace nordiq::sim
