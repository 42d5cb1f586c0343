"""The blocking quality gate: a day run (as the daily schedule runs yesterday) whose counts miss too much
stops everything built on it, until the period is registered in the anomaly register."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import polars as pl
from click.testing import CliRunner

from pipelines.cli import cli

START = dt.datetime(2025, 1, 6, tzinfo=dt.UTC)  # a Monday; 10 weeks of hourly counts for 3 sensors
BROKEN_DAY = dt.date(2025, 3, 16)  # the last local day of the data


def _write_counts(path: Path) -> None:
    """Hourly car counts with a daily profile; on BROKEN_DAY (Paris) sensor B loses its 24 hours and C 18."""
    hours = pl.datetime_range(START, START + dt.timedelta(weeks=10, hours=-1), "1h", eager=True, time_zone="UTC")
    frame = pl.DataFrame({"ts": hours}).join(pl.DataFrame({"sensor_id": ["A", "B", "C"]}), how="cross")
    local = pl.col("ts").dt.convert_time_zone("Europe/Paris")
    base = 20 + 80 * ((local.dt.hour() >= 7) & (local.dt.hour() < 20)).cast(pl.Int64)
    count = (base + (pl.int_range(pl.len()) % 7)).cast(pl.String)
    day = local.dt.date() == BROKEN_DAY
    broken = day & ((pl.col("sensor_id") == "B") | ((pl.col("sensor_id") == "C") & (local.dt.hour() >= 6)))
    frame = frame.with_columns(count=pl.when(broken).then(pl.lit("")).otherwise(count), mode=pl.lit("car"),
                               ts=pl.col("ts").dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
    frame.select("sensor_id", "mode", "ts", "count").write_csv(path)


def test_a_failing_gate_stops_the_forecast_until_the_period_is_registered(tmp_path: Path) -> None:
    home = tmp_path / "home"
    src = tmp_path / "counts.csv"
    _write_counts(src)
    runner = CliRunner()
    ing = runner.invoke(cli, ["ingest", str(src), "--home", str(home)])
    # 10 weeks × 24 h × 3 sensors = 5,040 rows, 42 of them empty (kept as not measured).
    totals = re.search(r"^total \(new sources\)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", ing.output, re.M)
    assert totals and totals.groups() == ("5040", "5040", "0", "0"), ing.output
    # Over the whole backfill 42 / 5,040 rows miss: the gate passes; the broken day is a warning.
    assert ing.exit_code == 0, ing.output
    assert "check days_missing on clean_counts: warning" in ing.output
    lake = home / "lake"
    # The day's run, as the 02:00 schedule runs yesterday: (24 + 18) / 72 = 58 % of its rows miss > 50 %.
    run = runner.invoke(cli, ["run", "--home", str(home), "--from", str(BROKEN_DAY)])
    assert run.exit_code == 1
    assert "check missing_share on clean_counts failed" in run.output and "missing_rows: 42" in run.output
    # The day's counts are in the lake, flagged, but nothing downstream was built from them.
    assert (lake / "clean_counts" / f"{BROKEN_DAY}.parquet").exists()
    assert not (lake / "forecasts" / "baseline.parquet").exists()
    assert not (lake / "hourly").exists() and not (home / "warehouse.sqlite").exists()

    # The data engineer registers B's day (the sensor's loop was cut): 18 / 48 = 37.5 % missing, the gate
    # passes (C's day stays a warning) and everything is built.
    (home / "anomalies.yaml").write_text(
        "anomalies:\n"
        f"  - {{sensor_id: B, start: {BROKEN_DAY}, end: {BROKEN_DAY}, reason: boucle coupée,"
        " flagged_by: test, action: exclude}\n")
    run = runner.invoke(cli, ["run", "--home", str(home), "--from", str(BROKEN_DAY)])
    assert run.exit_code == 0, run.output
    forecast = pl.read_parquet(lake / "forecasts" / "baseline.parquet")
    assert sorted(forecast["sensor_id"].unique()) == ["A", "B", "C"]
    clean = pl.read_parquet(lake / "clean_counts" / f"{BROKEN_DAY}.parquet")
    b = clean.filter(pl.col("sensor_id") == "B")
    # B's registered day: its 24 empty hours stay missing (no data) and are left out of the gate.
    assert b.group_by("flag", "flag_reason").len().sort("flag").rows() == [("missing", "no_data", 24)]
    assert "check series_missing on clean_counts: warning" in run.output
