#include "bench/bench_machine.hpp"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include "tft/gemm.hpp"

namespace nordiq::bench {

namespace {

std::string cpuinfo_field(const std::string& key) {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind(key, 0) == 0 && line.find(':') != std::string::npos) return line.substr(line.find(':') + 2);
  return "";
}

std::string isa_found() {
  std::istringstream flags(" " + cpuinfo_field("flags") + " ");
  std::vector<std::string> have;
  for (std::string f; flags >> f;) have.push_back(f);
  std::string out;
  for (const char* want : {"avx2", "fma", "avx512f", "avx512_bf16", "avx512_fp16", "amx_bf16", "amx_int8", "amx_tile"})
    if (std::find(have.begin(), have.end(), want) != have.end()) out += (out.empty() ? "" : " ") + std::string(want);
  return out.empty() ? "none of avx2/avx512/amx" : out;
}

}  // namespace

double rss_mb() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return 0;
}

Machine measure_machine(double seconds) {
  Machine m;
  m.cpu = cpuinfo_field("model name");
  if (m.cpu.empty()) m.cpu = "unknown CPU";
  m.isa = isa_found();
  m.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  constexpr int M = 1536, N = 1024, K = 1024;
  std::vector<double> rate(static_cast<size_t>(m.threads));  // GFLOP/s of each thread, after its warm-up
  auto work = [&](int t) {
    tft::gemm::pin_library_threads_to_one();  // one thread per GEMM, as the engine runs them
    std::mt19937 rng(static_cast<uint32_t>(t));
    std::uniform_real_distribution<float> u(-1, 1);
    std::vector<float> x(size_t(M) * K), w(size_t(K) * N), y(size_t(M) * N);
    for (float& v : x) v = u(rng);
    for (float& v : w) v = u(rng);
    tft::gemm::kmajor({M, N, K, 0, 0, false}, x.data(), w.data(), nullptr, y.data());  // warm-up
    const auto t0 = std::chrono::steady_clock::now();
    int64_t done = 0;
    double elapsed = 0;
    do {
      tft::gemm::kmajor({M, N, K, 0, 0, false}, x.data(), w.data(), nullptr, y.data());
      ++done;
      elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    } while (elapsed < seconds);
    rate[static_cast<size_t>(t)] = 2.0 * M * N * K * double(done) / elapsed / 1e9;
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < m.threads; ++t) pool.emplace_back(work, t);
  for (auto& t : pool) t.join();
  for (double r : rate) m.gemm_peak_gflops += r;
  return m;
}

}  // namespace nordiq::bench
