#!/bin/sh
# Builds the native stress test (native/test/*.cc) with the engine core (everything in native/src but the Node binding,
# addon*.cc, and its MP3 worker) under the sanitizer flags given, one compiler per core, then links.
# Used by test-native-asan.sh and test-native-tsan.sh.
# Usage: scripts/build-native-stress.sh <output binary> <sanitizer flags...>
set -eu
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { echo "usage: $0 <output> <sanitizer flags...>" >&2; exit 2; }
bin=$1
shift
objs="$bin.obj"
rm -rf "$objs"
mkdir -p "$objs"
cflags="-std=c++17 -g -O1 -fno-omit-frame-pointer $* -Wall -Wextra -Werror -pthread -Inative/src $(sh scripts/native-deps.sh --cflags)"
libs=$(sh scripts/native-deps.sh --libs)
jobs=$(nproc 2>/dev/null || echo 2)
# Each unit to its own object (names are unique across native/src and native/test); xargs fails
# when any compiler does.
{ ls native/src/*.cc | grep -v -e /addon -e mp3.cc; ls native/test/*.cc; } |
  CXX="${CXX:-g++}" CFLAGS="$cflags" OBJS="$objs" xargs -P "$jobs" -I{} sh -c \
    'exec $CXX $CFLAGS -c "$1" -o "$OBJS/$(basename "$1" .cc).o"' sh {}
# shellcheck disable=SC2086 # word splitting of the flag lists is intended
${CXX:-g++} $* -pthread "$objs"/*.o -o "$bin" $libs
