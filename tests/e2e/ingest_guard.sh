#!/bin/sh
# tests/e2e/ingest_guard.sh: what guards an ingest against the ways people run
# it: Ctrl-C and SIGTERM (exit 130 / 143, committed, the rerun resumes); the
# same video under another path or a copy (the same ingest), a file replaced
# under the same name (refused, --force redoes it); two ingests of one camera
# at once (the second refused, naming the first); a database in a folder the
# reader cannot write (camera list and search still work).
#
#   FT_CLI=build/asan/facetrail FT_SIM=build/asan/bench/bench_race_sim sh tests/e2e/ingest_guard.sh
#
# One simulated camera (512x288, 10 fps, ~16 s) as in ingest_resume.sh, and a
# second, shorter one (another video for the "replaced" case). Reference
# values come from an uninterrupted ingest of the same video, from the
# simulator's ground truth, and from sha256sum/wc, never from the code under
# test alone. Needs the sqlite3 CLI and the models (skipped without them).
# Output: TAP lines and "# guard: P passed, F failed, S skipped".
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
check() # NAME CONDITION [LOG]
{
    if eval "$2"; then ok "$1"; else
        not_ok "$1"; echo "#   condition: $2"
        [ -n "${3:-}" ] && [ -f "$3" ] && sed 's/^/#   /' "$3" | cut -c1-200 | head -8
    fi
}
finish()
{
    echo "1..$n"
    echo "# guard: $pass passed, $fail failed, $skipped skipped"
    [ "$fail" -eq 0 ]
    exit $?
}

if [ ! -f "$MODELS/ssd_mobilenetv1_model-weights_manifest.json" ]; then
    skip "ingest guards" "models not fetched"; finish
fi
if ! command -v sqlite3 >/dev/null 2>&1; then
    skip "ingest guards" "sqlite3 CLI not installed"; finish
fi
TMP=$(mktemp -d) || exit 1
trap 'chmod -R u+w "$TMP" 2>/dev/null; rm -rf "$TMP"' EXIT

simulate() # OUT RUNNERS MAX_SPAN
{
    # shellcheck disable=SC2046
    "$FT_SIM" --people-from-image $(ls models/face-api/demo/sample*.jpg) --models "$MODELS" \
        --out "$1" --runners "$2" --cameras 1 --width 512 --height 288 --fps 10 \
        --face-min 56 --face-max 90 --max-span "$3" --margin 0.5 --seed 5 --quiet >"$TMP/sim.log" 2>&1
}
if ! simulate "$TMP/race" 8 12 || ! simulate "$TMP/other" 2 2; then
    not_ok "simulate two clips"; sed 's/^/# /' "$TMP/sim.log"; finish
fi
video=$(ls "$TMP"/race/*.mp4 | head -1)
other=$(ls "$TMP"/other/*.mp4 | head -1)
cam=$(basename "$video" .mp4)
start=$(awk -F '\t' '$1 == "camera" { print $5; exit }' "$TMP/race/truth.tsv")
ok "simulate two clips ($cam)"

ingest() # DB VIDEO [extra args]: in the foreground, output in $TMP/out, status in $rc
{
    db=$1; v=$2; shift 2
    "$FT_CLI" ingest --quiet --threads 1 --db "$db" --camera "$cam" --start "$start" "$@" "$v" \
        >"$TMP/out" 2>&1
    rc=$?
}
q() { sqlite3 "$1" "$2" 2>/dev/null; }
new_db() { "$FT_CLI" camera add --db "$1" --id "$cam" --km 5 >/dev/null; }
# start_bg DB VIDEO: an ingest in the background (the binary itself, so that
# signals reach it), pid in $bg; returns once its first commit is stored.
start_bg()
{
    "$FT_CLI" ingest --quiet --threads 1 --db "$1" --camera "$cam" --start "$start" "$2" \
        >"$TMP/bg.log" 2>&1 &
    bg=$!
    i=0
    while [ $i -lt 600 ]; do
        [ -n "$(q "$1" "SELECT checkpoint_us FROM ingests WHERE checkpoint_us IS NOT NULL")" ] && return 0
        kill -0 $bg 2>/dev/null || return 1
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}

# Reference: one uninterrupted ingest.
new_db "$TMP/a.ftdb"
ingest "$TMP/a.ftdb" "$video"
check "uninterrupted ingest" '[ $rc -eq 0 ]' "$TMP/out"
ref_frames=$(q "$TMP/a.ftdb" "SELECT frames FROM ingests")
ref_sightings=$(q "$TMP/a.ftdb" "SELECT count(*) FROM sightings")

# ---- item: Ctrl-C / SIGTERM exit 128 + signal, and the rerun resumes --------
for sig in INT TERM; do
    want=$([ $sig = INT ] && echo 130 || echo 143)
    db="$TMP/sig$sig.ftdb"
    new_db "$db"
    if start_bg "$db" "$video"; then
        kill -$sig $bg
        wait $bg
        src=$?
        check "SIG$sig during an ingest: exit $want, says stopped" \
            '[ $src -eq $want ] && grep -q "^stopped" "$TMP/bg.log"' "$TMP/bg.log"
        check "SIG$sig: the ingest is left resumable ('running')" \
            '[ "$(q "$db" "SELECT status FROM ingests")" = running ]'
        ingest "$db" "$video"
        check "SIG$sig: the same command resumes and finishes (exit 0)" \
            '[ $rc -eq 0 ] && grep -q "resumed at" "$TMP/out"' "$TMP/out"
        check "SIG$sig: stopped + resumed = uninterrupted ($ref_frames frames, $ref_sightings sightings)" \
            '[ "$(q "$db" "SELECT status || frames FROM ingests")" = "done$ref_frames" ] &&
             [ "$(q "$db" "SELECT count(*) FROM sightings")" = "$ref_sightings" ]'
    else
        wait $bg
        not_ok "SIG$sig: the ingest finished or failed before its first commit"; sed 's/^/# /' "$TMP/bg.log"
    fi
done

# ---- item: a video is known by its content, not its path -------------------
sha_of() { head -c 1048576 "$1" | sha256sum | cut -d' ' -f1 | tr a-f A-F; }
check "the stored identity is the file's size and the SHA-256 of its first MiB" \
    '[ "$(q "$TMP/a.ftdb" "SELECT content_size || \" \" || hex(content_sha256) FROM ingests")" = "$(wc -c <"$video" | tr -d " ") $(sha_of "$video")" ]'
mkdir "$TMP/sub"
cp "$video" "$TMP/sub/copy.mp4"
( cd "$TMP/race" && "$FT_CLI" ingest --quiet --db ../a.ftdb --camera "$cam" --start "$start" \
    "./$(basename "$video")" >"$TMP/out" 2>&1 ); rc=$?
check "the same video as ./name: already ingested, exit 2, no second ingest" \
    '[ $rc -eq 2 ] && grep -q "already ingested" "$TMP/out" && grep -q -- "--force" "$TMP/out" &&
     [ "$(q "$TMP/a.ftdb" "SELECT count(*) FROM ingests")" = 1 ]' "$TMP/out"
ingest "$TMP/a.ftdb" "$TMP/sub/copy.mp4"
check "a copy of the video: already ingested, exit 2, no second ingest" \
    '[ $rc -eq 2 ] && grep -q "already ingested" "$TMP/out" && grep -q "same video as" "$TMP/out" &&
     [ "$(q "$TMP/a.ftdb" "SELECT count(*) FROM ingests")" = 1 ] &&
     [ "$(q "$TMP/a.ftdb" "SELECT count(*) FROM sightings")" = "$ref_sightings" ]' "$TMP/out"
check "messages show no internal names nor microseconds" \
    '! grep -q -e FT_ -e ft_store -e " us[ ,)]" "$TMP/out"' "$TMP/out"

db="$TMP/replaced.ftdb"
new_db "$db"
cp "$video" "$TMP/clip.mp4"
if start_bg "$db" "$TMP/clip.mp4"; then
    kill -INT $bg; wait $bg
    before=$(q "$db" "SELECT checkpoint_us || '/' || frames || '/' || (SELECT count(*) FROM sightings) FROM ingests")
    cp "$other" "$TMP/clip.mp4" # another video under the same name
    ingest "$db" "$TMP/clip.mp4"
    check "a file replaced under the same name: refused (exit 2), says --force" \
        '[ $rc -eq 2 ] && grep -q "replaced" "$TMP/out" && grep -q -- "--force" "$TMP/out"' "$TMP/out"
    check "... and the earlier ingest is untouched (not resumed into)" \
        '[ "$(q "$db" "SELECT checkpoint_us || \"/\" || frames || \"/\" || (SELECT count(*) FROM sightings) FROM ingests")" = "$before" ] &&
         [ "$(q "$db" "SELECT status FROM ingests")" = running ]'
    ingest "$db" "$TMP/clip.mp4" --force
    check "--force redoes it with the new video (its identity stored)" \
        '[ $rc -eq 0 ] && [ "$(q "$db" "SELECT count(*) FROM ingests")" = 1 ] &&
         [ "$(q "$db" "SELECT status || \" \" || content_size || \" \" || hex(content_sha256) FROM ingests")" = "done $(wc -c <"$other" | tr -d " ") $(sha_of "$other")" ]' "$TMP/out"
else
    wait $bg
    not_ok "replaced: the first ingest finished before its first commit"
fi

# ---- item: one ingest per camera at a time ---------------------------------
db="$TMP/two.ftdb"
new_db "$db"
if start_bg "$db" "$video"; then
    # held still while the others try (an ingest may finish in a second)
    kill -STOP $bg
    ingest "$db" "$video"
    check "a second ingest of the camera while one runs: exit 2, names camera, process, host" \
        '[ $rc -eq 2 ] && grep -q "camera $cam is being ingested by process $bg on host $(hostname) since .*; wait for it or stop it" "$TMP/out"' "$TMP/out"
    check "... without internal function names" '! grep -q -e "ft_" -e "FT_" "$TMP/out"' "$TMP/out"
    ingest "$db" "$other"
    check "... also for another video of the same camera" '[ $rc -eq 2 ] && grep -q "is being ingested" "$TMP/out"' "$TMP/out"
    kill -CONT $bg
    wait $bg
    brc=$?
    check "the first ingest completes with the right frame count ($ref_frames) and sightings" \
        '[ $brc -eq 0 ] && [ "$(q "$db" "SELECT count(*) || \" \" || status || frames FROM ingests")" = "1 done$ref_frames" ] &&
         [ "$(q "$db" "SELECT count(*) FROM sightings")" = "$ref_sightings" ]' "$TMP/bg.log"
    check "the lease is released at the end" '[ "$(q "$db" "SELECT count(*) FROM ingest_leases")" = 0 ]'
else
    wait $bg
    not_ok "two ingests: the first finished before its first commit"
fi
# A lease left by a killed ingest does not block the next one.
db="$TMP/killed.ftdb"
new_db "$db"
if start_bg "$db" "$video"; then
    kill -9 $bg; wait $bg 2>/dev/null
    ingest "$db" "$video"
    check "after kill -9, the rerun takes the dead process's lease over and finishes" \
        '[ $rc -eq 0 ] && grep -q "resumed at" "$TMP/out"' "$TMP/out"
else
    wait $bg; not_ok "killed: the ingest finished before its first commit"
fi

# ---- item: read-only database and folder ------------------------------------
mkdir "$TMP/ro"
cp "$TMP/a.ftdb" "$TMP/ro/race.ftdb"
query=$(ls "$TMP"/race/queries/*.jpg | head -1)
cp "$query" "$TMP/ro/query.jpg"
chmod 444 "$TMP/ro/race.ftdb"; chmod 555 "$TMP/ro"; chmod 755 "$TMP"
as_reader() # CMD...: as a user who cannot write $TMP/ro (root ignores file modes)
{
    if [ "$(id -u)" -eq 0 ]; then
        setpriv --reuid=65534 --regid=65534 --clear-groups "$@"
    else
        "$@"
    fi
}
if [ "$(id -u)" -eq 0 ] && ! command -v setpriv >/dev/null 2>&1; then
    skip "read-only database" "running as root without setpriv"
elif as_reader sh -c "[ -w '$TMP/ro' ]"; then
    skip "read-only database" "the folder stays writable for this user"
else
    as_reader "$FT_CLI" camera list --db "$TMP/ro/race.ftdb" >"$TMP/out" 2>&1; rc=$?
    check "camera list of a read-only database in a read-only folder" \
        '[ $rc -eq 0 ] && grep -q "^$cam " "$TMP/out"' "$TMP/out"
    as_reader "$FT_CLI" search --db "$TMP/ro/race.ftdb" --json "$TMP/ro/query.jpg" >"$TMP/out" 2>&1; rc=$?
    check "search of a read-only database in a read-only folder" \
        '[ $rc -eq 0 ] && grep -q "\"appearances\":\[{" "$TMP/out"' "$TMP/out"
    check "nothing was written beside it" '[ ! -e "$TMP/ro/race.ftdb-shm" ] && [ ! -e "$TMP/ro/race.ftdb-wal" ]'
fi
chmod 755 "$TMP/ro"
finish
