"""Hourly and daily totals of cleaned counts, in the town's local time.

``count`` sums **measured** values only (``count_clean``: observed values and confirmed zeros), as
before imputation existed. Where the cleaning step has imputed values (column ``count_filled``:
``count_clean`` where measured, else an imputed value, else null), ``count_filled`` sums measured and
imputed values and ``imputed_share`` says how much of it is imputed. Without that column,
``count_filled`` is ``count_clean`` and nothing is imputed, so old clean frames aggregate as before.

An hour is complete when its intervals cover the whole hour: with measured values for ``count``, with
measured or imputed values for ``count_filled``. A local day is **valid** when it has at least
``expected_hours - 5`` hours with a value, measured or imputed (19 of 24; 18 of 23 and 20 of 25 on DST
days, INDICATORS.md §3).

``imputed_share`` = imputed volume / (measured + imputed volume) of the hour or day; when that volume is
0 it is the imputed share of the time instead (an all-imputed night of zeros is 1, not 0).
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


def local_hour(tz: str) -> pl.Expr:
    """The local clock hour (0–23) of ``start_utc``; the repeated hour of the autumn DST change appears twice."""
    return pl.col("start_utc").dt.convert_time_zone(tz).dt.hour().cast(pl.Int8)


def day_length_hours(day: pl.Expr, tz: str) -> pl.Expr:
    """Hours in a local day: 23 or 25 on DST change days."""
    start = day.cast(pl.Datetime("us")).dt.replace_time_zone(tz, ambiguous="earliest", non_existent="null")
    end = day.dt.offset_by("1d").cast(pl.Datetime("us")).dt.replace_time_zone(tz, ambiguous="earliest", non_existent="null")
    return ((end - start).dt.total_seconds() // 3600).cast(pl.Int16)


def _with_provenance(clean: pl.LazyFrame) -> pl.LazyFrame:
    """Add ``_filled`` (measured or imputed value), ``_imputed`` (imputed value, else 0 / null),
    ``_m_s`` and ``_i_s`` (seconds measured / imputed) to clean counts, with or without ``count_filled``."""
    has_filled = "count_filled" in clean.collect_schema().names()
    measured = pl.col("count_clean").is_not_null()
    filled = pl.col("count_filled") if has_filled else pl.col("count_clean")
    imputed = ~measured & filled.is_not_null()
    return clean.with_columns(
        _filled=filled.cast(pl.Float64),
        _imputed=pl.when(imputed).then(filled.cast(pl.Float64)).when(measured).then(0.0),
        _m_s=pl.when(measured).then(pl.col("interval_s")).otherwise(0),
        _i_s=pl.when(imputed).then(pl.col("interval_s")).otherwise(0),
    )


def _imputed_share(volume: str, imputed: str, m_s: str, i_s: str) -> pl.Expr:
    """Imputed volume / volume; the imputed share of the time when the volume is 0; null without volume."""
    by_time = pl.col(i_s) / (pl.col(m_s) + pl.col(i_s))
    return (
        pl.when(pl.col(volume).is_null()).then(None)
        .when(pl.col(volume) > 0).then(pl.col(imputed) / pl.col(volume))
        .otherwise(by_time)
        .cast(pl.Float64)
    )


def hourly_totals(clean: pl.LazyFrame, tz: str = "Europe/Paris") -> pl.LazyFrame:
    """Hourly totals per series from sub-hourly or hourly intervals (longer intervals are skipped).

    Columns: site_id, sensor_id, mode, direction, start_utc (hour start), day (local), count (measured
    values; null unless the whole hour is measured), valid_share (measured share of the hour, 0–1),
    hour (local clock hour, Int8), count_filled (measured + imputed; null unless the whole hour has a
    value), imputed_share (imputed part of ``count_filled``, 0–1, null when ``count_filled`` is null).
    """
    return (
        _with_provenance(clean.filter((pl.col("interval_s") <= 3600) & (3600 % pl.col("interval_s") == 0)))
        .with_columns(pl.col("start_utc").dt.truncate("1h"))
        .group_by(["site_id", *SERIES_KEY, "start_utc"])
        .agg(
            exact_sum(pl.col("count_clean")).fill_null(0.0).alias("_sum"),
            exact_sum(pl.col("_filled")).fill_null(0.0).alias("_fsum"),
            exact_sum(pl.col("_imputed")).fill_null(0.0).alias("_isum"),
            pl.col("_m_s").sum(),
            pl.col("_i_s").sum(),
        )
        .with_columns(
            day=local_day(tz),
            hour=local_hour(tz),
            count=pl.when(pl.col("_m_s") >= 3600).then(pl.col("_sum")),
            valid_share=(pl.col("_m_s") / 3600.0).clip(0.0, 1.0),
            count_filled=pl.when(pl.col("_m_s") + pl.col("_i_s") >= 3600).then(pl.col("_fsum")),
        )
        .with_columns(imputed_share=_imputed_share("count_filled", "_isum", "_m_s", "_i_s"))
        .select("site_id", *SERIES_KEY, "start_utc", "day", "count", "valid_share", "hour", "count_filled",
                "imputed_share")
        .sort([*SERIES_KEY, "start_utc"])
    )


def daily_totals(clean: pl.LazyFrame, tz: str = "Europe/Paris") -> pl.LazyFrame:
    """Local-day totals per series with completeness and provenance.

    Columns: site_id, sensor_id, mode, direction, day, count (sum of measured values, null if none),
    valid_hours (hours with a measured or imputed value, Int32), expected_hours (Int32), is_valid_day
    (``valid_hours ≥ expected_hours − 5``), count_filled (measured + imputed, null if none),
    measured_hours, imputed_hours (Int32), imputed_share (imputed part of ``count_filled``, 0–1).
    """
    return (
        _with_provenance(clean)
        .with_columns(day=local_day(tz))
        .group_by(["site_id", *SERIES_KEY, "day"])
        .agg(
            exact_sum(pl.col("count_clean")).alias("count"),
            exact_sum(pl.col("_filled")).alias("count_filled"),
            exact_sum(pl.col("_imputed")).fill_null(0.0).alias("_isum"),
            pl.col("_m_s").sum(),
            pl.col("_i_s").sum(),
        )
        .with_columns(
            valid_hours=((pl.col("_m_s") + pl.col("_i_s")) // 3600).cast(pl.Int32),
            measured_hours=(pl.col("_m_s") // 3600).cast(pl.Int32),
            imputed_hours=(pl.col("_i_s") // 3600).cast(pl.Int32),
            expected_hours=day_length_hours(pl.col("day"), tz).cast(pl.Int32),
            imputed_share=_imputed_share("count_filled", "_isum", "_m_s", "_i_s"),
        )
        .with_columns(is_valid_day=pl.col("valid_hours") >= pl.col("expected_hours") - MAX_MISSING_HOURS)
        .select("site_id", *SERIES_KEY, "day", "count", "valid_hours", "expected_hours", "is_valid_day",
                "count_filled", "measured_hours", "imputed_hours", "imputed_share")
        .sort([*SERIES_KEY, "day"])
    )
