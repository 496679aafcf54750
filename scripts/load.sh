#!/usr/bin/env bash
# Load on loopback with wrk (issue #14): POST /feed/data with 500 records per request over 8
# connections, then GET /predictions/current for those 500 servers (plain and gzip), against a
# Release daemon with a fresh data dir and no rate limits. Prints wrk's latency distribution
# (p50 ... p99), requests/s and non-2xx counts, and the machine it ran on.
#   scripts/load.sh [SECONDS=20]     (needs build/src/nordiq: ./scripts/setup.sh)
# Installs wrk (Debian) when it is missing. Client and daemon share the machine's cores, so the
# numbers are what one box does with both; not a CI test (timings are noisy here).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/install_packages.sh
install_packages wrk curl
seconds=${1:-20}
key=loadtestkey0123456789
source scripts/scratch_daemon.sh
start_scratch_daemon load 18455 "$key"
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; daemon --threads 16 (default)"
first=$(( $(date +%s) - 24 * 3600 ))  # a day back: every request gets its own second
echo "== POST /feed/data, 500 records per request, 8 connections, 2 wrk threads, ${seconds} s"
wrk -t2 -c8 -d"${seconds}s" --latency -s scripts/load/feed.lua "$url" -- 500 "$first" "$key" 2

# Let a forecast cycle cover the 500 servers, then read them.
for _ in $(seq 1 60); do
  n=$(curl -s -H "X-API-Key: $key" "$url/status" | grep -o '"servers_tracked":[0-9]*' | cut -d: -f2 || true)
  [ "${n:-0}" -ge 500 ] && break
  sleep 1
done
bytes=$(curl -s -H "X-API-Key: $key" "$url/predictions/current" | wc -c)
gz=$(curl -s -H "X-API-Key: $key" -H 'Accept-Encoding: gzip' "$url/predictions/current" | wc -c)
echo "== GET /predictions/current (${n:-?} servers tracked; body ${bytes} B, ${gz} B gzipped), 4 connections, ${seconds} s"
wrk -t2 -c4 -d"${seconds}s" --latency -H "X-API-Key: $key" "$url/predictions/current"
echo "== the same with Accept-Encoding: gzip"
wrk -t2 -c4 -d"${seconds}s" --latency -H "X-API-Key: $key" -H 'Accept-Encoding: gzip' "$url/predictions/current"
