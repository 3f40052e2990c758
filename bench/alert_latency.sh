#!/bin/sh
# bench/alert_latency.sh: watchlist alert latency, from a frame to the event
# stream. A small simulated race camera (bench_race_sim, 6 runners from the
# sample photos, 1280x720) is streamed at real time through a FIFO into
# `facetrail serve` as a live camera; every runner's query photo is on the
# watchlist; bench/alert_latency.py measures, per alert, its arrival on
# GET /api/v1/alerts minus its frame time (the wall clock of the sighting's
# best shot), and prints p50/p95/max as JSON.
#
#   sh bench/alert_latency.sh [OUT]     (default build/alert_latency)
#
# Environment: FT (default build/release/facetrail), SIM (default
# build/release/bench/bench_race_sim). Needs python3 and mkfifo.
set -eu
FT=${FT:-build/release/facetrail}
SIM=${SIM:-build/release/bench/bench_race_sim}
OUT=${1:-build/alert_latency}
rm -rf "$OUT"
mkdir -p "$OUT"
# shellcheck disable=SC2046  # the sample photos, one word each
"$SIM" --people-from-image $(ls models/face-api/demo/sample*.jpg) --out "$OUT/race" --runners 6 \
    --cameras 1 --width 1280 --height 720 --fps 10 --face-min 60 --face-max 110 --seed 3 --quiet
cam=$(awk -F'\t' '$1 == "camera" { print $2; exit }' "$OUT/race/truth.tsv")
km=$(awk -F'\t' '$1 == "camera" { print $3; exit }' "$OUT/race/truth.tsv")
secs=$(awk -F'\t' '$1 == "camera" { printf "%.1f", $7 / 10; exit }' "$OUT/race/truth.tsv")
"$FT" camera add --db "$OUT/live.ftdb" --id "$cam" --km "$km" >/dev/null
mkfifo "$OUT/fifo"
"$FT" serve --db "$OUT/live.ftdb" --listen 127.0.0.1:0 2>"$OUT/serve.err" &
pid=$!
trap 'kill $pid 2>/dev/null' EXIT
port=""
while [ -z "$port" ]; do
    sleep 0.2
    port=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$OUT/serve.err")
done
python3 bench/alert_latency.py "$port" "$OUT/race/$cam.mp4" "$OUT/fifo" "$secs" "$cam" "$km" \
    "$OUT"/race/queries/*.jpg
