#!/bin/sh
# Installs facetrail's build dependencies from Debian 12's archive (as root).
# Idempotent: apt-get skips what is installed. libxnnpack-dev does not pull in
# libpthreadpool-dev, whose header xnnpack.h includes, so it is named here.
# tzdata: times without a UTC offset are read in the event's named zone.
# protobuf-c + onnx.proto (libonnx-dev): the ONNX model reader (YuNet).
# libnats-dev: the cluster (NATS JetStream); nats-server: make cluster-test (a
# single box runs no NATS server).
# Test-only references, never linked into the product: libdlib-dev (dlib's
# shape predictor and descriptor net), python3-opencv (YuNet's raw outputs).
# clang + libclang-rt-14-dev (libFuzzer's runtime, only a Recommends of clang)
# for make fuzz alone; make check and the product build with gcc.
# Test-only, the web page test (tests/e2e/browser.sh): chromium, run headless
# by playwright-core, which npm installs into tests/browser/node_modules at the
# version pinned in tests/browser/package-lock.json (no browser download).
set -eu
PKGS="build-essential pkg-config ca-certificates xz-utils
libxnnpack-dev libpthreadpool-dev
libjpeg62-turbo-dev libpng-dev zlib1g-dev libjansson-dev
libavformat-dev libavcodec-dev libavutil-dev libswscale-dev
libsqlite3-dev sqlite3 libmicrohttpd-dev tzdata
libnats-dev nats-server
libprotobuf-c-dev protobuf-c-compiler libonnx-dev
libdlib-dev python3-opencv python3-numpy
clang libclang-rt-14-dev
chromium"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# npm fetches the models; Debian's npm only where no Node.js is installed already
command -v npm >/dev/null 2>&1 || missing="$missing npm"
if [ -z "$missing" ]; then
    echo "build dependencies already installed" >&2
elif [ "$(id -u)" != 0 ]; then
    echo "missing packages:$missing" >&2
    echo "run as root: apt-get install -y$missing" >&2
    exit 1
else
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends $missing
fi
# the web page test's playwright-core (tests/browser/package-lock.json)
browser=$(cd "$(dirname "$0")/../tests/browser" && pwd)
if [ ! -d "$browser/node_modules/playwright-core" ]; then
    (cd "$browser" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --ignore-scripts --no-audit --no-fund)
fi
