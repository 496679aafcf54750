// Large buffers backed by transparent huge pages where the kernel allows it (THP in "madvise"
// mode, Debian's default). Each fresh 4 KiB page costs a fault when first written: ~3.5 µs on
// these VMs, so a 15 MB response body (500 servers' forecasts) spent ~50 ms of a ~56 ms render in
// page faults, and each cycle renders a fresh one (the previous one's pages went back to the
// system). With 2 MiB pages the same render takes 8–27 ms.
#pragma once

#include <cstddef>
#include <string>

namespace nordiq {

inline constexpr size_t kHugePageBytes = size_t{2} << 20;  // a transparent huge page on x86-64

// Buffers smaller than this are left alone (a huge page is 2 MiB; small ones reuse the heap).
inline constexpr size_t kHugePageWorthBytes = 2 * kHugePageBytes;

// Advises huge pages for the 2 MiB-aligned interior of [data, data + bytes); does nothing for
// small ranges or where THP is off (the advice is then refused, which is fine).
void advise_huge_pages(void* data, size_t bytes);

// s.reserve(bytes), advising huge pages for the new buffer when it is large.
void reserve_with_huge_pages(std::string& s, size_t bytes);

}  // namespace nordiq
