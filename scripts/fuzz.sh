#!/usr/bin/env bash
# The libFuzzer targets of fuzz/ (issue #14): builds them with clang, ASan and UBSan in
# build-fuzz/, then runs each for --seconds on a working copy of its corpus (fuzz/corpus/<target>,
# which stays as committed; inputs worth keeping can be merged back with `-merge=1`).
# A crash, leak, sanitizer report or timeout fails the script; the input is left in
# build-fuzz/findings/<target>/ and its path printed.
#
#   scripts/fuzz.sh [--seconds 60] [--jobs 2] [target ...]    (targets: feed_parser remote_write
#                                                              model_file text_fields http_request;
#                                                              default all)
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=60
jobs=${NORDIQ_JOBS:-2}
targets=()
while (($#)); do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) targets+=("$1"); shift ;;
  esac
done
((${#targets[@]})) || targets=(feed_parser remote_write model_file text_fields http_request)

# clang and libFuzzer's runtime, installed the way scripts/setup.sh installs the build's packages.
source scripts/install_packages.sh
install_packages clang libclang-rt-14-dev

cmake -S . -B build-fuzz -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1" \
  -DNORDIQ_FUZZ=ON -DNORDIQ_BUILD_TESTS=OFF -DNORDIQ_BUILD_BENCH=OFF > /dev/null
cmake --build build-fuzz -j"$jobs" --target "${targets[@]/#/fuzz_}" > build-fuzz/build.log 2>&1 || {
  tail -40 build-fuzz/build.log >&2; exit 1; }

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
run_target() {
  local t=$1 work=build-fuzz/corpus/$1 findings=build-fuzz/findings/$1/
  rm -rf "$work" "$findings"
  mkdir -p "$work" "$findings"
  # New inputs go to the working copy (first dir); the committed corpus is only read.
  if ./build-fuzz/fuzz/fuzz_"$t" "$work" "fuzz/corpus/$t" -max_total_time="$seconds" -timeout=10 \
       -rss_limit_mb=2048 -artifact_prefix="$findings" -print_final_stats=1 > "build-fuzz/$t.log" 2>&1; then
    echo "fuzz $t: $(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "build-fuzz/$t.log" | grep -o '[0-9]*$') runs in ${seconds} s, corpus $(ls "$work" | wc -l) new inputs, no finding"
  else
    echo "fuzz $t: FINDING (log build-fuzz/$t.log):" >&2
    grep -E "ERROR|SUMMARY|Test unit written" "build-fuzz/$t.log" >&2 || tail -20 "build-fuzz/$t.log" >&2
    return 1
  fi
}

# Up to `jobs` targets at once.
status=0
pids=()
for t in "${targets[@]}"; do
  run_target "$t" & pids+=($!)
  if ((${#pids[@]} >= jobs)); then
    wait "${pids[0]}" || status=1
    pids=("${pids[@]:1}")
  fi
done
for p in "${pids[@]}"; do wait "$p" || status=1; done
exit $status
