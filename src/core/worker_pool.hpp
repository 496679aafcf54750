// A fixed set of threads that run the tasks of one call at a time: the forward's chunks of
// servers, and the forecast cycle's per-server work (features, de-normalisation, risk and
// rendering). The calling thread works too, so threads = 1 runs everything inline.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace nordiq {

class WorkerPool {
 public:
  // on_start runs first on every worker thread (e.g. pinning a library's own threads).
  explicit WorkerPool(int threads = 1, std::function<void()> on_start = {});
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void resize(int threads);  // ≥ 1, the caller included; not during run()
  int threads() const { return static_cast<int>(workers_.size()) + 1; }

  // fn(task, worker) for every task in [0, tasks), pulled in order by the caller (worker 0) and
  // the pool's threads (1..threads-1); returns when all are done, rethrowing the first exception.
  // One run at a time.
  void run(int tasks, const std::function<void(int task, int worker)>& fn);

 private:
  void worker_loop(int index, uint64_t seen);
  void drain(int worker);

  std::function<void()> on_start_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable start_cv_, done_cv_;
  uint64_t generation_ = 0;
  int active_ = 0;
  bool stop_ = false;
  std::atomic<int> next_task_{0};
  int tasks_ = 0;
  const std::function<void(int, int)>* fn_ = nullptr;
  std::exception_ptr error_;
};

}  // namespace nordiq
