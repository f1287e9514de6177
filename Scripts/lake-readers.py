#!/usr/bin/env python3
"""Reads a Sightline GeoParquet export with independent engines (DuckDB, pyarrow) and
answers history and area queries, so tests and Docs can compare them with Sightline's.

    python3 Scripts/lake-readers.py LAKE QUERIES     one row a line: ENGINE QUERY-NUMBER ROW

QUERIES holds one query a line: `history PLATE FROM_MS TO_MS` or
`area SOUTH WEST NORTH EAST FROM_MS TO_MS` (times half-open, epoch ms). A ROW is
`plate,time_ms,lat_e7,lon_e7,camera,confidence,region,image` (empty for nulls).
Before answering, every file's GeoParquet metadata is validated (version 1.1.0, WKB point
column, bbox covering, file bbox containing every point) and both engines must read the
same number of rows; a failure exits 1 with the reason.
"""
import glob, json, os, sys

import duckdb
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq


def fail(reason):
    print(f"lake-readers: {reason}", file=sys.stderr)
    sys.exit(1)


def validate(lake):
    files = sorted(glob.glob(os.path.join(lake, "day=*", "*.parquet")))
    total = 0
    for path in files:
        f = pq.ParquetFile(path)
        geo = json.loads(f.metadata.metadata[b"geo"])
        col = geo["columns"][geo["primary_column"]]
        if geo["version"] != "1.1.0" or col["encoding"] != "WKB" or col["geometry_types"] != ["Point"]:
            fail(f"{path}: unexpected geo metadata {geo}")
        if col["covering"]["bbox"] != {k: ["bbox", k] for k in ("xmin", "ymin", "xmax", "ymax")}:
            fail(f"{path}: unexpected covering {col['covering']}")
        t = f.read(columns=["longitude", "latitude"])
        xmin, ymin, xmax, ymax = col["bbox"]
        lon, lat = t.column("longitude"), t.column("latitude")
        if t.num_rows and (pc.min(lon).as_py() < xmin or pc.max(lon).as_py() > xmax or pc.min(lat).as_py() < ymin or pc.max(lat).as_py() > ymax):
            fail(f"{path}: a point outside the file's bbox")
        for rg in range(f.metadata.num_row_groups):
            for c in range(f.metadata.num_columns):
                s = f.metadata.row_group(rg).column(c).statistics
                if s is None or (s.null_count < f.metadata.row_group(rg).num_rows and not s.has_min_max):
                    fail(f"{path}: row group {rg} column {c} without min/max statistics")
        total += f.metadata.num_rows
    return files, total


def row(plate, t_us, lat, lon, camera, confidence, region, image):
    return ",".join([plate or "", str(t_us // 1000), str(round(lat * 1e7)), str(round(lon * 1e7)), str(camera), str(confidence),
                     region or "", image or ""])


def main():
    if len(sys.argv) != 3:
        fail("usage: lake-readers.py LAKE QUERIES")
    lake, queries = sys.argv[1], [l.split() for l in open(sys.argv[2]) if l.strip()]
    files, total = validate(lake)
    glob_path = os.path.join(lake, "day=*", "*.parquet")
    con = duckdb.connect()
    columns = "plate, epoch_us(time), latitude, longitude, camera, confidence, region, image"
    if files:
        counted = con.execute(f"select count(*) from read_parquet('{glob_path}', hive_partitioning=true)").fetchone()[0]
        if counted != total:
            fail(f"DuckDB reads {counted} rows, the footers say {total}")
    dataset = ds.dataset(lake, format="parquet", partitioning="hive") if files else None
    if dataset is not None and dataset.count_rows() != total:
        fail(f"pyarrow reads {dataset.count_rows()} rows, the footers say {total}")
    for n, q in enumerate(queries):
        if q[0] == "history":
            plate, lo, hi = q[1], int(q[2]) * 1000, int(q[3]) * 1000
            where = f"plate = '{plate}' and epoch_us(time) >= {lo} and epoch_us(time) < {hi}"
            expr = (pc.field("plate") == plate)
        else:
            s, w, nn, e, lo, hi = float(q[1]), float(q[2]), float(q[3]), float(q[4]), int(q[5]) * 1000, int(q[6]) * 1000
            where = (f"bbox.xmin <= {e} and bbox.xmax >= {w} and bbox.ymin <= {nn} and bbox.ymax >= {s}"
                     f" and longitude between {w} and {e} and latitude between {s} and {nn}"
                     f" and epoch_us(time) >= {lo} and epoch_us(time) < {hi}")
            expr = ((pc.field("longitude") >= w) & (pc.field("longitude") <= e) & (pc.field("latitude") >= s) & (pc.field("latitude") <= nn))
        if files:
            for r in con.execute(f"select {columns} from read_parquet('{glob_path}', hive_partitioning=true) where {where}").fetchall():
                print(f"duckdb {n} {row(*r)}")
            t = dataset.to_table(filter=expr, columns=["plate", "time", "latitude", "longitude", "camera", "confidence", "region", "image"])
            times = pc.cast(pc.cast(t.column("time"), "int64"), "int64").to_pylist()
            for i in range(t.num_rows):
                if lo <= times[i] < hi:
                    print("pyarrow", n, row(t.column("plate")[i].as_py(), times[i], t.column("latitude")[i].as_py(), t.column("longitude")[i].as_py(),
                                             t.column("camera")[i].as_py(), t.column("confidence")[i].as_py(), t.column("region")[i].as_py(), t.column("image")[i].as_py()))


if __name__ == "__main__":
    main()
