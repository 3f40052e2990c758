#!/bin/sh
# make bench: per-stage timings of facetrail (1 and 2 threads) beside the
# reference peer's faceapi-bench.mjs (single-threaded WASM SIMD), both run
# here, now, on face-api's six sample photos, printed as ratios.
#   sh bench/run.sh BUILD_DIR [REPEATS]
# The peer reads the JPEGs (jpeg-js); facetrail reads the same pixels decoded
# by the peer (--save-decoded PNGs), so both time the same work. A 1920x1080
# frame (sample5's rows 100-1179, its five faces, as a PNG) is timed on both
# sides too: the peer's SSD 512 on it, and facetrail's YuNet at full
# resolution, SSD and the whole default pipeline.
set -eu
B=${1:-build/release}
R=${2:-10}
peer=$(sh tests/e2e/peer_setup.sh)
out=build/bench
mkdir -p "$out/decoded"
samples=$(ls models/face-api/demo/sample*.jpg)
if [ ! -f "$out/decoded/sample6.png" ]; then
    node "$peer/faceapi-dump.mjs" --save-decoded "$out/decoded" $samples >/dev/null 2>&1
fi
frame=$out/frame1080.png
if [ ! -f "$frame" ]; then
    "$B/bench/bench_nets" --crop-frame "$out/decoded/sample5.png" 100 "$frame"
fi
stages=detect_ssd,detect_ssd_net,detect_tiny,detect_tiny_net,landmarks,landmarks_tiny,descriptor
echo "peer: node faceapi-bench.mjs --repeats $R --warmup 2 --stages $stages (single thread) ..." >&2
node "$peer/faceapi-bench.mjs" --repeats "$R" --warmup 2 --stages "$stages" --json "$out/peer.json" $samples >/dev/null 2>&1
echo "peer: node faceapi-bench.mjs --repeats $R --warmup 2 --stages detect_ssd $frame ..." >&2
node "$peer/faceapi-bench.mjs" --repeats "$R" --warmup 2 --stages detect_ssd --json "$out/peer_frame.json" "$frame" >/dev/null 2>&1
for t in 1 2; do
    echo "facetrail: bench_nets --threads $t --repeats $R --frame $frame ..." >&2
    "$B/bench/bench_nets" --threads "$t" --repeats "$R" --warmup 2 --frame "$frame" --json "$out"/decoded/sample*.png >"$out/facetrail_t$t.json"
done
node bench/ratios.mjs "$out/peer.json" "$out/facetrail_t1.json" "$out/facetrail_t2.json" "$out/peer_frame.json" | tee "$out/report.txt"
