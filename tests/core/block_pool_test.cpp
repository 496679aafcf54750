#include "core/block_pool.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <deque>
#include <string>
#include <vector>

#include "core/shared_arena.hpp"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

using nordiq::BlockPool;
using nordiq::SharedArena;

TEST(BlockPool, AReleasedBlockServesTheNextTakeInsteadOfAFreshMapping) {
  BlockPool pool(1 << 16);
  std::shared_ptr<char[]> keep = pool.take(), first = pool.take();
  char* const first_at = first.get();
  std::memset(first_at, 'x', 1 << 16);  // the whole block is writable
  first.reset();
  EXPECT_EQ(pool.blocks_free(), 1u);
  const std::shared_ptr<char[]> again = pool.take();
  EXPECT_EQ(again.get(), first_at);
  EXPECT_EQ(pool.blocks_mapped(), 2u);
  EXPECT_EQ(pool.blocks_in_use(), 2u);
}

TEST(BlockPool, KeepsNoMoreFreeBlocksThanAreStillInUseNorMoreThanItsBound) {
  {
    BlockPool pool(1 << 12);
    std::vector<std::shared_ptr<char[]>> blocks;
    for (int i = 0; i < 6; ++i) blocks.push_back(pool.take());
    // Released one by one: kept while fewer are free than still in use (5, 4, 3 in use), then
    // handed back to the system (2, 1, 0 in use).
    blocks.clear();
    EXPECT_EQ(pool.blocks_free(), 3u);
    EXPECT_EQ(pool.blocks_in_use(), 0u);
  }
  BlockPool bounded(1 << 12, 2 << 12);  // at most two free blocks
  std::vector<std::shared_ptr<char[]>> blocks;
  for (int i = 0; i < 10; ++i) blocks.push_back(bounded.take());
  blocks.resize(2);
  EXPECT_EQ(bounded.blocks_free(), 2u);
  EXPECT_EQ(bounded.blocks_mapped(), 10u);
}

TEST(BlockPool, ABlockOutlivesItsPool) {
  std::shared_ptr<char[]> block;
  {
    BlockPool pool(1 << 12);
    block = pool.take();
  }
  std::memset(block.get(), 'y', 1 << 12);
  EXPECT_EQ(block[4095], 'y');
  block.reset();  // returned to the pool's free list, which its deleter keeps alive (ASan: no leak)
}

TEST(BlockPool, BlocksOfAHugePageOrMoreStartOnAHugePage) {
  BlockPool pool(size_t{2} << 20);
  const auto a = pool.take(), b = pool.take();
  const auto single = BlockPool::map_single((size_t{2} << 20) + 1);
  for (const char* p : {a.get(), b.get(), single.get()})
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % (uintptr_t{2} << 20), 0u);
}

// A daemon's cycles: each renders every server's text into its thread's arena, and the snapshot
// of the two latest cycles keeps its pieces alive. After the first cycles the arena reuses blocks
// the cycles before let go: no fresh mapping, so no page to fault in and no RSS growth.
TEST(BlockPool, RenderCyclesThatReplaceTheirSnapshotMapNoNewBlockAfterTheFirstFew) {
  auto pool = std::make_shared<BlockPool>(1 << 16);
  SharedArena arena(pool);
  std::deque<std::vector<std::shared_ptr<const char[]>>> snapshots;
  const std::string text(6000, 't');
  size_t mapped_after_warmup = 0;
  for (int cycle = 0; cycle < 1000; ++cycle) {
    std::vector<std::shared_ptr<const char[]>> owners(20);
    for (auto& owner : owners) EXPECT_EQ(arena.copy(text, owner), text);
    snapshots.push_back(std::move(owners));
    if (snapshots.size() > 2) snapshots.pop_front();
    if (cycle == 20) mapped_after_warmup = pool->blocks_mapped();
  }
  EXPECT_GT(arena.blocks_started(), 900u);  // ~2 blocks a cycle
  EXPECT_LE(mapped_after_warmup, 8u);
  EXPECT_EQ(pool->blocks_mapped(), mapped_after_warmup);
}

#if defined(__SANITIZE_ADDRESS__)
// Recycling must not hide a read of a piece whose owners are all gone: a free block is poisoned.
TEST(BlockPool, AFreeBlockIsPoisonedUnderAddressSanitizer) {
  BlockPool pool(1 << 12);
  const auto keep = pool.take();
  auto block = pool.take();
  const char* const at = block.get();
  EXPECT_FALSE(__asan_address_is_poisoned(at));
  block.reset();
  ASSERT_EQ(pool.blocks_free(), 1u);
  EXPECT_TRUE(__asan_address_is_poisoned(at));
  EXPECT_TRUE(__asan_address_is_poisoned(at + 4095));
  const auto again = pool.take();
  EXPECT_FALSE(__asan_address_is_poisoned(again.get() + 4095));
}
#endif
