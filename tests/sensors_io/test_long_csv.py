"""The streamed long-CSV reader: values, time conventions, bad input, bounded memory, killed writes."""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from sensors_io.detect import detect_format, discover
from sensors_io.errors import IngestError
from sensors_io.readers import REASON_FUTURE
from sensors_io.readers.long_csv import _good_lines, read_long_csv, scan_staged
from sensors_io.schema import COUNTS_SCHEMA, QUARANTINE_SCHEMA
from sensors_io.staging import read_manifest, select_counts, source_key, stage_paths

UTC = dt.UTC


def _write(tmp_path: Path, text: str, name: str = "counts.csv", encoding: str = "utf-8") -> Path:
    f = tmp_path / name
    f.write_bytes(text.encode(encoding))
    return f


def test_values_duplicates_and_quarantine(tmp_path: Path) -> None:
    f = _write(tmp_path, "\n".join([
        "sensor_id,mode,direction,ts,count",
        "A,car,N,2025-03-29T23:00:00Z,5",       # 2
        "A,car,N,2025-03-30T00:00:00Z,7",       # 3
        "A,car,N,2025-03-30T00:00:00Z,7",       # 4 exact copy of 3 → duplicate
        "A,car,N,2025-03-30T01:00:00Z,8",       # 5 conflicts with 6 → quarantine, 6 kept (last line)
        "A,car,N,2025-03-30T01:00:00Z,9",       # 6
        "A,car,N,2025-03-30T02:00:00Z,x",       # 7 not a number
        "A,car,N,2025-03-30T03:00:00Z,-1",      # 8 negative
        "A,car,N,30/03/2025 04:00,3",           # 9 does not parse
        "A,tram,N,2025-03-30T05:00:00Z,3",      # 10 unknown mode
        "A,car,N,2099-03-30T06:00:00Z,3",       # 11 future
        'A,car,N,2025-03-30T07:00:00Z,""',      # 12 empty (quoted) = not measured, kept as null
        "B,bike,S,2025-03-30T07:00:00Z,0",      # 13 zero is a measurement
    ]) + "\n")
    assert detect_format(f) == "long_csv"
    r = read_long_csv(f)
    assert (r.rows_read, r.accepted.height, r.quarantine.height, r.duplicates) == (12, 5, 6, 1)
    assert r.accepted.schema == COUNTS_SCHEMA
    assert r.accepted.select("sensor_id", "mode", "direction", "start_utc", "interval_s", "count").rows() == [
        ("A", "car", "N", dt.datetime(2025, 3, 29, 23, tzinfo=UTC), 3600, 5.0),
        ("A", "car", "N", dt.datetime(2025, 3, 30, 0, tzinfo=UTC), 3600, 7.0),
        ("A", "car", "N", dt.datetime(2025, 3, 30, 1, tzinfo=UTC), 3600, 9.0),
        ("A", "car", "N", dt.datetime(2025, 3, 30, 7, tzinfo=UTC), 3600, None),
        ("B", "bike", "S", dt.datetime(2025, 3, 30, 7, tzinfo=UTC), 3600, 0.0),
    ]
    assert r.quarantine.schema == QUARANTINE_SCHEMA
    q = r.quarantine.select("line", "column", "value", "reason").rows()
    assert [x[:3] for x in q] == [(5, "count", "8.0"), (7, "count", "x"), (8, "count", "-1"),
                                  (9, "ts", "30/03/2025 04:00"), (10, "mode", "tram"), (11, "ts", "2099-03-30T06:00:00Z")]
    reasons = [x[3] for x in q]
    assert reasons[0].startswith("conflicting duplicate: line 6 kept")
    assert reasons[1:3] == ["count is not a number", "negative count"]
    assert reasons[3] == "timestamp does not parse: expected a timestamp as %Y-%m-%dT%H:%M:%SZ"
    assert reasons[4].startswith("unknown mode: expected one of car, heavy")
    assert reasons[5] == REASON_FUTURE
    assert set(r.quarantine["source_file"]) == {str(f)}


def test_conflict_lines_after_rejected_lines(tmp_path: Path) -> None:
    # Parsed rows carry no line number; a duplicate's line is recovered from the rejected lines before it.
    f = _write(tmp_path, "\n".join([
        "sensor_id,ts,count",
        "A,2025-01-06T00:00:00Z,x",    # 2 rejected
        "A,2025-01-06T01:00:00Z,-4",   # 3 rejected
        "A,2025-01-06T02:00:00Z,1",    # 4 conflicts with 8
        "A,2025-01-06T03:00:00Z,n/a",  # 5 rejected
        "A,2025-01-06T03:00:00Z,2",    # 6 exact copy of 9
        "A,nonsense,3",                # 7 rejected
        "A,2025-01-06T02:00:00Z,5",    # 8 kept (last line)
        "A,2025-01-06T03:00:00Z,2",    # 9
    ]) + "\n")
    r = read_long_csv(f)
    assert (r.rows_read, r.accepted.height, r.quarantine.height, r.duplicates) == (8, 2, 5, 1)
    assert r.accepted.select("count").to_series().to_list() == [5.0, 2.0]
    q = r.quarantine.select("line", "column", "reason").rows()
    assert [x[:2] for x in q] == [(2, "count"), (3, "count"), (4, "count"), (5, "count"), (7, "ts")]
    assert q[2][2].startswith("conflicting duplicate: line 8 kept")


def test_a_missing_or_unknown_mode_is_quarantined(tmp_path: Path) -> None:
    f = _write(tmp_path, "sensor_id,mode,ts,count,interval_s\nA,car,2025-01-06T00:00:00Z,1,3600\n"
               "A,,2025-01-06T01:00:00Z,2,3600\nA,Car,2025-01-06T02:00:00Z,3,3600\nA,bike,2025-01-06T03:00:00Z,4,3600\n")
    r = read_long_csv(f)
    assert r.accepted.select("mode", "count").rows() == [("bike", 4.0), ("car", 1.0)]
    assert r.accepted.schema["mode"] == pl.String
    assert r.quarantine.select("line", "column", "value").rows() == [(3, "mode", None), (4, "mode", "Car")]


def test_the_key_ignores_site_and_covers_direction_and_interval(tmp_path: Path) -> None:
    # ROW_KEY is sensor, mode, direction, start, interval: the same key under two site ids is one
    # measurement (the last line wins); another direction or interval is another measurement.
    f = _write(tmp_path, "\n".join([
        "site_id,sensor_id,mode,direction,ts,interval_s,count",
        "S1,A,car,N,2025-01-06T00:00:00Z,3600,1",   # 2 exact copy of 3 but for the site
        "S2,A,car,N,2025-01-06T00:00:00Z,3600,1",   # 3 kept
        "S1,A,car,S,2025-01-06T00:00:00Z,3600,1",   # 4 another direction
        "S1,A,car,N,2025-01-06T00:00:00Z,900,2",    # 5 another interval
        "S1,A,car,N,2025-01-06T00:00:00Z,900,3",    # 6 conflicts with 5: kept
    ]) + "\n")
    r = read_long_csv(f)
    assert (r.rows_read, r.accepted.height, r.quarantine.height, r.duplicates) == (5, 3, 1, 1)
    assert r.accepted.select("site_id", "direction", "interval_s", "count").rows() == [
        ("S1", "N", 900, 3.0), ("S2", "N", 3600, 1.0), ("S1", "S", 3600, 1.0)]
    assert r.quarantine.select("line", "value").rows() == [(5, "2.0")]


def test_good_lines_match_a_brute_force_count() -> None:
    rng = random.Random(7)
    for _ in range(200):
        n = rng.randint(1, 60)
        bad = sorted(rng.sample(range(2, n + 2), rng.randint(0, n)))
        good = [line for line in range(2, n + 2) if line not in set(bad)]
        idx = pl.Series(range(len(good)), dtype=pl.Int64)
        assert _good_lines(idx, pl.Series(bad, dtype=pl.Int64)).to_list() == good


@pytest.mark.parametrize(
    ("stamps", "expected"),
    [
        # Explicit offsets, spring: 01:00+01:00 = 00:00Z, then 03:00+02:00 = 01:00Z (no 02:00 local exists).
        (["2025-03-30T01:00:00+01:00", "2025-03-30T03:00:00+02:00"], [(2025, 3, 30, 0), (2025, 3, 30, 1)]),
        # Explicit offsets, autumn: 02:00+02:00 = 00:00Z and 02:00+01:00 = 01:00Z are two hours.
        (["2025-10-26T02:00:00+02:00", "2025-10-26T02:00:00+01:00"], [(2025, 10, 26, 0), (2025, 10, 26, 1)]),
        # UTC stamps are taken as they are, across both changes.
        (["2025-03-30T00:00:00Z", "2025-03-30T01:00:00Z"], [(2025, 3, 30, 0), (2025, 3, 30, 1)]),
        (["2025-10-26T00:00:00Z", "2025-10-26T01:00:00Z"], [(2025, 10, 26, 0), (2025, 10, 26, 1)]),
    ],
)
def test_dst_with_offsets_and_utc(tmp_path: Path, stamps: list[str], expected: list[tuple[int, ...]]) -> None:
    f = _write(tmp_path, "sensor_id,start_utc,count\n" + "".join(f"A,{s},{i}\n" for i, s in enumerate(stamps)))
    r = read_long_csv(f)
    assert r.accepted["start_utc"].to_list() == [dt.datetime(*e, tzinfo=UTC) for e in expected]
    assert r.accepted["mode"].unique().to_list() == ["all_vehicles"] and r.accepted["direction"].unique().to_list() == ["both"]


def test_dst_naive_local_time(tmp_path: Path) -> None:
    # Europe/Paris. Spring 2025-03-30: 02:00 does not exist (quarantined); 01:00 = 00:00Z, 03:00 = 01:00Z.
    # Autumn 2025-10-26: 02:00 occurs twice: first line = 02:00+02:00 = 00:00Z, second = 02:00+01:00 = 01:00Z.
    f = _write(tmp_path, "sensor_id;timestamp;count\n" + "".join(f"A;{t};{c}\n" for t, c in [
        ("2025-03-30 01:00:00", 1), ("2025-03-30 02:00:00", 2), ("2025-03-30 03:00:00", 3),
        ("2025-10-26 01:00:00", 4), ("2025-10-26 02:00:00", 5), ("2025-10-26 02:00:00", 6), ("2025-10-26 03:00:00", 7),
    ]))
    r = read_long_csv(f)
    assert r.accepted.select("start_utc", "count").rows() == [
        (dt.datetime(2025, 3, 30, 0, tzinfo=UTC), 1.0), (dt.datetime(2025, 3, 30, 1, tzinfo=UTC), 3.0),
        (dt.datetime(2025, 10, 25, 23, tzinfo=UTC), 4.0), (dt.datetime(2025, 10, 26, 0, tzinfo=UTC), 5.0),
        (dt.datetime(2025, 10, 26, 1, tzinfo=UTC), 6.0), (dt.datetime(2025, 10, 26, 2, tzinfo=UTC), 7.0),
    ]
    assert r.quarantine.select("line", "column", "reason").rows() == [
        (3, "timestamp", "local time does not exist in Europe/Paris (clocks moved forward)")]
    # The same file declared in another zone (--tz): 2025-03-30 02:00 exists in New York (EDT, UTC−4), and
    # 2025-10-26 02:00 occurs once there (clocks change on 2 November), so lines 6 and 7 are one hour twice.
    ny = read_long_csv(f, tz="America/New_York")
    assert ny.accepted["start_utc"][:3].to_list() == [dt.datetime(2025, 3, 30, h, tzinfo=UTC) for h in (5, 6, 7)]
    assert [(line, reason[:32]) for line, reason in ny.quarantine.select("line", "reason").rows()] == [
        (6, "conflicting duplicate: line 7 ke")]


def test_interval_inferred_or_read(tmp_path: Path) -> None:
    f = _write(tmp_path, "sensor_id,ts,count\nA,2025-01-06T08:00:00Z,1\nA,2025-01-06T08:15:00Z,2\nA,2025-01-06T08:30:00Z,3\n")
    assert read_long_csv(f).accepted["interval_s"].unique().to_list() == [900]
    g = _write(tmp_path, "sensor_id,ts,interval_s,count\nA,2025-01-06T08:00:00Z,3600,1\nB,2025-01-06T08:00:00Z,soon,2\n", "g.csv")
    r = read_long_csv(g)
    assert r.accepted["interval_s"].to_list() == [3600]
    assert r.quarantine.select("line", "column", "value").rows() == [(3, "interval_s", "soon")]


def test_bom_cp1252_and_padding(tmp_path: Path) -> None:
    text = "sensor_id;mode;ts;count\n Rue de l'Église ; bike ;2025-01-06T08:00:00Z; 12 \n Rue de l'Église ; bike ;2025-01-06T09:00:00Z; 13 \n"
    for name, raw in [("bom.csv", b"\xef\xbb\xbf" + text.encode("utf-8")), ("cp.csv", text.encode("cp1252"))]:
        f = tmp_path / name
        f.write_bytes(raw)
        r = read_long_csv(f)
        assert r.accepted.select("sensor_id", "mode", "count").rows() == [("Rue de l'Église", "bike", 12.0), ("Rue de l'Église", "bike", 13.0)]


@pytest.mark.parametrize(
    ("content", "line", "column", "found"),
    [
        (b"", 1, None, "an empty file"),
        (b"sensor_id,ts,count\n", 2, None, "end of file (header only)"),
        (b"sensor;ts;count\nA;2025-01-06T08:00:00Z;1\n", 1, "sensor_id", None),
        (b"sensor_id;count\nA;1\n", 1, "start_utc", None),
        (b"sensor_id,ts,count\nA,2025-01-06T08:00:00Z,1,9\nA,2025-01-06T09:00:00Z,1\n", 2, None, "4 fields"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", 1, None, "a PNG image"),
        (b"sensor_id,ts,count\nA,yesterday,1\nA,today,2\n", 2, "ts", "yesterday"),
    ],
)
def test_files_that_cannot_be_read_name_file_line_and_column(tmp_path: Path, content: bytes, line: int,
                                                              column: str | None, found: str | None) -> None:
    f = tmp_path / "bad.csv"
    f.write_bytes(content)
    with pytest.raises(IngestError) as err:
        read_long_csv(f)
    assert err.value.path == str(f) and err.value.line == line
    if column:
        assert err.value.column == column
    if found:
        assert found in (err.value.found or "")


def test_truncated_last_line_is_quarantined(tmp_path: Path) -> None:
    f = _write(tmp_path, "sensor_id,ts,count\nA,2025-01-06T08:00:00Z,1\nA,2025-01-06T09:00:00Z,2\nA,2025-01-06T1")
    r = read_long_csv(f)
    assert (r.rows_read, r.accepted.height, r.quarantine.height) == (3, 2, 1)
    assert r.quarantine.select("line", "column", "value").rows() == [(4, "ts", "2025-01-06T1")]


def test_staging_skips_rejected_rows_and_is_idempotent(tmp_path: Path) -> None:
    f = _write(tmp_path, "sensor_id,ts,count\nA,2025-01-06T08:00:00Z,1\nA,2025-01-06T08:00:00Z,2\nA,2025-01-06T09:00:00Z,x\n"
               "A,2025-01-06T10:00:00Z,4\n")
    lake = tmp_path / "lake"
    rep = stage_paths([f], lake).sources[0]
    assert (rep.rows_read, rep.accepted, rep.quarantined, rep.duplicates) == (4, 2, 2, 0)
    assert (rep.first_day, rep.last_day) == ("2025-01-06", "2025-01-06")
    got, dups = select_counts(lake, dt.datetime(2025, 1, 6, tzinfo=UTC), dt.datetime(2025, 1, 7, tzinfo=UTC))
    assert got.select("start_utc", "count").rows() == [(dt.datetime(2025, 1, 6, 8, tzinfo=UTC), 2.0),
                                                        (dt.datetime(2025, 1, 6, 10, tzinfo=UTC), 4.0)]
    assert dups == 0
    staged = lake / "staging" / f"{rep.key}.parquet"
    assert scan_staged(staged).collect().height == 2
    # Again: nothing changes, nothing is read.
    again = stage_paths([f], lake).sources[0]
    assert again.already_staged and len(read_manifest(lake)) == 1
    # The same bytes under another name are parsed while hashed, then found staged and discarded.
    copy = tmp_path / "copy.csv"
    copy.write_bytes(f.read_bytes())
    other = stage_paths([copy], lake).sources[0]
    assert other.already_staged and other.key == rep.key and len(read_manifest(lake)) == 1
    assert sorted(p.name for p in (lake / "staging").iterdir() if p.suffix == ".parquet") == [
        f"{rep.key}.fix.parquet", f"{rep.key}.parquet"]
    assert [p.name for p in (lake / "quarantine").iterdir()] == [f"{rep.key}.parquet"]
    # The key is the content's: staged under a pending name while hashing, filed under source_key.
    assert rep.key == source_key("long_csv", [f])


def _gen(path: Path, days: int) -> int:
    """A long CSV: 20 sensors × 4 modes, 15-minute steps, ``days`` days (written with Polars)."""
    ts = pl.datetime_range(dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 1) + dt.timedelta(days=days, minutes=-15), "15m",
                           time_zone="UTC", eager=True)
    frame = (pl.DataFrame({"sensor_id": [f"S{i:03d}" for i in range(20)]})
             .join(pl.DataFrame({"mode": ["car", "heavy", "bike", "pedestrian"]}), how="cross")
             .join(pl.DataFrame({"ts": ts.dt.strftime("%Y-%m-%dT%H:%M:%SZ")}), how="cross")
             .with_columns(count=(pl.int_range(pl.len()) % 37).cast(pl.String)))
    frame.write_csv(path)
    return frame.height


_PEAK = """
import sys, pathlib, threading, time
from sensors_io.staging import stage_paths
peak = [0]
def anon():
    for line in open('/proc/self/status'):
        if line.startswith('RssAnon:'):
            return int(line.split()[1])
def sample():
    while True:
        peak[0] = max(peak[0], anon())
        time.sleep(0.002)
threading.Thread(target=sample, daemon=True).start()
rep = stage_paths([pathlib.Path(sys.argv[1])], pathlib.Path(sys.argv[2])).sources[0]
assert rep.error is None, rep.error
print(rep.rows_read, rep.accepted, rep.duplicates, peak[0])
"""


def _copies(base: Path, out: Path, n: int, duplicate_every: int = 0) -> None:
    """``base`` repeated ``n`` times under other sensor ids (S → A, B, …), written as bytes."""
    head, _, body = base.read_bytes().partition(b"\n")
    with open(out, "wb") as fh:
        fh.write(head + b"\n")
        for i in range(n):
            fh.write(body.replace(b"S", bytes([ord("A") + i])) if i else body)
        if duplicate_every:  # exact copies of some rows, so that duplicate resolution has work too
            fh.write(b"\n".join(body.split(b"\n")[::duplicate_every]).rstrip(b"\n") + b"\n")


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="memory is read from /proc (Linux)")
def test_memory_stays_bounded_on_a_file_larger_than_it(tmp_path: Path) -> None:
    """The file streams: a 1 GB file is staged in a fraction of its size in memory, and 4× the rows cost
    almost no more memory than 1× (anonymous memory sampled every 2 ms; the file's own pages are
    page cache, which the kernel can drop)."""
    base = tmp_path / "base.csv"
    rows = _gen(base, 240)  # 1.84 M rows, 65 MB
    peaks = {}
    for n in (4, 16):
        f = tmp_path / f"x{n}.csv"
        _copies(base, f, n, duplicate_every=1000)
        out = subprocess.run([sys.executable, "-c", _PEAK, str(f), str(tmp_path / f"lake{n}")],
                             capture_output=True, text=True, check=True, timeout=900)
        read, accepted, dups, kb = map(int, out.stdout.split())
        extra = len(range(0, rows, 1000))
        assert (read, accepted, dups) == (rows * n + extra, rows * n, extra)
        peaks[n] = (f.stat().st_size, kb * 1024)
        f.unlink()
    (s4, m4), (s16, m16) = peaks[4], peaks[16]
    assert s16 > 1_000_000_000
    assert m16 < 0.5 * s16, peaks
    assert m16 - m4 < 0.15 * (s16 - s4), peaks


_KILLED = """
import sys, pathlib
from sensors_io.staging import stage_paths
stage_paths([pathlib.Path(sys.argv[1])], pathlib.Path(sys.argv[2]))
"""


def test_a_killed_ingest_leaves_no_parquet_and_a_rerun_completes(tmp_path: Path) -> None:
    f = tmp_path / "big.csv"
    rows = _gen(f, 240)
    lake = tmp_path / "lake"
    proc = subprocess.Popen([sys.executable, "-c", _KILLED, str(f), str(lake)])
    staging = lake / "staging"
    deadline = time.monotonic() + 120
    # Kill it while it writes: as soon as its temporary parse file appears.
    while time.monotonic() < deadline and proc.poll() is None:
        if staging.is_dir() and any(p.name.endswith(".parsed") for p in staging.iterdir()):
            break
        time.sleep(0.005)
    assert proc.poll() is None, "the ingest finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    visible = [p for p in staging.rglob("*.parquet") if not p.name.startswith(".")]
    assert visible == [] and read_manifest(lake) == []
    rep = stage_paths([f], lake).sources[0]
    assert (rep.rows_read, rep.accepted, rep.already_staged) == (rows, rows, False)
    assert [p.name for p in staging.iterdir() if p.name.startswith(".") and p.name != ".lock"] == []


def test_detected_among_other_formats(tmp_path: Path) -> None:
    f = _write(tmp_path, "sensor_id,ts,count\nA,2025-01-06T08:00:00Z,1\nA,2025-01-06T09:00:00Z,2\n")
    g = _write(tmp_path, "date_time,traffic_volume\n2025-01-06 08:00:00,1\n", "uci.csv")
    assert [s.format for s in discover([f, g])] == ["long_csv", "naive_csv"]
    assert [s.options for s in discover([f], tz="Asia/Tokyo")] == [(("tz", "Asia/Tokyo"),)]


def test_bucketed_duplicate_resolution_matches_the_one_bucket_result(tmp_path: Path, monkeypatch) -> None:
    """Big files sort key hashes and resolve candidates in buckets; the result must not depend on it."""
    from sensors_io.readers import long_csv

    rng = random.Random(3)
    lines = ["sensor_id,mode,ts,count"]
    for i in range(400):
        s, m, h = rng.choice("ABCD"), rng.choice(["car", "bike"]), rng.randrange(30)
        lines.append(f"{s},{m},2025-01-06T{h // 24 + 10:02d}:{h % 24:02d}:00Z,{rng.choice([1, 1, 2, 'x'])}")
    f = _write(tmp_path, "\n".join(lines) + "\n")
    one = read_long_csv(f)
    monkeypatch.setattr(long_csv, "BUCKET_ROWS", 40)  # 10 hash buckets, candidates in several buckets
    many = read_long_csv(f)
    assert (one.rows_read, one.accepted.height, one.quarantine.height, one.duplicates) == (
        many.rows_read, many.accepted.height, many.quarantine.height, many.duplicates)
    assert one.rows_read == 400 and one.duplicates > 50 and one.accepted.height <= 4 * 2 * 30
    assert one.accepted.equals(many.accepted)
    assert one.quarantine.sort("line").equals(many.quarantine.sort("line"))
