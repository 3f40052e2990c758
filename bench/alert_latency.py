"""bench/alert_latency.py: the helper of bench/alert_latency.sh.

    python3 bench/alert_latency.py PORT VIDEO FIFO SECONDS CAMERA KM QUERY...

Puts every QUERY photo on the watchlist of the server at PORT, listens to
its alert stream, adds camera CAMERA (at KM) with the FIFO as its live
source, writes VIDEO into the FIFO at an even byte rate over SECONDS (as a
camera sends it), and prints one JSON line: alerts, and the latency of each
(arrival minus the alert's frame time: the frame that raised it),
with p50/p95/max, and the alerts per watchlist entry ("runner I" for the
I-th QUERY). Standard library only.
"""
import json
import sys
import threading
import time
import urllib.request
import uuid

port, video, fifo, secs, cam, km = sys.argv[1:7]
queries = sys.argv[7:]
base = "http://127.0.0.1:%s" % port
got = []


def listen():
    with urllib.request.urlopen(base + "/api/v1/alerts", timeout=600) as r:
        event = "message"
        for line in r:
            line = line.decode().rstrip("\n")
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "alert":
                got.append((time.time(), json.loads(line[6:])))
            elif not line:
                event = "message"


def post(path, body, ctype):
    req = urllib.request.Request(base + path, data=body, method="POST", headers={"Content-Type": ctype})
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.loads(r.read())


for i, q in enumerate(queries):
    b = uuid.uuid4().hex
    body = ('--%s\r\nContent-Disposition: form-data; name="name"\r\n\r\nrunner %d\r\n'
            '--%s\r\nContent-Disposition: form-data; name="reason"\r\n\r\nlatency benchmark\r\n'
            '--%s\r\nContent-Disposition: form-data; name="photo"; filename="q.jpg"\r\n'
            'Content-Type: image/jpeg\r\n\r\n' % (b, i, b, b)).encode() + open(q, "rb").read() + ("\r\n--%s--\r\n" % b).encode()
    post("/api/v1/watchlist", body, "multipart/form-data; boundary=" + b)
threading.Thread(target=listen, daemon=True).start()
time.sleep(1)
post("/api/v1/cameras", json.dumps({"id": cam, "km": float(km), "url": fifo}).encode(), "application/json")
data = open(video, "rb").read()
rate = len(data) / float(secs)
with open(fifo, "wb") as f:
    t0 = time.time()
    sent = 0
    while sent < len(data):
        want = min(len(data), int((time.time() - t0) * rate) + 65536)
        if want > sent:
            f.write(data[sent:want])
            f.flush()
            sent = want
        time.sleep(0.05)
time.sleep(5)


def ts(iso):
    # "2026-12-06T21:40:00.123Z"
    import calendar
    main, frac = iso[:-1].split(".")
    return calendar.timegm(time.strptime(main, "%Y-%m-%dT%H:%M:%S")) + float("0." + frac)


lat = sorted(arrived - ts(a["time"]) for arrived, a in got)
# from the first frame in which the camera saw the person
seen = sorted(arrived - ts(a["first_seen"]) for arrived, a in got if a.get("first_seen"))


def q(p, v=None):
    v = lat if v is None else v
    return round(v[min(len(v) - 1, int(p * len(v)))], 3) if v else None


names = {}
for _, a in got:
    names[a["name"]] = names.get(a["name"], 0) + 1
print(json.dumps({"alerts": len(got), "per_entry": names, "latency_s": [round(x, 3) for x in lat],
                  "p50": q(0.5), "p95": q(0.95), "max": round(lat[-1], 3) if lat else None,
                  "early": sum(1 for _, a in got if a.get("early")),
                  "from_first_seen_p50": q(0.5, seen), "from_first_seen_p95": q(0.95, seen)}))
