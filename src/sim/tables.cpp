#include "sim/tables.hpp"

namespace nordiq::sim {

int fleet_rank(Profile p) {
  for (int i = 0; i < kNumProfiles; ++i)
    if (kFleetOrder[i].profile == p) return i;
  return kNumProfiles - 1;
}

namespace {

// Indexed by Profile (alphabetical: conductor_mgmt, data_ingest, database, generic, ml_compute,
// risk_analytics, web_api).
constexpr std::array<ProfileBase, kNumProfiles> kBase = {{
    // conductor_mgmt
    {{15, 6}, {6, 2}, {2, 1}, 77, 0.90, {42, 8}, {2, 1}, {40, 8}, 0.3, {22, 8}, {18, 6}, {5, 2}, {4, 2}, {3.2, 1.2},
     {0.80, 1.00, 1.10, 1.20, 1.00, 1.00}, 1.0},
    // data_ingest
    {{35, 10}, {10, 3}, {8, 3}, 47, 0.90, {62, 12}, {4, 2}, {65, 12}, 1.5, {150, 45}, {95, 30}, {10, 4}, {8, 3}, {5.5, 2},
     {0.80, 1.00, 1.32, 1.20, 1.00, 1.00}, 0.70},
    // database
    {{25, 8}, {12, 4}, {15, 5}, 48, 0.27, {68, 10}, {3, 2}, {70, 10}, 1.0, {35, 12}, {28, 10}, {8, 3}, {6, 2}, {4.2, 1.5},
     {0.80, 1.00, 1.21, 1.44, 1.00, 1.00}, 1.0},
    // generic
    {{12, 5}, {4, 2}, {1, 1}, 83, 0.50, {35, 8}, {1, 1}, {30, 8}, 0.2, {15, 8}, {12, 6}, {2, 1}, {2, 1}, {1.5, 0.8},
     {0.80, 1.00, 1.10, 1.20, 1.00, 1.00}, 1.0},
    // ml_compute
    {{45, 12}, {8, 3}, {2, 1}, 45, 0.90, {72, 10}, {5, 3}, {55, 8}, 0.5, {8.5, 3}, {5.2, 2}, {2, 1}, {2, 1}, {6.5, 2},
     {0.92, 1.00, 1.10, 1.20, 1.15, 1.15}, 1.0},
    // risk_analytics
    {{55, 15}, {8, 3}, {2, 1}, 35, 0.90, {70, 10}, {5, 3}, {50, 10}, 0.5, {12, 4}, {8, 3}, {3, 1}, {2, 1}, {8.2, 2.5},
     {0.80, 1.00, 1.10, 1.50, 1.00, 1.00}, 0.50},
    // web_api
    {{18, 6}, {5, 2}, {3, 2}, 74, 0.90, {45, 10}, {2, 1}, {35, 8}, 0.3, {85, 25}, {120, 35}, {15, 5}, {12, 4}, {2.8, 1},
     {0.50, 1.00, 1.265, 1.20, 1.00, 0.60}, 0.60},
}};

// Indexed by Status (critical_issue, healthy, heavy_load, idle, maintenance, morning_spike,
// offline, recovery).
constexpr std::array<StateFactors, kNumStatuses> kStateFactors = {{
    {2.5, 2.0, 3.5, 1.12, 1.4, 0.4, 0.3, 2.5},     // critical_issue
    {1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0},      // healthy
    {1.4, 1.3, 1.5, 1.07, 1.2, 1.5, 1.4, 1.4},     // heavy_load
    {0.3, 0.5, 0.2, 0.67, 0.8, 0.2, 0.2, 0.3},     // idle
    {0.3, 0.5, 0.8, 0.67, 0.8, 0.2, 0.2, 0.2},     // maintenance
    {1.3, 1.2, 1.4, 1.08, 1.1, 1.5, 1.4, 1.3},     // morning_spike
    {1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0},      // offline (no record)
    {0.8, 0.9, 1.2, 0.875, 1.0, 0.8, 0.7, 0.9},    // recovery
}};

constexpr std::array<EffectSpec, 4> kEffects = {{
    // user sys share mem in out back× back+ front× front+ load
    {1.0, 1.4, 1.0, 1.0, 1.0, 1.0, 3.0, 15, 2.5, 10, 1.3},   // connection_failures
    {1.0, 1.0, 1.2, 1.15, 1.0, 1.0, 1.5, 5, 1.0, 0, 2.0},    // request_queuing
    {0.3, 1.0, 0.2, 1.0, 0.1, 0.1, 1.0, 0, 1.0, 0, 0.4},     // idle_resources
    {0.4, 1.0, 0.3, 0.9, 0.15, 1.0, 1.0, 0, 1.0, 0, 0.5},    // data_starvation
}};

}  // namespace

const ProfileBase& profile_base(Profile p) { return kBase[idx(p)]; }
const StateFactors& state_factors(Status s) { return kStateFactors[idx(s)]; }
const EffectSpec& effect_spec(Effect e) { return kEffects[static_cast<int>(e)]; }

FamilyTargets family_targets(Family f, Profile p) {
  switch (f) {
    case Family::cpu: return {93, 99, 90};
    case Family::memory:
      return p == Profile::database ? FamilyTargets{98.5, 99.6, 98} : FamilyTargets{96, 99, 95};
    case Family::iowait: return {24, 40, 20};
    case Family::disk: return {92, 98, 90};
  }
  return {93, 99, 90};
}

bool is_cascade_upstream(Profile p) {
  return p == Profile::database || p == Profile::conductor_mgmt || p == Profile::data_ingest;
}

unsigned cascade_source_families(Profile p) {
  constexpr unsigned cpu = 1u << static_cast<int>(Family::cpu);
  constexpr unsigned mem = 1u << static_cast<int>(Family::memory);
  constexpr unsigned io = 1u << static_cast<int>(Family::iowait);
  switch (p) {
    case Profile::database: return io | mem;
    case Profile::conductor_mgmt: return cpu;
    case Profile::data_ingest: return io;
    default: return 0;
  }
}

void markov_row(Status from, int hour, int weekday, bool problem_child, double step_scale,
                std::array<double, kNumStatuses>& out) {
  out.fill(0.0);
  auto set = [&](Status to, double p) { out[idx(to)] = p; };
  const bool weekday_ = weekday < 5;
  switch (from) {
    case Status::idle:
      set(Status::healthy, 0.077);
      set(Status::maintenance, 0.003);
      break;
    case Status::healthy:
      set(Status::idle, (hour < 6 || hour >= 22) ? 0.025 : 0.005);
      set(Status::morning_spike, (weekday_ && hour >= 7 && hour <= 9) ? 0.030 : 0.005);
      set(Status::heavy_load, (weekday_ && hour >= 10 && hour <= 17) ? 0.025 : 0.008);
      set(Status::critical_issue, 0.001);
      set(Status::maintenance, 0.0005);
      break;
    case Status::morning_spike:
      set(Status::healthy, 0.120);
      set(Status::heavy_load, 0.025);
      set(Status::critical_issue, 0.005);
      break;
    case Status::heavy_load:
      set(Status::idle, 0.002);
      set(Status::healthy, 0.090);
      set(Status::critical_issue, 0.008);
      break;
    case Status::critical_issue:
      set(Status::recovery, 0.150);
      set(Status::offline, 0.050);
      break;
    case Status::maintenance:
      set(Status::recovery, 0.060);
      set(Status::offline, 0.040);
      break;
    case Status::recovery:
      set(Status::idle, 0.010);
      set(Status::healthy, 0.240);
      break;
    case Status::offline:
      set(Status::recovery, 0.150);
      break;
  }
  if (problem_child) {
    out[idx(Status::critical_issue)] *= 2.0;
    out[idx(Status::offline)] *= 1.5;
  }
  double off = 0;
  for (int i = 0; i < kNumStatuses; ++i) {
    if (i == idx(from)) continue;
    out[i] *= step_scale;
    off += out[i];
  }
  // The diagonal is the rest of the row; a very long --step could push it below 0, so the
  // off-diagonal entries are renormalised then (600 s doubles them at most: never here).
  if (off > 1.0) {
    for (int i = 0; i < kNumStatuses; ++i) out[i] /= off;
    off = 1.0;
  }
  out[idx(from)] = 1.0 - off;
}

}  // namespace nordiq::sim
