#!/usr/bin/env bash
# Start to ready: `srs serve` (what `npm start` runs) on a fresh data directory, from the process
# start to its "SIPREC recording server ready" line: embedded Postgres initialised, RSA 4096 key
# and admin token generated. Runs RUNS times (default 3), each on a new data directory and free
# ports, and prints each time and the range. Usage: scripts/start-to-ready.sh [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
node scripts/build.js --if-missing >/dev/null
times=()
for i in $(seq 1 "$runs"); do
  dir=$(mktemp -d /tmp/srs-ready-XXXXXX)
  log="$dir/server.log"
  start=$(date +%s.%N)
  SRS_DATA_DIR="$dir/data" SIP_PORT=$((45060 + i * 2)) HTTP_PORT=$((45180 + i)) RTP_PORT_MIN=46000 RTP_PORT_MAX=46998 \
    node --initial-heap-size=64 bin/srs.js serve >"$log" 2>&1 &
  pid=$!
  ready=""
  for _ in $(seq 1 1200); do
    if grep -q 'SIPREC recording server ready' "$log"; then ready=$(date +%s.%N); break; fi
    if ! kill -0 "$pid" 2>/dev/null; then break; fi
    sleep 0.025
  done
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  if [ -z "$ready" ]; then
    echo "run $i: the server did not get ready (log: $log)" >&2
    tail -20 "$log" >&2
    exit 1
  fi
  t=$(awk -v a="$start" -v b="$ready" 'BEGIN { printf "%.3f", b - a }')
  times+=("$t")
  printf 'run %d: %.2f s to ready\n' "$i" "$t"
  rm -rf "$dir"
done
printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "start to ready: %.2f-%.2f s over %d runs\n", a[1], a[NR], NR}'
