#!/usr/bin/env python3
"""Bounded loopback load run against a running sightline-server: POSTs NDJSON batches from
W writer threads for D seconds while a reader thread issues plate-history and area queries;
prints sustained ingest rows/s and query p50/p99. Usage:
  load.py BASE_URL [--seconds 30] [--writers 2] [--batch 5000]"""
import argparse, json, random, statistics, threading, time, urllib.request

ap = argparse.ArgumentParser()
ap.add_argument("base"); ap.add_argument("--seconds", type=float, default=30)
ap.add_argument("--writers", type=int, default=2); ap.add_argument("--batch", type=int, default=5000)
a = ap.parse_args()
stop = time.monotonic() + a.seconds
rows = [0]; lock = threading.Lock(); latencies = {"history": [], "area": []}; errors = []

def post(body):
    req = urllib.request.Request(a.base + "/sightings", data=body, method="POST",
                                 headers={"Content-Type": "application/x-ndjson"})
    with urllib.request.urlopen(req) as r: return json.loads(r.read())

def writer(w):
    rnd = random.Random(w); t = 1_717_200_000_000 + w
    while time.monotonic() < stop:
        lines = []
        for _ in range(a.batch):
            t += 7
            lines.append('{"plate":"W%dP%05d","time":%d,"lat":%.5f,"lon":%.5f,"camera":%d,"confidence":%d}' % (
                w, rnd.randrange(20000), t, 37.5 + rnd.random() * 0.3, -122.3 + rnd.random() * 0.4, rnd.randrange(400), 60 + rnd.randrange(40)))
        try:
            r = post("\n".join(lines).encode())
            with lock: rows[0] += r["stored"]
        except Exception as e: errors.append(str(e))

def reader():
    rnd = random.Random(99)
    while time.monotonic() < stop:
        kind = rnd.choice(["history", "area"])
        url = (a.base + "/plates/W0P%05d/sightings?limit=1000" % rnd.randrange(20000)) if kind == "history" else \
              (a.base + "/area?circle=%.4f,%.4f,500&limit=1000" % (37.5 + rnd.random() * 0.3, -122.3 + rnd.random() * 0.4))
        t0 = time.monotonic()
        try:
            with urllib.request.urlopen(url) as r: r.read()
            latencies[kind].append(time.monotonic() - t0)
        except Exception as e: errors.append(str(e))

threads = [threading.Thread(target=writer, args=(w,)) for w in range(a.writers)] + [threading.Thread(target=reader)]
start = time.monotonic()
for t in threads: t.start()
for t in threads: t.join()
elapsed = time.monotonic() - start
print(f"ingest: {rows[0]} rows in {elapsed:.1f} s = {rows[0] / elapsed:,.0f} rows/s over HTTP ({a.writers} writers, {a.batch} rows/POST)")
for kind, l in latencies.items():
    if l:
        l.sort(); p = lambda q: 1e3 * l[min(len(l) - 1, int(q * len(l)))]
        print(f"{kind}: {len(l)} queries while ingesting, p50 {p(0.5):.2f} ms, p99 {p(0.99):.2f} ms")
print(f"errors: {len(errors)}" + (f" (first: {errors[0]})" if errors else ""))
