"""What a scenario changes: indicator deltas, hours above saturation, mass balance, side-by-side comparison.

All functions take forecasts-contract frames (DESIGN.md): the ``baseline`` (``scenario = "baseline"``,
it may cover more hours than the scenario: only the scenario's rows are compared) and one scenario frame
from :func:`scenarios.spec.apply_scenario`. Indicators are computed on the point forecast ``yhat`` over
the scenario's hours, in local time (``tz``):

``tmj``
    trafic moyen journalier over the period: Σ ``yhat`` / number of local days of the frame, both directions
    summed (direction ``all``). It is the TMJA of the period, not of a year, hence its own name.
``hpm`` / ``hps`` and ``hpm_hour`` / ``hps_hour``
    the highest mean hourly volume of the period's working days (Mon–Fri, not public holidays) in the
    morning window (hour starts 7 and 8, i.e. 7–9 h) / the evening window (17, 18, 19, i.e. 17–20 h),
    and the local hour it starts at; null when the period has no working day (INDICATORS.md §1.1, the
    same windows as :class:`sensors_io.indicators.IndicatorConfig`).
``pct_heavy``
    ``100 · Σ heavy / (Σ heavy + Σ car)`` over the period, for sensors counting both (mode ``heavy``).
``hours_above_saturation`` and ``vc_max``
    for each sensor direction with a ``capacity_change`` hypothesis: the hours when the UVP volume
    (``Σ_mode e_mode · yhat``, coefficient set of the hypothesis, :func:`scenarios.spec.uvp_coefficients`)
    exceeds the capacity, and the highest volume / capacity ratio; the baseline is measured against the
    capacity before, the scenario against the capacity after, over the hypothesis' dates (mode ``uvp``).

Sums are exact (:func:`sensors_io.aggregate.exact_sum`), so the same inputs give the same numbers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import polars as pl

from scenarios.calendars import calendar_frame
from scenarios.spec import (
    DIVERSION_KINDS,
    MOTOR_MODES,
    ScenarioSpec,
    scenario_steps,
    uvp_coefficients,
)
from sensors_io.aggregate import exact_mean, exact_sum
from sensors_io.indicators import HOURLY_UNITS, UNITS

#: Peak windows: local hour starts (INDICATORS.md §1.1 "≈7–9 h" and "≈17–20 h").
MORNING_PEAK_HOURS: tuple[int, ...] = (7, 8)
EVENING_PEAK_HOURS: tuple[int, ...] = (17, 18, 19)
#: A link is saturated in an hour when volume / capacity exceeds this.
SATURATION_RATIO = 1.0

DELTAS_SCHEMA = {
    "scenario_name": pl.String, "sensor_id": pl.String, "mode": pl.String, "direction": pl.String,
    "indicator": pl.String, "unit": pl.String, "baseline": pl.Float64, "scenario": pl.Float64,
    "delta": pl.Float64, "delta_pct": pl.Float64,
}
_IND_SCHEMA = {"sensor_id": pl.String, "mode": pl.String, "direction": pl.String, "indicator": pl.String,
               "unit": pl.String, "value": pl.Float64}
_KEYS = ["sensor_id", "mode", "direction", "indicator"]


def scenario_name(scenario: pl.DataFrame) -> str:
    """The one ``scenario`` value of a scenario frame (ValueError otherwise)."""
    names = scenario["scenario"].unique().to_list()
    if len(names) != 1 or names[0] == "baseline":
        raise ValueError("expected the rows of one scenario (not the baseline), got scenario values "
                         f"{sorted(map(str, names))}")
    return str(names[0])


def matching_baseline(baseline: pl.DataFrame, scenario: pl.DataFrame) -> pl.DataFrame:
    """The baseline rows at the scenario's (sensor, mode, direction, hour) keys."""
    base = baseline.filter(pl.col("scenario") == "baseline") if "scenario" in baseline.columns else baseline
    keys = ["sensor_id", "mode", "direction", "start_utc"]
    return base.join(scenario.select(keys), on=keys, how="semi")


def _local(frame: pl.DataFrame, tz: str) -> pl.DataFrame:
    local = pl.col("start_utc").dt.convert_time_zone(tz)
    return frame.with_columns(_date=local.dt.date(), _hour=local.dt.hour())


def _units(indicator: str) -> pl.Expr:
    if indicator in ("hpm", "hps"):
        return pl.col("mode").replace_strict(HOURLY_UNITS, default="veh/h", return_dtype=pl.String)
    return pl.col("mode").replace_strict(UNITS, default="veh/day", return_dtype=pl.String)


def _volume_indicators(f: pl.DataFrame, working: list[dt.date]) -> pl.DataFrame:
    """tmj, hpm(_hour), hps(_hour) per sensor and mode (direction ``all``), pct_heavy per sensor."""
    out = []
    n_days = f["_date"].n_unique()
    days = f.group_by("sensor_id", "mode").agg(_s=exact_sum(pl.col("yhat")))
    out.append(days.select("sensor_id", "mode", direction=pl.lit("all"), indicator=pl.lit("tmj"),
                           unit=_units("tmj"), value=pl.col("_s") / n_days))
    hours = (f.filter(pl.col("_date").is_in(working))
             .group_by("sensor_id", "mode", "_date", "_hour").agg(q=exact_sum(pl.col("yhat")))
             .group_by("sensor_id", "mode", "_hour").agg(q=exact_mean(pl.col("q"))))
    for name, window in (("hpm", MORNING_PEAK_HOURS), ("hps", EVENING_PEAK_HOURS)):
        peak = (hours.filter(pl.col("_hour").is_in(list(window)))
                .sort("sensor_id", "mode", pl.col("q"), pl.col("_hour"), descending=[False, False, True, False])
                .group_by("sensor_id", "mode", maintain_order=True).first())
        out.append(peak.select("sensor_id", "mode", direction=pl.lit("all"), indicator=pl.lit(name),
                               unit=_units(name), value=pl.col("q")))
        out.append(peak.select("sensor_id", "mode", direction=pl.lit("all"), indicator=pl.lit(f"{name}_hour"),
                               unit=pl.lit("h"), value=pl.col("_hour").cast(pl.Float64)))
    totals = f.group_by("sensor_id", "mode").agg(_s=exact_sum(pl.col("yhat")))
    wide = totals.pivot(on="mode", index="sensor_id", values="_s")
    if {"car", "heavy"} <= set(wide.columns):
        both = wide.filter(pl.col("car").is_not_null() & pl.col("heavy").is_not_null())
        tv = pl.col("heavy") + pl.col("car")
        out.append(both.select("sensor_id", mode=pl.lit("heavy"), direction=pl.lit("all"),
                               indicator=pl.lit("pct_heavy"), unit=pl.lit("%"),
                               value=pl.when(tv > 0).then(100.0 * pl.col("heavy") / tv)))
    return pl.concat([o.cast(_IND_SCHEMA) for o in out]).select(list(_IND_SCHEMA))


def _capacity_rows(spec: ScenarioSpec | None, f: pl.DataFrame) -> list[dict]:
    """One row per (capacity hypothesis, direction), directions resolved against the frame."""
    rows: list[dict] = []
    if spec is None:
        return rows
    for h in spec.hypotheses:
        if h.kind != "capacity_change":
            continue
        coef = uvp_coefficients(h.uvp_set)
        own = f.filter((pl.col("sensor_id") == h.sensor) & pl.col("mode").is_in(list(coef)))
        dirs = h.directions or sorted(set(own["direction"].to_list()))
        p = h.period or spec.period
        for d in dirs:
            rows.append({"sensor_id": h.sensor, "direction": d, "coef": coef, "start": p.start, "end": p.end,
                         "before": h.capacity_before, "after": h.capacity_after})
    return rows


def _saturation(f: pl.DataFrame, caps: list[dict], which: str) -> pl.DataFrame:
    """hours_above_saturation and vc_max per capacity row, against capacity ``which`` (before / after)."""
    out = []
    for c in caps:
        own = f.filter((pl.col("sensor_id") == c["sensor_id"]) & (pl.col("direction") == c["direction"])
                       & pl.col("mode").is_in(list(c["coef"])) & pl.col("_date").is_between(c["start"], c["end"]))
        uvp = own.with_columns(_u=pl.col("yhat") * pl.col("mode").replace_strict(c["coef"], return_dtype=pl.Float64))
        hourly = uvp.group_by("start_utc").agg(u=exact_sum(pl.col("_u")))
        ratio = hourly["u"] / c[which]
        above = float((ratio > SATURATION_RATIO).sum())
        vc = float(ratio.max()) if hourly.height else None
        base = {"sensor_id": c["sensor_id"], "mode": "uvp", "direction": c["direction"]}
        out.append({**base, "indicator": "hours_above_saturation", "unit": "h", "value": above})
        out.append({**base, "indicator": "vc_max", "unit": "ratio", "value": vc})
    return pl.DataFrame(out, schema=_IND_SCHEMA)


def _working_days(frames: Sequence[pl.DataFrame]) -> list[dt.date]:
    dates = sorted({d for f in frames for d in f["_date"].unique().to_list()})
    if not dates:
        return []
    cal = calendar_frame(dates[0], dates[-1])
    return cal.filter(pl.col("is_working_day") & pl.col("date").is_in(dates))["date"].to_list()


def period_indicators(frame: pl.DataFrame, spec: ScenarioSpec | None = None, *, capacity: str = "before",
                      tz: str = "Europe/Paris") -> pl.DataFrame:
    """Indicators of one forecast frame over its hours (long: sensor_id, mode, direction, indicator, unit,
    value); with ``spec``, hours above saturation against its capacities ``before`` or ``after``."""
    f = _local(frame, tz)
    ind = _volume_indicators(f, _working_days([f]))
    sat = _saturation(f, _capacity_rows(spec, f), capacity)
    return pl.concat([ind, sat]).sort(_KEYS)


def indicator_deltas(baseline: pl.DataFrame, scenario: pl.DataFrame, spec: ScenarioSpec | None = None,
                     tz: str = "Europe/Paris") -> pl.DataFrame:
    """Indicators of the baseline and of the scenario over the scenario's hours, side by side.

    Columns :data:`DELTAS_SCHEMA`: ``baseline``, ``scenario`` (values), ``delta`` = scenario − baseline,
    ``delta_pct`` = 100 · delta / baseline (null when the baseline is 0 or for hours, ratios and shares). Give
    ``spec`` for hours above saturation (its ``capacity_change`` hypotheses).
    """
    name = scenario_name(scenario)
    base = _local(matching_baseline(baseline, scenario), tz)
    scen = _local(scenario, tz)
    working = _working_days([base])
    caps = _capacity_rows(spec, base)
    b = pl.concat([_volume_indicators(base, working), _saturation(base, caps, "before")])
    s = pl.concat([_volume_indicators(scen, working), _saturation(scen, caps, "after")])
    joined = b.rename({"value": "baseline"}).join(
        s.rename({"value": "scenario"}).drop("unit"), on=_KEYS, how="full", coalesce=True)
    # no relative change of hours, ratios and shares (a share's change is in points: 1.32 % → 1.10 % is
    # −0.22 point, not "−16.5 %")
    relative = ~pl.col("indicator").is_in(["hpm_hour", "hps_hour", "vc_max", "hours_above_saturation", "pct_heavy"])
    return joined.with_columns(
        scenario_name=pl.lit(name),
        delta=pl.col("scenario") - pl.col("baseline"),
    ).with_columns(
        delta_pct=pl.when(relative & (pl.col("baseline") != 0)).then(100.0 * pl.col("delta") / pl.col("baseline")),
    ).select(list(DELTAS_SCHEMA)).cast(DELTAS_SCHEMA).sort(_KEYS)


def saturation_table(baseline: pl.DataFrame, scenario: pl.DataFrame, spec: ScenarioSpec,
                     tz: str = "Europe/Paris") -> pl.DataFrame:
    """Hours above saturation per capacity hypothesis and direction: sensor_id, direction, unit (UVP/h),
    threshold_baseline / threshold (capacity before / after), hours_baseline, hours_scenario,
    vc_max_baseline, vc_max_scenario."""
    base = _local(matching_baseline(baseline, scenario), tz)
    scen = _local(scenario, tz)
    caps = _capacity_rows(spec, base)
    b, s = _saturation(base, caps, "before"), _saturation(scen, caps, "after")
    rows = []
    for i, c in enumerate(caps):
        rows.append({"sensor_id": c["sensor_id"], "direction": c["direction"], "unit": "UVP/h",
                     "threshold_baseline": c["before"], "threshold": c["after"],
                     "hours_baseline": b["value"][2 * i], "hours_scenario": s["value"][2 * i],
                     "vc_max_baseline": b["value"][2 * i + 1], "vc_max_scenario": s["value"][2 * i + 1]})
    return pl.DataFrame(rows, schema={
        "sensor_id": pl.String, "direction": pl.String, "unit": pl.String, "threshold_baseline": pl.Float64,
        "threshold": pl.Float64, "hours_baseline": pl.Float64, "hours_scenario": pl.Float64,
        "vc_max_baseline": pl.Float64, "vc_max_scenario": pl.Float64})


def compare_scenarios(baseline: pl.DataFrame, scenarios: Sequence[pl.DataFrame],
                      specs: Sequence[ScenarioSpec] = (), tz: str = "Europe/Paris") -> pl.DataFrame:
    """Several scenarios side by side: one row per (sensor_id, mode, direction, indicator, unit), and for
    each scenario ``<name>_baseline``, ``<name>_scenario``, ``<name>_delta``, ``<name>_delta_pct``.

    Each scenario is compared with the baseline over its own hours (periods may differ); ``specs``
    (matched by name) bring the capacities for hours above saturation.
    """
    by_name = {s.name: s for s in specs}
    keys = [*_KEYS, "unit"]
    out: pl.DataFrame | None = None
    for frame in scenarios:
        name = scenario_name(frame)
        d = indicator_deltas(baseline, frame, by_name.get(name), tz).drop("scenario_name")
        d = d.rename({c: f"{name}_{c}" for c in ("baseline", "scenario", "delta", "delta_pct")})
        out = d if out is None else out.join(d, on=keys, how="full", coalesce=True)
    if out is None:
        return pl.DataFrame(schema={k: pl.String for k in keys})
    return out.sort(_KEYS)


MASS_BALANCE_SCHEMA = {
    "scenario_name": pl.String, "hypothesis": pl.Int64, "kind": pl.String, "closed_sensor": pl.String,
    "role": pl.String, "target": pl.String, "mode": pl.String, "declared_share": pl.Float64,
    "baseline_volume": pl.Float64, "kept": pl.Float64, "closed_volume": pl.Float64, "diverted": pl.Float64,
    "evaporated": pl.Float64, "induced": pl.Float64, "residual": pl.Float64, "residual_pct": pl.Float64,
}


def mass_balance(spec: ScenarioSpec, baseline: pl.DataFrame, scenario: pl.DataFrame,
                 tz: str = "Europe/Paris") -> pl.DataFrame:
    """Traffic ledger of each ``closure`` / ``pedestrianisation`` hypothesis of ``spec``.

    For the closed sensor, per removed mode and for all of them (mode ``all``), one ``role = "closed"`` row:
    ``baseline_volume`` (its traffic before the hypothesis), ``kept``, ``closed_volume`` (traffic removed),
    ``diverted`` (what arrived on the targets), the declared ``evaporated`` and ``induced`` volumes
    (share × closed volume), ``residual = closed − diverted − evaporated + induced`` and ``residual_pct``
    (% of the closed volume); then one ``role = "diversion"`` row per target (``target``, ``declared_share``,
    ``diverted``). A residual means traffic was lost on the way, e.g. a target without a forecast at some
    hours. Volumes are those of the hypothesis' own step (the frames before and after it, recomputed from
    ``baseline``); ``scenario`` must be ``apply_scenario(baseline, spec)`` (checked: ValueError otherwise).
    """
    if scenario_name(scenario) != spec.name:
        raise ValueError(f"the scenario frame holds scenario {scenario_name(scenario)!r}, not {spec.name!r}")
    base = baseline.filter(pl.col("scenario") == "baseline") if "scenario" in baseline.columns else baseline
    steps = list(scenario_steps(base, spec, tz))
    keys = ["sensor_id", "mode", "direction", "start_utc"]
    final = steps[-1].select(*keys, "yhat").join(scenario.select(*keys, y2="yhat"), on=keys, how="full")
    bad = final.filter(~((pl.col("yhat") - pl.col("y2")).abs() <= 1e-9 * (1 + pl.col("y2").abs())).fill_null(False))
    if bad.height:
        r = bad.row(0, named=True)
        raise ValueError(f"the scenario frame is not {spec.name!r} applied to this baseline: {bad.height} rows "
                         f"differ, e.g. {r['sensor_id']} {r['mode']} {r['direction']} {r['start_utc']}: "
                         f"{r['y2']} in the frame, {r['yhat']} recomputed")
    rows = []
    for i, h in enumerate(spec.hypotheses):
        if h.kind not in DIVERSION_KINDS:
            continue
        before, after = steps[i], steps[i + 1]
        diff = before.select(*keys, b="yhat").join(after.select(*keys, a="yhat"), on=keys, how="inner")
        wanted = set(h.modes or MOTOR_MODES)
        modes = sorted(m for m in set(diff.filter(pl.col("sensor_id") == h.sensor)["mode"].to_list()) if m in wanted)
        window = h.period or spec.period
        local = pl.col("start_utc").dt.convert_time_zone(tz).dt.date().is_between(window.start, window.end)

        def total(expr: pl.Expr, sensor: str, mode_list: list[str], in_window: bool = False) -> float:
            cond = (pl.col("sensor_id") == sensor) & pl.col("mode").is_in(mode_list)
            if in_window:
                cond = cond & local
            v = diff.filter(cond).select(exact_sum(expr)).item()
            return float(v) if v is not None else 0.0

        for mode in [*modes, "all"]:
            ms = modes if mode == "all" else [mode]
            base_vol = total(pl.col("b"), h.sensor, ms, in_window=True)
            closed = total(pl.col("b") - pl.col("a"), h.sensor, ms)
            per_target = [(t, total(pl.col("a") - pl.col("b"), t.sensor, ms)) for t in h.diversion]
            diverted = sum(v for _, v in per_target)
            evap, induced = h.evaporated_share * closed, h.induced_share * closed
            residual = closed - diverted - evap + induced
            common = {"scenario_name": spec.name, "hypothesis": i, "kind": h.kind, "closed_sensor": h.sensor,
                      "mode": mode}
            rows.append({**common, "role": "closed", "target": h.sensor, "declared_share": None,
                         "baseline_volume": base_vol, "kept": base_vol - closed, "closed_volume": closed,
                         "diverted": diverted, "evaporated": evap, "induced": induced, "residual": residual,
                         "residual_pct": 100.0 * residual / closed if closed else None})
            for t, v in per_target:
                rows.append({**common, "role": "diversion", "target": t.sensor, "declared_share": t.share,
                             "diverted": v})
    return pl.DataFrame(rows, schema=MASS_BALANCE_SCHEMA)
