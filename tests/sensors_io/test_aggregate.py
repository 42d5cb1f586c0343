"""Hourly and daily totals: completeness, DST day lengths, the valid-day rule."""

import datetime as dt

import polars as pl

from sensors_io.aggregate import daily_totals, hourly_totals
from sensors_io.quality import flag_counts

UTC = dt.UTC


def _counts(start: dt.datetime, values: list[float | None], step_s: int = 3600, mode: str = "car") -> pl.LazyFrame:
    return pl.LazyFrame(
        [{"site_id": "s", "sensor_id": "a", "mode": mode, "direction": "E",
          "start_utc": start + dt.timedelta(seconds=i * step_s), "interval_s": step_s, "count": v}
         for i, v in enumerate(values)],
        schema_overrides={"interval_s": pl.Int32, "count": pl.Float64},
    )


def test_quarter_hours_sum_to_hours_and_an_incomplete_hour_is_null() -> None:
    lf = flag_counts(_counts(dt.datetime(2025, 1, 6, 9, tzinfo=UTC), [1, 2, 3, 4, 5, None, 7, 8], 900))
    h = hourly_totals(lf).collect()
    assert h.select("count", "valid_share").rows() == [(10.0, 1.0), (None, 0.75)]
    assert h["day"].to_list() == [dt.date(2025, 1, 6)] * 2


def test_dst_days_have_23_and_25_expected_hours() -> None:
    # Local midnight 30 March 2025 = 23:00Z on the 29th; the day has 23 hours.
    spring = _counts(dt.datetime(2025, 3, 29, 23, tzinfo=UTC), [float(i % 3) for i in range(23)], mode="bike")
    autumn = _counts(dt.datetime(2025, 10, 25, 22, tzinfo=UTC), [float(i % 3) for i in range(25)], mode="bike")
    d = daily_totals(flag_counts(pl.concat([spring, autumn]))).collect()
    assert d.select("day", "count", "valid_hours", "expected_hours", "is_valid_day").rows() == [
        (dt.date(2025, 3, 30), 22.0, 23, 23, True),  # 0+1+2 repeated: 7×3 + 0+1 = 22
        (dt.date(2025, 10, 26), 24.0, 25, 25, True),  # 8×3 + 0 = 24
    ]


def test_valid_day_needs_19_of_24_hours() -> None:
    start = dt.datetime(2025, 1, 5, 23, tzinfo=UTC)  # local midnight of Monday 6 January
    # Values vary (a constant run would be flagged stuck): sums 10+…+28 = 361 and 10+…+27 = 333.
    nineteen = [10.0 + i for i in range(19)] + [None] * 5
    eighteen = [10.0 + i for i in range(18)] + [None] * 6
    d = daily_totals(flag_counts(pl.concat([
        _counts(start, nineteen), _counts(start + dt.timedelta(days=1), eighteen)]))).collect()
    assert d.select("count", "valid_hours", "is_valid_day").rows() == [(361.0, 19, True), (333.0, 18, False)]


def test_a_day_without_any_valid_value_has_a_null_total_not_zero() -> None:
    d = daily_totals(flag_counts(_counts(dt.datetime(2025, 1, 5, 23, tzinfo=UTC), [None] * 24))).collect()
    assert d.select("count", "valid_hours", "is_valid_day").rows() == [(None, 0, False)]
