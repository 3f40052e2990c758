#!/bin/sh
# Sets up a writable copy of the reference peer (../shared/peer, the original
# JavaScript face-api on Node's WASM backend) in build/peer and prints its path.
# Needs Node.js and the npm registry the first time (npm ci, ~10 s).
set -eu
src=${FT_PEER_SRC:-../shared/peer}
dst=build/peer
if [ ! -f "$src/faceapi-dump.mjs" ]; then
    echo "peer_setup: no reference peer at $src (set FT_PEER_SRC)" >&2
    exit 1
fi
if [ ! -d "$dst/node_modules/@vladmandic/face-api" ]; then
    rm -rf "$dst" && mkdir -p "$dst"
    cp -r "$src"/. "$dst"/ && chmod -R u+w "$dst"
    (cd "$dst" && npm ci --silent --no-audit --no-fund >/dev/null 2>&1) || {
        echo "peer_setup: npm ci failed in $dst (offline?)" >&2
        exit 1
    }
fi
echo "$dst"
