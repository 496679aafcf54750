#!/usr/bin/env bash
# Kill trials (issue #14): SIGKILLs the daemon at random moments under a steady feed of three
# clients, N times on one data dir, then checks that every acknowledged record is stored and that
# the database passes PRAGMA quick_check. CI runs the same test with 5 trials.
#   scripts/kill_trials.sh [N=50]        (needs a built tree: ./scripts/test.sh or cmake --build build)
set -euo pipefail
cd "$(dirname "$0")/../build/tests"
NORDIQ_KILL_TRIALS="${1:-50}" ./test_e2e --gtest_filter='Durability.RandomSigkillsUnderASteadyFeedLoseNoAcknowledgedRecord'
