#!/bin/sh
# tests/e2e/faults_disk.sh: the disk filling up during an ingest's commit.
#
#   FT_CLI=build/asan/facetrail FT_SIM=build/asan/bench/bench_race_sim sh tests/e2e/faults_disk.sh
#
# The event's database on a 1 MiB tmpfs, filled with a file up to 160 KiB of
# free space; `facetrail ingest` of a simulated camera (512x288, 10 fps,
# ~10 s) then runs out of space in a commit. Checks: exit 2 with a message
# that names the full disk (no crash); PRAGMA integrity_check ok; after the
# filler is removed, the same command resumes and finishes, and the result
# equals an ingest that never ran out (every sighting once). Needs root (to
# mount the tmpfs), sqlite3 and the models: skipped without them.
# Output: TAP lines and "# faults_disk: P passed, F failed, S skipped".
set -u
FT_CLI=${FT_CLI:-build/release/facetrail}
FT_SIM=${FT_SIM:-build/release/bench/bench_race_sim}
MODELS=${FT_MODEL_DIR:-models/face-api/model}
ROOM_KB=160

n=0; pass=0; fail=0; skipped=0
ok() { n=$((n + 1)); pass=$((pass + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); fail=$((fail + 1)); echo "not ok $n - $1"; }
skip() { n=$((n + 1)); skipped=$((skipped + 1)); echo "ok $n - $1 # SKIP $2"; }
finish()
{
    echo "1..$n"
    echo "# faults_disk: $pass passed, $fail failed, $skipped skipped"
    [ "$fail" -eq 0 ]
    exit $?
}

if [ ! -f "$MODELS/ssd_mobilenetv1_model-weights_manifest.json" ]; then
    skip "disk full during a commit" "models not fetched"; finish
fi
if ! command -v sqlite3 >/dev/null 2>&1; then skip "disk full during a commit" "sqlite3 not installed"; finish; fi
TMP=$(mktemp -d) || exit 1
MNT=$TMP/mnt
mkdir "$MNT"
mounted=0
cleanup() { [ $mounted -eq 1 ] && umount "$MNT" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
if [ "$(id -u)" -ne 0 ] || ! mount -t tmpfs -o size=1024k tmpfs "$MNT" 2>/dev/null; then
    skip "disk full during a commit" "no tmpfs mount (needs root)"; finish
fi
mounted=1

# shellcheck disable=SC2046
if ! "$FT_SIM" --people-from-image $(ls models/face-api/demo/sample*.jpg) --models "$MODELS" \
    --out "$TMP/race" --runners 6 --cameras 1 --width 512 --height 288 --fps 10 \
    --face-min 56 --face-max 90 --max-span 8 --margin 0.5 --seed 5 --quiet >"$TMP/sim.log" 2>&1; then
    not_ok "simulate a clip"; sed 's/^/# /' "$TMP/sim.log"; finish
fi
video=$(ls "$TMP"/race/*.mp4 | head -1)
cam=$(basename "$video" .mp4)
start=$(awk -F '\t' '$1 == "camera" { print $5; exit }' "$TMP/race/truth.tsv")
ingest() { "$FT_CLI" ingest --quiet --threads 1 --db "$1" --camera "$cam" --start "$start" "$video"; }
rows() # DB: one line per sighting, the fields that must match
{
    sqlite3 "$1" "SELECT s.track_key, s.first_us, s.last_us, s.n_frames, s.best_us,
                  (SELECT count(*) FROM descriptors d WHERE d.sighting_id = s.id),
                  (SELECT hex(vec) FROM descriptors d WHERE d.sighting_id = s.id AND d.n = 0)
                  FROM sightings s ORDER BY s.track_key"
}
"$FT_CLI" camera add --db "$TMP/ref.ftdb" --id "$cam" --km 5 >/dev/null 2>&1
if ingest "$TMP/ref.ftdb" >"$TMP/ref.log" 2>&1; then
    ok "simulate a clip and ingest it where there is room: $(rows "$TMP/ref.ftdb" | wc -l | tr -d ' ') sightings"
else
    not_ok "the reference ingest"; sed 's/^/# /' "$TMP/ref.log"; finish
fi

db=$MNT/event.ftdb
"$FT_CLI" camera add --db "$db" --id "$cam" --km 5 >/dev/null 2>&1
avail=$(df -k "$MNT" | awk 'NR == 2 { print $4 }')
dd if=/dev/zero of="$MNT/filler" bs=1k count=$((avail - ROOM_KB)) 2>/dev/null
ingest "$db" >"$TMP/full.log" 2>&1
rc=$?
msg=$(grep "facetrail ingest:" "$TMP/full.log" | head -1)
if [ $rc -eq 2 ] && grep -q "disk is full" "$TMP/full.log"; then
    ok "the disk fills during the ingest: exit 2, '$msg'"
else
    not_ok "the disk fills during the ingest: exit $rc"; sed 's/^/# /' "$TMP/full.log"
fi
integrity=$(sqlite3 "$db" "PRAGMA integrity_check" 2>&1)
[ "$integrity" = ok ] && ok "PRAGMA integrity_check on the full disk: ok" ||
    not_ok "PRAGMA integrity_check: $integrity"
kept=$(sqlite3 "$db" "SELECT count(*) FROM sightings")
rm -f "$MNT/filler"
if ingest "$db" >"$TMP/resume.log" 2>&1; then
    ok "space freed: the same command resumes and finishes ($kept sightings were kept): $(cat "$TMP/resume.log")"
else
    not_ok "the resumed ingest"; sed 's/^/# /' "$TMP/resume.log"
fi
dups=$(sqlite3 "$db" "SELECT count(*) - count(DISTINCT track_key) FROM sightings")
[ "$dups" = 0 ] && ok "no track stored twice" || not_ok "$dups tracks stored twice"
rows "$TMP/ref.ftdb" >"$TMP/a.txt"
rows "$db" >"$TMP/b.txt"
if cmp -s "$TMP/a.txt" "$TMP/b.txt"; then
    ok "full disk + resumed equals the ingest that had room ($(wc -l <"$TMP/a.txt" | tr -d ' ') sightings)"
else
    not_ok "full disk + resumed differs from the ingest that had room"
    diff "$TMP/a.txt" "$TMP/b.txt" | cut -c1-120 | head -10 | sed 's/^/# /'
fi
integrity=$(sqlite3 "$db" "PRAGMA integrity_check" 2>&1)
[ "$integrity" = ok ] && ok "PRAGMA integrity_check after the resume: ok" ||
    not_ok "PRAGMA integrity_check after the resume: $integrity"
finish
