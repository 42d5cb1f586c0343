"""Hourly and daily totals: completeness, DST day lengths, the valid-day rule."""

import datetime as dt

import polars as pl
import pytest

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


# --- imputed values (columns count_filled / impute_method from the cleaning step) --------------------

def _clean(start: dt.datetime, measured: list[float | None], filled: list[float | None], step_s: int = 3600) -> pl.LazyFrame:
    """A clean frame as the cleaning step writes it: ``count_clean`` measured, ``count_filled`` measured
    or imputed (``impute_method`` set where imputed)."""
    return pl.LazyFrame(
        [{"site_id": "s", "sensor_id": "a", "mode": "car", "direction": "E",
          "start_utc": start + dt.timedelta(seconds=i * step_s), "interval_s": step_s, "count_clean": m,
          "count_filled": f, "impute_method": "profile" if m is None and f is not None else None}
         for i, (m, f) in enumerate(zip(measured, filled, strict=True))],
        schema_overrides={"interval_s": pl.Int32, "count_clean": pl.Float64, "count_filled": pl.Float64,
                          "impute_method": pl.String},
    )


def test_hourly_totals_keep_measured_count_and_add_filled_count_with_its_imputed_share() -> None:
    # 09:00Z (10:00 in Paris): four measured quarters 1+2+3+4 = 10.
    # 10:00Z: 5, (6 imputed), 7, 8 → measured hour incomplete (count null, 3/4 measured); filled 26, 6/26 imputed.
    # 11:00Z: nothing measured, nothing imputed → both null.
    # 12:00Z: 0 measured, then three imputed zeros → volume 0: share by time, 3 of 4 quarters = 0.75.
    measured = [1, 2, 3, 4, 5, None, 7, 8, None, None, None, None, 0, None, None, None]
    filled = [1, 2, 3, 4, 5, 6, 7, 8, None, None, None, None, 0, 0, 0, 0]
    h = hourly_totals(_clean(dt.datetime(2025, 1, 6, 9, tzinfo=UTC), measured, filled, 900)).collect()
    assert h.select("hour", "count", "valid_share", "count_filled", "imputed_share").rows() == [
        (10, 10.0, 1.0, 10.0, 0.0),
        (11, None, 0.75, 26.0, 6 / 26),
        (12, None, 0.0, None, None),
        (13, None, 0.25, 0.0, 0.75),
    ]


def test_a_day_is_valid_on_measured_plus_imputed_hours() -> None:
    start = dt.datetime(2025, 1, 5, 23, tzinfo=UTC)  # local midnight of Monday 6 January
    # 17 measured hours (10..26), 3 imputed hours (100 each), 4 hours missing: 20 hours with a value ≥ 19.
    measured = [10.0 + i for i in range(17)] + [None] * 7
    filled = [10.0 + i for i in range(17)] + [100.0] * 3 + [None] * 4
    d = daily_totals(_clean(start, measured, filled)).collect()
    # measured 10+…+26 = 17·18 = 306; filled 306 + 300 = 606; imputed share 300 / 606
    assert d.select("count", "count_filled", "valid_hours", "measured_hours", "imputed_hours", "is_valid_day").rows() == [
        (306.0, 606.0, 20, 17, 3, True)]
    assert d["imputed_share"][0] == pytest.approx(300 / 606)


def test_without_imputation_columns_filled_equals_measured_and_nothing_is_imputed() -> None:
    start = dt.datetime(2025, 1, 5, 23, tzinfo=UTC)
    nineteen = [10.0 + i for i in range(19)] + [None] * 5  # 10+…+28 = 361
    clean = flag_counts(_counts(start, nineteen)).drop("count_filled", "impute_method", strict=False)
    d = daily_totals(clean).collect()
    assert d.select("count", "count_filled", "valid_hours", "measured_hours", "imputed_hours", "imputed_share").rows() == [
        (361.0, 361.0, 19, 19, 0, 0.0)]
    h = hourly_totals(clean).collect()
    assert h["count_filled"].to_list()[:19] == h["count"].to_list()[:19] == nineteen[:19]
    assert h["hour"].to_list()[:3] == [0, 1, 2]  # local hours of Paris (UTC+1 in January)
    assert set(h["imputed_share"].drop_nulls()) == {0.0}
