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

namespace {

// GFLOP/s of one thread repeating one fp32 GEMM shape for `seconds` (after a warm-up call):
// through oneDNN (tft::gemm::linear) or the engine's register-blocked kernel (tft::gemm::kmajor).
double gemm_rate(bool library, int M, int N, int K, double seconds, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> x(size_t(M) * K), w(size_t(K) * N), y(size_t(M) * N);
  for (float& v : x) v = u(rng);
  for (float& v : w) v = u(rng);
  const tft::gemm::Shape shape{M, N, K, 0, 0, false};
  auto call = [&] {
    if (library) tft::gemm::linear(shape, x.data(), w.data(), nullptr, y.data());
    else tft::gemm::kmajor(shape, x.data(), w.data(), nullptr, y.data());
  };
  call();  // warm-up: primitives created, pages touched
  const auto t0 = std::chrono::steady_clock::now();
  int64_t done = 0;
  double elapsed = 0;
  do {
    call();
    ++done;
    elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  } while (elapsed < seconds);
  return 2.0 * M * N * K * double(done) / elapsed / 1e9;
}

}  // namespace

Machine measure_machine(double seconds) {
  Machine m;
  m.cpu = cpuinfo_field("model name");
  if (m.cpu.empty()) m.cpu = "unknown CPU";
  m.isa = isa_found();
  m.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::vector<double> rate(static_cast<size_t>(m.threads));  // GFLOP/s of each thread: its best shape
  // Every thread at once, as the engine runs its GEMMs: the best of a large GEMM through oneDNN and
  // the engine's own kernel on a narrow one (the forward's kind: many rows, K = 64). On a Zen 5
  // core the second reaches ~200 GFLOP/s, the kernel on the large shape ~140 (its k-panel no
  // longer stays in L1), so a peak from that alone would flatter the forward.
  auto work = [&](int t) {
    tft::gemm::pin_library_threads_to_one();  // one thread per GEMM, as the engine runs them
    const auto seed = static_cast<uint32_t>(t);
    rate[static_cast<size_t>(t)] = std::max(gemm_rate(true, 1536, 1024, 1024, seconds / 2, seed),
                                            gemm_rate(false, 4608, 128, 64, seconds / 2, seed));
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < m.threads; ++t) pool.emplace_back(work, t);
  for (auto& t : pool) t.join();
  for (double r : rate) m.gemm_peak_gflops += r;
  return m;
}

}  // namespace nordiq::bench
