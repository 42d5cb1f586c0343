"""Imputation of short gaps in cleaned counts, marked as such (``flag = imputed``, ``impute_method``).

Two methods, tried in this order for every row without a trusted measured value (``count_clean`` null)
that lies in a gap of at most ``max_gap_hours`` (rows of longer gaps stay missing):

1. ``neighbour_ratio``: a neighbour is another series of the same mode whose trusted hourly counts
   correlate with this one (Pearson ``r >= neighbour_min_corr`` over at least ``neighbour_min_overlap``
   common intervals); up to ``neighbour_max_candidates`` are ranked by ``r``. The estimate is the best
   available neighbour's value at that time × ``Σ own / Σ neighbour`` over the common trusted values of
   the same local hour and day type in the trailing ``neighbour_window_days`` (whole overlap when the
   window holds fewer than ``neighbour_min_pairs``).
2. ``profile``: the series' mean over trusted, non-suspect values outside accepted register periods in
   the same hour of week × season cell (hour-of-week cell without season when the season cell has fewer
   than ``profile_min_samples`` values), scaled by the series' recent level
   ``Σ observed / Σ profile`` over the trailing ``level_window_days`` (whole series when the window has
   fewer than ``level_min_samples`` pairs; 1 when there is none).

Rows not measured by design (``skip_reasons``: ``no_uptime``, ``unclassified``) are never filled and do
not lengthen a gap. Observed values, confirmed zeros and suspect values are never changed: ``count_filled`` is
``count_clean`` wherever that is not null. Sums are exact (integer micro-units) so the result does not
depend on row order. The flag rules live in :mod:`sensors_io.quality`; the two share the local calendar
helpers below.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import TYPE_CHECKING

import holidays as holidays_lib
import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict, Field, field_validator

from sensors_io.aggregate import EXACT_SCALE, exact_mean
from sensors_io.schema import SERIES_KEY

if TYPE_CHECKING:
    from sensors_io.quality import QualityConfig

__all__ = ["DAY_TYPES", "IMPUTE_METHODS", "ImputeConfig", "holiday_dates", "impute_counts", "with_calendar"]

#: Day types of the zero-run cells: 0 working day, 1 Saturday, 2 Sunday or public holiday.
DAY_TYPES: tuple[str, ...] = ("working", "saturday", "sunday_holiday")
IMPUTE_METHODS: tuple[str, ...] = ("neighbour_ratio", "profile")
#: Columns :func:`with_calendar` adds (dropped again by the public functions).
CALENDAR_COLUMNS: tuple[str, ...] = ("_date", "_hour", "_minute", "_month", "_dow", "_holiday", "_daytype", "_wday")


class ImputeConfig(BaseModel):
    """Parameters of the imputation (see the module docstring and docs/quality.md)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(True, description="False: count_filled = count_clean, nothing imputed.")
    max_gap_hours: float = Field(6.0, description="Gaps (consecutive rows without a trusted value) longer than "
                                                  "this stay missing.")
    seasons: dict[str, list[int]] = Field(
        default_factory=lambda: {"winter": [12, 1, 2], "spring": [3, 4, 5, 6], "summer": [7, 8], "autumn": [9, 10, 11]},
        description="Months of each season of the profile (every month exactly once); summer = the tourist season.",
    )
    profile_min_samples: int = Field(3, ge=1, description="Values a profile cell needs.")
    level_window_days: int = Field(28, ge=1, description="Trailing window of the recent level (observed / profile).")
    level_min_samples: int = Field(24, ge=1, description="Pairs the trailing level needs (else the whole series).")
    use_neighbours: bool = Field(True, description="Try a correlated neighbour before the profile.")
    neighbour_min_corr: float = Field(0.9, ge=-1, le=1, description="Pearson r of trusted counts over the overlap.")
    neighbour_min_overlap: int = Field(336, ge=2, description="Common trusted intervals needed (336 h = 2 weeks).")
    neighbour_max_candidates: int = Field(3, ge=1, description="Neighbours kept per series, best r first.")
    neighbour_window_days: int = Field(42, ge=1, description="Trailing window of the neighbour ratio.")
    neighbour_min_pairs: int = Field(4, ge=1, description="Pairs of the hour × day-type cell the trailing ratio needs.")
    skip_reasons: tuple[str, ...] = Field(
        ("no_uptime", "unclassified"),
        description="Not measured by design (Telraam V1 at night, S2 night mode): never filled, and not part of a gap.",
    )

    @field_validator("seasons")
    @classmethod
    def _every_month_once(cls, value: dict[str, list[int]]) -> dict[str, list[int]]:
        months = sorted(m for ms in value.values() for m in ms)
        if months != list(range(1, 13)):
            raise ValueError(f"seasons must list every month 1..12 exactly once, got {months}")
        return value


@lru_cache(maxsize=8)
def holiday_dates(country: str = "FR", subdiv: str | None = None) -> tuple[dt.date, ...]:
    """Public holidays 1990–2060 from the ``holidays`` package (France métropole by default)."""
    try:
        found = holidays_lib.country_holidays(country, subdiv=subdiv, years=range(1990, 2061))
    except NotImplementedError as exc:
        raise ValueError(f"holidays_country={country!r}, holidays_subdiv={subdiv!r}: {exc} "
                         "(France: country 'FR', subdiv None, or '57'/'67'/'68' for Alsace-Moselle)") from None
    return tuple(sorted(found))


def with_calendar(lf: pl.LazyFrame, tz: str, country: str = "FR", subdiv: str | None = None) -> pl.LazyFrame:
    """Add the local calendar keys of ``start_utc`` (:data:`CALENDAR_COLUMNS`).

    ``_daytype``: 0 working day, 1 Saturday, 2 Sunday or public holiday; ``_wday``: ISO weekday with
    public holidays counted as Sundays (7), the day of the hour-of-week cells.
    """
    # The local wall-clock time once, as a naive datetime: its fields are then plain arithmetic.
    local = pl.col("_local")
    hol = pl.lit(pl.Series(holiday_dates(country, subdiv), dtype=pl.Date))
    return lf.with_columns(
        _local=pl.col("start_utc").dt.convert_time_zone(tz).dt.replace_time_zone(None)
    ).with_columns(
        _date=local.dt.date(), _hour=local.dt.hour(), _minute=local.dt.minute(), _month=local.dt.month(),
        _dow=local.dt.weekday(),
    ).drop("_local").with_columns(_holiday=pl.col("_date").is_in(hol.implode())).with_columns(
        _daytype=pl.when(pl.col("_holiday") | (pl.col("_dow") == 7)).then(2).when(pl.col("_dow") == 6).then(1)
        .otherwise(0).cast(pl.Int8),
        _wday=pl.when(pl.col("_holiday")).then(7).otherwise(pl.col("_dow")).cast(pl.Int8),
    )


def series_id() -> pl.Expr:
    """An integer id per series (``_sid``) of a frame sorted by series: one cheap key for window partitions."""
    changed = pl.any_horizontal([pl.col(c).ne_missing(pl.col(c).shift()) for c in SERIES_KEY])
    return changed.fill_null(True).cum_sum().cast(pl.UInt32)


def run_id(expr: pl.Expr) -> pl.Expr:
    """Id of the runs of equal values (nulls equal) within each series of a frame sorted by series and time,
    given ``_sid``: partitions ``[_sid, run]`` as ``expr.rle_id().over(series, order_by="start_utc")`` does."""
    changed = expr.ne_missing(expr.shift()) | pl.col("_sid").ne_missing(pl.col("_sid").shift())
    return changed.fill_null(True).cum_sum().cast(pl.UInt32)


def micro(expr: pl.Expr) -> pl.Expr:
    """Counts as integer micro-units: sums of these are exact and order-independent."""
    return (expr * EXACT_SCALE).round().cast(pl.Int64)


def trailing_sum(expr: pl.Expr, days: int, cell: list[str]) -> pl.Expr:
    """Sum of ``expr`` over the cell's rows in ``[start_utc - days, start_utc)`` (0 when none)."""
    return expr.rolling_sum_by("start_utc", f"{days}d", closed="left").over(cell)


_CANDIDATE_SCHEMA = pl.Schema({"sensor_id": pl.String, "mode": pl.String, "direction": pl.String,
                               "nb_sensor": pl.String, "nb_direction": pl.String, "r": pl.Float64,
                               "n": pl.Int64, "rank": pl.Int64})


def neighbour_candidates(obs: pl.DataFrame, cfg: ImputeConfig) -> pl.DataFrame:
    """Correlated neighbours of every series: same mode and interval, Pearson ``r`` of trusted counts over the
    common intervals (``r >= neighbour_min_corr``, ``n >= neighbour_min_overlap``), best ``r`` first.

    ``obs``: sensor_id, mode, direction, start_utc, interval_s, y. One matrix product per mode (T × S
    series, numpy), not a per-pair join; rows and columns sorted, so row order does not matter. ``r`` is
    rounded to 1e-9 before ranking; ties go to the neighbour whose name sorts first.
    """
    out: list[pl.DataFrame] = []
    sep = "\x1f"
    for (mode, _interval), group in sorted(obs.partition_by(["mode", "interval_s"], as_dict=True).items()):
        wide = (
            group.with_columns(_sid=pl.concat_str("sensor_id", pl.lit(sep), "direction"))
            .pivot(on="_sid", index="start_utc", values="y", aggregate_function="first")
            .sort("start_utc")
        )
        names = sorted(c for c in wide.columns if c != "start_utc")
        if len(names) < 2:
            continue
        x = wide.select(names).to_numpy().astype(np.float64)
        m = ~np.isnan(x)
        x0 = np.where(m, x, 0.0)
        mf = m.astype(np.float64)
        n = mf.T @ mf                      # n[i, j]: common intervals
        with np.errstate(divide="ignore", invalid="ignore"):
            mx = (x0.T @ mf) / n           # mean of i over the overlap with j
            mxx = ((x0 * x0).T @ mf) / n
            cov = (x0.T @ x0) / n - mx * mx.T
            r = np.round(cov / np.sqrt((mxx - mx * mx) * (mxx - mx * mx).T), 9)
        ok = (n >= cfg.neighbour_min_overlap) & (r >= cfg.neighbour_min_corr) & ~np.eye(len(names), dtype=bool)
        ti, nj = np.nonzero(ok)
        if ti.size == 0:
            continue
        target = [names[i].split(sep) for i in ti]
        nb = [names[j].split(sep) for j in nj]
        out.append(pl.DataFrame({
            "sensor_id": [t[0] for t in target], "mode": mode, "direction": [t[1] for t in target],
            "nb_sensor": [b[0] for b in nb], "nb_direction": [b[1] for b in nb], "r": r[ti, nj],
            "n": n[ti, nj].astype(np.int64),
        }))
    if not out:
        return pl.DataFrame(schema=_CANDIDATE_SCHEMA)
    series = list(SERIES_KEY)
    return (
        pl.concat(out)
        .sort([*series, "r", "nb_sensor", "nb_direction"], descending=[False] * len(series) + [True, False, False])
        .with_columns(rank=pl.int_range(pl.len(), dtype=pl.Int64).over(series))
        .filter(pl.col("rank") < cfg.neighbour_max_candidates)
        .select(*_CANDIDATE_SCHEMA)
    )


def _neighbour_estimates(lf: pl.LazyFrame, cfg: ImputeConfig) -> pl.LazyFrame:
    """Per fillable row of a series with a correlated neighbour: ``_nb_est`` (best-ranked neighbour available)."""
    series = list(SERIES_KEY)
    key = [*series, "start_utc", "interval_s"]
    obs = lf.filter(pl.col("_trusted")).select(*key, y=pl.col("count_clean"))
    cand = obs.map_batches(lambda df: neighbour_candidates(df, cfg), schema=_CANDIDATE_SCHEMA)
    cand = cand.join(lf.filter(pl.col("_fillable")).select(series).unique(), on=series, how="semi")
    nb_vals = obs.rename({"sensor_id": "nb_sensor", "direction": "nb_direction", "y": "x"})
    frame = (
        lf.select(*key, "_hour", "_daytype", "_fillable", y=pl.when(pl.col("_trusted")).then(pl.col("count_clean")))
        .join(cand, on=series)
        .join(nb_vals, on=["mode", "nb_sensor", "nb_direction", "start_utc", "interval_s"], how="left")
    )
    both = pl.col("y").is_not_null() & pl.col("x").is_not_null()
    yb, xb, nb = micro(pl.when(both).then(pl.col("y"))), micro(pl.when(both).then(pl.col("x"))), both.cast(pl.Int64)
    cell = [*series, "nb_sensor", "nb_direction", "_hour", "_daytype"]
    w = cfg.neighbour_window_days
    sy_t, sx_t, n_t = trailing_sum(yb, w, cell), trailing_sum(xb, w, cell), trailing_sum(nb, w, cell)
    sy_a, sx_a, n_a = yb.sum().over(cell), xb.sum().over(cell), nb.sum().over(cell)
    ratio = (
        pl.when((n_t >= cfg.neighbour_min_pairs) & (sx_t > 0)).then(sy_t / sx_t)
        .when((n_a >= cfg.neighbour_min_pairs) & (sx_a > 0)).then(sy_a / sx_a)
    )
    est = (
        frame.with_columns(_ratio=ratio)
        .filter(pl.col("_fillable") & pl.col("x").is_not_null() & pl.col("_ratio").is_not_null())
        .with_columns(_nb_est=pl.col("x") * pl.col("_ratio"))
    )
    return est.filter(pl.col("rank") == pl.col("rank").min().over(key)).select(*key, "_nb_est")


def impute_frame(lf: pl.LazyFrame, cfg: ImputeConfig) -> pl.LazyFrame:
    """Imputation on a flagged frame that already has the calendar keys and ``_accepted`` (internal), sorted by
    series and time (``_sid``, the series id of :func:`series_id`, is used when present).

    Adds ``count_filled``, ``impute_method`` and sets ``flag = imputed`` on filled rows.
    """
    key = [*SERIES_KEY, "start_utc", "interval_s"]
    if not cfg.enabled:
        return lf.with_columns(count_filled=pl.col("count_clean"), impute_method=pl.lit(None, pl.String))
    own_sid = "_sid" not in lf.collect_schema().names()
    if own_sid:
        lf = lf.with_columns(_sid=series_id())
    series = ["_sid"]  # the frame is sorted by series and time: one integer key per series
    need = pl.col("count_clean").is_null()
    if cfg.skip_reasons and "flag_reason" in lf.collect_schema().names():
        need = need & ~pl.col("flag_reason").is_in(list(cfg.skip_reasons)).fill_null(False)
    end = pl.col("start_utc") + pl.duration(seconds=pl.col("interval_s"))
    season = {m: i for i, ms in enumerate(cfg.seasons.values()) for m in ms}
    lf = lf.with_columns(
        _trusted=pl.col("count_clean").is_not_null() & (pl.col("flag") != "suspect"),
        _nrun=run_id(need),
        _season=pl.col("_month").replace_strict(season, return_dtype=pl.Int8),
    ).with_columns(
        _fillable=need & (((end.max() - pl.col("start_utc").min()).dt.total_seconds() / 3600.0)
                          .over([*series, "_nrun"]) <= cfg.max_gap_hours),
    )
    # Profile: hour of week × season, else hour of week; trusted values outside accepted periods.
    y_normal = pl.when(pl.col("_trusted") & ~pl.col("_accepted")).then(pl.col("count_clean"))
    p_season, p_week = [*series, "_season", "_wday", "_hour", "_minute"], [*series, "_wday", "_hour", "_minute"]
    enough = cfg.profile_min_samples
    lf = lf.with_columns(
        _profile=pl.when(y_normal.count().over(p_season) >= enough).then(exact_mean(y_normal).over(p_season))
        .when(y_normal.count().over(p_week) >= enough).then(exact_mean(y_normal).over(p_week))
    )
    # Recent level: Σ observed / Σ profile over the trailing window (all trusted values, accepted included).
    both = pl.col("_trusted") & pl.col("_profile").is_not_null()
    yb, pb = micro(pl.when(both).then(pl.col("count_clean"))), micro(pl.when(both).then(pl.col("_profile")))
    nb = both.cast(pl.Int64)
    w = cfg.level_window_days
    level = (
        pl.when((trailing_sum(nb, w, series) >= cfg.level_min_samples) & (trailing_sum(pb, w, series) > 0))
        .then(trailing_sum(yb, w, series) / trailing_sum(pb, w, series))
        .when(pb.sum().over(series) > 0).then(yb.sum().over(series) / pb.sum().over(series))
        .otherwise(1.0)
    )
    lf = lf.with_columns(_profile_est=pl.when(pl.col("_fillable")).then(pl.col("_profile") * level))
    if cfg.use_neighbours:
        # The neighbour branch reads the frame three times: cache it rather than recompute the flags.
        lf = lf.cache()
        lf = lf.join(_neighbour_estimates(lf, cfg), on=key, how="left", maintain_order="left")
    else:
        lf = lf.with_columns(_nb_est=pl.lit(None, pl.Float64))
    method = (
        pl.when(~pl.col("_fillable")).then(pl.lit(None, pl.String))
        .when(pl.col("_nb_est").is_not_null()).then(pl.lit("neighbour_ratio"))
        .when(pl.col("_profile_est").is_not_null()).then(pl.lit("profile"))
    )
    return (
        lf.with_columns(impute_method=method)
        .with_columns(
            count_filled=pl.coalesce(pl.col("count_clean"),
                                     pl.when(pl.col("impute_method") == "neighbour_ratio").then(pl.col("_nb_est"))
                                     .when(pl.col("impute_method") == "profile").then(pl.col("_profile_est"))),
            flag=pl.when(pl.col("impute_method").is_not_null()).then(pl.lit("imputed")).otherwise(pl.col("flag")),
        )
        .drop("_trusted", "_nrun", "_season", "_fillable", "_profile", "_profile_est", "_nb_est",
              *(["_sid"] if own_sid else []))
    )


def impute_counts(clean: pl.LazyFrame | pl.DataFrame, config: QualityConfig | ImputeConfig | None = None, *,
                  tz: str = "Europe/Paris", register: pl.DataFrame | None = None) -> pl.LazyFrame | pl.DataFrame:
    """Fill short gaps of flagged counts (output of :func:`sensors_io.quality.flag_counts`, or any frame with
    the canonical columns, ``flag`` and ``count_clean``).

    Returns the same kind of frame (lazy in, lazy out), sorted by series and time, with ``count_filled``
    (Float64), ``impute_method`` (String: ``neighbour_ratio``, ``profile`` or null) and ``flag = imputed``
    on filled rows (``flag_reason`` keeps the original cause). Rows marked accepted in ``register`` (or
    with ``flag_reason`` ``register:…`` on a measured value) do not shape the profile.

    Examples
    --------
    >>> t0 = dt.datetime(2025, 1, 6, 8, tzinfo=dt.UTC)  # Mondays 09:00 local, four weeks apart by a week
    >>> rows = [{"sensor_id": "a", "mode": "car", "direction": "E", "start_utc": t0 + dt.timedelta(weeks=i),
    ...          "interval_s": 3600, "count": c, "count_clean": c, "flag": "observed" if c else "missing"}
    ...         for i, c in enumerate([100.0, 110.0, 90.0, None])]
    >>> impute_counts(pl.DataFrame(rows)).select("flag", "impute_method", "count_filled").row(3)
    ('imputed', 'profile', 100.0)
    """
    from sensors_io.anomalies import match_register
    from sensors_io.quality import QualityConfig

    if config is None:
        config = QualityConfig()
    elif isinstance(config, ImputeConfig):
        config = QualityConfig(impute=config)
    eager = isinstance(clean, pl.DataFrame)
    lf = clean.lazy()
    names = lf.collect_schema().names()
    drop_after = [c for c in ("register_action", "register_reason") if c not in names]
    lf = match_register(lf, register) if register is not None or "register_action" not in names else lf
    accepted = (pl.col("register_action") == "accept").fill_null(False) | (
        pl.col("flag_reason").str.starts_with("register:").fill_null(False)
        & pl.col("flag").is_in(["observed", "zero", "suspect"])
        if "flag_reason" in names else pl.lit(False)
    )
    lf = (
        with_calendar(lf.sort([*SERIES_KEY, "start_utc", "interval_s"]), tz, config.holidays_country,
                      config.holidays_subdiv)
        .with_columns(_accepted=accepted)
    )
    out = impute_frame(lf, config.impute).drop(*CALENDAR_COLUMNS, "_accepted", *drop_after)
    return out.collect() if eager else out
