#!/bin/sh
# tests/cli/audit_purge.sh: `facetrail audit` and `facetrail purge` from the
# outside: help texts, the audit log's --verify exit codes (intact, broken by
# an edit made with the sqlite3 shell past the triggers, no database), the
# purge of an event (dry run, --before, --event-ended --keep-days) with the
# bytes of the purged thumbnails looked for in the files, and the mode of a
# database file the CLI creates (0600).
#
# Run from the repository root with FT_CLI naming the binary (tests/run.sh does
# this):   FT_CLI=build/release/facetrail sh tests/cli/audit_purge.sh
# Prints TAP and a closing line "# audit_purge: P passed, F failed[, S skipped]".
# The event's sightings are written with the sqlite3 shell (no models needed);
# without it those tests are skipped, never silently. POSIX sh; exit 1 if
# anything failed.
#
# Test conditions are shell code in single quotes, evaluated later by check():
# shellcheck disable=SC2016
set -u

CLI=${FT_CLI:-build/release/facetrail}
n=0
passed=0
failed=0
skipped=0
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM

run()
{
    "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
}

check()
{
    n=$((n + 1))
    if eval "$2"; then
        passed=$((passed + 1))
        echo "ok $n - $1"
    else
        failed=$((failed + 1))
        echo "not ok $n - $1"
        echo "#   condition: $2"
        echo "#   exit status: $rc"
        sed -n '1,5s/^/#   stdout: /p' "$tmp/out" | cut -c1-200
        sed -n '1,5s/^/#   stderr: /p' "$tmp/err" | cut -c1-200
    fi
}

skip()
{
    n=$((n + 1))
    skipped=$((skipped + 1))
    echo "ok $n - $1 # SKIP $2"
}

finish()
{
    echo "1..$n"
    if [ "$skipped" -gt 0 ]; then
        echo "# audit_purge: $passed passed, $failed failed, $skipped skipped"
    else
        echo "# audit_purge: $passed passed, $failed failed"
    fi
    [ "$failed" -eq 0 ]
    exit $?
}

# found TEXT FILE...: TEXT occurs (as bytes) in one of the files that exist.
found()
{
    t=$1
    shift
    for f in "$@"; do
        [ -f "$f" ] && grep -q -a -F "$t" "$f" && return 0
    done
    return 1
}

if [ ! -x "$CLI" ]; then
    rc=127
    : >"$tmp/out"
    echo "$CLI: not found or not executable (build it with 'make')" >"$tmp/err"
    check "the CLI binary exists" false
    finish
fi

# ------------------------------------------------------------------ help --

run "$CLI" purge --help
check "purge --help: usage on stdout, exit 0" '[ $rc -eq 0 ] && grep -q "^usage: facetrail purge --db DB --before TIME" "$tmp/out" && grep -q -- "--event-ended" "$tmp/out" && [ ! -s "$tmp/err" ]'
run "$CLI" audit --help
check "audit --help: usage on stdout, exit 0" '[ $rc -eq 0 ] && grep -q "^usage: facetrail audit --db DB" "$tmp/out" && grep -q -- "--verify" "$tmp/out"'
run "$CLI" help purge
check "help purge: the same text" '[ $rc -eq 0 ] && grep -q "^usage: facetrail purge" "$tmp/out"'
run "$CLI" --help
check "the main help lists audit and purge" 'grep -q "^  audit " "$tmp/out" && grep -q "^  purge " "$tmp/out"'

# ---------------------------------------------------------------- usage --

db="$tmp/event.ftdb"
run "$CLI" purge --db "$db"
check "purge without --before or --event-ended: exit 2" '[ $rc -eq 2 ] && grep -q -- "--before" "$tmp/err"'
run "$CLI" purge --db "$db" --before 2026-04-12T10:00Z --event-ended --keep-days 3
check "purge with both --before and --event-ended: exit 2" '[ $rc -eq 2 ]'
run "$CLI" purge --db "$db" --event-ended
check "purge --event-ended without --keep-days: exit 2" '[ $rc -eq 2 ] && grep -q -- "--keep-days" "$tmp/err"'
run "$CLI" purge --db "$db" --event-ended --keep-days -1
check "purge --keep-days -1: exit 2" '[ $rc -eq 2 ]'
run "$CLI" audit --db "$tmp/none.ftdb" --verify
check "audit --verify on no database: exit 2, names the file" '[ $rc -eq 2 ] && grep -q "none.ftdb" "$tmp/err"'
[ ! -e "$tmp/none.ftdb" ]
check "audit does not create a database" '[ ! -e "$tmp/none.ftdb" ]'

# ----------------------------------------------------------- file mode --

run "$CLI" camera add --db "$db" --id km05 --km 5 --tz UTC
mode=$(ls -l "$db" | cut -c1-10)
check "camera add creates the database with mode 0600" '[ $rc -eq 0 ] && [ "$mode" = "-rw-------" ]'
(umask 000 && "$CLI" camera add --db "$tmp/open.ftdb" --id km01 --km 1 --tz UTC >/dev/null 2>&1)
mode=$(ls -l "$tmp/open.ftdb" | cut -c1-10)
check "... whatever the umask (000)" '[ "$mode" = "-rw-------" ]'

# --------------------------------------------------------- audit, empty --

run "$CLI" audit --db "$db" --verify
check "audit --verify on a log with no records: intact, exit 0" '[ $rc -eq 0 ] && grep -q "intact" "$tmp/out"'

# ------------------------------------------------------- purge an event --

if ! command -v sqlite3 >/dev/null 2>&1; then
    for t in "purge dry run" "purge --before --yes" "purged thumbnail bytes gone" "kept sighting" \
        "audit record of the purge" "audit --verify after purge" "audit --verify broken" \
        "event-ended not due" "event-ended due"; do
        skip "$t" "no sqlite3 shell to write the event's sightings"
    done
    finish
fi

# Two sightings that end 13:20:20Z and 13:28:20Z, with thumbnails that carry
# text markers; the video runs until 13:50Z (30 minutes).
sqlite3 "$db" "
INSERT INTO ingests(camera_id, source, start_us, sample_fps, status, started_us, checkpoint_us)
  VALUES ('km05', 'v.mp4', 1776000000000000, 5, 'done', 1776000000000000, 1800000000);
INSERT INTO sightings(ingest_id, camera_id, track_key, first_us, last_us, best_us, box_x, box_y,
    box_w, box_h, face_px, det_score, quality, n_frames)
  VALUES (1, 'km05', 1, 1776000010000000, 1776000020000000, 1776000015000000, 0, 0, 40, 40, 40, 0.9, 0.5, 5),
         (1, 'km05', 2, 1776000400000000, 1776000500000000, 1776000450000000, 0, 0, 40, 40, 40, 0.9, 0.5, 5);
INSERT INTO thumbnails VALUES
  (1, X'FFD8FFE0' || CAST(printf('%.3000c', 'x') || 'FT-GONE-MARKER-5c1e9b7a' AS BLOB)),
  (2, X'FFD8FFE0' || CAST('FT-KEPT-MARKER-2d4a81f0' AS BLOB));
INSERT INTO descriptors VALUES (1, 0, 0.5, zeroblob(512)), (2, 0, 0.5, zeroblob(512));
" >"$tmp/sql.out" 2>&1
rc=$?
check "the event's sightings written with sqlite3" '[ $rc -eq 0 ] && found FT-GONE-MARKER-5c1e9b7a "$db" "$db-wal"'

run "$CLI" purge --db "$db" --before 2026-04-12T13:25:00Z
check "purge without --yes: a dry run that says what it would remove" '[ $rc -eq 0 ] && grep -q "would remove 1 sightings (1 descriptors, 1 thumbnails)" "$tmp/out" && grep -q -- "--yes" "$tmp/out" && found FT-GONE-MARKER-5c1e9b7a "$db" "$db-wal"'

run "$CLI" purge --db "$db" --before 2026-04-12T13:25:00Z --yes
check "purge --before --yes: removes the older sighting" '[ $rc -eq 0 ] && grep -q "^removed 1 sightings (1 descriptors, 1 thumbnails)" "$tmp/out" && [ "$(sqlite3 "$db" "SELECT group_concat(track_key) FROM sightings")" = 2 ]'
check "no byte of the purged thumbnail is left in the file or its -wal" '! found FT-GONE-MARKER-5c1e9b7a "$db" "$db-wal"'
check "the sighting after the cutoff keeps its thumbnail" 'found FT-KEPT-MARKER-2d4a81f0 "$db" "$db-wal"'

run "$CLI" audit --db "$db" --json
me=$(id -un 2>/dev/null || echo "?")
check "the purge is in the audit log: the OS user as admin, the counts" '[ $rc -eq 0 ] && [ "$(wc -l <"$tmp/out" | tr -d " ")" = 1 ] && grep -q "\"who\":\"$me\",\"role\":\"admin\",\"action\":\"purge\"" "$tmp/out" && grep -q "sightings=1 descriptors=1 thumbnails=1" "$tmp/out"'
run "$CLI" audit --db "$db"
check "audit (text): one line per record" '[ $rc -eq 0 ] && grep -q " admin  *purge " "$tmp/out"'
run "$CLI" audit --db "$db" --since 2000-01-01T00:00Z --json
check "audit --since long ago: the record" '[ $rc -eq 0 ] && grep -q "\"action\":\"purge\"" "$tmp/out"'
run "$CLI" audit --db "$db" --since 2999-01-01T00:00Z --json
check "audit --since the future: nothing" '[ $rc -eq 0 ] && [ ! -s "$tmp/out" ]'
run "$CLI" audit --db "$db" --verify
check "audit --verify after the purge: intact, exit 0" '[ $rc -eq 0 ] && grep -q "^audit log intact: 1 records" "$tmp/out"'

# ---------------------------------------------------- after the event --

run "$CLI" purge --db "$db" --event-ended --keep-days 100000
check "purge --keep-days over 36500: exit 2" '[ $rc -eq 2 ]'
run "$CLI" purge --db "$db" --event-ended --keep-days 36500 --yes
check "purge --event-ended, not due yet: nothing removed, says when" '[ $rc -eq 0 ] && grep -q "nothing to purge yet: the event ended 2026-04-12 13:50:00 UTC" "$tmp/out" && grep -q "due to go 2126-" "$tmp/out" && [ "$(sqlite3 "$db" "SELECT count(*) FROM sightings")" = 1 ]'
run "$CLI" purge --db "$db" --event-ended --keep-days 30 --yes
check "purge --event-ended, due: everything goes" '[ $rc -eq 0 ] && grep -q "everything goes" "$tmp/out" && grep -q "^removed 1 sightings" "$tmp/out" && [ "$(sqlite3 "$db" "SELECT count(*) FROM sightings")" = 0 ] && ! found FT-KEPT-MARKER-2d4a81f0 "$db" "$db-wal"'

# ------------------------------------------------------------ tampering --

run sqlite3 "$db" "UPDATE audit SET detail = 'nothing' WHERE id = 1"
check "sqlite3 cannot UPDATE an audit record (trigger)" '[ $rc -ne 0 ] && grep -q "append-only" "$tmp/err"'
run sqlite3 "$db" "DELETE FROM audit"
check "sqlite3 cannot DELETE audit records (trigger)" '[ $rc -ne 0 ] && [ "$(sqlite3 "$db" "SELECT count(*) FROM audit")" = 2 ]'
sqlite3 "$db" "DROP TRIGGER audit_no_update; UPDATE audit SET detail = 'nothing' WHERE id = 2" >/dev/null 2>&1
run "$CLI" audit --db "$db" --verify
check "audit --verify after an edit past the triggers: exit 1, names record 2" '[ $rc -eq 1 ] && grep -q "BROKEN at record 2" "$tmp/out"'
run "$CLI" audit --db "$db" --verify --json
check "audit --verify --json: intact false, first_bad_id 2" '[ $rc -eq 1 ] && grep -q "\"intact\":false" "$tmp/out" && grep -q "\"first_bad_id\":2" "$tmp/out"'

finish
