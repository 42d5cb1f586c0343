"""French traffic indicators from daily totals, in the indicators contract of DESIGN.md.

* ``tmja`` — trafic moyen journalier annuel, three estimators (INDICATORS.md §1.2), one row each,
  told apart by ``estimator``:

  - ``mean_valid_days`` (A): the mean of the year's valid daily totals; coverage = valid days / days
    in the year.
  - ``complete_months`` (B, French MJA): ``Σ_{m∈M} Q_m / Σ_{m∈M} N_m`` over the months M of the year
    whose **every** calendar day is valid; null when no month is complete; coverage = days in complete
    months / days in the year.
  - ``aashto`` (C, "average of 84 averages"): the mean over the 7 days of week of the mean over the 12
    months of the mean of the valid days in that dow × month cell; null unless all 84 cells hold at
    least one valid day; coverage = filled cells / 84.

* ``tmja_spread`` — disagreement between the TMJA estimators of one series-year:
  ``(max − min) / min`` over the estimators whose value is not null, unit ``ratio`` (0.05 = the highest
  is 5 % above the lowest). ``estimator`` lists the estimators compared, alphabetically and
  comma-separated (e.g. ``aashto,complete_months,mean_valid_days``); the value is null when fewer than
  two estimators are available or the lowest is ≤ 0. Its coverage is estimator A's (valid days / days
  in the year). A large spread means the gaps are seasonally uneven: read estimator B or C, not A.
* ``tmjm`` — trafic moyen journalier mensuel: mean of the month's valid days.
* ``tmjo`` — trafic moyen des jours ouvrés: mean over valid Monday–Friday days that are not public holidays.
* ``weekend`` — mean over valid Saturdays and Sundays.
* ``pct_heavy`` — %PL per sensor, per direction and for direction ``all``, per year:
  ``100 · Σ heavy / (Σ heavy + Σ car)`` over the days valid for **both** modes (mode ``heavy``,
  unit ``%``); only where the sensor counts both ``car`` and ``heavy`` in that direction. Coverage =
  days valid for both / days in the year. Here TV = car + heavy: Telraam "heavy" is not PL > 3.5 t
  (it includes buses, trams, some vans) and is counted as car until the device is calibrated.

``coverage`` = valid days used / days of that kind in the period; ``imputed_share`` is 0 until
imputation exists. Direction ``all`` sums both directions on days when every direction is valid.
"""

from __future__ import annotations

import polars as pl

from sensors_io.aggregate import exact_mean, exact_sum

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
#: Units of indicators that are not daily volumes (others take their unit from the mode, UNITS).
INDICATOR_UNITS = {"tmja_spread": "ratio", "pct_heavy": "%"}

#: TMJA estimators, INDICATORS.md §1.2 (A, B, C).
TMJA_ESTIMATORS: tuple[str, ...] = ("mean_valid_days", "complete_months", "aashto")
#: The estimator to show when only one TMJA is wanted (the historical one of this pipeline).
DEFAULT_TMJA_ESTIMATOR = "mean_valid_days"

_SERIES = ["sensor_id", "mode", "direction"]
_ROW = ["sensor_id", "mode", "direction", "period", "indicator", "estimator", "value", "coverage"]
_AASHTO_CELLS = 7 * 12


def _rows(frame: pl.LazyFrame) -> pl.LazyFrame:
    """The common columns of every indicator frame, typed, before the unit is added."""
    return frame.select(_ROW).cast({"period": pl.String, "estimator": pl.String, "value": pl.Float64,
                                    "coverage": pl.Float64})


def _tmja_complete_months(full: pl.LazyFrame) -> pl.LazyFrame:
    """Estimator B: Σ Q_m / Σ N_m over the months whose every calendar day is valid."""
    valid = pl.col("is_valid_day")
    complete = pl.col("_complete")
    return (
        full.group_by([*_SERIES, "_y", "_m"])
        .agg(
            valid.all().alias("_complete"),
            exact_sum(pl.col("count").filter(valid)).fill_null(0.0).alias("_q"),
            valid.sum().alias("_n"),
            pl.len().alias("_days"),
        )
        .group_by([*_SERIES, "_y"])
        .agg(
            exact_sum(pl.col("_q").filter(complete)).fill_null(0.0),
            pl.col("_n").filter(complete).sum(),
            pl.col("_days").filter(complete).sum().alias("_complete_days"),
            pl.col("_days").sum(),
        )
        .with_columns(
            period=pl.col("_y"),
            indicator=pl.lit("tmja"),
            estimator=pl.lit("complete_months"),
            value=pl.when(pl.col("_n") > 0).then(pl.col("_q") / pl.col("_n")),
            coverage=pl.col("_complete_days") / pl.col("_days"),
        )
    )


# Float sums and means go through exact_sum / exact_mean (integer micro-units): group order is not
# fixed, and a float sum depends on its order, so the same inputs would not always give the same numbers.


def _tmja_aashto(full: pl.LazyFrame) -> pl.LazyFrame:
    """Estimator C: mean over dow of the mean over months of the dow × month cell means (84 cells)."""
    return (
        full.group_by([*_SERIES, "_y", "dow", "_m"])
        .agg(exact_mean(pl.col("count").filter(pl.col("is_valid_day"))).alias("_cell"))
        .group_by([*_SERIES, "_y", "dow"])
        .agg(exact_mean(pl.col("_cell")).alias("_dow_mean"), pl.col("_cell").is_not_null().sum().alias("_filled"))
        .group_by([*_SERIES, "_y"])
        .agg(exact_mean(pl.col("_dow_mean")), pl.col("_filled").sum())
        .with_columns(
            period=pl.col("_y"),
            indicator=pl.lit("tmja"),
            estimator=pl.lit("aashto"),
            value=pl.when(pl.col("_filled") == _AASHTO_CELLS).then(pl.col("_dow_mean")),
            coverage=pl.col("_filled") / _AASHTO_CELLS,
        )
    )


def _tmja_spread(tmja: pl.LazyFrame) -> pl.LazyFrame:
    """(max − min) / min over the available TMJA estimators of each series-year."""
    has = pl.col("value").is_not_null()
    return (
        tmja.group_by([*_SERIES, "period"])
        .agg(
            pl.col("value").max().alias("_max"),
            pl.col("value").min().alias("_min"),
            has.sum().alias("_n"),
            pl.col("estimator").filter(has).sort().str.join(",").alias("_compared"),
            pl.col("coverage").filter(pl.col("estimator") == DEFAULT_TMJA_ESTIMATOR).first().alias("coverage"),
        )
        .with_columns(
            indicator=pl.lit("tmja_spread"),
            estimator=pl.when(pl.col("_n") > 0).then(pl.col("_compared")),
            value=pl.when((pl.col("_n") >= 2) & (pl.col("_min") > 0))
            .then((pl.col("_max") - pl.col("_min")) / pl.col("_min")),
        )
    )


def _pct_heavy(full: pl.LazyFrame) -> pl.LazyFrame:
    """%PL per sensor × direction × year over the days valid for both car and heavy."""
    keys = ["sensor_id", "direction", "_y", "day"]

    def mode(name: str, prefix: str) -> pl.LazyFrame:
        return full.filter(pl.col("mode") == name).select(
            *keys, pl.col("count").alias(f"{prefix}q"), pl.col("is_valid_day").alias(f"{prefix}v"))

    ok = pl.col("_cv") & pl.col("_hv")
    return (
        mode("car", "_c").join(mode("heavy", "_h"), on=keys, how="inner")
        .group_by(["sensor_id", "direction", "_y"])
        .agg(
            exact_sum(pl.col("_hq").filter(ok)).fill_null(0.0).alias("_heavy"),
            exact_sum(pl.col("_cq").filter(ok)).fill_null(0.0).alias("_car"),
            ok.sum().alias("_both"),
            pl.len().alias("_days"),
        )
        .with_columns(
            mode=pl.lit("heavy"),
            period=pl.col("_y"),
            indicator=pl.lit("pct_heavy"),
            estimator=pl.lit(None, dtype=pl.String),
            value=pl.when((pl.col("_both") > 0) & (pl.col("_heavy") + pl.col("_car") > 0))
            .then(100.0 * pl.col("_heavy") / (pl.col("_heavy") + pl.col("_car"))),
            coverage=pl.col("_both") / pl.col("_days"),
        )
    )


def _with_all_directions(daily: pl.LazyFrame) -> pl.LazyFrame:
    """Add direction ``all``: the sum over directions, valid only when every direction is valid."""
    n_dirs = pl.col("direction").n_unique().over(["sensor_id", "mode"])
    summed = (
        daily.with_columns(_n_dirs=n_dirs)
        .group_by(["sensor_id", "mode", "day"])
        .agg(
            exact_sum(pl.col("count")).fill_null(0.0),
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
            exact_mean(pl.col("count").filter(pl.col("is_valid_day"))).alias("value"),
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
    """TMJA (three estimators and their spread), TMJM, TMJO, weekend means and %PL per series and per
    sensor × mode (direction ``all``); see the module docstring for each definition.

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
    tmja_a = _mean_over(full.with_columns(_days_in_period=count_days(year, pl.lit(True))), year, "tmja",
                        DEFAULT_TMJA_ESTIMATOR, pl.lit(True))
    by_year = full.with_columns(_y=year, _m=pl.col("day").dt.month())
    tmja = pl.concat([_rows(tmja_a), _rows(_tmja_complete_months(by_year)), _rows(_tmja_aashto(by_year))])
    frames = [
        tmja,
        _rows(_tmja_spread(tmja)),
        _rows(_mean_over(full.with_columns(_days_in_period=count_days(month, pl.lit(True))), month, "tmjm", None, pl.lit(True))),
        _rows(_mean_over(full.with_columns(_days_in_period=count_days(year, weekday)), year, "tmjo", None, weekday)),
        _rows(_mean_over(full.with_columns(_days_in_period=count_days(year, weekend)), year, "weekend", None, weekend)),
        _rows(_pct_heavy(by_year)),
    ]
    volume_unit = pl.col("mode").replace_strict(UNITS, default="veh/day", return_dtype=pl.String)
    return (
        pl.concat(frames)
        .with_columns(
            unit=pl.col("indicator").replace_strict(INDICATOR_UNITS, default=volume_unit, return_dtype=pl.String),
            imputed_share=pl.lit(0.0),
        )
        .select(list(INDICATORS_SCHEMA))
        .cast(dict(INDICATORS_SCHEMA))
        .sort(["sensor_id", "mode", "direction", "indicator", "period", "estimator"], nulls_last=True)
        .collect()
    )
