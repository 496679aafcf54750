// What `nordiq bench` measures about the machine itself: the CPU and ISA found, and the fp32 GEMM
// peak reachable through the engine's GEMM paths (oneDNN and its own kernel), measured in the same
// run as the rest.
#pragma once

#include <string>

namespace nordiq::bench {

struct Machine {
  std::string cpu;     // /proc/cpuinfo model name
  std::string isa;     // the SIMD/matrix extensions found, e.g. "avx2 avx512f amx-bf16"
  int threads = 1;     // hardware threads
  // All threads at once, each its best of [1536 x 1024]·[1024 x 1024] through oneDNN and
  // [4608 x 64]·[64 x 128] through the engine's kernel (fp32).
  double gemm_peak_gflops = 0;
};

Machine measure_machine(double seconds);

// Resident set size of this process (MB), from /proc/self/status.
double rss_mb();

}  // namespace nordiq::bench
