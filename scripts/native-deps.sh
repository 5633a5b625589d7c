#!/bin/sh
# Prints the compiler or linker flags of the media engine's Debian libraries (binding.gyp runs it
# through pkg-config); when one is missing it names the apt-get line that installs them all and fails.
# Usage: scripts/native-deps.sh --cflags|--libs
set -eu
pkgs="libsrtp2 libavcodec libswresample libavutil lame"
apt="apt-get install libsrtp2-dev libavcodec-dev libswresample-dev libavutil-dev libmp3lame-dev pkg-config"
if ! command -v pkg-config >/dev/null 2>&1; then
  echo "srs media engine: pkg-config is missing. Install the build dependencies with: $apt" >&2
  exit 1
fi
for p in $pkgs; do
  if ! pkg-config --exists "$p"; then
    echo "srs media engine: the $p development files are missing (pkg-config $p). Install them with: $apt" >&2
    exit 1
  fi
done
case "${1:-}" in
  --cflags) pkg-config --cflags $pkgs ;;
  --libs) pkg-config --libs $pkgs ;;
  *) echo "usage: $0 --cflags|--libs" >&2; exit 2 ;;
esac
