"""Indicators on a tiny fixture, every expected value computed by hand."""

import datetime as dt

import polars as pl
import pytest

from scenarios.calendars import calendar_frame
from sensors_io.indicators import INDICATORS_SCHEMA, traffic_indicators

D = dt.date


def _daily(rows: list[tuple[str, dt.date, float, bool]]) -> pl.LazyFrame:
    return pl.LazyFrame(
        [{"site_id": "s", "sensor_id": "a", "mode": "car", "direction": d, "day": day, "count": c,
          "valid_hours": 24 if ok else 10, "expected_hours": 24, "is_valid_day": ok} for d, day, c, ok in rows]
    )


@pytest.fixture(scope="module")
def indicators() -> pl.DataFrame:
    rows = [
        ("E", D(2025, 1, 1), 30.0, True),    # Wednesday, public holiday (Jour de l'an)
        ("E", D(2025, 1, 6), 100.0, True),   # Monday
        ("E", D(2025, 1, 7), 200.0, True),   # Tuesday
        ("E", D(2025, 1, 11), 50.0, True),   # Saturday
        ("E", D(2025, 1, 12), 70.0, False),  # Sunday, too few valid hours
        ("W", D(2025, 1, 6), 10.0, True),
        ("W", D(2025, 1, 7), 20.0, True),
        ("W", D(2025, 1, 11), 5.0, True),
        ("W", D(2025, 1, 12), 7.0, True),
    ]
    return traffic_indicators(_daily(rows), calendar_frame(D(2025, 1, 1), D(2025, 12, 31)))


def _value(ind: pl.DataFrame, indicator: str, direction: str, period: str) -> tuple[float | None, float]:
    row = ind.filter((pl.col("indicator") == indicator) & (pl.col("direction") == direction)
                     & (pl.col("period") == period))
    assert row.height == 1, row
    return row["value"][0], row["coverage"][0]


def test_schema_is_the_indicators_contract(indicators: pl.DataFrame) -> None:
    assert indicators.schema == INDICATORS_SCHEMA


def test_tmja_is_the_mean_of_valid_days(indicators: pl.DataFrame) -> None:
    # (30 + 100 + 200 + 50) / 4 = 95; 4 valid days of 365.
    assert _value(indicators, "tmja", "E", "2025") == (95.0, 4 / 365)
    est = indicators.filter(pl.col("indicator") == "tmja")["estimator"].unique().to_list()
    assert est == ["mean_valid_days"]


def test_tmjo_keeps_working_days_only(indicators: pl.DataFrame) -> None:
    # 1 January is a holiday: (100 + 200) / 2 = 150. 2025: 261 weekdays − 10 weekday holidays = 251.
    assert _value(indicators, "tmjo", "E", "2025") == (150.0, 2 / 251)


def test_weekend_mean_and_monthly_mean(indicators: pl.DataFrame) -> None:
    assert _value(indicators, "weekend", "E", "2025") == (50.0, 1 / 104)  # the Sunday is not valid
    assert _value(indicators, "tmjm", "E", "2025-01") == (95.0, 4 / 31)
    assert _value(indicators, "tmjm", "E", "2025-02") == (None, 0.0)  # no data: said, not hidden


def test_both_directions_sum_only_on_days_where_every_direction_is_valid(indicators: pl.DataFrame) -> None:
    # Mon 110, Tue 220, Sat 55 valid; Sun (E invalid) and 1 Jan (W absent) are not.
    value, coverage = _value(indicators, "tmja", "all", "2025")
    assert value == pytest.approx((110 + 220 + 55) / 3)
    assert coverage == 3 / 365


def test_indicators_do_not_depend_on_row_order() -> None:
    rows = [("E", D(2025, 1, d), float(d * 10), True) for d in range(1, 20)]
    cal = calendar_frame(D(2025, 1, 1), D(2025, 12, 31))
    a = traffic_indicators(_daily(rows), cal)
    b = traffic_indicators(_daily(rows[::-1]), cal)
    assert a.equals(b)
