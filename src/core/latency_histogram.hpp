// A lock-free latency histogram with fixed Prometheus-style buckets (seconds), shared by the
// code that measures (ingest, the forecast cycle) and the /metrics endpoint that renders it.
// observe() is a handful of relaxed atomic adds: safe on any thread, no allocation.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>

namespace nordiq {

class LatencyHistogram {
 public:
  static constexpr std::array<double, 14> kBounds = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                     0.1,    0.25,  0.5,    1.0,   2.5,   5.0,  10.0};

  void observe(double seconds) {
    size_t i = 0;
    while (i < kBounds.size() && seconds > kBounds[i]) ++i;
    buckets_[i].fetch_add(1, std::memory_order_relaxed);  // non-cumulative; rendered cumulative
    count_.fetch_add(1, std::memory_order_relaxed);
    sum_ns_.fetch_add(static_cast<uint64_t>(seconds * 1e9), std::memory_order_relaxed);
  }
  // Observations ≤ kBounds[i] (cumulative, as Prometheus wants); i = kBounds.size() → all.
  uint64_t cumulative(size_t i) const {
    uint64_t n = 0;
    for (size_t j = 0; j <= i && j < buckets_.size(); ++j) n += buckets_[j].load(std::memory_order_relaxed);
    return n;
  }
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  double sum_seconds() const { return static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) * 1e-9; }

 private:
  std::array<std::atomic<uint64_t>, kBounds.size() + 1> buckets_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_ns_{0};
};

// Observes the time from construction to destruction (every return path of a handler).
class LatencyTimer {
 public:
  explicit LatencyTimer(LatencyHistogram& h) : h_(h), start_(std::chrono::steady_clock::now()) {}
  ~LatencyTimer() {
    h_.observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
  }
  LatencyTimer(const LatencyTimer&) = delete;
  LatencyTimer& operator=(const LatencyTimer&) = delete;

 private:
  LatencyHistogram& h_;
  std::chrono::steady_clock::time_point start_;
};

// Latency of POST /feed/data requests (parse + validate + durable store), process-wide.
inline LatencyHistogram& ingest_latency_histogram() {
  static LatencyHistogram h;
  return h;
}

}  // namespace nordiq
