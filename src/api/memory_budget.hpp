// The default number of servers a daemon tracks, fitted to the machine (issue #14). Each tracked
// server costs memory whatever its data: its window, two forecast snapshots with their rendered
// JSON, the batch buffers of a forecast cycle (features, outputs), the safety net's scores and
// robust shape. Measured on the default model with 1,000 and 3,000 servers: 394 and 327 KiB each
// (README, "Memory per server"). Without a limit anyone holding the ingest key could create servers until
// the machine runs out of memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace nordiq::api {

inline constexpr uint64_t kBytesPerServer = 512 * 1024;  // the measured 327–394 KiB, with headroom
inline constexpr size_t kMinFittedServers = 1'000, kMaxFittedServers = 100'000;

// Servers that fit in half of `memory_bytes` at kBytesPerServer each, within
// [kMinFittedServers, kMaxFittedServers].
size_t fitted_max_servers(uint64_t memory_bytes);

// The memory this process may use: physical memory, or the cgroup (v2) limit when lower.
uint64_t usable_memory_bytes();

// "24,105 servers (half of 23.5 GiB at ~512 KiB each)": why the default is what it is.
std::string describe_fitted_max_servers(uint64_t memory_bytes);

}  // namespace nordiq::api
