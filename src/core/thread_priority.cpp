#include "core/thread_priority.hpp"

#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <string>

namespace nordiq {

namespace {
std::atomic<int> g_batch_nice{0};

id_t this_tid() { return static_cast<id_t>(::syscall(SYS_gettid)); }
}  // namespace

void set_batch_nice(int nice) { g_batch_nice.store(std::clamp(nice, 0, 19), std::memory_order_relaxed); }

int batch_nice() { return g_batch_nice.load(std::memory_order_relaxed); }

int this_thread_nice() { return ::getpriority(PRIO_PROCESS, this_tid()); }

bool enter_batch_priority() {
  const int wanted = batch_nice();
  if (wanted <= this_thread_nice()) return true;
  return ::setpriority(PRIO_PROCESS, this_tid(), wanted) == 0;
}

void name_this_thread(std::string_view name) {
  const std::string bounded(name.substr(0, 15));
  ::pthread_setname_np(::pthread_self(), bounded.c_str());
}

}  // namespace nordiq
