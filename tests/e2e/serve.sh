#!/bin/sh
# tests/e2e/serve.sh: `facetrail serve` over HTTP.
#
#   FT_CLI=build/asan/facetrail FT_SIM=build/asan/bench/bench_race_sim \
#   FT_SCALE=build/asan/bench/bench_race_scale sh tests/e2e/serve.sh
#
# Run from the repository root. An event is made as tests/e2e/race_scale_small.sh
# makes it (the sample photos' people, 10 runners past 3 cameras), then served
# on a free loopback port and asked, by tests/e2e/http_check.py (python3's
# standard library only), for: the status and cameras (JSON, the event's
# counts), the page at / (HTML), a search with a runner's photo (the JSON of
# `search --json`, its thumbnails as links that answer JPEG), and errors as
# {"error", "code"} with their status: no photo 400, a damaged photo 400, GET
# on search 405, an unknown route 404, an unknown sighting 404, a plain body
# 415. A second server with --tokens (made by `facetrail token add`): every
# route called with every role, no token and a wrong one (the role table),
# path traversal, a search's case reason and its audit record, a runner's
# selfie and its rate limit. serve refuses a non-loopback
# address without --tokens and a malformed tokens file (exit 2).
# Output: TAP lines and a closing "# serve: P passed, F failed, S skipped".
# Everything is skipped without the models or without python3.
set -u

FT_CLI=${FT_CLI:-build/release/facetrail}
FT_SIM=${FT_SIM:-build/release/bench/bench_race_sim}
FT_SCALE=${FT_SCALE:-build/release/bench/bench_race_scale}
MODELS=${FT_MODEL_DIR:-models/face-api/model}

n=0; pass=0; fail=0; skipped=0
ok() { n=$((n + 1)); pass=$((pass + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); fail=$((fail + 1)); echo "not ok $n - $1"; }
skip() { n=$((n + 1)); skipped=$((skipped + 1)); echo "ok $n - $1 # SKIP $2"; }
check() { if [ "$1" -eq 0 ]; then ok "$2"; else not_ok "$2"; fi; }
finish() {
    echo "# serve: $pass passed, $fail failed, $skipped skipped"
    [ "$fail" -eq 0 ]
    exit $?
}

samples=$(ls models/face-api/demo/sample*.jpg 2>/dev/null)
if [ ! -d "$MODELS" ] || [ -z "$samples" ]; then
    skip "serve answers HTTP" "models not fetched"
    finish
fi
if ! command -v python3 >/dev/null 2>&1; then
    skip "serve answers HTTP" "no python3 for the HTTP client"
    finish
fi

TMP=$(mktemp -d) || exit 1
PIDS=""
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

# -- an event -----------------------------------------------------------------
# shellcheck disable=SC2086  # $samples: one word each
if "$FT_SIM" --people-from-image $samples --models "$MODELS" --export-people "$TMP/photos" \
    --seed 1 --quiet >"$TMP/sim.log" 2>&1 &&
    "$FT_SCALE" --people "$TMP/photos/people" --distractors "$TMP/photos/distractors" \
        --runners 10 --cameras 3 --targets 5 --seed 1 --no-cache --quiet --mode plain \
        --db "$TMP/event.ftdb" >"$TMP/scale.log" 2>&1; then
    ok "an event of 10 runners past 3 cameras"
else
    sed 's/^/# /' "$TMP/sim.log" "$TMP/scale.log"
    not_ok "an event of 10 runners past 3 cameras"
    finish
fi
person=$(ls "$TMP/photos/people" | head -n 1)
photo=$(ls "$TMP/photos/people/$person"/*.jpg | head -n 1)

# serve_start NAME ARGS...: starts serve on a free port; sets PORT (empty on failure)
serve_start() {
    name=$1
    shift
    "$FT_CLI" serve --db "$TMP/event.ftdb" --listen 127.0.0.1:0 --threads 1 "$@" \
        >"$TMP/$name.out" 2>"$TMP/$name.err" &
    pid=$!
    PIDS="$PIDS $pid"
    PORT=""
    i=0
    while [ $i -lt 600 ] && [ -z "$PORT" ] && kill -0 "$pid" 2>/dev/null; do
        PORT=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$TMP/$name.err")
        [ -n "$PORT" ] || sleep 0.1
        i=$((i + 1))
    done
}

# -- open, on loopback ----------------------------------------------------------
serve_start open
if [ -z "$PORT" ]; then
    sed 's/^/# /' "$TMP/open.err"
    not_ok "serve starts on a free loopback port"
    finish
fi
ok "serve starts on a free loopback port"
python3 tests/e2e/http_check.py open "$PORT" "$photo" >"$TMP/open.tap" 2>&1
rc=$?
sed 's/^/# /' "$TMP/open.tap"
check $rc "status, page, search, thumbnails and errors over HTTP"

# -- with tokens: the role table, the audit log, a runner's selfie --------------------
# tokens made by `facetrail token add` (hashed in the file), and one line in the clear
ADMIN_TOKEN=$("$FT_CLI" token add --tokens "$TMP/tokens" --role admin --name Chief 2>/dev/null)
OPERATOR_TOKEN=$("$FT_CLI" token add --tokens "$TMP/tokens" --role operator --name Ops 2>/dev/null)
RUNNER_TOKEN=$("$FT_CLI" token add --tokens "$TMP/tokens" --role runner --name "Bib 1234" 2>/dev/null)
VIEWER_TOKEN=viewer-token-0123456789
printf '%s viewer Desk A\n' "$VIEWER_TOKEN" >>"$TMP/tokens"
mode=$(stat -c %a "$TMP/tokens" 2>/dev/null)
if [ "$mode" = 600 ] && ! grep -q -e "$ADMIN_TOKEN" -e "$OPERATOR_TOKEN" -e "$RUNNER_TOKEN" "$TMP/tokens" &&
    [ "$(grep -c '^sha256:[0-9a-f]\{64\} ' "$TMP/tokens")" = 3 ]; then
    ok "token add: the file (mode $mode) holds the tokens' hashes, not the tokens"
else
    not_ok "token add: the file (mode $mode) holds the tokens' hashes, not the tokens"
fi
serve_start tokens --tokens "$TMP/tokens" --selfies-per-hour 1
if [ -z "$PORT" ]; then
    sed 's/^/# /' "$TMP/tokens.err"
    not_ok "serve --tokens starts"
else
    grep -q "holds 1 token in the clear" "$TMP/tokens.err"
    check $? "serve --tokens warns of the token in the clear"
    ADMIN_TOKEN=$ADMIN_TOKEN OPERATOR_TOKEN=$OPERATOR_TOKEN RUNNER_TOKEN=$RUNNER_TOKEN \
    VIEWER_TOKEN=$VIEWER_TOKEN python3 tests/e2e/http_check.py tokens "$PORT" "$photo" \
        >"$TMP/tokens.tap" 2>&1
    rc=$?
    sed 's/^/# /' "$TMP/tokens.tap"
    check $rc "with --tokens: the role table, path traversal, case reasons, the audit log, a runner's selfie"
fi

# -- watchlist alerts while a camera is ingested -------------------------------------
# a small simulated race (as tests/e2e/race_small.sh): its cameras in a new event,
# served; the runner with the largest face at the first camera on the watchlist;
# the first camera ingested by another process while an event stream listens
RACE=$TMP/race
# shellcheck disable=SC2086  # $samples: one word each
if "$FT_SIM" --people-from-image $samples --models "$MODELS" --out "$RACE" --runners 6 \
    --cameras 2 --width 512 --height 288 --fps 10 --face-min 56 --face-max 90 \
    --max-span 4 --margin 0.5 --seed 3 --quiet >"$TMP/race.log" 2>&1 &&
    sed '/ ingest /d' "$RACE/setup.sh" >"$TMP/cameras.sh" &&
    FT=$FT_CLI DB=$TMP/live.ftdb sh "$TMP/cameras.sh" >>"$TMP/race.log" 2>&1; then
    cam=$(awk -F'\t' '$1 == "camera" { print $2; exit }' "$RACE/truth.tsv")
    runner=$(awk -F'\t' -v c="$cam" '$1 == "pass" && $3 == c && $8 > best { best = $8; r = $2 }
        END { print r }' "$RACE/truth.tsv")
    query=$(awk -F'\t' -v r="$runner" '$1 == "runner" && $2 == r { print $4 }' "$RACE/truth.tsv")
    ingest=$(grep " ingest .*--camera $cam " "$RACE/setup.sh" | sed -n 's/.*--start \([^ ]*\) .*/\1/p')
    serve_start alerts --db "$TMP/live.ftdb"
    if [ -n "$PORT" ] && [ -s "$query" ] && [ -n "$ingest" ]; then
        cam2=$(awk -F'\t' '$1 == "camera" { n++; if (n == 2) print $2 }' "$RACE/truth.tsv")
        km2=$(awk -F'\t' '$1 == "camera" { n++; if (n == 2) print $3 }' "$RACE/truth.tsv")
        mkfifo "$TMP/silent.fifo"
        LIVE_CAM=$cam2 LIVE_KM=$km2 LIVE_URL=$RACE/$cam2.mp4 LIVE_FIFO=$TMP/silent.fifo \
        python3 tests/e2e/http_check.py alerts "$PORT" "$query" "$FT_CLI" ingest \
            --db "$TMP/live.ftdb" --camera "$cam" --start "$ingest" --threads 1 --quiet \
            "$RACE/$cam.mp4" >"$TMP/alerts.tap" 2>&1
        rc=$?
        sed 's/^/# /' "$TMP/alerts.tap"
        check $rc "watchlist: an alert on the event stream when the camera sees $runner, dismiss, delete; a live camera"
    else
        sed 's/^/# /' "$TMP/alerts.err"
        not_ok "watchlist: serve starts on the live event"
    fi
else
    sed 's/^/# /' "$TMP/race.log"
    not_ok "watchlist: a simulated race to ingest"
fi

# -- refused set-ups -----------------------------------------------------------------
"$FT_CLI" serve --db "$TMP/event.ftdb" --listen 0.0.0.0:0 >/dev/null 2>"$TMP/e1"
rc=$?
[ $rc -eq 2 ] && grep -q -- "--tokens" "$TMP/e1"
check $? "serve on 0.0.0.0 without --tokens: refused, says why"
printf 'short admin Me\n' >"$TMP/bad_tokens"
"$FT_CLI" serve --db "$TMP/event.ftdb" --tokens "$TMP/bad_tokens" >/dev/null 2>"$TMP/e2"
rc=$?
[ $rc -eq 2 ] && grep -q "bad_tokens:1" "$TMP/e2"
check $? "a malformed tokens file: refused, names the line"
"$FT_CLI" serve --db "$TMP/event.ftdb" --listen nowhere >/dev/null 2>"$TMP/e3"
rc=$?
[ $rc -eq 2 ] && grep -q "HOST:PORT" "$TMP/e3"
check $? "--listen without a port: refused"

# -- stopping ------------------------------------------------------------------------
# SIGTERM stops every server cleanly: exit 0, "stopped", and (under the
# sanitizers) no leak or error report
stopped=0
for p in $PIDS; do
    kill "$p" 2>/dev/null
    wait "$p"
    [ $? -eq 0 ] && stopped=$((stopped + 1))
done
PIDS=""
bad=$(cat "$TMP"/open.err "$TMP"/tokens.err "$TMP"/alerts.err 2>/dev/null |
    grep -c -E "ERROR: (Address|Leak)Sanitizer|WARNING: ThreadSanitizer|runtime error")
grep -q "stopped" "$TMP/open.err" && [ "$stopped" -eq 3 ] && [ "$bad" -eq 0 ]
check $? "SIGTERM stops each server: exit 0, no sanitizer report ($stopped of 3, $bad reports)"
finish
