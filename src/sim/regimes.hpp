// Real-server regimes (`nordiq simulate --regimes realistic`): what SIMULATOR.md's profiles do not
// have and real fleets do. The base simulator's series revert to one daily profile per server
// type; a model trained only on them learns "go back to the daily mean", which is wrong on real
// servers. This layer, drawn per server from its own random stream (sub-stream 7, so the base
// series' streams are untouched), lays on the finished record of each online step:
//
//   flat / idle machine   (8 %)   CPU user scaled to 15 % of itself plus a small constant
//   level shifts          (60 %)  CPU and memory offsets that jump at Poisson times
//                                 (0.2–1.5 a day, N(0, 12) CPU points, U(−10, 10) memory) and persist
//   random walk           (35 %)  CPU offset with steps of 0.2–0.8 points, weak reversion
//   memory leak           (25 %)  memory climbing 1–8 points a day, reset at a restart (1 in ~3 days)
//   own daily cycle       (50 %)  CPU + A·sin(2π(hour − φ)/24), A 3–15 points, any phase φ
//   hourly job            (30 %)  CPU + 10–40 points at one fixed position within every hour
//   weekly cycle          (30 %)  weekend CPU × 0.4–1.3
//
// Consistency is kept: user is clamped so that user + sys + iowait ≤ 100 and idle is the rest;
// java keeps its share of user + sys; load scales with busy CPU. The ground truth
// (incidents.csv) describes the base simulator's episodes only: use regimes for training data,
// not for `nordiq eval alerts`. Off by default, so the default output is unchanged byte for byte.
#pragma once

#include <cstdint>

#include "sim/calendar.hpp"
#include "sim/record.hpp"
#include "sim/rng.hpp"
#include "sim/schedule.hpp"

namespace nordiq::sim {

class RegimeLayer {
 public:
  RegimeLayer(uint64_t server_key, const SimConfig& cfg);

  // Advances the regime state by one step (every step, online or not, so both modes agree) and,
  // when `out.online`, applies it to the record.
  void step(const StepClock& clock, SimRecord& out);

 private:
  void advance();
  void apply(const StepClock& clock, SimRecord& out) const;

  Rng rng_;
  double step_days_;
  int64_t step_ms_;
  // What this server has (drawn once).
  bool flat_ = false, shifts_ = false, walk_ = false, leak_ = false, daily_ = false, hourly_ = false,
       weekly_ = false;
  double shift_rate_ = 0, walk_sd_ = 0, leak_per_day_ = 0, daily_amp_ = 0, daily_phase_h_ = 0,
         hourly_amp_ = 0, weekend_factor_ = 1, flat_floor_ = 0;
  int hourly_slot_ = 0;
  // State.
  double cpu_shift_ = 0, mem_shift_ = 0, cpu_walk_ = 0, mem_leak_ = 0;
};

}  // namespace nordiq::sim
