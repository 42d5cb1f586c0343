"""Baseline hourly forecast: candidate models per series, chosen by rolling-origin backtest against
weekly seasonal-naive, with conformal 80 % and 95 % intervals.

Candidates (:mod:`scenarios.models`)
------------------------------------
- ``seasonal_naive_168h`` (the reference), ``seasonal_naive_24h``, ``weekday_median_5w`` (median of the
  last 5 weeks at that local hour, Monday to Thursday pooled, Friday, Saturday and Sunday each alone;
  public holidays, bridge days and the days of the event file's one-off entries (those without
  ``weekly``) left out of the history; on such days in the forecast it takes ``hgb_poisson``'s value),
  the same over 3 and 8 weeks (``weekday_median_3w``, ``weekday_median_8w``),
  ``seasonal_median_5w`` (the same per hour of week, without pooling: for a weekday unlike the others),
  and when asked for in ``models``, ``seasonal_mean_8w`` (mean of the last 8 weeks at that hour of week,
  public holidays excluded);
- ``hgb_poisson``: one scikit-learn ``HistGradientBoostingRegressor(loss="poisson")`` **per mode**, global
  across that mode's series (series identity categorical), on calendar features and each series' recent
  level and hour-of-week profile; the target is count / level. Its features are known for any future
  hour, so it serves any horizon inside the calendar's coverage (the scenario module asks for July–August
  of next year);
- ``hgb_lag``: the same plus lags of at least 168 h (count 1 and 2 weeks earlier, mean of the week
  before that); it forecasts at most 168 h past the cutoff;
- ``ensemble_mean``: the mean of ``hgb_poisson`` and ``weekday_median_5w`` (168 h at most);
- on request, ``mstl_ets`` (statsmodels MSTL(24, 168) + exponential smoothing of trend + remainder, log1p)
  and ``unobserved_components``: per series, on the last 4 weeks; run while the number of series is
  at most ``stat_max_series`` (their cost grows per series; the scoreboard has no row for them otherwise).

Calendar features: local hour, day of week, hour of week, month, day-of-year harmonics, public holiday,
Pentecost Monday, school holiday (zone), bridge day, summer, town events and markets, trend (years since
the cutoff, extrapolated flat by trees). Optional weather regressors (:mod:`scenarios.weather`) join the
gradient-boosting features; the forecast then needs weather for every hour it covers.

Honesty rules
-------------
- Rolling-origin backtest on the last ``backtest_days`` before the cutoff (``n_origins`` windows of at
  most 7 days, each fitted only on data before its origin). MASE = MAE(model) / MAE(weekly seasonal-naive)
  on the same observed hours; a candidate is scored only on series where it forecast every hour.
- Per series, among candidates with MASE below 1, ``ensemble_mean`` ships unless another candidate's
  MASE is lower by more than :data:`SELECTION_MARGIN` (5 %); with none below 1 the series ships
  ``seasonal_naive_168h`` (``scores.chosen`` says which). Past 168 h after the cutoff the short-horizon
  models cannot run: those hours use ``hgb_poisson`` where it beat seasonal-naive, else seasonal-naive
  (the last observed week repeated; profile × level where an hour of week was never observed).
- Intervals are split-conformal on the backtest residuals, per model and mode, normalised by a
  count-noise scale ``s = sqrt(1 + ŷ + φ ŷ²)``: ``[ŷ + q_lo·s, ŷ + q_hi·s]`` at 80 % (q10, q90) and 95 %
  (q2.5, q97.5), widened by :data:`INTERVAL_INFLATION` (1.15), lower bounds clipped at 0, the 80 % band
  inside the 95 % one. Choices (candidates, k = 5, margin, 8 origins, widening) were made on the
  development cutoffs of :mod:`scenarios.evaluation`, not on its evaluation weeks. Calibrated on horizons of
  at most 7 days; far horizons (months) are more uncertain than the band says.
- ``coverage80``/``coverage95`` in the scores are cross-fitted across origins (each window's band is
  calibrated on the other windows' residuals); with one origin they are in-sample.
- Determinism: rows are sorted after every join, sampling and the GBMs use fixed seeds, sums are exact.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import pickle
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
from sklearn.ensemble import HistGradientBoostingRegressor
from threadpoolctl import threadpool_limits

from scenarios.calendars import calendar_frame
from scenarios.events import EventCalendar
from scenarios.models import (
    ENSEMBLE_MEMBERS,
    MODEL_ENSEMBLE,
    MODEL_HGB,
    MODEL_HGB_LAG,
    MODEL_MEDIAN,
    MODEL_MSTL,
    MODEL_POOLED,
    MODEL_POOLED_LONG,
    MODEL_POOLED_SHORT,
    MODEL_PROFILE,
    MODEL_SNAIVE,
    MODEL_SNAIVE_DAY,
    MODEL_UC,
    POOLED_MODELS,
    ROBUST_MODELS,
    SHORT_HORIZON_H,
    SHORT_MODELS,
    STAT_MODELS,
    lag_features,
    off_day,
    series_state,
    stat_forecast,
)
from scenarios.weather import WEATHER_COLUMNS, require_coverage
from sensors_io.aggregate import exact_mean, exact_sum
from sensors_io.anomalies import match_register

__all__ = [
    "FORECAST_SCHEMA", "SCORES_SCHEMA", "MODEL_HGB", "MODEL_HGB_LAG", "MODEL_SNAIVE", "MODEL_SNAIVE_DAY",
    "MODEL_MSTL", "MODEL_UC", "MODEL_PROFILE", "MODEL_MEDIAN", "MODEL_POOLED", "MODEL_POOLED_SHORT", "MODEL_POOLED_LONG",
    "MODEL_ENSEMBLE", "DEFAULT_MODELS", "BaselineModel", "candidate_models",
    "fit_baseline", "forecast_from_lake", "leave_out_unusual_hours", "local_cutoff_utc", "save_model", "load_model",
]

SERIES_KEY = ["sensor_id", "mode", "direction"]
#: Candidates fitted by default. The hour-of-week median ``seasonal_median_5w`` stays a candidate beside
#: the weekday-pooled ones: where one weekday differs from the others (French primary schools are closed
#: on Wednesdays in many towns; a Tuesday market), the backtest can pick it (on the development cutoffs
#: it cost nothing: 0.750 with it, 0.750 without). Not fitted unless asked for (``fit_baseline(models=…)``;
#: the statsmodels pair also by :func:`candidate_models`): ``mstl_ets`` (held-out mean MASE 1.56 against
#: seasonal-naive on the development cutoffs, and about 0.3 s per series and origin),
#: ``unobserved_components`` (about 2 s per series and origin) and ``seasonal_mean_8w`` (holiday-blind: it
#: lost the 4 July week on I-94).
DEFAULT_MODELS: tuple[str, ...] = (MODEL_SNAIVE, MODEL_SNAIVE_DAY, MODEL_HGB, MODEL_HGB_LAG, MODEL_MEDIAN,
                                   MODEL_POOLED_SHORT, MODEL_POOLED, MODEL_POOLED_LONG, MODEL_ENSEMBLE)


def candidate_models(statsmodels: bool = False) -> tuple[str, ...]:
    """The candidates a run fits: :data:`DEFAULT_MODELS`, plus the statsmodels ones (``mstl_ets``,
    ``unobserved_components``) when ``statsmodels`` is set (``mobility forecast --statsmodels``, the
    asset's ``ForecastConfig(statsmodels=True)``)."""
    return (*DEFAULT_MODELS, *STAT_MODELS) if statsmodels else DEFAULT_MODELS


#: The ensemble is the default choice: another candidate replaces it for a series only when its backtest
#: MASE is lower by more than this factor (``mase * (1 + margin) < ensemble's``): a few weeks of backtest
#: rank close candidates partly by noise. Chosen on the development cutoffs (docs/forecasting.md).
SELECTION_MARGIN = 0.05
#: The conformal quantiles of the backtest residuals are widened by this factor: errors of the week after
#: the cutoff run larger than the backtest weeks' (season turns, holidays, incidents). Chosen on the
#: development cutoffs, where the 80 % band covered 0.756 of the held-out hours unwidened and 0.803 widened
#: (2026-11-30 version; with the weekday-pooled medians of 2026-12-06, 0.800 widened).
INTERVAL_INFLATION = 1.15
#: Categorical features in sklearn's histogram GBM allow at most 255 categories.
MAX_SERIES_CATEGORIES = 255
#: Minimum residuals for a per-mode interval table; below it the model's pooled table is used.
MIN_CALIBRATION = 100
#: Interval levels: (name suffix, lower quantile, upper quantile).
LEVELS = (("80", 0.10, 0.90), ("95", 0.025, 0.975))

_CAL_FEATURES = [
    "hour", "dow", "how", "month", "doy_s1", "doy_c1", "doy_s2", "doy_c2",
    "is_public_holiday", "is_pentecost_monday", "is_school_holiday", "is_bridge_day", "is_summer",
    "is_event", "is_market", "trend",
]
BASE_FEATURES = ["series_cat", *_CAL_FEATURES, "log_level", "profile"]
LAG_FEATURES = ["lag168_r", "lag336_r", "week_mean_r"]

FORECAST_SCHEMA = {
    "sensor_id": pl.String, "mode": pl.String, "direction": pl.String,
    "start_utc": pl.Datetime("us", "UTC"), "yhat": pl.Float64, "yhat_lower": pl.Float64,
    "yhat_upper": pl.Float64, "yhat_lower_95": pl.Float64, "yhat_upper_95": pl.Float64,
    "model": pl.String, "cutoff_utc": pl.Datetime("us", "UTC"), "scenario": pl.String,
}
SCORES_SCHEMA = {
    "sensor_id": pl.String, "mode": pl.String, "direction": pl.String, "model": pl.String,
    "mase": pl.Float64, "coverage80": pl.Float64, "coverage95": pl.Float64, "n_hours": pl.Int64,
    "chosen": pl.Boolean,
}
#: Gradient-boosting settings: fixed iterations (no early stopping) so fit time is predictable.
HGB_PARAMS = {"learning_rate": 0.15, "max_iter": 150, "max_leaf_nodes": 31, "min_samples_leaf": 40,
              "l2_regularization": 1.0}


# --------------------------------------------------------------------------------------------------
# features
# --------------------------------------------------------------------------------------------------
def _to_utc(t: dt.datetime) -> dt.datetime:
    """Aware UTC datetime; a naive one is taken as UTC."""
    if t.tzinfo is None:
        return t.replace(tzinfo=dt.UTC)
    return t.astimezone(dt.UTC)


@dataclass(frozen=True)
class CalendarConfig:
    """Where the calendar features come from: time zone, school zone, holiday country, town events."""

    tz: str = "Europe/Paris"
    zone: str = "B"
    country: str = "FR"
    subdiv: str | None = None
    events: EventCalendar | None = None


def _calendar_features(times: pl.Series, cal: CalendarConfig, trend_origin: dt.datetime) -> pl.DataFrame:
    """Calendar features for each distinct hour in ``times`` (UTC), keyed by ``start_utc``."""
    t = pl.DataFrame({"start_utc": times}).unique().sort("start_utc")
    t = t.with_columns(local=pl.col("start_utc").dt.convert_time_zone(cal.tz))
    t = t.with_columns(date=pl.col("local").dt.date())
    dates = t.get_column("date")
    days = calendar_frame(dates.min(), dates.max(), cal.zone, country=cal.country, subdiv=cal.subdiv,
                          events=cal.events).select(
        "date", "dow", "is_public_holiday", "is_pentecost_monday", "is_school_holiday", "is_bridge_day",
        "is_summer", "is_event", "is_market", "is_one_off_event",
    )
    ang = 2 * math.pi * (pl.col("local").dt.ordinal_day().cast(pl.Float64) - 1) / 365.25
    origin = _to_utc(trend_origin)
    return (
        t.join(days, on="date", how="left")
        .with_columns(
            hour=pl.col("local").dt.hour().cast(pl.Int32),
            dow=pl.col("dow").cast(pl.Int32),
            month=pl.col("local").dt.month().cast(pl.Int32),
            doy_s1=ang.sin(), doy_c1=ang.cos(), doy_s2=(2 * ang).sin(), doy_c2=(2 * ang).cos(),
            trend=(pl.col("start_utc") - pl.lit(origin)).dt.total_hours().cast(pl.Float64) / (24 * 365.25),
        )
        .with_columns(how=((pl.col("dow") - 1) * 24 + pl.col("hour")).cast(pl.Int32))
        .drop("local")
        .sort("start_utc")
    )


def _features(weather_cols: tuple[str, ...], lags: bool) -> list[str]:
    return BASE_FEATURES + (LAG_FEATURES if lags else []) + list(weather_cols)


def _design(rows: pl.DataFrame, level: pl.DataFrame, by_how: pl.DataFrame, by_hod: pl.DataFrame,
            use_series: bool) -> pl.DataFrame:
    """Join the state at an origin onto rows (which carry calendar and lag columns), sorted."""
    rows = (
        rows.join(level.select("series_code", "level"), on="series_code", how="inner")
        .join(by_how, on=["series_code", "how"], how="left")
        .join(by_hod, on=["series_code", "hour"], how="left")
        .with_columns(
            log_level=pl.col("level").log(),
            series_cat=pl.col("series_code") if use_series else pl.lit(0, pl.Int32),
            lag168_r=pl.col("lag168") / pl.col("level"),
            lag336_r=pl.col("lag336") / pl.col("level"),
            week_mean_r=pl.col("week_mean") / pl.col("level"),
        )
    )
    # Joins do not keep row order; the sampled rows and HGB's binning subsample depend on it.
    return rows.sort("series_code", "start_utc")


def _matrix(rows: pl.DataFrame, features: list[str]) -> np.ndarray:
    return rows.select([pl.col(c).cast(pl.Float64) for c in features]).to_numpy()


def _new_regressor(seed: int, use_series: bool) -> HistGradientBoostingRegressor:
    cats = [0] if use_series else None  # series_cat is the first feature
    return HistGradientBoostingRegressor(
        loss="poisson", categorical_features=cats, early_stopping=False, random_state=seed, **HGB_PARAMS,
    )


# --------------------------------------------------------------------------------------------------
# state at an origin, and the candidates' forecasts from it
# --------------------------------------------------------------------------------------------------
@dataclass
class _State:
    """What the models learnt from the rows before one origin."""

    origin: dt.datetime
    level: pl.DataFrame
    by_how: pl.DataFrame
    by_hod: pl.DataFrame
    regressors: dict[tuple[str, str], HistGradientBoostingRegressor]  # (model, mode) -> GBM
    stat: pl.DataFrame  # model, series_code, start_utc, yhat (the hours after the origin)
    n_train_rows: int = 0
    seconds: dict[str, float] = field(default_factory=dict)  # fit time per model


@dataclass(frozen=True)
class _Settings:
    models: tuple[str, ...]
    train_days: int
    max_train_rows: int
    seed: int
    use_series: dict[str, bool]
    weather_cols: tuple[str, ...]  # weather regressors with values (empty without weather)
    stat_max_series: int
    tz: str


def _fit_state(obs_cal: pl.DataFrame, origin: dt.datetime, horizon_h: int, s: _Settings) -> _State:
    """Fit every candidate on rows before ``origin``."""
    t0 = time.perf_counter()
    level, by_how, by_hod = series_state(obs_cal, origin, s.tz)
    seconds = {"state": time.perf_counter() - t0}
    regs: dict[tuple[str, str], HistGradientBoostingRegressor] = {}
    n_rows = 0
    hgb = [m for m in (MODEL_HGB, MODEL_HGB_LAG) if m in s.models]
    if hgb:
        train = obs_cal.filter(
            (pl.col("start_utc") < origin) & (pl.col("start_utc") >= origin - dt.timedelta(days=s.train_days))
        )
        if train.height > s.max_train_rows:
            train = train.sample(s.max_train_rows, seed=s.seed).sort("series_code", "start_utc")
        n_rows = train.height
        for (mode,), part in sorted(train.partition_by("mode", as_dict=True).items()):
            part = _design(part, level, by_how, by_hod, s.use_series[mode])
            y = (part.get_column("count") / part.get_column("level")).to_numpy()
            for m in hgb:
                t1 = time.perf_counter()
                feats = _features(s.weather_cols, lags=m == MODEL_HGB_LAG)
                x = _matrix(part, feats)
                # a feature never observed in the window (e.g. no lags yet) cannot be binned: constant, unused
                x[:, np.isnan(x).all(axis=0)] = 0.0
                regs[(m, mode)] = _new_regressor(s.seed, s.use_series[mode]).fit(x, y)
                seconds[m] = seconds.get(m, 0.0) + time.perf_counter() - t1
    n_series = level.height
    stat = []
    for m in STAT_MODELS:
        if m in s.models and n_series <= s.stat_max_series:
            t1 = time.perf_counter()
            stat.append(stat_forecast(m, obs_cal, level, by_how, origin, s.tz, hours=horizon_h).with_columns(
                model=pl.lit(m)))
            seconds[m] = time.perf_counter() - t1
    stat_schema = {"series_code": pl.Int32, "start_utc": pl.Datetime("us", "UTC"), "yhat": pl.Float64,
                   "model": pl.String}
    stat_df = pl.concat(stat).select(list(stat_schema)) if stat else pl.DataFrame(schema=stat_schema)
    return _State(origin, level, by_how, by_hod, regs, stat_df, n_rows, seconds)


def _predict_all(rows: pl.DataFrame, st: _State, s: _Settings) -> pl.DataFrame:
    """One column per candidate (null where it cannot forecast) for ``rows`` (calendar + lag columns)."""
    rows = _design(rows, st.level, st.by_how, st.by_hod, False)
    rows = rows.with_columns(pl.col("series_code").alias("series_cat"))  # restored per mode below
    out = rows.with_columns(
        pl.coalesce("snaive", pl.col("profile") * pl.col("level")).alias(MODEL_SNAIVE),
        (pl.col("profile") * pl.col("level")).alias(MODEL_PROFILE),
    ).with_columns(pl.coalesce("snaive_day", MODEL_SNAIVE).alias(MODEL_SNAIVE_DAY))
    for m in (MODEL_HGB, MODEL_HGB_LAG):
        if m not in s.models:
            continue
        feats = _features(s.weather_cols, lags=m == MODEL_HGB_LAG)
        col = np.full(out.height, np.nan)
        modes = out.get_column("mode").to_numpy()
        for mode in np.unique(modes):
            reg = st.regressors.get((m, mode))
            idx = np.flatnonzero(modes == mode)
            if reg is None or idx.size == 0:
                continue
            part = out[idx]
            if not s.use_series.get(mode, False):
                part = part.with_columns(series_cat=pl.lit(0, pl.Int32))
            col[idx] = reg.predict(_matrix(part, feats)) * part.get_column("level").to_numpy()
        out = out.with_columns(pl.Series(m, col).fill_nan(None))
    off = off_day(out.columns)
    # the medians (per hour of week: smed_k; Monday-Thursday pooled: spool_k), from the state's columns
    medians = {**{m: f"smed_{k}" for m, k in ROBUST_MODELS.items()}, **{m: f"spool_{k}" for m, k in POOLED_MODELS.items()}}
    for m, column in medians.items():
        if m not in s.models and not (MODEL_ENSEMBLE in s.models and m in ENSEMBLE_MEMBERS):
            continue
        robust = pl.coalesce(column, pl.col("profile") * pl.col("level"))
        if MODEL_HGB in out.columns:  # holidays: the calendar-aware GBM (the history left them out)
            robust = pl.when(off & pl.col(MODEL_HGB).is_not_null()).then(pl.col(MODEL_HGB)).otherwise(robust)
        out = out.with_columns(robust.alias(m))
    if not st.stat.is_empty():
        wide = st.stat.pivot(on="model", index=["series_code", "start_utc"], values="yhat")
        out = out.join(wide, on=["series_code", "start_utc"], how="left")
    for m in s.models:
        if m not in out.columns and m != MODEL_ENSEMBLE:
            out = out.with_columns(pl.lit(None, pl.Float64).alias(m))
    if MODEL_ENSEMBLE in s.models:
        members = [m for m in ENSEMBLE_MEMBERS if m in out.columns]
        out = out.with_columns(pl.mean_horizontal(members).alias(MODEL_ENSEMBLE)) if members else out.with_columns(
            pl.lit(None, pl.Float64).alias(MODEL_ENSEMBLE))
    # short-horizon models stop 168 h after the origin
    late = pl.col("start_utc") >= pl.lit(st.origin) + pl.duration(hours=SHORT_HORIZON_H)
    out = out.with_columns([pl.when(late).then(None).otherwise(pl.col(m)).alias(m) for m in s.models
                            if m in SHORT_MODELS])
    return out.sort("series_code", "start_utc")


# --------------------------------------------------------------------------------------------------
# intervals
# --------------------------------------------------------------------------------------------------
def _noise_scale(yhat: pl.Expr, phi: pl.Expr) -> pl.Expr:
    return (1.0 + yhat + phi * yhat * yhat).sqrt()


INTERVAL_SCHEMA = {"model": pl.String, "mode": pl.String, "phi": pl.Float64,
                   **{f"q_{side}{lv}": pl.Float64 for lv, _, _ in LEVELS for side in ("lo", "hi")}, "n": pl.Int64}


def _calibrate(res: pl.DataFrame) -> pl.DataFrame:
    """Interval table (model, mode, phi, q_lo80, q_hi80, q_lo95, q_hi95, n); mode "*" = pooled per model."""
    if res.is_empty():
        return pl.DataFrame(schema=INTERVAL_SCHEMA)
    res = res.with_columns(r=pl.col("y") - pl.col("yhat"))

    def table(g: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
        phi = g.group_by(keys).agg(
            # milli-unit exact sums: squares of counts would overflow micro-units on large backtests
            phi=(exact_sum(pl.col("r") ** 2 - pl.col("yhat"), 1000)
                 / exact_sum(pl.col("yhat") ** 2, 1000).clip(lower_bound=1e-9))
            .clip(lower_bound=0.0)
        )
        e = g.join(phi, on=keys).with_columns(e=pl.col("r") / _noise_scale(pl.col("yhat"), pl.col("phi")))
        # split-conformal finite-sample levels: "lower"/"higher" interpolation rounds outwards
        return e.group_by(keys).agg(
            phi=pl.col("phi").first(),
            **{f"q_lo{lv}": pl.col("e").quantile(lo, interpolation="lower").clip(upper_bound=0.0)
               for lv, lo, _ in LEVELS},
            **{f"q_hi{lv}": pl.col("e").quantile(hi, interpolation="higher").clip(lower_bound=0.0)
               for lv, _, hi in LEVELS},
            n=pl.len().cast(pl.Int64),
        )

    per_mode = table(res, ["model", "mode"]).filter(pl.col("n") >= MIN_CALIBRATION)
    per_model = table(res, ["model"]).with_columns(mode=pl.lit("*"))
    any_model = res.with_columns(model=pl.lit("*"))
    mode_only = table(any_model, ["model", "mode"]).filter(pl.col("n") >= MIN_CALIBRATION)
    everything = table(any_model, ["model"]).with_columns(mode=pl.lit("*"))
    return pl.concat([t.select(list(INTERVAL_SCHEMA)) for t in (per_mode, per_model, mode_only, everything)]).sort(
        "model", "mode")


def _apply_intervals(f: pl.DataFrame, table: pl.DataFrame) -> pl.DataFrame:
    """Add the 80 % and 95 % bounds from an interval table. Lookup order: the model on that mode, all
    models on that mode, the model on all modes, everything (so a mode never borrows another mode's
    noise scale while it has residuals of its own)."""
    qs = ["phi"] + [f"q_{side}{lv}" for lv, _, _ in LEVELS for side in ("lo", "hi")]
    exact = table.filter((pl.col("model") != "*") & (pl.col("mode") != "*")).select("model", "mode", *qs)
    by_mode = table.filter((pl.col("model") == "*") & (pl.col("mode") != "*")).select(
        "mode", *[pl.col(q).alias(q + "_m") for q in qs])
    by_model = table.filter((pl.col("model") != "*") & (pl.col("mode") == "*")).select(
        "model", *[pl.col(q).alias(q + "_p") for q in qs])
    allq = table.filter((pl.col("model") == "*") & (pl.col("mode") == "*")).select(
        *[pl.col(q).alias(q + "_a") for q in qs])
    f = f.join(exact, on=["model", "mode"], how="left").join(by_mode, on="mode", how="left").join(
        by_model, on="model", how="left")
    f = f.join(allq, how="cross") if allq.height else f.with_columns([pl.lit(None, pl.Float64).alias(q + "_a") for q in qs])
    f = f.with_columns([pl.coalesce(q, q + "_m", q + "_p", q + "_a", pl.lit(0.0)).alias(q) for q in qs]).with_columns(
        s=_noise_scale(pl.col("yhat"), pl.col("phi")) * INTERVAL_INFLATION)
    f = f.with_columns(
        yhat_lower=(pl.col("yhat") + pl.col("q_lo80") * pl.col("s")).clip(lower_bound=0.0),
        yhat_upper=pl.col("yhat") + pl.col("q_hi80") * pl.col("s"),
        yhat_lower_95=(pl.col("yhat") + pl.min_horizontal("q_lo95", "q_lo80") * pl.col("s")).clip(lower_bound=0.0),
        yhat_upper_95=pl.col("yhat") + pl.max_horizontal("q_hi95", "q_hi80") * pl.col("s"),
    )
    return f.drop(*qs, *(q + sfx for q in qs for sfx in ("_m", "_p", "_a")), "s")


# --------------------------------------------------------------------------------------------------
# the fitted model
# --------------------------------------------------------------------------------------------------
@dataclass
class BaselineModel:
    """A fitted baseline: the state at the cutoff, the chosen model per series, intervals and scores."""

    cutoff_utc: dt.datetime
    calendar: CalendarConfig
    settings: _Settings
    state: _State = field(repr=False)
    series: pl.DataFrame  # sensor_id, mode, direction, series_code, chosen_model, far_model
    recent: pl.DataFrame = field(repr=False)  # series_code, start_utc, count: the last 3 weeks (lags)
    weather: pl.DataFrame | None = field(repr=False)  # start_utc + WEATHER_COLUMNS, or None
    intervals: pl.DataFrame  # INTERVAL_SCHEMA
    scores: pl.DataFrame  # SCORES_SCHEMA
    backtest: pl.DataFrame = field(repr=False)  # series_code, mode, origin, start_utc, y, model, yhat
    fit_seconds: float = 0.0
    n_train_rows: int = 0
    unusual_hours: int = 0  # observed hours left out of the history (accepted anomaly-register entries)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per fitting phase

    @property
    def tz(self) -> str:
        return self.calendar.tz

    @property
    def zone(self) -> str:
        return self.calendar.zone

    def predict(self, start_utc: dt.datetime, end_utc: dt.datetime, series: pl.DataFrame | None = None,
                weather: pl.DataFrame | None = None) -> pl.DataFrame:
        """Hourly forecasts for ``[start_utc, end_utc)`` (hour starts, UTC) in the forecasts contract.

        ``series`` (columns sensor_id, mode, direction) restricts the output; unknown series raise
        ``ValueError``. Hours up to 168 h after the cutoff use each series' chosen model, later hours its
        far model (``hgb_poisson`` or seasonal-naive). Raises
        :class:`scenarios.calendars.CalendarCoverageError` past the calendar data, and
        :class:`scenarios.weather.WeatherError` when the model uses weather and ``weather`` (added to the
        regressors seen at fit time) does not cover the period.
        """
        start, end = _to_utc(start_utc), _to_utc(end_utc)
        if end <= start:
            raise ValueError(f"forecast end {end} is not after start {start}")
        known = self.series
        if series is not None:
            wanted = series.select(SERIES_KEY).unique()
            unknown = wanted.join(known, on=SERIES_KEY, how="anti")
            if unknown.height:
                raise ValueError(f"no fitted model for series {unknown.sort(SERIES_KEY).rows()[:5]} (of {unknown.height})")
            known = known.join(wanted, on=SERIES_KEY, how="semi").sort("series_code")
        times = pl.datetime_range(start, end, "1h", closed="left", time_unit="us", time_zone="UTC", eager=True)
        times = times.dt.truncate("1h").unique().sort()  # floor a non-aligned start to the hour
        cal = _calendar_features(times, self.calendar, trend_origin=self.cutoff_utc)
        rows = known.select("series_code", "mode", "chosen_model", "far_model").join(cal, how="cross")
        if self.weather is not None:
            w = self.weather if weather is None else pl.concat([self.weather, weather.select(self.weather.columns)]).unique(
                "start_utc", keep="last")
            require_coverage(w, times.min(), times.max() + dt.timedelta(hours=1), source="the weather regressors")
            rows = rows.join(w, on="start_utc", how="left")
        rows = lag_features(rows.sort("series_code", "start_utc"), self.recent)
        pred = _predict_all(rows, self.state, self.settings)
        first = self.cutoff_utc + dt.timedelta(hours=1)
        near = pl.col("start_utc") < pl.lit(first) + pl.duration(hours=SHORT_HORIZON_H)
        pred = pred.with_columns(model=pl.when(near).then("chosen_model").otherwise("far_model"))
        pick = pl.lit(None, pl.Float64)
        for m in self.settings.models:
            pick = pl.when(pl.col("model") == m).then(pl.col(m)).otherwise(pick)
        pred = pred.with_columns(yhat=pick)
        # a short-horizon model without a value (e.g. a gap in its lags) falls back to the far model
        fallback = pl.lit(None, pl.Float64)
        for m in self.settings.models:
            fallback = pl.when(pl.col("far_model") == m).then(pl.col(m)).otherwise(fallback)
        pred = pred.with_columns(
            model=pl.when(pl.col("yhat").is_null()).then("far_model").otherwise("model"),
            yhat=pl.coalesce("yhat", fallback, MODEL_SNAIVE).clip(lower_bound=0.0),
        )
        pred = _apply_intervals(pred, self.intervals)
        return (
            pred.join(self.series.select("series_code", *SERIES_KEY), on="series_code")
            .with_columns(cutoff_utc=pl.lit(self.cutoff_utc).cast(pl.Datetime("us", "UTC")),
                          scenario=pl.lit("baseline"))
            .select(list(FORECAST_SCHEMA))
            .cast(FORECAST_SCHEMA)
            .sort(SERIES_KEY + ["start_utc"])
        )


def _prepare(hourly: pl.DataFrame, min_valid_share: float) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Observed rows with a series code, and the series table (sorted, so codes are deterministic)."""
    cols = set(hourly.columns)
    missing = {"sensor_id", "mode", "direction", "start_utc", "count"} - cols
    if missing:
        raise ValueError(f"hourly frame lacks columns {sorted(missing)}")
    obs = hourly.lazy().select(
        *SERIES_KEY,
        pl.col("start_utc").cast(pl.Datetime("us", "UTC")),
        pl.col("count").cast(pl.Float64),
        (pl.col("valid_share").cast(pl.Float64).fill_null(1.0) if "valid_share" in cols else pl.lit(1.0)).alias("vs"),
    ).filter(pl.col("count").is_not_null() & pl.col("count").is_finite() & (pl.col("count") >= 0)
             & (pl.col("vs") >= min_valid_share)).drop("vs").collect()
    dup = obs.select(*SERIES_KEY, "start_utc").is_duplicated()
    if dup.any():
        first = obs.filter(dup).sort(SERIES_KEY + ["start_utc"]).row(0)
        raise ValueError(f"hourly frame has several rows for one series and hour, e.g. {first[:4]}")
    series = obs.select(SERIES_KEY).unique().sort(SERIES_KEY).with_row_index("series_code")
    series = series.with_columns(pl.col("series_code").cast(pl.Int32))
    obs = (obs.join(series, on=SERIES_KEY).select("series_code", "mode", "start_utc", "count")
           .sort("series_code", "start_utc"))
    return obs, series


def _scores(backtest: pl.DataFrame, series: pl.DataFrame, models: tuple[str, ...]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Cross-fitted coverage, MASE per series and candidate, and the choice. Returns (scores, series)."""
    origins = backtest.get_column("origin").unique().sort().to_list()
    covered = []
    for o in origins:
        calib = backtest.filter(pl.col("origin") != o) if len(origins) > 1 else backtest
        covered.append(_apply_intervals(backtest.filter(pl.col("origin") == o), _calibrate(calib)))
    if covered:
        cov = pl.concat(covered).with_columns(
            in80=pl.col("y").is_between(pl.col("yhat_lower"), pl.col("yhat_upper")),
            in95=pl.col("y").is_between(pl.col("yhat_lower_95"), pl.col("yhat_upper_95")),
        )
    else:
        cov = backtest.with_columns(in80=pl.lit(None, pl.Boolean), in95=pl.lit(None, pl.Boolean))
    per = cov.group_by("series_code", "model").agg(
        mae=exact_mean((pl.col("y") - pl.col("yhat")).abs()),
        coverage80=exact_mean(pl.col("in80").cast(pl.Float64)),
        coverage95=exact_mean(pl.col("in95").cast(pl.Float64)),
        n_hours=pl.len().cast(pl.Int64),
    )
    naive = per.filter(pl.col("model") == MODEL_SNAIVE).select("series_code", mae_naive="mae", n_naive="n_hours")
    per = per.join(naive, on="series_code", how="left").with_columns(
        mase=pl.when(pl.col("n_hours") < pl.col("n_naive")).then(None)  # did not forecast every hour
        .when(pl.col("mae_naive") > 0).then(pl.col("mae") / pl.col("mae_naive"))
        .when(pl.col("mae") == 0).then(1.0).otherwise(None)
    )
    present = [m for m in models if m in set(backtest.get_column("model").unique().to_list())] or [MODEL_SNAIVE]
    cand = series.select("series_code").join(pl.DataFrame({"model": present}), how="cross")
    scores = cand.join(per, on=["series_code", "model"], how="left").with_columns(pl.col("n_hours").fill_null(0))
    rank = {m: i for i, m in enumerate(models)}
    best = (
        scores.filter(pl.col("mase").is_not_null() & (pl.col("model") != MODEL_SNAIVE) & (pl.col("mase") < 1.0))
        .with_columns(r=pl.col("model").replace_strict(rank, return_dtype=pl.Int32),
                      adj=pl.when(pl.col("model") == MODEL_ENSEMBLE).then(pl.col("mase"))
                      .otherwise(pl.col("mase") * (1.0 + SELECTION_MARGIN)))
        .sort("series_code", "adj", "r")
        .group_by("series_code", maintain_order=True).first()
        .select("series_code", best="model")
    )
    hgb = scores.filter((pl.col("model") == MODEL_HGB) & (pl.col("mase") < 1.0)).select("series_code", hgb_ok=pl.lit(True))
    series = (
        series.join(best, on="series_code", how="left").join(hgb, on="series_code", how="left")
        .with_columns(
            chosen_model=pl.coalesce("best", pl.lit(MODEL_SNAIVE)),
            far_model=pl.when(pl.col("hgb_ok")).then(pl.lit(MODEL_HGB)).otherwise(pl.lit(MODEL_SNAIVE)),
        )
        .drop("best", "hgb_ok").sort("series_code")
    )
    scores = (
        scores.join(series, on="series_code")
        .with_columns(chosen=pl.col("model") == pl.col("chosen_model"))
        .select(list(SCORES_SCHEMA)).cast(SCORES_SCHEMA)
        .sort(SERIES_KEY + ["model"])
    )
    return scores, series


def fit_baseline(
    hourly: pl.DataFrame,
    *,
    cutoff_utc: dt.datetime | None = None,
    tz: str = "Europe/Paris",
    zone: str = "B",
    country: str = "FR",
    subdiv: str | None = None,
    events: EventCalendar | None = None,
    weather: pl.DataFrame | None = None,
    models: tuple[str, ...] = DEFAULT_MODELS,
    backtest_days: int = 56,
    seed: int = 0,
    n_origins: int = 8,
    train_days: int = 400,
    max_train_rows: int = 250_000,
    min_valid_share: float = 0.75,
    stat_max_series: int = 100,
    n_threads: int | None = 1,
    register: pl.DataFrame | None = None,
) -> BaselineModel:
    """Fit the candidates on observed hours up to ``cutoff_utc``, backtest them, choose per series.

    ``cutoff_utc`` is the last hour (start) the model may see; default: the last observed hour.
    ``country``/``subdiv`` pick the public holidays (``holidays`` package; school holidays exist for
    France only), ``events`` the town event calendar, ``weather`` optional hourly regressors
    (:func:`scenarios.weather.weather_regressors`). The GBMs train on the last ``train_days`` days before
    each origin, subsampled at random (``seed``) to at most ``max_train_rows`` rows; hours with
    ``valid_share < min_valid_share`` are not used. The backtest splits the last ``backtest_days`` into
    ``n_origins`` windows of at most 7 days. ``n_threads`` caps the OpenMP threads of the fits (default
    1: on a shared 2-core machine two threads made a small fit 15× slower; None = all cores).
    ``register`` (the anomaly register, :func:`sensors_io.anomalies.load_register`): the hours its
    ``accept`` entries cover are left out of the history (:func:`leave_out_unusual_hours`); the default
    cutoff stays the last observed hour.
    """
    unknown = set(models) - {MODEL_SNAIVE, MODEL_SNAIVE_DAY, MODEL_PROFILE, MODEL_HGB, MODEL_HGB_LAG, MODEL_MSTL,
                             MODEL_UC, MODEL_ENSEMBLE, *POOLED_MODELS, *ROBUST_MODELS}
    if unknown or MODEL_SNAIVE not in models:
        known = (*DEFAULT_MODELS, MODEL_PROFILE, *STAT_MODELS)
        raise ValueError(f"models must include {MODEL_SNAIVE} and be among {known}; got {models}")
    cal = CalendarConfig(tz=tz, zone=zone, country=country, subdiv=subdiv, events=events)
    unusual = 0
    if register is not None:
        if cutoff_utc is None:  # the last observed hour, before any is left out
            usable = hourly.lazy().filter(
                pl.col("count").is_not_null() & pl.col("count").is_finite() & (pl.col("count") >= 0)
                & ((pl.col("valid_share").fill_null(1.0) >= min_valid_share) if "valid_share" in hourly.columns
                   else pl.lit(True)))
            cutoff_utc = usable.select(pl.col("start_utc").max()).collect().item()
        hourly, unusual = leave_out_unusual_hours(hourly, register, tz=tz, events=events)
    with threadpool_limits(limits=n_threads, user_api="openmp"):
        model = _fit_baseline(hourly, cutoff_utc=cutoff_utc, cal=cal, weather=weather, models=tuple(models),
                             backtest_days=backtest_days, seed=seed, n_origins=n_origins, train_days=train_days,
                             max_train_rows=max_train_rows, min_valid_share=min_valid_share,
                             stat_max_series=stat_max_series)
    model.unusual_hours = unusual
    return model


def leave_out_unusual_hours(hourly: pl.DataFrame, register: pl.DataFrame, *, tz: str,
                            events: EventCalendar | None = None) -> tuple[pl.DataFrame, int]:
    """``hourly`` with ``count`` set to null (not observed) on the hours an ``accept`` entry of the anomaly
    register covers, and how many observed hours that left out.

    An accepted entry says the counts are real but unusual: a road closed for works, the diversion that
    took its traffic. The baseline is the traffic to expect without such a disruption, so it does not learn
    from them: otherwise a closure last March would become next March's normal. Days of the town event
    calendar stay in (the forecast models them: ``is_event``, ``is_market``), also when the register
    accepts them; ``exclude`` entries are already out (the quality step flags those values).
    """
    accepted = register.filter(pl.col("action") == "accept")
    if accepted.is_empty():
        return hourly, 0
    hit = (pl.col("register_action") == "accept") & pl.col("count").is_not_null()
    if events is not None and events.events:
        local = pl.col("start_utc").dt.convert_time_zone(tz).dt.date()
        first, last = hourly.select(local.min().alias("first"), local.max().alias("last")).row(0)
        days = sorted({d for ev in events.events for d in ev.days(first, last)})
        hit = hit & ~local.is_in(days)
    marked = match_register(hourly.lazy(), accepted).with_columns(_hit=hit).collect()
    n = int(marked.get_column("_hit").sum())
    out = marked.with_columns(count=pl.when(pl.col("_hit")).then(None).otherwise(pl.col("count")))
    return out.drop("register_action", "register_reason", "_hit"), n


def _fit_baseline(hourly: pl.DataFrame, *, cutoff_utc: dt.datetime | None, cal: CalendarConfig,
                  weather: pl.DataFrame | None, models: tuple[str, ...], backtest_days: int, seed: int,
                  n_origins: int, train_days: int, max_train_rows: int, min_valid_share: float,
                  stat_max_series: int) -> BaselineModel:
    t0 = time.perf_counter()
    obs, series = _prepare(hourly, min_valid_share)
    if obs.is_empty():
        raise ValueError("hourly frame has no observed (non-null) counts to fit on")
    cutoff = _to_utc(cutoff_utc) if cutoff_utc is not None else obs.get_column("start_utc").max()
    obs = obs.filter(pl.col("start_utc") <= cutoff)
    if obs.is_empty():
        raise ValueError(f"no observed counts at or before the cutoff {cutoff}")
    series = series.join(obs.select("series_code").unique(), on="series_code", how="semi").sort("series_code")
    counts = series.group_by("mode").len()
    use_series = {m: n <= MAX_SERIES_CATEGORIES for m, n in counts.iter_rows()}
    end = cutoff + dt.timedelta(hours=1)  # first hour after the cutoff

    features = _calendar_features(obs.get_column("start_utc"), cal, trend_origin=cutoff)
    obs_cal = obs.join(features, on="start_utc", how="left")
    if weather is not None:
        missing = [c for c in ["start_utc", *WEATHER_COLUMNS] if c not in weather.columns]
        if missing:
            raise ValueError(f"weather regressors lack columns {missing}; build them with scenarios.weather.weather_regressors")
        weather = weather.select("start_utc", *WEATHER_COLUMNS).cast({"start_utc": pl.Datetime("us", "UTC")}).sort("start_utc")
        obs_cal = obs_cal.join(weather, on="start_utc", how="left")
    # a variable the weather file never has (e.g. no wind sensor) is not a feature
    weather_cols = tuple(c for c in WEATHER_COLUMNS if weather is not None and weather[c].drop_nulls().len())
    obs_cal = lag_features(obs_cal, obs)  # sorted by series_code, start_utc
    settings = _Settings(models=models, train_days=train_days, max_train_rows=max_train_rows, seed=seed,
                         use_series=use_series, weather_cols=weather_cols,
                         stat_max_series=stat_max_series, tz=cal.tz)
    timings = {"prepare": time.perf_counter() - t0}

    # ---- rolling-origin backtest
    if n_origins < 1 or backtest_days < 1:
        raise ValueError("backtest needs n_origins >= 1 and backtest_days >= 1")
    window = dt.timedelta(days=backtest_days) / n_origins
    if window > dt.timedelta(days=7):
        raise ValueError(f"backtest windows longer than 7 days ({window}); use more origins")
    parts: list[pl.DataFrame] = []
    t1 = time.perf_counter()
    for i in range(n_origins):
        origin = end - dt.timedelta(days=backtest_days) + i * window
        stop = origin + window
        test = obs_cal.filter((pl.col("start_utc") >= origin) & (pl.col("start_utc") < stop))
        if test.is_empty():
            continue
        st = _fit_state(obs_cal, origin, int(window.total_seconds() // 3600), settings)
        for k, v in st.seconds.items():
            timings[f"fit:{k}"] = timings.get(f"fit:{k}", 0.0) + v
        pred = _predict_all(test, st, settings).with_columns(origin=pl.lit(i, pl.Int32))
        base = pred.select("series_code", "mode", "origin", "start_utc", y="count")
        parts += [base.with_columns(model=pl.lit(m), yhat=pred.get_column(m)) for m in models]
    bt_schema = {"series_code": pl.Int32, "mode": pl.String, "origin": pl.Int32, "start_utc": pl.Datetime("us", "UTC"),
                 "y": pl.Float64, "model": pl.String, "yhat": pl.Float64}
    backtest = pl.concat([p.cast(bt_schema) for p in parts]) if parts else pl.DataFrame(schema=bt_schema)
    # score only hours where seasonal-naive has a forecast (it needs a past value), and forecasts that exist
    ok = backtest.filter((pl.col("model") == MODEL_SNAIVE) & pl.col("yhat").is_not_null()).select(
        "series_code", "origin", "start_utc")
    backtest = (backtest.join(ok, on=["series_code", "origin", "start_utc"], how="semi")
                .filter(pl.col("yhat").is_not_null())
                .sort("series_code", "origin", "start_utc", "model"))
    timings["backtest"] = time.perf_counter() - t1

    intervals = _calibrate(backtest)
    scores, series = _scores(backtest, series, models)

    # ---- final fit on everything up to the cutoff
    t2 = time.perf_counter()
    state = _fit_state(obs_cal, end, SHORT_HORIZON_H, settings)
    for k, v in state.seconds.items():
        timings[f"fit:{k}"] = timings.get(f"fit:{k}", 0.0) + v
    timings["final_fit"] = time.perf_counter() - t2
    recent = obs.filter(pl.col("start_utc") >= end - dt.timedelta(hours=3 * 168)).select(
        "series_code", "start_utc", "count")
    return BaselineModel(
        cutoff_utc=cutoff, calendar=cal, settings=settings, state=state, series=series, recent=recent,
        weather=weather, intervals=intervals, scores=scores, backtest=backtest,
        fit_seconds=time.perf_counter() - t0, n_train_rows=state.n_train_rows, timings=timings,
    )


def local_cutoff_utc(day: dt.date, tz: str) -> dt.datetime:
    """The last hour (start, UTC) of local ``day``: the cutoff of ``mobility forecast --cutoff DAY``."""
    nxt = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), ZoneInfo(tz)).astimezone(dt.UTC)
    return nxt - dt.timedelta(hours=1)


def forecast_from_lake(hourly: pl.DataFrame, cutoff: dt.date | None, horizon_hours: int, tz: str, zone: str,
                       **options) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Fit on the lake's hourly totals up to the end of local day ``cutoff`` (None = the last observed
    hour) and forecast the next ``horizon_hours`` hours. Returns ``(forecasts, scores)`` in the
    forecasts contract and :data:`SCORES_SCHEMA`.

    ``options`` go to :func:`fit_baseline` (``country``, ``subdiv``, ``events``, ``weather``, ``seed``,
    ``n_threads``, …). Raises :class:`scenarios.calendars.CalendarCoverageError` when the horizon is past
    the calendar data (the message names the package or file to update).
    """
    if horizon_hours < 1:
        raise ValueError(f"horizon must be at least 1 hour; got {horizon_hours}")
    cutoff_utc = local_cutoff_utc(cutoff, tz) if cutoff is not None else None
    if cutoff_utc is not None:
        hourly = hourly.filter(pl.col("start_utc") <= cutoff_utc)
    model = fit_baseline(hourly, cutoff_utc=cutoff_utc, tz=tz, zone=zone, **options)
    start = model.cutoff_utc + dt.timedelta(hours=1)
    return model.predict(start, start + dt.timedelta(hours=horizon_hours)), model.scores


def save_model(model: BaselineModel, path: str | os.PathLike[str]) -> Path:
    """Pickle ``model`` to ``path`` atomically (temporary file in the same folder, then ``os.replace``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(model, fh, protocol=pickle.HIGHEST_PROTOCOL)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_model(path: str | os.PathLike[str]) -> BaselineModel:
    """Load a model written by :func:`save_model` (pickle: only load files this pipeline wrote)."""
    with open(path, "rb") as fh:
        model = pickle.load(fh)
    if not isinstance(model, BaselineModel):
        raise TypeError(f"{path} does not hold a BaselineModel (got {type(model).__name__})")
    return model
