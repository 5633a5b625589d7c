#!/bin/sh
# Builds and runs native/bench/codecmem.cc: heap per leg for each codec (decoder made) and with
# SRTP, and decode CPU per packet. The figures in docs/srtp-and-codecs.md come from it.
set -eu
cd "$(dirname "$0")/.."
mkdir -p build/bench
${CXX:-g++} -std=c++17 -O2 -Wall -Wextra -Inative/src $(sh scripts/native-deps.sh --cflags) \
  native/src/codec.cc native/src/g711.cc native/src/leg.cc native/src/leg_dtmf.cc native/src/leg_timeline.cc native/src/rtp.cc native/src/spool.cc native/src/srtp.cc \
  native/bench/codecmem.cc -o build/bench/codecmem $(sh scripts/native-deps.sh --libs)
build/bench/codecmem
