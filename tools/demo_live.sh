#!/bin/sh
# tools/demo_live.sh: what 'make demo-live' shows: the event run live.
# A small simulated race (the sample photos' people past three cameras) is
# made; its three camera clips are the cameras' live sources, each played at
# the speed of its own clock as a camera sends it; one runner is on the
# watchlist as a lost child; `facetrail serve` ingests the three cameras at
# once, and its page shows the cameras' live state, the alert when a camera
# sees the child (while the child is still in view), and answers searches.
#
#   sh tools/demo_live.sh [path/to/facetrail] [path/to/bench_race_sim]
#
# Environment: PORT (default 8080), OUT (default build/demo-live),
# DEMO_SECONDS (stop after this long; default: run until Ctrl-C).
set -eu
CLI=${1:-build/release/facetrail}
SIM=${2:-build/release/bench/bench_race_sim}
PORT=${PORT:-8080}
OUT=${OUT:-build/demo-live}
DEMO=models/face-api/demo

for f in "$CLI" "$SIM"; do
    if [ ! -x "$f" ]; then
        echo "demo-live: $f not found; build it with 'make cli $SIM'" >&2
        exit 1
    fi
done
if ! ls "$DEMO"/sample*.jpg >/dev/null 2>&1; then
    echo "demo-live: $DEMO/sample*.jpg not found; fetch the models with 'make models'" >&2
    exit 1
fi
rm -rf "$OUT"
mkdir -p "$OUT"
echo "== a simulated race: the sample photos' people past 3 cameras (960x540, 10 fps)"
# shellcheck disable=SC2046  # the sample photos, one word each
"$SIM" --people-from-image $(ls "$DEMO"/sample*.jpg) --out "$OUT/race" --runners 8 --cameras 3 \
    --width 960 --height 540 --fps 10 --face-min 60 --face-max 110 --max-span 20 --seed 7 --quiet
DB=$OUT/race.ftdb
awk -F'\t' '$1 == "camera" { print $2, $3 }' "$OUT/race/truth.tsv" | while read -r id km; do
    "$CLI" camera add --db "$DB" --id "$id" --km "$km" --url "$OUT/race/$id.mp4" >/dev/null
    echo "camera $id at km $km: live from $OUT/race/$id.mp4"
done
# the lost child: the runner every camera sees with the largest face
child=$(awk -F'\t' '$1 == "pass" { n[$2]++; if ($8 > big[$2]) big[$2] = $8 }
    END { for (r in n) if (n[r] >= 3 && big[r] > best) { best = big[r]; who = r } print who }' \
    "$OUT/race/truth.tsv")
photo=$(awk -F'\t' -v r="$child" '$1 == "runner" && $2 == r { print $4 }' "$OUT/race/truth.tsv")
"$CLI" watch add --db "$DB" --name "lost child ($child)" --reason "demo: lost at the start" \
    "$photo" 2>/dev/null
echo "== serving on http://127.0.0.1:$PORT/ : open it in a browser"
echo "   the three cameras stream in (their live state under 'Cameras'); when one sees the"
echo "   child, an alert appears on the page within a second; upload $photo to search."
[ -n "${DEMO_SECONDS:-}" ] || echo "   Ctrl-C stops."
"$CLI" serve --db "$DB" --listen "127.0.0.1:$PORT" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT
trap 'exit 0' INT TERM
if [ -n "${DEMO_SECONDS:-}" ]; then
    sleep "$DEMO_SECONDS"
else
    wait $pid
fi
