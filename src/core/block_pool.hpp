// Fixed-size memory blocks, each its own mapping, recycled when their last owner lets go.
//
// Why: a SharedArena's blocks (core/shared_arena.hpp) were 4 MiB heap allocations aligned to
// 2 MiB, advised onto huge pages. Each freed block's pages went back inside glibc's arenas
// (malloc_trim), where khugepaged could collapse them into huge pages again, and how many blocks
// were live at a given moment depended on where each rendering thread stood in its block: the
// RSS of a 20-server daemon wandered between 72 and 87 MB from one reading to the next, and
// `nordiq bench` read growths of +3.6 to +12.9 MB over 1,000 cycles (issue #12: < 1 MB).
//
// Here each block is a mapping of its own, aligned to a huge page and advised onto them, so a
// block goes back to the system whole (munmap), never into glibc's heap. A released block is
// kept for the next cycle's renders instead, up to a bound: no more free blocks than blocks in
// use (what a cycle frees, the next one needs again) and at most `max_free_bytes` (so a large
// fleet holds at most that much more between cycles than it uses). In steady state a cycle's
// renders then fault in no page at all and the RSS stays where the first cycles put it.
#pragma once

#include <cstddef>
#include <memory>

namespace nordiq {

class BlockPool {
 public:
  static constexpr size_t kDefaultMaxFreeBytes = size_t{16} << 20;  // about 500 servers' rendered text

  explicit BlockPool(size_t block_bytes, size_t max_free_bytes = kDefaultMaxFreeBytes);
  BlockPool(const BlockPool&) = delete;
  BlockPool& operator=(const BlockPool&) = delete;

  // A block of block_bytes(): a free one if the pool holds one, else a fresh mapping. Its owners
  // may outlive the pool; the last one returns it (or unmaps it, beyond the bound).
  std::shared_ptr<char[]> take();

  size_t block_bytes() const { return block_bytes_; }
  size_t blocks_mapped() const;  // fresh mappings made so far (recycled blocks not counted)
  size_t blocks_in_use() const;
  size_t blocks_free() const;

  // A one-off block of `bytes` (a piece larger than a block), unmapped when released.
  static std::shared_ptr<char[]> map_single(size_t bytes);

 private:
  struct Shared;
  size_t block_bytes_;
  std::shared_ptr<Shared> shared_;  // also held by every block's deleter
};

}  // namespace nordiq
