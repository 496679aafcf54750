// The forecast cycle is batch work with a 5-minute deadline; requests (a collector's POST, a
// dashboard's GET) wait for it while they hold a connection. On a host with few cores, the
// cycle's threads running at the same CPU priority as the HTTP threads made every request that
// arrived during a cycle share a core with it (`nordiq bench`: feed p99 33 ms, 6× its p50).
// So the cycle's threads run at a higher nice value than the rest of the daemon: a waking
// request thread preempts them, and they still get all the CPU time that requests leave idle.
#pragma once

#include <string_view>

namespace nordiq {

// Process-wide nice value of batch threads (0..19; 0 = the same priority as every other thread).
// Set once at start, before those threads exist (`nordiq serve --forecast-nice`).
void set_batch_nice(int nice);
int batch_nice();

// Raises the calling thread's nice value to batch_nice() (Linux: nice is per thread). Never lowers
// it: that needs a privilege the daemon should not have. Returns false if the kernel refused.
bool enter_batch_priority();

// Names the calling thread for `top -H`, `ps -L` and /proc/PID/task/TID/comm (at most 15 bytes).
void name_this_thread(std::string_view name);

// The nice value of the calling thread.
int this_thread_nice();

}  // namespace nordiq
