#!/bin/sh
# bench/live_load.sh: `facetrail serve` under concurrent searches while live
# cameras stream in over HTTP at real time, with watchlist alerts (see
# bench/live_load.py for what is measured and printed).
#
#   sh bench/live_load.sh [OUT]        (default build/live_load)
#
# A simulated race (bench_race_sim, the sample photos' people, CAMERAS
# cameras at WIDTHxHEIGHT, 10 fps, clips of about SECONDS + 15 s) gives the
# live cameras and the watchlist. The searched event is a copy of EVENT
# (default build/scale/all.ftdb, the 6,805-runner event bench/race_scale
# writes, if present; else an empty event), so that searches cost what they
# cost at scale.
# Environment: FT, SIM (the binaries; default build/release/...), EVENT,
# CAMERAS (2), CLIENTS (50), SECONDS (60), WIDTH (1280), HEIGHT (720),
# WORKERS (2), KILL_AT (0: no cut; else the streams are cut S seconds in),
# CPUS (e.g. 0: serve runs on those cores only, with taskset), SOURCE (ffmpeg, the
# default where ffmpeg is installed: frames sent at their time over HTTP; or python).
set -eu
FT=${FT:-build/release/facetrail}
SIM=${SIM:-build/release/bench/bench_race_sim}
OUT=${1:-build/live_load}
EVENT=${EVENT:-build/scale/all.ftdb}
CAMERAS=${CAMERAS:-2}
CLIENTS=${CLIENTS:-50}
SECONDS_=${SECONDS:-60}
WIDTH=${WIDTH:-1280}
HEIGHT=${HEIGHT:-720}
WORKERS=${WORKERS:-2}
KILL_AT=${KILL_AT:-0}
rm -rf "$OUT"
mkdir -p "$OUT"
span=$(awk -v s="$SECONDS_" 'BEGIN { printf "%d", s + 15 }')
# shellcheck disable=SC2046  # the sample photos, one word each
"$SIM" --people-from-image $(ls models/face-api/demo/sample*.jpg) --out "$OUT/race" --runners 20 \
    --cameras "$CAMERAS" --width "$WIDTH" --height "$HEIGHT" --fps 10 --face-min 50 --face-max 110 \
    --max-span "$span" --seed 11 --quiet
if [ -f "$EVENT" ]; then
    cp "$EVENT" "$OUT/event.ftdb"
    echo "searched event: a copy of $EVENT" >&2
else
    "$FT" camera add --db "$OUT/event.ftdb" --id gate --km 0 >/dev/null
    echo "searched event: empty ($EVENT not found)" >&2
fi
pin=""
[ -n "${CPUS:-}" ] && pin="taskset -c $CPUS"
$pin "$FT" serve --db "$OUT/event.ftdb" --listen 127.0.0.1:0 --workers "$WORKERS" 2>"$OUT/serve.err" &
pid=$!
trap 'kill $pid 2>/dev/null' EXIT
port=""
while [ -z "$port" ] && kill -0 $pid 2>/dev/null; do
    sleep 0.2
    port=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$OUT/serve.err")
done
[ -n "$port" ] || { cat "$OUT/serve.err" >&2; exit 1; }
photo=$(awk -F'\t' '$1 == "runner" { print $4; exit }' "$OUT/race/truth.tsv")
python3 bench/live_load.py --port "$port" --pid "$pid" --race "$OUT/race" --photo "$photo" \
    --cameras "$CAMERAS" --clients "$CLIENTS" --seconds "$SECONDS_" --kill-at "$KILL_AT" \
    ${SOURCE:+--source "$SOURCE"} |
    tee "$OUT/result.json"
