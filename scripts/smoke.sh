#!/usr/bin/env bash
# Smoke test of the README's quick start, as a new user runs it on a fresh Debian 12 machine:
#   ./scripts/setup.sh                  (installs the Debian packages, builds)
#   ./build/src/nordiq serve            (the daemon on 127.0.0.1:8000, data in ./data)
# then waits for GET /health = 200, feeds one record with the generated key (data/api_key), checks
# that it was accepted, and stops the daemon with SIGTERM, which must exit 0.
#
# `.ci/run` runs it inside a minimal Debian 12 root: ../shared/tools/fresh-debian-check -- ./scripts/smoke.sh
# It also runs as it is in a checkout (it then re-uses what is installed and built).
# --skip-setup: only the daemon part (the binary must already be built).
set -euo pipefail
cd "$(dirname "$0")/.."

port=8000            # the README's run command uses the defaults
url="http://127.0.0.1:${port}"
fail() { echo "smoke: FAILED: $*" >&2; exit 1; }

if [ "${1:-}" != "--skip-setup" ]; then
  ./scripts/setup.sh
fi
command -v curl >/dev/null || fail "curl is not installed (scripts/setup.sh must install it)"

if curl -s -o /dev/null "${url}/health"; then
  fail "something already answers on ${url}; stop it first"
fi

log=$(mktemp "${TMPDIR:-/tmp}/nordiq-smoke.XXXXXX")
./build/src/nordiq serve >"$log" 2>&1 &
daemon=$!
stop_daemon() { kill -TERM "$daemon" 2>/dev/null || true; }
trap 'stop_daemon; echo "--- daemon log ---"; cat "$log"' ERR

health=000
for _ in $(seq 1 120); do
  kill -0 "$daemon" 2>/dev/null || fail "the daemon exited before /health answered"
  health=$(curl -s -o /dev/null -w '%{http_code}' "${url}/health" || true)
  [ "$health" = 200 ] && break
  sleep 0.5
done
[ "$health" = 200 ] || fail "GET /health never returned 200 within 60 s (last: $health)"
echo "smoke: GET /health = 200"

curl -s "${url}/" | grep -q '<title>NordIQ</title>' || fail "GET / did not serve the dashboard"
echo "smoke: GET / = the dashboard"
command -v chromium >/dev/null || fail "chromium is not installed (scripts/setup.sh must install it for the browser test)"

[ -s data/api_key ] || fail "the daemon did not generate data/api_key"
key=$(cat data/api_key)
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
record='{"timestamp":"'"$now"'","server_name":"smoke001","status":"healthy","cpu_user_pct":20,"cpu_sys_pct":5,"cpu_iowait_pct":1,"cpu_idle_pct":74,"java_cpu_pct":10,"mem_used_pct":60,"swap_used_pct":0,"disk_usage_pct":40,"net_in_mb_s":1.5,"net_out_mb_s":0.7,"back_close_wait":2,"front_close_wait":1,"load_average":1.2,"uptime_days":30}'
response=$(curl -s -w '\n%{http_code}' -H "X-API-Key: ${key}" -H 'Content-Type: application/json' \
  -d '{"records":['"$record"']}' "${url}/feed/data")
code=${response##*$'\n'}
body=${response%$'\n'*}
echo "smoke: POST /feed/data = $code $body"
[ "$code" = 200 ] || fail "POST /feed/data returned $code"
case $body in
  *'"accepted":1'*) ;;
  *) fail "the record was not accepted" ;;
esac

kill -TERM "$daemon"
set +e
wait "$daemon"
rc=$?
set -e
trap - ERR
[ "$rc" -eq 0 ] || { cat "$log"; fail "the daemon exited with status $rc after SIGTERM"; }
echo "smoke: SIGTERM -> exit 0"
echo "smoke: passed"
