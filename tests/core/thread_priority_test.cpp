// Batch threads (the forecast cycle's) run at the configured nice value; other threads do not.
#include <gtest/gtest.h>
#include <pthread.h>

#include <atomic>
#include <chrono>

#include <string>
#include <thread>

#include "core/thread_priority.hpp"
#include "core/worker_pool.hpp"

namespace nordiq {
namespace {

// Nice values only go up without a privilege, so every check runs on a thread of its own.
template <class Fn>
auto on_a_new_thread(Fn fn) {
  decltype(fn()) out{};
  std::thread([&] { out = fn(); }).join();
  return out;
}

struct ResetBatchNice {
  ~ResetBatchNice() { set_batch_nice(0); }
};

TEST(ThreadPriority, ABatchThreadRunsAtTheBatchNiceAndOtherThreadsKeepTheirs) {
  const ResetBatchNice reset;
  const int before = on_a_new_thread([] { return this_thread_nice(); });
  ASSERT_LT(before, 7) << "the test needs a process below nice 7";
  set_batch_nice(7);
  EXPECT_EQ(on_a_new_thread([] { return enter_batch_priority() ? this_thread_nice() : -100; }), 7);
  EXPECT_EQ(on_a_new_thread([] { return this_thread_nice(); }), before) << "only threads that enter it";
}

TEST(ThreadPriority, EnteringNeverLowersANiceValue) {
  const ResetBatchNice reset;
  EXPECT_EQ(on_a_new_thread([] {
              set_batch_nice(9);
              if (!enter_batch_priority() || this_thread_nice() != 9) return -100;  // this thread at 9
              set_batch_nice(3);
              return enter_batch_priority() ? this_thread_nice() : -100;
            }),
            9);
}

TEST(ThreadPriority, APoolStartedWithItRunsEveryTaskAtTheBatchNiceAndItsThreadsAreNamed) {
  const ResetBatchNice reset;
  set_batch_nice(5);
  WorkerPool pool(3, [] {
    name_this_thread("nordiq-forecast-and-more");  // cut to 15 bytes
    enter_batch_priority();
  });
  std::vector<int> nice_of_worker(3, -100);
  std::vector<std::string> name_of_worker(3);
  // Three tasks that each wait for the other two: every worker runs one. Worker 0 is this
  // thread, not the pool's.
  std::atomic<int> arrived{0};
  pool.run(3, [&](int, int worker) {
    nice_of_worker[size_t(worker)] = this_thread_nice();
    char name[16] = {};
    pthread_getname_np(pthread_self(), name, sizeof name);
    name_of_worker[size_t(worker)] = name;
    ++arrived;
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (arrived < 3 && std::chrono::steady_clock::now() < give_up) std::this_thread::yield();
  });
  ASSERT_EQ(arrived, 3);
  for (int w = 1; w < 3; ++w) {
    EXPECT_EQ(nice_of_worker[size_t(w)], 5) << "worker " << w;
    EXPECT_EQ(name_of_worker[size_t(w)], "nordiq-forecast") << "worker " << w;
  }
}

}  // namespace
}  // namespace nordiq
