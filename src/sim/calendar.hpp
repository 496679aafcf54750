// Simulated time (SIMULATOR.md §3): step timestamps, the diurnal/weekly load factor F = D·W per
// profile, and the calendar facts the Markov chain and the disk cleanup need. Computed once per
// step and shared by every server of that step.
#pragma once

#include <array>
#include <cstdint>

#include "core/metrics.hpp"
#include "core/time.hpp"

namespace nordiq::sim {

inline constexpr int64_t kDayMs = 86'400'000;
inline constexpr int64_t kWeekMs = 7 * kDayMs;
// 1970-01-05 was the first Monday after the epoch.
inline constexpr int64_t kFirstMondayMs = 4 * kDayMs;

// Week number (weeks start Monday 00:00 UTC) of an instant, and a week's first instant.
int64_t week_of(EpochMs t);
inline EpochMs week_start(int64_t week) { return kFirstMondayMs + week * kWeekMs; }

// Diurnal factor D (smooth: hour h's band value holds at h:30, linear in between) and weekly
// factor W (linear over the 2 h around Saturday 00:00 and Monday 00:00).
double diurnal_factor(Profile p, EpochMs t);
double weekly_factor(Profile p, EpochMs t);

struct StepClock {
  int64_t k = 0;          // step index within the run
  int64_t abs_step = 0;   // t / step: the epoch-aligned step number schedules are keyed on
  EpochMs t = 0;
  int hour = 0;           // UTC
  int weekday = 0;        // 0 = Monday
  int64_t week = 0;
  bool cleanup = false;   // the first step at or after 02:00 UTC of its day (§5 step 6)
  std::array<double, kNumProfiles> F{};  // D·W per profile
};

StepClock make_step_clock(EpochMs start, int64_t step_ms, int64_t k);

}  // namespace nordiq::sim
