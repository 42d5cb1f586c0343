"""French traffic indicators from daily (and hourly) totals, in the indicators contract of DESIGN.md.

Every row is one value: ``sensor_id``, ``mode``, ``direction`` (``all`` = directions summed on days when
every direction is valid), ``period`` (``2025`` or ``2025-07``), ``indicator``, ``estimator`` (null where
there is only one), ``value``, ``unit``, ``imputed_share`` (imputed volume / volume of the data the value
rests on, 0–1; 0 when nothing is imputed or the volume is 0) and ``coverage`` (0–1, what the value rests
on / what the period holds). docs/indicators.md has every formula; in short:

* ``tmja`` — trafic moyen journalier annuel, three estimators (INDICATORS.md §1.2), told apart by
  ``estimator``: ``mean_valid_days`` (A, mean of the year's valid days; coverage = valid days / days in
  the year), ``complete_months`` (B, French MJA: ``Σ_{m∈M} Q_m / Σ_{m∈M} N_m`` over the months whose
  every day is valid; coverage = days in those months / days in the year), ``aashto`` (C, mean over the 7
  days of week of the mean over the 12 months of the dow × month cell means; null unless all 84 cells
  hold a valid day; coverage = filled cells / 84).
* ``tmja_spread`` — ``(max − min) / min`` over the available estimators (``estimator`` lists them).
* ``tmja_flag`` — one row per check, ``estimator`` names it, value 1.0 (flagged) or 0.0:
  ``low_coverage`` (A's coverage < ``min_coverage``), ``long_gap`` (a run of ≥ ``long_gap_days``
  consecutive non-valid days in the year), ``disagreement`` (spread > ``max_spread``; null when fewer
  than two estimators exist). The TMJA values are **kept** with their coverage: a flagged year is said,
  never silently averaged, and estimators B and C already drop what they cannot use.
* ``longest_gap`` — the longest run of consecutive non-valid days of the year (days).
* ``tmjm`` (month), ``tmjo`` (valid working days: Mon–Fri, not public holidays), ``weekend`` (valid
  Saturdays and Sundays).
* ``pct_heavy`` — ``100 · Σ heavy / (Σ heavy + Σ car)`` over the days valid for both (mode ``heavy``).
* ``uvp`` — TMJA in passenger-car units: the mean over valid days of ``Σ_c e_c · Q_c`` (INDICATORS.md
  §1.4) where the sensor counts ``car`` and another mode with a coefficient; mode ``all_vehicles``,
  ``estimator`` = the coefficient set; a day counts when every counted mode is valid.
* ``summer_index`` — mean of valid July–August days / mean of the year's other valid days.
* ``peak_day_index`` — highest valid day of the year / TMJA (A).
* With ``hourly``: ``hpm`` / ``hps`` (the highest mean hourly volume of working days in the morning /
  evening window, per year) and ``hpm_hour`` / ``hps_hour`` (the local hour it starts at, e.g. 8 =
  08:00–09:00); ``q30`` (30th highest hourly volume of the year) and ``k30`` (``q30 / TMJA_A``), both
  null unless ``k30_min_coverage`` of the year's hours have a value.
* Named ``groups`` of sensors give the same rows with ``sensor_id`` = the group's name, direction
  ``all``: the group's daily (hourly) value is the sum over its members on days (hours) when every member
  is valid, for the modes every member counts.

Volumes are ``count_filled`` (measured + imputed) when the daily / hourly frames have it, else ``count``.
Sums and means go through exact_sum / exact_mean (integer micro-units): group order is not fixed, and a
float sum depends on its order, so the same inputs would not always give the same numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from sensors_io.aggregate import exact_mean, exact_sum, local_hour

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
#: Units of hourly volumes (``hpm``, ``hps``, ``q30``); other modes are ``veh/h``.
HOURLY_UNITS = {"bike": "bikes/h", "pedestrian": "pedestrians/h", "scooter": "scooters/h"}
#: Indicators that are hourly volumes.
HOURLY_VOLUMES = ("hpm", "hps", "q30")
#: Units of indicators that are not daily volumes (others take their unit from the mode, UNITS).
INDICATOR_UNITS = {
    "tmja_spread": "ratio", "pct_heavy": "%", "tmja_flag": "flag", "longest_gap": "days", "k30": "ratio",
    "summer_index": "ratio", "peak_day_index": "ratio", "hpm_hour": "h", "hps_hour": "h", "uvp": "uvp/day",
    "v50": "km/h", "v85": "km/h",
}

#: TMJA estimators, INDICATORS.md §1.2 (A, B, C).
TMJA_ESTIMATORS: tuple[str, ...] = ("mean_valid_days", "complete_months", "aashto")
#: The estimator to show when only one TMJA is wanted (the historical one of this pipeline).
DEFAULT_TMJA_ESTIMATOR = "mean_valid_days"
#: The checks of ``tmja_flag`` rows (their ``estimator``).
TMJA_FLAGS: tuple[str, ...] = ("disagreement", "long_gap", "low_coverage")

#: UVP coefficient sets, INDICATORS.md §1.4, on the canonical modes. ``girabase``: Cerema Girabase
#: (roundabout capacity; VL 1, PL 2, 2R 0.5) [C4]; ``carrefour_feux``: signalised junction (2R 0.3,
#: VL 1, PL 2, bus 2) [I10]. Bicycles and motorcycles are both "2R" (deux-roues).
UVP_SETS: dict[str, dict[str, float]] = {
    "girabase": {"car": 1.0, "heavy": 2.0, "motorcycle": 0.5, "bike": 0.5},
    "carrefour_feux": {"car": 1.0, "heavy": 2.0, "bus": 2.0, "motorcycle": 0.3, "bike": 0.3},
}


class IndicatorConfig(BaseModel):
    """Thresholds and choices of the indicators (docs/indicators.md says why each default)."""

    model_config = ConfigDict(extra="forbid")

    min_coverage: float = Field(0.8, description="tmja_flag low_coverage: estimator A's valid days / days in the year below this.")
    long_gap_days: int = Field(30, ge=1, description="tmja_flag long_gap: a run of at least this many consecutive non-valid days.")
    max_spread: float = Field(0.10, description="tmja_flag disagreement: (max − min) / min of the TMJA estimators above this.")
    hpm_hours: tuple[int, int] = Field((7, 9), description="Morning peak window [start, end) in local clock hours (hour starts 7 and 8).")
    hps_hours: tuple[int, int] = Field((17, 20), description="Evening peak window [start, end) in local clock hours (17, 18, 19).")
    k30_rank: int = Field(30, ge=1, description="Rank of the design hour (30th highest hourly volume of the year).")
    k30_min_coverage: float = Field(0.9, description="q30 / k30 are null unless this share of the year's hours has a value.")
    uvp_set: str = Field("girabase", description="Name of the UVP coefficient set (UVP_SETS).")
    tz: str = Field("Europe/Paris", description="Local time zone, used only when the hourly frame has no 'hour' column.")


_SERIES = ["sensor_id", "mode", "direction"]
_ROW = ["sensor_id", "mode", "direction", "period", "indicator", "estimator", "value", "coverage", "imputed_share"]
_AASHTO_CELLS = 7 * 12


def _rows(frame: pl.LazyFrame) -> pl.LazyFrame:
    """The common columns of every indicator frame, typed, before the unit is added."""
    return frame.select(_ROW).cast({"period": pl.String, "estimator": pl.String, "value": pl.Float64,
                                    "coverage": pl.Float64, "imputed_share": pl.Float64})


def _share(imputed: pl.Expr, volume: pl.Expr) -> pl.Expr:
    """Imputed volume / volume, 0 when the volume is 0 or absent."""
    return pl.when(volume > 0).then(imputed / volume).otherwise(0.0)


def _used_share(used: pl.Expr) -> pl.Expr:
    """imputed_share over the rows selected by ``used`` (exact sums of ``_imp`` and ``count``)."""
    return _share(exact_sum(pl.col("_imp").filter(used)).fill_null(0.0),
                  exact_sum(pl.col("count").filter(used)).fill_null(0.0))


# --- inputs ---------------------------------------------------------------------------------------

def _volumes(frame: pl.LazyFrame) -> pl.LazyFrame:
    """The frame with ``count`` set to the volume indicators use (``count_filled`` when present, else
    ``count``) and ``_imp``, its imputed part (``imputed_share × count_filled``; 0 without imputation)."""
    names = frame.collect_schema().names()
    if "count_filled" in names:
        q = pl.col("count_filled")
        imp = (pl.col("imputed_share").fill_null(0.0) * q) if "imputed_share" in names else pl.lit(0.0)
    else:
        q, imp = pl.col("count"), pl.lit(0.0)
    return frame.with_columns(count=q.cast(pl.Float64), _imp=pl.when(q.is_not_null()).then(imp))


def _with_all_directions(daily: pl.LazyFrame) -> pl.LazyFrame:
    """Add direction ``all``: the sum over directions, valid only when every direction is valid."""
    cols = ["sensor_id", "mode", "direction", "day", "count", "_imp", "is_valid_day"]
    n_dirs = pl.col("direction").n_unique().over(["sensor_id", "mode"])
    summed = (
        daily.with_columns(_n_dirs=n_dirs)
        .group_by(["sensor_id", "mode", "day"])
        .agg(
            exact_sum(pl.col("count")).fill_null(0.0),
            exact_sum(pl.col("_imp")).fill_null(0.0),
            (pl.col("is_valid_day").sum() == pl.col("_n_dirs").first()).alias("is_valid_day"),
            pl.col("direction").n_unique().alias("_n"),
        )
        .filter(pl.col("_n") > 0)
        .with_columns(direction=pl.lit("all"))
        .select(cols)
    )
    return pl.concat([daily.select(cols), summed])


def _hours_all_directions(hourly: pl.LazyFrame) -> pl.LazyFrame:
    """Hourly direction ``all``: the sum over directions when every direction has a value that hour."""
    cols = ["sensor_id", "mode", "direction", "start_utc", "day", "hour", "count", "_imp"]
    n_dirs = pl.col("direction").n_unique().over(["sensor_id", "mode"])
    summed = (
        hourly.with_columns(_n_dirs=n_dirs)
        .group_by(["sensor_id", "mode", "start_utc"])
        .agg(
            pl.col("day").first(), pl.col("hour").first(),
            exact_sum(pl.col("count")), exact_sum(pl.col("_imp")).fill_null(0.0),
            (pl.col("count").count() == pl.col("_n_dirs").first()).alias("_all"),
        )
        .with_columns(direction=pl.lit("all"), count=pl.when(pl.col("_all")).then(pl.col("count")))
        .select(cols)
    )
    return pl.concat([hourly.select(cols), summed])


def _group_members(groups: Mapping[str, Sequence[str]], sensors: set[str]) -> pl.LazyFrame:
    """(``_group``, ``sensor_id``, ``_size``) rows; ValueError for an empty group, an unknown member or a
    group named like a sensor."""
    rows = []
    for name, members in sorted(groups.items()):
        unique = sorted(set(members))
        if not unique:
            raise ValueError(f"sensor group {name!r} has no member; expected a list of sensor ids")
        if name in sensors:
            raise ValueError(f"sensor group {name!r} has the name of a sensor; choose another group name")
        missing = [m for m in unique if m not in sensors]
        if missing:
            raise ValueError(f"sensor group {name!r}: sensor(s) {missing} not in the daily totals "
                             f"(sensors present: {sorted(sensors)})")
        rows += [{"_group": name, "sensor_id": m, "_size": len(unique)} for m in unique]
    return pl.LazyFrame(rows, schema={"_group": pl.String, "sensor_id": pl.String, "_size": pl.UInt32})


def _group_days(days: pl.LazyFrame, members: pl.LazyFrame) -> pl.LazyFrame:
    """Group series (direction ``all``): sum over members, valid when every member is valid that day."""
    return (
        days.filter(pl.col("direction") == "all")
        .join(members, on="sensor_id")
        .filter(pl.col("sensor_id").n_unique().over(["_group", "mode"]) == pl.col("_size"))
        .group_by(["_group", "mode", "day"])
        .agg(
            exact_sum(pl.col("count")).fill_null(0.0), exact_sum(pl.col("_imp")).fill_null(0.0),
            (pl.col("is_valid_day").sum() == pl.col("_size").first()).alias("is_valid_day"),
        )
        .select(sensor_id="_group", mode="mode", direction=pl.lit("all"), day="day", count="count", _imp="_imp",
                is_valid_day="is_valid_day")
    )


def _group_hours(hours: pl.LazyFrame, members: pl.LazyFrame) -> pl.LazyFrame:
    """Group hourly series: the members' sum when every member has a value that hour."""
    return (
        hours.filter(pl.col("direction") == "all")
        .join(members, on="sensor_id")
        .filter(pl.col("sensor_id").n_unique().over(["_group", "mode"]) == pl.col("_size"))
        .group_by(["_group", "mode", "start_utc"])
        .agg(
            pl.col("day").first(), pl.col("hour").first(),
            exact_sum(pl.col("count")), exact_sum(pl.col("_imp")).fill_null(0.0),
            (pl.col("count").count() == pl.col("_size").first()).alias("_all"),
        )
        .select(sensor_id="_group", mode="mode", direction=pl.lit("all"), start_utc="start_utc", day="day",
                hour="hour", count=pl.when(pl.col("_all")).then(pl.col("count")), _imp="_imp")
    )


# --- TMJA -----------------------------------------------------------------------------------------

def _mean_over(days: pl.LazyFrame, period: pl.Expr, indicator: str, estimator: str | None, mask: pl.Expr) -> pl.LazyFrame:
    valid = pl.col("is_valid_day")
    return (
        days.filter(mask)
        .with_columns(period=period)
        .group_by(["sensor_id", "mode", "direction", "period"])
        .agg(
            exact_mean(pl.col("count").filter(valid)).alias("value"),
            _used_share(valid).alias("imputed_share"),
            valid.sum().alias("_valid"),
            pl.col("_days_in_period").first().alias("_total"),
        )
        .with_columns(
            indicator=pl.lit(indicator),
            estimator=pl.lit(estimator, dtype=pl.String),
            coverage=(pl.col("_valid") / pl.col("_total")).cast(pl.Float64),
        )
    )


def _tmja_complete_months(full: pl.LazyFrame) -> pl.LazyFrame:
    """Estimator B: Σ Q_m / Σ N_m over the months whose every calendar day is valid."""
    valid = pl.col("is_valid_day")
    complete = pl.col("_complete")
    return (
        full.group_by([*_SERIES, "_y", "_m"])
        .agg(
            valid.all().alias("_complete"),
            exact_sum(pl.col("count").filter(valid)).fill_null(0.0).alias("_q"),
            exact_sum(pl.col("_imp").filter(valid)).fill_null(0.0).alias("_i"),
            valid.sum().alias("_n"),
            pl.len().alias("_days"),
        )
        .group_by([*_SERIES, "_y"])
        .agg(
            exact_sum(pl.col("_q").filter(complete)).fill_null(0.0),
            exact_sum(pl.col("_i").filter(complete)).fill_null(0.0),
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
            imputed_share=_share(pl.col("_i"), pl.col("_q")),
        )
    )


def _tmja_aashto(full: pl.LazyFrame) -> pl.LazyFrame:
    """Estimator C: mean over dow of the mean over months of the dow × month cell means (84 cells)."""
    valid = pl.col("is_valid_day")
    return (
        full.group_by([*_SERIES, "_y", "dow", "_m"])
        .agg(
            exact_mean(pl.col("count").filter(valid)).alias("_cell"),
            exact_sum(pl.col("count").filter(valid)).fill_null(0.0).alias("_q"),
            exact_sum(pl.col("_imp").filter(valid)).fill_null(0.0).alias("_i"),
        )
        .group_by([*_SERIES, "_y", "dow"])
        .agg(exact_mean(pl.col("_cell")).alias("_dow_mean"), pl.col("_cell").is_not_null().sum().alias("_filled"),
             exact_sum(pl.col("_q")), exact_sum(pl.col("_i")))
        .group_by([*_SERIES, "_y"])
        .agg(exact_mean(pl.col("_dow_mean")), pl.col("_filled").sum(), exact_sum(pl.col("_q")), exact_sum(pl.col("_i")))
        .with_columns(
            period=pl.col("_y"),
            indicator=pl.lit("tmja"),
            estimator=pl.lit("aashto"),
            value=pl.when(pl.col("_filled") == _AASHTO_CELLS).then(pl.col("_dow_mean")),
            coverage=pl.col("_filled") / _AASHTO_CELLS,
            imputed_share=_share(pl.col("_i"), pl.col("_q")),
        )
    )


def _tmja_spread(tmja: pl.LazyFrame) -> pl.LazyFrame:
    """(max − min) / min over the available TMJA estimators of each series-year."""
    has = pl.col("value").is_not_null()
    is_a = pl.col("estimator") == DEFAULT_TMJA_ESTIMATOR
    return (
        tmja.group_by([*_SERIES, "period"])
        .agg(
            pl.col("value").max().alias("_max"),
            pl.col("value").min().alias("_min"),
            has.sum().alias("_n"),
            pl.col("estimator").filter(has).sort().str.join(",").alias("_compared"),
            pl.col("coverage").filter(is_a).first().alias("coverage"),
            pl.col("imputed_share").filter(is_a).first().alias("imputed_share"),
        )
        .with_columns(
            indicator=pl.lit("tmja_spread"),
            estimator=pl.when(pl.col("_n") > 0).then(pl.col("_compared")),
            value=pl.when((pl.col("_n") >= 2) & (pl.col("_min") > 0))
            .then((pl.col("_max") - pl.col("_min")) / pl.col("_min")),
        )
    )


def _longest_gap(by_year: pl.LazyFrame) -> pl.LazyFrame:
    """Longest run of consecutive non-valid calendar days per series-year."""
    run = pl.col("is_valid_day").rle_id().over([*_SERIES, "_y"], order_by="day")
    return (
        by_year.with_columns(_run=run)
        .group_by([*_SERIES, "_y", "_run"])
        .agg(pl.col("is_valid_day").first().alias("_ok"), pl.len().alias("_len"))
        .group_by([*_SERIES, "_y"])
        .agg(pl.col("_len").filter(~pl.col("_ok")).max().fill_null(0).alias("_gap"))
    )


def _tmja_flags(tmja_a: pl.LazyFrame, spread: pl.LazyFrame, gaps: pl.LazyFrame, cfg: IndicatorConfig) -> pl.LazyFrame:
    """``longest_gap`` rows and one ``tmja_flag`` row per check (1.0 flagged, 0.0 passed, null undecidable)."""
    a = tmja_a.select(*_SERIES, "period", "coverage", "imputed_share")
    base = (
        a.join(gaps.rename({"_y": "period"}), on=[*_SERIES, "period"], how="left")
        .join(spread.select(*_SERIES, "period", pl.col("value").alias("_spread")), on=[*_SERIES, "period"], how="left")
    )
    flag = lambda cond: pl.when(cond).then(1.0).otherwise(0.0)  # noqa: E731
    checks = {
        "low_coverage": flag(pl.col("coverage") < cfg.min_coverage),
        "long_gap": flag(pl.col("_gap") >= cfg.long_gap_days),
        "disagreement": pl.when(pl.col("_spread").is_not_null()).then(flag(pl.col("_spread") > cfg.max_spread)),
    }
    flags = [base.with_columns(indicator=pl.lit("tmja_flag"), estimator=pl.lit(name), value=expr)
             for name, expr in checks.items()]
    gap = base.with_columns(indicator=pl.lit("longest_gap"), estimator=pl.lit(None, dtype=pl.String),
                            value=pl.col("_gap").cast(pl.Float64))
    return pl.concat([_rows(f) for f in [*flags, gap]])


# --- other daily indicators -----------------------------------------------------------------------

def _pct_heavy(full: pl.LazyFrame) -> pl.LazyFrame:
    """%PL per sensor × direction × year over the days valid for both car and heavy."""
    keys = ["sensor_id", "direction", "_y", "day"]

    def mode(name: str, prefix: str) -> pl.LazyFrame:
        return full.filter(pl.col("mode") == name).select(
            *keys, pl.col("count").alias(f"{prefix}q"), pl.col("_imp").alias(f"{prefix}i"),
            pl.col("is_valid_day").alias(f"{prefix}v"))

    ok = pl.col("_cv") & pl.col("_hv")
    return (
        mode("car", "_c").join(mode("heavy", "_h"), on=keys, how="inner")
        .group_by(["sensor_id", "direction", "_y"])
        .agg(
            exact_sum(pl.col("_hq").filter(ok)).fill_null(0.0).alias("_heavy"),
            exact_sum(pl.col("_cq").filter(ok)).fill_null(0.0).alias("_car"),
            exact_sum(pl.col("_hi").filter(ok)).fill_null(0.0).alias("_hi"),
            exact_sum(pl.col("_ci").filter(ok)).fill_null(0.0).alias("_ci"),
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
            imputed_share=_share(pl.col("_hi") + pl.col("_ci"), pl.col("_heavy") + pl.col("_car")),
        )
    )


def _uvp(full: pl.LazyFrame, set_name: str) -> pl.LazyFrame:
    """TMJA in UVP: mean over the days valid for every counted mode of Σ e_c · Q_c."""
    coef = UVP_SETS[set_name]
    weighted = full.filter(pl.col("mode").is_in(list(coef))).with_columns(
        _e=pl.col("mode").replace_strict(coef, return_dtype=pl.Float64))
    n_modes = pl.col("mode").n_unique().over(["sensor_id", "direction"])
    has_car = (pl.col("mode") == "car").any().over(["sensor_id", "direction"])
    return (
        weighted.filter((n_modes >= 2) & has_car)
        .with_columns(_n_modes=n_modes)
        .group_by(["sensor_id", "direction", "_y", "day"])
        .agg(
            exact_sum(pl.col("count") * pl.col("_e")).alias("_q"),
            exact_sum(pl.col("_imp") * pl.col("_e")).fill_null(0.0).alias("_i"),
            (pl.col("is_valid_day").sum() == pl.col("_n_modes").first()).alias("_ok"),
        )
        .group_by(["sensor_id", "direction", "_y"])
        .agg(
            exact_mean(pl.col("_q").filter(pl.col("_ok"))).alias("value"),
            _share(exact_sum(pl.col("_i").filter(pl.col("_ok"))).fill_null(0.0),
                   exact_sum(pl.col("_q").filter(pl.col("_ok"))).fill_null(0.0)).alias("imputed_share"),
            pl.col("_ok").sum().alias("_valid"),
            pl.len().alias("_days"),
        )
        .with_columns(
            mode=pl.lit("all_vehicles"),
            period=pl.col("_y"),
            indicator=pl.lit("uvp"),
            estimator=pl.lit(set_name),
            coverage=pl.col("_valid") / pl.col("_days"),
        )
    )


def _seasonality(by_year: pl.LazyFrame, tmja_a: pl.LazyFrame) -> pl.LazyFrame:
    """``summer_index`` (Jul–Aug mean / rest-of-year mean) and ``peak_day_index`` (highest day / TMJA A)."""
    valid = pl.col("is_valid_day")
    summer = valid & pl.col("is_summer")
    rest = valid & ~pl.col("is_summer")
    stats = (
        by_year.group_by([*_SERIES, "_y"])
        .agg(
            exact_mean(pl.col("count").filter(summer)).alias("_summer"),
            exact_mean(pl.col("count").filter(rest)).alias("_rest"),
            _used_share(valid).alias("_share"),
            valid.sum().alias("_valid"),
            pl.len().alias("_days"),
            pl.col("count").filter(valid).max().alias("_peak"),
            # imputed share of the peak day (the first such day if several share the peak)
            (pl.col("_imp").filter(valid & (pl.col("count") == pl.col("count").filter(valid).max()))
             .first()).alias("_peak_imp"),
        )
        .with_columns(period=pl.col("_y"))
    )
    a = tmja_a.select(*_SERIES, "period", pl.col("value").alias("_tmja"), pl.col("coverage").alias("_cov_a"))
    summer_rows = stats.with_columns(
        indicator=pl.lit("summer_index"), estimator=pl.lit(None, dtype=pl.String),
        value=pl.when(pl.col("_rest") > 0).then(pl.col("_summer") / pl.col("_rest")),
        coverage=pl.col("_valid") / pl.col("_days"), imputed_share=pl.col("_share"),
    )
    peak_rows = stats.join(a, on=[*_SERIES, "period"], how="left").with_columns(
        indicator=pl.lit("peak_day_index"), estimator=pl.lit(None, dtype=pl.String),
        value=pl.when(pl.col("_tmja") > 0).then(pl.col("_peak") / pl.col("_tmja")),
        coverage=pl.col("_cov_a"),
        imputed_share=_share(pl.col("_peak_imp").fill_null(0.0), pl.col("_peak").fill_null(0.0)),
    )
    return pl.concat([_rows(summer_rows), _rows(peak_rows)])


# --- hourly indicators ----------------------------------------------------------------------------

def _peak_hour(hours: pl.LazyFrame, working_days: pl.LazyFrame, name: str, window: tuple[int, int]) -> pl.LazyFrame:
    """HPM / HPS: the highest mean hourly volume over working days within ``window``, and its hour."""
    lo, hi = window
    profile = (
        hours.filter(pl.col("is_working_day") & pl.col("hour").is_between(lo, hi - 1))
        .group_by([*_SERIES, "_y", "hour"])
        .agg(
            exact_mean(pl.col("count")).alias("_mean"),
            pl.col("count").count().alias("_n"),
            _share(exact_sum(pl.col("_imp").filter(pl.col("count").is_not_null())).fill_null(0.0),
                   exact_sum(pl.col("count")).fill_null(0.0)).alias("_share"),
        )
    )
    is_peak = pl.col("_mean") == pl.col("_mean").max()
    best = (
        profile.group_by([*_SERIES, "_y"])
        .agg(
            pl.col("_mean").max().alias("_max"),
            pl.col("hour").filter(is_peak).min().alias("_hour"),
        )
    )
    at_peak = (
        best.join(profile, left_on=[*_SERIES, "_y", "_hour"], right_on=[*_SERIES, "_y", "hour"], how="left")
        .join(working_days, on="_y", how="left")
        .with_columns(period=pl.col("_y"), estimator=pl.lit(None, dtype=pl.String),
                      coverage=(pl.col("_n") / pl.col("_working")).cast(pl.Float64), imputed_share=pl.col("_share"))
    )
    return pl.concat([
        _rows(at_peak.with_columns(indicator=pl.lit(name), value=pl.col("_max"))),
        _rows(at_peak.with_columns(indicator=pl.lit(f"{name}_hour"), value=pl.col("_hour").cast(pl.Float64))),
    ])


def _design_hour(hours: pl.LazyFrame, year_hours: pl.LazyFrame, tmja_a: pl.LazyFrame, cfg: IndicatorConfig) -> pl.LazyFrame:
    """``q30`` (30th highest hourly volume of the year) and ``k30`` = q30 / TMJA (A)."""
    k = cfg.k30_rank
    q30 = pl.col("count").top_k(k).min()
    # imputed share of the hours at or above q30 (the hours that define it; ties all included)
    top = pl.col("count") >= q30
    ranked = (
        hours.filter(pl.col("count").is_not_null())
        .group_by([*_SERIES, "_y"])
        .agg(
            q30.alias("_q30"),
            pl.len().alias("_n"),
            _share(exact_sum(pl.col("_imp").filter(top)).fill_null(0.0),
                   exact_sum(pl.col("count").filter(top)).fill_null(0.0)).alias("imputed_share"),
        )
        .join(year_hours, on="_y", how="left")
        .with_columns(coverage=(pl.col("_n") / pl.col("_hours")).cast(pl.Float64))
    )
    a = tmja_a.select(*_SERIES, pl.col("period").alias("_y"), pl.col("value").alias("_tmja"))
    ok = (pl.col("_n") >= k) & (pl.col("coverage") >= cfg.k30_min_coverage)
    base = ranked.join(a, on=[*_SERIES, "_y"], how="left").with_columns(
        period=pl.col("_y"), estimator=pl.lit(None, dtype=pl.String))
    return pl.concat([
        _rows(base.with_columns(indicator=pl.lit("q30"), value=pl.when(ok).then(pl.col("_q30")))),
        _rows(base.with_columns(indicator=pl.lit("k30"),
                                value=pl.when(ok & (pl.col("_tmja") > 0)).then(pl.col("_q30") / pl.col("_tmja")))),
    ])


def _hourly_frame(hourly: pl.LazyFrame, members: pl.LazyFrame | None, cfg: IndicatorConfig) -> pl.LazyFrame:
    hourly = _volumes(hourly)
    if "hour" not in hourly.collect_schema().names():
        hourly = hourly.with_columns(hour=local_hour(cfg.tz))
    hours = _hours_all_directions(hourly.with_columns(pl.col("hour").cast(pl.Int8)))
    if members is not None:
        hours = pl.concat([hours, _group_hours(hours, members)])
    return hours.with_columns(_y=pl.col("day").dt.year().cast(pl.String))


# --- entry point ----------------------------------------------------------------------------------

def traffic_indicators(
    daily: pl.LazyFrame,
    calendar: pl.DataFrame,
    hourly: pl.LazyFrame | None = None,
    groups: Mapping[str, Sequence[str]] | None = None,
    config: IndicatorConfig | None = None,
) -> pl.DataFrame:
    """Indicator rows (INDICATORS_SCHEMA) per series, per sensor × mode (direction ``all``) and per group.

    ``daily`` has the columns of :func:`sensors_io.aggregate.daily_totals` (``count_filled`` and
    ``imputed_share`` optional); ``calendar`` those of :func:`scenarios.calendars.calendar_frame` and
    covers every day of the years present. ``hourly`` (columns of
    :func:`sensors_io.aggregate.hourly_totals`) adds hpm, hps, q30 and k30. ``groups`` maps a group name
    to its member sensor ids. Definitions: module docstring and docs/indicators.md.

    Raises ValueError for an unknown UVP set, an empty group, a group member absent from ``daily``, or
    a group named like a sensor.
    """
    cfg = config or IndicatorConfig()
    if cfg.uvp_set not in UVP_SETS:
        raise ValueError(f"unknown UVP coefficient set {cfg.uvp_set!r}; expected one of {sorted(UVP_SETS)}")
    members = None
    if groups:
        sensors = set(daily.select(pl.col("sensor_id").unique()).collect()["sensor_id"].to_list())
        members = _group_members(groups, sensors)
    days = _with_all_directions(_volumes(daily))
    if members is not None:
        days = pl.concat([days, _group_days(days, members)])
    cal = calendar.lazy().select("date", "dow", "is_working_day", "is_summer")
    # Complete the calendar per series so coverage counts days without any data.
    year = pl.col("day").dt.year().cast(pl.String)
    month = pl.col("day").dt.strftime("%Y-%m")
    series_years = days.select("sensor_id", "mode", "direction", year.alias("_y")).unique()
    full = (
        series_years.join(cal.with_columns(_y=pl.col("date").dt.year().cast(pl.String)), on="_y")
        .rename({"date": "day"})
        .join(days.select("sensor_id", "mode", "direction", "day", "count", "_imp", "is_valid_day"),
              on=["sensor_id", "mode", "direction", "day"], how="left")
        .with_columns(pl.col("is_valid_day").fill_null(False))
        .collect()  # read by every indicator below: computed once
        .lazy()
    )

    def count_days(period: pl.Expr, mask: pl.Expr) -> pl.Expr:
        return (mask & pl.col("day").is_not_null()).sum().over(["sensor_id", "mode", "direction", period])

    weekday = pl.col("is_working_day")
    weekend = pl.col("dow") >= 6
    tmja_a = _mean_over(full.with_columns(_days_in_period=count_days(year, pl.lit(True))), year, "tmja",
                        DEFAULT_TMJA_ESTIMATOR, pl.lit(True))
    by_year = full.with_columns(_y=year, _m=pl.col("day").dt.month())
    tmja = pl.concat([_rows(tmja_a), _rows(_tmja_complete_months(by_year)), _rows(_tmja_aashto(by_year))])
    spread = _rows(_tmja_spread(tmja))
    frames = [
        tmja,
        spread,
        _tmja_flags(tmja_a, spread, _longest_gap(by_year), cfg),
        _rows(_mean_over(full.with_columns(_days_in_period=count_days(month, pl.lit(True))), month, "tmjm", None, pl.lit(True))),
        _rows(_mean_over(full.with_columns(_days_in_period=count_days(year, weekday)), year, "tmjo", None, weekday)),
        _rows(_mean_over(full.with_columns(_days_in_period=count_days(year, weekend)), year, "weekend", None, weekend)),
        _rows(_pct_heavy(by_year)),
        _rows(_uvp(by_year, cfg.uvp_set)),
        _seasonality(by_year, tmja_a),
    ]
    if hourly is not None:
        # collected once: four indicators read it (the optimizer does not share it between them)
        hours = _hourly_frame(hourly, members, cfg).join(
            cal.select(pl.col("date").alias("day"), "is_working_day"), on="day", how="left").collect().lazy()
        cal_years = cal.with_columns(_y=pl.col("date").dt.year().cast(pl.String)).group_by("_y")
        working = cal_years.agg(pl.col("is_working_day").sum().alias("_working"))
        year_hours = cal_years.agg((pl.len() * 24).alias("_hours"))
        frames += [
            _peak_hour(hours, working, "hpm", cfg.hpm_hours),
            _peak_hour(hours, working, "hps", cfg.hps_hours),
            _design_hour(hours, year_hours, tmja_a, cfg),
        ]
    daily_unit = pl.col("mode").replace_strict(UNITS, default="veh/day", return_dtype=pl.String)
    hourly_unit = pl.col("mode").replace_strict(HOURLY_UNITS, default="veh/h", return_dtype=pl.String)
    volume_unit = pl.when(pl.col("indicator").is_in(list(HOURLY_VOLUMES))).then(hourly_unit).otherwise(daily_unit)
    return (
        pl.concat(frames)
        .with_columns(
            unit=pl.col("indicator").replace_strict(INDICATOR_UNITS, default=volume_unit, return_dtype=pl.String),
            imputed_share=pl.col("imputed_share").fill_null(0.0),
        )
        .select(list(INDICATORS_SCHEMA))
        .cast(dict(INDICATORS_SCHEMA))
        .sort(["sensor_id", "mode", "direction", "indicator", "period", "estimator"], nulls_last=True)
        .collect()
    )


# --- speed ----------------------------------------------------------------------------------------

#: Relative tolerance of the cumulative comparison (as sensors_io.speed): float noise in a sum of
#: percentages must not push the quantile into the next (maybe open) bin.
_REL_TOL = 1e-9


def _period_quantiles(summed: pl.LazyFrame, keys: list[str], p: float) -> pl.LazyFrame:
    """V_p per group of a summed histogram (sensors_io.speed.quantile_from_histogram, vectorised)."""
    cum = pl.col("count").cum_sum().over(keys, order_by="bin_lo_kmh")
    total = pl.col("count").sum().over(keys)
    hist = summed.with_columns(_cum=cum, _total=total).with_columns(
        _below=pl.col("_cum") - pl.col("count"), _target=p * pl.col("_total"))
    reached = (pl.col("count") > 0) & (pl.col("_cum") >= pl.col("_target") * (1 - _REL_TOL))
    first = pl.col("bin_lo_kmh") == pl.col("bin_lo_kmh").filter(reached).min().over(keys)
    share = ((pl.col("_target") - pl.col("_below")) / pl.col("count")).clip(0.0, 1.0)
    return (
        hist.filter(reached).filter(first)
        .with_columns(
            value=pl.when(pl.col("bin_hi_kmh").is_null()).then(pl.col("bin_lo_kmh"))
            .otherwise(pl.col("bin_lo_kmh") + (pl.col("bin_hi_kmh") - pl.col("bin_lo_kmh")) * share),
            estimator=pl.when(pl.col("bin_hi_kmh").is_null()).then(pl.lit("histogram_censored"))
            .otherwise(pl.lit("histogram")),
        )
        .select(*keys, "value", "estimator")
    )


def speed_indicators(hist: pl.LazyFrame, tz: str = "Europe/Paris", quantiles: Mapping[str, float] | None = None) -> pl.DataFrame:
    """V50 / V85 per series, per sensor × mode (direction ``all``), per year and per month, from hourly
    speed histograms summed over the period (INDICATORS.md §1.3).

    ``hist`` is long: sensor_id, mode, direction, start_utc, bin_lo_kmh, bin_hi_kmh (null for the open top
    bin), count (vehicles or % of the hour; summed as given, so a percentage histogram weighs every hour
    alike). Bins must be the same within a series (no overlap). Rows: ``estimator`` ``histogram``, or
    ``histogram_censored`` when the quantile falls in the open top bin (value = its lower edge, read
    "≥ value"); unit km/h; ``coverage`` = hours with a non-empty histogram / (24 × days in the period);
    ``imputed_share`` 0 (histograms are never imputed). Raises ValueError when bins overlap.
    """
    qs = dict(quantiles or {"v50": 0.50, "v85": 0.85})
    base = hist.select(
        "sensor_id", "mode", "direction", "start_utc",
        pl.col("bin_lo_kmh").cast(pl.Float64), pl.col("bin_hi_kmh").cast(pl.Float64),
        pl.col("count").cast(pl.Float64),
    ).filter(pl.col("count").is_not_null())
    local = pl.col("start_utc").dt.convert_time_zone(tz)
    base = pl.concat([base, base.with_columns(direction=pl.lit("all"))]).with_columns(
        _y=local.dt.year().cast(pl.String), _m=local.dt.strftime("%Y-%m"),
        _days_y=pl.date(local.dt.year() + 1, 1, 1).sub(pl.date(local.dt.year(), 1, 1)).dt.total_days().cast(pl.Int32),
        _days_m=local.dt.month_end().dt.day().cast(pl.Int32),
    )
    bins = ["bin_lo_kmh", "bin_hi_kmh"]
    out = []
    for period, days in (("_y", "_days_y"), ("_m", "_days_m")):
        keys = [*_SERIES, period]
        summed = base.group_by([*keys, *bins]).agg(exact_sum(pl.col("count")).alias("count"))
        _check_bins(summed, keys)
        hours = (
            base.group_by([*keys, "start_utc"]).agg(pl.col("count").sum().alias("_h"), pl.col(days).first())
            .group_by(keys).agg((pl.col("_h") > 0).sum().alias("_n"), pl.col(days).first().alias("_days"))
            .with_columns(coverage=(pl.col("_n") / (24 * pl.col("_days"))).cast(pl.Float64))
        )
        for name, p in sorted(qs.items()):
            out.append(
                _period_quantiles(summed, keys, p).join(hours.select(*keys, "coverage"), on=keys, how="left")
                .with_columns(period=pl.col(period), indicator=pl.lit(name), imputed_share=pl.lit(0.0))
                .pipe(_rows)
            )
    return (
        pl.concat(out)
        .with_columns(unit=pl.lit("km/h"))
        .select(list(INDICATORS_SCHEMA))
        .cast(dict(INDICATORS_SCHEMA))
        .sort(["sensor_id", "mode", "direction", "indicator", "period", "estimator"], nulls_last=True)
        .collect()
    )


def _check_bins(summed: pl.LazyFrame, keys: list[str]) -> None:
    """ValueError when the bins of one series overlap (e.g. 5 km/h and 10 km/h histograms mixed)."""
    nxt = pl.col("bin_lo_kmh").shift(-1).over(keys, order_by=["bin_lo_kmh", "bin_hi_kmh"])
    bad = (
        summed.with_columns(_next=nxt)
        .filter(pl.col("_next").is_not_null() & (pl.col("bin_hi_kmh").is_null() | (pl.col("_next") < pl.col("bin_hi_kmh"))))
        .select(*keys, "bin_lo_kmh", "bin_hi_kmh", "_next")
        # name a real direction before the pooled "all"
        .sort(pl.col("direction") == "all", *keys, "bin_lo_kmh", "bin_hi_kmh", nulls_last=True)
        .head(1).collect()
    )
    if bad.height:
        r = bad.row(0, named=True)
        raise ValueError(
            f"speed histogram of {r['sensor_id']}/{r['mode']}/{r['direction']}: bin {r['bin_lo_kmh']}–"
            f"{r['bin_hi_kmh']} km/h overlaps the next bin starting at {r['_next']} km/h; one series needs one "
            "set of bins (do not mix 5 km/h and 10 km/h histograms)")
