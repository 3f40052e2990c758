#!/bin/sh
# Runs every test binary given, then the CLI tests, and prints one closing line
# "tests: N passed, N failed, N skipped". Exit 1 if anything failed.
# FT_BUILD names the build folder (for the CLI binary).
set -u
pass=0; fail=0; skip=0
log=$(mktemp); trap 'rm -f "$log"' EXIT
for t in "$@" tests/cli/*.sh tests/e2e/race_small.sh tests/e2e/race_scale_small.sh tests/e2e/serve.sh tests/e2e/browser.sh tests/e2e/ingest_resume.sh tests/e2e/ingest_guard.sh tests/e2e/ingest_live.sh tests/e2e/strangers.sh tests/e2e/fuzz_replay.sh tests/e2e/faults_kill.sh tests/e2e/faults_disk.sh tests/e2e/faults_http.sh; do
    [ -e "$t" ] || continue
    case "$t" in
        *.sh) FT_CLI="${FT_BUILD:-build/release}/facetrail" \
              FT_SIM="${FT_BUILD:-build/release}/bench/bench_race_sim" \
              FT_SCALE="${FT_BUILD:-build/release}/bench/bench_race_scale" sh "$t" >"$log" 2>&1 ;;
        *)    "$t" >"$log" 2>&1 ;;
    esac
    cat "$log"
    p=$(grep -c '^ok ' "$log"); p=${p:-0}
    s=$(grep -c '^ok .*# SKIP' "$log"); s=${s:-0}
    f=$(grep -c '^not ok' "$log"); f=${f:-0}
    # a binary that crashed before printing its plan counts as one failure
    if ! grep -q '^# .*passed' "$log" && ! grep -q '^1\.\.' "$log"; then f=$((f+1)); fi
    pass=$((pass + p - s)); skip=$((skip + s)); fail=$((fail + f))
done
echo "tests: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
