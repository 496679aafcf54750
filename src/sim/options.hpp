// Flag values of `nordiq simulate`, parsed and validated after CLI11 has split the command line,
// so that every bad value is a usage error (exit 2) whose message names the flag.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include "sim/fleet.hpp"
#include "sim/schedule.hpp"

namespace nordiq::sim {

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Exit codes of §1.
inline constexpr int kExitOk = 0, kExitUsage = 2, kExitAuth = 3, kExitIo = 4, kExitUndelivered = 5;

int64_t parse_int_flag(std::string_view flag, std::string_view text, int64_t lo, int64_t hi);
uint64_t parse_u64_flag(std::string_view flag, std::string_view text);
double parse_double_flag(std::string_view flag, std::string_view text, double lo, double hi);

// --step: 5–600 and a divisor of 86 400.
int parse_step_flag(std::string_view text);
// --start: ISO-8601 (naive = UTC), floored to an epoch-aligned step.
EpochMs parse_start_flag(std::string_view text, int step_s);
inline EpochMs floor_to_step(EpochMs t, int step_s) {
  const int64_t ms = static_cast<int64_t>(step_s) * 1000;
  const int64_t q = t / ms - ((t % ms) < 0 ? 1 : 0);
  return q * ms;
}

// Reads a key file (first line, trimmed). Throws UsageError naming the flag.
std::string read_key_file(std::string_view flag, const std::string& path);

// Sets up spdlog on stderr: `text` or `json` lines, level from NORDIQ_LOG_LEVEL
// (DEBUG/INFO/WARNING/ERROR). Throws UsageError for a bad format or level.
void setup_logging(std::string_view format);

}  // namespace nordiq::sim
