#include "core/huge_pages.hpp"

#include <sys/mman.h>

#include <cstdint>

namespace nordiq {

void advise_huge_pages(void* data, size_t bytes) {
  if (bytes < kHugePageWorthBytes) return;
  constexpr uintptr_t kHuge = kHugePageBytes;
  const uintptr_t begin = reinterpret_cast<uintptr_t>(data), end = begin + bytes;
  const uintptr_t first = (begin + kHuge - 1) & ~(kHuge - 1), last = end & ~(kHuge - 1);
  if (last > first) (void)::madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);
}

void reserve_with_huge_pages(std::string& s, size_t bytes) {
  if (bytes <= s.capacity()) return;
  s.reserve(bytes);
  advise_huge_pages(s.data(), s.capacity());
}

}  // namespace nordiq
