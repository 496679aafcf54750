#include "sim/fleet.hpp"

#include <algorithm>
#include <charconv>
#include <fmt/core.h>
#include <stdexcept>

#include "sim/rng.hpp"
#include "sim/tables.hpp"

namespace nordiq::sim {

FleetCounts split_fleet(int n) {
  if (n < 7) throw std::invalid_argument(fmt::format("--servers must be at least 7, got {}", n));
  FleetCounts c{};
  int sum = 0;
  for (const auto& e : kFleetOrder) {
    // Integer arithmetic: ⌊N·share/100⌋, at least 1.
    c[idx(e.profile)] = std::max(1, static_cast<int>(static_cast<int64_t>(n) * e.share_pct / 100));
  }
  int& gen = c[idx(Profile::generic)];
  if (gen > 10) {
    c[idx(Profile::ml_compute)] += gen - 10;
    gen = 10;
  }
  for (int v : c) sum += v;
  c[idx(Profile::web_api)] += n - sum;
  return c;
}

FleetCounts parse_fleet_spec(std::string_view spec) {
  FleetCounts c{};
  std::array<bool, kNumProfiles> seen{};
  int total = 0;
  size_t pos = 0;
  if (spec.empty()) throw std::invalid_argument("--fleet is empty; expected profile=count,...");
  while (pos <= spec.size()) {
    const size_t comma = std::min(spec.find(',', pos), spec.size());
    const std::string_view item = spec.substr(pos, comma - pos);
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos)
      throw std::invalid_argument(fmt::format("--fleet: '{}' is not profile=count", item));
    const auto name = item.substr(0, eq);
    const auto num = item.substr(eq + 1);
    const auto prof = profile_from_id(name);
    if (!prof) throw std::invalid_argument(fmt::format("--fleet: unknown profile '{}'", name));
    if (seen[idx(*prof)]) throw std::invalid_argument(fmt::format("--fleet: profile '{}' given twice", name));
    seen[idx(*prof)] = true;
    int v = -1;
    const auto r = std::from_chars(num.data(), num.data() + num.size(), v);
    if (r.ec != std::errc() || r.ptr != num.data() + num.size() || v < 0 || v > 100000)
      throw std::invalid_argument(fmt::format("--fleet: count for '{}' must be an integer 0–100000, got '{}'", name, num));
    c[idx(*prof)] = v;
    total += v;
    pos = comma + 1;
  }
  if (total < 1) throw std::invalid_argument("--fleet: the fleet has no servers");
  return c;
}

std::string server_name(Profile p, int index) {
  const auto& e = kFleetOrder[fleet_rank(p)];
  return fmt::format("{}{:0{}}", e.prefix, index, e.digits);
}

Fleet::Fleet(const FleetCounts& counts, uint64_t seed, double problem_child_pct) : counts_(counts) {
  for (const auto& e : kFleetOrder) {
    for (int i = 1; i <= counts[idx(e.profile)]; ++i) {
      ServerSpec s;
      s.name = server_name(e.profile, i);
      s.profile = e.profile;
      s.key = server_key(seed, s.name);
      Rng st = Rng::substream(s.key, StreamId::static_);
      s.problem_child = st.uniform() < problem_child_pct;
      servers_.push_back(std::move(s));
    }
  }
  by_name_.resize(servers_.size());
  for (size_t i = 0; i < servers_.size(); ++i) by_name_[i] = static_cast<int>(i);
  std::sort(by_name_.begin(), by_name_.end(),
            [&](int a, int b) { return servers_[a].name < servers_[b].name; });
  // Rendezvous binding: per edge, the upstream candidate with the highest hash of (seed,
  // downstream name, candidate name) wins, so a new upstream server only steals the dependants
  // it wins.
  for (auto& s : servers_) {
    const uint64_t down = fnv1a64(s.name);
    for (size_t e = 0; e < kCascadeEdges.size(); ++e) {
      if (kCascadeEdges[e].downstream != s.profile) continue;
      uint64_t best = 0;
      int best_i = -1;
      for (size_t c = 0; c < servers_.size(); ++c) {
        if (servers_[c].profile != kCascadeEdges[e].upstream) continue;
        const uint64_t h = splitmix64(splitmix64(seed ^ down) ^ fnv1a64(servers_[c].name));
        if (best_i < 0 || h > best) {
          best = h;
          best_i = static_cast<int>(c);
        }
      }
      s.upstream[e] = best_i;
    }
  }
}

std::optional<int> Fleet::find(std::string_view name) const {
  auto it = std::lower_bound(by_name_.begin(), by_name_.end(), name,
                             [&](int i, std::string_view n) { return servers_[i].name < n; });
  if (it != by_name_.end() && servers_[*it].name == name) return *it;
  return std::nullopt;
}

}  // namespace nordiq::sim
