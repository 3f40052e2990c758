#!/bin/sh
# tests/e2e/race_scale_small.sh: the marathon-scale benchmark on a small race.
#
#   FT_SCALE=build/asan/bench/bench_race_scale FT_SIM=build/asan/bench/bench_race_sim \
#   FT_CLI=build/asan/facetrail sh tests/e2e/race_scale_small.sh
#
# Run from the repository root. bench_race_sim --export-people writes the
# faces of face-api's sample photos (models/face-api/demo, fetched by 'make
# models') as photo folders: 15 people with 6 augmented photos each and 7
# with one. bench_race_scale then runs a race of those 22 runners past 4
# cameras (1-3 shots per pass through the real pipeline, into an event
# store) and searches for the 15 people with several photos from a
# held-out photo each. Checked, with the numbers of its JSON:
#   - the store holds descriptors and is not empty;
#   - recall >= 0.7 and false appearances <= 1.0 per search (course mode).
#     Measured (seed 1): recall 0.88-0.90 (plain 0.85), 0.27-0.40 false per
#     search. Most false appearances are look-alikes that may be the same
#     person: the sample photos share some people, and every face counts as
#     its own person here. A search that matched everyone would give about
#     4 x 21 false appearances per search, a broken pipeline or store a
#     recall near 0;
#   - `facetrail search` works on the event database and finds the person;
#   - a rerun takes every shot from the cache (cache_misses 0) and gives the
#     same numbers; a cache with a damaged tail is cut there (a warning) and
#     only the lost shot is run again;
#   - bad input gives one line and exit status 2: a missing folder, fewer
#     runners than targets, an existing --db without --force.
# Output: TAP lines and a closing "# race_scale: P passed, F failed, S skipped".
# Everything is skipped ("# SKIP models not fetched") without the models.
# Needs only POSIX sh, sed and awk.
set -u

FT_CLI=${FT_CLI:-build/release/facetrail}
FT_SIM=${FT_SIM:-build/release/bench/bench_race_sim}
FT_SCALE=${FT_SCALE:-build/release/bench/bench_race_scale}
MODELS=${FT_MODEL_DIR:-models/face-api/model}
MIN_RECALL=0.7
MAX_FALSE_PER_SEARCH=1.0

n=0; pass=0; fail=0; skipped=0
ok() { n=$((n + 1)); pass=$((pass + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); fail=$((fail + 1)); echo "not ok $n - $1"; }
skip() { n=$((n + 1)); skipped=$((skipped + 1)); echo "ok $n - $1 # SKIP $2"; }
check() { # check CONDITION_STATUS NAME
    if [ "$1" -eq 0 ]; then ok "$2"; else not_ok "$2"; fi
}
finish() {
    echo "# race_scale: $pass passed, $fail failed, $skipped skipped"
    [ "$fail" -eq 0 ]
    exit $?
}

CHECKS="export the sample photos' people as photo folders
race_scale runs a race of 22 runners past 4 cameras
the store holds sightings and descriptors
recall >= $MIN_RECALL and false appearances <= $MAX_FALSE_PER_SEARCH per search
facetrail search works on the event database
a rerun takes every shot from the cache, same numbers
a damaged cache tail is cut off and only its shot runs again
bad input: one line and exit status 2"

skip_rest() { # skip_rest FIRST REASON: skips the checks of CHECKS from line FIRST on
    i=$1
    last=$(echo "$CHECKS" | wc -l)
    while [ "$i" -le "$last" ]; do
        skip "$(echo "$CHECKS" | sed -n "${i}p")" "$2"
        i=$((i + 1))
    done
}

samples=$(ls models/face-api/demo/sample*.jpg 2>/dev/null)
if [ ! -d "$MODELS" ] || [ -z "$samples" ]; then
    skip_rest 1 "models not fetched"
    finish
fi
for bin in "$FT_CLI" "$FT_SIM" "$FT_SCALE"; do
    if [ ! -x "$bin" ]; then
        not_ok "$bin is built"
        finish
    fi
done

TMP=$(mktemp -d) || exit 1
trap 'rm -rf "$TMP"' EXIT INT TERM
t_start=$(date +%s)

# num FILE KEY: a top-level number of race_scale's JSON (two-space indent)
num() { sed -n "s/^  \"$2\": \([^,]*\),*\$/\1/p" "$1"; }

# -- people -------------------------------------------------------------------
# shellcheck disable=SC2086  # $samples: the sample photos, one word each
if "$FT_SIM" --people-from-image $samples --models "$MODELS" --export-people "$TMP/photos" \
    --seed 1 --quiet >"$TMP/sim.log" 2>&1 &&
    [ "$(ls "$TMP/photos/people" | wc -l)" -eq 15 ] &&
    [ "$(ls "$TMP/photos/distractors" | wc -l)" -eq 7 ]; then
    ok "export the sample photos' people as photo folders"
else
    sed 's/^/# /' "$TMP/sim.log"
    not_ok "export the sample photos' people as photo folders"
    skip_rest 2 "no people"
    finish
fi

# -- the race -----------------------------------------------------------------
ARGS="--people $TMP/photos/people --distractors $TMP/photos/distractors --runners 22 --cameras 4
      --targets 15 --seed 1 --cache $TMP/cache.bin --quiet"
# shellcheck disable=SC2086  # $ARGS: options, one word each
if "$FT_SCALE" $ARGS --db "$TMP/event.ftdb" --json "$TMP/a.json" >"$TMP/a.out" 2>"$TMP/a.err" &&
    [ -s "$TMP/a.json" ]; then
    ok "race_scale runs a race of 22 runners past 4 cameras"
else
    sed 's/^/# /' "$TMP/a.out" "$TMP/a.err"
    not_ok "race_scale runs a race of 22 runners past 4 cameras"
    skip_rest 3 "no race"
    finish
fi
sed 's/^/# /' "$TMP/a.out"

desc=$(num "$TMP/a.json" descriptors)
sightings=$(num "$TMP/a.json" sightings)
db_bytes=$(num "$TMP/a.json" db_bytes)
echo "# $sightings sightings, $desc descriptors, $db_bytes bytes"
[ "${desc:-0}" -gt 0 ] && [ "${sightings:-0}" -gt 0 ] && [ "${db_bytes:-0}" -gt 0 ]
check $? "the store holds sightings and descriptors"

recall=$(num "$TMP/a.json" recall)
fps=$(num "$TMP/a.json" false_per_search)
echo "# recall $recall, $fps false appearances per search"
awk -v r="${recall:-0}" -v f="${fps:-99}" -v rmin=$MIN_RECALL -v fmax=$MAX_FALSE_PER_SEARCH \
    'BEGIN { exit !(r >= rmin && f <= fmax) }'
check $? "recall >= $MIN_RECALL and false appearances <= $MAX_FALSE_PER_SEARCH per search"

# -- the event database through the CLI ----------------------------------------
# a photo of the first person with several (the CLI must find its passes)
person=$(ls "$TMP/photos/people" | head -n 1)
photo=$(ls "$TMP/photos/people/$person"/*.jpg | head -n 1)
if "$FT_CLI" search --db "$TMP/event.ftdb" --json --threads 1 "$photo" >"$TMP/search.json" \
    2>"$TMP/search.err" && grep -q '"camera":"km' "$TMP/search.json"; then
    ok "facetrail search works on the event database"
else
    sed 's/^/# /' "$TMP/search.err"
    not_ok "facetrail search works on the event database"
fi

# -- the cache ------------------------------------------------------------------
# shellcheck disable=SC2086
"$FT_SCALE" $ARGS --json "$TMP/b.json" >"$TMP/b.out" 2>"$TMP/b.err"
status=$?
misses=$(num "$TMP/b.json" cache_misses)
hits=$(num "$TMP/b.json" cache_hits)
echo "# rerun: $hits shots from the cache, $misses run"
[ $status -eq 0 ] && [ "${misses:-1}" -eq 0 ] && [ "${hits:-0}" -gt 0 ] &&
    [ "$(num "$TMP/b.json" found)" = "$(num "$TMP/a.json" found)" ] &&
    [ "$(num "$TMP/b.json" false_appearances)" = "$(num "$TMP/a.json" false_appearances)" ]
check $? "a rerun takes every shot from the cache, same numbers"

size=$(wc -c <"$TMP/cache.bin")
head -c $((size - 100)) "$TMP/cache.bin" >"$TMP/cut.bin" && mv "$TMP/cut.bin" "$TMP/cache.bin"
# shellcheck disable=SC2086
"$FT_SCALE" $ARGS --json "$TMP/c.json" >"$TMP/c.out" 2>"$TMP/c.err"
status=$?
misses=$(num "$TMP/c.json" cache_misses)
sed 's/^/# /' "$TMP/c.err"
[ $status -eq 0 ] && [ "${misses:-0}" -eq 1 ] && grep -q 'damaged tail' "$TMP/c.err" &&
    [ "$(num "$TMP/c.json" found)" = "$(num "$TMP/a.json" found)" ]
check $? "a damaged cache tail is cut off and only its shot runs again"

# -- bad input -----------------------------------------------------------------
bad=0
for case in "--people $TMP/none" "--people $TMP/photos/people --runners 5 --targets 15" \
    "--people $TMP/photos/people --db $TMP/event.ftdb"; do
    # shellcheck disable=SC2086  # $case: options, one word each
    "$FT_SCALE" $case --cache "$TMP/cache.bin" >"$TMP/bad.out" 2>"$TMP/bad.err"
    status=$?
    echo "# $(cat "$TMP/bad.err") (exit $status)"
    if [ $status -ne 2 ] || [ "$(wc -l <"$TMP/bad.err")" -ne 1 ] || [ -s "$TMP/bad.out" ]; then
        bad=1
    fi
done
check $bad "bad input: one line and exit status 2"

echo "# race_scale test took $(($(date +%s) - t_start)) s"
finish
