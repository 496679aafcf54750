#include "api/elastic_pool.hpp"

#include <algorithm>
#include <system_error>

namespace nordiq::api {

ElasticPool::ElasticPool(size_t core, size_t max, std::chrono::milliseconds idle_exit)
    : core_(std::max<size_t>(core, 1)), max_(std::max(max, std::max<size_t>(core, 1))), idle_exit_(idle_exit) {
  std::lock_guard lock(mutex_);
  // A thread counts as idle from its creation, so work it is about to take never spawns another.
  alive_ = idle_ = peak_ = core_;
  for (size_t i = 0; i < core_; ++i) threads_.emplace_back([this] { work(true); });
}

ElasticPool::~ElasticPool() { shutdown(); }

void ElasticPool::enqueue(std::function<void()> fn) {
  std::lock_guard lock(mutex_);
  if (stopping_) return;
  tasks_.push_back(std::move(fn));
  // A connection waits only when `max` are already being served.
  if (idle_ < tasks_.size() && alive_ < max_) {
    reap_finished();
    try {
      threads_.emplace_back([this] { work(false); });
      ++alive_;
      ++idle_;
      peak_ = std::max(peak_, alive_);
    } catch (const std::system_error&) {
      // No thread to be had (process or memory limits): the connection waits for a busy thread
      // instead of the accept loop dying with it.
    }
  }
  cv_.notify_one();
}

void ElasticPool::shutdown() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mutex_);
    threads.swap(threads_);
  }
  for (std::thread& t : threads)
    if (t.joinable()) t.join();
}

size_t ElasticPool::threads() const {
  std::lock_guard lock(mutex_);
  return alive_;
}

size_t ElasticPool::peak_threads() const {
  std::lock_guard lock(mutex_);
  return peak_;
}

void ElasticPool::work(bool core) {
  std::unique_lock lock(mutex_);
  for (;;) {
    const bool woke = cv_.wait_for(lock, idle_exit_, [&] { return stopping_ || !tasks_.empty(); });
    if (stopping_ && tasks_.empty()) break;
    if (!woke) {
      if (core) continue;
      break;  // an extra thread with nothing to do for idle_exit_: give it back
    }
    std::function<void()> task = std::move(tasks_.front());
    tasks_.pop_front();
    --idle_;
    lock.unlock();
    task();
    lock.lock();
    ++idle_;
  }
  --idle_;
  --alive_;
  if (!stopping_) finished_.push_back(std::this_thread::get_id());
}

void ElasticPool::reap_finished() {
  if (finished_.empty()) return;
  for (auto it = threads_.begin(); it != threads_.end();) {
    if (std::find(finished_.begin(), finished_.end(), it->get_id()) != finished_.end()) {
      // It has left work() (it recorded itself last, under the mutex); join is immediate.
      it->join();
      it = threads_.erase(it);
    } else {
      ++it;
    }
  }
  finished_.clear();
}

}  // namespace nordiq::api
