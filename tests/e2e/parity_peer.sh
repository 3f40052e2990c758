#!/bin/sh
# Full parity run: the reference peer decodes face-api's six sample JPEGs
# (--save-decoded) and dumps its detections, landmarks and descriptors for the
# decoded PNGs (SSD, tiny at 416, tiny landmarks, and raw chips); then
# test_parity compares facetrail with them on the identical pixels.
#   sh tests/e2e/parity_peer.sh        (from the repository root; make parity)
set -eu
peer=$(sh tests/e2e/peer_setup.sh)
out=build/parity
rm -rf "$out" && mkdir -p "$out/chips" "$out/decoded"
samples=$(ls models/face-api/demo/sample*.jpg)
echo "peer: decoding and dumping $(echo "$samples" | wc -l) samples ..." >&2
node "$peer/faceapi-dump.mjs" --save-decoded "$out/decoded" --save-chips "$out/chipsraw" $samples >/dev/null 2>&1
mv "$out"/decoded/*.png "$out"/ && mv "$out"/chipsraw/*.png "$out/chips/"
node "$peer/faceapi-dump.mjs" "$out"/sample*.png >"$out/ssd.jsonl" 2>/dev/null
node "$peer/faceapi-dump.mjs" --detector tiny --input-size 416 "$out"/sample*.png >"$out/tiny.jsonl" 2>/dev/null
node "$peer/faceapi-dump.mjs" --tiny-landmarks "$out"/sample*.png >"$out/tinylm.jsonl" 2>/dev/null
node "$peer/faceapi-dump.mjs" --raw-chip "$out"/chips/*.png >"$out/chips.jsonl" 2>/dev/null
make --no-print-directory build/release/tests/test_parity >/dev/null
FT_PARITY_DIR=$out build/release/tests/test_parity
