#!/bin/sh
# tests/e2e/cluster.sh: the cluster on one machine (make cluster-test).
#
#   FT_CLI=build/release/facetrail FT_SIM=build/release/bench/bench_race_sim \
#     sh tests/e2e/cluster.sh
#
# Run from the repository root. Starts a 3-server NATS JetStream cluster on
# loopback (three nats-server processes, each with its own store folder),
# registers the 3 cameras of a simulated race in it, and starts 2 search
# nodes (facetrail serve --nats) and 2 ingest nodes (facetrail cluster
# ingest). Mid-run, as soon as an ingest node holds a camera whose video is
# not done and the stream holds a sighting, that ingest node and one NATS
# server are killed (SIGKILL), then both are started again 3 s later. When
# every camera is done and both search nodes hold every sighting:
#   - each search node holds every sighting of the single-box run (the same
#     videos ingested by `facetrail ingest` into one database) exactly once:
#     camera, ingest start, track key, times, frames, detector score,
#     descriptors (bit for bit) and thumbnail size are equal;
#   - every runner's search gives the same appearances on each search node
#     as on the single box (ids aside), and the HTTP API answers on both;
#   - exactly one search node leads the alerts.
# Ports: 3 client ports and 3 route ports from a base that depends on the
# process id (FT_NATS_BASE sets it). Everything runs in a temporary folder.
# Output: TAP lines and a closing "# cluster: P passed, F failed, S skipped".
# Skipped without nats-server or without the models.
set -u

FT_CLI=${FT_CLI:-build/release/facetrail}
FT_SIM=${FT_SIM:-build/release/bench/bench_race_sim}
MODELS=${FT_MODEL_DIR:-models/face-api/model}

n=0; pass=0; fail=0; skipped=0
ok() { n=$((n + 1)); pass=$((pass + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); fail=$((fail + 1)); echo "not ok $n - $1"; }
skip() { n=$((n + 1)); skipped=$((skipped + 1)); echo "ok $n - $1 # SKIP $2"; }
check() { if [ "$1" -eq 0 ]; then ok "$2"; else not_ok "$2"; fi; }
finish() {
    echo "# cluster: $pass passed, $fail failed, $skipped skipped"
    [ "$fail" -eq 0 ]
    exit $?
}

samples=$(ls models/face-api/demo/sample*.jpg 2>/dev/null)
if ! command -v nats-server >/dev/null 2>&1; then
    skip "a 3-server JetStream cluster, 2 ingest and 2 search nodes" "no nats-server (apt-get install nats-server)"
    finish
fi
if [ ! -d "$MODELS" ] || [ -z "$samples" ]; then
    skip "a 3-server JetStream cluster, 2 ingest and 2 search nodes" "models not fetched"
    finish
fi
for bin in "$FT_CLI" "$FT_SIM"; do
    if [ ! -x "$bin" ]; then
        not_ok "$bin is built"
        finish
    fi
done
FT=$(cd "$(dirname "$FT_CLI")" && pwd)/$(basename "$FT_CLI")

TMP=$(mktemp -d) || exit 1
PIDS=""
cleanup() {
    for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

BASE=${FT_NATS_BASE:-$((20000 + ($$ % 400) * 100))}
URLS="nats://127.0.0.1:$((BASE + 1)),nats://127.0.0.1:$((BASE + 2)),nats://127.0.0.1:$((BASE + 3))"

nats_start() { # nats_start I: server I of 3, in the background; its pid in NATS_PID_I
    i=$1
    routes=""
    for j in 1 2 3; do
        [ "$j" = "$i" ] || routes="$routes${routes:+,}nats://127.0.0.1:$((BASE + 10 + j))"
    done
    mkdir -p "$TMP/nats$i"
    nats-server -a 127.0.0.1 -p $((BASE + i)) -n "n$i" -js -sd "$TMP/nats$i" --cluster_name ft \
        --cluster "nats://127.0.0.1:$((BASE + 10 + i))" --routes "$routes" \
        >>"$TMP/nats$i.log" 2>&1 &
    eval "NATS_PID_$i=$!"
    PIDS="$PIDS $!"
}

ingest_start() { # ingest_start NAME
    "$FT" cluster ingest --nats "$URLS" --node "$1" --db "$TMP/$1.ftdb" --models "$MODELS" \
        >>"$TMP/$1.log" 2>&1 &
    eval "PID_$1=$!"
    PIDS="$PIDS $!"
}

status_json() { "$FT" cluster status --nats "$URLS" --json 2>/dev/null; }

# -- the race and its single-box run ----------------------------------------------
RACE=$TMP/race
# shellcheck disable=SC2086  # $samples: one word each
"$FT_SIM" --people-from-image $samples --models "$MODELS" --out "$RACE" --runners 12 \
    --cameras 3 --width 512 --height 288 --fps 10 --face-min 56 --face-max 90 --max-span 40 \
    --margin 1 --seed 5 --quiet >"$TMP/sim.log" 2>&1 &&
    FT=$FT DB=$TMP/single.ftdb sh "$RACE/setup.sh" --threads 1 --quiet >"$TMP/single.log" 2>&1
if [ $? -ne 0 ]; then
    sed 's/^/# /' "$TMP/sim.log" "$TMP/single.log"
    not_ok "simulate a race of 3 cameras and ingest it on a single box"
    finish
fi
ok "simulate a race of 3 cameras and ingest it on a single box"
sed 's/^/# single box: /' "$TMP/single.log" | grep ingested

# -- the cluster -------------------------------------------------------------------
for i in 1 2 3; do nats_start $i; done
t=0
until status_json >/dev/null; do
    t=$((t + 1))
    if [ $t -gt 60 ]; then
        sed 's/^/# /' "$TMP/nats1.log" | tail -20
        not_ok "JetStream cluster of 3 servers up"
        finish
    fi
    sleep 0.5
done
ok "JetStream cluster of 3 servers up"

# the cameras, from the race's setup.sh: "camera add ... --id ID --km KM" and
# "ingest ... --camera ID --start TIME ... VIDEO"
added=0
for id in $(sed -n 's/.* camera add .*--id \([^ ]*\) .*/\1/p' "$RACE/setup.sh"); do
    km=$(sed -n "s/.* camera add .*--id $id --km \([^ ]*\) .*/\1/p" "$RACE/setup.sh")
    start=$(sed -n "s/.* ingest .*--camera $id --start \([^ ]*\) .*/\1/p" "$RACE/setup.sh")
    "$FT" cluster camera add --nats "$URLS" --id "$id" --km "$km" --video "$RACE/$id.mp4" \
        --start "$start" >>"$TMP/cameras.log" 2>&1 && added=$((added + 1))
done
[ "$added" -eq 3 ]
check $? "3 cameras registered in the cluster"

for s in s1 s2; do
    "$FT" serve --db "$TMP/$s.ftdb" --listen 127.0.0.1:0 --nats "$URLS" --node "$s" --workers 1 \
        --models "$MODELS" >"$TMP/$s.log" 2>&1 &
    PIDS="$PIDS $!"
    eval "PID_$s=$!"
done
# two shard nodes: the first two cameras, and the third
cams=$(sed -n 's/.* camera add .*--id \([^ ]*\) .*/\1/p' "$RACE/setup.sh")
shard1=$(echo "$cams" | sed -n '1p;2p' | paste -sd, -)
shard2=$(echo "$cams" | sed -n '3p')
for s in h1 h2; do
    if [ $s = h1 ]; then sh=$shard1; else sh=$shard2; fi
    "$FT" serve --db "$TMP/$s.ftdb" --listen 127.0.0.1:0 --nats "$URLS" --node "$s" --workers 1 \
        --shard "$sh" --models "$MODELS" >"$TMP/$s.log" 2>&1 &
    PIDS="$PIDS $!"
    eval "PID_$s=$!"
done
port_of() { sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$TMP/$1.log" | tail -1; }
t=0
until [ -n "$(port_of s1)" ] && [ -n "$(port_of s2)" ] && [ -n "$(port_of h1)" ] && [ -n "$(port_of h2)" ]; do
    t=$((t + 1))
    [ $t -gt 300 ] && break
    sleep 0.2
done

# every search node's operators get the alerts: their event streams, from now on
for s in s1 s2; do
    curl -sN --max-time 900 "http://127.0.0.1:$(port_of $s)/api/v1/alerts" >"$TMP/$s.sse" 2>/dev/null &
    PIDS="$PIDS $!"
    eval "SSE_$s=$!"
done

# a watchlist entry made on s1 (a runner of the race) is on s2 under the same id
watched=$(ls "$RACE"/queries/*.jpg | head -1)
wid=$(curl -s -F "photo=@$watched" -F "name=runner $(basename "$watched" .jpg)" \
    -F "reason=cluster test: lost runner" "http://127.0.0.1:$(port_of s1)/api/v1/watchlist" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])' 2>/dev/null)
t=0; on_s2=""
while [ -n "$wid" ] && [ -z "$on_s2" ] && [ $t -lt 100 ]; do
    on_s2=$(curl -s "http://127.0.0.1:$(port_of s2)/api/v1/watchlist" | python3 -c '
import json, sys
print(" ".join(str(e["id"]) for e in json.load(sys.stdin) if e["id"] == int(sys.argv[1])))' "$wid" 2>/dev/null)
    [ -n "$on_s2" ] || sleep 0.2
    t=$((t + 1))
done
[ -n "$wid" ] && [ "$on_s2" = "$wid" ]
check $? "a watchlist entry added on s1 is on s2 under the same id (${wid:-none})"

ingest_start i1
ingest_start i2

# -- kill an ingest node that is mid-video, and one NATS server --------------------
victim=""
t=0
while [ -z "$victim" ] && [ $t -lt 600 ]; do
    victim=$(status_json | python3 -c '
import json, sys
s = json.load(sys.stdin)
if s["stream_messages"] > 0:
    for c in s["cameras"]:
        if c["holder"] and not c["done"]:
            print(c["holder"]); break' 2>/dev/null)
    [ -n "$victim" ] || sleep 0.2
    t=$((t + 1))
done
if [ -z "$victim" ]; then
    not_ok "an ingest node killed mid-video (no node was ingesting with sightings out)"
    sed 's/^/# /' "$TMP/i1.log" "$TMP/i2.log" | tail -20
    finish
fi
moved=$(status_json | python3 -c '
import json, sys
s = json.load(sys.stdin)
print(" ".join(c["id"] for c in s["cameras"] if c["holder"] == sys.argv[1] and not c["done"]))' "$victim")
eval "kill -9 \$PID_$victim"
kill -9 "$NATS_PID_1"
ok "ingest node $victim (cameras $moved) and NATS server n1 killed mid-video (SIGKILL)"
survivor=i1
[ "$victim" = i1 ] && survivor=i2
# the server comes back after 3 s; the node once the survivor holds its
# cameras (its holds expire 5 s after its last renewal), or after 60 s
t_kill=$(date +%s.%N)
sleep 3
nats_start 1
t=0; took_s=""
while [ $t -lt 300 ]; do
    left=$(status_json | python3 -c '
import json, sys
s = json.load(sys.stdin)
moved = sys.argv[1].split()
print(sum(1 for c in s["cameras"] if c["id"] in moved and c["holder"] != sys.argv[2] and not c["done"]))' "$moved" "$survivor" 2>/dev/null)
    if [ "${left:-1}" = 0 ]; then
        took_s=$(awk -v a="$t_kill" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
        break
    fi
    sleep 0.2
    t=$((t + 1))
done
ingest_start "$victim"
if [ -n "$took_s" ]; then
    echo "# n1 started again after 3 s; $survivor held the cameras of $victim after $took_s s; $victim started again"
else
    echo "# n1 started again after 3 s; $survivor did not hold the cameras of $victim within 60 s; $victim started again"
fi

# -- wait: every camera done, both search nodes caught up ----------------------------
expected=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from sightings").fetchone()[0])' "$TMP/single.ftdb")
count_of() { # count_of CAMERA,CAMERA...: the single box's sightings of those cameras
    python3 -c 'import sqlite3,sys; ids=sys.argv[2].split(","); print(sqlite3.connect(sys.argv[1]).execute("select count(*) from sightings where camera_id in (%s)" % ",".join("?"*len(ids)), ids).fetchone()[0])' "$TMP/single.ftdb" "$1"
}
exp_h1=$(count_of "$shard1")
exp_h2=$(count_of "$shard2")
sightings_of() { curl -s "http://127.0.0.1:$(port_of "$1")/api/v1/status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["event"]["sightings"])' 2>/dev/null; }
t=0
while :; do
    done_all=$(status_json | python3 -c '
import json, sys
s = json.load(sys.stdin)
print(int(all(c["done"] for c in s["cameras"])))' 2>/dev/null)
    c1=$(curl -s "http://127.0.0.1:$(port_of s1)/api/v1/status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["event"]["sightings"])' 2>/dev/null)
    c2=$(curl -s "http://127.0.0.1:$(port_of s2)/api/v1/status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["event"]["sightings"])' 2>/dev/null)
    h1n=$(sightings_of h1)
    h2n=$(sightings_of h2)
    [ "$done_all" = 1 ] && [ "${c1:-0}" -ge "$expected" ] && [ "${c2:-0}" -ge "$expected" ] &&
        [ "${h1n:-0}" -ge "$exp_h1" ] && [ "${h2n:-0}" -ge "$exp_h2" ] && break
    t=$((t + 1))
    if [ $t -gt 900 ]; then
        echo "# waited 180 s: cameras done $done_all, s1 $c1, s2 $c2 of $expected sightings"
        break
    fi
    sleep 0.2
done
sleep 1 # late duplicates, if any, would land now
status_json >"$TMP/status.json"
python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
print("# stream: %d messages, %d bytes" % (s["stream_messages"], s["stream_bytes"]))
for c in s["cameras"]: print("# camera %s done %s" % (c["id"], c["done"]))' "$TMP/status.json"
[ "$done_all" = 1 ]
check $? "every camera ingested to its end after the kills"
took=0
for id in $moved; do
    grep -q "camera $id (km .*): ingesting" "$TMP/$survivor.log" && took=$((took + 1))
done
[ "$took" -gt 0 ] && [ -n "$took_s" ]
check $? "$survivor took over the killed node's cameras ($took of: $moved, ${took_s:-never} s after the kill)"

# the alert leadership: exactly one search node leads, never a shard
leaders=0
for s in s1 s2 h1 h2; do
    l=$(curl -s "http://127.0.0.1:$(port_of $s)/api/v1/status" | python3 -c 'import json,sys; print(int(json.load(sys.stdin)["cluster"]["alert_leader"]))' 2>/dev/null)
    leaders=$((leaders + ${l:-0}))
done
lead_h=0
for s in h1 h2; do
    l=$(curl -s "http://127.0.0.1:$(port_of $s)/api/v1/status" | python3 -c 'import json,sys; print(int(json.load(sys.stdin)["cluster"]["alert_leader"]))' 2>/dev/null)
    lead_h=$((lead_h + ${l:-0}))
done
[ "$leaders" -eq 1 ] && [ "$lead_h" -eq 0 ]
check $? "exactly one search node raises the alerts, not a shard ($leaders, shards $lead_h)"

# the watched runner's alerts: raised, and by one node at a time (the lead
# may move while a NATS server is down: the new leader looks again at the
# last 10 s, so an alert may come from both, never twice from one)
a1=$(grep -c "facetrail serve: alert:" "$TMP/s1.log")
a2=$(grep -c "facetrail serve: alert:" "$TMP/s2.log")
twice1=$(grep -h "facetrail serve: alert:" "$TMP/s1.log" | sort | uniq -d | wc -l)
twice2=$(grep -h "facetrail serve: alert:" "$TMP/s2.log" | sort | uniq -d | wc -l)
both=$(cat "$TMP/s1.log" "$TMP/s2.log" | grep "facetrail serve: alert:" | sort | uniq -d | wc -l)
grep -h "raises the watchlist" "$TMP/s1.log" "$TMP/s2.log" | sed 's/^/# /'
[ $((a1 + a2)) -gt 0 ] && [ "$twice1" -eq 0 ] && [ "$twice2" -eq 0 ]
check $? "the watched runner's alerts are raised, none twice by one node (s1 $a1, s2 $a2, $both by both)"
sleep 1 # the last relayed alert
kill "$SSE_s1" "$SSE_s2" 2>/dev/null
cat >"$TMP/sse.py" <<'EOF'
import json, sys, urllib.request
port, path = sys.argv[1], sys.argv[2]
n = bad = 0
for line in open(path):
    if not line.startswith("data: "): continue
    a = json.loads(line[6:])
    if a.get("early") or a.get("sighting") is None:
        bad += 1; continue
    n += 1
    url = "http://127.0.0.1:%s/api/v1/sightings/%d/thumbnail" % (port, a["sighting"])
    try:
        if urllib.request.urlopen(url, timeout=5).status != 200: bad += 1
    except Exception:
        bad += 1
print(n, bad)
EOF
r1=$(python3 "$TMP/sse.py" "$(port_of s1)" "$TMP/s1.sse")
r2=$(python3 "$TMP/sse.py" "$(port_of s2)" "$TMP/s2.sse")
total=$((a1 + a2))
[ "$r1" = "$total 0" ] && [ "$r2" = "$total 0" ] && [ "$total" -gt 0 ]
check $? "both search nodes' event streams carry every alert, each with that node's own sighting (s1 ${r1% *}, s2 ${r2% *} of $total)"

# the shards hold their cameras only, and a search on one of them covers all
[ "$h1n" = "$exp_h1" ] && [ "$h2n" = "$exp_h2" ]
check $? "shard nodes hold their cameras only (h1 $h1n of $exp_h1: $shard1; h2 $h2n of $exp_h2: $shard2)"
cat >"$TMP/apps.py" <<'EOF'
import json, sys
a = json.load(open(sys.argv[1]))
print("shards %s" % a["searched"].get("shards", "-"))
for x in a["appearances"]: print(x["camera"], x["first_seen"], x["last_seen"])
EOF
agree=0; total=0; shards_ok=1
for q in "$RACE"/queries/*.jpg; do
    curl -s -F "photo=@$q" -F "reason=cluster test" "http://127.0.0.1:$(port_of s1)/api/v1/search" >"$TMP/full.json"
    curl -s -F "photo=@$q" -F "reason=cluster test" "http://127.0.0.1:$(port_of h1)/api/v1/search" >"$TMP/fan.json"
    python3 "$TMP/apps.py" "$TMP/full.json" 2>/dev/null | sed 1d | sort >"$TMP/full.txt"
    python3 "$TMP/apps.py" "$TMP/fan.json" 2>/dev/null >"$TMP/fan.all"
    head -1 "$TMP/fan.all" | grep -q "^shards 2$" || shards_ok=0
    sed 1d "$TMP/fan.all" | sort >"$TMP/fan.txt"
    total=$((total + 1))
    cmp -s "$TMP/full.txt" "$TMP/fan.txt" && [ -s "$TMP/full.txt" ] && agree=$((agree + 1))
done
echo "# $agree of $total searches on shard h1 (both shards answering: $shards_ok) give a full node's timeline"
[ "$shards_ok" = 1 ] && [ "$agree" -eq "$total" ]
check $? "a search on a shard node asks both shards and gives the full node's timeline ($agree of $total)"

# one search over HTTP on each node
q=$(ls "$RACE"/queries/*.jpg | head -1)
for s in s1 s2; do
    code=$(curl -s -o "$TMP/$s.search.json" -w '%{http_code}' -F "photo=@$q" -F "reason=cluster test" \
        "http://127.0.0.1:$(port_of $s)/api/v1/search")
    [ "$code" = 200 ]
    check $? "search node $s answers a search over HTTP ($code)"
done

# -- exactly once, and equal to the single box -------------------------------------
cat >"$TMP/dump.py" <<'EOF'
import sqlite3, sys
def dump(path):
    c = sqlite3.connect(path)
    return sorted(c.execute("""
        SELECT s.camera_id, i.start_us, s.track_key, s.first_us, s.last_us, s.best_us,
               s.n_frames, s.det_score, s.quality, s.box_x, s.box_y, s.box_w, s.box_h,
               (SELECT group_concat(hex(vec), '') FROM
                   (SELECT vec FROM descriptors d WHERE d.sighting_id = s.id ORDER BY n)),
               (SELECT length(jpeg) FROM thumbnails t WHERE t.sighting_id = s.id)
        FROM sightings s JOIN ingests i ON i.id = s.ingest_id""").fetchall())
single = dump(sys.argv[1])
node = dump(sys.argv[2])
keys = [r[:3] for r in node]
dups = len(keys) - len(set(keys))
missing = [r[:3] for r in single if r not in node]
extra = [r[:3] for r in node if r not in single]
print("# %s: %d sightings (single box %d), %d twice, %d missing, %d extra or different"
      % (sys.argv[2].split("/")[-1], len(node), len(single), dups, len(missing), len(extra)))
for r in (missing + extra)[:5]: print("#   ", r)
sys.exit(0 if node == single and dups == 0 and len(single) > 0 else 1)
EOF
for s in s1 s2; do
    python3 "$TMP/dump.py" "$TMP/single.ftdb" "$TMP/$s.ftdb"
    check $? "search node $s holds every sighting of the single box exactly once, equal"
done

cat >"$TMP/strip.py" <<'EOF'
import json, sys
def strip(o):
    if isinstance(o, dict):
        return {k: strip(v) for k, v in o.items() if k not in ("sighting", "sightings", "file", "thumbnail")}
    if isinstance(o, list):
        return [strip(v) for v in o]
    return o
print(json.dumps(strip(json.load(sys.stdin)), sort_keys=True))
EOF
same=0; total=0
for q in "$RACE"/queries/*.jpg; do
    "$FT" search --db "$TMP/single.ftdb" --models "$MODELS" --reason test --json "$q" 2>/dev/null \
        | python3 "$TMP/strip.py" >"$TMP/q.single"
    for s in s1 s2; do
        total=$((total + 1))
        "$FT" search --db "$TMP/$s.ftdb" --models "$MODELS" --reason test --json "$q" 2>/dev/null \
            | python3 "$TMP/strip.py" >"$TMP/q.$s"
        [ -s "$TMP/q.single" ] && cmp -s "$TMP/q.single" "$TMP/q.$s" && same=$((same + 1))
    done
done
echo "# $same of $total searches equal to the single box's"
[ "$same" -eq "$total" ] && [ "$total" -gt 0 ]
check $? "every runner's search on each search node equals the single box's"

# -- the cluster's tokens: taken by the search nodes without a restart -----------------
"$FT" token add --tokens "$TMP/tokens" --role operator --name "desk 1" >"$TMP/token.txt" 2>/dev/null
tok=$(tr -d '\n' <"$TMP/token.txt")
"$FT" cluster tokens --nats "$URLS" --file "$TMP/tokens" >/dev/null 2>&1
t=0; no_tok=200; with_tok=0
while [ $t -lt 100 ]; do
    no_tok=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$(port_of s2)/api/v1/watchlist")
    with_tok=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $tok" \
        "http://127.0.0.1:$(port_of s2)/api/v1/watchlist")
    [ "$no_tok" = 401 ] && [ "$with_tok" = 200 ] && break
    t=$((t + 1))
    sleep 0.2
done
[ "$no_tok" = 401 ] && [ "$with_tok" = 200 ] && [ -n "$tok" ]
check $? "the cluster's tokens reach a running search node (no token $no_tok, the token $with_tok)"

# -- the cluster's retention: the race is months old, 30 days after it is past ----------
"$FT" cluster retention --nats "$URLS" --keep-days 30 >/dev/null 2>&1
t=0
while [ $t -lt 150 ]; do
    c1=$(curl -s -H "Authorization: Bearer $tok" "http://127.0.0.1:$(port_of s1)/api/v1/status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["event"]["sightings"])' 2>/dev/null)
    c2=$(curl -s -H "Authorization: Bearer $tok" "http://127.0.0.1:$(port_of s2)/api/v1/status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["event"]["sightings"])' 2>/dev/null)
    msgs=$(status_json | python3 -c 'import json,sys; print(json.load(sys.stdin)["stream_messages"])' 2>/dev/null)
    [ "$c1" = 0 ] && [ "$c2" = 0 ] && [ "$msgs" = 0 ] && break
    t=$((t + 1))
    sleep 0.2
done
purged=$(grep -c "retention" "$TMP/s1.log" "$TMP/s2.log" "$TMP/i1.log" "$TMP/i2.log" | awk -F: '{ n += $2 } END { print n }')
[ "$c1" = 0 ] && [ "$c2" = 0 ] && [ "$msgs" = 0 ]
check $? "retention: both search nodes purged and the stream emptied (s1 $c1, s2 $c2 sightings, stream $msgs; $purged log lines)"

# -- every node stops cleanly -------------------------------------------------------
for s in s1 s2 h1 h2 i1 i2; do eval "kill \$PID_$s" 2>/dev/null; done
bad_exit=""
for s in s1 s2 h1 h2 i1 i2; do
    eval "wait \$PID_$s"
    [ $? -eq 0 ] || bad_exit="$bad_exit $s"
done
reports=$(cat "$TMP"/s1.log "$TMP"/s2.log "$TMP"/h1.log "$TMP"/h2.log "$TMP"/i1.log "$TMP"/i2.log | grep -c "Sanitizer")
[ -z "$bad_exit" ] && [ "$reports" -eq 0 ]
check $? "every node stops cleanly on SIGTERM, no sanitizer report (exit not 0:${bad_exit:- none}; $reports reports)"
[ "$reports" -eq 0 ] || grep -h -A12 "Sanitizer" "$TMP"/s1.log "$TMP"/s2.log "$TMP"/i1.log "$TMP"/i2.log | head -60 | sed 's/^/# /'


for s in i1 i2; do
    grep -h "ingesting\|ingested\|hold lost\|retrying" "$TMP/$s.log" | sed "s/^facetrail cluster:/# $s:/"
done
finish
