"""Quality flags: every value gets one; excluded values keep their count but leave count_clean."""

import datetime as dt

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from sensors_io.quality import QualityConfig, flag_counts

T0 = dt.datetime(2025, 1, 6, 8, tzinfo=dt.UTC)  # 09:00 local, a Monday


def _lf(values, mode="car", uptime=None) -> pl.LazyFrame:
    rows = [{"site_id": "s", "sensor_id": "a", "mode": mode, "direction": "E", "start_utc": T0 + dt.timedelta(hours=i),
             "interval_s": 3600, "count": v} for i, v in enumerate(values)]
    lf = pl.LazyFrame(rows, schema_overrides={"count": pl.Float64, "interval_s": pl.Int32})
    return lf.with_columns(uptime=pl.Series(uptime, dtype=pl.Float64)) if uptime is not None else lf


def _flags(lf: pl.LazyFrame) -> list[tuple]:
    return flag_counts(lf).collect().select("flag", "flag_reason").rows()


def test_stuck_values_are_excluded_from_four_repeats() -> None:
    assert [r[1] for r in _flags(_lf([50.0, 50.0, 50.0, 50.0, 60.0]))] == ["stuck"] * 4 + [None]
    assert [r[0] for r in _flags(_lf([50.0, 50.0, 50.0, 60.0]))] == ["observed"] * 4
    assert [r[0] for r in _flags(_lf([1.0] * 6, mode="bike"))] == ["observed"] * 6  # small repeats are plausible


def test_daytime_car_zero_runs_are_excluded_but_bike_zeros_are_confirmed_zeros() -> None:
    assert _flags(_lf([0.0, 0.0, 0.0])) == [("excluded", "zero_run")] * 3
    assert _flags(_lf([0.0, 0.0, 12.0])) == [("zero", None), ("zero", None), ("observed", None)]
    assert _flags(_lf([0.0, 0.0, 0.0], mode="bike")) == [("zero", None)] * 3


def test_low_uptime_and_implausible_values_are_excluded() -> None:
    assert _flags(_lf([10.0, 10.5], uptime=[0.3, 0.9])) == [("excluded", "low_uptime"), ("observed", None)]
    assert _flags(_lf([3001.0], mode="car")) == [("excluded", "implausible")]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(st.none(), st.floats(0, 5000, allow_nan=False)), min_size=1, max_size=30))
def test_flags_never_change_a_count_and_count_clean_is_the_count_or_null(values) -> None:
    out = flag_counts(_lf(values), QualityConfig()).collect()
    assert out["count"].to_list() == values
    kept = out.filter(pl.col("count_clean").is_not_null())
    assert (kept["count_clean"] == kept["count"]).all()
    assert set(out["flag"]) <= {"observed", "zero", "missing", "excluded"}
    assert out.filter(pl.col("count").is_null())["flag"].to_list() == ["missing"] * sum(v is None for v in values)
