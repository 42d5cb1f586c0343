"""Hourly and daily totals of cleaned counts, in the town's local time.

Only ``count_clean`` is summed (observed values and confirmed zeros). An hour is complete when its
valid intervals cover the whole hour; a local day is **valid** when it has at least
``expected_hours - 5`` valid hours (19 of 24; 18 of 23 and 20 of 25 on DST days, INDICATORS.md §3).
"""

from __future__ import annotations

import polars as pl

from sensors_io.schema import SERIES_KEY

#: Fixed-point scale of exact sums: counts are summed as integers of 1e-6 units.
EXACT_SCALE = 1_000_000


def exact_sum(expr: pl.Expr, scale: int = EXACT_SCALE) -> pl.Expr:
    """Sum in integer micro-units: order-independent, so the same inputs always give the same numbers.

    A float sum depends on the order of its terms (to about 1e-13) and group order is not fixed in a
    parallel group-by; sorting inside the aggregation does not help (Polars drops that sort). Values
    are rounded to 1e-6 first (counts are whole numbers, or Telraam decimals). Null when no value.

    Examples
    --------
    >>> pl.DataFrame({"x": [0.1, 0.2, None]}).select(exact_sum(pl.col("x"))).item()
    0.3
    """
    total = (expr * scale).round().cast(pl.Int64).sum() / scale
    return pl.when(expr.count() > 0).then(total)


def exact_mean(expr: pl.Expr, scale: int = EXACT_SCALE) -> pl.Expr:
    """Mean of the non-null values through :func:`exact_sum` (null when there is none)."""
    return exact_sum(expr, scale) / expr.count()


#: Hours a day may miss and still count as a valid day (19 valid hours of 24).
MAX_MISSING_HOURS = 5


def local_day(tz: str) -> pl.Expr:
    """The local calendar date of ``start_utc``."""
    return pl.col("start_utc").dt.convert_time_zone(tz).dt.date()


def day_length_hours(day: pl.Expr, tz: str) -> pl.Expr:
    """Hours in a local day: 23 or 25 on DST change days."""
    start = day.cast(pl.Datetime("us")).dt.replace_time_zone(tz, ambiguous="earliest", non_existent="null")
    end = day.dt.offset_by("1d").cast(pl.Datetime("us")).dt.replace_time_zone(tz, ambiguous="earliest", non_existent="null")
    return ((end - start).dt.total_seconds() // 3600).cast(pl.Int16)


def hourly_totals(clean: pl.LazyFrame, tz: str = "Europe/Paris") -> pl.LazyFrame:
    """Hourly totals per series from sub-hourly or hourly intervals (longer intervals are skipped).

    Columns: site_id, sensor_id, mode, direction, start_utc (hour start), day (local), count (null
    unless the whole hour is valid), valid_share (0–1).
    """
    valid_s = pl.when(pl.col("count_clean").is_not_null()).then(pl.col("interval_s")).otherwise(0)
    return (
        clean.filter((pl.col("interval_s") <= 3600) & (3600 % pl.col("interval_s") == 0))
        .with_columns(pl.col("start_utc").dt.truncate("1h"), _valid_s=valid_s)
        .group_by(["site_id", *SERIES_KEY, "start_utc"])
        .agg(exact_sum(pl.col("count_clean")).fill_null(0.0).alias("_sum"), pl.col("_valid_s").sum())
        .with_columns(
            day=local_day(tz),
            count=pl.when(pl.col("_valid_s") >= 3600).then(pl.col("_sum")),
            valid_share=(pl.col("_valid_s") / 3600.0).clip(0.0, 1.0),
        )
        .select("site_id", *SERIES_KEY, "start_utc", "day", "count", "valid_share")
        .sort([*SERIES_KEY, "start_utc"])
    )


def daily_totals(clean: pl.LazyFrame, tz: str = "Europe/Paris") -> pl.LazyFrame:
    """Local-day totals per series with completeness.

    Columns: site_id, sensor_id, mode, direction, day, count (sum of valid values, null if none),
    valid_hours (Int32), expected_hours (Int32), is_valid_day.
    """
    valid_s = pl.when(pl.col("count_clean").is_not_null()).then(pl.col("interval_s")).otherwise(0)
    return (
        clean.with_columns(day=local_day(tz), _valid_s=valid_s)
        .group_by(["site_id", *SERIES_KEY, "day"])
        .agg(
            exact_sum(pl.col("count_clean")).alias("count"),
            (pl.col("_valid_s").sum() // 3600).cast(pl.Int32).alias("valid_hours"),
        )
        .with_columns(expected_hours=day_length_hours(pl.col("day"), tz).cast(pl.Int32))
        .with_columns(is_valid_day=pl.col("valid_hours") >= pl.col("expected_hours") - MAX_MISSING_HOURS)
        .select("site_id", *SERIES_KEY, "day", "count", "valid_hours", "expected_hours", "is_valid_day")
        .sort([*SERIES_KEY, "day"])
    )
