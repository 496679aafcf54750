#include "core/block_pool.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <mutex>
#include <new>
#include <vector>

#include "core/huge_pages.hpp"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define NORDIQ_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define NORDIQ_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define NORDIQ_POISON(p, n) ((void)(p), (void)(n))
#define NORDIQ_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

namespace nordiq {

namespace {
constexpr uintptr_t kHugePage = kHugePageBytes;

size_t whole_pages(size_t bytes) {
  const auto page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  return (std::max<size_t>(bytes, 1) + page - 1) / page * page;
}

// A mapping of `bytes` (whole pages). One of a huge page or more starts on a huge page and is
// advised onto them, so it is backed by them whole, not only in its interior.
char* map_block(size_t bytes) {
  const uintptr_t align = bytes >= kHugePage ? kHugePage : 0;
  const size_t span = bytes + align;
  void* mapped = ::mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mapped == MAP_FAILED) throw std::bad_alloc();
  const auto begin = reinterpret_cast<uintptr_t>(mapped);
  if (!align) return static_cast<char*>(mapped);
  const uintptr_t at = (begin + align - 1) & ~(align - 1), end = begin + span;
  if (at > begin) ::munmap(mapped, at - begin);
  if (end > at + bytes) ::munmap(reinterpret_cast<void*>(at + bytes), end - (at + bytes));
  (void)::madvise(reinterpret_cast<void*>(at), bytes & ~(kHugePage - 1), MADV_HUGEPAGE);  // refused where THP is off
  return reinterpret_cast<char*>(at);
}
}  // namespace

struct BlockPool::Shared {
  size_t bytes;            // whole pages
  size_t max_free_blocks;
  mutable std::mutex mutex;
  std::vector<char*> free;  // reused last in, first out: the most recently written pages
  size_t in_use = 0, mapped = 0;

  void release(char* block) {
    {
      std::lock_guard lock(mutex);
      --in_use;
      if (free.size() < std::min(in_use, max_free_blocks)) {
        NORDIQ_POISON(block, bytes);  // under ASan, a read of a piece whose owner is gone is reported
        free.push_back(block);
        return;
      }
    }
    ::munmap(block, bytes);
  }

  ~Shared() {
    for (char* block : free) {
      NORDIQ_UNPOISON(block, bytes);
      ::munmap(block, bytes);
    }
  }
};

BlockPool::BlockPool(size_t block_bytes, size_t max_free_bytes)
    : block_bytes_(block_bytes), shared_(std::make_shared<Shared>()) {
  shared_->bytes = whole_pages(block_bytes);
  shared_->max_free_blocks = max_free_bytes / shared_->bytes;
}

std::shared_ptr<char[]> BlockPool::take() {
  char* block = nullptr;
  {
    std::lock_guard lock(shared_->mutex);
    ++shared_->in_use;
    if (!shared_->free.empty()) {
      block = shared_->free.back();
      shared_->free.pop_back();
    }
  }
  if (block) {
    NORDIQ_UNPOISON(block, shared_->bytes);
  } else {
    try {
      block = map_block(shared_->bytes);
    } catch (...) {
      std::lock_guard lock(shared_->mutex);
      --shared_->in_use;
      throw;
    }
    std::lock_guard lock(shared_->mutex);
    ++shared_->mapped;
  }
  // If the control block cannot be allocated, shared_ptr calls the deleter: the block goes back.
  return std::shared_ptr<char[]>(block, [shared = shared_](char* p) { shared->release(p); });
}

std::shared_ptr<char[]> BlockPool::map_single(size_t bytes) {
  const size_t length = whole_pages(bytes);
  return std::shared_ptr<char[]>(map_block(length), [length](char* p) { ::munmap(p, length); });
}

size_t BlockPool::blocks_mapped() const {
  std::lock_guard lock(shared_->mutex);
  return shared_->mapped;
}

size_t BlockPool::blocks_in_use() const {
  std::lock_guard lock(shared_->mutex);
  return shared_->in_use;
}

size_t BlockPool::blocks_free() const {
  std::lock_guard lock(shared_->mutex);
  return shared_->free.size();
}

}  // namespace nordiq
