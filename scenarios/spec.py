"""Planning scenarios: YAML files validated with pydantic, applied as multipliers on a baseline forecast.

A scenario file (see ``scenarios/catalog/``) names a period and a list of hypotheses, each one of:

``seasonal_surge``
    a multiplier per month number (``{7: 1.15, 8: 1.25}``), optionally only for some modes / sensors;
``demand_growth``
    ``pct_per_year`` compounded from a ``reference`` date: factor ``(1 + pct/100) ** (days / 365.25)``;
``event_days``
    a multiplier on some local ``dates`` and (optionally) local ``hours`` (0–23; all day when omitted).

Hypotheses apply in file order, multiplying ``yhat``, ``yhat_lower`` and ``yhat_upper`` alike (a planning
hypothesis scales the traffic; it does not claim to know more or less about it). Months, dates and hours
are local (``tz``, Europe/Paris by default).

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
from pathlib import Path
from typing import Annotated, Literal

import polars as pl
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

#: Modes of the canonical counts (DESIGN.md).
Mode = Literal["car", "heavy", "bike", "pedestrian", "bus", "motorcycle", "scooter", "all_vehicles", "other"]
Month = Annotated[int, Field(ge=1, le=12)]
LocalHour = Annotated[int, Field(ge=0, le=23)]
Multiplier = Annotated[float, Field(gt=0, le=100)]

MONTHS = {
    "fr": ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
           "novembre", "décembre"],
    "en": ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"],
}
MODE_NAMES = {
    "fr": {"car": "voiture", "heavy": "poids lourd", "bike": "vélo", "pedestrian": "piéton", "bus": "bus",
           "motorcycle": "deux-roues motorisé", "scooter": "trottinette", "all_vehicles": "tous véhicules",
           "other": "autre"},
    "en": {"car": "car", "heavy": "heavy vehicle", "bike": "bike", "pedestrian": "pedestrian", "bus": "bus",
           "motorcycle": "motorcycle", "scooter": "scooter", "all_vehicles": "all vehicles", "other": "other"},
}


class ScenarioFileError(ValueError):
    """A scenario file that cannot be read or does not validate; the message is meant for people."""


def _num(x: float, lang: str) -> str:
    s = f"{x:g}"
    return s.replace(".", ",") if lang == "fr" else s


def _date(d: dt.date, lang: str) -> str:
    if lang == "fr":
        return f"{d.day} {MONTHS['fr'][d.month - 1]} {d.year}"
    return f"{d.day} {MONTHS['en'][d.month - 1]} {d.year}"


class _Filtered(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    modes: list[Mode] | None = Field(default=None, description="only these modes (all when omitted)")
    sensors: list[str] | None = Field(default=None, description="only these sensor_id (all when omitted)")
    note_fr: str | None = Field(default=None, description="why this hypothesis (French)")
    note_en: str | None = Field(default=None, description="why this hypothesis (English)")

    def _where(self) -> pl.Expr:
        cond = pl.lit(True)
        if self.modes is not None:
            cond = cond & pl.col("mode").is_in(list(self.modes))
        if self.sensors is not None:
            cond = cond & pl.col("sensor_id").is_in(list(self.sensors))
        return cond

    def _scope(self, lang: str) -> str:
        names = MODE_NAMES[lang]
        if lang == "fr":
            m = "modes : " + ", ".join(names[x] for x in self.modes) if self.modes else "tous modes"
            s = "capteurs : " + ", ".join(self.sensors) if self.sensors else "tous capteurs"
        else:
            m = "modes: " + ", ".join(names[x] for x in self.modes) if self.modes else "all modes"
            s = "sensors: " + ", ".join(self.sensors) if self.sensors else "all sensors"
        return f"{m} ; {s}" if lang == "fr" else f"{m}; {s}"

    def note(self, lang: str) -> str | None:
        return self.note_fr if lang == "fr" else self.note_en


class SeasonalSurge(_Filtered):
    """Multiply by month (local): ``multipliers: {7: 1.15, 8: 1.25}``."""

    kind: Literal["seasonal_surge"]
    multipliers: dict[Month, Multiplier] = Field(min_length=1)

    def factor(self) -> pl.Expr:
        months = sorted(self.multipliers)
        m = pl.col("_month").replace_strict(months, [self.multipliers[k] for k in months], default=1.0,
                                            return_dtype=pl.Float64)
        return pl.when(self._where()).then(m).otherwise(1.0)

    def describe(self, lang: str = "fr") -> str:
        parts = ", ".join(f"{MONTHS[lang][k - 1]} ×{_num(v, lang)}" for k, v in sorted(self.multipliers.items()))
        head = "Hausse saisonnière" if lang == "fr" else "Seasonal surge"
        sep = " : " if lang == "fr" else ": "
        return f"{head}{sep}{parts} — {self._scope(lang)}."


class DemandGrowth(_Filtered):
    """Compound growth of ``pct_per_year`` % from ``reference`` (negative = decline)."""

    kind: Literal["demand_growth"]
    pct_per_year: float = Field(gt=-100, le=100)
    reference: dt.date

    def factor(self) -> pl.Expr:
        years = (pl.col("_date") - pl.lit(self.reference)).dt.total_days().cast(pl.Float64) / 365.25
        m = pl.lit(1.0 + self.pct_per_year / 100.0).pow(years)
        return pl.when(self._where()).then(m).otherwise(1.0)

    def describe(self, lang: str = "fr") -> str:
        p = _num(self.pct_per_year, lang)
        if lang == "fr":
            return (f"Évolution de la demande : {p} % par an à partir du {_date(self.reference, lang)} "
                    f"— {self._scope(lang)}.")
        return f"Demand growth: {p} % per year from {_date(self.reference, lang)} — {self._scope(lang)}."


class EventDays(_Filtered):
    """Multiply on given local dates, optionally only at given local hours."""

    kind: Literal["event_days"]
    dates: list[dt.date] = Field(min_length=1)
    multiplier: Multiplier
    hours: list[LocalHour] | None = Field(default=None, description="local hours (0–23); all day when omitted")
    label_fr: str | None = None
    label_en: str | None = None

    def factor(self) -> pl.Expr:
        cond = self._where() & pl.col("_date").is_in(list(self.dates))
        if self.hours is not None:
            cond = cond & pl.col("_hour").is_in(list(self.hours))
        return pl.when(cond).then(pl.lit(self.multiplier)).otherwise(1.0)

    def describe(self, lang: str = "fr") -> str:
        days = ", ".join(_date(d, lang) for d in sorted(self.dates))
        label = self.label_fr if lang == "fr" else self.label_en
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
        head = ("Événement" if lang == "fr" else "Event") + (f" « {label} »" if lang == "fr" and label else
                                                             f" “{label}”" if label else "")
        sep = " : " if lang == "fr" else ": "
        return f"{head}{sep}{days}, {when}, ×{_num(self.multiplier, lang)} — {self._scope(lang)}."


Hypothesis = Annotated[SeasonalSurge | DemandGrowth | EventDays, Field(discriminator="kind")]


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
    hypotheses: list[Hypothesis] = Field(min_length=1)

    @field_validator("name")
    @classmethod
    def _not_baseline(cls, v: str) -> str:
        if v == "baseline":
            raise ValueError("'baseline' is reserved for the forecast without scenario")
        return v

    def title(self, lang: str = "fr") -> str:
        return self.title_fr if lang == "fr" else self.title_en

    def description(self, lang: str = "fr") -> str:
        return self.description_fr if lang == "fr" else self.description_en


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


def _format_errors(path: Path, err: ValidationError) -> str:
    lines = [f"{path}: invalid scenario file ({err.error_count()} problem{'s' if err.error_count() > 1 else ''})"]
    for e in err.errors(include_url=False):
        got = e.get("input")
        shown = "" if e["type"] == "missing" or isinstance(got, dict | list) else f" (got {got!r})"
        lines.append(f"  - {_loc(e['loc'])}: {e['msg']}{shown}")
    return "\n".join(lines)


def load_scenario(path: str | Path) -> ScenarioSpec:
    """Read and validate a scenario YAML file; every problem raises :class:`ScenarioFileError`.

    The message names the file and, for each problem, the field path (``hypotheses[0].multipliers.13``)
    and what was expected; YAML syntax errors give the line and column.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioFileError(f"{path}: cannot read the scenario file ({exc.__class__.__name__}: {exc})") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        raise ScenarioFileError(f"{path}: not valid YAML at {where}: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise ScenarioFileError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ScenarioFileError(f"{path}: expected a mapping of scenario fields at the top level, got {type(raw).__name__}")
    try:
        return ScenarioSpec.model_validate(raw)
    except ValidationError as err:
        raise ScenarioFileError(_format_errors(path, err)) from None


def apply_scenario(baseline: pl.DataFrame, spec: ScenarioSpec, tz: str = "Europe/Paris") -> pl.DataFrame:
    """Scenario forecast: baseline rows inside ``spec.period`` (local dates) × each hypothesis in order.

    Same columns and types as the baseline (forecasts contract), with ``scenario = spec.name``.
    """
    local = pl.col("start_utc").dt.convert_time_zone(tz)
    f = baseline.with_columns(_date=local.dt.date(), _hour=local.dt.hour(), _month=local.dt.month())
    f = f.filter(pl.col("_date").is_between(spec.period.start, spec.period.end))
    mult = pl.lit(1.0)
    for h in spec.hypotheses:
        mult = mult * h.factor()
    f = f.with_columns(_mult=mult).with_columns(
        pl.col("yhat", "yhat_lower", "yhat_upper") * pl.col("_mult"),
        scenario=pl.lit(spec.name, dtype=baseline.schema.get("scenario", pl.String)),
    )
    return f.select(baseline.columns)
