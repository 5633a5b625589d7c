#!/bin/sh
# Builds the engine core (everything in native/src except the Node binding, addon*.cc) with AddressSanitizer
# and UBSan, then runs native/test/ (stress.cc, fuzz.cc): thousands of sessions opened and closed with RTP
# flowing, mixes, and a fuzzed RTP receiver. Usage: scripts/test-native-asan.sh [sessions]
set -eu
cd "$(dirname "$0")/.."
out=build/native-test
scripts/build-native-stress.sh "$out/stress" -fsanitize=address,undefined -fno-sanitize-recover=undefined
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 "$out/stress" "${1:-3000}"
