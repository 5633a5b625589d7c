#!/bin/sh
# Builds the engine core (everything in native/src but the Node binding (addon*.cc) and its MP3 worker) with ThreadSanitizer and
# runs native/test/ (stress.cc, fuzz.cc): sessions opened and closed from the control thread while the worker
# receives RTP, stages and writes spools, so a data race between them is reported (and fails the
# run). Usage: scripts/test-native-tsan.sh [sessions]
set -eu
cd "$(dirname "$0")/.."
out=build/native-test
scripts/build-native-stress.sh "$out/stress-tsan" -fsanitize=thread
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 "$out/stress-tsan" "${1:-500}"
