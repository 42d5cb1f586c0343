"""Impact of a past intervention (roadworks, a new bike lane…): observed counts against a counterfactual.

Method (a BSTS-style counterfactual, as R's CausalImpact, with statsmodels instead of TensorFlow):

* Daily totals of the treated sensor (its ``modes``, both directions summed; a day counts when every
  series of it is valid) are modelled on the **pre-period** with
  :class:`statsmodels.tsa.statespace.structural.UnobservedComponents`: a local level (random walk, its
  variance estimated), static regression coefficients kept as states (``mle_regression=False``, so their
  uncertainty enters the forecast) and a Gaussian irregular, on ``log(1 + y_d)``.
* The controls enter as one **index**: the mean, over the control sensors valid that day, of
  ``log(1 + Q_c,d) − median_pre(log(1 + Q_c,d))`` (one index rather than one regressor per control, so a
  control that misses a day does not drop the day). ``control_model = "ratio"`` (default) models
  ``log(1 + y_d) − index_d``: the treated street follows the town's other streets one for one (weather,
  season, growth), its own calendar differences aside. ``"regression"`` puts the index among the
  regressors with an estimated coefficient, which noise in the index biases towards 0 (the season then
  leaks into the calendar coefficients); on the demo town's pre-period placebos both are calibrated (80 %
  intervals cover 79 % of 102 placebo windows) and the ratio's errors are smaller. Controls must not be
  affected by the intervention.
* Calendar regressors: day of week (6 dummies), public holiday, school holiday (zone), bridge day, summer
  (July–August), from :func:`scenarios.calendars.calendar_frame`. A feature that never varies in the
  pre-period is dropped (with a warning when it varies during the intervention).
* The counterfactual over the intervention is simulated (``simulations`` paths from the state at the end
  of the pre-period, observation and level noise included; the MLE variances are plugged in). The effect
  is observed − counterfactual summed over the intervention days that have an observation; its interval
  is the ``level`` (80 %) quantile range over the simulations of (observed draw − counterfactual sum),
  where the observed draw is Poisson around the observed total: the effect is on the expected traffic,
  and the observed count is one draw of it. The relative effect is ``observed / counterfactual − 1``.

Checks reported beside the effect (:meth:`ImpactResult.table`):

* ``placebo_date`` — the same estimate at fake intervention dates inside the pre-period (same length,
  every ``spacing_days`` back from the real start, each fitted only on the days before it);
* ``placebo_control`` — each control in turn treated as if it were the intervention's sensor, the other
  controls as controls (a control that "shows an effect" was not a good control);
* ``leave_one_out`` — the real effect re-estimated without each control (robustness, not a placebo).

Placebos should show no effect. With k placebos, each is judged on its interval at level
``1 − (1 − level) / k`` (Bonferroni): if the model is right, the chance that **any** placebo shows an
effect is then at most ``1 − level``; judged each at 80 %, about one in five would by chance. Both
intervals are in the table.
"""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator
from statsmodels.tsa.statespace.structural import UnobservedComponents

from scenarios.calendars import calendar_frame
from scenarios.spec import Mode, Period, ScenarioFileError, SensorId, format_errors, read_yaml_mapping

#: Calendar regressors (columns of :func:`scenarios.calendars.calendar_frame`).
CALENDAR_FLAGS: tuple[str, ...] = ("is_public_holiday", "is_school_holiday", "is_bridge_day", "is_summer")
#: Fewer valid pre-period days than this and no counterfactual is attempted.
MIN_TRAINING_DAYS = 56


class ImpactFileError(ScenarioFileError):
    """An impact-study file that cannot be read or does not validate."""


class ImpactDataError(ImpactFileError):
    """A valid study that the data cannot answer (unknown sensor, too few days, no observation)."""


# --------------------------------------------------------------------------------------------------
# the study file
# --------------------------------------------------------------------------------------------------
class TreatedSeries(BaseModel):
    """The sensor where the intervention happened and the modes whose effect is measured."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    sensor: SensorId
    modes: list[Mode] | None = Field(default=None, description="modes summed (all the sensor's when omitted)")


class PlaceboSettings(BaseModel):
    """Which placebo tests to run."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    dates: list[dt.date] | None = Field(default=None, description="fake intervention starts (automatic when omitted)")
    count: int = Field(default=4, ge=0, le=26, description="automatic fake dates: how many")
    spacing_days: int | None = Field(default=None, ge=7, le=366,
                                     description="automatic fake dates: days between starts (default max(28, length))")
    min_training_days: int = Field(default=182, ge=MIN_TRAINING_DAYS,
                                   description="a fake date needs this many pre-period days before it")
    controls: bool = Field(default=True, description="also treat each control as if it were the treated sensor")


class ImpactStudy(BaseModel):
    """An impact study: treated sensor, intervention dates, controls, pre-period (YAML, see docs/scenarios.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(pattern=r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$", max_length=64)
    title_fr: str = Field(min_length=1)
    title_en: str = Field(min_length=1)
    description_fr: str = ""
    description_en: str = ""
    treated: TreatedSeries
    intervention: Period = Field(description="local dates of the intervention, inclusive")
    pre_period: Period | None = Field(default=None,
                                      description="days the counterfactual learns from (default: all data before)")
    controls: list[SensorId] = Field(min_length=1, description="sensors the intervention did not affect")
    control_modes: list[Mode] | None = Field(default=None, description="modes of the controls (default: treated's)")
    level: float = Field(default=0.8, ge=0.5, le=0.99, description="interval level of the effect")
    placebo: PlaceboSettings = Field(default_factory=PlaceboSettings)
    simulations: int = Field(default=2000, ge=200, le=20000)
    seed: int = 0
    zone: str = Field(default="B", description="school-holiday zone")
    control_model: Literal["ratio", "regression"] = Field(
        default="ratio", description="ratio: the treated series follows the control index one for one (its "
        "log minus the index is modelled); regression: the index is a regressor with an estimated coefficient")
    _source: str | None = PrivateAttr(default=None)

    @field_validator("controls")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        dup = sorted({c for c in v if v.count(c) > 1})
        if dup:
            raise ValueError(f"controls listed twice: {', '.join(dup)}")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> ImpactStudy:
        if self.treated.sensor in self.controls:
            raise ValueError(f"controls: {self.treated.sensor!r} is the treated sensor; a control must not be "
                             "affected by the intervention")
        if self.pre_period is not None and self.pre_period.end >= self.intervention.start:
            raise ValueError(f"pre_period: it must end before the intervention starts ({self.intervention.start}), "
                             f"got end {self.pre_period.end}")
        return self

    def title(self, lang: str = "fr") -> str:
        return self.title_fr if lang == "fr" else self.title_en

    def description(self, lang: str = "fr") -> str:
        return self.description_fr if lang == "fr" else self.description_en


def load_impact_study(path: str | Path) -> ImpactStudy:
    """Read and validate an impact-study YAML file (:class:`ImpactFileError` names the file and field)."""
    path = Path(path)
    raw = read_yaml_mapping(path, "impact study file", ImpactFileError)
    try:
        study = ImpactStudy.model_validate(raw)
    except ValidationError as err:
        raise ImpactFileError(format_errors(path, err, "impact study file")) from None
    study._source = str(path)
    return study


# --------------------------------------------------------------------------------------------------
# estimates
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Estimate:
    """One counterfactual estimate: what was observed, the simulated counterfactual sums, per-day values."""

    kind: str  # effect, placebo_date, placebo_control, leave_one_out
    label: str
    sensor_id: str
    modes: tuple[str, ...]
    controls: tuple[str, ...]
    start: dt.date
    end: dt.date
    days: int
    observed: float
    cf_sums: np.ndarray = field(repr=False)
    daily: pl.DataFrame = field(repr=False)
    #: The observed total as a count could have come out (Poisson around it), one per simulation.
    obs_sums: np.ndarray = field(repr=False, default_factory=lambda: np.array([]))

    @property
    def counterfactual(self) -> float:
        return float(self.cf_sums.mean())

    @property
    def effect(self) -> float:
        return self.observed - self.counterfactual

    @property
    def relative(self) -> float:
        return self.observed / self.counterfactual - 1.0

    def interval(self, level: float) -> dict[str, float]:
        """Effect and relative effect bounds at ``level``: quantiles over the simulations of
        (observed draw − counterfactual sum) and (observed draw / counterfactual sum − 1)."""
        obs = self.obs_sums if self.obs_sums.size else np.full_like(self.cf_sums, self.observed)
        q = [(1 - level) / 2, (1 + level) / 2]
        lo, hi = np.quantile(obs - self.cf_sums, q)
        rlo, rhi = np.quantile(obs / self.cf_sums - 1.0, q)
        return {"effect_lower": float(lo), "effect_upper": float(hi),
                "relative_lower": float(rlo), "relative_upper": float(rhi)}

    def contains_zero(self, level: float) -> bool:
        i = self.interval(level)
        return i["effect_lower"] <= 0.0 <= i["effect_upper"]


#: The unit of a study's effect (a count over the intervention) by its treated modes (``car,heavy`` → veh).
IMPACT_UNITS = {"bike": "bikes", "pedestrian": "pedestrians", "scooter": "scooters"}

TABLE_SCHEMA = {
    "study": pl.String, "kind": pl.String, "label": pl.String, "sensor_id": pl.String, "modes": pl.String,
    "controls": pl.String, "start": pl.Date, "end": pl.Date, "days": pl.Int64, "observed": pl.Float64,
    "counterfactual": pl.Float64, "effect": pl.Float64, "effect_lower": pl.Float64, "effect_upper": pl.Float64,
    "effect_pct": pl.Float64, "effect_pct_lower": pl.Float64, "effect_pct_upper": pl.Float64, "level": pl.Float64,
    "family_level": pl.Float64, "effect_pct_family_lower": pl.Float64, "effect_pct_family_upper": pl.Float64,
    "shows_effect": pl.Boolean,
}


@dataclass(frozen=True)
class ImpactResult:
    """The effect of the intervention, its placebos and robustness checks, and the daily counterfactual."""

    study: ImpactStudy
    effect: Estimate
    placebos: tuple[Estimate, ...]
    leave_one_out: tuple[Estimate, ...]
    warnings: tuple[str, ...] = ()

    @property
    def family_level(self) -> float:
        """Per-placebo interval level so that all placebos together are judged at ``study.level``."""
        k = max(len(self.placebos), 1)
        return 1.0 - (1.0 - self.study.level) / k

    @property
    def daily(self) -> pl.DataFrame:
        """Per day of the intervention (and of any gap after the pre-period): observed, counterfactual
        (mean of the simulations) and its pointwise interval at ``study.level``."""
        return self.effect.daily

    def table(self) -> pl.DataFrame:
        """One row per estimate (the effect, the placebos, the leave-one-out checks), :data:`TABLE_SCHEMA`.

        ``effect*`` are counts over the days with an observation; ``effect_pct*`` = 100 × relative
        effect. ``shows_effect``: the interval (at ``family_level`` for placebos, ``level`` otherwise)
        excludes 0.
        """
        rows = []
        lv, fam = self.study.level, self.family_level
        for e in (self.effect, *self.placebos, *self.leave_one_out):
            i = e.interval(lv)
            placebo = e.kind.startswith("placebo")
            f = e.interval(fam) if placebo else None
            judged = f if f is not None else i
            rows.append({
                "study": self.study.name, "kind": e.kind, "label": e.label, "sensor_id": e.sensor_id,
                "modes": ",".join(e.modes), "controls": ",".join(e.controls), "start": e.start, "end": e.end,
                "days": e.days, "observed": e.observed, "counterfactual": e.counterfactual, "effect": e.effect,
                "effect_lower": i["effect_lower"], "effect_upper": i["effect_upper"],
                "effect_pct": 100 * e.relative, "effect_pct_lower": 100 * i["relative_lower"],
                "effect_pct_upper": 100 * i["relative_upper"], "level": lv,
                "family_level": fam if placebo else None,
                "effect_pct_family_lower": 100 * f["relative_lower"] if f else None,
                "effect_pct_family_upper": 100 * f["relative_upper"] if f else None,
                "shows_effect": not (judged["effect_lower"] <= 0.0 <= judged["effect_upper"]),
            })
        return pl.DataFrame(rows, schema=TABLE_SCHEMA)

    def report_frames(self) -> tuple[pl.DataFrame, pl.DataFrame]:
        """(impact, impact_placebos) in the columns of the scenario report's sections.

        Placebo effects are expressed on the treated series' scale (their relative effect × the effect's
        counterfactual) so that their sizes compare with the effect's.
        """
        e, lv, s = self.effect, self.study.level, self.study
        mode = ",".join(e.modes)
        unit = IMPACT_UNITS.get(mode, "veh")
        study = {"study": s.name, "title_fr": s.title_fr, "title_en": s.title_en}
        i = e.interval(lv)
        impact = pl.DataFrame([{
            **study, "start": s.intervention.start, "end": s.intervention.end,
            "sensor_id": e.sensor_id, "mode": mode, "direction": "all", "unit": unit,
            "effect": e.effect, "lower": i["effect_lower"], "upper": i["effect_upper"], "effect_pct": 100 * e.relative,
        }])
        cf = e.counterfactual
        rows = []
        for p in self.placebos:
            pi = p.interval(lv)
            # a control placebo is on its control sensor (and its modes), a date placebo on the treated one
            rows.append({**study, "sensor_id": p.sensor_id, "mode": ",".join(p.modes), "direction": "all",
                         "placebo": p.label,
                         "effect": p.relative * cf, "lower": pi["relative_lower"] * cf,
                         "upper": pi["relative_upper"] * cf})
        schema = {"study": pl.String, "title_fr": pl.String, "title_en": pl.String, "sensor_id": pl.String,
                  "mode": pl.String, "direction": pl.String, "placebo": pl.String,
                  "effect": pl.Float64, "lower": pl.Float64, "upper": pl.Float64}
        return impact, pl.DataFrame(rows, schema=schema)


# --------------------------------------------------------------------------------------------------
# data preparation
# --------------------------------------------------------------------------------------------------
def _where(study: ImpactStudy) -> str:
    return study._source or f"impact study {study.name!r}"


def _sensor_series(daily: pl.DataFrame, study: ImpactStudy, sensor: str, modes: list[str] | None,
                   field: str) -> tuple[pl.DataFrame, tuple[str, ...]]:
    """Daily totals (day, value) of a sensor's modes, directions summed; null unless every series is valid."""
    own = daily.filter(pl.col("sensor_id") == sensor)
    if own.is_empty():
        known = sorted(set(daily["sensor_id"].to_list()))
        shown = ", ".join(known[:20]) + (" …" if len(known) > 20 else "")
        raise ImpactDataError(f"{_where(study)}: {field}: sensor {sensor!r} is not in the daily counts "
                              f"(expected one of: {shown})")
    have = sorted(set(own["mode"].to_list()))
    use = [m for m in have if modes is None or m in modes]
    if not use:
        raise ImpactDataError(f"{_where(study)}: {field}: sensor {sensor!r} counts none of the modes "
                              f"{', '.join(modes or [])} (its modes: {', '.join(have)})")
    own = own.filter(pl.col("mode").is_in(use))
    n = own.select(pl.struct("mode", "direction").n_unique()).item()
    valid = pl.col("is_valid_day") if "is_valid_day" in own.columns else pl.col("count").is_not_null()
    out = (own.group_by("day").agg(
        _v=pl.col("count").filter(valid).sum(), _n=valid.sum())
        .select("day", value=pl.when(pl.col("_n") == n).then(pl.col("_v")).cast(pl.Float64)).sort("day"))
    return out, tuple(use)


@dataclass(frozen=True)
class _Data:
    """Everything one estimate needs, as numpy arrays over consecutive days."""

    dates: list[dt.date]
    values: dict[str, np.ndarray]  # daily totals per sensor (nan = missing)
    calendar: pl.DataFrame


def _frame(series: dict[str, pl.DataFrame], start: dt.date, end: dt.date, zone: str) -> _Data:
    cal = calendar_frame(start, end, zone=zone)
    f = cal.select("date")
    for name, s in series.items():
        f = f.join(s.rename({"day": "date", "value": name}), on="date", how="left")
    f = f.sort("date")
    arrays = {name: f[name].cast(pl.Float64).fill_null(float("nan")).to_numpy() for name in series}
    return _Data(dates=f["date"].to_list(), values=arrays, calendar=cal.sort("date"))


def _estimate(data: _Data, treated: str, controls: list[str], train: tuple[dt.date, dt.date],
              window: tuple[dt.date, dt.date], *, level: float, sims: int, seed: int, kind: str, label: str,
              modes: tuple[str, ...], notes: list[str], ratio: bool = True) -> Estimate:
    """Fit on ``train`` (inclusive dates), simulate to the end of ``window``, sum over the window."""
    dates = np.array(data.dates, dtype="datetime64[D]")
    t0, t1 = np.datetime64(train[0]), np.datetime64(train[1])
    w0, w1 = np.datetime64(window[0]), np.datetime64(window[1])
    in_train = (dates >= t0) & (dates <= t1)
    horizon = (dates > t1) & (dates <= w1)
    in_window = (dates >= w0) & (dates <= w1)

    y = np.log1p(data.values[treated])
    logs = []
    for c in controls:
        x = np.log1p(data.values[c])
        med = np.nanmedian(x[in_train]) if np.isfinite(x[in_train]).any() else np.nan
        logs.append(x - med)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-nan days: nanmean warns, gives nan
        index = np.nanmean(np.vstack(logs), axis=0)
    has_index = np.isfinite(index)
    cal = data.calendar
    dow = cal["dow"].to_numpy()
    offset = np.where(has_index, index, 0.0) if ratio else np.zeros_like(y)
    cols = {} if ratio else {"controls": np.where(has_index, index, 0.0)}
    for k in range(2, 8):
        cols[f"dow_{k}"] = (dow == k).astype(float)
    for flag in CALENDAR_FLAGS:
        cols[flag] = cal[flag].cast(pl.Float64).to_numpy()

    endog = np.where(has_index, y - offset, np.nan)
    fit_rows = in_train & np.isfinite(endog)
    if fit_rows.sum() < MIN_TRAINING_DAYS:
        raise ImpactDataError(f"{label}: only {int(fit_rows.sum())} valid pre-period days for {treated} with its "
                              f"controls between {train[0]} and {train[1]}; at least {MIN_TRAINING_DAYS} are needed")
    keep = []
    for name, col in cols.items():
        if np.ptp(col[fit_rows]) > 0:
            keep.append(name)
        elif np.ptp(col[in_window]) > 0:
            notes.append(f"{label}: '{name}' never varies before {window[0]} but does during it; the "
                         "counterfactual cannot account for it")
    exog = np.column_stack([cols[n] for n in keep])
    model = UnobservedComponents(endog[in_train], level="local level", exog=exog[in_train], mle_regression=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = model.fit(disp=False)
        if not res.mle_retvals.get("converged", True):
            # L-BFGS often stops in its line search when the level variance is near 0 (a steady level);
            # Nelder–Mead from there settles it.
            caught.clear()
            res = model.fit(start_params=res.params, method="nm", maxiter=2000, disp=False)
    for w in caught:
        notes.append(f"{label}: model fit: {w.message}")
    h = int(horizon.sum())
    rng = np.random.default_rng(seed)
    paths = np.asarray(res.simulate(h, repetitions=sims, anchor="end", exog=exog[horizon],
                                    rng=rng)).reshape(h, sims)
    cf = np.expm1(paths + offset[horizon][:, None])
    obs = data.values[treated][horizon]
    used = in_window[horizon] & np.isfinite(obs) & has_index[horizon]
    if not used.any():
        raise ImpactDataError(f"{label}: no valid day of {treated} (with its controls) between {window[0]} and "
                              f"{window[1]}: nothing to compare")
    lo_q, hi_q = (1 - level) / 2, (1 + level) / 2
    daily = pl.DataFrame({
        "day": [d for d, k in zip(data.dates, horizon, strict=True) if k],
        "observed": pl.Series(np.where(np.isfinite(obs), obs, np.nan)).fill_nan(None),
        "counterfactual": cf.mean(axis=1),
        "counterfactual_lower": np.quantile(cf, lo_q, axis=1),
        "counterfactual_upper": np.quantile(cf, hi_q, axis=1),
        "in_intervention": in_window[horizon],
        "used": used,
    })
    total = float(obs[used].sum())
    return Estimate(kind=kind, label=label, sensor_id=treated, modes=modes, controls=tuple(controls),
                    start=window[0], end=window[1], days=int(used.sum()), observed=total,
                    cf_sums=cf[used].sum(axis=0), daily=daily,
                    obs_sums=rng.poisson(total, sims).astype(float))


def placebo_dates(study: ImpactStudy, train_start: dt.date, train_end: dt.date) -> list[dt.date]:
    """Fake intervention starts: the file's, or every ``spacing_days`` back from the real start, each with
    at least ``min_training_days`` before it and its window ending by ``train_end``."""
    length = (study.intervention.end - study.intervention.start).days + 1
    p = study.placebo
    if p.dates is not None:
        return sorted(p.dates)
    step = p.spacing_days or max(28, length)
    out = []
    k = 1
    while len(out) < p.count:
        s = study.intervention.start - dt.timedelta(days=k * step)
        k += 1
        if (s - train_start).days < p.min_training_days:
            break
        if s + dt.timedelta(days=length - 1) <= train_end:
            out.append(s)
    return sorted(out)


def evaluate_impact(daily: pl.DataFrame | pl.LazyFrame, study: ImpactStudy) -> ImpactResult:
    """Effect of ``study``'s intervention on daily totals (:func:`sensors_io.aggregate.daily_totals` over
    flagged counts: columns sensor_id, mode, direction, day, count, is_valid_day), with placebos.

    Raises :class:`ImpactDataError` when a sensor or mode is missing, the pre-period is too short or the
    intervention has no valid day.
    """
    if isinstance(daily, pl.LazyFrame):
        daily = daily.collect()
    t = study.treated
    treated, modes = _sensor_series(daily, study, t.sensor, t.modes, "treated.sensor")
    cmodes = study.control_modes if study.control_modes is not None else list(modes)
    series = {t.sensor: treated}
    used_modes = {t.sensor: modes}
    for i, c in enumerate(study.controls):
        series[c], used_modes[c] = _sensor_series(daily, study, c, cmodes, f"controls[{i}]")

    first = treated.filter(pl.col("value").is_not_null())["day"].min()
    if first is None:
        raise ImpactDataError(f"{_where(study)}: treated.sensor: {t.sensor!r} has no valid day")
    train_start = study.pre_period.start if study.pre_period else first
    train_end = study.pre_period.end if study.pre_period else study.intervention.start - dt.timedelta(days=1)
    if train_end < train_start:
        raise ImpactDataError(f"{_where(study)}: no pre-period: the data of {t.sensor!r} start on {first}, "
                              f"not before the intervention ({study.intervention.start})")
    data = _frame(series, train_start, study.intervention.end, study.zone)
    notes: list[str] = []
    common = dict(level=study.level, sims=study.simulations, seed=study.seed, notes=notes,
                  ratio=study.control_model == "ratio")
    window = (study.intervention.start, study.intervention.end)
    effect = _estimate(data, t.sensor, list(study.controls), (train_start, train_end), window, kind="effect",
                       label=f"{t.sensor} {window[0]}..{window[1]}", modes=modes, **common)

    placebos: list[Estimate] = []
    length = (study.intervention.end - study.intervention.start).days
    for s in placebo_dates(study, train_start, train_end):
        e = s + dt.timedelta(days=length)
        if s <= train_start or e > train_end:
            raise ImpactDataError(f"{_where(study)}: placebo.dates: {s}..{e} is not inside the pre-period "
                                  f"{train_start}..{train_end}")
        placebos.append(_estimate(data, t.sensor, list(study.controls), (train_start, s - dt.timedelta(days=1)),
                                  (s, e), kind="placebo_date", label=f"date {s}", modes=modes, **common))
    if len(placebos) < study.placebo.count and study.placebo.dates is None:
        notes.append(f"only {len(placebos)} placebo dates of {study.placebo.count} fit in the pre-period "
                     f"with {study.placebo.min_training_days} training days each")
    others = list(study.controls)
    if study.placebo.controls and len(others) >= 2:
        for c in others:
            rest = [x for x in others if x != c]
            placebos.append(_estimate(data, c, rest, (train_start, train_end), window, kind="placebo_control",
                                      label=f"control {c}", modes=used_modes[c], **common))
    loo = []
    if len(others) >= 2:
        for c in others:
            rest = [x for x in others if x != c]
            loo.append(_estimate(data, t.sensor, rest, (train_start, train_end), window, kind="leave_one_out",
                                 label=f"without {c}", modes=modes, **common))
    return ImpactResult(study=study, effect=effect, placebos=tuple(placebos), leave_one_out=tuple(loo),
                        warnings=tuple(dict.fromkeys(notes)))
