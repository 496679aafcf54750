#include "core/shared_arena.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using nordiq::BlockPool;
using nordiq::SharedArena;

namespace {
std::string text_of(size_t bytes, char seed) {
  std::string s(bytes, ' ');
  for (size_t i = 0; i < bytes; ++i) s[i] = static_cast<char>('a' + (seed + i) % 26);
  return s;
}
}  // namespace

TEST(SharedArena, EachPieceIsACopyThatItsOwnerKeepsAliveAfterTheArenaMovesOnAndIsGone) {
  std::vector<std::shared_ptr<const char[]>> owners(40);
  std::vector<std::string_view> pieces(40);
  std::vector<std::string> expected(40);
  {
    SharedArena arena(std::make_shared<BlockPool>(1 << 16));  // 64 KiB blocks: 40 pieces of 5–15 KB fill several
    for (int i = 0; i < 40; ++i) {
      expected[i] = text_of(5000 + 250 * static_cast<size_t>(i), static_cast<char>(i));
      std::string source = expected[i];
      pieces[i] = arena.copy(source, owners[i]);
      source.assign(source.size(), '#');  // a copy, not a view of the source
    }
    EXPECT_GT(arena.blocks_started(), 3u);
  }
  // Only the owners hold the blocks now (under ASan, a freed block would be reported here).
  for (int i = 0; i < 40; ++i) EXPECT_EQ(pieces[i], expected[i]) << i;
  // Pieces of one block share its owner; a new block starts when the next piece does not fit.
  EXPECT_EQ(owners[0].get(), owners[1].get());
  EXPECT_NE(owners[0].get(), owners[39].get());
}

TEST(SharedArena, APieceLargerThanABlockGetsABlockOfItsOwn) {
  SharedArena arena(std::make_shared<BlockPool>(1 << 12));
  std::shared_ptr<const char[]> small_owner, big_owner, next_owner;
  const std::string small = text_of(100, 1), big = text_of(10'000, 2), next = text_of(100, 3);
  const std::string_view a = arena.copy(small, small_owner);
  const std::string_view b = arena.copy(big, big_owner);
  const std::string_view c = arena.copy(next, next_owner);
  EXPECT_EQ(a, small);
  EXPECT_EQ(b, big);
  EXPECT_EQ(c, next);
  EXPECT_NE(small_owner.get(), big_owner.get());
  EXPECT_EQ(arena.blocks_started(), 3u);  // the small piece after the big one needs a fresh block
}

TEST(SharedArena, AnEmptyPieceIsEmptyAndOwned) {
  SharedArena arena(std::make_shared<BlockPool>(1 << 12));
  std::shared_ptr<const char[]> owner;
  EXPECT_TRUE(arena.copy({}, owner).empty());
  EXPECT_NE(owner, nullptr);
}
