# Sourced by the measuring scripts (load.sh, memory.sh): a Release daemon on a loopback port with
# a fresh data dir and no rate limits, stopped and removed when the script exits.
#   start_scratch_daemon NAME PORT KEY    → sets url, dir (the temp dir) and daemon (its pid);
#                                           returns once GET /health answers 200
start_scratch_daemon() {
  local name=$1 port=$2 key=$3
  url="http://127.0.0.1:${port}"
  dir=$(mktemp -d "${TMPDIR:-/tmp}/nordiq-${name}.XXXXXX")
  echo "$key" >"$dir/key"
  NORDIQ_API_KEY=$key ./build/src/nordiq serve --port "$port" --data-dir "$dir/data" --models-dir models \
    --rate-feed 0 --rate-read 0 >"$dir/daemon.log" 2>&1 &
  daemon=$!
  trap 'kill -TERM $daemon 2>/dev/null || true; wait $daemon 2>/dev/null || true; rm -rf "$dir"' EXIT
  for _ in $(seq 1 120); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$url/health" || true)" = 200 ] && return 0
    sleep 0.5
  done
  echo "the daemon did not become healthy; log:" >&2
  tail -20 "$dir/daemon.log" >&2
  return 1
}
