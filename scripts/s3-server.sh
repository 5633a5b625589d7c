#!/usr/bin/env bash
# A throwaway, loopback-only Ceph cluster with radosgw (the S3 API of Ceph) for tests.
#
#   scripts/s3-server.sh start [--dir DIR] [--port PORT]   start; prints the settings (also DIR/env)
#   scripts/s3-server.sh stop --dir DIR                    kill every daemon of DIR, remove DIR
#   scripts/s3-server.sh rgw-stop --dir DIR                kill -9 radosgw only (outage tests)
#   scripts/s3-server.sh rgw-start --dir DIR               start radosgw again on the same port
#
# One monitor, one OSD on memstore (objects in the OSD's memory: nothing to format, fastest start),
# no manager (rados and radosgw do not need one), no authentication between the daemons (cephx off:
# nothing leaves 127.0.0.1), radosgw with its beast frontend on 127.0.0.1:PORT and one S3 user.
# Written files: DIR/env (shell: S3_ENDPOINT=..., AWS_ACCESS_KEY_ID=...), DIR/credentials.json
# (the S3_CREDENTIALS_FILE format), DIR/*.log (daemon logs).
# Needs Debian's `radosgw ceph-mon ceph-osd` (exit 3 with the apt-get line when missing).
set -euo pipefail

cmd="${1:-}"
shift || true
DIR=""
PORT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) DIR="$2"; shift 2 ;;
    --port) PORT="$2"; shift 2 ;;
    *) echo "s3-server.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

STARTING=""
die() {
  echo "s3-server.sh: $*" >&2
  # A failed start leaves no daemon behind; its directory stays for the logs.
  if [ -n "$STARTING" ]; then kill_all; echo "s3-server.sh: logs in $DIR; remove with: $0 stop --dir $DIR" >&2; fi
  exit 1
}

need_binaries() {
  local missing=()
  for b in ceph-mon ceph-osd radosgw radosgw-admin monmaptool ceph; do
    command -v "$b" >/dev/null 2>&1 || missing+=("$b")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "s3-server.sh: missing ${missing[*]}: apt-get install -y --no-install-recommends radosgw ceph-mon ceph-osd" >&2
    exit 3
  fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Waits until "$@" succeeds, at most $1 seconds (first argument), 0.2 s between tries.
wait_for() {
  local limit=$1
  shift
  local end=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $end ] || return 1
    sleep 0.2
  done
}

kill_pidfile() {
  local f=$1 sig=${2:-TERM}
  [ -f "$f" ] || return 0
  local pid
  pid=$(cat "$f")
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "-$sig" "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

rgw_start() {
  [ -f "$DIR/ceph.conf" ] || die "$DIR holds no cluster (no ceph.conf)"
  # shellcheck disable=SC1091
  . "$DIR/ports"
  # In the foreground of a background job, so that its pid is known even when it exits at once.
  radosgw -f -c "$DIR/ceph.conf" -n client.rgw --rgw-frontends "beast endpoint=127.0.0.1:$RGW_PORT" \
    </dev/null >>"$DIR/client.rgw.out" 2>&1 &
  echo $! >"$DIR/rgw.pid"
  # Ready when it answers HTTP; a radosgw that exits (port taken...) ends the wait at once.
  local end=$((SECONDS + 60))
  until curl -sf --max-time 2 -o /dev/null "http://127.0.0.1:$RGW_PORT/"; do
    kill -0 "$(cat "$DIR/rgw.pid")" 2>/dev/null ||
      die "radosgw exited: $(grep -v '^$' "$DIR/client.rgw.log" | tail -1)"
    [ $SECONDS -lt $end ] || die "radosgw did not answer on 127.0.0.1:$RGW_PORT within 60 s (see $DIR/client.rgw.log)"
    sleep 0.2
  done
}

start() {
  need_binaries
  local t0=$SECONDS started_ms
  started_ms=$(date +%s%3N)
  if [ -z "$DIR" ]; then DIR=$(mktemp -d /tmp/srs-s3.XXXXXX); fi
  mkdir -p "$DIR"
  DIR=$(cd "$DIR" && pwd)
  [ ! -f "$DIR/ceph.conf" ] || die "$DIR already holds a cluster (stop it first)"
  STARTING=1
  trap '[ -z "$STARTING" ] || die "start failed at line $LINENO"' ERR
  local mon_port rgw_port fsid
  mon_port=$(free_port)
  rgw_port=${PORT:-$(free_port)}
  fsid=$(cat /proc/sys/kernel/random/uuid)
  printf 'MON_PORT=%s\nRGW_PORT=%s\n' "$mon_port" "$rgw_port" >"$DIR/ports"

  cat >"$DIR/ceph.conf" <<EOF
[global]
fsid = $fsid
mon host = [v2:127.0.0.1:$mon_port]
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind msgr1 = false
auth cluster required = none
auth service required = none
auth client required = none
# radosgw asks for a secure (encrypted) connection to the monitor by default, which needs cephx.
ms mon client mode = crc secure
ms client mode = crc secure
run dir = $DIR
admin socket = $DIR/\$name.asok
pid file = $DIR/\$name.pid
log file = $DIR/\$name.log
log to stderr = false
err to stderr = false
mon cluster log file = $DIR/cluster.log
crash dir = $DIR/crash
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
osd crush chooseleaf type = 0

[mon]
mon data = $DIR/mon.\$id
mon data avail crit = 1
mon data avail warn = 2

[osd]
osd data = $DIR/osd.\$id
osd objectstore = memstore
memstore device bytes = 2147483648
osd journal size = 0

[client.rgw]
rgw data = $DIR/rgw
rgw dns name = 127.0.0.1
rgw enable usage log = false
rgw thread pool size = 64
EOF
  mkdir -p "$DIR/mon.a" "$DIR/osd.0" "$DIR/rgw" "$DIR/crash"
  monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$mon_port]" "$DIR/monmap" >/dev/null
  ceph-mon -c "$DIR/ceph.conf" -i a --mkfs --monmap "$DIR/monmap" >/dev/null 2>"$DIR/mkfs.log" ||
    die "ceph-mon --mkfs failed: $(tail -3 "$DIR/mkfs.log")"
  ceph-mon -c "$DIR/ceph.conf" -i a
  local C=(ceph -c "$DIR/ceph.conf" --connect-timeout 20)
  wait_for 30 "${C[@]}" mon stat || die "the monitor did not start (see $DIR/mon.a.log)"

  local osd_uuid
  osd_uuid=$(cat /proc/sys/kernel/random/uuid)
  "${C[@]}" osd new "$osd_uuid" 0 >/dev/null
  ceph-osd -c "$DIR/ceph.conf" -i 0 --mkfs --osd-uuid "$osd_uuid" >/dev/null 2>>"$DIR/mkfs.log" ||
    die "ceph-osd --mkfs failed: $(tail -3 "$DIR/mkfs.log")"
  ceph-osd -c "$DIR/ceph.conf" -i 0
  osd_up() { "${C[@]}" osd stat -f json | grep -q '"num_up_osds":1'; }
  wait_for 60 osd_up || die "the OSD did not come up (see $DIR/osd.0.log)"

  rgw_start
  local access secret
  access=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n' | tr a-f A-F)
  secret=$(head -c 30 /dev/urandom | base64 | tr -d '/+=\n')
  radosgw-admin -c "$DIR/ceph.conf" -n client.rgw user create --uid srs-test --display-name "srs test" \
    --access-key "$access" --secret-key "$secret" >/dev/null
  cat >"$DIR/credentials.json" <<EOF
{ "accessKeyId": "$access", "secretAccessKey": "$secret" }
EOF
  chmod 600 "$DIR/credentials.json"
  # Answering HTTP is not yet serving: the first buckets make radosgw create its index and data
  # pools, which on a loaded machine fails (500) for a while. Ready when a plain bucket and one
  # with Object Lock can be made and removed, signed with the user's keys.
  probe() {
    # curl signs with SigV4 but sends no payload hash, which S3 requires: that of the empty body.
    local b="srs-probe-$1" sig=(--aws-sigv4 "aws:amz:us-east-1:s3" --user "$access:$secret" -sf --max-time 10 -o /dev/null
      -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    curl "${sig[@]}" -X PUT ${2:+-H "x-amz-bucket-object-lock-enabled: true"} "http://127.0.0.1:$rgw_port/$b" &&
      curl "${sig[@]}" -X DELETE "http://127.0.0.1:$rgw_port/$b"
  }
  wait_for 90 probe plain || die "radosgw did not create a bucket within 90 s (see $DIR/client.rgw.log)"
  wait_for 90 probe locked 1 || die "radosgw did not create an Object Lock bucket within 90 s (see $DIR/client.rgw.log)"
  cat >"$DIR/env" <<EOF
S3_SERVER_DIR=$DIR
S3_ENDPOINT=http://127.0.0.1:$rgw_port
S3_REGION=us-east-1
S3_FORCE_PATH_STYLE=true
S3_CREDENTIALS_FILE=$DIR/credentials.json
AWS_ACCESS_KEY_ID=$access
AWS_SECRET_ACCESS_KEY=$secret
S3_SERVER_START_MS=$(($(date +%s%3N) - started_ms))
EOF
  STARTING=""
  cat "$DIR/env"
  echo "s3-server.sh: Ceph $(ceph-mon --version | awk '{print $3}') radosgw on http://127.0.0.1:$rgw_port in $((SECONDS - t0)) s; stop with: $0 stop --dir $DIR" >&2
}

kill_all() {
  kill_pidfile "$DIR/rgw.pid" KILL
  kill_pidfile "$DIR/client.rgw.pid" KILL
  kill_pidfile "$DIR/osd.0.pid" KILL
  kill_pidfile "$DIR/mon.a.pid" TERM
}

stop() {
  [ -n "$DIR" ] || die "stop needs --dir DIR"
  [ -d "$DIR" ] || return 0
  [ -f "$DIR/ceph.conf" ] || die "$DIR holds no cluster (no ceph.conf): not removing it"
  kill_all
  rm -rf "$DIR"
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  rgw-stop)
    [ -n "$DIR" ] || die "rgw-stop needs --dir DIR"
    kill_pidfile "$DIR/rgw.pid" KILL
    kill_pidfile "$DIR/client.rgw.pid" KILL
    ;;
  rgw-start)
    [ -n "$DIR" ] || die "rgw-start needs --dir DIR"
    rgw_start
    ;;
  *)
    echo "usage: $0 start [--dir DIR] [--port PORT] | stop --dir DIR | rgw-stop --dir DIR | rgw-start --dir DIR" >&2
    exit 2
    ;;
esac
