"""Ingest benchmark: a ~7-million-row long CSV into canonical Parquet, against bare Polars and DuckDB.

Run: ``.venv/bin/python benchmarks/ingest.py [--sensors 50] [--repeat 3] [--big 4]``

What is timed (each in its own process, engines alternated A B C A B C…, medians reported):

- ``mobility``: ``stage_paths`` on the file, as ``mobility ingest`` does it: format detection, the
  source's SHA-256 identity, parsing and validating every row (timestamps, counts, modes, future
  stamps), duplicate resolution, quarantine, and the staged canonical Parquet.
- ``polars``: the baseline, a bare ``scan_csv(schema=…) → sink_parquet`` conversion with no checks.
- ``duckdb``: ``COPY (SELECT … FROM read_csv(…)) TO '….parquet'`` with typed columns, no checks.

Peak memory is each process's maximum resident set size. ``--big N`` also ingests a file N times
longer (same sensors, N years) through ``mobility`` and prints its peak memory beside the 1× run, which
shows that memory does not grow with the file (the file is streamed, never loaded).

The workload is PERFORMANCE.md's: 15-minute counts for 4 modes, ``sensor_id,mode,ts,count``, UTC ISO
timestamps, plus 0.01 % duplicate and bad rows so that the checks have work to do.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_RATE = 5_000_000  # rows/s (issue #3)
TARGET_RSS_MB = 1024


def generate(path: Path, sensors: int, years: int = 1, seed: int = 1) -> int:
    """Write the benchmark CSV; returns its data rows."""
    import numpy as np
    import polars as pl

    # Whole years ending with 2024 (a longer file reaches back in time, never into the future).
    start = dt.datetime(2025 - years, 1, 1)
    end = dt.datetime(2025, 1, 1) - dt.timedelta(minutes=15)
    ts = pl.datetime_range(start, end, "15m", time_zone="UTC", eager=True)
    frame = (
        pl.DataFrame({"sensor_id": [f"S{i:04d}" for i in range(sensors)]})
        .join(pl.DataFrame({"mode": ["car", "heavy", "bike", "pedestrian"]}), how="cross")
        .join(pl.DataFrame({"ts": ts}), how="cross")
    )
    rng = np.random.default_rng(seed)
    frame = frame.with_columns(count=pl.Series(rng.poisson(20, frame.height)).cast(pl.String),
                               ts=pl.col("ts").dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
    # 0.01 % exact duplicates, conflicting duplicates and bad values (non-numeric, negative).
    k = max(1, frame.height // 40_000)
    picks = frame.sample(4 * k, seed=seed)
    extra = pl.concat([
        picks[:k],
        picks[k:2 * k].with_columns(count=pl.lit("999")),
        picks[2 * k:3 * k].with_columns(count=pl.lit("n/a")),
        picks[3 * k:].with_columns(count=pl.lit("-3")),
    ])
    pl.concat([frame, extra]).write_csv(path)
    return frame.height + extra.height


def _rss_mb() -> float:
    """Peak resident memory of this process (VmHWM: unlike ru_maxrss it does not inherit the parent's)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_s() -> float:
    """CPU seconds used by this process so far (user + system, all threads)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _anon_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1])
    return 0


def run_engine(engine: str, csv: Path, work: Path) -> dict:
    """One timed run in this process (called in a child process)."""
    import threading

    anon = [0]

    def sample() -> None:  # anonymous memory, every 2 ms (VmHWM also counts the file's page cache)
        while True:
            anon[0] = max(anon[0], _anon_kb())
            time.sleep(0.002)

    threading.Thread(target=sample, daemon=True).start()
    t0, c0 = time.perf_counter(), _cpu_s()
    if engine == "mobility":
        from sensors_io.staging import stage_paths

        report = stage_paths([csv], work / "lake", tz="Europe/Paris")
        src = report.sources[0]
        if src.error:
            raise SystemExit(src.error)
        rows, extra = src.rows_read, {"accepted": src.accepted, "quarantined": src.quarantined,
                                      "duplicates": src.duplicates}
    elif engine == "polars":
        import polars as pl

        schema = {"sensor_id": pl.String, "mode": pl.String, "ts": pl.String, "count": pl.String}
        pl.scan_csv(csv, schema=schema).sink_parquet(work / "polars.parquet")
        rows, extra = pl.scan_parquet(work / "polars.parquet").select(pl.len()).collect().item(), {}
    elif engine == "duckdb":
        import duckdb

        con = duckdb.connect()
        con.execute(
            f"COPY (SELECT * FROM read_csv('{csv}', header=true, columns={{'sensor_id': 'VARCHAR', "
            f"'mode': 'VARCHAR', 'ts': 'VARCHAR', 'count': 'VARCHAR'}})) TO '{work / 'duck.parquet'}' (FORMAT parquet)"
        )
        rows, extra = con.execute(f"SELECT count(*) FROM '{work / 'duck.parquet'}'").fetchone()[0], {}
    else:
        raise SystemExit(f"unknown engine {engine}")
    seconds, cpu = time.perf_counter() - t0, _cpu_s() - c0
    return {"engine": engine, "seconds": seconds, "cpu_s": cpu, "rows": rows, "rss_mb": _rss_mb(), "anon_mb": anon[0] / 1024, **extra}


def _child(engine: str, csv: Path) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as work:
        out = subprocess.run([sys.executable, __file__, "--child", engine, str(csv), work],
                             check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sensors", type=int, default=50, help="50 sensors × 4 modes × 1 year ≈ 7.0 M rows")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--big", type=int, default=4, help="also ingest a file this many times longer (0: skip)")
    ap.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "mobility-bench")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        engine, csv, work = args.child
        print(json.dumps(run_engine(engine, Path(csv), Path(work))))
        return

    args.data.mkdir(parents=True, exist_ok=True)
    csv = args.data / f"long_{args.sensors}s_1y.csv"
    if not csv.exists():
        print(f"generating {csv} …", flush=True)
        generate(csv, args.sensors)
    size_mb = csv.stat().st_size / 1e6
    engines = ["mobility", "polars", "duckdb"]
    load0 = f"{os.getloadavg()[0]:.2f}"
    runs: dict[str, list[dict]] = {e: [] for e in engines}
    for i in range(args.repeat):
        for e in engines:
            r = _child(e, csv)
            runs[e].append(r)
            print(f"  run {i + 1} {e:9s} {r['seconds']:6.2f} s (CPU {r['cpu_s']:5.2f} s)  {r['rss_mb']:6.0f} MB (anonymous {r['anon_mb']:.0f} MB)",
                  flush=True)

    print(f"\nfile: {csv.name}, {size_mb:.0f} MB; medians of {args.repeat} alternated runs")
    print(f"load average before the runs: {load0}; after: {os.getloadavg()[0]:.2f} (2 cores: above ~0.5 other "
          "work competes; the CPU column is less sensitive to it than wall time)")
    print("| engine | rows | wall (s) | rows/s | CPU (s) | peak RSS (MB) | peak anonymous (MB) | vs bare Polars |")
    print("|---|---|---|---|---|---|---|---|")
    base = statistics.median(r["seconds"] for r in runs["polars"])
    for e in engines:
        secs = statistics.median(r["seconds"] for r in runs[e])
        rss = max(r["rss_mb"] for r in runs[e])
        anon = max(r["anon_mb"] for r in runs[e])
        rows = runs[e][0]["rows"]
        cpu = statistics.median(r["cpu_s"] for r in runs[e])
        print(f"| {e} | {rows:,} | {secs:.2f} | {rows / secs / 1e6:.1f} M | {cpu:.2f} | {rss:.0f} | {anon:.0f} "
              f"| {secs / base:.2f}× |")
    m = runs["mobility"][0]
    print(f"\nmobility accounting: read {m['rows']:,} = accepted {m['accepted']:,} + quarantined "
          f"{m['quarantined']:,} + duplicates {m['duplicates']:,}")
    rate = m["rows"] / statistics.median(r["seconds"] for r in runs["mobility"])
    peak = max(r["rss_mb"] for r in runs["mobility"])
    print(f"goal ≥ {TARGET_RATE / 1e6:.0f} M rows/s: {'met' if rate >= TARGET_RATE else 'NOT met'} ({rate / 1e6:.1f} M); "
          f"goal < {TARGET_RSS_MB} MB: {'met' if peak < TARGET_RSS_MB else 'NOT met'} ({peak:.0f} MB)")
    if args.big > 1:
        big = args.data / f"long_{args.sensors}s_{args.big}y.csv"
        if not big.exists():
            print(f"generating {big} …", flush=True)
            generate(big, args.sensors, years=args.big)
        r = _child("mobility", big)
        anon1 = max(x["anon_mb"] for x in runs["mobility"])
        print(f"\nbounded memory: {r['rows']:,} rows ({big.stat().st_size / 1e9:.1f} GB) in {r['seconds']:.1f} s, "
              f"peak anonymous {r['anon_mb']:.0f} MB (1× file: {anon1:.0f} MB); peak RSS {r['rss_mb']:.0f} MB, "
              f"which counts the file's pages in the page cache (the kernel can drop them)")


if __name__ == "__main__":
    main()
