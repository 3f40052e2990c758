"""bench/live_load.py: the server under load while cameras stream in live.

    python3 bench/live_load.py --port PORT --pid PID --race DIR --photo P
        [--cameras 2] [--clients 50] [--seconds 60] [--watch N] [--kill-at S]

Against a running `facetrail serve` (PORT, its process PID):
  1. streams each of the first --cameras clips of the simulated race DIR
     (bench_race_sim --out DIR) over HTTP at real time, as a camera does:
     --source ffmpeg (the default where ffmpeg is installed): `ffmpeg -re
     -stream_loop -1 ... -f mpegts -listen 1`, frames sent when their time
     comes, the clip looped; --source python: a GET is answered with the
     file's bytes at an even rate over the clip's duration (python3's
     http.server; a large frame arrives late, so the latencies include that
     transport jitter);
  2. puts the race's first --watch runners' query photos on the watchlist
     and listens to GET /api/v1/alerts;
  3. adds the cameras live (POST /api/v1/cameras with the HTTP url);
  4. once they are connected, --clients clients POST /api/v1/search with
     photo P for --seconds seconds;
     a clip that ends is served again to the camera's reconnection, so a
     run may be longer than the clips;
  5. with --kill-at S, the streams are killed S seconds in (ffmpeg
     SIGKILLed and started again 3 s later; python: the connections closed
     and refused for 3 s): the cameras must reconnect;
  6. samples GET /api/v1/status and the server's resident memory every
     second.
Prints one JSON line: searches (count, errors, per second, p50, p95), the
alerts (count, latency from the frame that raised them p50/p95/max, and
from the first frame that saw the person), per camera (frames analysed,
dropped, connects, the largest lag), and memory (first, last, largest
resident MiB). Standard library only.
"""
import argparse
import http.server
import json
import os
import shutil
import signal
import socket
import socketserver
import subprocess
import threading
import time
import urllib.request
import uuid

ap = argparse.ArgumentParser()
ap.add_argument("--port", required=True)
ap.add_argument("--pid", type=int, required=True)
ap.add_argument("--race", required=True)
ap.add_argument("--photo", required=True)
ap.add_argument("--cameras", type=int, default=2)
ap.add_argument("--clients", type=int, default=50)
ap.add_argument("--seconds", type=float, default=60)
ap.add_argument("--watch", type=int, default=10)
ap.add_argument("--kill-at", type=float, default=0)
ap.add_argument("--source", choices=["ffmpeg", "python"],
                default="ffmpeg" if shutil.which("ffmpeg") else "python")
args = ap.parse_args()
base = "http://127.0.0.1:%s" % args.port

# -- the race ------------------------------------------------------------------
cams, runners = [], []
for line in open(os.path.join(args.race, "truth.tsv")):
    f = line.rstrip("\n").split("\t")
    if f[0] == "camera":
        cams.append((f[1], float(f[2]), int(f[6])))
    elif f[0] == "runner":
        runners.append((f[1], f[3]))
fps = json.load(open(os.path.join(args.race, "truth.json"))).get("fps", 10)
cams = cams[: args.cameras]

# -- cameras streaming over HTTP at real time -------------------------------------
cut = threading.Event()      # set: every stream ends now
refuse_until = [0.0]


class Stream(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        name = os.path.basename(self.path)
        path = os.path.join(args.race, name)
        if time.time() < refuse_until[0] or not os.path.isfile(path):
            self.send_response(503 if os.path.isfile(path) else 404)
            self.end_headers()
            return
        data = open(path, "rb").read()
        secs = [c[2] for c in cams if c[0] + ".mp4" == name][0] / float(fps)
        self.send_response(200)
        self.send_header("Content-Type", "video/mp4")
        self.end_headers()
        rate, sent, t0 = len(data) / secs, 0, time.time()
        try:
            while sent < len(data) and not cut.is_set():
                want = min(len(data), int((time.time() - t0) * rate) + 65536)
                if want > sent:
                    self.wfile.write(data[sent:want])
                    self.wfile.flush()
                    sent = want
                time.sleep(0.05)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *a):
        pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


streams = Server(("127.0.0.1", 0), Stream)
threading.Thread(target=streams.serve_forever, daemon=True).start()
sport = streams.server_address[1]
ff = {}  # camera -> [port, process]


def free_port():
    with socket.socket() as so:
        so.bind(("127.0.0.1", 0))
        return so.getsockname()[1]


def ffmpeg_start(cid):
    port = ff[cid][0] if cid in ff else free_port()
    p = subprocess.Popen(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-re",
                          "-stream_loop", "-1", "-i", os.path.join(args.race, cid + ".mp4"),
                          "-c", "copy", "-f", "mpegts", "-listen", "1",
                          "http://127.0.0.1:%d/%s.ts" % (port, cid)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ff[cid] = [port, p]


def url_of(cid):
    if args.source == "ffmpeg":
        return "http://127.0.0.1:%d/%s.ts" % (ff[cid][0], cid)
    return "http://127.0.0.1:%d/%s.mp4" % (sport, cid)


if args.source == "ffmpeg":
    for cid, _, _ in cams:
        ffmpeg_start(cid)
    time.sleep(0.5)


def call(method, path, body=None, ctype=None, timeout=120):
    req = urllib.request.Request(base + path, data=body, method=method,
                                 headers={"Content-Type": ctype} if ctype else {})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read())


def form(fields, photo):
    b = uuid.uuid4().hex
    body = b"".join(('--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' % (b, k, v)).encode()
                    for k, v in fields)
    body += ('--%s\r\nContent-Disposition: form-data; name="photo"; filename="p.jpg"\r\n'
             'Content-Type: image/jpeg\r\n\r\n' % b).encode() + photo + ("\r\n--%s--\r\n" % b).encode()
    return body, "multipart/form-data; boundary=" + b


# -- the watchlist and the alert stream -------------------------------------------
for rid, q in runners[: args.watch]:
    body, ct = form([("name", rid), ("reason", "load benchmark")], open(q, "rb").read())
    call("POST", "/api/v1/watchlist", body, ct)
alerts = []


def iso_s(iso):
    import calendar
    main, frac = (iso[:-1].split(".") + ["0"])[:2]
    return calendar.timegm(time.strptime(main, "%Y-%m-%dT%H:%M:%S")) + float("0." + frac)


def listen():
    with urllib.request.urlopen(base + "/api/v1/alerts", timeout=3600) as r:
        event = ""
        for line in r:
            line = line.decode().rstrip("\n")
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "alert":
                alerts.append((time.time(), json.loads(line[6:])))


threading.Thread(target=listen, daemon=True).start()
time.sleep(0.5)

# -- memory and status sampler -----------------------------------------------------
rss, status = [], {}
stop = threading.Event()


def rss_mib():
    try:
        for line in open("/proc/%d/status" % args.pid):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        return None


def sample():
    while not stop.is_set():
        m = rss_mib()
        if m is not None:
            rss.append(m)
        try:
            for c in call("GET", "/api/v1/status", timeout=10)["cameras"]:
                lv = c.get("live") or {}
                s = status.setdefault(c["id"], {"max_lag_s": 0.0})
                s["max_lag_s"] = max(s["max_lag_s"], lv.get("lag_s") or 0.0)
                for k in ("frames", "dropped", "connects", "state", "fps"):
                    if k in lv:
                        s[k] = lv[k]
        except Exception:
            pass
        stop.wait(1.0)


threading.Thread(target=sample, daemon=True).start()

# -- the cameras, live ------------------------------------------------------------
for cid, km, _ in cams:  # ids of their own: the searched event may have cameras at those km
    call("POST", "/api/v1/cameras",
         json.dumps({"id": "live-" + cid, "km": km, "url": url_of(cid)}).encode(),
         "application/json")
deadline = time.time() + 60
while time.time() < deadline and not all(status.get("live-" + c[0], {}).get("frames", 0) > 0 for c in cams):
    time.sleep(0.2)

# -- the searches -------------------------------------------------------------------
photo = open(args.photo, "rb").read()
lat, errs, lock = [], [0], threading.Lock()
t_end = time.time() + args.seconds


def client():
    while time.time() < t_end:
        body, ct = form([("reason", "load benchmark")], photo)
        t = time.time()
        try:
            call("POST", "/api/v1/search", body, ct)
            with lock:
                lat.append(time.time() - t)
        except Exception:
            with lock:
                errs[0] += 1


if args.kill_at > 0:
    def killer():
        time.sleep(args.kill_at)
        if args.source == "ffmpeg":
            for cid in ff:
                ff[cid][1].send_signal(signal.SIGKILL)
                ff[cid][1].wait()
            time.sleep(3)
            for cid in list(ff):
                ffmpeg_start(cid)
            return
        refuse_until[0] = time.time() + 3
        cut.set()
        time.sleep(0.2)
        cut.clear()
    threading.Thread(target=killer, daemon=True).start()
t0 = time.time()
ts = [threading.Thread(target=client) for _ in range(args.clients)]
[t.start() for t in ts]
[t.join() for t in ts]
if not ts:  # cameras only
    time.sleep(max(0.0, t_end - time.time()))
took = time.time() - t0
time.sleep(3)
stop.set()
for cid in ff:
    ff[cid][1].kill()
for cid, _, _ in cams:
    try:
        call("DELETE", "/api/v1/cameras/live-" + cid)
    except Exception:
        pass


def q(v, p):
    return round(v[min(len(v) - 1, int(p * len(v)))], 3) if v else None


def slope(v):
    n = len(v)
    if n < 3:
        return None
    mx, my = (n - 1) / 2.0, sum(v) / n
    sxx = sum((i - mx) ** 2 for i in range(n))
    return round(60.0 * sum((i - mx) * (y - my) for i, y in enumerate(v)) / sxx, 3)  # 1 sample/s


lat.sort()
late = sorted(w - iso_s(a["time"]) for w, a in alerts)
seen = sorted(w - iso_s(a["first_seen"]) for w, a in alerts if a.get("first_seen"))
print(json.dumps({
    "searches": {"count": len(lat), "errors": errs[0], "per_s": round(len(lat) / took, 2) if took > 0 else 0,
                 "p50": q(lat, 0.5), "p95": q(lat, 0.95), "clients": args.clients,
                 "seconds": round(took, 1)},
    "alerts": {"count": len(alerts), "early": sum(1 for _, a in alerts if a.get("early")),
               "p50": q(late, 0.5), "p95": q(late, 0.95), "max": round(late[-1], 3) if late else None,
               "from_first_seen_p50": q(seen, 0.5), "from_first_seen_p95": q(seen, 0.95)},
    "cameras": status,
    "source": args.source,
    "memory_mib": {"first": round(rss[0], 1) if rss else None, "last": round(rss[-1], 1) if rss else None,
                   "max": round(max(rss), 1) if rss else None,
                   # least-squares slope over the second half of the run (after warm-up)
                   "slope_mib_per_min": slope(rss[len(rss) // 2:]),
                   "at_half": round(rss[len(rss) // 2], 1) if rss else None},
}))
