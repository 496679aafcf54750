#include "sim/history.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fmt/core.h>
#include <stdexcept>
#include <thread>
#include <vector>

#include "sim/record_format.hpp"

namespace nordiq::sim {

int64_t block_steps(size_t servers) {
  const int64_t by_rows = static_cast<int64_t>(1'000'000 / std::max<size_t>(1, servers));
  return std::clamp<int64_t>(by_rows, 1, 288);
}

namespace {

// Runs fn(worker) on `threads` threads (the caller's included) and waits.
template <class Fn>
void parallel(int threads, Fn&& fn) {
  if (threads <= 1) {
    fn(0);
    return;
  }
  std::vector<std::thread> pool;
  pool.reserve(threads - 1);
  for (int t = 1; t < threads; ++t) pool.emplace_back([&fn, t] { fn(t); });
  fn(0);
  for (auto& th : pool) th.join();
}

class CsvSink final : public RowSink {
 public:
  explicit CsvSink(const std::string& path) : path_(path) {
    if (path == "-") {
      file_ = stdout;
    } else {
      file_ = std::fopen(path.c_str(), "wb");
      if (!file_) throw std::runtime_error(fmt::format("cannot write {}: {}", path, std::strerror(errno)));
      owned_ = true;
    }
    write(std::string(kCsvHeader) + "\n");
  }
  ~CsvSink() override {
    if (owned_ && file_) std::fclose(file_);
  }

  void write_block(const FleetEngine& engine, int64_t first_k, int64_t steps, const SimRecord* records,
                   int threads) override {
    const auto& fleet = engine.fleet();
    const size_t n = fleet.size();
    const int workers = static_cast<int>(std::clamp<int64_t>(threads, 1, steps));
    chunks_.resize(workers);
    // Each worker formats a contiguous range of steps; the chunks are written in order, so the
    // bytes do not depend on the number of workers.
    parallel(workers, [&](int w) {
      const int64_t a = steps * w / workers, b = steps * (w + 1) / workers;
      std::string& out = chunks_[w];
      out.clear();
      out.reserve(static_cast<size_t>(b - a) * n * 140);
      for (int64_t s = a; s < b; ++s) {
        const std::string ts = format_iso8601(engine.time_of(first_k + s));
        const SimRecord* row = records + s * n;
        for (int i : fleet.by_name())
          if (row[i].online) append_csv_row(out, ts, fleet[i], row[i]);
      }
    });
    for (const auto& c : chunks_) write(c);
  }

  void finish() override {
    if (std::fflush(file_) != 0) throw std::runtime_error(fmt::format("cannot write {}: {}", path_, std::strerror(errno)));
  }

 private:
  void write(const std::string& s) {
    if (std::fwrite(s.data(), 1, s.size(), file_) != s.size())
      throw std::runtime_error(fmt::format("cannot write {}: {}", path_, std::strerror(errno)));
  }
  std::string path_;
  FILE* file_ = nullptr;
  bool owned_ = false;
  std::vector<std::string> chunks_;
};

}  // namespace

std::unique_ptr<RowSink> make_csv_sink(const std::string& path) { return std::make_unique<CsvSink>(path); }

HistorySummary generate_history(FleetEngine& engine, int64_t steps, int threads, RowSink& sink,
                                const std::string& incidents_path) {
  HistorySummary sum;
  const size_t n = engine.size();
  sum.servers = n;
  sum.steps = steps;
  sum.first = engine.time_of(0);
  sum.last = engine.time_of(std::max<int64_t>(0, steps - 1));
  const int64_t block = block_steps(n);
  std::vector<SimRecord> records(static_cast<size_t>(std::min(block, std::max<int64_t>(steps, 1))) * n);
  std::vector<StepClock> clocks;
  threads = std::max(1, threads);
  for (int64_t k0 = 0; k0 < steps; k0 += block) {
    const int64_t m = std::min(block, steps - k0);
    clocks.clear();
    for (int64_t s = 0; s < m; ++s) clocks.push_back(engine.clock(k0 + s));
    // Servers are independent within a block (event schedules are pure functions of the seed):
    // each worker takes whole servers and walks them through the block in time order.
    std::atomic<size_t> next{0};
    constexpr size_t kChunk = 4;
    parallel(std::min<int>(threads, static_cast<int>((n + kChunk - 1) / kChunk)), [&](int) {
      for (size_t first; (first = next.fetch_add(kChunk)) < n;) {
        const size_t last = std::min(n, first + kChunk);
        for (int64_t s = 0; s < m; ++s) engine.step_range(clocks[s], first, last, records.data() + s * n, nullptr);
      }
    });
    for (int64_t s = 0; s < m; ++s)
      for (size_t i = 0; i < n; ++i) sum.rows += records[s * n + i].online;
    sink.write_block(engine, k0, m, records.data(), threads);
  }
  sink.finish();
  sum.duplicates = sink.duplicates();

  const auto rows = engine.incident_rows(steps - 1);
  for (const auto& r : rows) ++sum.incidents_by_kind[r.kind];
  if (!incidents_path.empty()) {
    std::string out = std::string(kIncidentsHeader) + "\n";
    for (const auto& r : rows) append_incident_row(out, r);
    FILE* f = std::fopen(incidents_path.c_str(), "wb");
    if (!f) throw std::runtime_error(fmt::format("cannot write {}: {}", incidents_path, std::strerror(errno)));
    const bool ok = std::fwrite(out.data(), 1, out.size(), f) == out.size();
    if (std::fclose(f) != 0 || !ok)
      throw std::runtime_error(fmt::format("cannot write {}: {}", incidents_path, std::strerror(errno)));
  }
  return sum;
}

}  // namespace nordiq::sim
