#!/bin/sh
# tests/e2e/strangers.sh: people who were not at the event get no appearance,
# on real footage. face_recognition's Hamilton clip (two people, real camera
# work) is ingested as camera km05; 100 LFW people drawn at random are
# searched with the default policy: at most 1 of them may get an appearance
# (the product's promise: a parent sees nothing for a stranger). One of the
# two people in the clip must still be found, so the policy is not simply
# "find nothing". Uses the shared evaluation data beside the repository
# (FT_SHARED, default ../shared); skipped, and said, when it is absent.
set -u
CLI=${FT_CLI:-build/release/facetrail}
SHARED=${FT_SHARED:-../shared}
DATA=$SHARED/data
CLIP=$DATA/face_recognition/examples/short_hamilton_clip.mp4
MODELS=${FT_MODEL_DIR:-models/face-api/model}
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
n=0; passed=0; failed=0; skipped=0
ok() { n=$((n + 1)); passed=$((passed + 1)); echo "ok $n - $1"; }
bad() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; sed 's/^/#   /' "$tmp/err" | head -5; }
skip() { n=$((n + 1)); skipped=$((skipped + 1)); echo "ok $n - $1 # SKIP $2"; }
finish() { echo "1..$n"; echo "# strangers: $passed passed, $failed failed, $skipped skipped"; [ "$failed" -eq 0 ]; exit; }

if [ ! -f "$CLIP" ] || [ ! -d "$DATA/lfw/images" ]; then
    skip "strangers on real footage" "no evaluation data at $DATA"
    finish
fi
if [ ! -f "$MODELS/ssd_mobilenetv1_model-weights_manifest.json" ]; then
    skip "strangers on real footage" "models not fetched"
    finish
fi
export FT_MODEL_DIR="$MODELS"
db=$tmp/hamilton.ftdb
if "$CLI" camera add --db "$db" --id km05 --km 5 >/dev/null 2>"$tmp/err" &&
   "$CLI" ingest --quiet --db "$db" --camera km05 --start 2026-04-12T09:30:00Z "$CLIP" >"$tmp/out" 2>"$tmp/err"; then
    ok "the Hamilton clip is ingested ($(sed -n 's/.*, \([0-9]*\) sightings.*/\1/p' "$tmp/out") sightings)"
else
    bad "the Hamilton clip is ingested"
    finish
fi
ex=$DATA/face_recognition/examples
if "$CLI" eval strangers --db "$db" --people "$DATA/lfw/images" --n 100 --seed 7 --json \
       "$ex/lin-manuel-miranda.png" "$ex/alex-lacamoire.png" >"$tmp/out" 2>"$tmp/err"; then
    ok "eval strangers ran: $(cat "$tmp/out")"
else
    bad "eval strangers ran"
    finish
fi
num() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" "$tmp/out"; }
searched=$(num strangers); matched=$(num strangers_matched); found=$(num known_found)
if [ "${searched:-0}" -eq 100 ] && [ "${matched:-99}" -le 1 ]; then
    ok "at least 99 of 100 strangers get no appearance ($matched matched)"
else
    bad "at least 99 of 100 strangers get no appearance (searched ${searched:-?}, matched ${matched:-?})"
fi
if [ "${found:-0}" -ge 1 ]; then
    ok "a person who is in the clip is still found ($found of 2)"
else
    bad "a person who is in the clip is still found (${found:-?} of 2)"
fi
finish
