"""Planning scenarios: YAML files validated with pydantic, applied in order to a baseline forecast.

A scenario file (see ``scenarios/catalog/`` and ``docs/scenarios.md``) names a period, optional named
``sensor_groups`` and an ordered list of hypotheses, each one of:

``seasonal_surge``
    a multiplier per month number (``{7: 1.15, 8: 1.25}``), optionally only for some modes / sensors;
``demand_growth``
    ``pct_per_year`` compounded from a ``reference`` date: factor ``(1 + pct/100) ** (days / 365.25)``;
``event_days``
    a multiplier on some local ``dates`` and (optionally) local ``hours``, or an hourly ``profile``
    (local hour → multiplier);
``closure``
    a street closed (its sensor keeps ``kept_share`` of its motor traffic, e.g. local access); the removed
    traffic is diverted to other sensors by share (``diversion``), the rest is declared ``evaporated_share``
    (trips given up), and ``induced_share`` declares traffic created on top; the shares must balance:
    Σ diversion shares + evaporated − induced = 1;
``pedestrianisation``
    a closure to motor traffic (kept share 0 by default) with a ``pedestrian_uplift`` multiplier;
``modal_shift``
    a share of the trips of ``from_modes`` on given sensors moved to ``to_mode`` (bike or pedestrian),
    counted on the same sensor or where ``counted_at`` says;
``capacity_change``
    lanes and capacity (UVP/h) of a sensor's road before and after; it leaves the volumes unchanged and
    feeds the hours-above-saturation indicator (:mod:`scenarios.deltas`).

Hypotheses apply in file order. Multiplicative ones scale ``yhat``, ``yhat_lower`` and ``yhat_upper``
alike (a planning hypothesis scales the traffic; it does not claim to know more or less about it);
diversions move each bound with the same share (so a target's bounds are the sum of its own bounds and the
diverted bounds, hence conservative). Months, dates and hours are local (``tz``, Europe/Paris by default).
Sensor ids are checked against the baseline when the scenario is applied: an unknown id raises
:class:`ScenarioDataError` naming the file, the hypothesis and the id.

Examples
--------
>>> spec = ScenarioSpec.model_validate({
...     "name": "demo", "title_fr": "Démo", "title_en": "Demo",
...     "period": {"start": "2026-07-01", "end": "2026-07-31"},
...     "hypotheses": [{"kind": "seasonal_surge", "multipliers": {7: 1.5}}],
... })
>>> spec.hypotheses[0].describe("en")
'Seasonal surge: July ×1.5 — all modes; all sensors.'
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import polars as pl
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from sensors_io.aggregate import exact_sum
from sensors_io.indicators import UVP_SETS

#: Modes of the canonical counts (DESIGN.md).
Mode = Literal["car", "heavy", "bike", "pedestrian", "bus", "motorcycle", "scooter", "all_vehicles", "other"]
#: Modes that drive on the carriageway: what a closure removes by default.
MOTOR_MODES: tuple[str, ...] = ("car", "heavy", "all_vehicles", "bus", "motorcycle")
Month = Annotated[int, Field(ge=1, le=12)]
LocalHour = Annotated[int, Field(ge=0, le=23)]
Multiplier = Annotated[float, Field(gt=0, le=100)]
Share = Annotated[float, Field(ge=0, le=1)]
SensorId = Annotated[str, Field(min_length=1)]
#: Tolerance on declared shares that must add up (Σ diversion + evaporated − induced = 1).
SHARE_TOLERANCE = 1e-6
#: The forecast columns every hypothesis scales or moves (the point forecast and the interval bounds);
#: any other ``yhat*`` column of the baseline (e.g. 95 % bounds) is treated alike.
VALUES: tuple[str, ...] = ("yhat", "yhat_lower", "yhat_upper")
KEY: tuple[str, ...] = ("sensor_id", "mode", "direction", "start_utc")

#: Passenger-car-unit (UVP) coefficient sets by mode: :data:`sensors_io.indicators.UVP_SETS`
#: (INDICATORS.md §1.4). For capacity, a mode absent from the set adds nothing, except ``all_vehicles``
#: (an unknown mix, counted as cars): see :func:`uvp_coefficients`.
DEFAULT_UVP_SET = "carrefour_feux"
#: The two direction codes the pipeline writes itself (DESIGN.md): ``all`` = summed over directions,
#: ``both`` = a source that counts both directions together. Other directions are shown as the source
#: names them (``E``, ``W``, ``in``…).
DIRECTION_NAMES = {
    "fr": {"all": "tous sens", "both": "deux sens confondus"},
    "en": {"all": "all directions", "both": "both directions together"},
}
#: Directions as the sources write them (INDICATORS.md §1: the heading of the users counted in the national
#: schema; IN / OUT its provider codes; Telraam's lft / rgt, as seen from the camera), in words with the code.
SOURCE_DIRECTION_NAMES = {
    "fr": {"N": "vers le nord", "NE": "vers le nord-est", "E": "vers l'est", "SE": "vers le sud-est",
           "S": "vers le sud", "SW": "vers le sud-ouest", "W": "vers l'ouest", "NW": "vers le nord-ouest",
           "IN": "entrant", "OUT": "sortant", "lft": "vers la gauche de la caméra",
           "rgt": "vers la droite de la caméra"},
    "en": {"N": "northbound", "NE": "north-eastbound", "E": "eastbound", "SE": "south-eastbound",
           "S": "southbound", "SW": "south-westbound", "W": "westbound", "NW": "north-westbound",
           "IN": "inbound", "OUT": "outbound", "lft": "leftward (camera view)", "rgt": "rightward (camera view)"},
}


def direction_label(direction: str, lang: str) -> str:
    """The pipeline's codes in words (``all``, ``both``); a source's own code in words with the code
    (``vers l'est (E)``); any other name as the source wrote it."""
    if direction in DIRECTION_NAMES[lang]:
        return DIRECTION_NAMES[lang][direction]
    words = SOURCE_DIRECTION_NAMES[lang].get(direction)
    return f"{words} ({direction})" if words else direction


#: The UVP coefficient sets (sensors_io.indicators.UVP_SETS) as a reader names them.
UVP_SET_NAMES = {
    "fr": {"carrefour_feux": "d'un carrefour à feux", "girabase": "d'un giratoire (Girabase)"},
    "en": {"carrefour_feux": "of a signalised junction", "girabase": "of a roundabout (Girabase)"},
}


def uvp_coefficients(set_name: str) -> dict[str, float]:
    """UVP coefficient per mode of a set of :data:`sensors_io.indicators.UVP_SETS`, with ``all_vehicles`` = 1."""
    return {"all_vehicles": 1.0, **UVP_SETS[set_name]}


MONTHS = {
    "fr": ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
           "novembre", "décembre"],
    "en": ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"],
}
MODE_NAMES = {
    "fr": {"car": "voiture", "heavy": "poids lourd", "bike": "vélo", "pedestrian": "piéton", "bus": "bus",
           "motorcycle": "deux-roues motorisé", "scooter": "trottinette", "all_vehicles": "tous véhicules",
           "other": "autre", "uvp": "tous véhicules (UVP)", "all": "modes additionnés"},
    "en": {"car": "car", "heavy": "heavy vehicle", "bike": "bike", "pedestrian": "pedestrian", "bus": "bus",
           "motorcycle": "motorcycle", "scooter": "scooter", "all_vehicles": "all vehicles", "other": "other",
           "uvp": "all vehicles (PCU)", "all": "modes summed"},
}


class ScenarioFileError(ValueError):
    """A scenario file that cannot be read or does not validate; the message is meant for people."""


class ScenarioDataError(ScenarioFileError):
    """A valid scenario file that does not fit the data it is applied to (an unknown sensor, a missing mode)."""


def _num(x: float, lang: str) -> str:
    """A hypothesis' number as written: up to 6 decimals, none trailing, thousands grouped, never an
    exponent: ``1500`` → ``1 500`` (narrow no-break space) / ``1,500``; ``1.15`` → ``1,15`` / ``1.15``."""
    s = f"{x:,.6f}".rstrip("0").rstrip(".")
    s = "0" if s in ("-0", "") else s
    return s.replace(",", "\u202f").replace(".", ",") if lang == "fr" else s


def _pct(share: float, lang: str) -> str:
    return f"{_num(round(share * 100, 6), lang)} %"


def _date(d: dt.date, lang: str) -> str:
    if lang == "fr":
        return f"{d.day} {MONTHS['fr'][d.month - 1]} {d.year}"
    return f"{d.day} {MONTHS['en'][d.month - 1]} {d.year}"


def _modes_text(modes: list[str] | tuple[str, ...], lang: str) -> str:
    return ", ".join(MODE_NAMES[lang][m] for m in modes)


class Period(BaseModel):
    """Local dates, both inclusive."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    start: dt.date
    end: dt.date

    @model_validator(mode="after")
    def _ordered(self) -> Period:
        if self.end < self.start:
            raise ValueError(f"end ({self.end}) is before start ({self.start})")
        return self

    def contains(self, other: Period) -> bool:
        return self.start <= other.start and other.end <= self.end

    def text(self, lang: str) -> str:
        if lang == "fr":
            return f"du {_date(self.start, lang)} au {_date(self.end, lang)}"
        return f"from {_date(self.start, lang)} to {_date(self.end, lang)}"


# --------------------------------------------------------------------------------------------------
# application context: what a hypothesis may ask about the data it is applied to
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Context:
    """The baseline's series and the spec, for one hypothesis (its index, for error messages)."""

    spec: ScenarioSpec
    index: int
    series: pl.DataFrame  # distinct sensor_id, mode, direction of the baseline
    values: tuple[str, ...] = VALUES  # the yhat* columns to scale or move

    @property
    def sensors(self) -> set[str]:
        return set(self.series["sensor_id"].to_list())

    def where(self) -> str:
        src = self.spec.source or f"scenario {self.spec.name!r}"
        return f"{src}: hypotheses[{self.index}] ({self.spec.hypotheses[self.index].kind})"

    def fail(self, message: str) -> ScenarioDataError:
        return ScenarioDataError(f"{self.where()}: {message}")

    def check_sensors(self, ids: list[str], field: str) -> None:
        """Every id must be a sensor of the baseline forecast."""
        known = self.sensors
        for sid in ids:
            if sid not in known:
                shown = ", ".join(sorted(known)[:20]) + (" …" if len(known) > 20 else "")
                raise self.fail(f"{field}: sensor {sid!r} is not in the baseline forecast "
                                f"(expected one of: {shown or 'no sensor at all'})")

    def modes_of(self, sensor: str) -> list[str]:
        return sorted(set(self.series.filter(pl.col("sensor_id") == sensor)["mode"].to_list()))

    def directions_of(self, sensor: str, mode: str) -> list[str]:
        f = self.series.filter((pl.col("sensor_id") == sensor) & (pl.col("mode") == mode))
        return sorted(set(f["direction"].to_list()))

    def window(self, period: Period | None) -> pl.Expr:
        p = period or self.spec.period
        return pl.col("_date").is_between(p.start, p.end)

    def sensor_ids(self, sensors: list[str] | None, groups: list[str] | None) -> list[str] | None:
        if sensors is None and groups is None:
            return None
        ids = list(sensors or [])
        for g in groups or []:
            ids += self.spec.sensor_groups[g]
        return ids


# --------------------------------------------------------------------------------------------------
# multiplicative hypotheses
# --------------------------------------------------------------------------------------------------
class _Noted(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    note_fr: str | None = Field(default=None, description="why this hypothesis (French)")
    note_en: str | None = Field(default=None, description="why this hypothesis (English)")

    def note(self, lang: str) -> str | None:
        return self.note_fr if lang == "fr" else self.note_en

    def referenced_sensors(self) -> list[tuple[str, str]]:
        """(field, sensor id) pairs this hypothesis names (checked against the data at apply time)."""
        return []

    def referenced_groups(self) -> list[str]:
        return []


class _Filtered(_Noted):
    modes: list[Mode] | None = Field(default=None, description="only these modes (all when omitted)")
    sensors: list[SensorId] | None = Field(default=None, description="only these sensor_id (all when omitted)")
    groups: list[str] | None = Field(default=None, description="only the sensors of these sensor_groups")

    def referenced_sensors(self) -> list[tuple[str, str]]:
        return [(f"sensors[{i}]", s) for i, s in enumerate(self.sensors or [])]

    def referenced_groups(self) -> list[str]:
        return list(self.groups or [])

    def _where(self, ctx: _Context) -> pl.Expr:
        cond = pl.lit(True)
        if self.modes is not None:
            cond = cond & pl.col("mode").is_in(list(self.modes))
        ids = ctx.sensor_ids(self.sensors, self.groups)
        if ids is not None:
            cond = cond & pl.col("sensor_id").is_in(ids)
        return cond

    def _scope(self, lang: str, groups: Mapping[str, Sequence[str]] | None = None) -> str:
        """Modes and sensors concerned; a group is named with its sensors when ``groups`` (the spec's
        ``sensor_groups``) is given: « groupe entrees (CPT-A, CPT-B) »."""
        names = MODE_NAMES[lang]
        where = list(self.sensors or [])
        word, left, right = ("groupe", "« ", " »") if lang == "fr" else ("group", "“", "”")
        for g in self.groups or []:
            members = (groups or {}).get(g)
            where.append(f"{word} {left}{g}{right} ({', '.join(members)})" if members else f"{word} {g}")
        if lang == "fr":
            m = "modes : " + ", ".join(names[x] for x in self.modes) if self.modes else "tous modes"
            s = "capteurs : " + ", ".join(where) if where else "tous capteurs"
            return f"{m} ; {s}"
        m = "modes: " + ", ".join(names[x] for x in self.modes) if self.modes else "all modes"
        s = "sensors: " + ", ".join(where) if where else "all sensors"
        return f"{m}; {s}"

    def factor(self, ctx: _Context) -> pl.Expr:
        raise NotImplementedError

    def apply(self, f: pl.DataFrame, ctx: _Context) -> pl.DataFrame:
        fac = self.factor(ctx)
        return f.with_columns([pl.col(c) * fac for c in ctx.values])


class SeasonalSurge(_Filtered):
    """Multiply by month (local): ``multipliers: {7: 1.15, 8: 1.25}``."""

    kind: Literal["seasonal_surge"]
    multipliers: dict[Month, Multiplier] = Field(min_length=1)

    def factor(self, ctx: _Context) -> pl.Expr:
        months = sorted(self.multipliers)
        m = pl.col("_month").replace_strict(months, [self.multipliers[k] for k in months], default=1.0,
                                            return_dtype=pl.Float64)
        return pl.when(self._where(ctx)).then(m).otherwise(1.0)

    def describe(self, lang: str = "fr", groups: Mapping[str, Sequence[str]] | None = None) -> str:
        parts = ", ".join(f"{MONTHS[lang][k - 1]} ×{_num(v, lang)}" for k, v in sorted(self.multipliers.items()))
        head = "Hausse saisonnière" if lang == "fr" else "Seasonal surge"
        sep = " : " if lang == "fr" else ": "
        return f"{head}{sep}{parts} — {self._scope(lang, groups)}."


class DemandGrowth(_Filtered):
    """Compound growth of ``pct_per_year`` % from ``reference`` (negative = decline)."""

    kind: Literal["demand_growth"]
    pct_per_year: float = Field(gt=-100, le=100)
    reference: dt.date

    def factor(self, ctx: _Context) -> pl.Expr:
        years = (pl.col("_date") - pl.lit(self.reference)).dt.total_days().cast(pl.Float64) / 365.25
        m = pl.lit(1.0 + self.pct_per_year / 100.0).pow(years)
        return pl.when(self._where(ctx)).then(m).otherwise(1.0)

    def describe(self, lang: str = "fr", groups: Mapping[str, Sequence[str]] | None = None) -> str:
        p = _num(self.pct_per_year, lang)
        if lang == "fr":
            return (f"Évolution de la demande : {p} % par an à partir du {_date(self.reference, lang)} "
                    f"— {self._scope(lang, groups)}.")
        return f"Demand growth: {p} % per year from {_date(self.reference, lang)} — {self._scope(lang, groups)}."


def _runs(profile: dict[int, float]) -> list[tuple[int, int, float]]:
    """Consecutive hours with the same multiplier: (first hour, last hour, multiplier)."""
    runs: list[tuple[int, int, float]] = []
    for h, v in sorted(profile.items()):
        if runs and runs[-1][1] == h - 1 and runs[-1][2] == v:
            runs[-1] = (runs[-1][0], h, v)
        else:
            runs.append((h, h, v))
    return runs


def _hours_text(first: int, last: int, lang: str) -> str:
    if lang == "fr":
        if first == last:
            return f"{first} h"
        return f"de {first} h à " + ("minuit" if last == 23 else f"{last + 1} h")
    if first == last:
        return f"{first}:00"
    return f"from {first}:00 to " + ("midnight" if last == 23 else f"{last + 1}:00")


class EventDays(_Filtered):
    """Multiply on given local dates: ``multiplier`` (at ``hours``, all day when omitted), or an hourly
    ``profile`` (local hour → multiplier; hours it does not list take ``multiplier``, else 1)."""

    kind: Literal["event_days"]
    dates: list[dt.date] = Field(min_length=1)
    multiplier: Multiplier | None = Field(default=None, description="all-day multiplier (or at `hours`)")
    hours: list[LocalHour] | None = Field(default=None, description="local hours (0–23); all day when omitted")
    profile: dict[LocalHour, Multiplier] | None = Field(default=None, min_length=1,
                                                        description="local hour → multiplier")
    label_fr: str | None = None
    label_en: str | None = None

    @model_validator(mode="after")
    def _one_shape(self) -> EventDays:
        if self.multiplier is None and self.profile is None:
            raise ValueError("give `multiplier` (a number, e.g. 1.3) or `profile` (local hour → multiplier)")
        if self.profile is not None and self.hours is not None:
            raise ValueError("`hours` goes with `multiplier`; with `profile`, list the hours in the profile")
        return self

    def _hour_factor(self) -> pl.Expr:
        if self.profile is not None:
            hs = sorted(self.profile)
            return pl.col("_hour").replace_strict(hs, [self.profile[h] for h in hs],
                                                  default=self.multiplier or 1.0, return_dtype=pl.Float64)
        if self.hours is not None:
            return pl.when(pl.col("_hour").is_in(list(self.hours))).then(pl.lit(self.multiplier)).otherwise(1.0)
        return pl.lit(self.multiplier, dtype=pl.Float64)

    def factor(self, ctx: _Context) -> pl.Expr:
        cond = self._where(ctx) & pl.col("_date").is_in(list(self.dates))
        return pl.when(cond).then(self._hour_factor()).otherwise(1.0)

    def describe(self, lang: str = "fr", groups: Mapping[str, Sequence[str]] | None = None) -> str:
        days = ", ".join(_date(d, lang) for d in sorted(self.dates))
        label = self.label_fr if lang == "fr" else self.label_en
        head = ("Événement" if lang == "fr" else "Event") + (f" « {label} »" if lang == "fr" and label else
                                                             f" “{label}”" if label else "")
        sep = " : " if lang == "fr" else ": "
        if self.profile is not None:
            hs = ", ".join(f"{_hours_text(a, b, lang)} ×{_num(v, lang)}" for a, b, v in _runs(self.profile))
            rest = (f"autres heures ×{_num(self.multiplier, lang)}" if lang == "fr" else
                    f"other hours ×{_num(self.multiplier, lang)}") if self.multiplier is not None else ""
            return f"{head}{sep}{days}, {hs}{', ' + rest if rest else ''} — {self._scope(lang, groups)}."
        if self.hours:
            hs = sorted(self.hours)
            contiguous = hs == list(range(hs[0], hs[-1] + 1))
            if lang == "fr":
                end = "minuit" if hs[-1] == 23 else f"{hs[-1] + 1} h"
                when = f"de {hs[0]} h à {end}" if contiguous else "à " + ", ".join(f"{h} h" for h in hs)
            else:
                end = "midnight" if hs[-1] == 23 else f"{hs[-1] + 1}:00"
                when = f"from {hs[0]}:00 to {end}" if contiguous else "at " + ", ".join(f"{h}:00" for h in hs)
        else:
            when = "toute la journée" if lang == "fr" else "all day"
        return f"{head}{sep}{days}, {when}, ×{_num(self.multiplier, lang)} — {self._scope(lang, groups)}."


# --------------------------------------------------------------------------------------------------
# moving traffic: closures, pedestrianisation, modal shift
# --------------------------------------------------------------------------------------------------
class Target(BaseModel):
    """Where moved traffic goes: a sensor, the share it receives and, optionally, how directions map.

    Without ``direction_map`` the volume arriving in an hour is spread over the target's directions in
    proportion to the target's own traffic in that hour (equally when it has none).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    sensor: SensorId
    share: Share = Field(description="share of the moved traffic (0–1)")
    direction_map: dict[str, str] | None = Field(
        default=None, description="source direction → target direction (e.g. {S: E, N: W})")


def _removed(f: pl.DataFrame, sel: pl.Expr, kept: float, values: tuple[str, ...]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Take ``1 - kept`` of the selected rows' values away; return (new frame, removed rows)."""
    gone = [(pl.col(c) * (1.0 - kept)).alias(c) for c in values]
    flows = f.filter(sel).select("sensor_id", "mode", "direction", "start_utc", *gone)
    f = f.with_columns([pl.when(sel).then(pl.col(c) - pl.col(c) * (1.0 - kept)).otherwise(pl.col(c)).alias(c)
                        for c in values])
    return f, flows


def _add_flows(f: pl.DataFrame, flows: pl.DataFrame, target: Target, ctx: _Context, field: str,
               to_mode: str | None = None, scale: float = 1.0) -> pl.DataFrame:
    """Add ``target.share × scale`` of ``flows`` to the target sensor's rows at the same hours.

    ``to_mode`` None keeps each flow's mode. Hours where the target has no forecast row receive nothing
    (the mass balance shows it as a residual).
    """
    if flows.is_empty() or target.share == 0:
        return f
    values = ctx.values
    k = target.share * scale
    flows = flows.with_columns(mode=pl.lit(to_mode) if to_mode else pl.col("mode"))
    for mode in sorted(set(flows["mode"].to_list())):
        dirs = ctx.directions_of(target.sensor, mode)
        if not dirs:
            raise ctx.fail(f"{field}: sensor {target.sensor!r} has no {mode!r} series in the baseline forecast "
                           f"to receive the moved traffic (its modes: {', '.join(ctx.modes_of(target.sensor))})")
        if target.direction_map is not None:
            sources = sorted(set(flows.filter(pl.col("mode") == mode)["direction"].to_list()))
            for d in sources:
                if d not in target.direction_map:
                    raise ctx.fail(f"{field}.direction_map: no entry for direction {d!r} of the moved traffic "
                                   f"(expected keys: {', '.join(sources)})")
                if target.direction_map[d] not in dirs:
                    raise ctx.fail(f"{field}.direction_map: {d!r} → {target.direction_map[d]!r}, but sensor "
                                   f"{target.sensor!r} has no {mode!r} direction {target.direction_map[d]!r} "
                                   f"(its directions: {', '.join(dirs)})")
    if target.direction_map is not None:
        dmap = target.direction_map
        adds = (
            flows.with_columns(direction=pl.col("direction").replace_strict(list(dmap), list(dmap.values())))
            .group_by("mode", "direction", "start_utc")
            .agg([exact_sum(pl.col(c)).alias(c) for c in values])
            .with_columns([pl.col(c) * k for c in values])
        )
    else:
        totals = flows.group_by("mode", "start_utc").agg([exact_sum(pl.col(c)).alias(c) for c in values])
        own = f.filter(pl.col("sensor_id") == target.sensor).select("mode", "direction", "start_utc", "yhat")
        weights = own.with_columns(
            _tot=pl.col("yhat").sum().over("mode", "start_utc"), _n=pl.len().over("mode", "start_utc"),
        ).with_columns(
            _w=pl.when(pl.col("_tot") > 0).then(pl.col("yhat") / pl.col("_tot")).otherwise(1.0 / pl.col("_n")),
        ).select("mode", "direction", "start_utc", "_w")
        adds = weights.join(totals, on=["mode", "start_utc"], how="inner").select(
            "mode", "direction", "start_utc", *[(pl.col(c) * pl.col("_w") * k).alias(c) for c in values])
    adds = adds.with_columns(sensor_id=pl.lit(target.sensor)).rename({c: f"_add_{c}" for c in values})
    out = f.join(adds, on=list(KEY), how="left")
    return out.with_columns([(pl.col(c) + pl.col(f"_add_{c}").fill_null(0.0)).alias(c) for c in values]) \
        .drop([f"_add_{c}" for c in values]).sort("_row")


class _Diversion(_Noted):
    """Shared fields and logic of ``closure`` and ``pedestrianisation``."""

    sensor: SensorId = Field(description="sensor of the closed street")
    street: str | None = Field(default=None, description="the street's name, for people")
    modes: list[Mode] | None = Field(default=None, description="modes removed (default: motor modes)")
    period: Period | None = Field(default=None, description="local dates; the scenario's period when omitted")
    kept_share: Share = Field(default=0.0, description="share of the street's traffic that still passes")
    diversion: list[Target] = Field(default_factory=list, description="where the removed traffic goes")
    evaporated_share: Share = Field(default=0.0, description="share of the removed traffic that disappears")
    induced_share: Share = Field(default=0.0, description="extra traffic, as a share of the removed traffic")

    @model_validator(mode="after")
    def _balanced(self) -> _Diversion:
        diverted = sum(t.share for t in self.diversion)
        expected = 1.0 - self.evaporated_share + self.induced_share
        if abs(diverted - expected) > SHARE_TOLERANCE:
            parts = " + ".join(_num(t.share, "en") for t in self.diversion) or "0"
            raise ValueError(
                f"shares do not balance: diversion shares ({parts} = {diverted:g}) must equal "
                f"1 − evaporated_share ({self.evaporated_share:g}) + induced_share ({self.induced_share:g}) "
                f"= {expected:g}, so that all the removed traffic is accounted for")
        seen: set[str] = set()
        for i, t in enumerate(self.diversion):
            if t.sensor == self.sensor:
                raise ValueError(f"diversion[{i}].sensor: {t.sensor!r} is the closed sensor itself")
            if t.sensor in seen:
                raise ValueError(f"diversion[{i}].sensor: {t.sensor!r} is listed twice; give it one share")
            seen.add(t.sensor)
        return self

    def removed_modes(self, ctx: _Context) -> list[str]:
        wanted = list(self.modes) if self.modes is not None else list(MOTOR_MODES)
        return [m for m in ctx.modes_of(self.sensor) if m in wanted]

    def referenced_sensors(self) -> list[tuple[str, str]]:
        return [("sensor", self.sensor)] + [(f"diversion[{i}].sensor", t.sensor)
                                            for i, t in enumerate(self.diversion)]

    def apply(self, f: pl.DataFrame, ctx: _Context) -> pl.DataFrame:
        modes = self.removed_modes(ctx)
        if not modes:
            wanted = ", ".join(self.modes or MOTOR_MODES)
            raise ctx.fail(f"sensor {self.sensor!r} has none of the modes to remove ({wanted}); "
                           f"its modes: {', '.join(ctx.modes_of(self.sensor))}")
        sel = (pl.col("sensor_id") == self.sensor) & pl.col("mode").is_in(modes) & ctx.window(self.period)
        f, flows = _removed(f, sel, self.kept_share, ctx.values)
        for i, t in enumerate(self.diversion):
            f = _add_flows(f, flows, t, ctx, f"diversion[{i}]")
        return f

    def _flows_text(self, lang: str) -> str:
        where = self.street or self.sensor
        if self.modes:
            modes = _modes_text(self.modes, lang)
        else:
            modes = "trafic motorisé" if lang == "fr" else "motor traffic"
        when = self.period.text(lang) if self.period else ("sur toute la période" if lang == "fr" else
                                                         "over the whole period")
        div = ", ".join(f"{t.sensor} {_pct(t.share, lang)}" for t in self.diversion)
        if lang == "fr":
            s = f"{where} ({self.sensor}), {modes}, {when} : {_pct(self.kept_share, lang)} du trafic maintenu"
            s += f" ; report : {div}" if div else " ; aucun report"
            s += f" ; évaporation {_pct(self.evaporated_share, lang)}"
            if self.induced_share:
                s += f" ; trafic induit {_pct(self.induced_share, lang)}"
            return s
        s = f"{where} ({self.sensor}), {modes}, {when}: {_pct(self.kept_share, lang)} of the traffic kept"
        s += f"; diverted to {div}" if div else "; no diversion"
        s += f"; evaporated {_pct(self.evaporated_share, lang)}"
        if self.induced_share:
            s += f"; induced {_pct(self.induced_share, lang)}"
        return s


class Closure(_Diversion):
    """A street closed to motor traffic (roadworks): ``kept_share`` stays, the rest is diverted or evaporates."""

    kind: Literal["closure"]

    def describe(self, lang: str = "fr", groups: Mapping[str, Sequence[str]] | None = None) -> str:
        return ("Fermeture : " if lang == "fr" else "Closure: ") + self._flows_text(lang) + "."


class Pedestrianisation(_Diversion):
    """Motor traffic removed from a street (diverted as a closure) and more pedestrians on it."""

    kind: Literal["pedestrianisation"]
    pedestrian_uplift: Multiplier = Field(default=1.0, description="multiplier on pedestrians")
    uplift_sensors: list[SensorId] | None = Field(default=None,
                                                  description="sensors whose pedestrians rise (default: `sensor`)")

    def referenced_sensors(self) -> list[tuple[str, str]]:
        return super().referenced_sensors() + [(f"uplift_sensors[{i}]", s)
                                               for i, s in enumerate(self.uplift_sensors or [])]

    def apply(self, f: pl.DataFrame, ctx: _Context) -> pl.DataFrame:
        f = super().apply(f, ctx)
        if self.pedestrian_uplift == 1.0:
            return f
        ids = list(self.uplift_sensors or [self.sensor])
        for i, sid in enumerate(ids):
            if "pedestrian" not in ctx.modes_of(sid):
                field = f"uplift_sensors[{i}]" if self.uplift_sensors else "sensor"
                raise ctx.fail(f"{field}: sensor {sid!r} has no pedestrian series for the pedestrian_uplift "
                               f"(its modes: {', '.join(ctx.modes_of(sid))}); name a pedestrian counter in "
                               "uplift_sensors")
        sel = pl.col("sensor_id").is_in(ids) & (pl.col("mode") == "pedestrian") & ctx.window(self.period)
        return f.with_columns([pl.when(sel).then(pl.col(c) * self.pedestrian_uplift).otherwise(pl.col(c)).alias(c)
                               for c in ctx.values])

    def describe(self, lang: str = "fr", groups: Mapping[str, Sequence[str]] | None = None) -> str:
        head = "Piétonnisation : " if lang == "fr" else "Pedestrianisation: "
        s = head + self._flows_text(lang)
        if self.pedestrian_uplift != 1.0:
            ids = ", ".join(self.uplift_sensors or [self.sensor])
            s += (f" ; piétons ×{_num(self.pedestrian_uplift, lang)} ({ids})" if lang == "fr" else
                  f"; pedestrians ×{_num(self.pedestrian_uplift, lang)} ({ids})")
        return s + "."


class ModalShift(_Noted):
    """A share of the trips of ``from_modes`` on ``sensors`` moves to ``to_mode``.

    The moved vehicles become ``persons_per_vehicle`` trips each, counted on the same sensors (same
    direction, ``to_mode``) or, with ``counted_at``, on other sensors by share (a share below 1 in total
    means part of the new trips passes no counter).
    """

    kind: Literal["modal_shift"]
    sensors: list[SensorId] = Field(min_length=1, description="where car trips are taken away")
    from_modes: list[Mode] = Field(default_factory=lambda: ["car"], min_length=1)
    to_mode: Literal["bike", "pedestrian"]
    share: Share = Field(description="share of the from_modes traffic moved (0–1)")
    persons_per_vehicle: float = Field(default=1.0, gt=0, le=10, description="trips per vehicle moved")
    counted_at: list[Target] | None = Field(default=None, description="where the new trips are counted")
    period: Period | None = None

    @model_validator(mode="after")
    def _counted(self) -> ModalShift:
        if self.counted_at is not None and sum(t.share for t in self.counted_at) > 1 + SHARE_TOLERANCE:
            raise ValueError(f"counted_at shares add up to {sum(t.share for t in self.counted_at):g}; "
                             "expected at most 1 (each new trip is counted once at most)")
        return self

    def referenced_sensors(self) -> list[tuple[str, str]]:
        return [(f"sensors[{i}]", s) for i, s in enumerate(self.sensors)] + [
            (f"counted_at[{i}].sensor", t.sensor) for i, t in enumerate(self.counted_at or [])]

    def apply(self, f: pl.DataFrame, ctx: _Context) -> pl.DataFrame:
        sel = pl.col("sensor_id").is_in(list(self.sensors)) & pl.col("mode").is_in(list(self.from_modes)) \
            & ctx.window(self.period)
        f, flows = _removed(f, sel, 1.0 - self.share, ctx.values)
        if self.counted_at is not None:
            for i, t in enumerate(self.counted_at):
                f = _add_flows(f, flows, t, ctx, f"counted_at[{i}]", to_mode=self.to_mode,
                               scale=self.persons_per_vehicle)
            return f
        for i, sid in enumerate(self.sensors):
            own = flows.filter(pl.col("sensor_id") == sid)
            dirs = sorted(set(own["direction"].to_list()))
            target = Target(sensor=sid, share=1.0, direction_map={d: d for d in dirs})
            f = _add_flows(f, own, target, ctx, f"sensors[{i}] (no counted_at: same sensor)", to_mode=self.to_mode,
                           scale=self.persons_per_vehicle)
        return f

    def describe(self, lang: str = "fr", groups: Mapping[str, Sequence[str]] | None = None) -> str:
        frm, to = _modes_text(self.from_modes, lang), MODE_NAMES[lang][self.to_mode]
        where = ", ".join(self.sensors)
        when = f", {self.period.text(lang)}" if self.period else ""
        if self.counted_at is None:
            seen = "comptés sur les mêmes capteurs" if lang == "fr" else "counted on the same sensors"
        else:
            seen = ", ".join(f"{t.sensor} {_pct(t.share, lang)}" for t in self.counted_at)
            seen = ("comptés à : " if lang == "fr" else "counted at: ") + seen
        ppv = _num(self.persons_per_vehicle, lang)
        if lang == "fr":
            return (f"Report modal : {_pct(self.share, lang)} des déplacements {frm} vers {to} sur {where}{when} "
                    f"({ppv} déplacement par véhicule ; {seen}).")
        return (f"Modal shift: {_pct(self.share, lang)} of {frm} trips to {to} on {where}{when} "
                f"({ppv} trip per vehicle; {seen}).")


class CapacityChange(_Noted):
    """Lanes and capacity (UVP/h) of a sensor's road, before and after, per direction.

    Volumes are unchanged (demand stays; queues form): the capacity feeds the hours-above-saturation
    indicator of :mod:`scenarios.deltas`, with the UVP coefficient set ``uvp_set``.
    """

    kind: Literal["capacity_change"]
    sensor: SensorId
    street: str | None = None
    directions: list[str] | None = Field(default=None, description="directions concerned (all when omitted)")
    lanes_before: int = Field(default=1, ge=1, le=6)
    lanes_after: int = Field(ge=1, le=6)
    lane_capacity_uvp_h: float = Field(gt=0, le=4000, description="capacity of one lane before, UVP/h")
    lane_capacity_after_uvp_h: float | None = Field(default=None, gt=0, le=4000,
                                                    description="capacity of one lane after (default: unchanged)")
    uvp_set: str = Field(default=DEFAULT_UVP_SET, description="UVP coefficient set (sensors_io.indicators.UVP_SETS)")
    period: Period | None = None

    @field_validator("uvp_set")
    @classmethod
    def _known_set(cls, v: str) -> str:
        if v not in UVP_SETS:
            raise ValueError(f"unknown UVP coefficient set {v!r}; expected one of: {', '.join(sorted(UVP_SETS))}")
        return v

    @property
    def capacity_before(self) -> float:
        return self.lanes_before * self.lane_capacity_uvp_h

    @property
    def capacity_after(self) -> float:
        return self.lanes_after * (self.lane_capacity_after_uvp_h or self.lane_capacity_uvp_h)

    def referenced_sensors(self) -> list[tuple[str, str]]:
        return [("sensor", self.sensor)]

    def apply(self, f: pl.DataFrame, ctx: _Context) -> pl.DataFrame:
        motor = [m for m in ctx.modes_of(self.sensor) if m in uvp_coefficients(self.uvp_set)]
        if not motor:
            raise ctx.fail(f"sensor {self.sensor!r} counts no motor traffic (its modes: "
                           f"{', '.join(ctx.modes_of(self.sensor))}); a capacity in UVP/h needs modes with a UVP "
                           f"coefficient in set {self.uvp_set!r}")
        known = sorted({d for m in motor for d in ctx.directions_of(self.sensor, m)})
        for i, d in enumerate(self.directions or []):
            if d not in known:
                raise ctx.fail(f"directions[{i}]: sensor {self.sensor!r} has no direction {d!r} "
                               f"(its directions: {', '.join(known)})")
        return f

    def describe(self, lang: str = "fr", groups: Mapping[str, Sequence[str]] | None = None) -> str:
        where = self.street or self.sensor
        dirs = ", ".join(direction_label(d, lang) for d in self.directions) if self.directions else \
            direction_label("all", lang)
        b, a = _num(self.capacity_before, lang), _num(self.capacity_after, lang)
        word = "voie" if lang == "fr" else "lane"

        def lanes(n: int) -> str:
            return f"{n} {word}{'s' if n > 1 else ''}"

        lane_text = (lanes(self.lanes_before) if self.lanes_before == self.lanes_after
                     else f"{lanes(self.lanes_before)} → {lanes(self.lanes_after)}")
        same = self.capacity_before == self.capacity_after
        coef = UVP_SET_NAMES[lang].get(self.uvp_set, self.uvp_set)
        if lang == "fr":
            cap = f"{b} UVP/h par sens, inchangée" if same else f"{b} → {a} UVP/h par sens"
            return f"Capacité : {where} ({self.sensor}, {dirs}) — {lane_text}, {cap} (coefficients UVP {coef})."
        cap = f"{b} PCU/h per direction, unchanged" if same else f"{b} → {a} PCU/h per direction"
        return f"Capacity: {where} ({self.sensor}, {dirs}) — {lane_text}, {cap} (PCU coefficients {coef})."


Hypothesis = Annotated[
    SeasonalSurge | DemandGrowth | EventDays | Closure | Pedestrianisation | ModalShift | CapacityChange,
    Field(discriminator="kind"),
]
#: Hypotheses that move traffic from a closed street (the mass balance covers them).
DIVERSION_KINDS: tuple[str, ...] = ("closure", "pedestrianisation")


class ScenarioSpec(BaseModel):
    """A what-if scenario: a period and hypotheses applied in order to the baseline forecast."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$", max_length=64,
                      description="slug: lowercase letters, digits, '-' or '_'")
    title_fr: str = Field(min_length=1)
    title_en: str = Field(min_length=1)
    description_fr: str = ""
    description_en: str = ""
    period: Period
    sensor_groups: dict[str, list[SensorId]] = Field(default_factory=dict,
                                                     description="named lists of sensor ids, used by `groups`")
    hypotheses: list[Hypothesis] = Field(min_length=1)
    #: The file the spec was read from (set by :func:`load_scenario`), for error messages.
    _source: str | None = PrivateAttr(default=None)

    @field_validator("name")
    @classmethod
    def _not_baseline(cls, v: str) -> str:
        if v == "baseline":
            raise ValueError("'baseline' is reserved for the forecast without scenario")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> ScenarioSpec:
        problems = []
        for i, h in enumerate(self.hypotheses):
            for g in h.referenced_groups():
                if g not in self.sensor_groups:
                    known = ", ".join(sorted(self.sensor_groups)) or "none"
                    problems.append(f"hypotheses[{i}].groups: unknown sensor group {g!r} "
                                    f"(sensor_groups defines: {known})")
            period = getattr(h, "period", None)
            if period is not None and not self.period.contains(period):
                problems.append(f"hypotheses[{i}].period: {period.start}..{period.end} is not inside the scenario "
                                f"period {self.period.start}..{self.period.end}")
            for d in getattr(h, "dates", None) or []:
                if not self.period.start <= d <= self.period.end:
                    problems.append(f"hypotheses[{i}].dates: {d} is not inside the scenario period "
                                    f"{self.period.start}..{self.period.end}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def source(self) -> str | None:
        """The file this spec was read from, if any."""
        return self._source

    def title(self, lang: str = "fr") -> str:
        return self.title_fr if lang == "fr" else self.title_en

    def description(self, lang: str = "fr") -> str:
        return self.description_fr if lang == "fr" else self.description_en

    def sensor_ids(self) -> list[str]:
        """Every sensor id the file names (hypotheses and the groups they use), sorted."""
        ids = {s for h in self.hypotheses for _, s in h.referenced_sensors()}
        ids |= {s for h in self.hypotheses for g in h.referenced_groups() for s in self.sensor_groups.get(g, [])}
        return sorted(ids)

    def capacities(self) -> pl.DataFrame:
        """One row per capacity hypothesis: sensor_id, direction (null = all), capacity before / after
        (UVP/h per direction), uvp_set, period start / end (local dates)."""
        rows = []
        for h in self.hypotheses:
            if isinstance(h, CapacityChange):
                p = h.period or self.period
                for d in h.directions or [None]:
                    rows.append({"sensor_id": h.sensor, "direction": d, "capacity_before": h.capacity_before,
                                 "capacity_after": h.capacity_after, "uvp_set": h.uvp_set,
                                 "start": p.start, "end": p.end})
        return pl.DataFrame(rows, schema={"sensor_id": pl.String, "direction": pl.String,
                                          "capacity_before": pl.Float64, "capacity_after": pl.Float64,
                                          "uvp_set": pl.String, "start": pl.Date, "end": pl.Date})


def _loc(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        if part == "[key]":  # pydantic marks an invalid dict key this way
            out += " (key)"
        elif isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def format_errors(path: Path, err: ValidationError, what: str = "scenario file") -> str:
    """One line per problem: the field path and what was expected (pydantic's message), under the file name."""
    lines = [f"{path}: invalid {what} ({err.error_count()} problem{'s' if err.error_count() > 1 else ''})"]
    for e in err.errors(include_url=False):
        got = e.get("input")
        shown = "" if e["type"] == "missing" or isinstance(got, dict | list) else f" (got {got!r})"
        lines.append(f"  - {_loc(e['loc'])}: {e['msg']}{shown}")
    return "\n".join(lines)


def read_yaml_mapping(path: str | Path, what: str = "scenario file",
                      error: type[ValueError] = ScenarioFileError) -> dict[str, Any]:
    """The top-level mapping of a YAML file; unreadable files and syntax errors raise ``error``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{path}: cannot read the {what} ({exc.__class__.__name__}: {exc})") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        raise error(f"{path}: not valid YAML at {where}: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise error(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise error(f"{path}: expected a mapping of {what.replace(' file', '')} fields at the top level, "
                    f"got {type(raw).__name__}")
    return raw


def load_scenario(path: str | Path) -> ScenarioSpec:
    """Read and validate a scenario YAML file; every problem raises :class:`ScenarioFileError`.

    The message names the file and, for each problem, the field path (``hypotheses[0].multipliers.13``)
    and what was expected; YAML syntax errors give the line and column.
    """
    path = Path(path)
    raw = read_yaml_mapping(path)
    try:
        spec = ScenarioSpec.model_validate(raw)
    except ValidationError as err:
        raise ScenarioFileError(format_errors(path, err)) from None
    spec._source = str(path)
    return spec


def value_columns(frame: pl.DataFrame) -> tuple[str, ...]:
    """The forecast value columns a scenario scales: ``yhat`` and every interval bound (``yhat_*``)."""
    return tuple(c for c in frame.columns if c == "yhat" or c.startswith("yhat_"))


def _prepare(baseline: pl.DataFrame, spec: ScenarioSpec, tz: str) -> pl.DataFrame:
    """Baseline rows inside the period with the local helper columns and a row number."""
    local = pl.col("start_utc").dt.convert_time_zone(tz)
    return (
        baseline.with_columns(_date=local.dt.date(), _hour=local.dt.hour(), _month=local.dt.month())
        .filter(pl.col("_date").is_between(spec.period.start, spec.period.end))
        .with_row_index("_row")
    )


def scenario_steps(baseline: pl.DataFrame, spec: ScenarioSpec, tz: str = "Europe/Paris") -> Iterator[pl.DataFrame]:
    """The baseline over the period, then the frame after each hypothesis in turn (``1 + len(hypotheses)``
    frames, with helper columns ``_row``, ``_date``, ``_hour``, ``_month``)."""
    series = baseline.select("sensor_id", "mode", "direction").unique()
    values = value_columns(baseline)
    f = _prepare(baseline, spec, tz)
    yield f
    for i, h in enumerate(spec.hypotheses):
        ctx = _Context(spec, i, series, values)
        for field, sid in h.referenced_sensors():
            ctx.check_sensors([sid], field)
        for g in h.referenced_groups():
            ctx.check_sensors(spec.sensor_groups[g], f"sensor_groups.{g}")
        f = h.apply(f, ctx)
        yield f


def apply_scenario(baseline: pl.DataFrame, spec: ScenarioSpec, tz: str = "Europe/Paris") -> pl.DataFrame:
    """Scenario forecast: baseline rows inside ``spec.period`` (local dates), transformed by each hypothesis
    in order.

    Same columns and types as the baseline (forecasts contract), with ``scenario = spec.name``. Raises
    :class:`ScenarioDataError` when the file names a sensor, mode or direction the baseline does not have.
    """
    *_, f = scenario_steps(baseline, spec, tz)
    f = f.sort("_row").with_columns(scenario=pl.lit(spec.name, dtype=baseline.schema.get("scenario", pl.String)))
    return f.select(baseline.columns)
