#!/bin/sh
# tests/cli/test_cli.sh: black-box tests of the facetrail command-line tool.
#
# Run from the repository root with FT_CLI naming the binary (tests/run.sh does
# this):   FT_CLI=build/release/facetrail sh tests/cli/test_cli.sh
# Prints TAP ("ok K - name", "not ok K - name", the plan "1..N" at the end) and
# a closing line "# cli: P passed, F failed" (", S skipped" when any). Tests that need the models (and
# the sample photos of the model package) are skipped, never silently, when
# they are absent. POSIX sh with grep/sed/awk only; exit 1 if anything failed.
#
# Test conditions are shell code in single quotes, evaluated later by check():
# shellcheck disable=SC2016,SC2034,SC2317
set -u

CLI=${FT_CLI:-build/release/facetrail}
MODELS=${FT_MODEL_DIR:-models/face-api/model}
DEMO=models/face-api/demo
export FT_MODEL_DIR="$MODELS"

n=0
passed=0
failed=0
skipped=0
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM

# ---------------------------------------------------------------- helpers --

# run CMD...: runs it with stdout in $tmp/out, stderr in $tmp/err, status in $rc.
run()
{
    "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
}

# check NAME CONDITION: one TAP line; CONDITION is shell code, evaluated after
# the last run. On failure, the command's status and output go out as comments.
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

# skip NAME WHY
skip()
{
    n=$((n + 1))
    skipped=$((skipped + 1))
    echo "ok $n - $1 # SKIP $2"
}

lines() { wc -l <"$1" | tr -d ' '; }

# array_len KEY FILE: the number of items in the first "KEY":[...] of FILE's
# first line; items may be numbers or [x,y] pairs.
array_len()
{
    awk -v key="\"$1\":[" 'NR == 1 {
        i = index($0, key); if (i == 0) { print 0; exit }
        s = substr($0, i + length(key))
        if (substr(s, 1, 1) == "[") { s = substr(s, 2); end = "]]"; sep = "],[" }
        else { end = "]"; sep = "," }
        s = substr(s, 1, index(s, end) - 1)
        n = 1
        while ((j = index(s, sep)) > 0) { n++; s = substr(s, j + length(sep)) }
        print n
    }' "$2"
}

finish()
{
    echo "1..$n"
    if [ "$skipped" -gt 0 ]; then
        echo "# cli: $passed passed, $failed failed, $skipped skipped"
    else
        echo "# cli: $passed passed, $failed failed"
    fi
    [ "$failed" -eq 0 ]
    exit $?
}

if [ ! -x "$CLI" ]; then
    rc=127
    : >"$tmp/out"
    echo "$CLI: not found or not executable (build it with 'make')" >"$tmp/err"
    check "the CLI binary exists" 'false'
    finish
fi

have_models=0
[ -f "$MODELS/ssd_mobilenetv1_model-weights_manifest.json" ] && have_models=1
have_samples=1
for i in 1 2 3 4 5 6; do
    [ -f "$DEMO/sample$i.jpg" ] || have_samples=0
done
# need_models / need_samples NAME: 0 when the test can run, else prints a skip.
need_models()
{
    [ "$have_models" -eq 1 ] && return 0
    skip "$1" "models not fetched"
    return 1
}
need_samples()
{
    [ "$have_models" -eq 1 ] && [ "$have_samples" -eq 1 ] && return 0
    skip "$1" "models not fetched"
    return 1
}

# A valid 16x16 grey PNG (no face in it), written byte for byte.
printf '\211\120\116\107\015\012\032\012\000\000\000\015\111\110\104\122\000\000\000\020\000\000\000\020\010\002\000\000\000\220\221\150\066\000\000\000\031\111\104\101\124\050\221\143\154\150\150\140\040\005\060\221\244\172\124\303\250\206\041\245\001\000\311\114\001\240\367\025\074\323\000\000\000\000\111\105\116\104\256\102\140\202' >"$tmp/grey.png"
# Corrupt inputs, deterministic: bytes of the binary itself (neither JPEG nor
# PNG); a JPEG and a PNG signature followed by garbage; an empty file; and a
# real JPEG cut after 1000 bytes when the samples are there.
head -c 4096 "$CLI" >"$tmp/garbage.jpg"
{ printf '\377\330\377\340\000\020JFIF\000'; head -c 3000 "$CLI" | tail -c 2000; } >"$tmp/badjpeg.jpg"
{ printf '\211PNG\015\012\032\012'; head -c 3000 "$CLI" | tail -c 2000; } >"$tmp/badpng.png"
: >"$tmp/empty.jpg"
if [ -f "$DEMO/sample1.jpg" ]; then
    head -c 1000 "$DEMO/sample1.jpg" >"$tmp/truncated.jpg"
else
    { printf '\377\330\377\340\000\020JFIF\000\001\001\000\000\001\000\001\000\000'; } >"$tmp/truncated.jpg"
fi

# ------------------------------------------------------------ usage, help --

for cmd in detect embed compare version help; do
    run "$CLI" "$cmd" --help
    check "$cmd --help exits 0 and prints its usage on stdout" \
        '[ $rc -eq 0 ] && grep -q "usage: facetrail" "$tmp/out" && [ ! -s "$tmp/err" ]'
done
run "$CLI" detect -h
check "detect -h is --help" '[ $rc -eq 0 ] && grep -q "usage: facetrail detect" "$tmp/out"'
run "$CLI" --help
check "--help lists the commands" \
    '[ $rc -eq 0 ] && grep -q detect "$tmp/out" && grep -q compare "$tmp/out" && grep -q embed "$tmp/out"'
run "$CLI" help compare
check "help compare prints the compare usage" \
    '[ $rc -eq 0 ] && grep -q "usage: facetrail compare" "$tmp/out"'
run "$CLI"
check "no arguments: usage on stderr, exit 2" \
    '[ $rc -eq 2 ] && [ ! -s "$tmp/out" ] && grep -q usage "$tmp/err"'
run "$CLI" version
check "version prints the version" '[ $rc -eq 0 ] && grep -q "^facetrail [0-9]" "$tmp/out"'
run "$CLI" frobnicate
check "unknown command: exit 2, named on stderr" \
    '[ $rc -eq 2 ] && [ ! -s "$tmp/out" ] && grep -q frobnicate "$tmp/err"'

# --------------------------------------------------------- usage errors --

run "$CLI" detect --bogus "$tmp/grey.png"
check "detect: unknown option: exit 2, named on stderr, with a hint" \
    '[ $rc -eq 2 ] && [ ! -s "$tmp/out" ] && grep -q -- "--bogus" "$tmp/err" &&
     grep -q "facetrail detect --help" "$tmp/err"'
run "$CLI" compare --bogus a b
check "compare: unknown option: exit 2" '[ $rc -eq 2 ] && grep -q -- "--bogus" "$tmp/err"'
run "$CLI" embed --bogus
check "embed: unknown option: exit 2" '[ $rc -eq 2 ] && grep -q -- "--bogus" "$tmp/err"'
for v in 1.5 0 1 -0.2 abc 0.5x "" nan inf; do
    run "$CLI" detect --min-score "$v" "$tmp/grey.png"
    check "detect --min-score '$v': exit 2" \
        '[ $rc -eq 2 ] && [ ! -s "$tmp/out" ] && grep -q -- "--min-score must be a number in (0, 1)" "$tmp/err"'
done
run "$CLI" detect --min-score=2 "$tmp/grey.png"
check "detect --min-score=2 (inline value): exit 2" '[ $rc -eq 2 ] && grep -q -- "--min-score" "$tmp/err"'
for v in 100 0 -32 31 abc 416.0; do
    run "$CLI" detect --detector tiny --input-size "$v" "$tmp/grey.png"
    check "detect --input-size $v: exit 2" \
        '[ $rc -eq 2 ] && grep -q -- "--input-size must be a positive multiple of 32" "$tmp/err"'
done
for v in 0 -1 two 99999999999999999999; do
    run "$CLI" detect --threads "$v" "$tmp/grey.png"
    check "detect --threads $v: exit 2" '[ $rc -eq 2 ] && grep -q -- "--threads" "$tmp/err"'
done
run "$CLI" compare --threads 0 a b
check "compare --threads 0: exit 2" '[ $rc -eq 2 ] && grep -q -- "--threads" "$tmp/err"'
run "$CLI" detect --detector yolo "$tmp/grey.png"
check "detect --detector yolo: exit 2" '[ $rc -eq 2 ] && grep -q -- "--detector" "$tmp/err"'
run "$CLI" detect --max-results 0 "$tmp/grey.png"
check "detect --max-results 0: exit 2" '[ $rc -eq 2 ] && grep -q -- "--max-results" "$tmp/err"'
run "$CLI" detect "$tmp/grey.png" --threads
check "detect: option without its value: exit 2" \
    '[ $rc -eq 2 ] && grep -q -- "--threads needs a value" "$tmp/err"'
run "$CLI" detect --pretty=yes "$tmp/grey.png"
check "detect: a flag given a value: exit 2" '[ $rc -eq 2 ] && grep -q -- "--pretty" "$tmp/err"'
run "$CLI" detect
check "detect without an image: exit 2" '[ $rc -eq 2 ] && grep -q IMAGE "$tmp/err"'
run "$CLI" compare "$tmp/grey.png"
check "compare with one image: exit 2" '[ $rc -eq 2 ] && [ ! -s "$tmp/out" ] && [ -s "$tmp/err" ]'
run "$CLI" compare "$tmp/grey.png" "$tmp/grey.png" "$tmp/grey.png"
check "compare with three images: exit 2" '[ $rc -eq 2 ] && [ -s "$tmp/err" ]'
run "$CLI" compare --threshold -1 a b
check "compare --threshold -1: exit 2" '[ $rc -eq 2 ] && grep -q -- "--threshold" "$tmp/err"'
run "$CLI" embed
check "embed without --chip: exit 2" '[ $rc -eq 2 ] && grep -q -- "--chip" "$tmp/err"'
run "$CLI" embed "$tmp/grey.png"
check "embed with an operand instead of --chip: exit 2" '[ $rc -eq 2 ] && [ -s "$tmp/err" ]'
run "$CLI" version extra
check "version with an operand: exit 2" '[ $rc -eq 2 ]'

# ------------------------------------------------------------ bad images --

run "$CLI" detect "$tmp/no-such.jpg"
check "detect: missing file: exit 2, stderr names it, one JSON error line" \
    '[ $rc -eq 2 ] && grep -q "no-such.jpg" "$tmp/err" && [ "$(lines "$tmp/out")" -eq 1 ] &&
     grep -q "^{\"file\":\"$tmp/no-such.jpg\",\"error\":\".*\"}$" "$tmp/out"'
for f in garbage.jpg badjpeg.jpg badpng.png empty.jpg truncated.jpg; do
    run "$CLI" detect "$tmp/$f"
    check "detect: corrupt $f: exit exactly 2, JSON error line, no crash" \
        '[ $rc -eq 2 ] && grep -q "$f" "$tmp/err" && [ "$(lines "$tmp/out")" -eq 1 ] &&
         grep -q "\"error\":" "$tmp/out"'
done
run "$CLI" detect "$tmp/no-such.jpg" "$tmp/garbage.jpg"
check "detect: goes on after a failed image (one line each)" \
    '[ $rc -eq 2 ] && [ "$(lines "$tmp/out")" -eq 2 ] && [ "$(grep -c "\"error\":" "$tmp/out")" -eq 2 ]'
run "$CLI" detect "$tmp/q\"uo\\te.jpg"
check "detect: the file name is escaped in JSON" \
    '[ $rc -eq 2 ] && grep -q "\"file\":\"$tmp/q\\\\\"uo\\\\\\\\te.jpg\"" "$tmp/out"'
run "$CLI" detect --max-pixels 255 "$tmp/grey.png"
check "detect --max-pixels below the image size: exit 2, JSON error line" \
    '[ $rc -eq 2 ] && grep -q "\"error\":" "$tmp/out"'
run "$CLI" compare "$tmp/no-such.jpg" "$tmp/grey.png"
check "compare: missing file: exit 2, named on stderr" \
    '[ $rc -eq 2 ] && [ ! -s "$tmp/out" ] && grep -q "no-such.jpg" "$tmp/err"'
run "$CLI" compare "$tmp/grey.png" "$tmp/truncated.jpg"
check "compare: corrupt file: exit 2" '[ $rc -eq 2 ] && grep -q "truncated.jpg" "$tmp/err"'
run "$CLI" embed --chip "$tmp/garbage.jpg"
check "embed: corrupt chip: exit 2, JSON error line" \
    '[ $rc -eq 2 ] && grep -q "\"error\":" "$tmp/out" && grep -q "garbage.jpg" "$tmp/err"'
mkdir "$tmp/no-models"
run "$CLI" detect --models "$tmp/no-models" "$tmp/grey.png"
check "detect with an empty model folder: exit 2 with a message" \
    '[ $rc -eq 2 ] && [ -s "$tmp/err" ]'

# --------------------------------------------------------- with models --

name="detect: an image without a face gives \"faces\":[]"
if need_models "$name"; then
    run "$CLI" detect "$tmp/grey.png"
    check "$name" '[ $rc -eq 0 ] && [ "$(lines "$tmp/out")" -eq 1 ] &&
        grep -q "^{\"file\":\".*\",\"width\":16,\"height\":16,\"detector\":\"yunet_n\",\"faces\":\[\]}$" "$tmp/out"'
fi
name="compare: an image without a face is an error"
if need_models "$name"; then
    run "$CLI" compare "$tmp/grey.png" "$tmp/grey.png"
    check "$name" '[ $rc -eq 2 ] && grep -q "no face found" "$tmp/err"'
fi

name="detect on the six samples: one JSON line per image, each with faces"
if need_samples "$name"; then
    run "$CLI" detect "$DEMO"/sample1.jpg "$DEMO"/sample2.jpg "$DEMO"/sample3.jpg \
        "$DEMO"/sample4.jpg "$DEMO"/sample5.jpg "$DEMO"/sample6.jpg
    check "$name" '[ $rc -eq 0 ] && [ "$(lines "$tmp/out")" -eq 6 ] &&
        [ "$(grep -c "^{\"file\":\"$DEMO/sample[1-6].jpg\",\"width\":[0-9]*,\"height\":[0-9]*,\"detector\":\"yunet_n\",\"faces\":\[{\"box\":\[" "$tmp/out")" -eq 6 ]'
    cp "$tmp/out" "$tmp/samples.jsonl"
    check "detect: no nan or inf in the output" '! grep -qi "nan\|inf" "$tmp/samples.jsonl"'
    # first face of sample1: YuNet's 5 points, dlib's 5 landmarks, a 128-d descriptor
    sed -n 1p "$tmp/samples.jsonl" >"$tmp/s1"
    n_p5=$(array_len points5 "$tmp/s1")
    n_lm=$(array_len landmarks "$tmp/s1")
    n_desc=$(array_len descriptor "$tmp/s1")
    check "detect: 5 detector points, 5 landmarks and 128 descriptor values per face" \
        '[ "$n_p5" = 5 ] && [ "$n_lm" = 5 ] && [ "$n_desc" = 128 ]'
    run "$CLI" detect --pipeline faceapi "$DEMO"/sample1.jpg
    sed -n 1p "$tmp/out" >"$tmp/s1f"
    n_lm=$(array_len landmarks "$tmp/s1f")
    n_desc=$(array_len descriptor "$tmp/s1f")
    check "detect --pipeline faceapi: SSD, 68 landmarks, 128 descriptor values" \
        '[ $rc -eq 0 ] && grep -q "\"detector\":\"ssd_mobilenetv1\"" "$tmp/s1f" && [ "$n_lm" = 68 ] && [ "$n_desc" = 128 ]'
    run "$CLI" detect --pipeline dlib-yunet5 --detector ssd "$DEMO"/sample1.jpg
    check "detect: YuNet's points with another detector are refused" '[ $rc -eq 2 ] && grep -q "YuNet" "$tmp/err"'
    run "$CLI" detect --pipeline nonsense "$DEMO"/sample1.jpg
    check "detect --pipeline nonsense: exit 2, lists the names" '[ $rc -eq 2 ] && grep -q "dlib-yunet5" "$tmp/err"'
    check "detect: every face has box, score, crops and descriptor" \
        '[ "$(grep -o "{\"box\":" "$tmp/samples.jsonl" | wc -l)" -eq "$(grep -o "\"descriptor\":\[" "$tmp/samples.jsonl" | wc -l)" ] &&
         [ "$(grep -o "\"landmark_crop\":\[" "$tmp/samples.jsonl" | wc -l)" -eq "$(grep -o "\"align_rect\":\[" "$tmp/samples.jsonl" | wc -l)" ]'
fi

name="detect --no-landmarks: boxes only"
if need_samples "$name"; then
    run "$CLI" detect --no-landmarks "$DEMO/sample1.jpg"
    check "$name" '[ $rc -eq 0 ] && grep -q "\"box\":" "$tmp/out" &&
        ! grep -q "landmarks\|descriptor" "$tmp/out"'
fi
name="detect --no-descriptor: landmarks but no descriptor"
if need_samples "$name"; then
    run "$CLI" detect --no-descriptor "$DEMO/sample1.jpg"
    check "$name" '[ $rc -eq 0 ] && grep -q "\"landmarks\":" "$tmp/out" &&
        ! grep -q "descriptor" "$tmp/out"'
fi
name="detect --detector tiny finds faces"
if need_samples "$name"; then
    run "$CLI" detect --detector tiny --input-size 416 "$DEMO/sample1.jpg"
    check "$name" '[ $rc -eq 0 ] && grep -q "\"detector\":\"tiny_face_detector\",\"faces\":\[{" "$tmp/out"'
fi
name="detect --pretty prints the same record on several lines"
if need_samples "$name"; then
    run "$CLI" detect --pretty --no-landmarks "$DEMO/sample1.jpg"
    check "$name" '[ $rc -eq 0 ] && [ "$(lines "$tmp/out")" -gt 3 ] && grep -q "^  \"faces\": \[" "$tmp/out"'
fi
name="detect: a good image after a missing one is still processed"
if need_samples "$name"; then
    run "$CLI" detect --no-landmarks "$tmp/no-such.jpg" "$DEMO/sample1.jpg"
    check "$name" '[ $rc -eq 2 ] && [ "$(lines "$tmp/out")" -eq 2 ] &&
        sed -n 1p "$tmp/out" | grep -q "\"error\":" && sed -n 2p "$tmp/out" | grep -q "\"faces\":\[{"'
fi

name="compare sample1 with itself: distance 0, same person, exit 0"
if need_samples "$name"; then
    run "$CLI" compare "$DEMO/sample1.jpg" "$DEMO/sample1.jpg"
    check "$name" '[ $rc -eq 0 ] && grep -q "^distance 0.0000 (threshold 0.60): same person$" "$tmp/out"'
fi
name="compare --json sample1 with itself"
if need_samples "$name"; then
    run "$CLI" compare --json "$DEMO/sample1.jpg" "$DEMO/sample1.jpg"
    check "$name" '[ $rc -eq 0 ] && grep -q "\"distance\":0,.*\"same\":true" "$tmp/out"'
fi
name="compare sample2 with sample5: different people, exit 1"
if need_samples "$name"; then
    run "$CLI" compare "$DEMO/sample2.jpg" "$DEMO/sample5.jpg"
    check "$name" '[ $rc -eq 1 ] && grep -q "^distance [0-9.]* (threshold 0.60): different people$" "$tmp/out"'
fi
name="compare --json sample2 with sample5"
if need_samples "$name"; then
    run "$CLI" compare --json "$DEMO/sample2.jpg" "$DEMO/sample5.jpg"
    check "$name" '[ $rc -eq 1 ] && grep -q "\"same\":false" "$tmp/out"'
fi

name="embed a chip: one line with 128 values"
if need_samples "$name"; then
    run "$CLI" embed --chip "$DEMO/sample1.jpg"
    n_desc=$(array_len descriptor "$tmp/out")
    check "$name" '[ $rc -eq 0 ] && [ "$(lines "$tmp/out")" -eq 1 ] && [ "$n_desc" = 128 ]'
fi
name="embed two chips: one line each, with the file"
if need_samples "$name"; then
    run "$CLI" embed --chip "$DEMO/sample1.jpg" --chip "$DEMO/sample2.jpg"
    check "$name" '[ $rc -eq 0 ] && [ "$(lines "$tmp/out")" -eq 2 ] &&
        [ "$(grep -c "^{\"file\":\"$DEMO/sample[12].jpg\",\"descriptor\":\[" "$tmp/out")" -eq 2 ]'
fi

# ------------------------------------------------- event: camera, ingest, search --

db="$tmp/event.ftdb"
for c in camera ingest search eval; do
    run "$CLI" $c --help
    check "$c --help prints its usage" '[ $rc -eq 0 ] && grep -q "usage: facetrail $c" "$tmp/out"'
done
run "$CLI" camera add --db "$db" --id km05 --km 5 --name "Bridge north"
check "camera add" '[ $rc -eq 0 ] && grep -q "km05" "$tmp/out"'
check "camera add: the first camera fixes the event's zone to the system's, and says so" 'grep -q "^event time zone: .*this system" "$tmp/out"'
run env TZ=Asia/Tokyo "$CLI" camera add --db "$tmp/tz.ftdb" --id a --km 1 --tz Europe/Paris
check "camera add --tz Europe/Paris: the event's zone" '[ $rc -eq 0 ] && grep -q "^event time zone: Europe/Paris$" "$tmp/out"'
run env TZ=Asia/Tokyo "$CLI" camera add --db "$tmp/tz.ftdb" --id b --km 2
check "camera add without --tz later: the zone is kept" '[ $rc -eq 0 ] && ! grep -q "zone" "$tmp/out"'
run "$CLI" camera list --db "$tmp/tz.ftdb"
check "camera list names the event's zone" '[ $rc -eq 0 ] && grep -q "^event time zone: Europe/Paris$" "$tmp/out"'
run "$CLI" camera add --db "$tmp/tz.ftdb" --id c --km 3 --tz Moon/Base
check "camera add --tz unknown: refused, camera not added" '[ $rc -eq 2 ] && grep -q -- "--tz" "$tmp/err" && ! "$CLI" camera list --db "$tmp/tz.ftdb" | grep -q "^c "'
run "$CLI" ingest --db "$tmp/tz.ftdb" --camera a --start 2026-04-31T10:00 x.mp4
check "ingest --start 31 April: refused before anything is opened" '[ $rc -eq 2 ] && grep -q "April 2026 has 30 days" "$tmp/err"'
run "$CLI" camera add --db "$tmp/tz.ftdb" --id a --km 1 --url rtsp://10.0.0.5/s1
check "camera add --url on a known camera at its km: the live source is set, nothing added" \
    '[ $rc -eq 0 ] && ! grep -q "added" "$tmp/out" && "$CLI" camera list --db "$tmp/tz.ftdb" | grep -q "^a .*live: rtsp://10.0.0.5/s1$" &&
     "$CLI" camera list --db "$tmp/tz.ftdb" --json | grep -q "\"id\":\"a\".*\"url\":\"rtsp://10.0.0.5/s1\""'
run "$CLI" camera add --db "$tmp/tz.ftdb" --id a --km 1 --url ""
check "camera add --url \"\": no live source" \
    '[ $rc -eq 0 ] && ! "$CLI" camera list --db "$tmp/tz.ftdb" | grep -q "live:"'
run "$CLI" watch --help
check "watch --help" '[ $rc -eq 0 ] && grep -q "watch add --db DB --name NAME --reason TEXT" "$tmp/out"'
run "$CLI" watch add --db "$tmp/tz.ftdb" --name "Lina" "$tmp/grey.png"
check "watch add without --reason: refused, exit 2" '[ $rc -eq 2 ] && grep -q -- "--reason" "$tmp/err"'
run "$CLI" watch add --db "$tmp/tz.ftdb" --name "Lina" --reason "case 1" --webhook https://x/y "$tmp/grey.png"
check "watch add with an https webhook: refused" '[ $rc -eq 2 ] && grep -q -- "--webhook" "$tmp/err"'
run "$CLI" watch add --db "$tmp/tz.ftdb" --name "Lina" --reason "case 1" "$tmp/grey.png"
check "watch add with a photo without a face: exit 2, nothing added" \
    '[ $rc -eq 2 ] && grep -q "grey.png" "$tmp/err" && "$CLI" watch list --db "$tmp/tz.ftdb" | grep -q "empty"'
name="watch add, list, remove"
if need_samples "$name"; then
    run "$CLI" watch add --db "$tmp/tz.ftdb" --name "Lina, 7" --reason "case 114: lost child" \
        --expires 2031-01-01T00:00Z "$DEMO/sample2.jpg"
    check "watch add: entry 1" '[ $rc -eq 0 ] && grep -q "^watchlist entry 1: Lina, 7 (1 photo)$" "$tmp/out"'
    run "$CLI" watch list --db "$tmp/tz.ftdb" --json
    check "watch list --json: the entry, its reason and expiry" \
        '[ $rc -eq 0 ] && grep -q "^{\"id\":1,\"name\":\"Lina, 7\",\"reason\":\"case 114: lost child\",\"created\":\"[0-9T:.-]*Z\",\"expires\":\"2031-01-01T00:00:00.000Z\",\"photos\":1}$" "$tmp/out"'
    run "$CLI" watch remove --db "$tmp/tz.ftdb" 1
    check "watch remove" '[ $rc -eq 0 ] && "$CLI" watch list --db "$tmp/tz.ftdb" | grep -q "empty"'
    run "$CLI" watch remove --db "$tmp/tz.ftdb" 1
    check "watch remove again: exit 2, says so" '[ $rc -eq 2 ] && grep -q "no watchlist entry 1" "$tmp/err"'
fi
run "$CLI" camera add --db "$db" --id km02 --km 2.5
run "$CLI" camera add --db "$db" --id km05 --km 7
check "camera add: a duplicate id is refused, exit 2" '[ $rc -eq 2 ] && grep -q "km05" "$tmp/err"'
run "$CLI" camera add --db "$db" --id "bad id" --km 1
check "camera add: an id with a blank is refused" '[ $rc -eq 2 ] && [ -s "$tmp/err" ]'
run "$CLI" camera add --db "$db" --id x --km nan
check "camera add: --km nan is refused" '[ $rc -eq 2 ] && grep -q -- "--km" "$tmp/err"'
run "$CLI" camera add --db "$db" --id x --km 1 --lat 45
check "camera add: --lat without --lon is refused" '[ $rc -eq 2 ] && grep -q -- "--lon" "$tmp/err"'
run "$CLI" camera list --db "$db"
check "camera list: ordered by km" '[ $rc -eq 0 ] && [ "$(grep -n km02 "$tmp/out" | cut -d: -f1)" -lt "$(grep -n km05 "$tmp/out" | cut -d: -f1)" ]'
run "$CLI" camera list --db "$db" --json
check "camera list --json: one object per camera" '[ $rc -eq 0 ] && [ "$(grep -c "^{\"id\":" "$tmp/out")" -eq 2 ]'
run "$CLI" camera list --db "$tmp/missing.ftdb"
check "camera list of a missing database: exit 2" '[ $rc -eq 2 ] && [ -s "$tmp/err" ]'
printf 'not a database at all, just text\n' >"$tmp/text.ftdb"
run "$CLI" camera list --db "$tmp/text.ftdb"
check "camera list of a text file: exit 2, file kept" '[ $rc -eq 2 ] && grep -q "just text" "$tmp/text.ftdb"'

run "$CLI" ingest --db "$db" --camera km05 VIDEO
check "ingest without --start: exit 2" '[ $rc -eq 2 ] && grep -q -- "--start" "$tmp/err"'
run "$CLI" ingest --db "$db" --camera km05 --start "yesterday" x.mp4
check "ingest --start yesterday: exit 2" '[ $rc -eq 2 ] && grep -q "ISO 8601" "$tmp/err"'
run "$CLI" ingest --db "$db" --camera km05 --start 2026-04-12T09:00:00Z --fps 0 x.mp4
check "ingest --fps 0: exit 2" '[ $rc -eq 2 ] && grep -q -- "--fps" "$tmp/err"'
head -c 3000 /dev/urandom >"$tmp/noise.mp4"
name="ingest of a corrupt video: exit 2, named, no ingest left running"
if need_models "$name"; then
    run "$CLI" ingest --quiet --db "$db" --camera km05 --start 2026-04-12T09:00:00Z "$tmp/noise.mp4"
    check "$name" '[ $rc -eq 2 ] && grep -q "noise.mp4" "$tmp/err"'
fi
name="ingest with an unknown camera: exit 2"
if need_models "$name"; then
    run "$CLI" ingest --quiet --db "$db" --camera nowhere --start 2026-04-12T09:00:00Z "$tmp/noise.mp4"
    check "$name" '[ $rc -eq 2 ] && [ -s "$tmp/err" ]'
fi

# ----------------------------------------------- ingest: why no sightings --
# An ingest that stores nothing says why, in seconds and --fps: a clip too
# short for two analysed frames, or faces that never made a track. The clips
# come from the race simulator, their length from its ground truth.
SIM=${FT_SIM:-build/release/bench/bench_race_sim}
name="ingest of a clip too short for a track: no sightings, says why in seconds"
if [ ! -x "$SIM" ]; then
    skip "$name" "race simulator $SIM not built"
elif need_samples "$name"; then
    # shellcheck disable=SC2046
    "$SIM" --people-from-image $(ls "$DEMO"/sample*.jpg) --models "$MODELS" --out "$tmp/short" \
        --runners 1 --cameras 1 --width 256 --height 192 --fps 10 --face-min 60 --face-max 80 \
        --max-span 1 --margin 0 --seed 5 --quiet >/dev/null 2>&1
    sclip=$(ls "$tmp"/short/*.mp4 | head -1)
    scam=$(basename "$sclip" .mp4)
    sstart=$(awk -F '\t' '$1 == "camera" { print $5; exit }' "$tmp/short/truth.tsv")
    ssecs=$(awk -F '\t' '$1 == "camera" { printf "%.1f", $7 / 10; exit }' "$tmp/short/truth.tsv")
    "$CLI" camera add --db "$tmp/short.ftdb" --id "$scam" --km 1 >/dev/null 2>&1
    # at --fps 0.25 one frame is analysed every 4 s: this clip gives one
    run "$CLI" ingest --quiet --fps 0.25 --db "$tmp/short.ftdb" --camera "$scam" --start "$sstart" "$sclip"
    check "$name" '[ $rc -eq 0 ] && grep -q " 0 sightings stored" "$tmp/out" &&
        grep -q "^no sightings: the clip is $ssecs s long; it gave 1 analysed frame at --fps 0.25, and a face must be seen in at least 2 analysed frames" "$tmp/out"'
    # a --start without an offset is read in the event's zone (not the process's)
    "$CLI" camera add --db "$tmp/paris.ftdb" --id "$scam" --km 1 --tz Europe/Paris >/dev/null 2>&1
    run env TZ=Asia/Tokyo "$CLI" ingest --quiet --db "$tmp/paris.ftdb" --camera "$scam" --start 2026-04-12T11:30 "$sclip"
    check "ingest --start without an offset: read in the event's zone, and said" '[ $rc -eq 0 ] &&
        grep -q "note: --start 2026-04-12T11:30 read as Europe/Paris time, 2026-04-12T11:30:00.000+02:00" "$tmp/err"'
    run "$CLI" ingest --quiet --db "$tmp/paris.ftdb" --camera "$scam" --start 2026-04-12T11:30+02:00 "$sclip"
    check "ingest: the same start written with its offset is the same ingest" '[ $rc -eq 2 ] && ! grep -q "note:" "$tmp/err" && grep -q "start 2026-04-12T09:30:00Z): already ingested" "$tmp/err"'
    # one descriptor space per event: another pipeline is refused, by name
    run "$CLI" ingest --quiet --pipeline faceapi-chip68 --db "$tmp/paris.ftdb" --camera "$scam" --start 2026-04-12T12:30Z "$sclip"
    check "ingest with another pipeline into an event: refused, names both kinds" '[ $rc -eq 2 ] &&
        grep -q "descriptors are of kind dlib-chip5-mirror, and this ingest would make faceapi-chip68" "$tmp/err"'
    "$CLI" camera add --db "$tmp/yunet5.ftdb" --id "$scam" --km 1 >/dev/null 2>&1
    run "$CLI" ingest --quiet --pipeline dlib-yunet5 --db "$tmp/yunet5.ftdb" --camera "$scam" --start 2026-04-12T12:30Z "$sclip"
    check "ingest with an uncalibrated descriptor kind: refused before any work" '[ $rc -eq 2 ] &&
        grep -q "dlib-yunet5 have no calibration" "$tmp/err"'
fi
name="ingest whose faces never make a track: no sightings, says why"
if [ ! -x "$SIM" ]; then
    skip "$name" "race simulator $SIM not built"
elif need_samples "$name"; then
    # shellcheck disable=SC2046
    "$SIM" --people-from-image $(ls "$DEMO"/sample*.jpg) --models "$MODELS" --out "$tmp/sparse" \
        --runners 8 --cameras 1 --width 512 --height 288 --fps 10 --face-min 56 --face-max 90 \
        --max-span 12 --margin 0.5 --seed 5 --quiet >/dev/null 2>&1
    pclip=$(ls "$tmp"/sparse/*.mp4 | head -1)
    pcam=$(basename "$pclip" .mp4)
    pstart=$(awk -F '\t' '$1 == "camera" { print $5; exit }' "$tmp/sparse/truth.tsv")
    "$CLI" camera add --db "$tmp/sparse.ftdb" --id "$pcam" --km 1 >/dev/null 2>&1
    # one frame every 10 s: a runner is never in two analysed frames
    run "$CLI" ingest --quiet --fps 0.1 --db "$tmp/sparse.ftdb" --camera "$pcam" --start "$pstart" "$pclip"
    check "$name" '[ $rc -eq 0 ] && grep -q " 0 sightings stored" "$tmp/out" &&
        ! grep -q " 0 faces" "$tmp/out" &&
        grep -q "^no sightings: the clip is [0-9.]* s long; [0-9]* faces\{0,1\} w[a-z]* detected in [0-9]* analysed frames, but none was seen in 2 analysed frames in a row (at --fps 0.1, 10.00 s apart)" "$tmp/out"'
fi
run "$CLI" search --db "$db"
check "search without a photo: exit 2" '[ $rc -eq 2 ] && grep -q PHOTO "$tmp/err"'
name="search with a photo without a face: exit 2, says so"
if need_models "$name"; then
    run "$CLI" search --db "$db" "$tmp/grey.png"
    check "$name" '[ $rc -eq 2 ] && grep -q "no face" "$tmp/err"'
fi
name="search an empty event: answered, no appearance"
if need_samples "$name"; then
    run "$CLI" search --db "$db" --json "$DEMO/sample2.jpg"
    check "$name" '[ $rc -eq 0 ] && grep -q "\"appearances\":\[\]" "$tmp/out" && grep -q "\"estimate\":null" "$tmp/out"'
fi
name="search: several faces are reported, --face picks another"
if need_samples "$name"; then
    run "$CLI" search --db "$db" --face 2 --json "$DEMO/sample1.jpg"
    check "$name" '[ $rc -eq 0 ] && grep -q "\"faces\":3,\"face\":2" "$tmp/out"'
    run "$CLI" search --db "$db" --face 9 "$DEMO/sample1.jpg"
    check "search --face 9 of a 3-face photo: exit 2" '[ $rc -eq 2 ] && grep -q "3 faces" "$tmp/err"'
fi
name="search with two photos of one person: both used, counted in the comparisons"
if need_samples "$name"; then
    run "$CLI" search --db "$db" --json "$DEMO/sample2.jpg" "$DEMO/sample3.jpg"
    check "$name" '[ $rc -eq 0 ] && grep -q "\"queries\":\[{\"file\":\"[^\"]*sample2.jpg\".*{\"file\":\"[^\"]*sample3.jpg\"" "$tmp/out" && grep -q "\"photos\":2" "$tmp/out"'
    run "$CLI" search --db "$db" "$DEMO/sample2.jpg" "$tmp/grey.png"
    check "search with a second photo without a face: exit 2, names it" '[ $rc -eq 2 ] && grep -q "grey.png" "$tmp/err"'
    run "$CLI" search --db "$db" --no-course --min-pace 30 "$DEMO/sample2.jpg"
    check "search --min-pace above --max-speed: refused" '[ $rc -eq 2 ] && grep -q -- "--min-pace" "$tmp/err"'
    run "$CLI" search --db "$db" $(for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17; do printf "%s " "$DEMO/sample2.jpg"; done)
    check "search with 17 photos: refused, says 16" '[ $rc -eq 2 ] && grep -q "16" "$tmp/err"'
    run "$CLI" search --db "$db" --confirm 12,x "$DEMO/sample2.jpg"
    check "search --confirm 12,x: refused, says how" '[ $rc -eq 2 ] && grep -q "sighting numbers" "$tmp/err"'
    run "$CLI" search --db "$db" --confirm 999999 "$DEMO/sample2.jpg"
    check "search --confirm of a sighting the event does not hold: exit 2, says so" '[ $rc -eq 2 ] && grep -q "not in this event" "$tmp/err"'
fi

# ------------------------------------------- search: reports never lose data --
# --html writes through a temporary file and a rename; it never replaces the
# database or the photo being read, nor (without --force) an existing video,
# image or database.

name="search --html over the database: refused, database intact"
if need_samples "$name"; then
    cp "$db" "$tmp/keep.ftdb"
    run "$CLI" search --db "$db" --html "$db" "$DEMO/sample2.jpg"
    check "$name" '[ $rc -eq 2 ] && grep -q "input" "$tmp/err" && cmp -s "$db" "$tmp/keep.ftdb"'
    run "$CLI" search --db "$db" --force --html "$db" "$DEMO/sample2.jpg"
    check "search --html over the database with --force: still refused" '[ $rc -eq 2 ] && cmp -s "$db" "$tmp/keep.ftdb"'
    run "$CLI" camera list --db "$db"
    check "the database still answers after the refused report" '[ $rc -eq 0 ] && grep -q km05 "$tmp/out"'
    cp "$DEMO/sample2.jpg" "$tmp/photo.jpg"
    run "$CLI" search --db "$db" --html "$tmp/photo.jpg" "$tmp/photo.jpg"
    check "search --html over the query photo: refused, photo intact" '[ $rc -eq 2 ] && cmp -s "$tmp/photo.jpg" "$DEMO/sample2.jpg"'
    cp "$db" "$tmp/other.ftdb"
    run "$CLI" search --db "$db" --html "$tmp/other.ftdb" "$DEMO/sample2.jpg"
    check "search --html over another database: refused without --force" '[ $rc -eq 2 ] && grep -q "SQLite" "$tmp/err" && cmp -s "$tmp/other.ftdb" "$db"'
    printf '\000\000\000\030ftypisom\000\000\002\000isomiso2' >"$tmp/km05.mp4"
    cp "$tmp/km05.mp4" "$tmp/km05.keep"
    run "$CLI" search --db "$db" --html "$tmp/km05.mp4" "$DEMO/sample2.jpg"
    check "search --html over a video: refused without --force" '[ $rc -eq 2 ] && grep -q "video" "$tmp/err" && cmp -s "$tmp/km05.mp4" "$tmp/km05.keep"'
    run "$CLI" search --db "$db" --force --html "$tmp/km05.mp4" "$DEMO/sample2.jpg"
    check "search --html over a video with --force: replaced by the report" '[ $rc -eq 0 ] && grep -q "<html" "$tmp/km05.mp4"'
    mkdir -p "$tmp/rep"
    run "$CLI" search --db "$db" --html "$tmp/rep/report.html" "$DEMO/sample2.jpg"
    check "search --html: report written, no temporary file left" '[ $rc -eq 0 ] && grep -q "</html>" "$tmp/rep/report.html" && [ "$(ls -A "$tmp/rep")" = "report.html" ]'
    check "search --html: the query face is in the report" 'grep -q "alt=\"query face\" src=\"data:image/jpeg;base64," "$tmp/rep/report.html"'
    run "$CLI" search --db "$db" --html "$tmp/rep" "$DEMO/sample2.jpg"
    check "search --html to a folder: refused" '[ $rc -eq 2 ] && grep -q "folder" "$tmp/err"'
    run "$CLI" search --db "$db" --html "$tmp/nowhere/report.html" "$DEMO/sample2.jpg"
    check "search --html into a missing folder: exit 2, named" '[ $rc -eq 2 ] && grep -q "nowhere/report.html" "$tmp/err"'
fi

# ------------------------------------------------------------ search: times --
# A time without Z or +hh:mm is read in the event's zone (else TZ), and the
# command says so; impossible dates and offsets are refused.

run "$CLI" search --db "$db" --since 2026-02-30T10:00Z "$tmp/grey.png"
check "search --since 2026-02-30: refused, says why" '[ $rc -eq 2 ] && grep -q "February 2026 has 28 days" "$tmp/err"'
run "$CLI" search --db "$db" --until 2026-04-12T10:00+25:00 "$tmp/grey.png"
check "search --until with offset +25:00: refused" '[ $rc -eq 2 ] && grep -q "14:00" "$tmp/err"'
run "$CLI" search --db "$db" --tz Mars/Base "$tmp/grey.png"
check "search --tz with an unknown zone: refused" '[ $rc -eq 2 ] && grep -q -- "--tz" "$tmp/err"'
name="search --since without a zone: read in the event's zone (not TZ), and said"
if need_samples "$name"; then
    run env TZ=America/New_York "$CLI" search --db "$tmp/tz.ftdb" --since 2026-04-12T05:30 "$DEMO/sample2.jpg"
    check "$name" '[ $rc -eq 0 ] && grep -q "Europe/Paris time, 2026-04-12T05:30:00.000+02:00" "$tmp/err"'
    run env TZ=America/New_York "$CLI" search --db "$tmp/tz.ftdb" --tz America/New_York --since 2026-04-12T05:30 "$DEMO/sample2.jpg"
    check "search --tz beats the event's zone" '[ $rc -eq 0 ] && grep -q "America/New_York time, 2026-04-12T05:30:00.000-04:00" "$tmp/err"'
    run "$CLI" search --db "$db" --tz Europe/Paris --since 2026-04-12T11:30 "$DEMO/sample2.jpg"
    check "search --tz Europe/Paris --since: read in Paris time" '[ $rc -eq 0 ] && grep -q "+02:00" "$tmp/err"'
fi

# --------------------------------------------- a video damaged in the middle --
# One warning line (file, frames, seconds) and the count in the summary; none
# of FFmpeg's own lines on stderr. The clip comes from the race simulator.
SIM=${FT_SIM:-build/release/bench/bench_race_sim}
name="ingest of a clip damaged in the middle: one warning line, no FFmpeg lines"
if [ ! -x "$SIM" ]; then
    skip "$name" "race simulator $SIM not built"
elif need_samples "$name"; then
    # shellcheck disable=SC2046
    "$SIM" --people-from-image $(ls "$DEMO"/sample*.jpg) --models "$MODELS" --out "$tmp/dmg" \
        --runners 2 --cameras 1 --width 320 --height 240 --fps 10 --face-min 50 --face-max 80 \
        --max-span 6 --margin 0.5 --seed 5 --quiet >/dev/null 2>&1
    clip=$(ls "$tmp"/dmg/*.mp4 | head -1)
    dcam=$(basename "$clip" .mp4)
    dstart=$(awk -F '\t' '$1 == "camera" { print $5; exit }' "$tmp/dmg/truth.tsv")
    size=$(wc -c <"$clip")
    cp "$clip" "$tmp/damaged.mp4"
    # 3000 bytes of the binary itself over the middle of the file
    head -c 4096 "$CLI" | tail -c 3000 |
        dd of="$tmp/damaged.mp4" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
    "$CLI" camera add --db "$tmp/dmg.ftdb" --id "$dcam" --km 1 >/dev/null 2>&1
    run "$CLI" ingest --quiet --fps 2 --db "$tmp/dmg.ftdb" --camera "$dcam" --start "$dstart" \
        "$tmp/damaged.mp4"
    check "$name" '[ $rc -eq 0 ] && [ "$(grep -c "damaged.mp4 is damaged: [0-9]* frames\{0,1\} between [0-9.]* s and [0-9.]* s could not be decoded" "$tmp/err")" -eq 1 ] &&
        [ "$(lines "$tmp/err")" -eq 1 ] && ! grep -q -e " @ 0x" -e "error while decoding" -e "concealing" "$tmp/err" &&
        grep -q "damaged frame" "$tmp/out"'
fi

# ------------------------------------------------------- eval wider: a tiny set --

# One image (grey.png) with one annotated face, in WIDER FACE's layout, and two
# detections: one on the face (score 0.9), one off it (0.375, 4 px tall).
mkdir -p "$tmp/wider/images/0--Grey"
cp "$tmp/grey.png" "$tmp/wider/images/0--Grey/g.png"
printf '0--Grey/g.png\n1\n2 2 8 8 0 0 0 0 0 0\n' >"$tmp/wider/gt.txt"
for l in easy medium hard; do
    printf '0--Grey/g.png\t1\n' >"$tmp/wider/wider_val_${l}_gt_index.txt"
done
printf '{"file":"0--Grey/g.png","faces":[{"box":[2,2,8,8],"score":0.9},{"box":[9,9,4,4],"score":0.375}]}\n' \
    >"$tmp/wider/preds.jsonl"
wider="--gt $tmp/wider/gt.txt --index-dir $tmp/wider"
run "$CLI" eval wider $wider --predictions "$tmp/wider/preds.jsonl" --json \
    --operating-scores 0.25,0.5 --operating-heights 0,8
check "eval wider --json: a precision/recall point per score and height" \
    '[ $rc -eq 0 ] && [ "$(grep -o "{\"score\":" "$tmp/out" | wc -l)" -eq 4 ] &&
     grep -q "{\"score\":0.25,\"min_height\":0,\"faces\":1,\"recalled\":1,\"detections\":2,\"ignored\":0,\"false_positives\":1,\"precision\":0.5,\"recall\":1}" "$tmp/out" &&
     grep -q "{\"score\":0.5,\"min_height\":0,\"faces\":1,\"recalled\":1,\"detections\":1,\"ignored\":0,\"false_positives\":0,\"precision\":1,\"recall\":1}" "$tmp/out"'
check "eval wider: the shortest faces kept drop the short detection" \
    'grep -q "{\"score\":0.25,\"min_height\":8,\"faces\":1,\"recalled\":1,\"detections\":1,\"ignored\":0,\"false_positives\":0,\"precision\":1,\"recall\":1}" "$tmp/out"'
check "eval wider --predictions: operating threshold 0.5" 'grep -q "\"operating_threshold\":0.5," "$tmp/out"'
run "$CLI" eval wider $wider --predictions "$tmp/wider/preds.jsonl" --operating-heights 0,8
check "eval wider: the table has the operating points" \
    '[ $rc -eq 0 ] && grep -q "precision$" "$tmp/out" && [ "$(grep -c "^  >= 8 " "$tmp/out")" -eq 6 ]'
for v in 0.3,x 1.5 "" 0.3, ,0.3 "0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,0.1,0.2,0.3,0.4,0.5,0.6"; do
    run "$CLI" eval wider $wider --predictions "$tmp/wider/preds.jsonl" --operating-scores "$v"
    check "eval wider --operating-scores '$(echo "$v" | cut -c1-12)': exit 2" \
        '[ $rc -eq 2 ] && grep -q -- "--operating-scores" "$tmp/err"'
done
run "$CLI" eval wider $wider --predictions "$tmp/wider/preds.jsonl" --operating-heights -8
check "eval wider --operating-heights -8: exit 2" '[ $rc -eq 2 ] && grep -q -- "--operating-heights" "$tmp/err"'

name="eval wider: YuNet by default, at full resolution, min score 0.02"
if need_models "$name"; then
    run "$CLI" eval wider $wider --images "$tmp/wider/images" --json
    check "$name" '[ $rc -eq 0 ] && grep -q "\"detector\":\"yunet_n\",\"input_size\":null,\"tile\":0,\"min_score\":0.0199999996," "$tmp/out" &&
        ! grep -q "max_results" "$tmp/out"'
    run "$CLI" eval wider $wider --images "$tmp/wider/images"
    check "eval wider: the table names YuNet at full resolution" \
        '[ $rc -eq 0 ] && grep -q "yunet_n at full resolution, min score 0.02$" "$tmp/out"'
    run "$CLI" eval wider $wider --images "$tmp/wider/images" --json --pipeline faceapi
    check "eval wider --pipeline faceapi: SSD at 512, min score 0.05 (not the pipeline's 0.5)" \
        '[ $rc -eq 0 ] && grep -q "\"detector\":\"ssd_mobilenetv1\",\"input_size\":512,\"tile\":0,\"min_score\":0.0500000007,\"max_results\":1000," "$tmp/out" &&
         grep -q "\"operating_threshold\":0.5," "$tmp/out"'
    run "$CLI" eval wider $wider --images "$tmp/wider/images" --json --min-score 0.6 --operating-threshold 0.6 \
        --operating-scores 0.6,0.7
    check "eval wider --min-score 0.6 with operating scores 0.6: no note that they are below it" \
        '[ $rc -eq 0 ] && ! grep -q "note" "$tmp/err"'
    run "$CLI" eval wider $wider --images "$tmp/wider/images" --json --min-score 0.25 --pipeline faceapi --tile 64
    check "eval wider: --min-score before --pipeline is kept; --tile is reported" \
        '[ $rc -eq 0 ] && grep -q "\"tile\":64,\"tile_overlap\":0.25,\"min_score\":0.25," "$tmp/out"'
fi

# ------------------------------------------- model folder, from anywhere --
# Without --models and FT_MODEL_DIR the binary finds the models from its own
# location (PREFIX/bin -> PREFIX/share/facetrail/models/face-api/model;
# build/VARIANT -> the source tree's models/face-api/model), whatever the
# working directory.

# run_in DIR CMD...: run, in DIR, with FT_MODEL_DIR unset.
run_in()
{
    (cd "$1" && shift && unset FT_MODEL_DIR && exec "$@") >"$tmp/out" 2>"$tmp/err"
    rc=$?
}
case $CLI in /*) abs_cli=$CLI ;; *) abs_cli=$(pwd)/$CLI ;; esac
case $DEMO in /*) abs_demo=$DEMO ;; *) abs_demo=$(pwd)/$DEMO ;; esac
case $MODELS in /*) abs_models=$MODELS ;; *) abs_models=$(pwd)/$MODELS ;; esac
built_models=$(dirname "$abs_cli")/../../models/face-api/model
name="detect from /tmp without --models or FT_MODEL_DIR: the models beside the build are found"
if need_samples "$name"; then
    if [ -f "$built_models/ssd_mobilenetv1_model-weights_manifest.json" ]; then
        run_in /tmp "$abs_cli" detect "$abs_demo/sample2.jpg"
        check "$name" '[ $rc -eq 0 ] && grep -q "\"faces\":\[{\"box\"" "$tmp/out"'
    else
        skip "$name" "no models in $built_models"
    fi
fi
name="an installed PREFIX/bin/facetrail finds PREFIX/share/facetrail/models"
if need_samples "$name"; then
    # the layout make install writes: face-api's files, yunet/ and dlib/ beside
    mkdir -p "$tmp/prefix/bin" "$tmp/prefix/share/facetrail/models/face-api/model"
    cp "$abs_cli" "$tmp/prefix/bin/facetrail"
    for f in "$abs_models"/*; do ln -s "$f" "$tmp/prefix/share/facetrail/models/face-api/model/"; done
    run_in /tmp "$tmp/prefix/bin/facetrail" detect "$abs_demo/sample2.jpg"
    check "an installed facetrail without yunet/ and dlib/: exit 2, names the missing model" \
        '[ $rc -eq 2 ] && grep -q "yunet" "$tmp/err"'
    ln -s "$(cd models/yunet && pwd)" "$tmp/prefix/share/facetrail/models/yunet"
    ln -s "$(cd models/dlib && pwd)" "$tmp/prefix/share/facetrail/models/dlib"
    run_in /tmp "$tmp/prefix/bin/facetrail" detect "$abs_demo/sample2.jpg"
    check "$name" '[ $rc -eq 0 ] && grep -q "\"faces\":\[{\"box\"" "$tmp/out"'
fi
name="no model folder anywhere: exit 2, the message lists where it looked"
if [ -e /usr/local/share/facetrail/models/face-api/model ]; then
    skip "$name" "models installed in /usr/local"
else
    mkdir -p "$tmp/lone/bin"
    cp "$abs_cli" "$tmp/lone/bin/facetrail"
    run_in "$tmp/lone" "$tmp/lone/bin/facetrail" detect "$tmp/grey.png"
    check "$name" '[ $rc -eq 2 ] && grep -q "FT_MODEL_DIR is not set" "$tmp/err" &&
        grep -q "$tmp/lone/bin/../share/facetrail/models/face-api/model" "$tmp/err" &&
        grep -q "$tmp/lone/models/face-api/model" "$tmp/err" && grep -q "make models" "$tmp/err"'
fi

finish
