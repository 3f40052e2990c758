#!/bin/sh
# bench/race_bench.sh: the race benchmark. Simulates a race from LFW with
# bench_race_sim, ingests every camera's video (one thread, timed: speed as a
# multiple of real time), then, when 'facetrail search' exists, searches each
# runner's held-out query photo (timed as a whole command, start-up included)
# and scores the answers against the ground truth:
#   recall       true appearances found / true appearances, where an appearance
#                is a runner's pass at a camera, found when the search returns
#                an appearance at that camera overlapping the pass +-5 s;
#   false        returned appearances that match none of the runner's passes,
#                per search;
#   latency      wall time of 'facetrail search' (median, p90, max).
# Prints a summary table and writes OUT/report.json (default build/race).
#
# usage: sh bench/race_bench.sh [options] [-- bench_race_sim options...]
#   --runners N      runners (default 200)        --cameras K   cameras (default 8)
#   --width W        frame width (default 1920)   --height H    frame height (1080)
#   --fps F          video frame rate (10)        --seed S      seed (1)
#   --people DIR     LFW-layout folder (default /work/shared/data/lfw/images)
#   --out DIR        work folder (default build/race; its sim/ and race.ftdb are replaced)
#   --threads T      ingest and search threads (default 1)
#   --reuse          keep an existing OUT/sim (same options) instead of simulating again
#   --search-only    keep OUT's simulation, database and ingest times: search again
#   --search-args A  extra options for every 'facetrail search' (e.g. "--max-false 1")
#   --ingest-args A  extra options for every 'facetrail ingest' (e.g. "--pipeline
#                    faceapi-chip68": the face-api pipeline, for a side-by-side run)
# Environment: FT (facetrail, default build/release/facetrail), SIM (default
# build/release/bench/bench_race_sim), FT_MODEL_DIR.
#
# Run time (2 cores, release build): simulating 200 runners x 8 cameras at
# 1080p is ~8 x 3.5 min of video, a few minutes to render and encode; ingest
# runs at well below real time on one thread at 1080p (small-face tiles), so
# the full default benchmark takes hours: size it with --runners/--cameras
# and --width/--height (30 runners, 3 cameras, 1280x720: ~2 min of video).
# Queries: bench_race_sim --check-queries holds out, per runner, a photo in
# which the detector finds a face (some LFW photos have none SSD finds).
# Needs python3 for the scoring (the raw data stays in OUT otherwise).
set -eu

FT=${FT:-build/release/facetrail}
SIM=${SIM:-build/release/bench/bench_race_sim}
RUNNERS=200 CAMERAS=8 WIDTH=1920 HEIGHT=1080 FPS=10 SEED=1 THREADS=1 REUSE=0 SEARCH_ONLY=0
SEARCH_ARGS=
INGEST_ARGS=
PEOPLE=/work/shared/data/lfw/images
OUT=build/race
while [ $# -gt 0 ]; do
    case "$1" in
    --runners) RUNNERS=$2; shift 2 ;;
    --cameras) CAMERAS=$2; shift 2 ;;
    --width) WIDTH=$2; shift 2 ;;
    --height) HEIGHT=$2; shift 2 ;;
    --fps) FPS=$2; shift 2 ;;
    --seed) SEED=$2; shift 2 ;;
    --people) PEOPLE=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --reuse) REUSE=1; shift ;;
    --search-only) SEARCH_ONLY=1; REUSE=1; shift ;;
    --search-args) SEARCH_ARGS=$2; shift 2 ;;
    --ingest-args) INGEST_ARGS=$2; shift 2 ;;
    --) shift; break ;;
    -h | --help) sed -n '2,/^set -eu/p' "$0" | sed -e '/^set -eu/d' -e 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "race_bench.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
done
for bin in "$FT" "$SIM"; do
    [ -x "$bin" ] || { echo "race_bench.sh: $bin is not built (make; make $SIM)" >&2; exit 2; }
done
[ -d "$PEOPLE" ] || { echo "race_bench.sh: no people folder $PEOPLE (--people DIR)" >&2; exit 2; }

now_ns() { date +%s%N; }
mkdir -p "$OUT"
RACE=$OUT/sim
DB=$OUT/race.ftdb
TIMES=$OUT/times.tsv

# -- simulate -----------------------------------------------------------------
if [ "$REUSE" = 1 ] && [ -s "$RACE/truth.json" ]; then
    echo "race_bench: reusing $RACE"
else
    rm -rf "$RACE"
    t0=$(now_ns)
    "$SIM" --people "$PEOPLE" --out "$RACE" --runners "$RUNNERS" --cameras "$CAMERAS" \
        --width "$WIDTH" --height "$HEIGHT" --fps "$FPS" --seed "$SEED" --check-queries "$@"
    echo "race_bench: simulated in $(( ($(now_ns) - t0) / 1000000000 )) s"
fi

# -- ingest: every camera, timed ------------------------------------------------
if [ "$SEARCH_ONLY" = 1 ]; then
    [ -s "$DB" ] || { echo "race_bench.sh: --search-only needs $DB from an earlier run" >&2; exit 2; }
    grep -v '^search' "$TIMES" >"$TIMES.keep" || true
    mv "$TIMES.keep" "$TIMES"
    : >"$OUT/cameras.txt"
else
rm -f "$DB" "$DB-wal" "$DB-shm"
: >"$TIMES"
awk -F '\t' '$1 == "camera" { print $2, $3, $4, $5, $7 }' "$RACE/truth.tsv" >"$OUT/cameras.txt"
while read -r id km video start frames; do
    "$FT" camera add --db "$DB" --id "$id" --km "$km" >/dev/null
done <"$OUT/cameras.txt"
while read -r id km video start frames; do
    t0=$(now_ns)
    # shellcheck disable=SC2086
    line=$("$FT" ingest --db "$DB" --camera "$id" --start "$start" --threads "$THREADS" --quiet \
        $INGEST_ARGS "$RACE/$video")
    t1=$(now_ns)
    echo "$line"
    sightings=$(echo "$line" | sed -n 's/.* \([0-9][0-9]*\) sightings stored.*/\1/p')
    printf 'ingest\t%s\t%s\t%s\t%s\n' "$id" "$(( (t1 - t0) / 1000 ))" "$frames" \
        "${sightings:-0}" >>"$TIMES"
done <"$OUT/cameras.txt"
fi

# -- search: each runner's query photo ------------------------------------------
if "$FT" search --help >/dev/null 2>&1; then
    mkdir -p "$OUT/search"
    awk -F '\t' '$1 == "runner" { print $2 "\t" $4 }' "$RACE/truth.tsv" >"$OUT/queries.txt"
    n=0
    while IFS="$(printf '\t')" read -r runner query; do
        t0=$(now_ns)
        rc=0
        # shellcheck disable=SC2086
        "$FT" search --db "$DB" --json --threads "$THREADS" $SEARCH_ARGS "$query" >"$OUT/search/$runner.json" \
            2>"$OUT/search/$runner.err" || rc=$?
        t1=$(now_ns)
        printf 'search\t%s\t%s\t%s\n' "$runner" "$(( (t1 - t0) / 1000 ))" "$rc" >>"$TIMES"
        n=$((n + 1))
        [ $((n % 20)) -eq 0 ] && echo "race_bench: $n searches" >&2
    done <"$OUT/queries.txt"
else
    echo "race_bench: 'facetrail search' is not available: ingest numbers only"
fi

# -- score ----------------------------------------------------------------------
if ! command -v python3 >/dev/null 2>&1; then
    echo "race_bench: python3 not found: raw data in $OUT (times.tsv, search/)" >&2
    exit 0
fi
python3 - "$RACE" "$OUT" "$FPS" "$THREADS" <<'EOF'
import json, os, sys, statistics
from datetime import datetime

race, out, fps, threads = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
SLACK = 5.0  # seconds either side of a true pass

def ts(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()

truth = json.load(open(os.path.join(race, "truth.json")))
cams = {c["id"]: c for c in truth["cameras"]}
ingest, search = {}, {}
for line in open(os.path.join(out, "times.tsv")):
    f = line.rstrip("\n").split("\t")
    if f[0] == "ingest":
        ingest[f[1]] = {"wall_s": int(f[2]) / 1e6, "frames": int(f[3]), "sightings": int(f[4])}
    elif f[0] == "search":
        search[f[1]] = {"wall_s": int(f[2]) / 1e6, "rc": int(f[3])}

def pct(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(q * len(v)))] if v else float("nan")

per_cam = {}
for cid, c in cams.items():
    n_pass = len(truth["runners"])
    ing = ingest.get(cid, {"wall_s": float("nan"), "frames": c["frames"], "sightings": 0})
    video_s = c["frames"] / fps
    per_cam[cid] = {"km": c["km"], "motion": c["motion"], "video_s": round(video_s, 1),
                    "ingest_s": round(ing["wall_s"], 1),
                    "x_real_time": round(video_s / ing["wall_s"], 3) if ing["wall_s"] else None,
                    "true_passes": n_pass, "sightings": ing["sightings"],
                    "found": 0, "false": 0}

found = total = false = failed = 0
by_size = {}
latencies = []
for r in truth["runners"]:
    s = search.get(r["id"])
    if s is None:
        continue
    latencies.append(s["wall_s"])
    apps = []
    if s["rc"] == 0:
        try:
            apps = json.load(open(os.path.join(out, "search", r["id"] + ".json")))["appearances"]
        except (OSError, ValueError, KeyError):
            s["rc"] = -1
    if s["rc"] != 0:
        failed += 1
    used = set()
    for p in r["passes"]:
        a, b = ts(p["t_in"]) - SLACK, ts(p["t_out"]) + SLACK
        hit = False
        for i, ap in enumerate(apps):
            if (ap["camera"] == p["camera"] and ts(ap["first_seen"]) <= b
                    and ts(ap["last_seen"]) >= a):
                used.add(i)
                hit = True
        total += 1
        found += hit
        per_cam[p["camera"]]["found"] += hit
        band = ("1: <45" if p["face_px"] < 45 else "2: 45-60" if p["face_px"] < 60 else
                "3: 60-80" if p["face_px"] < 80 else "4: >=80")
        key = (cams[p["camera"]]["motion"], band)
        by_size.setdefault(key, [0, 0])
        by_size[key][0] += hit
        by_size[key][1] += 1
    for i, ap in enumerate(apps):
        if i not in used:
            false += 1
            if ap["camera"] in per_cam:
                per_cam[ap["camera"]]["false"] += 1

n_search = len(latencies)
report = {
    "config": {"runners": len(truth["runners"]), "cameras": len(cams), "width": truth["width"],
               "height": truth["height"], "fps": fps, "seed": truth["seed"],
               "codec": truth["codec"],
               "threads": threads, "match_slack_s": SLACK},
    "cameras": per_cam,
    "ingest": {"video_s": round(sum(c["video_s"] for c in per_cam.values()), 1),
               "wall_s": round(sum(v["wall_s"] for v in ingest.values()), 1)},
}
ig = report["ingest"]
ig["x_real_time"] = round(ig["video_s"] / ig["wall_s"], 3) if ig["wall_s"] else None
if n_search:
    report["search"] = {
        "searches": n_search, "failed": failed, "true_appearances": total, "found": found,
        "recall": round(found / total, 4) if total else None,
        "false_appearances": false, "false_per_search": round(false / n_search, 3),
        "latency_s": {"median": round(statistics.median(latencies), 3),
                      "p90": round(pct(latencies, 0.9), 3), "max": round(max(latencies), 3)},
        "recall_by_motion_and_face_px": {k[0] + " " + k[1][3:]: {
            "found": v[0], "of": v[1], "recall": round(v[0] / v[1], 3)}
            for k, v in sorted(by_size.items())},
    }
json.dump(report, open(os.path.join(out, "report.json"), "w"), indent=2)

print()
print("%-8s %6s %-9s %8s %8s %8s %7s %9s %6s %6s" % ("camera", "km", "motion", "video s",
      "ingest s", "x real", "passes", "sightings", "found", "false"))
for cid, c in sorted(per_cam.items(), key=lambda kv: kv[1]["km"]):
    print("%-8s %6.1f %-9s %8.1f %8.1f %8s %7d %9d %6s %6s" % (
        cid, c["km"], c["motion"], c["video_s"], c["ingest_s"],
        "%.3f" % c["x_real_time"] if c["x_real_time"] else "-", c["true_passes"], c["sightings"],
        c["found"] if n_search else "-", c["false"] if n_search else "-"))
ig = report["ingest"]
print("ingest: %.1f s of video in %.1f s on %d thread(s): %.3fx real time" % (
    ig["video_s"], ig["wall_s"], threads, ig["x_real_time"] or 0))
if n_search:
    s = report["search"]
    print("search: %d queries (%d failed), recall %d/%d = %.1f%%, %.2f false appearances per "
          "search, latency median %.2f s, p90 %.2f s, max %.2f s" % (
              s["searches"], s["failed"], found, total, 100 * (s["recall"] or 0),
              s["false_per_search"], s["latency_s"]["median"], s["latency_s"]["p90"],
              s["latency_s"]["max"]))
    for k, v in s["recall_by_motion_and_face_px"].items():
        print("  recall %-16s %4d/%-4d %5.1f%%" % (k, v["found"], v["of"], 100 * v["recall"]))
print("report: " + os.path.join(out, "report.json"))
EOF
