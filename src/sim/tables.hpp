// The numbers of SIMULATOR.md §2–§7 as constant tables, indexed by the core enums so the per-step
// code does array lookups only. Everything here is data; the behaviour lives in server_sim.cpp.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "core/metrics.hpp"

namespace nordiq::sim {

inline constexpr int idx(Profile p) { return static_cast<int>(p); }
inline constexpr int idx(Status s) { return static_cast<int>(s); }

// §2: fleet order (table order) with name prefix, digits and share.
struct FleetEntry {
  Profile profile;
  std::string_view prefix;
  int digits;
  int share_pct;
};
inline constexpr std::array<FleetEntry, kNumProfiles> kFleetOrder = {{
    {Profile::ml_compute, "ppml", 4, 22},
    {Profile::database, "ppdb", 3, 17},
    {Profile::web_api, "ppweb", 3, 28},
    {Profile::conductor_mgmt, "ppcon", 2, 6},
    {Profile::data_ingest, "ppetl", 3, 11},
    {Profile::risk_analytics, "pprisk", 3, 9},
    {Profile::generic, "ppgen", 3, 7},
}};
// Position of a profile in kFleetOrder.
int fleet_rank(Profile p);

// The twelve smoothed quantities, in the order their normals are drawn each step (§5).
enum Q : int { kUser, kSys, kIowait, kShare, kMem, kSwap, kDisk, kNetIn, kNetOut, kBack, kFront, kLoad, kNumQ };

struct MeanStd {
  double mean, sd;
};

// §5 base table for one profile.
struct ProfileBase {
  MeanStd user, sys, iowait;
  double idle_ref;     // reference idle → busy₀ = 100 − idle_ref
  double java_share;   // java share of user + sys
  MeanStd mem, swap, disk;
  double disk_growth_per_day;
  MeanStd net_in, net_out, back, front, load;
  std::array<double, 6> diurnal;  // hour bands 00–06, 07–08, 09–15, 16–18, 19–20, 21–23
  double weekend;                 // weekly factor on Saturday and Sunday
};
const ProfileBase& profile_base(Profile p);

// §4 state factors (offline: healthy's, it sends nothing anyway).
struct StateFactors {
  double user, sys, iowait, share, mem, net_in, net_out, close_wait;
};
const StateFactors& state_factors(Status s);

// §6.2 incident families.
enum class Family : uint8_t { cpu, memory, iowait, disk };
inline constexpr int kNumFamilies = 4;
inline constexpr std::array<std::string_view, kNumFamilies> kFamilyNames = {"cpu", "memory", "iowait", "disk"};
inline std::string_view family_name(Family f) { return kFamilyNames[static_cast<int>(f)]; }
struct FamilyTargets {
  double degrading_peak, critical_peak, threshold;
};
FamilyTargets family_targets(Family f, Profile p);

// §7 cascade effects.
enum class Effect : uint8_t { connection_failures, request_queuing, idle_resources, data_starvation };
inline constexpr std::array<std::string_view, 4> kEffectNames = {"connection_failures", "request_queuing",
                                                                 "idle_resources", "data_starvation"};
struct EffectSpec {
  // multipliers (1 = none) and additives (0 = none)
  double user, sys, share, mem, net_in, net_out, back_mul, back_add, front_mul, front_add, load;
};
const EffectSpec& effect_spec(Effect e);

struct EdgeEffect {
  Effect effect;
  double strength;
};
// One dependency edge: a downstream profile depends on one server of an upstream profile.
struct CascadeEdge {
  Profile downstream, upstream;
  int num_effects;
  std::array<EdgeEffect, 2> effects;
};
inline constexpr std::array<CascadeEdge, 6> kCascadeEdges = {{
    {Profile::web_api, Profile::database, 2, {{{Effect::connection_failures, 0.85}, {Effect::request_queuing, 0.70}}}},
    {Profile::data_ingest, Profile::database, 2, {{{Effect::connection_failures, 0.75}, {Effect::request_queuing, 0.60}}}},
    {Profile::risk_analytics, Profile::database, 2, {{{Effect::data_starvation, 0.80}, {Effect::idle_resources, 0.50}}}},
    {Profile::conductor_mgmt, Profile::database, 1, {{{Effect::connection_failures, 0.70}, {}}}},
    {Profile::ml_compute, Profile::conductor_mgmt, 1, {{{Effect::idle_resources, 0.90}, {}}}},
    {Profile::ml_compute, Profile::data_ingest, 1, {{{Effect::data_starvation, 0.60}, {}}}},
}};
// Profiles that emit cascade events (§7): database, conductor_mgmt, data_ingest.
bool is_cascade_upstream(Profile p);
// The families a cascade source shows its trouble on (s = 2c); returns a bit mask over Family.
unsigned cascade_source_families(Profile p);

// §4 transition probabilities per 5-minute step, into out[] indexed by Status.
// hour/weekday are T_k's UTC values (weekday 0 = Monday).
void markov_row(Status from, int hour, int weekday, bool problem_child, double step_scale,
                std::array<double, kNumStatuses>& out);

}  // namespace nordiq::sim
