"""Relative traffic: observed / typical of the same local hour and weekday over the trailing days."""

import datetime as dt
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sensors_io.relative import relative_traffic

PARIS = ZoneInfo("Europe/Paris")


def _hourly(values: list[tuple[dt.datetime, float | None]], direction: str = "E") -> pl.LazyFrame:
    """Hourly rows from local (Paris) hour starts, as hourly_totals writes them."""
    return pl.LazyFrame(
        [{"site_id": "s", "sensor_id": "a", "mode": "car", "direction": direction,
          "start_utc": t.replace(tzinfo=PARIS).astimezone(dt.UTC), "day": t.date(), "hour": t.hour, "count": v}
         for t, v in values],
        schema_overrides={"hour": pl.Int8, "count": pl.Float64, "start_utc": pl.Datetime("us", "UTC")},
    )


MONDAYS = [dt.datetime(2025, 1, 6, 8) + dt.timedelta(weeks=w) for w in range(6)]


def test_typical_is_the_median_of_the_same_hour_and_weekday_before_the_day() -> None:
    values = [(t, v) for t, v in zip(MONDAYS, [100.0, 120.0, 80.0, 60.0, None, 200.0], strict=True)]
    noise = [(t + dt.timedelta(hours=1), 5000.0) for t in MONDAYS]          # 09:00: another hour
    noise += [(t + dt.timedelta(days=1), 7000.0) for t in MONDAYS]          # Tuesday 08:00: another weekday
    out = relative_traffic(_hourly(values + noise), min_samples=3).collect()
    mon8 = out.filter((pl.col("hour") == 8) & (pl.col("dow") == 1))
    # week 3: median(100, 120, 80) = 100 → 60 / 100; week 4 (null observed): n = 4, median(100, 120, 80, 60) = 90
    # week 5: the null is not a value: median(100, 120, 80, 60) = 90 → 200 / 90
    assert mon8["n_typical"].to_list() == [0, 1, 2, 3, 4, 4]
    assert mon8["typical"].to_list() == [None, None, None, 100.0, 90.0, 90.0]
    assert mon8["relative"].to_list() == [None, None, None, 0.6, None, pytest.approx(200 / 90)]


def test_mean_statistic_and_a_short_trailing_window() -> None:
    values = [(t, v) for t, v in zip(MONDAYS, [100.0, 120.0, 80.0, 60.0, 30.0, 200.0], strict=True)]
    # 14 days before each Monday: the two previous Mondays only
    out = relative_traffic(_hourly(values), trailing_days=14, statistic="mean", min_samples=2).collect()
    # week 2: (100 + 120) / 2 = 110 → 80 / 110; week 5: (60 + 30) / 2 = 45 → 200 / 45
    assert out["typical"].to_list() == [None, None, 110.0, 100.0, 70.0, 45.0]
    assert out["relative"][2] == pytest.approx(80 / 110) and out["relative"][5] == pytest.approx(200 / 45)


def test_typical_zero_gives_no_relative_and_bad_arguments_are_errors() -> None:
    values = [(t, 0.0) for t in MONDAYS[:3]] + [(MONDAYS[3], 10.0)]
    out = relative_traffic(_hourly(values), min_samples=3).collect()
    assert out["typical"][3] == 0.0 and out["relative"][3] is None
    with pytest.raises(ValueError, match="statistic must be 'median' or 'mean'"):
        relative_traffic(_hourly(values), statistic="mode")
    with pytest.raises(ValueError, match="no column 'count_filled'"):
        relative_traffic(_hourly(values), column="count_filled")


def test_hour_is_local_when_the_frame_has_none() -> None:
    # 07:00 UTC on Mondays in January = 08:00 in Paris
    lf = _hourly([(t, 10.0) for t in MONDAYS]).drop("hour", "day")
    out = relative_traffic(lf, min_samples=1).collect()
    assert set(out["hour"]) == {8} and out["relative"].to_list()[1:] == [1.0] * 5


@settings(max_examples=15, deadline=None)
@given(st.lists(st.floats(0, 1000, allow_nan=False), min_size=8, max_size=30), st.randoms(use_true_random=False),
       st.sampled_from(["median", "mean"]))
def test_relative_traffic_does_not_depend_on_row_order(values: list[float], rnd, statistic: str) -> None:
    t0 = dt.datetime(2025, 1, 6, 8)
    rows = [(t0 + dt.timedelta(days=3 * i, hours=i % 2), v / 7) for i, v in enumerate(values)]
    shuffled = rows[:]
    rnd.shuffle(shuffled)
    a = relative_traffic(_hourly(rows), statistic=statistic, min_samples=1).collect()
    b = relative_traffic(_hourly(shuffled), statistic=statistic, min_samples=1).collect()
    assert a.equals(b)
