#!/bin/sh
# tests/e2e/race_small.sh: a small simulated race, end to end.
#
#   FT_CLI=build/asan/facetrail FT_SIM=build/asan/bench/bench_race_sim sh tests/e2e/race_small.sh
#
# Run from the repository root. bench_race_sim makes a race of 6 runners and 2
# cameras (512x288, 10 fps, faces 56-90 px, ~9 s of video per camera) from
# the faces of face-api's sample photos (models/face-api/demo, fetched by
# 'make models'); the generated setup.sh registers the cameras and ingests
# the videos into a temporary database; then the results are checked against
# the simulator's ground truth (truth.tsv):
#   - per camera, the sightings stored are the true passes +-50%;
#   - every sighting has a thumbnail and descriptors (sqlite3 CLI; skipped
#     without it) and at least half of the passes are covered by a sighting;
#   - when 'facetrail search' exists: each runner's held-out query photo
#     finds the runner's passes (same camera, times overlapping within 3 s):
#     at least 75% of all passes (each runner's count is printed), and false
#     appearances stay below one per search on average.
# Why 75% and not all: the lateral camera's runners cross the frame in 2-3 s,
# 45-65 px per sampled frame, about one face height; the tracker's gate for a
# tentative track (0.8 face heights, no velocity yet) then loses some of them
# (at 640x360, seed 3: 10 of 12 passes). Raise it once ingest tracks fast faces.
# Size: 512x288 is one detector tile, so ingest runs the detector once per
# frame (640x360 takes three: 3x the time); the whole test then stays near a
# minute under AddressSanitizer on 2 cores. Small-face tiling is not covered.
# Output: TAP lines and a closing "# race: P passed, F failed, S skipped".
# Everything is skipped ("# SKIP models not fetched") without the models.
# Needs only POSIX sh and awk (sqlite3 optional).
set -u

FT_CLI=${FT_CLI:-build/release/facetrail}
FT_SIM=${FT_SIM:-build/release/bench/bench_race_sim}
MODELS=${FT_MODEL_DIR:-models/face-api/model}
SLACK_US=3000000 # search: a found appearance may be this far from the true pass
THREADS=1 # a spinning worker pool on a busy 2-core machine is slower than one thread

n=0; pass=0; fail=0; skipped=0
ok() { n=$((n + 1)); pass=$((pass + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); fail=$((fail + 1)); echo "not ok $n - $1"; }
skip() { n=$((n + 1)); skipped=$((skipped + 1)); echo "ok $n - $1 # SKIP $2"; }
check() { # check CONDITION_STATUS NAME
    if [ "$1" -eq 0 ]; then ok "$2"; else not_ok "$2"; fi
}
finish() {
    echo "# race: $pass passed, $fail failed, $skipped skipped"
    [ "$fail" -eq 0 ]
    exit $?
}

CHECKS="simulate a small race (6 runners, 2 cameras)
setup.sh adds the cameras and ingests every video
sightings per camera within the true passes +-50%
every sighting has a thumbnail and descriptors
at least half of the true passes have a sighting
search finds >= 75% of the runners' passes from their query photos
false appearances below one per search on average"

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
for bin in "$FT_CLI" "$FT_SIM"; do
    if [ ! -x "$bin" ]; then
        not_ok "$bin is built"
        finish
    fi
done

TMP=$(mktemp -d) || exit 1
trap 'rm -rf "$TMP"' EXIT INT TERM
RACE=$TMP/race
DB=$TMP/race.ftdb
t_start=$(date +%s)

# -- simulate -----------------------------------------------------------------
# shellcheck disable=SC2086  # $samples: the sample photos, one word each
if "$FT_SIM" --people-from-image $samples --models "$MODELS" --out "$RACE" --runners 6 \
    --cameras 2 --width 512 --height 288 --fps 10 --face-min 56 --face-max 90 \
    --max-span 4 --margin 0.5 --seed 3 --quiet >"$TMP/sim.log" 2>&1 &&
    [ -s "$RACE/truth.json" ] && [ -s "$RACE/truth.tsv" ] && [ -s "$RACE/setup.sh" ] &&
    [ "$(ls "$RACE"/queries/*.jpg | wc -l)" -eq 6 ]; then
    ok "simulate a small race (6 runners, 2 cameras)"
else
    sed 's/^/# /' "$TMP/sim.log"
    not_ok "simulate a small race (6 runners, 2 cameras)"
    skip_rest 2 "no race"
    finish
fi

# -- ingest -------------------------------------------------------------------
if FT=$FT_CLI DB=$DB sh "$RACE/setup.sh" --threads $THREADS --quiet >"$TMP/setup.log" 2>&1; then
    ok "setup.sh adds the cameras and ingests every video"
else
    sed 's/^/# /' "$TMP/setup.log"
    not_ok "setup.sh adds the cameras and ingests every video"
    skip_rest 3 "ingest failed"
    finish
fi
sed 's/^/# /' "$TMP/setup.log"

# Sightings per camera from ingest's own summary lines
# ("ingested DIR/CAM.mp4: F frames, N faces, S sightings stored in ...").
sed -n 's|^ingested .*/\([^/]*\)\.mp4: .* \([0-9][0-9]*\) sightings stored.*|\1 \2|p' \
    "$TMP/setup.log" >"$TMP/sightings.txt"
awk -F '\t' '$1 == "pass" { n[$3]++ } END { for (c in n) print c, n[c] }' "$RACE/truth.tsv" \
    | sort >"$TMP/passes.txt"
awk 'FILENAME == ARGV[1] { s[$1] = $2; next }
     { got = ($1 in s) ? s[$1] : 0
       printf "# camera %s: %d true passes, %d sightings\n", $1, $2, got
       if (got < 0.5 * $2 || got > 1.5 * $2) bad = 1 }
     END { exit bad }' "$TMP/sightings.txt" "$TMP/passes.txt"
check $? "sightings per camera within the true passes +-50%"

# -- the database (sqlite3 CLI) ---------------------------------------------------
if command -v sqlite3 >/dev/null 2>&1; then
    missing=$(sqlite3 "$DB" "SELECT count(*) FROM sightings s
        WHERE NOT EXISTS (SELECT 1 FROM thumbnails t WHERE t.sighting_id = s.id)
           OR NOT EXISTS (SELECT 1 FROM descriptors d WHERE d.sighting_id = s.id)")
    total=$(sqlite3 "$DB" "SELECT count(*) FROM sightings")
    echo "# $total sightings, $missing without a thumbnail or descriptors"
    [ "${missing:-1}" = 0 ] && [ "${total:-0}" -gt 0 ]
    check $? "every sighting has a thumbnail and descriptors"
    sqlite3 -separator ' ' "$DB" "SELECT camera_id, first_us, last_us FROM sightings" \
        >"$TMP/db_sightings.txt"
    awk -F '\t' -v slack=0 '
        FILENAME == ARGV[1] {
            split($0, f, " "); m++; cam[m] = f[1]; a[m] = f[2]; b[m] = f[3]; next }
        $1 == "pass" { total++
            for (i = 1; i <= m; i++)
                if (cam[i] == $3 && a[i] <= $5 + slack && b[i] >= $4 - slack) { hit++; break } }
        END { printf "# %d of %d true passes have a sighting\n", hit, total
              exit !(total > 0 && hit >= total / 2) }' "$TMP/db_sightings.txt" "$RACE/truth.tsv"
    check $? "at least half of the true passes have a sighting"
else
    skip "every sighting has a thumbnail and descriptors" "sqlite3 not installed"
    skip "at least half of the true passes have a sighting" "sqlite3 not installed"
fi

# -- search -------------------------------------------------------------------
if ! "$FT_CLI" search --help >/dev/null 2>&1; then
    skip_rest 6 "search not available"
    finish
fi

# iso2us: "2026-04-12T09:50:15.200Z" -> microseconds since the epoch (UTC).
AWK_ISO='function iso2us(s,   y, mo, d, h, mi, se, a, m, yy, days) {
    y = substr(s, 1, 4) + 0; mo = substr(s, 6, 2) + 0; d = substr(s, 9, 2) + 0
    h = substr(s, 12, 2) + 0; mi = substr(s, 15, 2) + 0; se = substr(s, 18, 6) + 0
    a = (mo <= 2); yy = y - a; m = mo + 12 * a - 3
    days = 365 * yy + int(yy / 4) - int(yy / 100) + int(yy / 400) + int((153 * m + 2) / 5) \
        + d - 719469
    return ((days * 86400 + h * 3600 + mi * 60) + se) * 1000000
}'

searches=0; all_found=0; false_total=0; failed=0; passes=0; found=0
for runner in $(awk -F '\t' '$1 == "runner" { print $2 }' "$RACE/truth.tsv"); do
    query=$(awk -F '\t' -v r="$runner" '$1 == "runner" && $2 == r { print $4 }' "$RACE/truth.tsv")
    searches=$((searches + 1))
    if ! "$FT_CLI" search --db "$DB" --json --threads $THREADS "$query" >"$TMP/search.json" \
        2>"$TMP/search.err"; then
        sed 's/^/# /' "$TMP/search.err"
        failed=$((failed + 1))
        continue
    fi
    # the appearances (objects without nested braces), one "camera first_us last_us" a line
    awk "$AWK_ISO"'
        { s = $0; i = index(s, "\"appearances\":["); if (!i) exit
          s = substr(s, i); j = index(s, "\"flagged\":"); if (j) s = substr(s, 1, j)
          while (match(s, /\{[^{}]*\}/)) {
              o = substr(s, RSTART, RLENGTH); s = substr(s, RSTART + RLENGTH)
              if (!match(o, /"camera":"[^"]*"/)) continue
              cam = substr(o, RSTART + 10, RLENGTH - 11)
              if (!match(o, /"first_seen":"[^"]*"/)) continue
              a = iso2us(substr(o, RSTART + 14, RLENGTH - 15))
              if (!match(o, /"last_seen":"[^"]*"/)) continue
              b = iso2us(substr(o, RSTART + 13, RLENGTH - 14))
              printf "%s %.0f %.0f\n", cam, a, b } }' "$TMP/search.json" >"$TMP/found.txt"
    result=$(awk -F '\t' -v r="$runner" -v slack=$SLACK_US '
        FILENAME == ARGV[1] {
            split($0, f, " "); m++; cam[m] = f[1]; a[m] = f[2]; b[m] = f[3]; next }
        $1 == "pass" && $2 == r { total++; hit = 0
            for (i = 1; i <= m; i++)
                if (cam[i] == $3 && a[i] <= $5 + slack && b[i] >= $4 - slack) {
                    used[i] = 1; hit = 1
                }
            found += hit }
        END { for (i = 1; i <= m; i++) if (!used[i]) fp++
              printf "%d %d %d\n", found, total, fp }' "$TMP/found.txt" "$RACE/truth.tsv")
    # shellcheck disable=SC2086  # three numbers, split on purpose
    set -- $result
    echo "# search $runner: $1 of $2 passes found, $3 false appearances"
    [ "$1" -eq "$2" ] && all_found=$((all_found + 1))
    found=$((found + $1)); passes=$((passes + $2)); false_total=$((false_total + $3))
done
echo "# search: $found of $passes passes found, $all_found of $searches runners fully found," \
    "$failed searches failed, $false_total false appearances"
[ "$failed" -eq 0 ] && [ "$passes" -gt 0 ] && [ $((4 * found)) -ge $((3 * passes)) ]
check $? "search finds >= 75% of the runners' passes from their query photos"
[ "$searches" -gt 0 ] && [ "$false_total" -lt "$searches" ]
check $? "false appearances below one per search on average"
echo "# race test took $(($(date +%s) - t_start)) s"
finish
