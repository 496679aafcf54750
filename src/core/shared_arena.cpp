#include "core/shared_arena.hpp"

#include <cstring>

namespace nordiq {

namespace {
// Never destroyed: blocks and thread_local arenas may outlive any static's destruction order.
const std::shared_ptr<BlockPool>& rendered_text_pool() {
  static const auto* pool = new std::shared_ptr<BlockPool>(std::make_shared<BlockPool>(SharedArena::kDefaultBlockBytes));
  return *pool;
}
}  // namespace

SharedArena::SharedArena() : pool_(rendered_text_pool()) {}

std::string_view SharedArena::copy(std::string_view text, std::shared_ptr<const char[]>& owner) {
  if (!block_ || text.size() > size_ - used_) {
    // The rest of the current block stays with the pieces already in it; a new block starts.
    if (text.size() > pool_->block_bytes()) {
      block_ = BlockPool::map_single(text.size());
      size_ = text.size();
    } else {
      block_ = pool_->take();
      size_ = pool_->block_bytes();
    }
    used_ = 0;
    ++blocks_started_;
  }
  char* at = block_.get() + used_;
  if (!text.empty()) std::memcpy(at, text.data(), text.size());
  used_ += text.size();
  owner = block_;
  return std::string_view(at, text.size());
}

}  // namespace nordiq
