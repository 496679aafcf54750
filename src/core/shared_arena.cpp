#include "core/shared_arena.hpp"

#include <algorithm>
#include <cstring>
#include <new>

#include "core/huge_pages.hpp"

namespace nordiq {

std::string_view SharedArena::copy(std::string_view text, std::shared_ptr<const char[]>& owner) {
  if (!block_ || text.size() > size_ - used_) {
    // The rest of the current block stays with the pieces already in it (never written, so never
    // faulted in); a new block starts. Its pages are touched only as pieces fill it.
    // Aligned to a huge page, so the whole block can be backed by them, not only its interior.
    size_ = std::max(block_bytes_, text.size());
    constexpr std::align_val_t kHuge{size_t{2} << 20};
    block_ = std::shared_ptr<char[]>(static_cast<char*>(::operator new(size_, kHuge)),
                                     [](char* p) { ::operator delete(p, kHuge); });
    advise_huge_pages(block_.get(), size_);
    used_ = 0;
    ++blocks_made_;
  }
  char* at = block_.get() + used_;
  if (!text.empty()) std::memcpy(at, text.data(), text.size());
  used_ += text.size();
  owner = block_;
  return std::string_view(at, text.size());
}

}  // namespace nordiq
