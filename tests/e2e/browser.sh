#!/bin/sh
# tests/e2e/browser.sh: the operator's web page (tools/ui.c) in a real browser.
#
#   FT_CLI=build/asan/facetrail FT_SIM=build/asan/bench/bench_race_sim \
#   FT_SCALE=build/asan/bench/bench_race_scale sh tests/e2e/browser.sh
#
# Run from the repository root. The small simulated race of tests/e2e/serve.sh's
# watchlist part (6 runners, 2 cameras, 512x288): both cameras added, the first
# ingested by the CLI, then `facetrail serve` on a free loopback port, and
# tests/browser/page_test.mjs drives Debian's chromium (headless, through
# playwright-core) on the page: a search through the file input shows the
# first camera on the timeline with its thumbnails; the cameras and their live
# state (a camera "gate" added with the first camera's video as its url, which
# the server ingests live: POST /api/v1/cameras); a watchlist entry added
# through the page, then the second camera ingested by the CLI beside the
# server (a plain file read live goes faster than real time, dropping frames,
# so it would find too few faces to alert on): the alert in the page's feed
# (the event stream), "not this person" dismisses it;
# then a 390x844 phone: the photo control visible, no horizontal overflow.
# Here: the dismissal is in the database (sqlite3, skipped without it), and
# SIGTERM stops the server cleanly (no sanitizer report).
# Nothing is downloaded: without chromium (FT_CHROMIUM, default
# /usr/bin/chromium; `make deps` installs it), node or tests/browser/node_modules
# (`make deps` runs npm ci there), or the models, everything is skipped.
# Output: TAP lines and a closing "# browser: P passed, F failed, S skipped".
# A failed check leaves its screenshot (and the logs) in the temporary folder
# named on a "# kept" line.
set -u

FT_CLI=${FT_CLI:-build/release/facetrail}
FT_SIM=${FT_SIM:-build/release/bench/bench_race_sim}
MODELS=${FT_MODEL_DIR:-models/face-api/model}
FT_CHROMIUM=${FT_CHROMIUM:-/usr/bin/chromium}

n=0; pass=0; fail=0; skipped=0
ok() { n=$((n + 1)); pass=$((pass + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); fail=$((fail + 1)); echo "not ok $n - $1"; }
skip() { n=$((n + 1)); skipped=$((skipped + 1)); echo "ok $n - $1 # SKIP $2"; }
check() { if [ "$1" -eq 0 ]; then ok "$2"; else not_ok "$2"; fi; }
finish() {
    echo "# browser: $pass passed, $fail failed, $skipped skipped"
    [ "$fail" -eq 0 ]
    exit $?
}

samples=$(ls models/face-api/demo/sample*.jpg 2>/dev/null)
why=""
if [ ! -d "$MODELS" ] || [ -z "$samples" ]; then
    why="models not fetched"
elif [ ! -x "$FT_CHROMIUM" ]; then
    why="no chromium at $FT_CHROMIUM (make deps installs it)"
elif ! command -v node >/dev/null 2>&1; then
    why="no node"
elif [ ! -d tests/browser/node_modules/playwright-core ]; then
    why="no tests/browser/node_modules (make deps runs npm ci there)"
fi
if [ -n "$why" ]; then
    skip "the web page in chromium" "$why"
    finish
fi

TMP=$(mktemp -d) || exit 1
PIDS=""
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    if [ "$fail" -gt 0 ]; then echo "# kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# -- the race: both cameras, the first ingested ------------------------------------
RACE=$TMP/race
# shellcheck disable=SC2086  # $samples: one word each
if "$FT_SIM" --people-from-image $samples --models "$MODELS" --out "$RACE" --runners 6 \
    --cameras 2 --width 512 --height 288 --fps 10 --face-min 56 --face-max 90 \
    --max-span 4 --margin 0.5 --seed 3 --quiet >"$TMP/race.log" 2>&1 &&
    sed '/ ingest /d' "$RACE/setup.sh" >"$TMP/cameras.sh" &&
    FT=$FT_CLI DB=$TMP/event.ftdb sh "$TMP/cameras.sh" >>"$TMP/race.log" 2>&1; then
    :
else
    sed 's/^/# /' "$TMP/race.log"
    not_ok "a simulated race of 6 runners past 2 cameras"
    finish
fi
# camera N's id and km; the runner with the largest face at a camera, and its query photo
camera() { awk -F'\t' -v n="$1" -v f="$2" '$1 == "camera" && ++i == n { print $f }' "$RACE/truth.tsv"; }
best() {
    awk -F'\t' -v c="$1" '$1 == "pass" && $3 == c && $8 > best { best = $8; r = $2 } END { print r }' \
        "$RACE/truth.tsv"
}
query() { awk -F'\t' -v r="$1" '$1 == "runner" && $2 == r { print $4 }' "$RACE/truth.tsv"; }
cam1=$(camera 1 2); km1=$(camera 1 3); cam2=$(camera 2 2); km2=$(camera 2 3)
seen1=$(best "$cam1"); seen2=$(best "$cam2")
start1=$(grep " ingest .*--camera $cam1 " "$RACE/setup.sh" | sed -n 's/.*--start \([^ ]*\) .*/\1/p')
if [ -n "$start1" ] && "$FT_CLI" ingest --db "$TMP/event.ftdb" --camera "$cam1" --start "$start1" \
    --threads 1 --quiet "$RACE/$cam1.mp4" >>"$TMP/race.log" 2>&1; then
    ok "a simulated race of 6 runners past 2 cameras, $cam1 ingested"
else
    sed 's/^/# /' "$TMP/race.log"
    not_ok "a simulated race of 6 runners past 2 cameras, $cam1 ingested"
    finish
fi

# -- serve --------------------------------------------------------------------------
"$FT_CLI" serve --db "$TMP/event.ftdb" --listen 127.0.0.1:0 --threads 1 \
    >"$TMP/serve.out" 2>"$TMP/serve.err" &
pid=$!
PIDS=$pid
PORT=""
i=0
while [ $i -lt 600 ] && [ -z "$PORT" ] && kill -0 "$pid" 2>/dev/null; do
    PORT=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$TMP/serve.err")
    [ -n "$PORT" ] || sleep 0.1
    i=$((i + 1))
done
if [ -z "$PORT" ]; then
    sed 's/^/# /' "$TMP/serve.err"
    not_ok "serve starts on a free loopback port"
    finish
fi
ok "serve starts on a free loopback port"

# -- the page in chromium ---------------------------------------------------------------
t0=$(date +%s)
limit=""
command -v timeout >/dev/null 2>&1 && limit="timeout 600"
FT_BASE=http://127.0.0.1:$PORT FT_CHROMIUM=$FT_CHROMIUM FT_OUT=$TMP \
    SEARCH_PHOTO=$(query "$seen1") SEARCH_CAMERA=$cam1 SEARCH_KM=$km1 \
    WATCH_PHOTO=$(query "$seen2") WATCH_CAMERA=$cam2 WATCH_KM=$km2 WATCH_URL=$RACE/$cam2.mp4 \
    LIVE_URL=$RACE/$cam1.mp4 \
    $limit node tests/browser/page_test.mjs >"$TMP/page.tap" 2>&1
rc=$?
dismissed=""
while IFS= read -r line; do
    case $line in
    "ok - "*) ok "${line#ok - }" ;;
    "not ok - "*) not_ok "${line#not ok - }" ;;
    "dismissed "*) dismissed=${line#dismissed } ;;
    "#"*) echo "$line" ;;
    *) echo "# $line" ;;
    esac
done <"$TMP/page.tap"
if [ $rc -ne 0 ] && ! grep -q '^not ok - ' "$TMP/page.tap"; then
    not_ok "page_test.mjs ran to its end (exit $rc)"
fi
echo "# the page's checks: $(($(date +%s) - t0)) s"

# -- the dismissal is stored ------------------------------------------------------------
if ! command -v sqlite3 >/dev/null 2>&1; then
    skip "the dismissal is in the database" "no sqlite3"
elif [ -z "$dismissed" ]; then
    not_ok "the dismissal is in the database (nothing was dismissed)"
else
    got=$(sqlite3 "$TMP/event.ftdb" "SELECT count(*) FROM watch_dismissed WHERE watch_id = ${dismissed% *} AND sighting_id = ${dismissed#* }" 2>&1)
    [ "$got" = 1 ]
    check $? "the dismissal is in the database (entry ${dismissed% *}, sighting ${dismissed#* })"
fi

# -- stopping -----------------------------------------------------------------------------
kill "$pid" 2>/dev/null
wait "$pid"
rc=$?
PIDS=""
bad=$(grep -c -E "ERROR: (Address|Leak)Sanitizer|WARNING: ThreadSanitizer|runtime error" "$TMP/serve.err")
[ $rc -eq 0 ] && [ "$bad" -eq 0 ]
check $? "SIGTERM stops the server: exit $rc, $bad sanitizer reports"
[ "$bad" -eq 0 ] || sed 's/^/# /' "$TMP/serve.err" | head -n 40
finish
