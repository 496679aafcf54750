#!/usr/bin/env bash
# The test command: builds (Release, or ASan+UBSan with --sanitize) and runs every CTest test.
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=build
cmake_args=(-DCMAKE_BUILD_TYPE=Release)
if [ "${1:-}" = "--sanitize" ]; then
  build_dir=build-asan
  # -O1 -g1 (line tables only): ASan's recommended level, stack traces keep file:line, and the
  # build takes about half the time of -O2 -g (measured: 23 → 12 s, 55 → 35 s per heavy file).
  cmake_args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG"
              -DNORDIQ_SANITIZE=ON -DNORDIQ_BUILD_BENCH=OFF)
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:${ASAN_OPTIONS:-}"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
fi
cmake -S . -B "$build_dir" "${cmake_args[@]}"
cmake --build "$build_dir" -j"${NORDIQ_JOBS:-2}"
ctest --test-dir "$build_dir" --output-on-failure -j"${NORDIQ_JOBS:-2}"
