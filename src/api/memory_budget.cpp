#include "api/memory_budget.hpp"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <fmt/format.h>

namespace nordiq::api {

size_t fitted_max_servers(uint64_t memory_bytes) {
  const uint64_t fit = memory_bytes / 2 / kBytesPerServer;
  return static_cast<size_t>(std::clamp<uint64_t>(fit, kMinFittedServers, kMaxFittedServers));
}

uint64_t usable_memory_bytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
  uint64_t bytes = pages > 0 && page > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page) : 0;
  std::ifstream cgroup("/sys/fs/cgroup/memory.max");  // "max" when unlimited
  uint64_t limit = 0;
  if (cgroup >> limit && limit > 0) bytes = bytes > 0 ? std::min(bytes, limit) : limit;
  return bytes;
}

std::string describe_fitted_max_servers(uint64_t memory_bytes) {
  return fmt::format("{} servers (half of {:.1f} GiB of memory at ~{} KiB per server, within {}..{})",
                     fitted_max_servers(memory_bytes), static_cast<double>(memory_bytes) / (1ULL << 30),
                     kBytesPerServer / 1024, kMinFittedServers, kMaxFittedServers);
}

}  // namespace nordiq::api
