#!/bin/sh
# fuzz/run.sh: runs each libFuzzer target for a while and prints a table.
#
#   sh fuzz/run.sh build/fuzz SECONDS TARGET...      (make fuzz FUZZ_SECONDS=N)
#
# Each target BUILD/fuzz/bin/TARGET runs for SECONDS s on its committed corpus
# fuzz/corpus/TARGET/ (read only) and its work folder BUILD/work/TARGET/,
# where the new inputs it finds are written (kept between runs, so a later
# run starts from them). A crash, a sanitizer report, a leak, a timeout
# (10 s for one input) or an out-of-memory (2 GB) stops the target and leaves
# its input in BUILD/crashes/TARGET-*; the log is BUILD/logs/TARGET.log.
# Output: one line per target (executions, executions per second, corpus
# size, result), then "fuzz: N targets, K failed". Exit 1 if any failed.
set -u
B=$1; SECONDS_EACH=$2; shift 2
mkdir -p "$B/crashes" "$B/logs"
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=0; n=0
printf '%-10s %12s %8s %8s  %s\n' target execs exec/s corpus result
for t in "$@"; do
    n=$((n + 1))
    mkdir -p "$B/work/$t"
    log="$B/logs/$t.log"
    "$B/fuzz/bin/$t" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$B/crashes/$t-" \
        "$B/work/$t" "fuzz/corpus/$t" >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    units=$(($(ls "$B/work/$t" | wc -l) + $(ls "fuzz/corpus/$t" | wc -l)))
    if [ "$rc" -eq 0 ]; then
        result=ok
    else
        failed=$((failed + 1))
        art=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
        why=$(grep -m1 -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error)' "$log" | cut -c1-100)
        result="FAILED (exit $rc) ${art:-see $log}: $why"
    fi
    printf '%-10s %12s %8s %8s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "$units" "$result"
done
echo "fuzz: $n targets, $failed failed"
[ "$failed" -eq 0 ]
