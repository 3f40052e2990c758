#!/bin/sh
# bench/cluster_replay.sh: how fast the cluster moves sightings: an ingest
# node whose local store already holds an event publishes all of it into a
# 3-server JetStream cluster on loopback, and SEARCH search nodes apply it.
#
#   sh bench/cluster_replay.sh [OUT]        (default build/cluster_replay)
#
# The event is a copy of EVENT (default build/scale/all.ftdb, the
# 6,805-runner event bench/race_scale writes: 52,848 sightings, 103,838
# descriptors). No camera is registered, so the ingest node ingests nothing:
# its publisher sends the store's sightings from the start. Printed: the
# sightings, the time until the stream holds them all (publish rate), until
# every search node holds them all (end to end), the stream's bytes per
# sighting and its files on disk per server (each server keeps one replica).
# Environment: FT (default build/release/facetrail), EVENT, SEARCH (2),
# FT_NATS_BASE.
set -eu
FT=${FT:-build/release/facetrail}
EVENT=${EVENT:-build/scale/all.ftdb}
SEARCH=${SEARCH:-2}
OUT=${1:-build/cluster_replay}
MODELS=${FT_MODEL_DIR:-models/face-api/model}
command -v nats-server >/dev/null || { echo "no nats-server (make deps)" >&2; exit 2; }
[ -f "$EVENT" ] || { echo "no $EVENT: run bench/race_scale first, or set EVENT" >&2; exit 2; }
FT=$(cd "$(dirname "$FT")" && pwd)/$(basename "$FT")
rm -rf "$OUT"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
BASE=${FT_NATS_BASE:-$((26000 + ($$ % 300) * 10))}
URLS="nats://127.0.0.1:$((BASE + 1)),nats://127.0.0.1:$((BASE + 2)),nats://127.0.0.1:$((BASE + 3))"
PIDS=""
trap 'for p in $PIDS; do kill -9 $p 2>/dev/null; done; wait 2>/dev/null' EXIT INT TERM
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

sqlite3 "$EVENT" ".backup '$OUT/ingest.ftdb'" 2>/dev/null || cp "$EVENT" "$OUT/ingest.ftdb"
n=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from sightings").fetchone()[0])' "$OUT/ingest.ftdb")
for i in 1 2 3; do
    routes=""
    for j in 1 2 3; do [ "$j" = "$i" ] || routes="$routes${routes:+,}nats://127.0.0.1:$((BASE + 10 + j))"; done
    nats-server -a 127.0.0.1 -p $((BASE + i)) -n "n$i" -js -sd "$OUT/nats$i" --cluster_name ft \
        --cluster "nats://127.0.0.1:$((BASE + 10 + i))" --routes "$routes" >"$OUT/nats$i.log" 2>&1 &
    PIDS="$PIDS $!"
done
until "$FT" cluster status --nats "$URLS" >/dev/null 2>&1; do sleep 0.3; done
ports=""
k=1
while [ $k -le "$SEARCH" ]; do
    "$FT" serve --db "$OUT/s$k.ftdb" --listen 127.0.0.1:0 --nats "$URLS" --node "s$k" --workers 1 \
        --models "$MODELS" >"$OUT/s$k.log" 2>&1 &
    PIDS="$PIDS $!"
    while ! grep -q "listening on" "$OUT/s$k.log"; do sleep 0.1; done
    ports="$ports $(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$OUT/s$k.log")"
    k=$((k + 1))
done
t0=$(now)
"$FT" cluster ingest --nats "$URLS" --node r1 --db "$OUT/ingest.ftdb" --models "$MODELS" \
    >"$OUT/r1.log" 2>&1 &
PIDS="$PIDS $!"
t_pub=""
while :; do
    msgs=$("$FT" cluster status --nats "$URLS" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["stream_messages"])')
    [ -z "$t_pub" ] && [ "$msgs" -ge "$n" ] && t_pub=$(now)
    all=1
    for p in $ports; do
        got=$(curl -s "http://127.0.0.1:$p/api/v1/status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["event"]["sightings"])' 2>/dev/null || echo 0)
        [ "${got:-0}" -ge "$n" ] || all=0
    done
    [ -n "$t_pub" ] && [ "$all" = 1 ] && break
    sleep 0.5
done
t_all=$(now)
"$FT" cluster status --nats "$URLS" --json >"$OUT/status.json"
bytes=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["stream_bytes"])' "$OUT/status.json")
disk=$(du -sb "$OUT/nats1" | cut -f1)
pub_s=$(elapsed "$t0" "$t_pub")
all_s=$(elapsed "$t0" "$t_all")
awk -v n="$n" -v p="$pub_s" -v a="$all_s" -v b="$bytes" -v d="$disk" -v s="$SEARCH" 'BEGIN {
    printf "%d sightings: in the stream after %.1f s (%.0f/s), on all %d search nodes after %.1f s (%.0f/s)\n", n, p, n / p, s, a, n / a
    printf "stream: %.0f bytes per sighting; %.1f MB on disk per server (one replica each)\n", b / n, d / 1e6
}' | tee "$OUT/result.txt"
