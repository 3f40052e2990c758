"""tests/e2e/hostile.py: slow and hostile clients against `facetrail serve`.

    python3 tests/e2e/hostile.py PORT PID IDLE_TIMEOUT JPEG

PORT: a serve started with --idle-timeout IDLE_TIMEOUT (a few seconds); PID:
its process (for its memory in /proc/PID/status); JPEG: any photo. Prints
one TAP-like line per check ("ok ..." / "FAIL ...") and exits 1 if any
failed. Standard library only.
"""
import json
import socket
import struct
import sys
import threading
import time
import uuid
import zlib

PORT, PID, IDLE, JPEG = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), sys.argv[4]
failed = 0


def say(ok, what):
    global failed
    print(("ok " if ok else "FAIL ") + what, flush=True)
    failed += 0 if ok else 1


def connect(timeout=30):
    s = socket.create_connection(("127.0.0.1", PORT), timeout=timeout)
    return s


def read_reply(s):
    """The whole reply until the server closes or Content-Length is read; b"" if
    the connection was closed (or reset) with no answer."""
    data = b""
    try:
        while True:
            if b"\r\n\r\n" in data:
                head, _, body = data.partition(b"\r\n\r\n")
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        if len(body) >= int(line.split(b":")[1]):
                            return data
            x = s.recv(65536)
            if not x:
                return data
            data += x
    except OSError:
        return data


def status_of(reply):
    try:
        return int(reply.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return 0


def get_status():
    """GET /api/v1/status: (HTTP status, seconds taken)."""
    t = time.time()
    try:
        s = connect(10)
        s.sendall(b"GET /api/v1/status HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        r = read_reply(s)
        s.close()
    except OSError:
        r = b""
    return status_of(r), time.time() - t


def rss_kb(field):
    for line in open("/proc/%s/status" % PID):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def multipart(name, data):
    b = uuid.uuid4().hex
    body = ('--%s\r\nContent-Disposition: form-data; name="reason"\r\n\r\ncase 9: a test\r\n'
            '--%s\r\nContent-Disposition: form-data; name="photo"; filename="%s"\r\n'
            'Content-Type: application/octet-stream\r\n\r\n' % (b, b, name)).encode() + data
    body += ("\r\n--%s--\r\n" % b).encode()
    return b, body


def post_search(name, data):
    b, body = multipart(name, data)
    s = connect(60)
    s.sendall(("POST /api/v1/search HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
               "Content-Type: multipart/form-data; boundary=%s\r\nContent-Length: %d\r\n\r\n"
               % (b, len(body))).encode() + body)
    r = read_reply(s)
    s.close()
    return r


# -- slowloris: headers a byte a second; status keeps answering meanwhile -------------
closed_after = [None]


def slowloris():
    s = connect(60)
    t = time.time()
    msg = b"GET /api/v1/status HTTP/1.1\r\nHost: t\r\nX-Slow: " + b"a" * 100
    for ch in msg:
        try:
            s.send(bytes([ch]))
            s.settimeout(1.0)
            if s.recv(100) == b"":  # closed by the server
                break
        except socket.timeout:
            continue  # nothing to read: still open
        except OSError:
            break
        if time.time() - t > IDLE * 4 + 10:
            return
    closed_after[0] = time.time() - t


th = threading.Thread(target=slowloris)
th.start()
worst, bad = 0.0, 0
while th.is_alive():
    st, took = get_status()
    worst = max(worst, took)
    bad += st != 200
    time.sleep(0.2)
th.join()
c = closed_after[0]
say(c is not None and c <= IDLE + 3,
    "slowloris (a header byte a second): closed after %s s (idle timeout %g s)"
    % ("%.1f" % c if c is not None else "never", IDLE))
say(bad == 0 and worst < 2.0,
    "meanwhile GET /api/v1/status answered every time (%d failures, slowest %.2f s)" % (bad, worst))

# -- a body over the limit: 413 before it is sent ----------------------------------------
t = time.time()
s = connect(10)
s.sendall(b"POST /api/v1/search HTTP/1.1\r\nHost: t\r\nContent-Type: multipart/form-data; "
          b"boundary=zz\r\nContent-Length: 104857600\r\n\r\n" + b"x" * 65536)
r = read_reply(s)
s.close()
took = time.time() - t
say(status_of(r) == 413 and took < 3, "a 100 MiB upload: %d after %.2f s (64 KiB sent)" % (status_of(r), took))

# -- decompression bombs: a small file that claims 60000 x 60000 pixels ------------------------
hwm0 = rss_kb("VmHWM")


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)


png = (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0))
       + png_chunk(b"IDAT", zlib.compress(b"\0" * (1 << 20), 9)) + png_chunk(b"IEND", b""))
jpg = bytearray(open(JPEG, "rb").read())
i = 2
while i + 9 < len(jpg):  # the frame header (SOF0..SOF2): height and width to 60000
    if jpg[i] != 0xFF:
        break
    m, n = jpg[i + 1], struct.unpack(">H", jpg[i + 2:i + 4])[0]
    if m in (0xC0, 0xC1, 0xC2):
        jpg[i + 5:i + 9] = struct.pack(">HH", 60000, 60000)
        break
    i += 2 + n
for name, data in (("bomb.png", png), ("bomb.jpg", bytes(jpg))):
    t = time.time()
    r = post_search(name, data)
    st = status_of(r)
    body = r.partition(b"\r\n\r\n")[2]
    say(st in (413, 400) and b"bad_photo" in body and time.time() - t < 10,
        "%s (%d bytes claiming 3.6 gigapixels): %d %s" % (name, len(data), st, body[:90].decode(errors="replace")))
grew = (rss_kb("VmHWM") - hwm0) / 1024.0
say(grew < 64, "the bombs allocated nothing large: peak memory grew %.1f MiB (now %.0f MiB)"
    % (grew, rss_kb("VmRSS") / 1024.0))

# -- 10,000 headers; a 1 MB URL -------------------------------------------------------------------
s = connect(10)
s.sendall(b"GET /api/v1/status HTTP/1.1\r\nHost: t\r\n"
          + b"".join(b"X-Header-%05d: value-%05d\r\n" % (k, k) for k in range(10000)) + b"\r\n")
r = read_reply(s)
s.close()
say(status_of(r) in (400, 413, 431) or r == b"", "10,000 headers: refused (%s)" % (r.split(b"\r\n")[0].decode() or "closed"))
s = connect(10)
try:
    s.sendall(b"GET /api/v1/status?q=" + b"a" * (1 << 20) + b" HTTP/1.1\r\nHost: t\r\n\r\n")
except OSError:
    pass
r = read_reply(s)
s.close()
say(status_of(r) in (400, 413, 414) or r == b"", "a 1 MB URL: refused (%s)" % (r.split(b"\r\n")[0].decode() or "closed"))

# -- 300 connections at once ----------------------------------------------------------------------
t = time.time()
socks = []
for k in range(300):
    try:
        socks.append(connect(60))
    except OSError:
        pass
for s in socks:
    try:
        s.sendall(b"GET /api/v1/status HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    except OSError:
        pass
answered = 0
for s in socks:
    r = read_reply(s)
    answered += status_of(r) == 200
    s.close()
st, took = get_status()
say(len(socks) == 300 and answered == 300 and st == 200,
    "300 connections at once: %d opened, %d answered 200 in %.1f s; the server still answers (%d)"
    % (len(socks), answered, time.time() - t, st))
sys.exit(1 if failed else 0)
