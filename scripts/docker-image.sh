#!/usr/bin/env bash
# Build the wstest image (a drop-in for crossbario/autobahn-testsuite): the binary and the
# shared libraries it links, FROM scratch, so no image registry is needed.
#
# usage: scripts/docker-image.sh [TAG] [BINARY]
#   TAG     image name (default wstest:latest)
#   BINARY  the wstest executable (default target/release/wstest, built if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
tag="${1:-wstest:latest}"
bin="${2:-target/release/wstest}"
if [ ! -x "$bin" ]; then
  cargo build --release
fi
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/rootfs/usr/local/bin" "$ctx/rootfs/tmp" "$ctx/rootfs/config" "$ctx/rootfs/reports"
chmod 1777 "$ctx/rootfs/tmp"
# Without its debug information (the image stays small); the build's own file is untouched.
objcopy --strip-debug "$bin" "$ctx/rootfs/usr/local/bin/wstest"
# Every shared library it links, at the path the dynamic linker looks for it.
for lib in $(ldd "$bin" | awk '/=>/ { print $3; next } $1 ~ /^\// { print $1 }'); do
  mkdir -p "$ctx/rootfs$(dirname "$lib")"
  cp -L "$lib" "$ctx/rootfs$lib"
done
# CA roots for wss:// clients (the system's, when there are any).
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  mkdir -p "$ctx/rootfs/etc/ssl/certs"
  cp /etc/ssl/certs/ca-certificates.crt "$ctx/rootfs/etc/ssl/certs/"
fi
cp docker/Dockerfile "$ctx/Dockerfile"
DOCKER_BUILDKIT=0 docker build -q -t "$tag" "$ctx" >/dev/null 2>&1 || docker build -t "$tag" "$ctx"
echo "$tag: $(docker image inspect -f '{{.Size}}' "$tag" | awk '{ printf "%.1f MB", $1 / 1e6 }')"
