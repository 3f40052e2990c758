"""bench/serve_load.py: concurrent searches against `facetrail serve`.

    python3 bench/serve_load.py PORT PHOTO CONCURRENT TOTAL

CONCURRENT clients POST /api/v1/search with PHOTO until TOTAL searches are
answered; prints one JSON line: searches, errors, searches per second, p50
and p95 latency (seconds). Standard library only. Start the server first,
e.g. `facetrail serve --db build/scale/all.ftdb --listen 127.0.0.1:0
--workers 2` (bench/race_scale --db writes such an event).
"""
import json
import sys
import threading
import time
import urllib.request
import uuid

port, photo, conc, total = sys.argv[1], open(sys.argv[2],'rb').read(), int(sys.argv[3]), int(sys.argv[4])
def form():
    b=uuid.uuid4().hex
    body=('--%s\r\nContent-Disposition: form-data; name="reason"\r\n\r\nload benchmark\r\n'%b).encode()
    body+=('--%s\r\nContent-Disposition: form-data; name="photo"; filename="p.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'%b).encode()+photo+('\r\n--%s--\r\n'%b).encode()
    return urllib.request.Request('http://127.0.0.1:%s/api/v1/search'%port, data=body, headers={'Content-Type':'multipart/form-data; boundary='+b})
lat=[]; errs=[0]; lock=threading.Lock(); left=[total]
def worker():
    while True:
        with lock:
            if left[0]==0: return
            left[0]-=1
        t=time.time()
        try:
            urllib.request.urlopen(form(), timeout=120).read()
            with lock: lat.append(time.time()-t)
        except Exception: errs[0]+=1
t0=time.time(); ts=[threading.Thread(target=worker) for _ in range(conc)]
[t.start() for t in ts]; [t.join() for t in ts]
lat.sort(); print(json.dumps({"searches":len(lat),"errors":errs[0],"per_s":round(len(lat)/(time.time()-t0),2),"p50":round(lat[len(lat)//2],3),"p95":round(lat[int(0.95*len(lat))-1],3)}))
