#!/bin/sh
# tests/e2e/faults_http.sh: slow and hostile clients against `facetrail serve`
# (tests/e2e/hostile.py): a client sending its headers a byte a second
# (slowloris) is cut off after --idle-timeout while GET /api/v1/status keeps
# answering fast; a 100 MiB upload gets 413 before its body is sent; a PNG
# and a JPEG whose headers claim 60000 x 60000 pixels get 413 without the
# server's peak memory growing; 10,000 headers (431) and a 1 MB URL (414)
# are refused; 300 connections at once are all answered. Then the server
# still answers and stops cleanly on SIGTERM (exit 0).
#
#   FT_CLI=build/asan/facetrail sh tests/e2e/faults_http.sh
#
# Needs python3 and the models (skipped without them). Output: TAP lines and
# "# faults_http: P passed, F failed, S skipped".
set -u
FT_CLI=${FT_CLI:-build/release/facetrail}
MODELS=${FT_MODEL_DIR:-models/face-api/model}
IDLE=2

n=0; pass=0; fail=0; skipped=0
ok() { n=$((n + 1)); pass=$((pass + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); fail=$((fail + 1)); echo "not ok $n - $1"; }
skip() { n=$((n + 1)); skipped=$((skipped + 1)); echo "ok $n - $1 # SKIP $2"; }
finish()
{
    echo "1..$n"
    echo "# faults_http: $pass passed, $fail failed, $skipped skipped"
    [ "$fail" -eq 0 ]
    exit $?
}

if [ ! -f "$MODELS/ssd_mobilenetv1_model-weights_manifest.json" ]; then
    skip "hostile clients" "models not fetched"; finish
fi
if ! command -v python3 >/dev/null 2>&1; then skip "hostile clients" "python3 not installed"; finish; fi
TMP=$(mktemp -d) || exit 1
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT

"$FT_CLI" camera add --db "$TMP/e.ftdb" --id km05 --km 5 >/dev/null 2>&1
"$FT_CLI" serve --db "$TMP/e.ftdb" --listen 127.0.0.1:0 --threads 1 --workers 1 \
    --idle-timeout $IDLE --models "$MODELS" >"$TMP/out" 2>"$TMP/err" &
pid=$!
PORT=""
i=0
while [ $i -lt 600 ] && [ -z "$PORT" ] && kill -0 "$pid" 2>/dev/null; do
    PORT=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$TMP/err")
    [ -n "$PORT" ] || sleep 0.1
    i=$((i + 1))
done
if [ -z "$PORT" ]; then not_ok "serve starts"; sed 's/^/# /' "$TMP/err"; finish; fi
ok "serve --idle-timeout $IDLE starts"
python3 tests/e2e/hostile.py "$PORT" "$pid" $IDLE models/face-api/demo/sample1.jpg >"$TMP/py" 2>&1
while IFS= read -r line; do
    case $line in
        "ok "*) ok "${line#ok }" ;;
        "FAIL "*) not_ok "${line#FAIL }" ;;
        *) echo "# $line" ;;
    esac
done <"$TMP/py"
grep -q "^ok 300 connections" "$TMP/py" || grep -q "^FAIL 300 connections" "$TMP/py" ||
    not_ok "hostile.py ran to its end"
if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"; wait "$pid"; rc=$?; pid=
    [ $rc -eq 0 ] && ok "serve survived and stops on SIGTERM (exit 0)" ||
        { not_ok "serve stops on SIGTERM (exit $rc)"; sed 's/^/# /' "$TMP/err" | tail -20; }
else
    wait "$pid"; rc=$?; pid=
    not_ok "serve crashed (exit $rc)"; sed 's/^/# /' "$TMP/err" | tail -20
fi
finish
