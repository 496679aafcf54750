#include "store/data_dir_lock.hpp"

#include <fcntl.h>
#include <fmt/core.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace nordiq {

DataDirLock::DataDirLock(const std::filesystem::path& data_dir, std::string_view holder_hint) {
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec)  // say why here: the lock file's open would only report that the directory is missing
    throw std::runtime_error(fmt::format("cannot create the data dir {}: {} (--data-dir must be writable)",
                                         data_dir.string(), ec.message()));
  const auto lock_path = data_dir / "nordiq.lock";
  fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0)
    throw std::runtime_error(fmt::format("cannot open {}: {}{}", lock_path.string(), std::strerror(errno),
                                         errno == EROFS || errno == EACCES ? " (--data-dir must be writable)" : ""));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd_);
    fd_ = -1;
    throw std::runtime_error(fmt::format("the store in {} is in use by another nordiq process (lock {}); {}",
                                         data_dir.string(), lock_path.string(), holder_hint));
  }
}

DataDirLock::~DataDirLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace nordiq
