#!/bin/sh
# tools/demo.sh: what 'make demo' shows: facetrail on face-api's sample photos.
# Finds the faces of sample1.jpg, then compares sample1 with itself and two
# different women (sample2, sample5).
# Usage, from the repository root:  sh tools/demo.sh [path/to/facetrail]
set -eu
CLI=${1:-build/release/facetrail}
DEMO=models/face-api/demo

if [ ! -x "$CLI" ]; then
    echo "demo: $CLI not found; build it with 'make'" >&2
    exit 1
fi
for i in 1 2 5; do
    if [ ! -f "$DEMO/sample$i.jpg" ]; then
        echo "demo: $DEMO/sample$i.jpg not found; fetch the models with 'make models'" >&2
        exit 1
    fi
done

# detect prints one JSON line per image; summarise it: size, then each face's
# box and detector score.
echo "\$ facetrail detect $DEMO/sample1.jpg"
json=$("$CLI" detect "$DEMO/sample1.jpg")
printf '%s\n' "$json" | awk '{
    match($0, /"width":[0-9]+/);  w = substr($0, RSTART + 8, RLENGTH - 8)
    match($0, /"height":[0-9]+/); h = substr($0, RSTART + 9, RLENGTH - 9)
    n = 0; s = $0; out = ""
    while (match(s, /"box":\[[^]]*\],"score":[^,}]*/)) {
        f = substr(s, RSTART + 7, RLENGTH - 7)      # x,y,w,h],"score":S
        s = substr(s, RSTART + RLENGTH)
        sub(/\],"score":/, ",", f)
        split(f, v, ",")
        n++
        out = out sprintf("  face %d: x %4.0f  y %4.0f  w %4.0f  h %4.0f  score %.3f\n",
                          n, v[1], v[2], v[3], v[4], v[5])
    }
    printf "%dx%d image, %d face%s (with 68 landmarks and a 128-d descriptor each)\n",
           w, h, n, n == 1 ? "" : "s"
    printf "%s", out
}'
echo "(the full JSON: facetrail detect --pretty $DEMO/sample1.jpg)"

# compare exits 0 for the same person, 1 for different people, 2 on error.
compare()
{
    echo
    echo "\$ facetrail compare $1 $2"
    rc=0
    "$CLI" compare "$1" "$2" || rc=$?
    [ "$rc" -le 1 ] || exit "$rc"
}
compare "$DEMO/sample1.jpg" "$DEMO/sample1.jpg"
compare "$DEMO/sample2.jpg" "$DEMO/sample5.jpg"

# ---- the lost-child story ---------------------------------------------------
# A small simulated race: 6 runners (the faces of the sample photos) pass 3
# cameras along a course; each camera's video is ingested; then security
# searches with one photo of a runner that no camera video used.
SIM=${FT_SIM:-$(dirname "$CLI")/bench/bench_race_sim}
if [ ! -x "$SIM" ]; then
    echo "demo: $SIM not found; build it with 'make $(dirname "$CLI")/bench/bench_race_sim'" >&2
    exit 1
fi
OUT=build/demo
rm -rf "$OUT" && mkdir -p "$OUT"
echo
echo "== A lost child: 6 runners pass 3 cameras along the course; one photo, where are they?"
echo "\$ bench_race_sim ... (simulating the cameras' videos)"
"$SIM" --people-from-image "$DEMO"/sample*.jpg --out "$OUT/race" --runners 6 --cameras 3 \
    --width 640 --height 360 --fps 10 --face-min 60 --face-max 100 --max-span 6 --seed 7 \
    --quiet >"$OUT/sim.log" 2>&1 || { cat "$OUT/sim.log" >&2; exit 1; }
echo "\$ facetrail camera add ... ; facetrail ingest ... (one per camera)"
FT=$CLI DB=$OUT/race.ftdb sh "$OUT/race/setup.sh" --quiet | sed 's/^/  /'
"$CLI" camera list --db "$OUT/race.ftdb" | sed 's/^/  /'
echo
echo "== every runner, searched with a photo no camera used (found / true passes):"
for q in "$OUT"/race/queries/*.jpg; do
    r=$(basename "$q" .jpg)
    found=$("$CLI" search --db "$OUT/race.ftdb" --json "$q" 2>/dev/null |
            grep -o '"camera":"[^"]*"' | wc -l | tr -d ' ')
    passes=$(awk -F '\t' -v r="$r" '$1 == "pass" && $2 == r' "$OUT/race/truth.tsv" | wc -l | tr -d ' ')
    echo "  $r: $found appearance(s) found, $passes true passes"
done
q=$(ls "$OUT"/race/queries/*.jpg | sed -n 2p)
echo
echo "\$ facetrail search --db $OUT/race.ftdb --html $OUT/report.html $q"
"$CLI" search --db "$OUT/race.ftdb" --html "$OUT/report.html" "$q"
r=$(basename "$q" .jpg)
echo
echo "truth for $r:"
awk -F '\t' -v r="$r" '$1 == "pass" && $2 == r { printf "  %s  %s - %s\n", $3, $6, $7 }' "$OUT/race/truth.tsv"
echo "The report with thumbnails and the course: $OUT/report.html"
