// The simulated fleet (SIMULATOR.md §2, §7 bindings): who exists, in which order, which servers
// are problem children and which upstream server each dependant is bound to.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/metrics.hpp"

namespace nordiq::sim {

// Servers per profile, indexed by Profile.
using FleetCounts = std::array<int, kNumProfiles>;

// §2 split of N (N ≥ 7). Throws std::invalid_argument for N < 7.
FleetCounts split_fleet(int n);
// `--fleet database=2,web_api=5`: explicit counts (0 allowed, unknown profiles and duplicates are
// errors; at least one server). Throws std::invalid_argument with a message naming the problem.
FleetCounts parse_fleet_spec(std::string_view spec);

// `ppml0001`: prefix + index zero-padded to the profile's width.
std::string server_name(Profile p, int index);

struct ServerSpec {
  std::string name;
  Profile profile;
  uint64_t key;        // §8: K = splitmix64(seed ^ fnv1a64(name))
  bool problem_child;  // first uniform of the static stream < --problem-child-pct
  // Bound upstream server per kCascadeEdges entry (index into Fleet::servers), −1 if the edge
  // does not apply to this profile or the fleet has no server of the upstream profile.
  std::array<int, 6> upstream{-1, -1, -1, -1, -1, -1};
};

class Fleet {
 public:
  Fleet(const FleetCounts& counts, uint64_t seed, double problem_child_pct);

  // Fleet order: table order of §2, then index.
  const std::vector<ServerSpec>& servers() const { return servers_; }
  size_t size() const { return servers_.size(); }
  const ServerSpec& operator[](size_t i) const { return servers_[i]; }
  // Server indices sorted by name: the output row order within a step.
  const std::vector<int>& by_name() const { return by_name_; }
  std::optional<int> find(std::string_view name) const;
  const FleetCounts& counts() const { return counts_; }

 private:
  std::vector<ServerSpec> servers_;
  std::vector<int> by_name_;
  FleetCounts counts_{};
};

}  // namespace nordiq::sim
