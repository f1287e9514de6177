#!/usr/bin/env python3
"""Sightline next to DuckDB and ClickHouse (chDB) on the same generated sightings.

Usage: python3 Benchmarks/peers/peers.py ROWS WORKDIR [--queries N] [--mode alpr|tracks] [--sightline PATH]

Generates ROWS ALPR-like sightings (or, with --mode tracks, dense GPS tracks: 500 vehicles
reporting every 1–5 s) with `sightline-bench generate` (CSV), loads them into
Sightline (`sightline ingest`), DuckDB (a table ordered by plate, time) and chDB (MergeTree
ORDER BY (plate, time) with per-column codecs), runs the same query mix on each — plate
histories over all time, 1 km² areas over 24 h and 30 days, 1 km² counts over 24 h — warm
(every query once before timing), and prints one table: ingest rows/s, bytes per sighting,
p50/p99 latency per query type, and each peer's ratio to Sightline. Writes WORKDIR/peers.json.
Needs: pip install duckdb chdb.
"""
import argparse, json, math, os, random, subprocess, sys, time

ap = argparse.ArgumentParser()
ap.add_argument("rows", type=int)
ap.add_argument("workdir")
ap.add_argument("--queries", type=int, default=100)
ap.add_argument("--sightline", default=".build/release/sightline")
ap.add_argument("--sightline-bench", default=None, help="the benchmark tool (default: sightline-bench beside --sightline)")
ap.add_argument("--seed", type=int, default=1)
ap.add_argument("--mode", choices=["alpr", "tracks"], default="alpr")
args = ap.parse_args()
bench = args.sightline_bench or os.path.join(os.path.dirname(args.sightline), "sightline-bench")
os.makedirs(args.workdir, exist_ok=True)
csv = os.path.join(args.workdir, "sightings.csv")
store = os.path.join(args.workdir, "sightline")
HOUR = 3_600_000

def du(path):
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)

def pct(values, q):
    v = sorted(values)
    return v[min(len(v) - 1, max(0, math.ceil(len(v) * q) - 1))]

# 1. Data.
if not os.path.exists(csv) or sum(1 for _ in open(csv)) - 1 != args.rows:
    subprocess.run([bench, "generate", "--rows", str(args.rows), "--seed", str(args.seed), "--mode", args.mode, "-o", csv], check=True)
print(f"data: {args.rows} {args.mode} rows, {du(csv) / 1e6:.0f} MB of CSV", flush=True)

# 2. The query mix, from rows sampled out of the file.
random.seed(args.seed)
size = os.path.getsize(csv)
samples = []
with open(csv, "rb") as f:
    f.readline()
    while len(samples) < args.queries:
        f.seek(random.randrange(64, size - 200))
        f.readline()
        line = f.readline().decode().strip()
        if line:
            p = line.split(",")
            samples.append((p[0], int(p[1]), float(p[2]), float(p[3])))
def square(lat, lon, metres=1000.0):
    dlat = metres / 2 / 111195.0
    dlon = dlat / max(0.01, math.cos(math.radians(lat)))
    return (lat - dlat, lon - dlon, lat + dlat, lon + dlon)
queries = []
for plate, t, lat, lon in samples:
    s, w, n, e = square(lat, lon)
    queries.append({"type": "history, all time", "plate": plate})
    queries.append({"type": "area 1 km², 24 h", "south": s, "west": w, "north": n, "east": e, "from": t - 12 * HOUR, "to": t + 12 * HOUR})
    queries.append({"type": "area 1 km², 30 days", "south": s, "west": w, "north": n, "east": e, "from": t - 360 * HOUR, "to": t + 360 * HOUR})
    queries.append({"type": "count 1 km², 24 h", "south": s, "west": w, "north": n, "east": e, "from": t - 12 * HOUR, "to": t + 12 * HOUR, "count": True})
qfile = os.path.join(args.workdir, "queries.json")
json.dump(queries, open(qfile, "w"))
types = list(dict.fromkeys(q["type"] for q in queries))
results = {}

# 3. Sightline.
subprocess.run(["rm", "-rf", store])
t0 = time.time()
subprocess.run([args.sightline, "ingest", store, csv], check=True, stdout=subprocess.DEVNULL)
ingest = time.time() - t0
out = os.path.join(args.workdir, "sightline-queries.json")
subprocess.run([bench, "query-bench", store, "--query-file", qfile, "--json", out], check=True, stdout=subprocess.DEVNULL)
lat = {r["type"]: r for r in json.load(open(out))}
results["Sightline"] = {"ingest": args.rows / ingest, "bytes": du(store) / args.rows,
                        "latency": {t: (lat[t]["p50Ms"], lat[t]["p99Ms"]) for t in types}}
print("Sightline done", flush=True)

def run_sql(execute, sql_for):
    timings = {t: [] for t in types}
    for q in queries:
        execute(sql_for(q))  # warm
    for q in queries:
        sql = sql_for(q)
        t0 = time.perf_counter()
        execute(sql)
        timings[q["type"]].append((time.perf_counter() - t0) * 1000)
    return {t: (pct(v, 0.5), pct(v, 0.99)) for t, v in timings.items()}

def sql_for(table, e7):
    def f(q):
        if "plate" in q:
            return f"SELECT * FROM {table} WHERE plate = '{q['plate']}' ORDER BY time, camera"
        if e7:
            box = f"lat BETWEEN {int(math.floor(q['south'] * 1e7))} AND {int(math.ceil(q['north'] * 1e7))} AND lon BETWEEN {int(math.floor(q['west'] * 1e7))} AND {int(math.ceil(q['east'] * 1e7))}"
        else:
            box = f"lat BETWEEN {q['south']} AND {q['north']} AND lon BETWEEN {q['west']} AND {q['east']}"
        where = f"{box} AND time >= {q['from']} AND time < {q['to']}"
        if q.get("count"):
            return f"SELECT count(*) FROM {table} WHERE {where}"
        return f"SELECT * FROM {table} WHERE {where} ORDER BY time, plate, camera"
    return f

# 4. DuckDB: a table ordered by (plate, time).
import duckdb
path = os.path.join(args.workdir, "duck.db")
for p in (path, path + ".wal"):
    if os.path.exists(p): os.remove(p)
con = duckdb.connect(path)
t0 = time.time()
con.execute(f"""CREATE TABLE s AS SELECT * FROM read_csv('{csv}', header = true, columns = {{
    'plate': 'VARCHAR', 'time': 'BIGINT', 'lat': 'DOUBLE', 'lon': 'DOUBLE', 'camera': 'UINTEGER',
    'confidence': 'UTINYINT', 'region': 'VARCHAR'}}) ORDER BY plate, time""")
con.execute("CHECKPOINT")
ingest = time.time() - t0
results["DuckDB"] = {"ingest": args.rows / ingest, "bytes": du(path) / args.rows,
                     "latency": run_sql(lambda sql: con.execute(sql).fetchall(), sql_for("s", False))}
con.close()
print("DuckDB done", flush=True)

# 5. chDB: MergeTree ordered by (plate, time), codecs per column.
from chdb import session
cpath = os.path.join(args.workdir, "chdb")
subprocess.run(["rm", "-rf", cpath])
sess = session.Session(cpath)
sess.query("CREATE DATABASE IF NOT EXISTS b")
sess.query("""CREATE TABLE b.s (
    plate String CODEC(ZSTD(3)),
    time Int64 CODEC(Delta, ZSTD(3)),
    lat Int32 CODEC(T64, ZSTD(3)),
    lon Int32 CODEC(T64, ZSTD(3)),
    camera UInt32 CODEC(T64, ZSTD(3)),
    confidence UInt8 CODEC(ZSTD(3)),
    region LowCardinality(String) CODEC(ZSTD(3))
) ENGINE = MergeTree ORDER BY (plate, time)""")
t0 = time.time()
sess.query(f"""INSERT INTO b.s SELECT plate, time, toInt32(round(lat * 1e7)), toInt32(round(lon * 1e7)), camera, confidence, region
    FROM file('{os.path.abspath(csv)}', 'CSVWithNames', 'plate String, time Int64, lat Float64, lon Float64, camera UInt32, confidence UInt8, region String')""")
sess.query("OPTIMIZE TABLE b.s FINAL")
ingest = time.time() - t0
nbytes = int(str(sess.query("SELECT sum(bytes_on_disk) FROM system.parts WHERE database = 'b' AND table = 's' AND active", "CSV")).strip())
results["chDB"] = {"ingest": args.rows / ingest, "bytes": nbytes / args.rows,
                   "latency": run_sql(lambda sql: sess.query(sql, "CSV"), sql_for("b.s", True))}
print("chDB done", flush=True)

# 6. One table.
base = results["Sightline"]
print(f"\n{args.rows:,} sightings, {args.queries} queries per type, warm; p50 / p99 ms (× = peer ÷ Sightline)\n")
print("| | ingest rows/s | bytes/sighting | " + " | ".join(types) + " |")
print("|---|---:|---:|" + "---:|" * len(types))
for name, r in results.items():
    cells = [f"{r['ingest'] / 1e6:.2f} M", f"{r['bytes']:.2f}"]
    for t in types:
        p50, p99 = r["latency"][t]
        cell = f"{p50:.2f} / {p99:.2f}"
        if name != "Sightline":
            cell += f" ({p50 / base['latency'][t][0]:.1f}×)"
        cells.append(cell)
    print(f"| {name} | " + " | ".join(cells) + " |")
json.dump({"rows": args.rows, "mode": args.mode, "queries": args.queries, "results": results}, open(os.path.join(args.workdir, "peers.json"), "w"), indent=2)
