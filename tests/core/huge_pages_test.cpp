// Large buffers are advised to the kernel for transparent huge pages: the mapping that holds the
// buffer's 2 MiB-aligned interior carries the "hg" flag in /proc/self/smaps, and nothing outside
// the buffer does because of it.
#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/huge_pages.hpp"

namespace nordiq {
namespace {

struct Mapping {
  uintptr_t begin = 0, end = 0;
  bool huge_advised = false;  // VmFlags has "hg" (MADV_HUGEPAGE)
};

std::vector<Mapping> mappings() {
  std::ifstream smaps("/proc/self/smaps");
  std::vector<Mapping> out;
  std::string line;
  while (std::getline(smaps, line)) {
    if (line.rfind("VmFlags:", 0) == 0) {
      std::istringstream flags(line.substr(8));
      for (std::string f; flags >> f;) out.back().huge_advised |= f == "hg";
      continue;
    }
    const size_t dash = line.find('-');
    const size_t space = line.find(' ');
    if (dash == std::string::npos || space == std::string::npos || dash > space) continue;
    if (line.find_first_not_of("0123456789abcdef") != dash) continue;
    out.push_back({std::stoull(line.substr(0, dash), nullptr, 16), std::stoull(line.substr(dash + 1, space - dash - 1), nullptr, 16)});
  }
  return out;
}

TEST(HugePages, ALargeBuffersInteriorIsAdvisedForHugePagesAndNothingOutsideIt) {
  std::string body;
  reserve_with_huge_pages(body, size_t{16} << 20);
  ASSERT_GE(body.capacity(), size_t{16} << 20);
  const uintptr_t begin = reinterpret_cast<uintptr_t>(body.data()), end = begin + body.capacity();
  int advised_inside = 0;
  for (const Mapping& m : mappings()) {
    if (!m.huge_advised) continue;
    if (m.begin >= begin && m.end <= end) {
      ++advised_inside;
      EXPECT_EQ(m.begin % (2u << 20), 0u);
      EXPECT_EQ(m.end % (2u << 20), 0u);
    } else {
      EXPECT_TRUE(m.end <= begin || m.begin >= end) << "a mapping advised beyond the buffer";
    }
  }
  EXPECT_EQ(advised_inside, 1) << "the buffer's 2 MiB-aligned interior, as one mapping";
}

TEST(HugePages, ASmallBufferIsLeftAlone) {
  std::string small;
  reserve_with_huge_pages(small, size_t{1} << 20);
  const uintptr_t begin = reinterpret_cast<uintptr_t>(small.data());
  for (const Mapping& m : mappings()) {
    if (m.begin <= begin && begin < m.end) {
      EXPECT_FALSE(m.huge_advised);
    }
  }
}

}  // namespace
}  // namespace nordiq
