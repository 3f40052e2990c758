#!/bin/sh
# bench/cluster_ingest.sh: ingest throughput of the cluster with 1, 2 and 4
# ingest processes, beside a single box, in one run on this machine.
#
#   sh bench/cluster_ingest.sh [OUT]        (default build/cluster_ingest)
#
# A simulated race (bench_race_sim: the sample photos' people, CAMERAS
# cameras at WIDTHxHEIGHT, 10 fps, clips of about SPAN + 2 s) is ingested:
#   - single box: `facetrail ingest` of every video, one after the other,
#     into one database (one process; --threads 1, as ingest's default);
#   - cluster, for N in NODES (default "1 2 4"): a fresh 3-server JetStream
#     cluster on loopback, the cameras registered, one search node
#     (`facetrail serve --nats`) and N ingest nodes (`facetrail cluster
#     ingest`) started together; the time runs until every camera is done
#     and the search node holds every sighting.
# Printed: per run the wall time, video seconds ingested per wall second
# (x real time), sightings per second, the ratio to the single box, and the
# stream's bytes per sighting (3 replicas store 3 times that). The same as
# JSON in OUT/cluster_ingest.json.
# Environment: FT, SIM (binaries; default build/release/...), CAMERAS (6),
# WIDTH (1280), HEIGHT (720), SPAN (20), NODES ("1 2 4"), FT_NATS_BASE.
set -eu
FT=${FT:-build/release/facetrail}
SIM=${SIM:-build/release/bench/bench_race_sim}
OUT=${1:-build/cluster_ingest}
CAMERAS=${CAMERAS:-6}
WIDTH=${WIDTH:-1280}
HEIGHT=${HEIGHT:-720}
SPAN=${SPAN:-20}
NODES=${NODES:-1 2 4}
MODELS=${FT_MODEL_DIR:-models/face-api/model}
command -v nats-server >/dev/null || { echo "no nats-server (make deps)" >&2; exit 2; }
FT=$(cd "$(dirname "$FT")" && pwd)/$(basename "$FT")
rm -rf "$OUT"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
BASE=${FT_NATS_BASE:-$((24000 + ($$ % 300) * 10))}
URLS="nats://127.0.0.1:$((BASE + 1)),nats://127.0.0.1:$((BASE + 2)),nats://127.0.0.1:$((BASE + 3))"
PIDS=""
trap 'for p in $PIDS; do kill -9 $p 2>/dev/null; done; wait 2>/dev/null' EXIT INT TERM

# shellcheck disable=SC2046  # the sample photos, one word each
"$SIM" --people-from-image $(ls models/face-api/demo/sample*.jpg) --models "$MODELS" \
    --out "$OUT/race" --runners 20 --cameras "$CAMERAS" --width "$WIDTH" --height "$HEIGHT" \
    --fps 10 --face-min 50 --face-max 110 --max-span "$SPAN" --margin 1 --seed 7 --quiet
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# -- single box ------------------------------------------------------------------------
t0=$(now)
FT=$FT DB=$OUT/single.ftdb sh "$OUT/race/setup.sh" --threads 1 --quiet >"$OUT/single.log" 2>&1
t1=$(now)
single_s=$(elapsed "$t0" "$t1")
# the video's length from ingest's summaries: "stored in S s (X.XXx real time)"
video_s=$(sed -n 's/.* stored in \([0-9.]*\) s (\([0-9.]*\)x real time.*/\1 \2/p' "$OUT/single.log" |
    awk '{ v += $1 * $2 } END { printf "%.1f", v }')
expected=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from sightings").fetchone()[0])' "$OUT/single.ftdb")
echo "single box: $expected sightings from $video_s s of video in $single_s s" >&2

# -- the cluster, N ingest nodes ---------------------------------------------------------
run_cluster() { # run_cluster N
    N=$1
    D=$OUT/n$N
    mkdir -p "$D"
    P=""
    for i in 1 2 3; do
        routes=""
        for j in 1 2 3; do [ "$j" = "$i" ] || routes="$routes${routes:+,}nats://127.0.0.1:$((BASE + 10 + j))"; done
        nats-server -a 127.0.0.1 -p $((BASE + i)) -n "n$i" -js -sd "$D/nats$i" --cluster_name ft \
            --cluster "nats://127.0.0.1:$((BASE + 10 + i))" --routes "$routes" >"$D/nats$i.log" 2>&1 &
        P="$P $!"
    done
    PIDS="$PIDS $P"
    until "$FT" cluster status --nats "$URLS" >/dev/null 2>&1; do sleep 0.3; done
    for id in $(sed -n 's/.* camera add .*--id \([^ ]*\) .*/\1/p' "$OUT/race/setup.sh"); do
        km=$(sed -n "s/.* camera add .*--id $id --km \([^ ]*\) .*/\1/p" "$OUT/race/setup.sh")
        start=$(sed -n "s/.* ingest .*--camera $id --start \([^ ]*\) .*/\1/p" "$OUT/race/setup.sh")
        "$FT" cluster camera add --nats "$URLS" --id "$id" --km "$km" --video "$OUT/race/$id.mp4" \
            --start "$start" >/dev/null
    done
    "$FT" serve --db "$D/search.ftdb" --listen 127.0.0.1:0 --nats "$URLS" --node s1 --workers 1 \
        --models "$MODELS" >"$D/s1.log" 2>&1 &
    P="$P $!"
    PIDS="$PIDS $!"
    while ! grep -q "listening on" "$D/s1.log"; do sleep 0.1; done
    port=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$D/s1.log")
    t0=$(now)
    i=1
    while [ $i -le "$N" ]; do
        "$FT" cluster ingest --nats "$URLS" --node "i$i" --db "$D/i$i.ftdb" --models "$MODELS" \
            >"$D/i$i.log" 2>&1 &
        P="$P $!"
        PIDS="$PIDS $!"
        i=$((i + 1))
    done
    while :; do
        got=$(curl -s "http://127.0.0.1:$port/api/v1/status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["event"]["sightings"])' 2>/dev/null || echo 0)
        [ "${got:-0}" -ge "$expected" ] && break
        sleep 0.2
    done
    t1=$(now)
    "$FT" cluster status --nats "$URLS" --json >"$D/status.json"
    for p in $P; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null || true
    echo "$N $(elapsed "$t0" "$t1") $(python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print(s["stream_messages"], s["stream_bytes"])' "$D/status.json")"
}

: >"$OUT/runs.txt"
for N in $NODES; do
    run_cluster "$N" | tee -a "$OUT/runs.txt" >&2
done

python3 - "$OUT" "$video_s" "$single_s" "$expected" "$WIDTH" "$HEIGHT" "$CAMERAS" <<'EOF'
import json, sys
out, video, single, expected = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
runs = []
for line in open(out + "/runs.txt"):
    n, secs, msgs, nbytes = line.split()
    runs.append({"ingest_processes": int(n), "seconds": float(secs), "stream_messages": int(msgs),
                 "stream_bytes": int(nbytes)})
print("%d cameras %sx%s, %.0f s of video, %d sightings" % (int(sys.argv[7]), sys.argv[5], sys.argv[6], video, expected))
print("%-28s %8s %12s %12s %10s %14s" % ("run", "wall s", "x real time", "sightings/s", "vs single", "bytes/sighting"))
print("%-28s %8.1f %12.2f %12.1f %10s %14s" % ("single box (facetrail ingest)", single, video / single, expected / single, "1.00", "-"))
for r in runs:
    print("%-28s %8.1f %12.2f %12.1f %10.2f %14.0f" % ("cluster, %d ingest process%s" % (r["ingest_processes"], "" if r["ingest_processes"] == 1 else "es"),
          r["seconds"], video / r["seconds"], expected / r["seconds"], single / r["seconds"],
          r["stream_bytes"] / max(1, r["stream_messages"])))
json.dump({"video_seconds": video, "sightings": expected, "single_box_seconds": single, "runs": runs},
          open(out + "/cluster_ingest.json", "w"), indent=1)
EOF
