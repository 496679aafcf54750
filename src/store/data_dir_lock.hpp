// An exclusive lock on a data dir (`<dir>/nordiq.lock`, flock), held by every process that
// writes the store: `nordiq serve` for its lifetime and `nordiq simulate history --out store`
// while it writes. A second writer is refused instead of silently diverging from the daemon's
// in-memory windows. The kernel drops the lock when the process dies, so a kill -9 leaves no
// stale lock behind.
#pragma once

#include <filesystem>
#include <string_view>

namespace nordiq {

class DataDirLock {
 public:
  // Creates the dir if needed and takes the lock without waiting; throws std::runtime_error
  // saying the store is in use (`holder_hint` is appended: what the user can do instead).
  DataDirLock(const std::filesystem::path& data_dir, std::string_view holder_hint);
  ~DataDirLock();
  DataDirLock(const DataDirLock&) = delete;
  DataDirLock& operator=(const DataDirLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace nordiq
