#!/bin/sh
# tests/e2e/fuzz_replay.sh: every fuzz target over its committed corpus
# (fuzz/corpus/<target>/: the seeds and the inputs of fixed fuzzer finds),
# through the replay programs $FT_BUILD/fuzz/<target> (fuzz/replay.c; make
# tests builds them, under ASan + UBSan in make check). No clang needed.
#
#   FT_BUILD=build/asan sh tests/e2e/fuzz_replay.sh
#
# A target passes when it ran every input without a crash, a sanitizer
# report or a leak; the replay program names the input that failed. One
# target over 5 minutes is a failure (a hang). Output: TAP lines, "1..N" and
# "# fuzz replay: P passed, F failed, S skipped".
set -u
B=${FT_BUILD:-build/release}
TARGETS="dlib http image lfw_pairs manifest onnx replica store video wider"
n=0; pass=0; fail=0; skipped=0
log=$(mktemp) || exit 1
trap 'rm -f "$log"' EXIT
to=""
command -v timeout >/dev/null 2>&1 && to="timeout 300"
for t in $TARGETS; do
    n=$((n + 1))
    if [ ! -x "$B/fuzz/$t" ]; then
        skipped=$((skipped + 1)); echo "ok $n - $t # SKIP $B/fuzz/$t not built (make tests)"
        continue
    fi
    $to "$B/fuzz/$t" -n "$n" "$t" "fuzz/corpus/$t" >"$log" 2>&1
    rc=$?
    if [ "$rc" -eq 0 ] && grep -q "^ok $n " "$log"; then
        pass=$((pass + 1)); grep "^ok $n " "$log"
    else
        fail=$((fail + 1))
        if grep -q "^not ok $n " "$log"; then
            grep "^not ok $n " "$log"
        else
            echo "not ok $n - $t: exit status $rc"
        fi
        grep -v "^not ok " "$log" | grep -E 'ERROR|SUMMARY|runtime error|#[0-9]+ ' | head -12 |
            sed 's/^/#   /' | cut -c1-200
    fi
done
echo "1..$n"
echo "# fuzz replay: $pass passed, $fail failed, $skipped skipped"
[ "$fail" -eq 0 ]
