// The simulator's randomness (SIMULATOR.md §8): splitmix64 keys, xoshiro256** sub-streams and
// hand-written variates. std::*_distribution is deliberately not used: its output differs between
// standard libraries, and the simulator promises identical bytes for a seed.
#pragma once

#include <cmath>
#include <cstdint>
#include <string_view>

#include "core/rng.hpp"

namespace nordiq::sim {

// splitmix64 itself: core/rng.hpp

inline uint64_t fnv1a64(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

// Sub-stream ids of §8.
// regimes (7) is the optional real-server regime layer (sim/regimes.hpp), after §8's six.
enum class StreamId : uint64_t { static_ = 1, state = 2, noise = 3, incidents = 4, cascades = 5, control = 6, regimes = 7 };

// xoshiro256** with the §8 variates.
class Rng {
 public:
  Rng() = default;
  // Seeded with four successive splitmix64 outputs from `seed_state`.
  explicit Rng(uint64_t seed_state) {
    for (auto& w : s_) w = splitmix64_next(seed_state);
  }
  // The sub-stream `id` of a server key K (or of the seed, for the control stream); `week` keys the
  // incident and cascade streams so a week's schedule never depends on other weeks.
  static Rng substream(uint64_t key, StreamId id) {
    return Rng(key ^ (static_cast<uint64_t>(id) * kGoldenGamma));
  }
  static Rng substream(uint64_t key, StreamId id, int64_t week) {
    return Rng(key ^ (static_cast<uint64_t>(id) * kGoldenGamma) ^
               splitmix64(static_cast<uint64_t>(week) ^ 0x5EEDBA5Eull));
  }

  uint64_t next() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  // Uniform in [0, 1).
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  // Box–Muller, cosine branch only; 1 − u inside the log so it never sees 0.
  double normal() {
    const double u1 = uniform();
    const double u2 = uniform();
    return std::sqrt(-2.0 * std::log(1.0 - u1)) * std::cos(6.283185307179586 * u2);
  }
  // Knuth's product method (rates here are small: a few per week).
  int poisson(double lambda) {
    if (lambda <= 0) return 0;
    const double limit = std::exp(-lambda);
    int k = 0;
    double p = 1.0;
    do {
      ++k;
      p *= uniform();
    } while (p > limit && k < 10000);
    return k - 1;
  }
  // Uniform integer in [0, n).
  uint64_t below(uint64_t n) { return static_cast<uint64_t>(uniform() * static_cast<double>(n)); }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4] = {1, 2, 3, 4};
};

// K = splitmix64(seed XOR fnv1a64(server_name)).
inline uint64_t server_key(uint64_t seed, std::string_view name) {
  return splitmix64(seed ^ fnv1a64(name));
}

}  // namespace nordiq::sim
