#!/usr/bin/env bash
# Memory per server (issue #14): RSS of a Release daemon (default model) fed 30 steps of N
# servers by the simulator, once every server has a forecast, no cycle is left to run and
# /predictions/current has been read once. Prints N, the servers forecast, VmRSS and VmHWM.
#   scripts/memory.sh [N=3000]     (needs build/src/nordiq: ./scripts/setup.sh; about 30 s)
set -euo pipefail
cd "$(dirname "$0")/.."
servers=${1:-3000}
bin=./build/src/nordiq
key=memorytestkey0123456789
source scripts/scratch_daemon.sh
start_scratch_daemon memory 18601 "$key"
status() { curl -s -H "X-API-Key: $key" "$url/status"; }
field() { grep -o "\"$1\":[0-9]*" | head -1 | cut -d: -f2; }
# 31 steps ending at the last whole 5 minutes, so that 30 of them close.
start=$(date -u -d "@$(( $(date +%s) / 300 * 300 - 31 * 300 ))" +%Y-%m-%dT%H:%M:%S)
$bin simulate stream --servers "$servers" --seed 5 --start "$start" --speed 2 --steps 31 --url "$url" \
  --api-key-file "$dir/key" --control-port 0 >"$dir/simulate.log" 2>&1
for _ in $(seq 1 120); do
  [ "$(status | field servers_forecast)" -ge "$servers" ] && break
  sleep 2
done
previous=-1
for _ in $(seq 1 60); do  # until no cycle is left to run
  cycles=$(status | field cycles)
  [ "$cycles" = "$previous" ] && break
  previous=$cycles
  sleep 6
done
curl -s -o /dev/null -H "X-API-Key: $key" "$url/predictions/current"
sleep 2
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
echo "servers: $servers, forecast: $(status | field servers_forecast), cycles: $cycles;" \
  "$(grep -E 'VmRSS|VmHWM' /proc/$daemon/status | tr -s ' \t' ' ' | tr '\n' ' ')"
