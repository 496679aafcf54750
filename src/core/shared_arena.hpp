// Many small buffers with one lifetime carved from a few large blocks. A forecast cycle renders
// each server's JSON (~27 KB) once and keeps it until the next cycle's snapshot replaces it; as a
// string per server that is a heap allocation per server, on pages handed back after every cycle
// (malloc_trim), so each cycle faulted ~3,000 fresh 4 KiB pages in for 500 servers. Here a piece
// is a slice of a block from a BlockPool (core/block_pool.hpp: one huge page each, recycled), and
// each piece's owner keeps its block alive, so a snapshot's pieces live as long as the snapshot
// needs them. The block being filled also holds the last pieces of the snapshot before (at most
// one block per arena outlives its snapshot). One arena per writing thread: it is not
// thread-safe; its pool is.
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>

#include "core/block_pool.hpp"
#include "core/huge_pages.hpp"

namespace nordiq {

class SharedArena {
 public:
  static constexpr size_t kDefaultBlockBytes = kHugePageBytes;  // one huge page

  // Blocks of kDefaultBlockBytes from one pool that every default arena of the process shares, so
  // a block freed on one thread serves the next render on another.
  SharedArena();
  explicit SharedArena(std::shared_ptr<BlockPool> pool) : pool_(std::move(pool)) {}

  // Copies `text` into the arena; `owner` then keeps the copy alive (it replaces what `owner` held).
  // A text larger than a block gets a block of its own (not pooled).
  std::string_view copy(std::string_view text, std::shared_ptr<const char[]>& owner);

  size_t blocks_started() const { return blocks_started_; }

 private:
  std::shared_ptr<BlockPool> pool_;
  std::shared_ptr<char[]> block_;  // the block pieces are carved from now
  size_t used_ = 0, size_ = 0;
  size_t blocks_started_ = 0;
};

}  // namespace nordiq
