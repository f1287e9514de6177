#!/usr/bin/env python3
"""Proof that a Sightline GeoParquet export is what independent engines read and answer
equally: DuckDB, pyarrow, Apache Spark (local mode) and an Apache Iceberg table (pyiceberg,
SQLite catalog; queried through pyiceberg and through DuckDB's iceberg extension).

    python3 Scripts/lake-proof.py STORE LAKE [--sightline BIN] [--queries N] [--json OUT] [--no-spark] [--no-iceberg]

STORE is a Sightline store, LAKE its export (`sightline export STORE LAKE`, up to date).
Queries are drawn from the lake (seeded): plate histories over the whole store, and areas
(0.01° boxes around a sighting, over one day). For each, Sightline's CLI answer
(`--stats` gives its in-process time), DuckDB's and Spark's answers must be the same rows;
the script prints per query rows and times, the row groups a reader's statistics let it
skip, Spark's physical plan (partition and pushed filters), and the Iceberg checks.
Exit 1 on any difference. Needs: pip install duckdb pyarrow pyspark 'pyiceberg[sql-sqlite]'
(and, for DuckDB's iceberg extension, DuckDB 1.4.x with duckdb-ext-iceberg in
$DUCKDB14_PYTHON, a python that has them: see Docs/benchmarks.md).
"""
import argparse, glob, hashlib, json, os, random, re, shutil, statistics, subprocess, sys, tempfile, time

import duckdb
import pyarrow.parquet as pq

HERE = os.path.dirname(os.path.abspath(__file__))


def canonical(plate, t_ms, lat, lon, camera, confidence, region, image):
    return f"{plate},{int(t_ms)},{round(float(lat) * 1e7)},{round(float(lon) * 1e7)},{int(camera)},{int(confidence)},{region or ''},{image or ''}"


def digest(rows):
    return len(rows), hashlib.sha256("\n".join(sorted(rows)).encode()).hexdigest()[:16]


def sightline(binary, store, query):
    args = [binary, query["kind"], store]
    if query["kind"] == "history":
        args.append(query["plate"])
    else:
        args += ["--bbox", ",".join(str(x) for x in query["box"])]
    if query.get("from") is not None:
        args += ["--from", str(query["from"]), "--to", str(query["to"])]
    args += ["--epoch-ms", "--stats", "--purpose", "lake-proof"]
    out = subprocess.run(args, capture_output=True, text=True, check=True)
    rows = [canonical(*line.split(",")) for line in out.stdout.splitlines()[1:] if line]
    m = re.search(r"plan ([0-9.]+) (µs|ms), execute ([0-9.]+) ms, merge ([0-9.]+) ms", out.stderr)
    ms = (float(m.group(1)) / (1000 if m.group(2) == "µs" else 1)) + float(m.group(3)) + float(m.group(4))
    return rows, ms


def sql_where(query, time_expr):
    if query["kind"] == "history":
        w = f"plate = '{query['plate']}'"
    else:
        s, west, n, e = query["box"]
        w = (f"bbox.xmin <= {e} AND bbox.xmax >= {west} AND bbox.ymin <= {n} AND bbox.ymax >= {s}"
             f" AND longitude BETWEEN {west} AND {e} AND latitude BETWEEN {s} AND {n}")
    if query.get("from") is not None:
        w += f" AND {time_expr} >= {query['from']} AND {time_expr} < {query['to']}"
        # The partition column lets every engine skip whole days.
        w += f" AND day >= '{day_of(query['from'])}' AND day <= '{day_of(query['to'] - 1)}'"
    return w


def day_of(ms):
    return time.strftime("%Y-%m-%d", time.gmtime(ms / 1000))


def row_groups_touched(files, query):
    """Row groups whose min/max statistics can hold rows of the query (what a reader reads)."""
    touched = total = 0
    for path in files:
        day = os.path.basename(os.path.dirname(path))[4:]
        if query.get("from") is not None and not (day_of(query["from"]) <= day <= day_of(query["to"] - 1)):
            continue
        md = pq.ParquetFile(path).metadata
        names = [md.row_group(0).column(c).path_in_schema for c in range(md.num_columns)] if md.num_row_groups else []
        for rg in range(md.num_row_groups):
            total += 1
            st = {names[c]: md.row_group(rg).column(c).statistics for c in range(md.num_columns)}
            if query["kind"] == "history":
                p = st.get("plate")
                ok = p is not None and p.min <= query["plate"] <= p.max
            else:
                s, w, n, e = query["box"]
                ok = st["bbox.xmin"].min <= e and st["bbox.xmax"].max >= w and st["bbox.ymin"].min <= n and st["bbox.ymax"].max >= s
            if ok and query.get("from") is not None:
                t = st["time"]
                lo, hi = t.min.timestamp() * 1000, t.max.timestamp() * 1000
                ok = hi >= query["from"] and lo < query["to"]
            touched += ok
    return touched, total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("store"); ap.add_argument("lake")
    ap.add_argument("--sightline", default=os.path.join(HERE, "..", ".build", "release", "sightline"))
    ap.add_argument("--queries", type=int, default=10)
    ap.add_argument("--seed", type=int, default=20261129)
    ap.add_argument("--json")
    ap.add_argument("--no-spark", action="store_true"); ap.add_argument("--no-iceberg", action="store_true")
    ap.add_argument("--queries-file", help="read the queries from this JSON file when it exists, else write them there")
    ap.add_argument("--row-groups-only", action="store_true",
                    help="only count, per query, the row groups whose statistics can hold its rows (no engines)")
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    files = sorted(glob.glob(os.path.join(a.lake, "day=*", "*.parquet")))
    glob_path = os.path.join(a.lake, "day=*", "*.parquet")
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    src = f"read_parquet('{glob_path}', hive_partitioning=true)"
    total_rows = con.execute(f"select count(*) from {src}").fetchone()[0]
    sample = con.execute(f"select plate, epoch_ms(time), latitude, longitude from {src} using sample reservoir({4 * a.queries} rows) repeatable ({a.seed})").fetchall()
    queries = []
    for i in range(a.queries):
        plate, t, lat, lon = sample[i]
        if i % 2 == 0:
            queries.append({"kind": "history", "plate": plate})
        else:
            d0 = (t // 86_400_000) * 86_400_000
            # Edges between representable coordinates (1e-7°): no point lies on one.
            s, w = round(lat - 0.005, 4) + 0.5e-7, round(lon - 0.005, 4) + 0.5e-7
            queries.append({"kind": "area", "box": [s, w, s + 0.01, w + 0.01], "from": d0, "to": d0 + 86_400_000})
    if a.queries_file and os.path.exists(a.queries_file):
        queries = json.load(open(a.queries_file))
    elif a.queries_file:
        json.dump(queries, open(a.queries_file, "w"))
    report = {"rows": total_rows, "files": len(files), "queries": []}
    if a.row_groups_only:
        for q in queries:
            touched, total = row_groups_touched(files, q)
            print(f"{q['kind']:7s} {q.get('plate') or q['box']}  row groups {touched}/{total}")
        return
    failed = False
    spark = None
    if not a.no_spark:
        from pyspark.sql import SparkSession
        spark = (SparkSession.builder.master("local[2]").appName("sightline-lake-proof")
                 .config("spark.driver.memory", "6g").config("spark.sql.session.timeZone", "UTC")
                 .config("spark.ui.enabled", "false").getOrCreate())
        spark.sparkContext.setLogLevel("ERROR")
        spark.read.parquet(a.lake).createOrReplaceTempView("sightings")
    for n, q in enumerate(queries):
        rows, sl_ms = sightline(a.sightline, a.store, q)
        expect = digest(rows)
        cols = "plate, epoch_ms(time), latitude, longitude, camera, confidence, region, image"
        t0 = time.perf_counter()
        got = con.execute(f"select {cols} from {src} where {sql_where(q, 'epoch_ms(time)')}").fetchall()
        duck_ms = (time.perf_counter() - t0) * 1000
        duck = digest([canonical(*r) for r in got])
        entry = {"query": q, "rows": expect[0], "digest": expect[1], "sightline_ms": round(sl_ms, 3), "duckdb_ms": round(duck_ms, 1), "duckdb_equal": duck == expect}
        touched, total = row_groups_touched(files, q)
        entry["row_groups_touched"], entry["row_groups_in_days"] = touched, total
        if spark is not None:
            sql = (f"select plate, cast(unix_micros(time) div 1000 as bigint), latitude, longitude, camera, confidence, region, image "
                   f"from sightings where {sql_where(q, 'unix_micros(time) div 1000')}")
            t0 = time.perf_counter()
            got = spark.sql(sql).collect()
            entry["spark_ms"] = round((time.perf_counter() - t0) * 1000, 1)
            entry["spark_equal"] = digest([canonical(*r) for r in got]) == expect
            if n < 2:
                plan = spark.sql(sql)._jdf.queryExecution().executedPlan().toString()
                scan = [l.strip() for l in plan.splitlines() if "FileScan" in l or "PartitionFilters" in l or "PushedFilters" in l]
                entry["spark_plan"] = scan
        failed |= not entry["duckdb_equal"] or entry.get("spark_equal") is False
        report["queries"].append(entry)
        print(f"{q['kind']:7s} rows {expect[0]:6d}  sightline {sl_ms:8.2f} ms  duckdb {duck_ms:8.1f} ms"
              + (f"  spark {entry['spark_ms']:8.1f} ms" if spark else "")
              + f"  row groups {touched}/{total}  equal: duckdb {entry['duckdb_equal']}" + (f" spark {entry['spark_equal']}" if spark else ""))
        for line in entry.get("spark_plan", []):
            print("    plan:", line[:400])
    if not a.no_iceberg:
        report["iceberg"] = iceberg(a.lake, files, queries, report["queries"], total_rows)
        failed |= not report["iceberg"]["equal"]
    for k in ("sightline_ms", "duckdb_ms", "spark_ms"):
        for kind in ("history", "area"):
            v = [e[k] for e in report["queries"] if k in e and e["query"]["kind"] == kind]
            if v:
                report[f"{kind}_{k}_median"] = statistics.median(v)
    print(json.dumps({k: v for k, v in report.items() if k.endswith("median")}, indent=1))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(report, f, indent=1)
    if spark is not None:
        spark.stop()
    print("lake-proof:", "DIFFERENCES FOUND" if failed else "every engine returned Sightline's rows")
    sys.exit(1 if failed else 0)


def iceberg(lake, files, queries, entries, total_rows):
    """Registers the files as an Iceberg table (partitioned by day(time)) without copying
    them, then queries it through pyiceberg and, when available, DuckDB's iceberg extension."""
    from pyiceberg.catalog.sql import SqlCatalog
    from pyiceberg.expressions import And, EqualTo, GreaterThanOrEqual, LessThan
    from pyiceberg.partitioning import PartitionField, PartitionSpec
    from pyiceberg.transforms import DayTransform
    warehouse = tempfile.mkdtemp(prefix="sightline-iceberg-")
    catalog = SqlCatalog("sightline", uri=f"sqlite:///{warehouse}/catalog.db", warehouse=f"file://{warehouse}")
    catalog.create_namespace("alpr")
    schema = pq.read_schema(files[0])
    table = catalog.create_table("alpr.sightings", schema=schema)
    time_id = table.schema().find_field("time").field_id
    with table.update_spec() as spec:
        spec.add_field("time", DayTransform(), "day")
    table.add_files([os.path.abspath(f) for f in files])
    result = {"warehouse": warehouse, "files": len(files), "snapshot": table.current_snapshot().snapshot_id}
    result["rows"] = sum(table.inspect.files().column("record_count").to_pylist())
    equal = result["rows"] == total_rows
    checked = []
    for q, e in zip(queries, entries):
        if q["kind"] != "history":
            continue
        t0 = time.perf_counter()
        t = table.scan(row_filter=EqualTo("plate", q["plate"]),
                       selected_fields=("plate", "time", "latitude", "longitude", "camera", "confidence", "region", "image")).to_arrow()
        ms = (time.perf_counter() - t0) * 1000
        rows = [canonical(r["plate"], r["time"].timestamp() * 1000, r["latitude"], r["longitude"], r["camera"], r["confidence"], r["region"], r["image"])
                for r in t.to_pylist()]
        ok = digest(rows) == (e["rows"], e["digest"])
        checked.append({"plate": q["plate"], "rows": len(rows), "ms": round(ms, 1), "equal": ok})
        equal &= ok
        if len(checked) >= 3:
            break
    result["pyiceberg_histories"] = checked
    duck14 = os.environ.get("DUCKDB14_PYTHON")
    if duck14:
        metadata = table.metadata_location.replace("file://", "")
        # The extensions ship on PyPI (duckdb-ext-avro, duckdb-ext-iceberg): loaded from site-packages.
        code = ("import duckdb, glob, os\n"
                "c = duckdb.connect(config={'allow_unsigned_extensions': 'true'})\n"
                "c.execute('SET enable_progress_bar = false')\n"
                "root = os.path.join(os.path.dirname(duckdb.__file__), '..', 'duckdb_ext', 'extensions')\n"
                "for e in ('avro', 'iceberg'): c.execute(f\"load '{glob.glob(f'{root}/*/*/{e}.duckdb_extension')[0]}'\")\n"
                f"print(c.execute(\"select count(*) from iceberg_scan('{metadata}')\").fetchone()[0])\n"
                f"print(c.execute(\"select count(*) from iceberg_scan('{metadata}') where plate = '{checked[0]['plate']}'\").fetchone()[0])\n")
        out = subprocess.run([duck14, "-c", code], capture_output=True, text=True)
        lines = [l for l in out.stdout.split() if l.isdigit()] if out.returncode == 0 else []
        result["duckdb_iceberg_rows"] = int(lines[0]) if lines else out.stderr[-500:]
        result["duckdb_iceberg_history_rows"] = int(lines[1]) if lines else None
        equal &= result["duckdb_iceberg_rows"] == total_rows and result["duckdb_iceberg_history_rows"] == checked[0]["rows"]
    result["equal"] = equal
    print(f"iceberg: table of {result['files']} files, {result['rows']} rows (store export {total_rows}); "
          f"pyiceberg histories {checked}; duckdb iceberg_scan rows {result.get('duckdb_iceberg_rows', 'not run')}; equal {equal}")
    return result


if __name__ == "__main__":
    main()
