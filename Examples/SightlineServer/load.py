#!/usr/bin/env python3
"""Bounded loopback load against a running sightline-server, with a bearer token holding the
roles it uses. Two runs:

  load.py BASE_URL --token T [--seconds 30] [--writers 2] [--batch 5000] [--rate R]
      W writer threads POST NDJSON batches (at R rows/s in all when given, else flat out)
      while a reader thread pages plate histories and areas: sustained ingest rows/s and
      history/area page p50/p99 while ingesting.

  load.py BASE_URL --token T --alerts [--hotlist 1000000] [--rate 100000] [--seconds 30]
      loads a hotlist of N entries in one bulk POST, follows GET /v1/alerts (SSE) and
      ingests at R rows/s with one hotlisted plate per batch: alert delivery latency from
      the start of the POST carrying the row to its SSE event, p50/p99."""
import argparse, http.client, json, random, threading, time, urllib.parse, urllib.request

ap = argparse.ArgumentParser()
ap.add_argument("base"); ap.add_argument("--token", required=True)
ap.add_argument("--seconds", type=float, default=30); ap.add_argument("--writers", type=int, default=2)
ap.add_argument("--batch", type=int, default=5000); ap.add_argument("--rate", type=float, default=0)
ap.add_argument("--alerts", action="store_true"); ap.add_argument("--hotlist", type=int, default=1_000_000)
a = ap.parse_args()
headers = {"Authorization": "Bearer " + a.token, "X-Sightline-Purpose": "load test"}
rows = [0]; lock = threading.Lock(); latencies = {"history": [], "area": [], "alert": []}; errors = []
sent = {}  # hotlisted plate -> time its POST started

def request(method, path, body=None, ctype="application/x-ndjson"):
    req = urllib.request.Request(a.base + path, data=body, method=method, headers={**headers, "Content-Type": ctype})
    with urllib.request.urlopen(req, timeout=120) as r: return json.loads(r.read() or b"{}")

def writer(w, stop):
    rnd = random.Random(w); t = 1_717_200_000_000 + w; n = 0
    per_writer = a.rate / a.writers if a.rate else 0
    next_at = time.monotonic()
    while time.monotonic() < stop:
        lines = []
        for _ in range(a.batch):
            t += 7
            lines.append('{"plate":"W%dP%05d","time":%d,"lat":%.5f,"lon":%.5f,"camera":%d,"confidence":%d}' % (
                w, rnd.randrange(20000), t, 37.5 + rnd.random() * 0.3, -122.3 + rnd.random() * 0.4, rnd.randrange(400), 60 + rnd.randrange(40)))
        hot = None
        if a.alerts:
            hot = "HOT%07d" % ((w * 7_919_993 + n * 104_729) % a.hotlist); n += 1
            lines[-1] = '{"plate":"%s","time":%d,"lat":37.6,"lon":-122.2,"camera":1,"confidence":90}' % (hot, t)
        try:
            with lock:
                if hot: sent[(hot, t)] = time.monotonic()
            r = request("POST", "/v1/sightings", "\n".join(lines).encode())
            with lock: rows[0] += r["stored"]
        except Exception as e: errors.append(str(e))
        if per_writer:
            next_at += a.batch / per_writer
            delay = next_at - time.monotonic()
            if delay > 0: time.sleep(delay)

def reader(stop):
    rnd = random.Random(99)
    while time.monotonic() < stop:
        kind = rnd.choice(["history", "area"])
        path = ("/v1/plates/W0P%05d/sightings?limit=1000" % rnd.randrange(20000)) if kind == "history" else \
               ("/v1/area?circle=%.4f,%.4f,500&limit=1000" % (37.5 + rnd.random() * 0.3, -122.3 + rnd.random() * 0.4))
        t0 = time.monotonic()
        try:
            request("GET", path)
            latencies[kind].append(time.monotonic() - t0)
        except Exception as e: errors.append(str(e))

def follower(stop, ready):
    u = urllib.parse.urlparse(a.base)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=a.seconds + 60)
    c.request("GET", "/v1/alerts?after=0", headers=headers)
    r = c.getresponse()
    ready.set()
    data = None
    while time.monotonic() < stop + 5:
        line = r.readline()
        if not line: break
        line = line.decode().rstrip("\n")
        if line.startswith("data: "): data = json.loads(line[6:])
        elif line == "" and data is not None:
            now = time.monotonic()
            with lock: start = sent.pop((data["plate"], data["time"]), None)
            if start is not None: latencies["alert"].append(now - start)
            data = None

def p(l, q): return 1e3 * l[min(len(l) - 1, int(q * len(l)))]

if a.alerts:
    t0 = time.monotonic()
    csv = "plate,list,reason\n" + "".join("HOT%07d,bench,load test\n" % i for i in range(a.hotlist))
    r = request("POST", "/v1/hotlists/bench/entries", csv.encode(), "text/csv")
    print(f"hotlist: {r['added']:,} entries in one POST in {time.monotonic() - t0:.1f} s")
stop = time.monotonic() + a.seconds
threads = [threading.Thread(target=writer, args=(w, stop)) for w in range(a.writers)]
if a.alerts:
    ready = threading.Event()
    f = threading.Thread(target=follower, args=(stop, ready)); f.start(); ready.wait(10)
else:
    threads.append(threading.Thread(target=reader, args=(stop,)))
start = time.monotonic()
for t in threads: t.start()
for t in threads: t.join()
elapsed = time.monotonic() - start
print(f"ingest: {rows[0]:,} rows in {elapsed:.1f} s = {rows[0] / elapsed:,.0f} rows/s over HTTP ({a.writers} writers, {a.batch} rows/POST"
      + (f", paced at {a.rate:,.0f} rows/s" if a.rate else "") + ")")
if a.alerts:
    f.join()
    l = sorted(latencies["alert"])
    print(f"alerts: {len(l)} delivered of {len(l) + len(sent)} raised" + (f", POST to SSE event p50 {p(l, .5):.1f} ms, p99 {p(l, .99):.1f} ms" if l else ""))
for kind in ["history", "area"]:
    l = sorted(latencies[kind])
    if l: print(f"{kind}: {len(l)} pages while ingesting, p50 {p(l, .5):.2f} ms, p99 {p(l, .99):.2f} ms")
print(f"errors: {len(errors)}" + (f" (first: {errors[0]})" if errors else ""))
