"""Baseline hourly forecast: one global Poisson gradient-boosting model, checked against seasonal-naive.

The model (:func:`fit_baseline`)
--------------------------------
One scikit-learn ``HistGradientBoostingRegressor(loss="poisson")`` for all series, with ``mode`` and the
series identity as categorical features. The target is the hourly count divided by the series' *recent
level* (mean hourly count over its last 56 observed days, public holidays excluded), so that a busy road
and a quiet bike counter weigh the same in the fit; the forecast is ``level × prediction``.

Features are known for any future hour, so the model forecasts any period inside the calendar's coverage
(the scenario module asks for July–August of next year), not only the next week:

- local hour, ISO day of week, hour of week, month, day-of-year harmonics (1 and 2 cycles a year);
- public holiday, school holiday (zone), bridge day, summer season flags from :mod:`scenarios.calendars`;
- a trend term (years since the cutoff; trees extrapolate it flat);
- the series identity (categorical; dropped above 255 series, the histogram limit) and mode (categorical);
- the series' recent level (log) and its recent mean profile for that hour of week, as a ratio to the level.

Lags shorter than the horizon are deliberately absent: the same model serves 1-day and 6-month horizons.

Honesty rules
-------------
- Rolling-origin backtest on the last ``backtest_days`` before the cutoff (``n_origins`` windows, each fitted
  only on data before its origin). Each series is scored by MASE = MAE(model) / MAE(seasonal-naive) on the
  same observed hours, where seasonal-naive repeats the last observed value of the same hour of week before
  the origin (lag 168 h when that hour was observed).
- A series whose model does not beat seasonal-naive (MASE < 1) on backtest, or that has no backtest hours,
  ships seasonal-naive (``model = "seasonal_naive_168h"``); :attr:`BaselineModel.scores` says which.
- Seasonal-naive far beyond the cutoff repeats the last observed week: for every hour of week, the last
  observed value at that hour of week before the cutoff (series profile × level where never observed).
- 80 % intervals are split-conformal on the backtest residuals, per model and mode, normalised by a
  count-noise scale ``s = sqrt(1 + ŷ + φ ŷ²)`` (Poisson plus over-dispersion φ estimated from the same
  residuals): ``[ŷ + q10·s, ŷ + q90·s]``, lower bound clipped at 0. They are calibrated on horizons of at
  most ``backtest_days``; far horizons (months) are more uncertain than the band says.
- ``coverage80`` in the scores is cross-fitted when there are two or more origins (each window's band is
  calibrated on the other windows' residuals); with one origin it is in-sample.
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

import numpy as np
import polars as pl
from sklearn.ensemble import HistGradientBoostingRegressor
from threadpoolctl import threadpool_limits

from scenarios.calendars import calendar_frame
from sensors_io.aggregate import exact_mean, exact_sum

MODEL_HGB = "hgb_poisson"
MODEL_SNAIVE = "seasonal_naive_168h"
SERIES_KEY = ["sensor_id", "mode", "direction"]

#: Days of history (before each origin) the profile and level are computed on.
PROFILE_DAYS = 56
#: Categorical features in sklearn's histogram GBM allow at most 255 categories.
MAX_SERIES_CATEGORIES = 255
#: Minimum residuals for a per-mode interval table; below it the model's pooled table is used.
MIN_CALIBRATION = 100

_CAL_FEATURES = [
    "hour", "dow", "how", "month", "doy_s1", "doy_c1", "doy_s2", "doy_c2",
    "is_public_holiday", "is_school_holiday", "is_bridge_day", "is_summer", "trend",
]
FEATURES = ["series_cat", "mode_code", *_CAL_FEATURES, "log_level", "profile"]

FORECAST_SCHEMA = {
    "sensor_id": pl.String, "mode": pl.String, "direction": pl.String,
    "start_utc": pl.Datetime("us", "UTC"), "yhat": pl.Float64, "yhat_lower": pl.Float64,
    "yhat_upper": pl.Float64, "model": pl.String, "cutoff_utc": pl.Datetime("us", "UTC"),
    "scenario": pl.String,
}
SCORES_SCHEMA = {
    "sensor_id": pl.String, "mode": pl.String, "direction": pl.String, "model": pl.String,
    "mase": pl.Float64, "coverage80": pl.Float64, "n_hours": pl.Int64, "chosen": pl.Boolean,
}


# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------
def _to_utc(t: dt.datetime) -> dt.datetime:
    """Aware UTC datetime; a naive one is taken as UTC."""
    if t.tzinfo is None:
        return t.replace(tzinfo=dt.UTC)
    return t.astimezone(dt.UTC)


def _calendar_features(times: pl.Series, *, tz: str, zone: str, trend_origin: dt.datetime) -> pl.DataFrame:
    """Calendar features for each distinct hour in ``times`` (UTC), keyed by ``start_utc``."""
    t = pl.DataFrame({"start_utc": times}).unique().sort("start_utc")
    t = t.with_columns(local=pl.col("start_utc").dt.convert_time_zone(tz))
    t = t.with_columns(date=pl.col("local").dt.date())
    dates = t.get_column("date")
    cal = calendar_frame(dates.min(), dates.max(), zone=zone).select(
        "date", "dow", "is_public_holiday", "is_school_holiday", "is_bridge_day", "is_summer"
    )
    ang = 2 * math.pi * (pl.col("local").dt.ordinal_day().cast(pl.Float64) - 1) / 365.25
    origin = trend_origin.replace(tzinfo=dt.UTC) if trend_origin.tzinfo is None else trend_origin
    return (
        t.join(cal, on="date", how="left")
        .with_columns(
            hour=pl.col("local").dt.hour().cast(pl.Int32),
            dow=pl.col("dow").cast(pl.Int32),
            month=pl.col("local").dt.month().cast(pl.Int32),
            doy_s1=ang.sin(), doy_c1=ang.cos(), doy_s2=(2 * ang).sin(), doy_c2=(2 * ang).cos(),
            trend=(pl.col("start_utc") - pl.lit(origin)).dt.total_hours().cast(pl.Float64) / (24 * 365.25),
        )
        .with_columns(how=((pl.col("dow") - 1) * 24 + pl.col("hour")).cast(pl.Int32))
        .drop("local")
    )


def _series_state(obs: pl.DataFrame, origin: dt.datetime) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Level, hour-of-week profile and seasonal-naive values of each series from data before ``origin``.

    ``obs`` has ``series_code, mode, start_utc, count, how, is_public_holiday``. Returns ``(level, by_how)``:
    ``level``: series_code, level; ``by_how``: series_code, how, profile (ratio to level), snaive (count).
    """
    hist = obs.filter(pl.col("start_utc") < origin)
    last = hist.group_by("series_code").agg(last=pl.col("start_utc").max())
    win = hist.join(last, on="series_code").filter(
        pl.col("start_utc") > pl.col("last") - pl.duration(days=PROFILE_DAYS)
    )
    normal = win.filter(~pl.col("is_public_holiday"))
    level = (
        win.group_by("series_code", "mode")
        .agg(level_all=exact_mean(pl.col("count")))
        .join(normal.group_by("series_code").agg(level=exact_mean(pl.col("count"))), on="series_code", how="left")
        .with_columns(level=pl.coalesce("level", "level_all").clip(lower_bound=0.01))
        .select("series_code", "mode", "level")
    )
    prof = (
        normal.group_by("series_code", "how").agg(mean=exact_mean(pl.col("count")))
        .join(level, on="series_code")
        .with_columns(profile=pl.col("mean") / pl.col("level"))
    )
    # Hours of week a series never observed take its mode's median profile (e.g. Telraam nights).
    grid = level.select("series_code", "mode").join(pl.DataFrame({"how": pl.arange(0, 168, eager=True).cast(pl.Int32)}), how="cross")
    mode_prof = prof.group_by("mode", "how").agg(mode_profile=pl.col("profile").median())
    snaive = hist.sort("start_utc").group_by("series_code", "how").agg(snaive=pl.col("count").last())
    by_how = (
        grid.join(prof.select("series_code", "how", "profile"), on=["series_code", "how"], how="left")
        .join(mode_prof, on=["mode", "how"], how="left")
        .join(snaive, on=["series_code", "how"], how="left")
        .with_columns(profile=pl.coalesce("profile", "mode_profile", pl.lit(1.0)))
        .select("series_code", "how", "profile", "snaive")
        .sort("series_code", "how")
    )
    return level.sort("series_code"), by_how


def _design(rows: pl.DataFrame, level: pl.DataFrame, by_how: pl.DataFrame, modes: list[str],
            use_series: bool) -> tuple[pl.DataFrame, np.ndarray]:
    """Join state onto rows (which already carry calendar features) and return (rows, X)."""
    rows = (
        rows.join(level.select("series_code", "level"), on="series_code", how="inner")
        .join(by_how, on=["series_code", "how"], how="left")
        .with_columns(
            log_level=pl.col("level").log(),
            mode_code=pl.col("mode").replace_strict(modes, list(range(len(modes))), default=len(modes)).cast(pl.Int32),
            series_cat=pl.col("series_code") if use_series else pl.lit(0, pl.Int32),
        )
    )
    # Joins do not keep row order; the sampled rows and HGB's binning subsample depend on it.
    rows = rows.sort("series_code", "start_utc")
    X = rows.select(
        [pl.col(c).cast(pl.Float64) for c in FEATURES]
    ).to_numpy()
    return rows, X


#: Gradient-boosting settings: fixed iterations (no early stopping) so fit time is predictable.
HGB_PARAMS = {"learning_rate": 0.15, "max_iter": 150, "max_leaf_nodes": 31, "min_samples_leaf": 40,
              "l2_regularization": 1.0}


def _new_regressor(seed: int, use_series: bool) -> HistGradientBoostingRegressor:
    cats = [FEATURES.index("mode_code")] + ([FEATURES.index("series_cat")] if use_series else [])
    return HistGradientBoostingRegressor(
        loss="poisson", categorical_features=cats, early_stopping=False, random_state=seed, **HGB_PARAMS,
    )


def _noise_scale(yhat: pl.Expr, phi: pl.Expr) -> pl.Expr:
    return (1.0 + yhat + phi * yhat * yhat).sqrt()


def _calibrate(res: pl.DataFrame) -> pl.DataFrame:
    """Interval table (model, mode, phi, q_lo, q_hi, n) from residuals; mode "*" = pooled per model."""
    res = res.with_columns(r=pl.col("y") - pl.col("yhat"))

    def table(g: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
        phi = g.group_by(keys).agg(
            # milli-unit exact sums: squares of counts would overflow micro-units on large backtests
            phi=(exact_sum(pl.col("r") ** 2 - pl.col("yhat"), 1000)
                 / exact_sum(pl.col("yhat") ** 2, 1000).clip(lower_bound=1e-9))
            .clip(lower_bound=0.0)
        )
        e = g.join(phi, on=keys).with_columns(e=pl.col("r") / _noise_scale(pl.col("yhat"), pl.col("phi")))
        return e.group_by(keys).agg(
            phi=pl.col("phi").first(),
            # split-conformal finite-sample levels: ceil((n+1)·0.9)/n and its mirror
            q_lo=pl.col("e").quantile(0.1, interpolation="lower").clip(upper_bound=0.0),
            q_hi=pl.col("e").quantile(0.9, interpolation="higher").clip(lower_bound=0.0),
            n=pl.len().cast(pl.Int64),
        )

    per_mode = table(res, ["model", "mode"]).filter(pl.col("n") >= MIN_CALIBRATION)
    pooled = table(res, ["model"]).with_columns(mode=pl.lit("*"))
    return pl.concat([per_mode, pooled.select(per_mode.columns)]).sort("model", "mode")


def _apply_intervals(f: pl.DataFrame, table: pl.DataFrame) -> pl.DataFrame:
    """Add yhat_lower / yhat_upper from an interval table (per model+mode, falling back to the model's pool)."""
    pooled = table.filter(pl.col("mode") == "*").select("model", phi_p="phi", q_lo_p="q_lo", q_hi_p="q_hi")
    per_mode = table.filter(pl.col("mode") != "*").select("model", "mode", "phi", "q_lo", "q_hi")
    f = (
        f.join(per_mode, on=["model", "mode"], how="left")
        .join(pooled, on="model", how="left")
        .with_columns(
            phi=pl.coalesce("phi", "phi_p", pl.lit(0.0)),
            q_lo=pl.coalesce("q_lo", "q_lo_p", pl.lit(0.0)),
            q_hi=pl.coalesce("q_hi", "q_hi_p", pl.lit(0.0)),
        )
        .with_columns(s=_noise_scale(pl.col("yhat"), pl.col("phi")))
        .with_columns(
            yhat_lower=(pl.col("yhat") + pl.col("q_lo") * pl.col("s")).clip(lower_bound=0.0),
            yhat_upper=pl.col("yhat") + pl.col("q_hi") * pl.col("s"),
        )
    )
    return f.drop("phi", "q_lo", "q_hi", "phi_p", "q_lo_p", "q_hi_p", "s")


# --------------------------------------------------------------------------------------------------
# the model
# --------------------------------------------------------------------------------------------------
@dataclass
class BaselineModel:
    """A fitted baseline: the global regressor, per-series state at the cutoff, interval table and scores."""

    regressor: HistGradientBoostingRegressor
    cutoff_utc: dt.datetime
    tz: str
    zone: str
    modes: list[str]
    use_series: bool
    series: pl.DataFrame  # sensor_id, mode, direction, series_code, chosen_model
    level: pl.DataFrame  # series_code, mode, level
    by_how: pl.DataFrame  # series_code, how, profile, snaive
    intervals: pl.DataFrame  # model, mode, phi, q_lo, q_hi, n
    scores: pl.DataFrame  # SCORES_SCHEMA
    backtest: pl.DataFrame = field(repr=False)  # series_code, origin, start_utc, y, model, yhat
    fit_seconds: float = 0.0
    n_train_rows: int = 0
    timings: dict[str, float] = field(default_factory=dict)  # seconds per fitting phase

    def predict(self, start_utc: dt.datetime, end_utc: dt.datetime,
                series: pl.DataFrame | None = None) -> pl.DataFrame:
        """Hourly forecasts for ``[start_utc, end_utc)`` (hour starts, UTC) in the forecasts contract.

        ``series`` (columns sensor_id, mode, direction) restricts the output; unknown series raise
        ``ValueError``. Raises :class:`scenarios.calendars.CalendarCoverageError` past the calendar data.
        """
        start, end = _to_utc(start_utc), _to_utc(end_utc)
        if end <= start:
            raise ValueError(f"forecast end {end} is not after start {start}")
        known = self.series
        if series is not None:
            wanted = series.select(SERIES_KEY).unique()
            unknown = wanted.join(known, on=SERIES_KEY, how="anti")
            if unknown.height:
                raise ValueError(f"no fitted model for series {unknown.rows()[:5]} (of {unknown.height})")
            known = known.join(wanted, on=SERIES_KEY, how="semi")
        times = pl.datetime_range(start, end, "1h", closed="left", time_unit="us", time_zone="UTC", eager=True)
        # floor a non-aligned start to the hour
        times = times.dt.truncate("1h").unique().sort()
        cal = _calendar_features(times, tz=self.tz, zone=self.zone, trend_origin=self.cutoff_utc)
        rows = known.select("series_code", "mode", model="chosen_model").join(cal, how="cross")
        rows, X = _design(rows, self.level, self.by_how, self.modes, self.use_series)
        ratio = self.regressor.predict(X) if X.shape[0] else np.zeros(0)
        rows = rows.with_columns(hgb=pl.Series(ratio) * pl.col("level"))
        rows = rows.with_columns(
            yhat=pl.when(pl.col("model") == MODEL_HGB).then(pl.col("hgb"))
            .otherwise(pl.coalesce("snaive", pl.col("profile") * pl.col("level")))
            .clip(lower_bound=0.0)
        )
        rows = _apply_intervals(rows, self.intervals)
        out = (
            rows.join(self.series.select("series_code", *SERIES_KEY), on="series_code")
            .with_columns(
                cutoff_utc=pl.lit(self.cutoff_utc).cast(pl.Datetime("us", "UTC")),
                scenario=pl.lit("baseline"),
            )
            .select(list(FORECAST_SCHEMA))
            .cast(FORECAST_SCHEMA)
            .sort(SERIES_KEY + ["start_utc"])
        )
        return out


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
    series = obs.select(SERIES_KEY).unique().sort(SERIES_KEY).with_row_index("series_code")
    series = series.with_columns(pl.col("series_code").cast(pl.Int32))
    obs = (obs.join(series, on=SERIES_KEY).select("series_code", "mode", "start_utc", "count")
           .sort("series_code", "start_utc"))
    return obs, series


def _fit_regressor(obs_cal: pl.DataFrame, origin: dt.datetime, *, train_days: int, max_train_rows: int,
                   modes: list[str], use_series: bool, seed: int):
    """Fit on rows in [origin - train_days, origin). Returns (regressor, level, by_how, n_rows)."""
    level, by_how = _series_state(obs_cal, origin)
    train = obs_cal.filter(
        (pl.col("start_utc") < origin) & (pl.col("start_utc") >= origin - dt.timedelta(days=train_days))
    )
    if train.height > max_train_rows:
        train = train.sample(max_train_rows, seed=seed).sort("series_code", "start_utc")
    train, X = _design(train, level, by_how, modes, use_series)
    y = (train.get_column("count") / train.get_column("level")).to_numpy()
    reg = _new_regressor(seed, use_series).fit(X, y)
    return reg, level, by_how, train.height


def fit_baseline(
    hourly: pl.DataFrame,
    *,
    cutoff_utc: dt.datetime | None = None,
    tz: str = "Europe/Paris",
    zone: str = "B",
    backtest_days: int = 14,
    seed: int = 0,
    n_origins: int = 2,
    train_days: int = 400,
    max_train_rows: int = 250_000,
    min_valid_share: float = 0.75,
    n_threads: int | None = None,
) -> BaselineModel:
    """Fit the global Poisson GBM on observed hours up to ``cutoff_utc``, backtest it, choose per series.

    ``cutoff_utc`` is the last hour (start) the model may see; default: the last observed hour. Training
    uses the last ``train_days`` days before each origin, subsampled at random (``seed``) to at most
    ``max_train_rows`` rows; hours with ``valid_share < min_valid_share`` are not used. The backtest splits
    the last ``backtest_days`` into ``n_origins`` consecutive windows (each at most 7 days, so that
    seasonal-naive is exactly the lag-168 h forecast where that hour was observed). ``n_threads`` caps
    the OpenMP threads of the fits (None = all cores; 1 is steadier on a machine shared with other jobs,
    see docs/PERFORMANCE.md).
    """
    with threadpool_limits(limits=n_threads, user_api="openmp"):
        return _fit_baseline(hourly, cutoff_utc=cutoff_utc, tz=tz, zone=zone, backtest_days=backtest_days,
                             seed=seed, n_origins=n_origins, train_days=train_days,
                             max_train_rows=max_train_rows, min_valid_share=min_valid_share)


def _fit_baseline(hourly: pl.DataFrame, *, cutoff_utc: dt.datetime | None, tz: str, zone: str,
                  backtest_days: int, seed: int, n_origins: int, train_days: int, max_train_rows: int,
                  min_valid_share: float) -> BaselineModel:
    t0 = time.perf_counter()
    obs, series = _prepare(hourly, min_valid_share)
    if obs.is_empty():
        raise ValueError("hourly frame has no observed (non-null) counts to fit on")
    last_obs = obs.get_column("start_utc").max()
    cutoff = _to_utc(cutoff_utc) if cutoff_utc is not None else last_obs
    obs = obs.filter(pl.col("start_utc") <= cutoff)
    if obs.is_empty():
        raise ValueError(f"no observed counts at or before the cutoff {cutoff}")
    series = series.join(obs.select("series_code").unique(), on="series_code", how="semi")
    modes = sorted(series.get_column("mode").unique().to_list())
    use_series = series.height <= MAX_SERIES_CATEGORIES
    end = cutoff + dt.timedelta(hours=1)  # first hour after the cutoff

    cal = _calendar_features(obs.get_column("start_utc"), tz=tz, zone=zone, trend_origin=cutoff)
    obs_cal = obs.join(cal, on="start_utc", how="left").sort("series_code", "start_utc")  # joins do not keep order
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
        reg, level, by_how, _ = _fit_regressor(
            obs_cal, origin, train_days=train_days, max_train_rows=max_train_rows,
            modes=modes, use_series=use_series, seed=seed,
        )
        test = obs_cal.filter((pl.col("start_utc") >= origin) & (pl.col("start_utc") < stop))
        test, X = _design(test, level, by_how, modes, use_series)
        if test.is_empty():
            continue
        test = test.with_columns(hgb=pl.Series(reg.predict(X)) * pl.col("level"), origin=pl.lit(i))
        base = test.select("series_code", "mode", "origin", "start_utc", y="count")
        parts.append(pl.concat([
            base.with_columns(model=pl.lit(MODEL_HGB), yhat=test.get_column("hgb")),
            base.with_columns(model=pl.lit(MODEL_SNAIVE), yhat=test.get_column("snaive")),
        ]))
    bt_schema = {"series_code": pl.Int32, "mode": pl.String, "origin": pl.Int32, "start_utc": pl.Datetime("us", "UTC"),
                 "y": pl.Float64, "model": pl.String, "yhat": pl.Float64}
    backtest = pl.concat(parts).cast(bt_schema) if parts else pl.DataFrame(schema=bt_schema)
    # score only hours where both candidates have a forecast (seasonal-naive needs a past value)
    both = backtest.group_by("series_code", "origin", "start_utc").agg(ok=pl.col("yhat").is_not_null().all())
    backtest = backtest.join(both.filter("ok").drop("ok"), on=["series_code", "origin", "start_utc"], how="semi")
    backtest = backtest.sort("series_code", "origin", "start_utc", "model")

    timings["backtest"] = time.perf_counter() - t1
    # ---- intervals: final table on all residuals; coverage cross-fitted across origins
    intervals = _calibrate(backtest) if backtest.height else pl.DataFrame(
        schema={"model": pl.String, "mode": pl.String, "phi": pl.Float64, "q_lo": pl.Float64, "q_hi": pl.Float64, "n": pl.Int64})
    origins = backtest.get_column("origin").unique().sort().to_list()
    covered = []
    for o in origins:
        calib = backtest.filter(pl.col("origin") != o) if len(origins) > 1 else backtest
        covered.append(_apply_intervals(backtest.filter(pl.col("origin") == o), _calibrate(calib)))
    if covered:
        cov = pl.concat(covered).with_columns(
            inside=(pl.col("y") >= pl.col("yhat_lower")) & (pl.col("y") <= pl.col("yhat_upper")))
    else:
        cov = backtest.with_columns(inside=pl.lit(None, pl.Boolean))

    # ---- per-series scores and choice
    per = cov.group_by("series_code", "model").agg(
        mae=exact_mean((pl.col("y") - pl.col("yhat")).abs()),
        coverage80=exact_mean(pl.col("inside").cast(pl.Float64)),
        n_hours=pl.len().cast(pl.Int64),
    )
    naive = per.filter(pl.col("model") == MODEL_SNAIVE).select("series_code", mae_naive="mae")
    per = per.join(naive, on="series_code", how="left").with_columns(
        mase=pl.when(pl.col("mae_naive") > 0).then(pl.col("mae") / pl.col("mae_naive"))
        .when(pl.col("mae") == 0).then(1.0).otherwise(None)
    )
    cand = series.select("series_code").join(pl.DataFrame({"model": [MODEL_HGB, MODEL_SNAIVE]}), how="cross")
    scores = cand.join(per, on=["series_code", "model"], how="left").with_columns(pl.col("n_hours").fill_null(0))
    hgb_wins = (
        scores.filter(pl.col("model") == MODEL_HGB)
        .select("series_code", wins=(pl.col("mase") < 1.0).fill_null(False))
    )
    series = series.join(hgb_wins, on="series_code", how="left").with_columns(
        chosen_model=pl.when(pl.col("wins")).then(pl.lit(MODEL_HGB)).otherwise(pl.lit(MODEL_SNAIVE))
    ).drop("wins").sort("series_code")
    scores = (
        scores.join(series, on="series_code")
        .with_columns(chosen=pl.col("model") == pl.col("chosen_model"))
        .select(list(SCORES_SCHEMA)).cast(SCORES_SCHEMA)
        .sort(SERIES_KEY + ["model"])
    )

    # ---- final fit on everything up to the cutoff
    t2 = time.perf_counter()
    reg, level, by_how, n_rows = _fit_regressor(
        obs_cal, end, train_days=train_days, max_train_rows=max_train_rows,
        modes=modes, use_series=use_series, seed=seed,
    )
    timings["final_fit"] = time.perf_counter() - t2
    return BaselineModel(
        regressor=reg, cutoff_utc=cutoff, tz=tz, zone=zone, modes=modes, use_series=use_series,
        series=series, level=level, by_how=by_how, intervals=intervals, scores=scores,
        backtest=backtest, fit_seconds=time.perf_counter() - t0, n_train_rows=n_rows,
        timings=timings,
    )


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
