#!/bin/sh
# docker/Dockerfile's steps without a Docker engine (none runs on our build machines): the build
# stage on a clean copy of the build context, then the runtime as the image runs it (production
# dependencies only, a user other than root, the image's environment and command), one SIPREC call
# from SIPp and its recording stored. It found the build stage failing at `npm ci` (the install
# script needed scripts/build.js before it was copied). The base image's own packages are not
# checked: that needs Docker.
# Usage: scripts/docker-build-check.sh   (as root it runs the server as `nobody`; needs sipp)
set -eu
cd "$(dirname "$0")/.."
fail() {
  echo "docker-build-check: $*" >&2
  exit 1
}
# The steps replicated here; a changed Dockerfile must change this script too.
dockerfile=${DOCKERFILE:-docker/Dockerfile}
copy_at=$(grep -nx 'COPY \. \.' "$dockerfile" | head -1 | cut -d: -f1)
ci_at=$(grep -n '^RUN npm ci ' "$dockerfile" | head -1 | cut -d: -f1)
[ -n "$copy_at" ] && [ -n "$ci_at" ] && [ "$copy_at" -lt "$ci_at" ] ||
  fail "$dockerfile does not copy the whole context before npm ci (its install script builds from the sources)"
grep -q '^RUN npm ci --omit=dev --no-audit --no-fund' "$dockerfile" || fail "$dockerfile's npm ci changed: update this script"
grep -q '^CMD \["node", "--initial-heap-size=64", "bin/srs.js", "serve"\]' "$dockerfile" ||
  fail "$dockerfile's command changed: update this script"
command -v sipp >/dev/null || fail "sipp not found (apt-get install sip-tester)"

work=$(mktemp -d)
chmod 755 "$work"
app="$work/app"
# The server by its working directory (it runs under runuser, a process of its own), stopped as
# docker stop stops it (SIGTERM), then its leftovers.
stop_server() {
  for p in $(pgrep -f 'bin/srs.js serve' || true); do
    [ "$(readlink "/proc/$p/cwd" 2>/dev/null)" = "$app" ] && kill "$p" 2>/dev/null
  done
  i=0
  while pgrep -f "$work/" >/dev/null && [ $i -lt 20 ]; do
    sleep 0.5
    i=$((i + 1))
  done
  pkill -9 -f "$work/" 2>/dev/null || true
}
cleanup() {
  stop_server
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

# The build context: what git would commit (.dockerignore leaves out what .gitignore does, and .git).
mkdir -p "$app"
git ls-files -co --exclude-standard | while IFS= read -r f; do [ -e "$f" ] && printf '%s\n' "$f"; done |
  tar -cf - -T - | tar -xf - -C "$app"
echo "docker-build-check: build stage (npm ci --omit=dev) in $app"
(cd "$app" && npm ci --omit=dev --no-audit --no-fund >"$work/npm-ci.log" 2>&1) || {
  tail -20 "$work/npm-ci.log" >&2
  fail "npm ci --omit=dev failed"
}
for f in build/Release/srs_media.node dist/cli.js web/dist/app.js; do
  [ -f "$app/$f" ] || fail "the build stage made no $f"
done
[ -d "$app/node_modules/tsx" ] && fail "a dev dependency (tsx) is in the image"

# The runtime: the image's environment, its command, not as root.
data="$work/data"
mkdir -p "$data"
as=""
if [ "$(id -u)" -eq 0 ]; then
  chown nobody "$data"
  as="runuser -u nobody --"
fi
sip_port=${DOCKER_CHECK_SIP_PORT:-25060}
http_port=${DOCKER_CHECK_HTTP_PORT:-28080}
srs() { (cd "$app" && $as env HOME="$data" SRS_DATA_DIR="$data" NODE_ENV=production "$@"); }
srs SIP_PORT="$sip_port" HTTP_PORT="$http_port" node --initial-heap-size=64 bin/srs.js serve >"$work/serve.log" 2>&1 &
i=0
until grep -q 'SIPREC recording server ready' "$work/serve.log"; do
  i=$((i + 1))
  [ $i -le 90 ] || {
    tail -20 "$work/serve.log" >&2
    fail "the server was not ready in 90 s"
  }
  pgrep -f 'bin/srs.js serve' >/dev/null || {
    tail -20 "$work/serve.log" >&2
    fail "the server exited"
  }
  sleep 1
done
echo "docker-build-check: server ready; one SIPREC call"
(cd "$app/sip-scenarios" && sipp -sf siprec-basic.xml -m 1 -s srs -i 127.0.0.1 "127.0.0.1:$sip_port" -timeout 30 >/dev/null 2>&1) ||
  fail "the SIPp call failed"
i=0
until srs node bin/srs.js recordings list 2>/dev/null | grep -q ' stored '; do
  i=$((i + 1))
  [ $i -le 30 ] || {
    srs node bin/srs.js recordings list >&2 || true
    fail "the call's recording was not stored in 30 s"
  }
  sleep 1
done
srs node bin/srs.js recordings list
echo "docker-build-check: ok (built with production dependencies only, ran as $(if [ -n "$as" ]; then echo nobody; else id -un; fi), one call stored)"
