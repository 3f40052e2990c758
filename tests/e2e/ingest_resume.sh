#!/bin/sh
# tests/e2e/ingest_resume.sh: an ingest killed with SIGKILL loses no committed
# sighting, and running it again continues without duplicates: the result
# equals an uninterrupted ingest of the same video, sighting for sighting.
#
#   FT_CLI=build/asan/facetrail FT_SIM=build/asan/bench/bench_race_sim sh tests/e2e/ingest_resume.sh
#
# One simulated camera (512x288, 10 fps, ~16 s); ingest A runs to the end;
# ingest B is killed (kill -9) once its first commit is in the database, its
# committed sightings are noted, then B is run again to the end. Checks: the
# sightings committed before the kill are still there unchanged, B equals A
# (track key, first/last time, frames, descriptors), and no track is stored
# twice. Needs the sqlite3 CLI (skipped without it) and the models.
# Output: TAP lines and "# resume: P passed, F failed, S skipped".
set -u
FT_CLI=${FT_CLI:-build/release/facetrail}
FT_SIM=${FT_SIM:-build/release/bench/bench_race_sim}
MODELS=${FT_MODEL_DIR:-models/face-api/model}

n=0; pass=0; fail=0; skipped=0
ok() { n=$((n + 1)); pass=$((pass + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); fail=$((fail + 1)); echo "not ok $n - $1"; }
skip() { n=$((n + 1)); skipped=$((skipped + 1)); echo "ok $n - $1 # SKIP $2"; }
finish()
{
    echo "1..$n"
    echo "# resume: $pass passed, $fail failed, $skipped skipped"
    [ "$fail" -eq 0 ]
    exit $?
}

if [ ! -f "$MODELS/ssd_mobilenetv1_model-weights_manifest.json" ]; then
    skip "ingest resume" "models not fetched"; finish
fi
if ! command -v sqlite3 >/dev/null 2>&1; then
    skip "ingest resume" "sqlite3 CLI not installed"; finish
fi
TMP=$(mktemp -d) || exit 1
trap 'rm -rf "$TMP"' EXIT

# shellcheck disable=SC2046
if ! "$FT_SIM" --people-from-image $(ls models/face-api/demo/sample*.jpg) --models "$MODELS" \
    --out "$TMP/race" --runners 8 --cameras 1 --width 512 --height 288 --fps 10 \
    --face-min 56 --face-max 90 --max-span 12 --margin 0.5 --seed 5 --quiet >"$TMP/sim.log" 2>&1; then
    not_ok "simulate one camera"; sed 's/^/# /' "$TMP/sim.log"; finish
fi
video=$(ls "$TMP"/race/*.mp4 | head -1)
cam=$(basename "$video" .mp4)
start=$(awk -F '\t' '$1 == "camera" { print $5; exit }' "$TMP/race/truth.tsv")
ok "simulate one camera ($cam)"

ingest() # DB [extra args]
{
    db=$1; shift
    "$FT_CLI" ingest --quiet --threads 1 --db "$db" --camera "$cam" --start "$start" "$@" "$video"
}
rows() # DB: one line per sighting, the fields that must match
{
    sqlite3 "$1" "SELECT s.track_key, s.first_us, s.last_us, s.n_frames, s.best_us,
                  (SELECT count(*) FROM descriptors d WHERE d.sighting_id = s.id),
                  (SELECT hex(vec) FROM descriptors d WHERE d.sighting_id = s.id AND d.n = 0)
                  FROM sightings s ORDER BY s.track_key"
}

for db in "$TMP/a.ftdb" "$TMP/b.ftdb"; do
    "$FT_CLI" camera add --db "$db" --id "$cam" --km 5 >/dev/null || { not_ok "camera add"; finish; }
done
if ingest "$TMP/a.ftdb" >"$TMP/a.log" 2>&1; then
    ok "uninterrupted ingest: $(rows "$TMP/a.ftdb" | wc -l | tr -d ' ') sightings"
else
    not_ok "uninterrupted ingest"; sed 's/^/# /' "$TMP/a.log"; finish
fi

# B: killed with SIGKILL right after its first commit
# the binary itself in the background (a shell function would run in a
# subshell, and kill -9 would kill the subshell, not the ingest)
"$FT_CLI" ingest --quiet --threads 1 --db "$TMP/b.ftdb" --camera "$cam" --start "$start" \
    "$video" >"$TMP/b1.log" 2>&1 &
pid=$!
committed=""
i=0
while [ $i -lt 600 ]; do
    committed=$(sqlite3 "$TMP/b.ftdb" "SELECT checkpoint_us FROM ingests" 2>/dev/null)
    [ -n "$committed" ] && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.1
    i=$((i + 1))
done
if kill -9 $pid 2>/dev/null; then
    wait $pid 2>/dev/null
    ok "ingest killed with SIGKILL after a commit (checkpoint at $(awk -v us="${committed:-0}" 'BEGIN { printf "%.1f", us / 1e6 }') s)"
else
    wait $pid 2>/dev/null
    skip "ingest killed with SIGKILL after a commit" "the ingest finished before it could be killed"
fi
rows "$TMP/b.ftdb" >"$TMP/b_killed.txt"
status=$(sqlite3 "$TMP/b.ftdb" "SELECT status FROM ingests")
[ "$status" = running ] && ok "the killed ingest is left 'running' (resumable)" ||
    not_ok "the killed ingest is left 'running' (status: $status)"

if ingest "$TMP/b.ftdb" >"$TMP/b2.log" 2>&1; then
    ok "the same command resumes and finishes: $(cat "$TMP/b2.log")"
else
    not_ok "the resumed ingest"; sed 's/^/# /' "$TMP/b2.log"
fi
rows "$TMP/a.ftdb" >"$TMP/a.txt"
rows "$TMP/b.ftdb" >"$TMP/b.txt"
missing=$(grep -v -x -F -f "$TMP/b.txt" "$TMP/b_killed.txt" | wc -l | tr -d ' ')
[ "$missing" -eq 0 ] && ok "every sighting committed before the kill is still there, unchanged" ||
    not_ok "$missing sightings committed before the kill changed or vanished"
dups=$(sqlite3 "$TMP/b.ftdb" "SELECT count(*) - count(DISTINCT track_key) FROM sightings")
[ "$dups" -eq 0 ] && ok "no track stored twice" || not_ok "$dups tracks stored twice"
if cmp -s "$TMP/a.txt" "$TMP/b.txt"; then
    ok "killed + resumed equals uninterrupted ($(wc -l <"$TMP/a.txt" | tr -d ' ') sightings)"
else
    not_ok "killed + resumed differs from uninterrupted"
    diff "$TMP/a.txt" "$TMP/b.txt" | cut -c1-120 | head -10 | sed 's/^/# /'
fi
finish
