// TFT forward throughput at the production shape (H=64, c=32, E=288, D=96; tft_medium weights),
// for B = 1, 20, 500 windows with 1 and 2 threads. Prints ms per call, ms per server and the
// GFLOP/s implied by the docs/TFT.md §7 cost formula (163.2 MFLOP per window at H=64).
//   ./build/bench/tft_bench [--batches 1,20,500] [--threads 1,2] [--reps N]
#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdlib>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "tft/engine.hpp"
#include "tft/model.hpp"

using namespace nordiq::tft;

namespace {

// CPU time of the whole process (all threads): on a shared, oversubscribed host this shows
// what the forward costs when it is not descheduled (wall time shows what a caller waits).
double process_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

std::vector<int> parse_list(const char* s) {
  std::vector<int> v;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) v.push_back(std::stoi(item));
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> batches = {1, 20, 500}, threads = {1, 2};
  int reps = 0;
  // default: the golden medium model beside the checkout (__FILE__ is this source's absolute path)
  std::string model_path = std::string(__FILE__).substr(0, std::string(__FILE__).rfind('/')) + "/../../shared/golden/tft_medium.safetensors";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--batches") batches = parse_list(argv[i + 1]);
    else if (a == "--threads") threads = parse_list(argv[i + 1]);
    else if (a == "--reps") reps = std::atoi(argv[i + 1]);
    else if (a == "--model") model_path = argv[i + 1];
  }
  auto model = load_model_file(model_path);
  const ModelConfig& c = model->config();
  const int E = 288, D = 96, T = E + D;
  const double flop = 2.0 * forward_macs_per_window(c, E, D);
  fmt::print("model {}: H={} heads={} c={}, E={} D={}, {:.1f} MFLOP per window\n", model_path, c.hidden, c.heads,
             c.cont_hidden, E, D, flop / 1e6);
  const int maxB = *std::max_element(batches.begin(), batches.end());
  std::mt19937 rng(42);
  std::uniform_real_distribution<float> u(-2.0f, 2.0f);
  std::vector<int32_t> x_cat(size_t(maxB) * T * c.n_cat()), enc(size_t(maxB), E), dec(size_t(maxB), D);
  for (size_t i = 0; i < x_cat.size(); ++i) x_cat[i] = int32_t(rng() % 7);
  std::vector<float> x_cont(size_t(maxB) * T * c.n_real()), ts(size_t(maxB) * c.n_targets() * 2);
  for (auto& x : x_cont) x = u(rng);
  for (size_t i = 0; i < ts.size(); ++i) ts[i] = i % 2 ? 1.5f : 10.0f;
  const int KQ = c.n_targets() * c.n_quantiles();
  std::vector<float> pn(size_t(maxB) * D * KQ), pred(pn.size()), attn(size_t(maxB) * D * c.heads * T);
  fmt::print("{:>6} {:>8} {:>10} {:>10} {:>12} {:>9} {:>12} {:>14}\n", "B", "threads", "ms (min)", "ms (med)", "ms/server",
             "GFLOP/s", "cpu ms (min)", "GFLOP/s per cpu");
  for (int th : threads) {
    Engine engine(*model, th);
    for (int B : batches) {
      ForwardInputs in{B, E, D, x_cat.data(), x_cont.data(), enc.data(), dec.data(), ts.data()};
      ForwardOutputs out{pn.data(), pred.data(), attn.data(), nullptr, nullptr, nullptr};
      engine.forward(in, out);  // warm-up: arenas, primitives
      const int n = reps > 0 ? reps : std::clamp(int(2000 / (B * 2 + 1)), 3, 50);
      std::vector<double> ms, cpu;
      for (int r = 0; r < n; ++r) {
        const double c0 = process_cpu_ms();
        const auto t0 = std::chrono::steady_clock::now();
        engine.forward(in, out);
        ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
        cpu.push_back(process_cpu_ms() - c0);
      }
      std::sort(ms.begin(), ms.end());
      std::sort(cpu.begin(), cpu.end());
      const double best = ms.front(), med = ms[ms.size() / 2];
      fmt::print("{:>6} {:>8} {:>10.2f} {:>10.2f} {:>12.3f} {:>9.1f} {:>12.2f} {:>14.1f}\n", B, th, best, med, best / B,
                 flop * B / (best * 1e6), cpu.front(), flop * B / (cpu.front() * 1e6));
    }
  }
  return 0;
}
