// The HTTP server's connection pool (issue #14, slowloris). cpp-httplib serves one connection per
// pool thread for as long as the connection lives, and its read timeout is per read: a client
// that sends one header line every few seconds keeps its thread forever. With a fixed pool of 16,
// 16 such clients (no key needed) starved /health and every valid client. This pool keeps
// `core` threads and adds one for each connection that arrives while all are busy, up to `max`;
// threads above `core` exit after `idle_exit` without work. Slow clients then cost a thread each
// (a mostly untouched stack), not the service; only `max` of them at once can starve it.
// cpp-httplib 0.11's TaskQueue does not see the socket: per-address caps and the request
// deadline are enforced where the connection is served (api/gated_server.hpp).
#pragma once

#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace nordiq::api {

class ElasticPool final : public httplib::TaskQueue {
 public:
  ElasticPool(size_t core, size_t max, std::chrono::milliseconds idle_exit = std::chrono::seconds(10));
  ~ElasticPool() override;
  ElasticPool(const ElasticPool&) = delete;
  ElasticPool& operator=(const ElasticPool&) = delete;

  void enqueue(std::function<void()> fn) override;
  void shutdown() override;

  size_t threads() const;       // alive now
  size_t peak_threads() const;  // most alive at once

 private:
  void work(bool core);
  void reap_finished();  // joins threads that exited (under mutex_)

  const size_t core_, max_;
  const std::chrono::milliseconds idle_exit_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  std::vector<std::thread> threads_;
  std::vector<std::thread::id> finished_;
  size_t alive_ = 0, idle_ = 0, peak_ = 0;
  bool stopping_ = false;
};

}  // namespace nordiq::api
