#!/usr/bin/env bash
# Set-up for a fresh Debian 12 machine: installs the Debian packages NordIQ needs, then builds
# the Release binary at build/src/nordiq.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake pkg-config git curl
  libcpp-httplib-dev libssl-dev zlib1g-dev libbrotli-dev   # HTTP server (+ what its .pc requires)
  libsimdjson-dev nlohmann-json3-dev                       # JSON in (fast) / out
  libsqlite3-dev sqlite3                                   # storage
  libsnappy-dev                                            # Prometheus remote_write bodies (snappy)
  libdnnl-dev ocl-icd-opencl-dev                           # GEMM (oneDNN; its CMake config requires OpenCL's
                                                           # headers, which libdnnl-dev only recommends)
  libspdlog-dev libfmt-dev libcli11-dev                    # logging, formatting, CLI
  libgtest-dev libbenchmark-dev                            # tests, micro-benchmarks
  prometheus                                               # promtool (checks /metrics, rules) and the e2e test
  prometheus-node-exporter prometheus-alertmanager         # the Prometheus end-to-end test (tests/e2e)
  chromium                                                 # headless browser test of the dashboard
)
# `.ci/run` proves this list on every submission with ../shared/tools/fresh-debian-check (see the
# README).
source scripts/install_packages.sh
install_packages "${PACKAGES[@]}"

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
# Only the binary: the README's run command needs nothing else, and the test command builds the
# tests and benchmarks (configuring above already checked that their packages are installed).
cmake --build build -j"${NORDIQ_JOBS:-2}" --target nordiq
echo "built build/src/nordiq"
