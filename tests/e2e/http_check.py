"""tests/e2e/http_check.py: the HTTP checks of tests/e2e/serve.sh.

    python3 tests/e2e/http_check.py open|tokens PORT PHOTO

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


def form(fields, files, token=None):
    b = uuid.uuid4().hex
    body = b""
    for k, v in fields.items():
        body += ('--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' % (b, k, v)).encode()
    for k, name, data in files:
        body += ('--%s\r\nContent-Disposition: form-data; name="%s"; filename="%s"\r\n'
                 'Content-Type: image/jpeg\r\n\r\n' % (b, k, name)).encode() + data + b"\r\n"
    body += ("--%s--\r\n" % b).encode()
    h = {"Content-Type": "multipart/form-data; boundary=" + b}
    if token:
        h["Authorization"] = "Bearer " + token
    return request("POST", "/api/v1/search", body, h)


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
else:
    say(error_is(request("GET", "/api/v1/status"), 401, "unauthorized"), "no token: 401")
    say(error_is(request("GET", "/api/v1/status", None, {"Authorization": "Bearer wrong-token-0123456789"}),
                 401, "unauthorized"), "a wrong token: 401")
    s, t, b = request("GET", "/api/v1/status", None, {"Authorization": "Bearer viewer-token-0123456789"})
    say(s == 200, "a viewer reads the status")
    say(error_is(form({}, [("photo", "p.jpg", photo)], "viewer-token-0123456789"), 403, "forbidden"),
        "a viewer may not search: 403")
    s, t, b = form({}, [("photo", "p.jpg", photo)], "operator-token-0123456789")
    say(s == 200 and "appearances" in json.loads(b), "an operator searches")

sys.exit(1 if failed else 0)
