#include "core/worker_pool.hpp"

#include <algorithm>

namespace nordiq {

WorkerPool::WorkerPool(int threads, std::function<void()> on_start) : on_start_(std::move(on_start)) { resize(threads); }

WorkerPool::~WorkerPool() { resize(1); }

void WorkerPool::resize(int threads) {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  start_cv_.notify_all();
  for (auto& t : workers_) t.join();
  workers_.clear();
  stop_ = false;
  // each worker waits for a run after the current generation (resize never overlaps a run)
  for (int i = 1; i < std::max(1, threads); ++i) workers_.emplace_back([this, i, seen = generation_] { worker_loop(i, seen); });
}

void WorkerPool::worker_loop(int index, uint64_t seen) {
  if (on_start_) on_start_();
  for (;;) {
    {
      std::unique_lock lk(mu_);
      start_cv_.wait(lk, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
    }
    drain(index);
    std::lock_guard lk(mu_);
    if (--active_ == 0) done_cv_.notify_all();
  }
}

void WorkerPool::drain(int worker) {
  for (;;) {
    const int task = next_task_.fetch_add(1);
    if (task >= tasks_) return;
    try {
      (*fn_)(task, worker);
    } catch (...) {
      std::lock_guard lk(mu_);
      if (!error_) error_ = std::current_exception();
    }
  }
}

void WorkerPool::run(int tasks, const std::function<void(int task, int worker)>& fn) {
  if (tasks <= 0) return;
  fn_ = &fn;
  tasks_ = tasks;
  next_task_ = 0;
  error_ = nullptr;
  if (!workers_.empty() && tasks > 1) {
    {
      std::lock_guard lk(mu_);
      active_ = static_cast<int>(workers_.size());
      ++generation_;
    }
    start_cv_.notify_all();
    drain(0);
    std::unique_lock lk(mu_);
    done_cv_.wait(lk, [&] { return active_ == 0; });
  } else {
    drain(0);
  }
  fn_ = nullptr;
  if (error_) std::rethrow_exception(error_);
}

}  // namespace nordiq
