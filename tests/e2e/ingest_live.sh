#!/bin/sh
# tests/e2e/ingest_live.sh: `facetrail ingest --live URL`, a camera's live
# stream into sightings: a FIFO fed at the pace of real time (sightings stored
# while it plays, timed by the wall clock of the run; the end of the stream is
# reported as a loss and retried; SIGTERM during the retry exits 143 with a
# summary), a source faster than real time (frames dropped and counted), an
# HTTP source (python3's http.server: connected, lost at its end, connected
# again), and the command's refusals (no camera, two sources, --start, an
# unknown camera, a source that cannot be opened: retried until Ctrl-C).
#
#   FT_CLI=build/asan/facetrail FT_SIM=build/asan/bench/bench_race_sim sh tests/e2e/ingest_live.sh
#
# One simulated camera (512x288, 10 fps, ~16 s) as in ingest_guard.sh. The
# reference times come from date(1) around the run, the passes from the
# simulator's truth.tsv. Needs sqlite3, python3 and the models (skipped
# without them). Output: TAP lines and "# live: P passed, F failed, S skipped".
set -u
FT_CLI=${FT_CLI:-build/release/facetrail}
FT_SIM=${FT_SIM:-build/release/bench/bench_race_sim}
MODELS=${FT_MODEL_DIR:-models/face-api/model}
case $FT_CLI in /*) ;; *) FT_CLI=$PWD/$FT_CLI ;; esac
case $MODELS in /*) ;; *) MODELS=$PWD/$MODELS ;; esac
export FT_MODEL_DIR="$MODELS"

n=0; pass=0; fail=0; skipped=0
ok() { n=$((n + 1)); pass=$((pass + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); fail=$((fail + 1)); echo "not ok $n - $1"; }
skip() { n=$((n + 1)); skipped=$((skipped + 1)); echo "ok $n - $1 # SKIP $2"; }
check() # NAME CONDITION [LOG...]
{
    name=$1; cond=$2; shift 2
    if eval "$cond"; then ok "$name"; else
        not_ok "$name"; echo "#   condition: $cond"
        for f in "$@"; do [ -f "$f" ] && sed 's/^/#   /' "$f" | cut -c1-200 | head -8; done
    fi
}
finish()
{
    echo "1..$n"
    echo "# live: $pass passed, $fail failed, $skipped skipped"
    [ "$fail" -eq 0 ]
    exit $?
}

if [ ! -f "$MODELS/ssd_mobilenetv1_model-weights_manifest.json" ]; then
    skip "live ingest" "models not fetched"; finish
fi
for tool in sqlite3 python3 mkfifo; do
    if ! command -v $tool >/dev/null 2>&1; then skip "live ingest" "$tool not installed"; finish; fi
done
TMP=$(mktemp -d) || exit 1
bg=; srv=; feeder=
cleanup()
{
    for p in $bg $srv $feeder; do kill "$p" 2>/dev/null; done
    rm -rf "$TMP"
}
trap cleanup EXIT

# shellcheck disable=SC2046
if ! "$FT_SIM" --people-from-image $(ls models/face-api/demo/sample*.jpg) --models "$MODELS" \
    --out "$TMP/race" --runners 8 --cameras 1 --width 512 --height 288 --fps 10 \
    --face-min 56 --face-max 90 --max-span 12 --margin 0.5 --seed 5 --quiet >"$TMP/sim.log" 2>&1; then
    not_ok "simulate a clip"; sed 's/^/# /' "$TMP/sim.log"; finish
fi
video=$(ls "$TMP"/race/*.mp4 | head -1)
cam=$(basename "$video" .mp4)
passes=$(awk -F '\t' '$1 == "pass"' "$TMP/race/truth.tsv" | wc -l)
secs=$(awk -F "\t" '$1 == "camera" { printf "%.1f", $7 / 10; exit }' "$TMP/race/truth.tsv")
ok "simulate a clip ($cam, $passes passes)"

q() { sqlite3 "$1" "$2" 2>/dev/null; }
new_db() { "$FT_CLI" camera add --db "$1" --id "$cam" --km 5 >/dev/null; }
now_us() { python3 -c 'import time; print(int(time.time() * 1e6))'; }
# pace SRC DST SECONDS: writes SRC into DST at an even byte rate over SECONDS
# (the first 64 KiB at once: the headers), as a camera would send it.
cat >"$TMP/pace.py" <<'EOF'
import sys, time
src, dst, secs = sys.argv[1], sys.argv[2], float(sys.argv[3])
data = open(src, 'rb').read()
rate = len(data) / secs
with open(dst, 'wb') as f:
    t0 = time.time(); sent = 0
    while sent < len(data):
        want = min(len(data), int((time.time() - t0) * rate) + 65536)
        if want > sent:
            f.write(data[sent:want]); f.flush(); sent = want
        time.sleep(0.05)
EOF
# live DB URL [args]: an ingest in the background, pid in $bg
live() { db=$1; url=$2; shift 2
    "$FT_CLI" ingest --quiet --threads 1 --db "$db" --camera "$cam" --live "$url" "$@" \
        >"$TMP/out" 2>"$TMP/err" &
    bg=$!
}
# wait_for FILE PATTERN SECONDS: until a line of FILE matches
wait_for() {
    i=0
    while [ $i -lt $(($3 * 10)) ]; do
        grep -q "$2" "$1" 2>/dev/null && return 0
        sleep 0.1; i=$((i + 1))
    done
    return 1
}
# stop SIG: sends it to $bg and waits; status in $rc, seconds taken in $took
stop() {
    t=$(date +%s); kill -"$1" "$bg"; wait "$bg"; rc=$?; took=$(($(date +%s) - t)); bg=
}

# ---- a FIFO at the pace of real time ----------------------------------------
db=$TMP/fifo.ftdb
new_db "$db"
mkfifo "$TMP/fifo"
t0=$(now_us)
live "$db" "$TMP/fifo"
python3 "$TMP/pace.py" "$video" "$TMP/fifo" 16 &
feeder=$!
# while the stream plays: a finished track is stored within about a second
early=0
while kill -0 "$feeder" 2>/dev/null; do
    [ "$(q "$db" "SELECT count(*) FROM sightings")" -gt 0 ] 2>/dev/null && early=1
    sleep 0.5
done
feeder=
wait_for "$TMP/err" "reconnecting in" 20
t1=$(now_us)
check "FIFO: connected, then the end of the stream is a loss, retried in 0.5 s" \
    'grep -q "fifo: connected (mov h264 512x288" "$TMP/err" &&
     grep -q "fifo: lost: end of stream" "$TMP/err" && grep -q "fifo: reconnecting in 0.5 s" "$TMP/err"' \
    "$TMP/err"
check "FIFO: sightings were stored while the stream played" '[ $early -eq 1 ]'
got=$(q "$db" "SELECT count(*) FROM sightings")
check "FIFO: the tracks are stored ($got sightings for $passes passes, at least half)" \
    '[ "$got" -ge $((passes / 2)) ] && [ "$got" -le $((passes * 3 / 2)) ]'
bad=$(q "$db" "SELECT count(*) FROM sightings WHERE first_us < $t0 OR last_us > $t1 OR first_us > best_us OR best_us > last_us")
check "FIFO: every sighting is timed by the wall clock of the run" '[ "$bad" = 0 ] && [ "$got" -gt 0 ]'
stop TERM
check "FIFO: SIGTERM while it waits for the writer: exit 143 at once, a summary" \
    '[ $rc -eq 143 ] && [ $took -le 3 ] &&
     grep -q "^stopped .*fifo: 80 frames read, [0-9]* analysed, [0-9]* dropped; [0-9]* faces, $got sightings stored" "$TMP/out"' \
    "$TMP/out" "$TMP/err"
check "FIFO: the live ingest is marked done with the URL as its source" \
    '[ "$(q "$db" "SELECT status || \" \" || source FROM ingests")" = "done $TMP/fifo" ]'

# ---- a plain file plays at its own speed (as a camera would send it) ----------
db=$TMP/fast.ftdb
new_db "$db"
began=$(date +%s.%N)
"$FT_CLI" ingest --quiet --threads 1 --db "$db" --camera "$cam" --live "$video" --max-lag 0.1 \
    >"$TMP/out" 2>"$TMP/err"
rc=$?
took=$(echo "$began $(date +%s.%N)" | awk '{ printf "%.1f", $2 - $1 }')
check "a plain file plays at the speed of its clock: ends (exit 0) after ${took} s (the clip: ${secs} s)" \
    '[ $rc -eq 0 ] && grep -q "^ended .*: 80 frames read" "$TMP/out" &&
     awk -v t="$took" -v d="$secs" "BEGIN { exit !(t >= 0.9 * d) }" && grep -q "the file ended" "$TMP/err"' \
    "$TMP/out" "$TMP/err"
# ---- a source faster than real time: frames are dropped, not queued ---------
mkfifo "$TMP/fifo2"
live "$db" "$TMP/fifo2" --max-lag 0.1
cat "$video" >"$TMP/fifo2"
wait_for "$TMP/err" "reconnecting in" 20
stop TERM
dropped=$(sed -n 's/.* \([0-9][0-9]*\) dropped;.*/\1/p' "$TMP/out")
check "a FIFO written at full speed: frames dropped (${dropped:-?}), exit 143" \
    '[ $rc -eq 143 ] && [ "${dropped:-0}" -gt 40 ]' "$TMP/out" "$TMP/err"

# ---- HTTP: python3's http.server ---------------------------------------------
cat >"$TMP/serve.py" <<'EOF'
import functools, http.server, sys
h = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
h.log_message = lambda *a: None
s = http.server.ThreadingHTTPServer(('127.0.0.1', 0), h)
print(s.server_address[1], flush=True)
s.serve_forever()
EOF
python3 "$TMP/serve.py" "$TMP/race" >"$TMP/port" 2>/dev/null &
srv=$!
if wait_for "$TMP/port" "[0-9]" 10; then
    url="http://127.0.0.1:$(cat "$TMP/port")/$cam.mp4"
    db=$TMP/http.ftdb
    new_db "$db"
    live "$db" "$url"
    i=0 # until the second connection (the server's file ends each time)
    while [ $i -lt 300 ] && [ "$(grep -c "connected (" "$TMP/err")" -lt 2 ]; do
        sleep 0.1; i=$((i + 1))
    done
    stop INT
    check "HTTP: connected, lost at the end, reconnected; SIGINT exits 130" \
        '[ $rc -eq 130 ] && [ "$(grep -c "mp4: connected (mov" "$TMP/err")" -ge 2 ] &&
         grep -q "^stopped .*([2-9] connections)" "$TMP/out"' "$TMP/out" "$TMP/err"
else
    not_ok "HTTP: python3's http.server did not start"
fi

# ---- refusals -------------------------------------------------------------------
db=$TMP/fifo.ftdb
"$FT_CLI" ingest --db "$db" --live "$video" >"$TMP/out" 2>&1; rc=$?
check "no --camera: exit 2, one line" '[ $rc -eq 2 ] && grep -q "missing --camera" "$TMP/out"' "$TMP/out"
"$FT_CLI" ingest --db "$db" --camera "$cam" --live "$video" "$video" >"$TMP/out" 2>&1; rc=$?
check "--live and a VIDEO: exit 2" '[ $rc -eq 2 ] && grep -q "give one source" "$TMP/out"' "$TMP/out"
"$FT_CLI" ingest --db "$db" --camera "$cam" --live "$video" --start 2026-04-12T10:00:00Z \
    >"$TMP/out" 2>&1; rc=$?
check "--live and --start: exit 2" '[ $rc -eq 2 ] && grep -q "timed by the wall clock" "$TMP/out"' "$TMP/out"
"$FT_CLI" ingest --db "$db" --camera nosuch --live "$video" >"$TMP/out" 2>&1; rc=$?
check "an unknown camera: exit 2, names it" \
    '[ $rc -eq 2 ] && grep -q "camera nosuch: .*camera add" "$TMP/out" &&
     [ "$(q "$db" "SELECT count(*) FROM ingests")" = 1 ]' "$TMP/out"
live "$db" "$TMP/missing.ts"
wait_for "$TMP/err" "reconnecting in 1.0 s" 10
stop INT
check "a source that cannot be opened: retried with backoff; Ctrl-C stops at once (130)" \
    '[ $rc -eq 130 ] && [ $took -le 2 ] && grep -q "missing.ts: cannot open" "$TMP/err" &&
     grep -q "reconnecting in 0.5 s" "$TMP/err" && grep -q "reconnecting in 1.0 s" "$TMP/err" &&
     grep -q "^stopped .*(0 connections)" "$TMP/out"' "$TMP/out" "$TMP/err"
"$FT_CLI" ingest --help >"$TMP/out" 2>&1
check "--help documents --live and --max-lag" \
    'grep -q -- "--live URL" "$TMP/out" && grep -q -- "--max-lag S" "$TMP/out"' "$TMP/out"
finish
