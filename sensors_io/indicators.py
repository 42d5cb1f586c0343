"""French traffic indicators from daily totals, in the indicators contract of DESIGN.md.

* ``tmja`` — trafic moyen journalier annuel, estimator ``mean_valid_days`` (A in INDICATORS.md §1.2):
  the mean of the year's valid daily totals.
* ``tmjm`` — trafic moyen journalier mensuel: mean of the month's valid days.
* ``tmjo`` — trafic moyen des jours ouvrés: mean over valid Monday–Friday days that are not public holidays.
* ``weekend`` — mean over valid Saturdays and Sundays.

``coverage`` = valid days used / days of that kind in the period; ``imputed_share`` is 0 until
imputation exists. Direction ``all`` sums both directions on days when every direction is valid.
"""

from __future__ import annotations

import polars as pl

INDICATORS_SCHEMA = pl.Schema(
    {
        "sensor_id": pl.String,
        "mode": pl.String,
        "direction": pl.String,
        "period": pl.String,
        "indicator": pl.String,
        "estimator": pl.String,
        "value": pl.Float64,
        "unit": pl.String,
        "imputed_share": pl.Float64,
        "coverage": pl.Float64,
    }
)

UNITS = {"bike": "bikes/day", "pedestrian": "pedestrians/day", "scooter": "scooters/day"}


def _with_all_directions(daily: pl.LazyFrame) -> pl.LazyFrame:
    """Add direction ``all``: the sum over directions, valid only when every direction is valid."""
    n_dirs = pl.col("direction").n_unique().over(["sensor_id", "mode"])
    summed = (
        daily.with_columns(_n_dirs=n_dirs)
        .group_by(["sensor_id", "mode", "day"])
        .agg(
            pl.col("count").sum(),
            (pl.col("is_valid_day").sum() == pl.col("_n_dirs").first()).alias("is_valid_day"),
            pl.col("direction").n_unique().alias("_n"),
        )
        .filter(pl.col("_n") > 0)
        .with_columns(direction=pl.lit("all"))
        .select("sensor_id", "mode", "direction", "day", "count", "is_valid_day")
    )
    return pl.concat([daily.select("sensor_id", "mode", "direction", "day", "count", "is_valid_day"), summed])


def _mean_over(days: pl.LazyFrame, period: pl.Expr, indicator: str, estimator: str | None, mask: pl.Expr) -> pl.LazyFrame:
    return (
        days.filter(mask)
        .with_columns(period=period)
        .group_by(["sensor_id", "mode", "direction", "period"])
        .agg(
            pl.col("count").filter(pl.col("is_valid_day")).mean().alias("value"),
            pl.col("is_valid_day").sum().alias("_valid"),
            pl.col("_days_in_period").first().alias("_total"),
        )
        .with_columns(
            indicator=pl.lit(indicator),
            estimator=pl.lit(estimator, dtype=pl.String),
            coverage=(pl.col("_valid") / pl.col("_total")).cast(pl.Float64),
        )
    )


def traffic_indicators(daily: pl.LazyFrame, calendar: pl.DataFrame) -> pl.DataFrame:
    """TMJA, TMJM, TMJO and weekend means per series and per sensor × mode (direction ``all``).

    ``daily`` has the columns of :func:`sensors_io.aggregate.daily_totals`; ``calendar`` those of
    :func:`scenarios.calendars.calendar_frame` and covers every day of the years present.
    Coverage counts days of the period (all, working, weekend) that are valid in the data.
    """
    days = _with_all_directions(daily).join(
        calendar.lazy().select("date", "dow", "is_working_day"), left_on="day", right_on="date", how="left"
    )
    # Complete the calendar per series so coverage counts days without any data.
    cal = calendar.lazy().select("date", "dow", "is_working_day")
    year = pl.col("day").dt.year().cast(pl.String)
    month = pl.col("day").dt.strftime("%Y-%m")
    series_years = days.select("sensor_id", "mode", "direction", year.alias("_y")).unique()
    full = (
        series_years.join(cal.with_columns(_y=pl.col("date").dt.year().cast(pl.String)), on="_y")
        .rename({"date": "day"})
        .join(days.select("sensor_id", "mode", "direction", "day", "count", "is_valid_day"),
              on=["sensor_id", "mode", "direction", "day"], how="left")
        .with_columns(pl.col("is_valid_day").fill_null(False))
    )

    def count_days(period: pl.Expr, mask: pl.Expr) -> pl.Expr:
        return (mask & pl.col("day").is_not_null()).sum().over(["sensor_id", "mode", "direction", period])

    weekday = pl.col("is_working_day")
    weekend = pl.col("dow") >= 6
    frames = [
        _mean_over(full.with_columns(_days_in_period=count_days(year, pl.lit(True))), year, "tmja", "mean_valid_days", pl.lit(True)),
        _mean_over(full.with_columns(_days_in_period=count_days(month, pl.lit(True))), month, "tmjm", None, pl.lit(True)),
        _mean_over(full.with_columns(_days_in_period=count_days(year, weekday)), year, "tmjo", None, weekday),
        _mean_over(full.with_columns(_days_in_period=count_days(year, weekend)), year, "weekend", None, weekend),
    ]
    return (
        pl.concat(frames)
        .with_columns(
            unit=pl.col("mode").replace_strict(UNITS, default="veh/day", return_dtype=pl.String),
            imputed_share=pl.lit(0.0),
        )
        .select(list(INDICATORS_SCHEMA))
        .cast(dict(INDICATORS_SCHEMA))
        .sort(["sensor_id", "mode", "direction", "indicator", "period"])
        .collect()
    )
