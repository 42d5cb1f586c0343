"""The `mobility` command as a user meets it: time zones, clear errors, exit codes."""

import datetime as dt
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from pipelines.cli import cli
from scenarios.calendars import CalendarCoverageError


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_tz_applies_to_naive_timestamps(runner: CliRunner, home: Path, tmp_path: Path) -> None:
    f = tmp_path / "counts.csv"
    # A whole local day (08:00 = 120, 09:00 = 150, the other hours 50 + h, varied so that no run looks
    # stuck): a partial day would fail the missing-share gate.
    rows = [f"2025-01-06 {h:02d}:00:00,{ {8: 120, 9: 150}.get(h, 50 + h)}" for h in range(24)]
    f.write_text("date_time,traffic_volume\n" + "\n".join(rows) + "\n")
    res = runner.invoke(cli, ["ingest", str(f), "--home", str(home), "--tz", "Europe/Paris"])
    assert res.exit_code == 0, res.output
    counts = pl.read_parquet(home / "lake" / "counts" / "2025-01-06.parquet")
    assert counts.height == 24
    assert counts.filter(pl.col("count") >= 120).select("start_utc", "count").rows() == [
        (dt.datetime(2025, 1, 6, 7, tzinfo=dt.UTC), 120.0),  # 08:00 in Paris (UTC+1) = 07:00Z
        (dt.datetime(2025, 1, 6, 8, tzinfo=dt.UTC), 150.0),
    ]
    # The same file read in another zone is another source: it is staged again, not skipped.
    res = runner.invoke(cli, ["ingest", str(f), "--home", str(home), "--tz", "America/Chicago"])
    assert res.exit_code == 0 and "already ingested" not in res.output


def test_history_before_the_partitions_says_which_setting_to_change(runner: CliRunner, home: Path, shared_data: Path) -> None:
    res = runner.invoke(cli, ["ingest", str(shared_data / "uci_metro_interstate"), "--home", str(home)])
    assert res.exit_code == 1
    # Local days of the town (Europe/Paris): the last row, 2018-09-30 23:00 in Chicago, is 1 October in Paris.
    assert "2012-10-02 → 2018-10-01" in res.output and "MOBILITY_PARTITIONS_START" in res.output
    assert "48204" in res.output  # the accounting was printed first: nothing read is lost


def test_an_unknown_file_exits_2_and_lists_the_formats(tmp_path: Path, home: Path) -> None:
    bad = tmp_path / "export.csv"
    bad.write_text("foo;bar\n1;2\n")
    exe = Path(sys.executable).with_name("mobility")
    res = subprocess.run([str(exe), "ingest", str(bad), "--home", str(home)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 2
    assert str(bad) in res.stderr and "line 1" in res.stderr
    for name in ("national_schema", "telraam", "paris_loops", "ecocounter", "naive_csv", "--mapping"):
        assert name in res.stderr
    assert "Traceback" not in res.stderr


def test_readme_mapping_example_ingests_a_wide_csv(runner: CliRunner, home: Path) -> None:
    docs = Path(__file__).resolve().parents[2] / "docs" / "examples"
    res = runner.invoke(cli, ["ingest", str(docs / "wide_channels.csv"), "--mapping", str(docs / "wide_channels.yaml"),
                              "--home", str(home)])
    assert res.exit_code == 0, res.output
    assert "rows read = accepted + quarantined + duplicates: holds" in res.output
    counts = pl.read_parquet(home / "lake" / "counts" / "2024-07-14.parquet")
    assert counts.height == 96  # 24 hours × 4 channels, as the README says
    velo_in = counts.filter((pl.col("sensor_id") == "QB-velo") & (pl.col("direction") == "entree")).sort("start_utc")
    assert velo_in["start_utc"][0] == dt.datetime(2024, 7, 13, 22, tzinfo=dt.UTC)
    assert velo_in["count"].sum() == 182.0  # (3h mod 17) over h = 0..23, by hand
    assert counts.filter(pl.col("sensor_id") == "QB-pieton")["count"].null_count() == 1
    # Ingesting it again changes nothing.
    again = runner.invoke(cli, ["ingest", str(docs / "wide_channels.csv"), "--mapping", str(docs / "wide_channels.yaml"),
                                "--home", str(home)])
    assert again.exit_code == 0 and "already ingested" in again.output


def test_format_and_mapping_together_are_refused(runner: CliRunner, home: Path) -> None:
    docs = Path(__file__).resolve().parents[2] / "docs" / "examples"
    res = runner.invoke(cli, ["ingest", str(docs / "long_counts.csv"), "--mapping", str(docs / "long_counts.yaml"),
                              "--format", "naive_csv", "--home", str(home)])
    assert res.exit_code == 2 and "not both" in res.output


def test_daily_only_national_files_run_end_to_end_without_forecasts(runner: CliRunner, home: Path,
                                                                    shared_data: Path) -> None:
    """The README's example: real Eco-Counter exports at daily steps, ingested and run as a new user would."""
    from warehouse.engine import default_url, make_engine
    from warehouse.io import read_frame

    res = runner.invoke(cli, ["ingest", str(shared_data / "comptage_mobilites_schema" / "v0.2.4"), "--home", str(home)])
    assert res.exit_code == 0, res.output
    res = runner.invoke(cli, ["run", "--home", str(home)])
    assert res.exit_code == 0, res.output
    engine = make_engine(default_url(home))
    tmja = read_frame(engine, "indicators", where={"sensor_id": "CPTTEST2032", "indicator": "tmja",
                                                   "estimator": "mean_valid_days", "direction": "all"})
    # By hand from the measure CSV: counter CPTTEST2032 has two pedestrian channels, 730 rows. On 53 days one
    # channel reads 0 while the other counts thousands: the zero-run check excludes that channel-day, so the
    # day is not valid for direction `all`. The other 312 days sum to 2,281,305 (python csv, both > 0).
    assert tmja.select("mode", "period", "value", "coverage").rows() == [("pedestrian", "2022", 2281305 / 312, 312 / 365)]
    assert read_frame(engine, "forecasts").is_empty()  # no hourly counts: said, not faked
    # No scenario file in this home (the demo's are installed by `mobility demo` only): the index says so.
    assert '<html lang="fr">' in (home / "reports" / "index.html").read_text()
    assert not list((home / "reports").glob("*.fr.html"))


def test_export_writes_each_warehouse_table(runner: CliRunner, home: Path) -> None:
    from warehouse.engine import create_schema, default_url, make_engine
    from warehouse.io import write_frame

    engine = make_engine(default_url(home))
    create_schema(engine)
    sites = pl.DataFrame({"site_id": ["b", "a"], "site_name": ["Quai Bérigny", "Bd <Albert Ier>"], "lat": [49.76, 49.77],
                          "lon": [0.37, 0.36], "source": ["demo", "demo"]})
    write_frame(engine, "sites", sites, mode="replace_all")
    engine.dispose()
    res = runner.invoke(cli, ["export", "--home", str(home), "--table", "sites"])
    assert res.exit_code == 0, res.output
    out = pl.read_csv(home / "exports" / "sites.csv")
    assert out.rows() == [("a", "Bd <Albert Ier>", 49.77, 0.36, "demo"), ("b", "Quai Bérigny", 49.76, 0.37, "demo")]
    res = runner.invoke(cli, ["export", "--home", str(home), "--format", "parquet", "--out", str(home / "x")])
    assert res.exit_code == 0 and pl.read_parquet(home / "x" / "sites.parquet").height == 2
    assert not (home / "x" / "daily_counts.parquet").exists() or pl.read_parquet(home / "x" / "daily_counts.parquet").height == 0
    bad = runner.invoke(cli, ["export", "--home", str(home), "--table", "nope"])
    assert bad.exit_code == 2 and "expected one of" in bad.output


def test_forecast_from_a_cutoff_with_a_horizon(runner: CliRunner, home: Path, tmp_path: Path) -> None:
    """`mobility forecast --cutoff DATE --horizon 48h` on 13 weeks of hourly counts of 3 sensors."""
    start = dt.datetime(2025, 1, 6, tzinfo=dt.UTC)
    hours = pl.datetime_range(start, start + dt.timedelta(weeks=13, hours=-1), "1h", eager=True, time_zone="UTC")
    local = pl.col("ts").dt.convert_time_zone("Europe/Paris")
    frame = (pl.DataFrame({"ts": hours}).join(pl.DataFrame({"sensor_id": ["A", "B", "C"]}), how="cross")
             .with_columns(count=(20 + 80 * ((local.dt.hour() >= 7) & (local.dt.hour() < 20)).cast(pl.Int64)
                                  + pl.int_range(pl.len()) % 7).cast(pl.String),
                           mode=pl.lit("car"), ts=pl.col("ts").dt.strftime("%Y-%m-%dT%H:%M:%SZ")))
    src = tmp_path / "counts.csv"
    frame.select("sensor_id", "mode", "ts", "count").write_csv(src)
    assert runner.invoke(cli, ["ingest", str(src), "--home", str(home)]).exit_code == 0
    res = runner.invoke(cli, ["forecast", "--home", str(home), "--cutoff", "2025-03-02", "--horizon", "48h"])
    assert res.exit_code == 0, res.output
    fc = pl.read_csv(home / "exports" / "forecast_2025-03-02_48h.csv", try_parse_dates=True)
    # The cutoff is the end of 2 March in Paris (UTC+1) = 2 March 23:00Z: 48 hours from there, 3 series.
    assert fc.height == 3 * 48
    assert fc["start_utc"].min() == dt.datetime(2025, 3, 2, 23, tzinfo=dt.UTC)
    assert fc["start_utc"].max() == dt.datetime(2025, 3, 4, 22, tzinfo=dt.UTC)
    assert (fc["yhat_lower_95"] >= 0).all() and (fc["yhat_lower_95"] <= fc["yhat_lower"]).all()
    assert (fc["yhat_lower"] <= fc["yhat"]).all() and (fc["yhat"] <= fc["yhat_upper"]).all()
    assert (fc["yhat_upper"] <= fc["yhat_upper_95"]).all()
    assert "mean MASE" in res.output and "3 series" in res.output
    scored = set(pl.read_csv(home / "exports" / "forecast_scores_2025-03-02_48h.csv")["model"])
    assert "hgb_poisson" in scored and not scored & {"mstl_ets", "unobserved_components"}
    bad = runner.invoke(cli, ["forecast", "--home", str(home), "--horizon", "soon"])
    assert bad.exit_code == 2 and "7d or 48h" in bad.output
    # the town event calendar in the home is read: complete only to 3 March, it stops a forecast to 4 March
    (home / "events.yaml").write_text("covers_until: 2025-03-03\nevents:\n  - {name: Foire, kind: fair, "
                                      "start: 2025-02-15}\n", encoding="utf-8")
    short = runner.invoke(cli, ["forecast", "--home", str(home), "--cutoff", "2025-03-02", "--horizon", "48h"])
    assert short.exit_code != 0 and isinstance(short.exception, CalendarCoverageError)
    assert f"{home / 'events.yaml'} is complete only to 2025-03-03" in str(short.exception)


def test_forecast_with_statsmodels_scores_their_candidates(runner: CliRunner, home: Path) -> None:
    """`--statsmodels` adds MSTL + ETS and UnobservedComponents to the competition. One series of 13
    weeks written straight to the lake's hourly table (the candidates are fitted per series, ~2 s per fit
    for UnobservedComponents: one series keeps the test short). The frame has only the columns the
    forecast reads (series key, start_utc, count, valid_share), not the whole hourly table."""
    start = dt.datetime(2025, 1, 6, tzinfo=dt.UTC)
    hours = pl.datetime_range(start, start + dt.timedelta(weeks=13, hours=-1), "1h", eager=True, time_zone="UTC")
    local = pl.col("start_utc").dt.convert_time_zone("Europe/Paris")
    hourly = pl.DataFrame({"start_utc": hours}).with_columns(
        sensor_id=pl.lit("A"), mode=pl.lit("car"), direction=pl.lit("both"),
        count=(20 + 80 * ((local.dt.hour() >= 7) & (local.dt.hour() < 20)).cast(pl.Int64)
               + pl.int_range(pl.len()) % 7).cast(pl.Float64), valid_share=pl.lit(1.0))
    (home / "lake" / "hourly").mkdir(parents=True, exist_ok=True)
    hourly.write_parquet(home / "lake" / "hourly" / "2025.parquet")
    # with 4 weeks before the first of the 8 weekly backtest origins (12 weeks before the cutoff), both
    # statsmodels candidates are scored
    res = runner.invoke(cli, ["forecast", "--home", str(home), "--cutoff", "2025-03-30", "--horizon", "24h",
                              "--statsmodels"])
    assert res.exit_code == 0, res.output
    scores = pl.read_csv(home / "exports" / "forecast_scores_2025-03-30_24h.csv")
    assert scores.filter(pl.col("chosen")).height == 1
    for name in ("mstl_ets", "unobserved_components"):
        assert scores.filter(pl.col("model") == name)["mase"].drop_nulls().len() == 1
    fc = pl.read_csv(home / "exports" / "forecast_2025-03-30_24h.csv", try_parse_dates=True)
    assert fc.height == 24 and (fc["yhat_lower"] <= fc["yhat"]).all() and (fc["yhat"] <= fc["yhat_upper"]).all()
