"""The warehouse layer on SQLite and PostgreSQL: exact round-trips, upserts, partition swaps, atomicity."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa
from polars.testing import assert_frame_equal

import warehouse.io as wio
from warehouse.engine import ENV_VAR, create_schema, default_url, make_engine, warehouse_url
from warehouse.io import data_columns, natural_key, polars_schema, read_frame, write_frame
from warehouse.models import metadata
from warehouse.resource import WarehouseResource

UTC = dt.UTC
PARIS = "Europe/Paris"
T0 = dt.datetime(2024, 7, 14, 22, 0, tzinfo=UTC)  # 00:00 in Fécamp on Bastille Day's night
# Floats whose decimal repr is long: any rounding on the way (REAL, text formatting) would show.
AWKWARD = [0.1 + 0.2, 1 / 3, 1e-300, 123456789.12345679, -2.5e17, 5e-324]


def _frame(table: str, rows: list[dict[str, object]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=polars_schema(table), orient="row")


def sites() -> pl.DataFrame:
    return _frame(
        "sites",
        [
            {"site_id": "fec-quai", "site_name": "Quai Bérigny, « port »", "lat": 49.7597, "lon": 0.3742, "source": "telraam"},
            {"site_id": "fec-nolat", "site_name": None, "lat": None, "lon": None, "source": "eco_counter"},
        ],
    )


def daily_counts() -> pl.DataFrame:
    base = {"site_id": "fec-quai", "sensor_id": "t1", "mode": "bike", "direction": "both"}
    return _frame(
        "daily_counts",
        [
            {**base, "day": dt.date(2024, 7, 14), "count": None, "valid_hours": 0, "expected_hours": 24, "is_valid_day": False,
             "count_filled": None, "measured_hours": 0, "imputed_hours": 0, "imputed_share": None},
            {**base, "day": dt.date(2024, 7, 15), "count": 0.0, "valid_hours": 24, "expected_hours": 24, "is_valid_day": True,
             "count_filled": 0.0, "measured_hours": 24, "imputed_hours": 0, "imputed_share": 0.0},
            {**base, "day": dt.date(2024, 7, 16), "count": AWKWARD[0], "valid_hours": 23, "expected_hours": 24, "is_valid_day": True,
             "count_filled": AWKWARD[0] + 2.0, "measured_hours": 21, "imputed_hours": 2, "imputed_share": 2.0 / (AWKWARD[0] + 2.0)},
        ],
    )


def indicators() -> pl.DataFrame:
    base = {"sensor_id": "t1", "mode": "car", "direction": "all", "period": "2024", "unit": "veh/day"}
    return _frame(
        "indicators",
        [
            {**base, "indicator": "tmja", "estimator": None, "value": 1 / 3, "imputed_share": 0.0, "coverage": 1.0},
            {**base, "indicator": "tmja", "estimator": "aasht", "value": 1e-300, "imputed_share": 0.25, "coverage": 0.9},
            {**base, "indicator": "v85", "estimator": None, "value": None, "unit": "km/h", "imputed_share": None, "coverage": 0.0},
        ],
    )


def forecasts(scenario: str = "baseline", yhat: float = 10.0, hours: int = 3) -> pl.DataFrame:
    return _frame(
        "forecasts",
        [
            {
                "sensor_id": "t1", "mode": "car", "direction": "in", "start_utc": T0 + dt.timedelta(hours=h),
                "yhat": yhat + h, "yhat_lower": None if h == 0 else AWKWARD[h % len(AWKWARD)], "yhat_upper": 1e300,
                "yhat_lower_95": 0.0, "yhat_upper_95": None,
                "model": "seasonal_naive", "cutoff_utc": T0 - dt.timedelta(days=1), "scenario": scenario,
            }
            for h in range(hours)
        ],
    )


def forecast_scores() -> pl.DataFrame:
    base = {"sensor_id": "t1", "mode": "car", "direction": "in"}
    return _frame(
        "forecast_scores",
        [
            {**base, "model": "seasonal_naive", "mase": 1.0, "coverage80": 0.8, "coverage95": 0.95, "n_hours": 336, "chosen": False},
            {**base, "model": "ets", "mase": AWKWARD[1], "coverage80": None, "coverage95": AWKWARD[1], "n_hours": 336, "chosen": True},
            {**base, "model": "empty", "mase": None, "coverage80": None, "coverage95": None, "n_hours": 0, "chosen": False},
        ],
    )


def runs() -> pl.DataFrame:
    return _frame(
        "runs",
        [{"run_id": "abc", "asset": "daily_totals", "partition": "2024-07-14", "rows": 3, "written_at": T0},
         {"run_id": "abc", "asset": "sites", "partition": None, "rows": 2, "written_at": T0}],
    )


def impact() -> pl.DataFrame:
    base = {"study": "works", "sensor_id": "t1", "modes": "car,heavy", "controls": "t2,t3", "start": dt.date(2025, 3, 3),
            "end": dt.date(2025, 3, 23), "days": 21, "level": 0.8}
    return _frame(
        "impact",
        [
            {**base, "kind": "effect", "label": "effect", "observed": 1000.0, "counterfactual": 10000.0, "effect": -9000.0,
             "effect_lower": -9100.0, "effect_upper": -8900.0, "effect_pct": -90.0, "effect_pct_lower": -91.0,
             "effect_pct_upper": -89.0, "family_level": None, "effect_pct_family_lower": None,
             "effect_pct_family_upper": None, "shows_effect": True},
            {**base, "kind": "placebo_date", "label": "2024-12-09", "observed": 10100.0, "counterfactual": 10000.0,
             "effect": 100.0, "effect_lower": -300.0, "effect_upper": 500.0, "effect_pct": 1.0, "effect_pct_lower": -3.0,
             "effect_pct_upper": 5.0, "family_level": 0.95, "effect_pct_family_lower": -4.0,
             "effect_pct_family_upper": AWKWARD[1], "shows_effect": False},
        ],
    )


SAMPLES = {f.__name__: f for f in (sites, daily_counts, indicators, forecasts, forecast_scores, runs, impact)}


def _sorted(df: pl.DataFrame, table: str) -> pl.DataFrame:
    return df.sort(natural_key(table) or data_columns(table), nulls_last=False)


# --------------------------------------------------------------------------------------------------
# Schema and engine
# --------------------------------------------------------------------------------------------------


def test_every_table_has_a_sample_and_the_contract_columns() -> None:
    assert set(SAMPLES) == set(metadata.tables)
    assert data_columns("forecasts") == [
        "sensor_id", "mode", "direction", "start_utc", "yhat", "yhat_lower", "yhat_upper", "yhat_lower_95", "yhat_upper_95",
        "model", "cutoff_utc", "scenario",
    ]
    assert data_columns("indicators") == [
        "sensor_id", "mode", "direction", "period", "indicator", "estimator", "value", "unit", "imputed_share", "coverage",
    ]
    assert natural_key("forecasts") == ("scenario", "sensor_id", "mode", "direction", "start_utc")
    assert natural_key("daily_counts") == ("sensor_id", "mode", "direction", "day")
    assert natural_key("forecast_scores") == ("sensor_id", "mode", "direction", "model")
    assert natural_key("indicators") is None  # nullable estimator: replace-by-filter only


def test_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_url(tmp_path) == f"sqlite:///{tmp_path.resolve()}/warehouse.sqlite"
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert warehouse_url(tmp_path) == default_url(tmp_path)
    monkeypatch.setenv(ENV_VAR, "postgresql+psycopg://u@db/prod")
    assert warehouse_url(tmp_path) == "postgresql+psycopg://u@db/prod"
    assert make_engine("postgresql://u@db/prod").dialect.driver == "psycopg"


def test_sqlite_engine_uses_wal_and_foreign_keys(tmp_path: Path) -> None:
    engine = make_engine(default_url(tmp_path / "new" / "home"))  # parent folders are created
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


def test_create_schema_is_idempotent(engine: sa.Engine) -> None:
    write_frame(engine, "sites", sites(), mode="replace_all")
    create_schema(engine)
    create_schema(engine)
    assert set(sa.inspect(engine).get_table_names()) >= set(metadata.tables)
    assert read_frame(engine, "sites").height == 2


# --------------------------------------------------------------------------------------------------
# Round-trips
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("table", sorted(SAMPLES))
def test_round_trip_is_exact(engine: sa.Engine, table: str) -> None:
    df = SAMPLES[table]()
    assert write_frame(engine, table, df, mode="replace_all") == df.height
    back = read_frame(engine, table)
    assert back.schema == polars_schema(table)
    assert_frame_equal(back, _sorted(df, table), check_exact=True)


def test_round_trip_values_that_matter(engine: sa.Engine) -> None:
    write_frame(engine, "daily_counts", daily_counts(), mode="replace_all")
    counts = read_frame(engine, "daily_counts")
    assert counts["count"].to_list() == [None, 0.0, 0.30000000000000004]  # not measured ≠ nobody passed
    assert counts["is_valid_day"].to_list() == [False, True, True]
    assert counts["day"].to_list() == [dt.date(2024, 7, 14), dt.date(2024, 7, 15), dt.date(2024, 7, 16)]

    write_frame(engine, "forecasts", forecasts(), mode="replace_all")
    fc = read_frame(engine, "forecasts")
    assert fc.schema["start_utc"] == pl.Datetime("us", "UTC")
    first = fc.row(0, named=True)
    assert first["start_utc"] == T0 and first["start_utc"].utcoffset() == dt.timedelta(0)
    assert first["cutoff_utc"] == dt.datetime(2024, 7, 13, 22, tzinfo=UTC)
    assert fc["yhat_lower"].to_list() == [None, AWKWARD[1], AWKWARD[2]]
    assert fc["yhat_upper"].to_list() == [1e300] * 3

    write_frame(engine, "indicators", indicators(), mode="replace_all")
    null_est = read_frame(engine, "indicators", where={"estimator": None}, order_by=["indicator"])
    assert null_est.select("indicator", "estimator", "value").rows() == [("tmja", None, 1 / 3), ("v85", None, None)]
    assert read_frame(engine, "indicators", where={"estimator": "aasht"})["value"].to_list() == [1e-300]


def test_awkward_floats_round_trip_bit_for_bit(engine: sa.Engine) -> None:
    df = _frame("sites", [{"site_id": f"s{i}", "site_name": None, "lat": v, "lon": -v, "source": "x"} for i, v in enumerate(AWKWARD)])
    write_frame(engine, "sites", df, mode="replace_all")
    back = read_frame(engine, "sites", order_by=["site_id"])
    assert [v.hex() for v in back["lat"].to_list()] == [v.hex() for v in AWKWARD]
    assert [v.hex() for v in back["lon"].to_list()] == [(-v).hex() for v in AWKWARD]


def test_other_time_zones_are_stored_as_utc_and_naive_is_refused(engine: sa.Engine) -> None:
    df = forecasts().with_columns(pl.col("start_utc").dt.convert_time_zone(PARIS))
    assert df["start_utc"][0].hour == 0  # local midnight
    write_frame(engine, "forecasts", df, mode="replace_all")
    assert read_frame(engine, "forecasts")["start_utc"][0] == T0

    naive = forecasts().with_columns(pl.col("start_utc").dt.replace_time_zone(None))
    with pytest.raises(TypeError, match=r"forecasts\.start_utc: naive"):
        write_frame(engine, "forecasts", naive, mode="replace_all")


def test_where_filters_on_datetimes_and_lists(engine: sa.Engine) -> None:
    write_frame(engine, "forecasts", forecasts(hours=5), mode="replace_all")
    one = read_frame(engine, "forecasts", where={"start_utc": T0 + dt.timedelta(hours=2)})
    assert one["yhat"].to_list() == [12.0]
    some = read_frame(engine, "forecasts", where={"yhat": [10.0, 14.0]}, order_by=["yhat"])
    assert some["start_utc"].to_list() == [T0, T0 + dt.timedelta(hours=4)]


def test_nan_is_written_as_null_on_both_backends(engine: sa.Engine) -> None:
    df = daily_counts().with_columns(pl.when(pl.col("count").is_null()).then(float("nan")).otherwise(pl.col("count")).alias("count"))
    assert math.isnan(df["count"][0])
    write_frame(engine, "daily_counts", df, mode="replace_all")
    assert read_frame(engine, "daily_counts")["count"].to_list() == [None, 0.0, 0.30000000000000004]


def test_lossless_casts_are_accepted(engine: sa.Engine) -> None:
    df = daily_counts().with_columns(pl.col("valid_hours", "expected_hours").cast(pl.Int32), pl.col("count").cast(pl.Float32))
    write_frame(engine, "daily_counts", df, mode="replace_all")
    assert read_frame(engine, "daily_counts")["valid_hours"].to_list() == [0, 24, 23]
    with pytest.raises(TypeError, match=r"daily_counts\.valid_hours: expected Int64, got Float64"):
        write_frame(engine, "daily_counts", df.with_columns(pl.col("valid_hours").cast(pl.Float64)), mode="replace_all")


# --------------------------------------------------------------------------------------------------
# Modes
# --------------------------------------------------------------------------------------------------


def test_upsert_updates_existing_rows_and_inserts_new_ones(engine: sa.Engine) -> None:
    write_frame(engine, "forecasts", forecasts(hours=2), mode="upsert")
    # hour 1 again with a new value, hour 2 new
    update = forecasts(yhat=100.0, hours=3).filter(pl.col("start_utc") > T0)
    assert write_frame(engine, "forecasts", update, mode="upsert") == 2
    back = read_frame(engine, "forecasts")
    assert back.select("start_utc", "yhat").rows() == [
        (T0, 10.0),
        (T0 + dt.timedelta(hours=1), 101.0),
        (T0 + dt.timedelta(hours=2), 102.0),
    ]


def test_upsert_on_a_unique_constraint_beside_a_surrogate_key(engine: sa.Engine) -> None:
    write_frame(engine, "forecast_scores", forecast_scores(), mode="upsert")
    change = _frame(
        "forecast_scores",
        [
            {"sensor_id": "t1", "mode": "car", "direction": "in", "model": "ets", "mase": 0.5, "coverage80": 0.79, "n_hours": 400, "chosen": False},
            {"sensor_id": "t1", "mode": "car", "direction": "in", "model": "gbm", "mase": 0.4, "coverage80": 0.81, "n_hours": 400, "chosen": True},
        ],
    )
    write_frame(engine, "forecast_scores", change, mode="upsert")
    back = read_frame(engine, "forecast_scores", order_by=["model"])
    assert back.select("model", "mase", "n_hours", "chosen").rows() == [
        ("empty", None, 0, False),
        ("ets", 0.5, 400, False),
        ("gbm", 0.4, 400, True),
        ("seasonal_naive", 1.0, 336, False),
    ]


def test_upsert_is_refused_where_the_natural_key_is_nullable(engine: sa.Engine) -> None:
    with pytest.raises(ValueError, match="indicators: no natural key .*replace_where"):
        write_frame(engine, "indicators", indicators(), mode="upsert")


def test_replace_where_only_touches_matching_rows(engine: sa.Engine) -> None:
    write_frame(engine, "forecasts", pl.concat([forecasts("baseline", 10.0), forecasts("festival", 50.0)]), mode="replace_all")
    new = forecasts("festival", 70.0, hours=2)
    assert write_frame(engine, "forecasts", new, mode="replace_where", where={"scenario": "festival"}) == 2
    back = read_frame(engine, "forecasts")
    assert_frame_equal(back.filter(pl.col("scenario") == "baseline"), forecasts("baseline", 10.0), check_exact=True)
    assert back.filter(pl.col("scenario") == "festival")["yhat"].to_list() == [70.0, 71.0]  # hour 2 is gone


def test_replace_where_with_a_null_filter(engine: sa.Engine) -> None:
    write_frame(engine, "indicators", indicators(), mode="replace_all")
    new = _frame(
        "indicators",
        [{"sensor_id": "t1", "mode": "car", "direction": "all", "period": "2024", "indicator": "tmja", "estimator": None,
          "value": 42.0, "unit": "veh/day", "imputed_share": 0.5, "coverage": 0.5}],
    )
    write_frame(engine, "indicators", new, mode="replace_where", where={"estimator": None})
    back = read_frame(engine, "indicators", order_by=["indicator", "estimator"])
    assert back.select("indicator", "estimator", "value").rows() in (
        [("tmja", None, 42.0), ("tmja", "aasht", 1e-300)],  # NULLs sort first on SQLite,
        [("tmja", "aasht", 1e-300), ("tmja", None, 42.0)],  # last on PostgreSQL
    )


def test_replace_where_refuses_rows_outside_the_filter(engine: sa.Engine) -> None:
    with pytest.raises(ValueError, match=r"3 rows of the frame do not match where=\{'scenario': 'festival'\}"):
        write_frame(engine, "forecasts", forecasts("baseline"), mode="replace_where", where={"scenario": "festival"})
    with pytest.raises(ValueError, match="needs a non-empty `where`"):
        write_frame(engine, "forecasts", forecasts(), mode="replace_where")
    with pytest.raises(ValueError, match="only used by mode='replace_where'"):
        write_frame(engine, "forecasts", forecasts(), mode="upsert", where={"scenario": "baseline"})


def test_replace_all_with_an_empty_frame_empties_the_table(engine: sa.Engine) -> None:
    write_frame(engine, "sites", sites(), mode="replace_all")
    assert write_frame(engine, "sites", sites().clear(), mode="replace_all") == 0
    assert read_frame(engine, "sites").is_empty()
    assert read_frame(engine, "sites").schema == polars_schema("sites")


# --------------------------------------------------------------------------------------------------
# Validation and atomicity
# --------------------------------------------------------------------------------------------------


def test_column_mismatch_names_the_columns(engine: sa.Engine) -> None:
    bad = daily_counts().drop("valid_hours").with_columns(pl.lit(1).alias("hours_ok"))
    with pytest.raises(ValueError) as err:
        write_frame(engine, "daily_counts", bad, mode="replace_all")
    msg = str(err.value)
    assert "'daily_counts'" in msg and "missing ['valid_hours']" in msg and "extra ['hours_ok']" in msg


def test_duplicate_keys_and_nulls_in_not_null_columns_are_named(engine: sa.Engine) -> None:
    with pytest.raises(ValueError, match=r"2 rows share a key .*'estimator'"):
        write_frame(engine, "indicators", pl.concat([indicators().head(1)] * 2), mode="replace_all")
    with pytest.raises(ValueError, match=r"NOT NULL columns .*'source': 1"):
        write_frame(engine, "sites", sites().with_columns(pl.when(pl.col("lat").is_null()).then(None).otherwise(pl.col("source")).alias("source")), mode="replace_all")


def test_a_wrong_column_leaves_the_previous_contents_intact(engine: sa.Engine) -> None:
    write_frame(engine, "sites", sites(), mode="replace_all")
    with pytest.raises(ValueError, match="extra"):
        write_frame(engine, "sites", sites().with_columns(pl.lit(1).alias("oops")), mode="replace_all")
    assert_frame_equal(read_frame(engine, "sites"), _sorted(sites(), "sites"))


@pytest.mark.parametrize("copy_path", [False, True], ids=["executemany", "copy"])
def test_a_database_error_after_the_delete_rolls_everything_back(
    engine: sa.Engine, copy_path: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if copy_path:
        monkeypatch.setattr(wio, "COPY_THRESHOLD", 1)  # PostgreSQL: COPY; SQLite: no COPY, same path
    other_site = daily_counts().with_columns(pl.lit("fec-gare").alias("site_id")).head(1)
    write_frame(engine, "daily_counts", daily_counts(), mode="replace_all")
    write_frame(engine, "daily_counts", other_site.with_columns(pl.lit("t9").alias("sensor_id")), mode="upsert")
    before = read_frame(engine, "daily_counts")
    # Passes validation (all rows are site fec-gare), deletes fec-gare's rows, then the insert collides
    # with the primary key of a fec-quai row: the database refuses, and the delete must be undone.
    with pytest.raises(sa.exc.IntegrityError):
        write_frame(engine, "daily_counts", other_site, mode="replace_where", where={"site_id": "fec-gare"})
    assert_frame_equal(read_frame(engine, "daily_counts"), before, check_exact=True)


def test_a_crash_mid_insert_rolls_everything_back(engine: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    write_frame(engine, "forecasts", forecasts(hours=5), mode="replace_all")
    monkeypatch.setattr(wio, "CHUNK_ROWS", 2)
    calls = {"n": 0}
    real_write = wio._executemany_write

    def write_then_crash(conn, t, df, key):  # type: ignore[no-untyped-def]
        real_write(conn, t, df.head(2), key)  # some rows really reach the table…
        calls["n"] += 1
        raise RuntimeError("worker killed")  # …then the process "dies"

    monkeypatch.setattr(wio, "_executemany_write", write_then_crash)
    with pytest.raises(RuntimeError, match="worker killed"):
        write_frame(engine, "forecasts", forecasts("baseline", 99.0, hours=4), mode="replace_all")
    assert calls["n"] == 1
    assert_frame_equal(read_frame(engine, "forecasts"), forecasts(hours=5), check_exact=True)


# --------------------------------------------------------------------------------------------------
# Larger frames (PostgreSQL COPY fast path) and the Dagster resource
# --------------------------------------------------------------------------------------------------


def _many_forecasts(n: int, scenario: str, yhat0: float) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "sensor_id": [f"s,{i % 7}\"q" for i in range(n)],  # commas and quotes survive the CSV of COPY
            "mode": "car",
            "direction": ["" if i % 5 == 0 else "in\nbound" for i in range(n)],  # empty string ≠ null
            "start_utc": pl.datetime_range(T0, T0 + dt.timedelta(hours=n - 1), "1h", time_zone="UTC", eager=True),
            "yhat": [yhat0 + i / 7 for i in range(n)],
            "yhat_lower": [None if i % 3 == 0 else i * 0.1 for i in range(n)],
            "yhat_upper": [math.inf if i == 1 else i * 1e-7 for i in range(n)],
            "yhat_lower_95": [0.0] * n,
            "yhat_upper_95": [None if i % 2 else i * 0.3 for i in range(n)],
            "model": "ets",
            "cutoff_utc": T0,
            "scenario": scenario,
        },
        schema=polars_schema("forecasts"),
    )


def test_large_frames_round_trip_exactly_and_upsert(engine: sa.Engine) -> None:
    n = 6_000  # above COPY_THRESHOLD: the COPY path on PostgreSQL
    base = _many_forecasts(n, "baseline", 0.0)
    write_frame(engine, "forecasts", base, mode="replace_all")
    assert_frame_equal(read_frame(engine, "forecasts"), _sorted(base, "forecasts"), check_exact=True)
    upd = _many_forecasts(n, "baseline", 1.0).tail(n // 2)
    extra = _many_forecasts(n, "roadworks", 2.0)
    write_frame(engine, "forecasts", pl.concat([upd, extra]), mode="upsert")
    expected = pl.concat([base.head(n - n // 2), upd, extra])
    assert_frame_equal(read_frame(engine, "forecasts"), _sorted(expected, "forecasts"), check_exact=True)


def test_resource_creates_the_schema_caches_the_engine_and_audits(url: str) -> None:
    res = WarehouseResource(url=url)
    assert res.engine() is WarehouseResource(url=url).engine()
    assert set(metadata.tables) <= set(sa.inspect(res.engine()).get_table_names())
    assert res.write("sites", sites(), "replace_all", run_id="run-1", partition="2024-07-14") == 2
    assert res.write("forecasts", forecasts("festival"), "replace_where", {"scenario": "festival"}) == 3
    assert res.read("sites", where={"source": "telraam"})["site_id"].to_list() == ["fec-quai"]
    assert res.read("forecasts", order_by=["yhat"])["yhat"].to_list() == [10.0, 11.0, 12.0]
    audit = res.read("runs")
    assert audit.select("run_id", "asset", "partition", "rows").rows() == [("run-1", "sites", "2024-07-14", 2)]
    assert audit["written_at"].dtype == pl.Datetime("us", "UTC")


def test_a_table_from_an_older_release_is_rebuilt_not_fatal(tmp_path) -> None:
    """A warehouse written before `daily_counts` gained its imputation columns: rebuilt, other tables kept."""
    import sqlalchemy as sa

    from warehouse.engine import create_schema, make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'old.sqlite'}")
    create_schema(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE daily_counts")
        conn.exec_driver_sql("CREATE TABLE daily_counts (site_id TEXT, sensor_id TEXT, mode TEXT, direction TEXT, day DATE, "
                             "count FLOAT, valid_hours INT, expected_hours INT, is_valid_day BOOLEAN)")
        conn.exec_driver_sql("INSERT INTO sites (site_id, site_name, lat, lon, source) VALUES ('s', 'S', 49.7, 0.4, 't')")
    assert create_schema(engine) == ["daily_counts"]
    cols = {c["name"] for c in sa.inspect(engine).get_columns("daily_counts")}
    assert {"count_filled", "measured_hours", "imputed_hours", "imputed_share"} <= cols
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM sites").scalar() == 1
    assert create_schema(engine) == []
