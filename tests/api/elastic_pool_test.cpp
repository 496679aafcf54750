// The HTTP connection pool: it grows while connections hold every thread, up to its maximum, and
// gives extra threads back when they idle; at the maximum, work waits instead of being lost.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "api/elastic_pool.hpp"

namespace nordiq::api {
namespace {

using namespace std::chrono_literals;

// A gate the tasks wait on, standing in for connections that stay open.
struct Gate {
  std::mutex m;
  std::condition_variable cv;
  bool open = false;
  std::atomic<int> waiting{0}, done{0};
  void wait() {
    ++waiting;
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return open; });
    ++done;
  }
  void release() {
    std::lock_guard lock(m);
    open = true;
    cv.notify_all();
  }
};

template <class Pred>
bool eventually(Pred pred) {
  for (int i = 0; i < 500; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

TEST(ElasticPool, GrowsPastItsCoreWhileEveryThreadIsHeld) {
  ElasticPool pool(2, 64, 50ms);
  Gate gate;
  for (int i = 0; i < 20; ++i) pool.enqueue([&] { gate.wait(); });
  EXPECT_TRUE(eventually([&] { return gate.waiting == 20; })) << gate.waiting;  // all 20 held at once
  EXPECT_EQ(pool.threads(), 20u);
  gate.release();
  EXPECT_TRUE(eventually([&] { return gate.done == 20; }));
  // The 18 extra threads give themselves back after idling; the core stays.
  EXPECT_TRUE(eventually([&] { return pool.threads() == 2; })) << pool.threads();
  EXPECT_EQ(pool.peak_threads(), 20u);
  std::atomic<int> later{0};
  pool.enqueue([&] { ++later; });  // and it still works after shrinking
  EXPECT_TRUE(eventually([&] { return later == 1; }));
}

TEST(ElasticPool, AtItsMaximumWorkWaitsAndRunsWhenAThreadFrees) {
  ElasticPool pool(1, 4, 50ms);
  Gate gate;
  std::atomic<int> queued{0};
  for (int i = 0; i < 4; ++i) pool.enqueue([&] { gate.wait(); });
  for (int i = 0; i < 10; ++i) pool.enqueue([&] { ++queued; });
  EXPECT_TRUE(eventually([&] { return gate.waiting == 4; }));
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(queued, 0);  // no thread beyond the maximum
  EXPECT_EQ(pool.threads(), 4u);
  gate.release();
  EXPECT_TRUE(eventually([&] { return queued == 10; }));
}

TEST(ElasticPool, ShutdownRunsWhatWasQueuedAndJoinsEveryThread) {
  std::atomic<int> ran{0};
  {
    ElasticPool pool(2, 8);
    for (int i = 0; i < 50; ++i) pool.enqueue([&] {
      std::this_thread::sleep_for(1ms);
      ++ran;
    });
    pool.shutdown();
    EXPECT_EQ(ran, 50);
    pool.enqueue([&] { ++ran; });  // after shutdown: dropped, not run on a dead pool
  }
  EXPECT_EQ(ran, 50);
}

}  // namespace
}  // namespace nordiq::api
