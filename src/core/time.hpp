// UTC time as integer milliseconds since the Unix epoch, and the ISO-8601 forms the API speaks.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace nordiq {

using EpochMs = int64_t;

// Parses `YYYY-MM-DDTHH:MM:SS[.fraction][Z|±hh:mm|±hhmm]` (a space is accepted for `T`);
// a naive timestamp is UTC. Returns nullopt on anything else, including out-of-range fields.
std::optional<EpochMs> parse_iso8601(std::string_view text);

// `2025-01-15T10:00:00Z` (milliseconds are printed only when non-zero: `...:00.250Z`).
std::string format_iso8601(EpochMs t);

// Days since 1970-01-01 for a proleptic Gregorian date, and back.
int64_t days_from_civil(int64_t y, unsigned m, unsigned d);
void civil_from_days(int64_t z, int64_t& y, unsigned& m, unsigned& d);

// Wall-clock now (system clock), in epoch ms.
EpochMs now_ms();

}  // namespace nordiq
