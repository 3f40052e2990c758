"""tests/e2e/http_check.py: the HTTP checks of tests/e2e/serve.sh.

    python3 tests/e2e/http_check.py open|tokens PORT PHOTO
    python3 tests/e2e/http_check.py alerts PORT PHOTO INGEST_COMMAND...

Prints one line per check ("ok ..." / "FAIL ...") and exits 1 if any failed.
Standard library only.
"""
import json
import sys
import urllib.error
import urllib.request
import uuid

MODE, PORT, PHOTO = sys.argv[1], sys.argv[2], sys.argv[3]
BASE = "http://127.0.0.1:%s" % PORT
failed = 0


def say(ok, what):
    global failed
    print(("ok " if ok else "FAIL ") + what)
    failed += 0 if ok else 1


def request(method, path, body=None, headers=None):
    req = urllib.request.Request(BASE + path, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read()


def form(fields, files, token=None, path="/api/v1/search"):
    b = uuid.uuid4().hex
    body = b""
    fields = dict({"reason": "case 1: a test"}, **fields)  # every search gives a case reason
    for k, v in fields.items():
        if v is None:
            continue
        body += ('--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' % (b, k, v)).encode()
    for k, name, data in files:
        body += ('--%s\r\nContent-Disposition: form-data; name="%s"; filename="%s"\r\n'
                 'Content-Type: image/jpeg\r\n\r\n' % (b, k, name)).encode() + data + b"\r\n"
    body += ("--%s--\r\n" % b).encode()
    h = {"Content-Type": "multipart/form-data; boundary=" + b}
    if token:
        h["Authorization"] = "Bearer " + token
    return request("POST", path, body, h)


def error_is(resp, status, code):
    s, t, b = resp
    try:
        j = json.loads(b)
    except ValueError:
        return False
    return s == status and t.startswith("application/json") and j.get("code") == code and j.get("error")


photo = open(PHOTO, "rb").read()

if MODE == "open":
    s, t, b = request("GET", "/api/v1/status")
    j = json.loads(b) if s == 200 else {}
    say(s == 200 and j.get("event", {}).get("sightings", 0) > 0 and len(j.get("cameras", [])) == 3,
        "GET /api/v1/status: the event's counts and 3 cameras")
    s, t, b = request("GET", "/api/v1/cameras")
    say(s == 200 and [c["id"] for c in json.loads(b)][0].startswith("km"), "GET /api/v1/cameras")
    s, t, b = request("GET", "/")
    say(s == 200 and t.startswith("text/html") and b"/api/v1/search" in b, "GET /: the operator's page")
    s, t, b = form({"possible": "1"}, [("photo", "p.jpg", photo)])
    j = json.loads(b) if s == 200 else {}
    apps = j.get("appearances", [])
    say(s == 200 and j.get("searched", {}).get("photos") == 1 and len(apps) > 0
        and all(a["thumbnail"].startswith("/api/v1/sightings/") for a in apps),
        "POST /api/v1/search with a runner's photo: appearances with thumbnail links (%d)" % len(apps))
    if apps:
        s, t, b = request("GET", apps[0]["thumbnail"])
        say(s == 200 and t == "image/jpeg" and b[:3] == b"\xff\xd8\xff", "a thumbnail link answers its JPEG")
    # 8 searches at once: every one answers, with the same appearances as one alone
    import threading
    results = []

    def one():
        results.append(form({"possible": "1"}, [("photo", "p.jpg", photo)]))

    ts = [threading.Thread(target=one) for _ in range(8)]
    for th in ts:
        th.start()
    for th in ts:
        th.join()
    same = [json.loads(b2)["appearances"] == apps for s2, t2, b2 in results if s2 == 200]
    say(len(results) == 8 and len(same) == 8 and all(same), "8 searches at once: 8 answers, all the same")
    s, t, b = form({}, [("photo", "a.jpg", photo), ("photo", "b.jpg", photo)])
    say(s == 200 and json.loads(b)["searched"]["photos"] == 2, "two photos of one person are searched together")
    say(error_is(form({}, []), 400, "no_photo"), "a search without a photo: 400 no_photo")
    say(error_is(form({}, [("photo", "x.jpg", b"not a photo")]), 400, "bad_photo"), "a damaged photo: 400 bad_photo")
    say(error_is(form({"since": "2026-02-30T10:00Z"}, [("photo", "p.jpg", photo)]), 400, "bad_time"),
        "an impossible date: 400 bad_time")
    say(error_is(request("GET", "/api/v1/search"), 405, "method"), "GET on search: 405")
    say(error_is(request("GET", "/api/v1/nothing"), 404, "not_found"), "an unknown route: 404")
    say(error_is(request("GET", "/api/v1/sightings/99999999/thumbnail"), 404, "not_found"),
        "an unknown sighting: 404")
    say(error_is(request("GET", "/api/v1/sightings/../../etc/passwd/thumbnail"), 404, "not_found"),
        "a path with ../ : 404")
    say(error_is(request("POST", "/api/v1/search", b"hello", {"Content-Type": "text/plain"}), 415, "not_a_form"),
        "a plain body: 415")
elif MODE == "alerts":
    def iso_s(iso):  # "2026-12-06T21:40:00.123Z" as seconds since the epoch
        import calendar
        main, frac = (iso[:-1].split(".") + ["0"])[:2]
        return calendar.timegm(time.strptime(main, "%Y-%m-%dT%H:%M:%S")) + float("0." + frac)

    # argv[4:]: the ingest command that commits the person's sightings
    import subprocess
    import threading
    import time

    got = []

    def listen():
        try:
            with urllib.request.urlopen(BASE + "/api/v1/alerts", timeout=300) as r:
                say(r.headers.get("Content-Type", "").startswith("text/event-stream"),
                    "GET /api/v1/alerts is an event stream")
                event = "message"
                for line in r:
                    line = line.decode().rstrip("\n")
                    if line.startswith("event: "):
                        event = line[7:]
                    elif line.startswith("data: "):
                        a = json.loads(line[6:])
                        a["_event"] = event
                        got.append((time.time(), a))
                    elif not line:
                        event = "message"
        except Exception as e:  # the server stopping ends the stream
            got.append((time.time(), {"stream_error": str(e)}))

    # a webhook receiver that fails its first delivery (HTTP 500) and takes the retry
    import http.server

    hooks = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            hooks.append((time.time(), json.loads(body)))
            self.send_response(500 if len(hooks) == 1 else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    hook_url = "http://127.0.0.1:%d/alerts" % receiver.server_address[1]

    s, t, b = request("POST", "/api/v1/watchlist", None)
    say(s == 400, "a watchlist entry without a form: 400")
    b3 = uuid.uuid4().hex
    body = ('--%s\r\nContent-Disposition: form-data; name="name"\r\n\r\nX\r\n'
            '--%s\r\nContent-Disposition: form-data; name="reason"\r\n\r\nx\r\n'
            '--%s\r\nContent-Disposition: form-data; name="webhook"\r\n\r\nhttps://example.org/h\r\n'
            '--%s\r\nContent-Disposition: form-data; name="photo"; filename="q.jpg"\r\n'
            'Content-Type: image/jpeg\r\n\r\n' % (b3, b3, b3, b3)).encode() + photo + ("\r\n--%s--\r\n" % b3).encode()
    say(error_is(request("POST", "/api/v1/watchlist", body, {"Content-Type": "multipart/form-data; boundary=" + b3}),
                 400, "bad_webhook"), "an https webhook: 400 (not delivered)")
    b2 = uuid.uuid4().hex
    body = ('--%s\r\nContent-Disposition: form-data; name="name"\r\n\r\nRunner R\r\n'
            '--%s\r\nContent-Disposition: form-data; name="reason"\r\n\r\ncase 1: lost\r\n'
            '--%s\r\nContent-Disposition: form-data; name="webhook"\r\n\r\n%s\r\n'
            '--%s\r\nContent-Disposition: form-data; name="photo"; filename="q.jpg"\r\n'
            'Content-Type: image/jpeg\r\n\r\n' % (b2, b2, b2, hook_url, b2)).encode() + photo + ("\r\n--%s--\r\n" % b2).encode()
    s, t, b = request("POST", "/api/v1/watchlist", body, {"Content-Type": "multipart/form-data; boundary=" + b2})
    wid = json.loads(b).get("id") if s == 201 else None
    say(s == 201 and wid, "POST /api/v1/watchlist: 201 with the entry's id")
    s, t, b = request("GET", "/api/v1/watchlist")
    lst = json.loads(b) if s == 200 else []
    say(len(lst) == 1 and lst[0]["name"] == "Runner R" and lst[0]["reason"] == "case 1: lost"
        and lst[0]["photos"] == 1, "GET /api/v1/watchlist lists it")
    th = threading.Thread(target=listen, daemon=True)
    th.start()
    time.sleep(1.0)
    t0 = time.time()
    ing = subprocess.run(sys.argv[4:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    t1 = time.time()
    say(ing.returncode == 0, "the camera is ingested beside the server (%.1f s)" % (t1 - t0))
    deadline = time.time() + 10
    while time.time() < deadline and not any("watchlist" in a for _, a in got):
        time.sleep(0.1)
    alerts = [(when, dict((k, v) for k, v in a.items() if k != "_event")) for when, a in got
              if a.get("watchlist") == wid and a.get("_event") == "alert"]
    keys = {"watchlist", "name", "camera", "km", "time", "score", "expected_false", "sighting", "thumbnail"}
    say(len(alerts) > 0 and keys <= set(alerts[0][1]) and alerts[0][1]["expected_false"] <= 0.01
        and alerts[0][1]["time"].endswith("Z"),
        "an alert for the entry, with its fields (%d alerts; the first %.1f s after the ingest began)"
        % (len(alerts), alerts[0][0] - t0 if alerts else -1))
    if alerts:
        deadline = time.time() + 10
        while time.time() < deadline and len(hooks) < 2:
            time.sleep(0.2)
        say(len(hooks) >= 2 and hooks[0][1] == alerts[0][1] and hooks[1][1] == alerts[0][1]
            and hooks[1][0] - hooks[0][0] >= 0.9,
            "the webhook got the alert's JSON, and again after its HTTP 500 (%d posts, %.1f s apart)"
            % (len(hooks), hooks[1][0] - hooks[0][0] if len(hooks) > 1 else -1))
        s, t, b = request("GET", alerts[0][1]["thumbnail"])
        say(s == 200 and t == "image/jpeg", "the alert's thumbnail answers")
        sid = alerts[0][1]["sighting"]
        hdr = {"Content-Type": "application/json"}
        s, t, b = request("POST", "/api/v1/watchlist/%d/dismiss" % wid, json.dumps({"sighting": sid}).encode(), hdr)
        say(s == 200 and json.loads(b).get("dismissed") == sid, "dismiss: 200")
        say(error_is(request("POST", "/api/v1/watchlist/99999/dismiss", json.dumps({"sighting": sid}).encode(), hdr),
                     404, "not_found"), "dismiss for an unknown entry: 404")
    s, t, b = form({}, [("photo", "p.jpg", photo)])
    say(s == 200 and len(json.loads(b)["appearances"]) > 0,
        "a search sees the sightings committed since the server started")
    s, t, b = request("DELETE", "/api/v1/watchlist/%d" % wid)
    say(s == 200, "DELETE /api/v1/watchlist/{id}: 200")
    say(error_is(request("DELETE", "/api/v1/watchlist/%d" % wid), 404, "not_found"), "deleting it twice: 404")
    # a camera ingested live by the server (the second camera's video read as a stream)
    import os
    cam, km, url = os.environ.get("LIVE_CAM"), os.environ.get("LIVE_KM"), os.environ.get("LIVE_URL")
    if cam:
        hdr = {"Content-Type": "application/json"}
        # the same person on the watchlist again: the live camera alerts while the
        # track is in view (early, no sighting yet), then names its sighting
        b4 = uuid.uuid4().hex
        body = ('--%s\r\nContent-Disposition: form-data; name="name"\r\n\r\nRunner R live\r\n'
                '--%s\r\nContent-Disposition: form-data; name="reason"\r\n\r\ncase 2\r\n'
                '--%s\r\nContent-Disposition: form-data; name="photo"; filename="q.jpg"\r\n'
                'Content-Type: image/jpeg\r\n\r\n' % (b4, b4, b4)).encode() + photo + ("\r\n--%s--\r\n" % b4).encode()
        s, t, b = request("POST", "/api/v1/watchlist", body, {"Content-Type": "multipart/form-data; boundary=" + b4})
        wid2 = json.loads(b).get("id") if s == 201 else None
        time.sleep(0.5)
        s, t, b = request("POST", "/api/v1/cameras", json.dumps({"id": cam, "km": float(km), "url": url}).encode(), hdr)
        say(s == 201 and json.loads(b).get("live") is True, "POST /api/v1/cameras with a url: 201, live")
        state, live = None, {}
        deadline = time.time() + 60
        while time.time() < deadline and state not in ("stopped", "ended"):
            time.sleep(0.5)
            s, t, b = request("GET", "/api/v1/status")
            live = [c["live"] for c in json.loads(b)["cameras"] if c["id"] == cam][0] or {}
            state = live.get("state")
        time.sleep(2.0)  # the last sighting's event
        mine = [(when, a) for when, a in got if a.get("watchlist") == wid2]
        early = [a for _, a in mine if a["_event"] == "alert" and a.get("early") is True]
        follow = [a for _, a in mine if a["_event"] == "sighting"]
        say(len(early) > 0 and early[0]["sighting"] is None and early[0]["camera"] == cam
            and early[0]["track"].startswith(cam + "/") and early[0]["first_seen"] <= early[0]["time"],
            "a live camera alerts while the track is in view (%d early alerts of %d events; the first %.2f s "
            "after its frame)" % (len(early), len(mine), [w for w, a in mine if a is early[0]][0] - iso_s(early[0]["time"])
                                  if early else -1))
        if early:
            s, t, b = request("GET", early[0]["thumbnail"])
            say(s == 200 and t == "image/jpeg" and b[:2] == b"\xff\xd8", "the early alert's thumbnail answers")
            f = [a for a in follow if a["track"] == early[0]["track"]]
            say(len(f) == 1 and isinstance(f[0]["sighting"], int) and f[0]["early"] is False,
                "its stored sighting follows once, as a 'sighting' event (%d)" % len(f))
            if f:
                s, t, b = request("GET", f[0]["thumbnail"])
                say(s == 200 and t == "image/jpeg", "the sighting's thumbnail answers")
            say(len([a for _, a in mine if a["_event"] == "alert"]) == len(set(a["track"] for a in early)),
                "one alert per track")
        say(live.get("url") == url and live.get("frames", 0) > 0 and live.get("connects") == 1
            and "fps" in live and "lag_s" in live and "dropped" in live,
            "status shows the camera's live state (%s: %s, %s frames, %s dropped)"
            % (state, live.get("detail"), live.get("frames"), live.get("dropped")))
        say(error_is(request("POST", "/api/v1/cameras", json.dumps({"id": cam, "km": float(km) + 1}).encode(), hdr),
                     400, "bad_camera"), "a camera again at another km: 400")
        say(error_is(request("POST", "/api/v1/cameras", b"{}", hdr), 400, "bad_request"), "a camera without an id: 400")
        s, t, b = request("DELETE", "/api/v1/cameras/" + cam)
        say(s == 200 and json.loads(b).get("live") is False, "DELETE /api/v1/cameras/{id} stops it")
        say(error_is(request("DELETE", "/api/v1/cameras/" + cam), 404, "not_found"), "stopping it twice: 404")
    fifo = os.environ.get("LIVE_FIFO")
    if fifo:  # a source that never opens (a FIFO without a writer) still stops at once
        hdr = {"Content-Type": "application/json"}
        s, t, b = request("POST", "/api/v1/cameras", json.dumps({"id": "silent", "km": 1.0, "url": fifo}).encode(), hdr)
        time.sleep(1.0)
        t0 = time.time()
        s2, t, b = request("DELETE", "/api/v1/cameras/silent")
        say(s == 201 and s2 == 200 and time.time() - t0 < 5,
            "a live camera blocked waiting for its source stops on DELETE (%.1f s)" % (time.time() - t0))
else:
    # the role table: every route with every role, no token and a wrong one. The
    # expected roles are written here, not read from the server: admin cameras,
    # purge, audit; operator search, watchlist, alerts, thumbnails; runner selfie
    # only; viewer status and cameras. Bodies are harmless (empty, unknown ids).
    import hashlib
    import http.client
    import os
    tok = {r: os.environ[r.upper() + "_TOKEN"] for r in ("admin", "operator", "runner", "viewer")}
    A, O, R, V = "admin", "operator", "runner", "viewer"
    table = [
        ("GET", "/api/v1/status", {A, O, V}),
        ("GET", "/api/v1/cameras", {A, O, V}),
        ("POST", "/api/v1/cameras", {A}),
        ("DELETE", "/api/v1/cameras/no-such-camera", {A}),
        ("POST", "/api/v1/search", {O}),
        ("POST", "/api/v1/selfie", {R}),
        ("GET", "/api/v1/watchlist", {O}),
        ("POST", "/api/v1/watchlist", {O}),
        ("DELETE", "/api/v1/watchlist/99999", {O}),
        ("POST", "/api/v1/watchlist/99999/dismiss", {O}),
        ("POST", "/api/v1/watchlist/99999/accept", {O}),
        ("GET", "/api/v1/alerts", {O}),
        ("GET", "/api/v1/alerts/99999/thumbnail", {O}),
        ("GET", "/api/v1/sightings/99999/thumbnail", {O}),
        ("GET", "/api/v1/audit", {A}),
        ("POST", "/api/v1/purge", {A}),
    ]

    def status_of(method, path, token):
        c = http.client.HTTPConnection("127.0.0.1", int(PORT), timeout=60)
        h = {"Content-Type": "application/json"} if method == "POST" else {}
        if token:
            h["Authorization"] = "Bearer " + token
        c.request(method, path, body=b"" if method == "POST" else None, headers=h)
        r = c.getresponse()  # the headers: an event stream is not read on
        st = r.status
        c.close()
        return st

    wrong = []
    for method, path, allowed in table:
        for who, t in [(None, None), ("wrong", "f" * 64)] + sorted(tok.items()):
            st = status_of(method, path, t)
            want_ok = who in allowed
            if who in (None, "wrong"):
                good = st == 401
            elif want_ok:
                good = st not in (401, 403)
            else:
                good = st == 403
            if not good:
                wrong.append("%s %s as %s: %d" % (method, path, who, st))
    say(not wrong, "the role table: %d routes x 6 callers as written (%s)"
        % (len(table), "; ".join(wrong[:6]) or "no surprise"))
    # path traversal on every route shape: 404 (or 401/403 before it), never a file
    trav = ["/api/v1/sightings/../../../etc/passwd/thumbnail", "/api/v1/../../etc/passwd",
            "/api/v1/alerts/..%2f..%2fetc%2fpasswd/thumbnail", "/api/v1/cameras/../status",
            "/api/v1/watchlist/1/../../audit", "/..%2f..%2fetc/passwd", "/api/v1/status/../../../x"]
    bad = [p for p in trav for t in tok.values() if status_of("GET", p, t) == 200]
    say(not bad, "path traversal on the routes: never 200 (%s)" % (", ".join(bad) or "all refused"))
    # an operator's search needs a case reason, and is audited
    say(error_is(form({"reason": None}, [("photo", "p.jpg", photo)], tok[O]), 400, "no_reason"),
        "a search without a case reason: 400 no_reason")
    s, t, b = form({"reason": "case 7: lost child"}, [("photo", "p.jpg", photo)], tok[O])
    n_apps = len(json.loads(b)["appearances"]) if s == 200 else -1
    say(s == 200 and n_apps >= 0, "an operator searches with a case reason (%d appearances)" % n_apps)
    # a runner's selfie: own appearances, thumbnails inline, rate-limited
    s, t, b = form({"reason": None}, [("photo", "p.jpg", photo)], tok[R], "/api/v1/selfie")
    j = json.loads(b) if s == 200 else {}
    apps = j.get("appearances", [])
    say(s == 200 and all(a.get("thumbnail", "").startswith("data:image/jpeg;base64,") for a in apps)
        and set(j) == {"appearances", "expected_false"},
        "a runner's selfie: %d own appearances, thumbnails inline, nothing else" % len(apps))
    s2, t, b = form({"reason": None}, [("photo", "p.jpg", photo)], tok[R], "/api/v1/selfie")
    say(error_is((s2, t, b), 429, "rate_limited"), "a second selfie within the hour (--selfies-per-hour 1): 429")
    # the audit log (admin): who, role, reason, the photo's hash, never the photo
    s, t, b = request("GET", "/api/v1/audit", None, {"Authorization": "Bearer " + tok[A]})
    log = json.loads(b) if s == 200 else {}
    recs = log.get("records", [])
    digest = hashlib.sha256(photo).hexdigest()
    srch = [r for r in recs if r["action"] == "search" and r["role"] != "local"]
    say(len(srch) == 1 and srch[0]["who"] == "Ops" and srch[0]["role"] == O
        and srch[0]["reason"] == "case 7: lost child" and srch[0]["photo_sha256"] == digest
        and srch[0]["results"] == n_apps,
        "the audit log holds the search: who, role, case reason, the photo's SHA-256, results")
    sf = [r for r in recs if r["action"] == "selfie"]
    say(len(sf) == 1 and sf[0]["role"] == R and sf[0]["photo_sha256"] == digest,
        "... and the selfie (its hash only)")
    say(log.get("intact") is True and all(len(r["hash"]) == 64 for r in recs),
        "the audit log's hash chain is intact (%d records)" % len(recs))
    say(photo[:64] not in b, "the audit log does not hold the photo")

sys.exit(1 if failed else 0)
