#include "core/worker_pool.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

namespace nordiq {
namespace {

TEST(WorkerPool, RunsEveryTaskExactlyOnceOnEveryThreadCount) {
  for (int threads : {1, 2, 3}) {
    WorkerPool pool(threads);
    for (int round = 0; round < 50; ++round) {  // a run right after start, then many more
      std::vector<std::atomic<int>> hits(97);
      pool.run(97, [&](int task, int worker) {
        ASSERT_GE(worker, 0);
        ASSERT_LT(worker, threads);
        hits[size_t(task)].fetch_add(1);
      });
      for (const auto& h : hits) ASSERT_EQ(h.load(), 1) << threads << " threads, round " << round;
    }
  }
}

TEST(WorkerPool, UsesItsThreadsAndRunsOnStartOnEach) {
  std::atomic<int> started{0};
  WorkerPool pool(2, [&] { started.fetch_add(1); });
  std::set<int> workers;
  std::mutex mu;
  std::atomic<int> waiting{0};
  // two tasks that wait for each other can only finish on two threads
  pool.run(2, [&](int, int worker) {
    {
      std::lock_guard lk(mu);
      workers.insert(worker);
    }
    waiting.fetch_add(1);
    while (waiting.load() < 2) std::this_thread::yield();
  });
  EXPECT_EQ(workers, (std::set<int>{0, 1}));
  EXPECT_EQ(started.load(), 1);  // the worker thread; the caller is not one of the pool's
}

TEST(WorkerPool, RethrowsATasksExceptionAfterTheOthersFinish) {
  WorkerPool pool(2);
  std::atomic<int> done{0};
  EXPECT_THROW(pool.run(20,
                        [&](int task, int) {
                          if (task == 7) throw std::runtime_error("task 7");
                          done.fetch_add(1);
                        }),
               std::runtime_error);
  EXPECT_EQ(done.load(), 19);
  pool.run(3, [&](int, int) { done.fetch_add(1); });  // usable afterwards
  EXPECT_EQ(done.load(), 22);
}

TEST(WorkerPool, ResizeKeepsItWorking) {
  WorkerPool pool(1);
  EXPECT_EQ(pool.threads(), 1);
  pool.resize(3);
  EXPECT_EQ(pool.threads(), 3);
  std::atomic<int> n{0};
  pool.run(10, [&](int, int) { n.fetch_add(1); });
  pool.resize(1);
  pool.run(10, [&](int, int worker) {
    EXPECT_EQ(worker, 0);
    n.fetch_add(1);
  });
  EXPECT_EQ(n.load(), 20);
}

}  // namespace
}  // namespace nordiq
