// splitmix64, the one copy (the simulator's keys, dropout masks, the trainer's seeds): a fast,
// well-mixed 64-bit hash of a counter. Deterministic and the same on every standard library.
#pragma once

#include <cstdint>

namespace nordiq {

inline constexpr uint64_t kGoldenGamma = 0x9E3779B97F4A7C15ull;  // splitmix64's increment

// splitmix64's output function: a bijective mix of z.
inline constexpr uint64_t splitmix64_mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// One splitmix64 step on `state` (advances it) and its output.
inline constexpr uint64_t splitmix64_next(uint64_t& state) { return splitmix64_mix(state += kGoldenGamma); }

// splitmix64 as a pure function of x.
inline constexpr uint64_t splitmix64(uint64_t x) { return splitmix64_next(x); }

}  // namespace nordiq
