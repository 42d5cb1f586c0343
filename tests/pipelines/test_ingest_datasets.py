"""Every dataset in ../shared/data through `mobility ingest PATH` (auto-detection), as a user runs it.

Each test reads the accounting the command prints and the daily partitions it wrote to
``lake/counts/``, and checks values computed by hand on the raw files (the commands are in comments).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from pipelines.cli import cli

UTC = dt.UTC


def _accounting(output: str, fmt: str) -> tuple[int, int, int, int]:
    """(read, accepted, quarantined, duplicates) from the total line of `mobility ingest`'s table."""
    assert "rows read = accepted + quarantined + duplicates: holds" in output, output
    totals = re.search(r"^total \(new sources\)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$", output, re.M)
    assert totals, output
    assert fmt in output
    return tuple(int(x) for x in totals.groups())  # type: ignore[return-value]


def _counts(home: Path) -> pl.DataFrame:
    return pl.read_parquet(home / "lake" / "counts" / "*.parquet")


def _ingest(home: Path, *args: str) -> str:
    res = CliRunner().invoke(cli, ["ingest", *args, "--home", str(home)])
    assert res.exit_code == 0, res.output
    return res.output


def test_national_schema_v024(home: Path, shared_data: Path) -> None:
    out = _ingest(home, str(shared_data / "comptage_mobilites_schema" / "v0.2.4"))
    # wc -l measure/exemple-valide-eco-compteur.csv → 3,651 lines = 3,650 daily rows + header.
    assert _accounting(out, "national_schema") == (3650, 3650, 0, 0)
    counts = _counts(home)
    assert counts.height == 3650
    # measure.csv line 1582: 353226380,CPTTEST2043,2022-05-01T00:00:00+02:00,2022-05-02T00:00:00+02:00,51
    row = counts.filter(pl.col("sensor_id") == "CPTTEST2043:353226380", pl.col("start_utc") == dt.datetime(2022, 4, 30, 22, tzinfo=UTC))
    assert row.select("mode", "direction", "interval_s", "count").rows() == [("bike", "IN", 86400, 51.0)]
    # That local day (1 May 2022) lives in the partition of its local day.
    assert (home / "lake" / "counts" / "2022-05-01.parquet").exists()


def test_national_schema_v020_short_offsets(home: Path, shared_data: Path) -> None:
    out = _ingest(home, str(shared_data / "comptage_mobilites_schema" / "v0.2.0"))
    assert _accounting(out, "national_schema") == (120, 120, 0, 0)
    counts = _counts(home)
    # measure.csv: 353267701,CPTTEST2030,2021-09-15T08:00:00+02,… → 06:00Z (the first hour of that channel
    # is 00:00+02 = 22:00Z the day before).
    first = counts.filter(pl.col("sensor_id") == "CPTTEST2030").sort("start_utc")
    assert first["start_utc"][0] == dt.datetime(2021, 9, 14, 22, tzinfo=UTC)
    # Hand total of CPTTEST2030 on 15 Sept 2021 (local), all its channels, from the raw file.
    day = first.filter(pl.col("start_utc").dt.convert_time_zone("Europe/Paris").dt.date() == dt.date(2021, 9, 15))
    rows, total = _raw_national_day(shared_data)
    assert rows > 0 and (day.height, day["count"].sum()) == (rows, total)


def _raw_national_day(shared_data: Path) -> tuple[int, float]:
    """Rows and total of counter CPTTEST2030 on local day 2021-09-15, with the csv module (not the reader)."""
    import csv

    path = shared_data / "comptage_mobilites_schema" / "v0.2.0" / "measure" / "exemple-valide-eco-compteur.csv"
    with open(path, encoding="utf-8-sig", newline="") as fh:
        sel = [r for r in csv.DictReader(fh)
               if r["counter_id"] == "CPTTEST2030" and r["start_datetime"].startswith("2021-09-15")]
    return len(sel), float(sum(float(r["count"]) for r in sel if r["count"]))


def test_paris_loops(home: Path, shared_data: Path) -> None:
    out = _ingest(home, str(shared_data / "paris_comptages_routiers"))
    # 9,034 data rows (wc -l = 9,035 with the header), no duplicate stamp for the one arc (README).
    assert _accounting(out, "paris_loops") == (9034, 9034, 0, 0)
    counts = _counts(home)
    assert counts.height == 9034
    # sed -n 2p: 4264;AV_Champs_Elysees;2024-01-04T22:00:00+01:00;1034.0;… — 22:00+01:00 = 21:00Z ENDS the
    # hour → start 20:00Z.
    assert counts.filter(pl.col("start_utc") == dt.datetime(2024, 1, 4, 20, tzinfo=UTC))["count"].to_list() == [1034.0]
    # Local day 2024-01-04 (hours ending 01:00 … 24:00): 24 rows, 21,477 vehicles (csv-module computation
    # in tests/sensors_io/test_paris_loops.py::test_local_day_total).
    day = pl.read_parquet(home / "lake" / "counts" / "2024-01-04.parquet")
    assert (day.height, day["count"].sum()) == (24, 21477.0)


def test_ecocounter_portal_sample(home: Path, shared_data: Path) -> None:
    out = _ingest(home, str(shared_data / "paris_comptage_velo_sample"))
    assert _accounting(out, "ecocounter") == (21, 21, 0, 0)
    day = pl.read_parquet(home / "lake" / "counts" / "2021-09-01.parquet")
    # 21 hourly rows 03:00–23:00+02:00 (README); line 9: …;280.0;2021-09-01T08:00:00+02:00 → 06:00Z.
    assert day.height == 21
    assert day.filter(pl.col("start_utc") == dt.datetime(2021, 9, 1, 6, tzinfo=UTC))["count"].to_list() == [280.0]
    assert day["sensor_id"].unique().to_list() == ["100003096-353242251"]


@pytest.mark.slow
def test_telraam_karlsruhe(home: Path, shared_data: Path) -> None:
    out = _ingest(home, str(shared_data / "telraam_karlsruhe"))
    read, accepted, quarantined, duplicates = _accounting(out, "telraam")
    assert read == accepted + quarantined + duplicates
    counts = _counts(home)
    assert counts.height == accepted
    # 2026-03.json item "2026-03-10T07:00:00.000Z" of device 9000008322: car_lft 198.7739951951.
    hour = counts.filter(pl.col("sensor_id") == "telraam-9000008322", pl.col("start_utc") == dt.datetime(2026, 3, 10, 7, tzinfo=UTC),
                         pl.col("mode") == "car", pl.col("direction") == "lft")
    assert hour["count"].to_list() == [pytest.approx(198.7739951951)]
    # Rows per item (the reader's documented unit): 4 classes × 2 directions, + 2 all_vehicles rows when the
    # S2 device's ``night`` count is > 0; every JSON item is one hour of one device.
    items, night_items = _telraam_items(shared_data)
    assert read == 8 * items + 2 * night_items


def _telraam_items(shared_data: Path) -> tuple[int, int]:
    """(hourly items, items with night > 0) in every collector file (``{"device_id", "month", "data": [...]}``)."""
    import json

    items = [i for f in (shared_data / "telraam_karlsruhe").rglob("hourly/*.json") for i in json.loads(f.read_text())["data"]]
    return len(items), sum(1 for i in items if (i.get("night") or 0) > 0)


@pytest.mark.slow
def test_uci_history_from_2012_in_its_own_zone(tmp_path: Path, shared_data: Path) -> None:
    """History back to 2012 needs no code change: the partitions' start is configuration."""
    home = tmp_path / "home"
    exe = Path(sys.executable).with_name("mobility")
    env = {**os.environ, "MOBILITY_PARTITIONS_START": "2012-01-01"}
    res = subprocess.run([str(exe), "ingest", str(shared_data / "uci_metro_interstate"), "--tz", "America/Chicago",
                          "--home", str(home)], capture_output=True, text=True, env=env, timeout=900)
    assert res.returncode == 0, res.stdout + res.stderr
    # 48,204 rows; 7,629 repeat a timestamp with the same volume (weather rows), none conflict.
    assert _accounting(res.stdout, "naive_csv") == (48204, 40575, 0, 7629)
    counts = _counts(home)
    assert counts.height == 40575
    # Line 2: …,2012-10-02 09:00:00,5545 — 09:00 CDT (UTC−5) = 14:00Z.
    assert counts.filter(pl.col("start_utc") == dt.datetime(2012, 10, 2, 14, tzinfo=UTC))["count"].to_list() == [5545.0]
    # Paris local day 2012-10-03 = Chicago 2012-10-02 17:00 → 2012-10-03 17:00; hand total with the csv module
    # (unique timestamps, last row wins — all copies agree).
    import csv
    import zoneinfo

    chicago, paris = zoneinfo.ZoneInfo("America/Chicago"), zoneinfo.ZoneInfo("Europe/Paris")
    seen: dict[dt.datetime, float] = {}
    with open(shared_data / "uci_metro_interstate" / "Metro_Interstate_Traffic_Volume.csv", newline="") as fh:
        for r in csv.DictReader(fh):
            t = dt.datetime.fromisoformat(r["date_time"]).replace(tzinfo=chicago)
            if t.astimezone(paris).date() == dt.date(2012, 10, 3):
                seen[t] = float(r["traffic_volume"])
    day = pl.read_parquet(home / "lake" / "counts" / "2012-10-03.parquet")
    assert (day.height, day["count"].sum()) == (len(seen), sum(seen.values()))
