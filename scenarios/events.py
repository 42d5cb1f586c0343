"""The town event calendar: festivals, fairs and markets that change street traffic on given days.

A town keeps one small file (YAML or CSV) beside its configuration. The file says how far ahead it is
complete (``covers_until``): forecasting past that date stops with an error naming the file, because a
missing festival is not "no festival".

YAML (``docs/forecasting.md`` has the full reference)::

    covers_until: 2026-12-31        # the file lists every event up to this day (inclusive)
    events:
      - name: Fête du Hareng
        kind: festival              # festival | market | fair | sport | other
        start: 2025-11-15
        end: 2025-11-16             # inclusive; default = start
      - name: Marché du samedi
        kind: market
        weekly: saturday            # a weekly market: every Saturday from ``start`` (to ``end`` if given)
        start: 2020-01-04

CSV (``,`` separated, UTF-8): header ``name,kind,start,end,weekly`` and a first line
``# covers_until: 2026-12-31``; empty ``end`` = one day, empty ``weekly`` = not recurring.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path
from typing import Literal

import polars as pl
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

Kind = Literal["festival", "market", "fair", "sport", "other"]
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class EventFileError(ValueError):
    """The event calendar file cannot be used (the message names the file, the entry and the field)."""


class Event(BaseModel):
    """One event: a day range, or a weekly recurrence (markets)."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    kind: Kind = "other"
    start: dt.date
    end: dt.date | None = None
    weekly: Literal[WEEKDAYS] | None = None  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _order(self) -> Event:
        if self.end is not None and self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self

    def days(self, first: dt.date, last: dt.date) -> list[dt.date]:
        """The event's days inside ``[first, last]``."""
        a = max(self.start, first)
        if self.weekly is None:
            b = min(self.end or self.start, last)
            return [a + dt.timedelta(days=i) for i in range((b - a).days + 1)]
        b = min(self.end or last, last)
        wd = WEEKDAYS.index(self.weekly) + 1
        a = a + dt.timedelta(days=(wd - a.isoweekday()) % 7)
        return [a + dt.timedelta(days=7 * i) for i in range(max(0, (b - a).days // 7 + 1))] if a <= b else []


class EventCalendar(BaseModel):
    """The town's events and the last day the list is complete."""

    model_config = ConfigDict(extra="forbid")
    covers_until: dt.date
    events: list[Event] = Field(default_factory=list)
    source: str = "<memory>"

    def frame(self, start: dt.date, end: dt.date) -> pl.DataFrame:
        """One row per date in ``[start, end]``: ``date``, ``is_event`` (festival, fair, sport, other),
        ``is_market``, ``is_one_off`` (an entry without ``weekly`` falls on that day: a festival, or a
        market held on given dates only; the forecast's medians leave such days out, not weekly ones),
        ``event_name`` (names joined with " + ", null otherwise).

        Raises :class:`scenarios.calendars.CalendarCoverageError` when ``end`` is past ``covers_until``.
        """
        from scenarios.calendars import CalendarCoverageError  # noqa: PLC0415 (cycle)

        if end > self.covers_until:
            raise CalendarCoverageError(
                f"the town event calendar {self.source} is complete only to {self.covers_until} "
                f"(covers_until); cannot forecast to {end}. Add the events after {self.covers_until} "
                "to that file and move covers_until forward."
            )
        names: dict[dt.date, list[str]] = {}
        market: set[dt.date] = set()
        one_off: set[dt.date] = set()
        for ev in self.events:
            for d in ev.days(start, end):
                if ev.weekly is None:
                    one_off.add(d)
                if ev.kind == "market":
                    market.add(d)
                else:
                    names.setdefault(d, []).append(ev.name)
        days = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
        return pl.DataFrame({
            "date": days,
            "is_event": [d in names for d in days],
            "is_market": [d in market for d in days],
            "is_one_off": [d in one_off for d in days],
            "event_name": [" + ".join(sorted(names[d])) if d in names else None for d in days],
        }, schema_overrides={"event_name": pl.String})


def _fail(path: Path, err: ValidationError | str) -> EventFileError:
    if isinstance(err, str):
        return EventFileError(f"{path}: {err}")
    first = err.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return EventFileError(f"{path}: field '{where}': {first['msg']} (got {first.get('input')!r})")


def _read_csv(path: Path, text: str) -> dict:
    lines = text.splitlines()
    if not lines or not lines[0].lstrip().startswith("#") or "covers_until" not in lines[0]:
        raise _fail(path, "line 1: expected '# covers_until: YYYY-MM-DD' (how far ahead the list is complete)")
    covers = lines[0].split(":", 1)[1].strip()
    rows = list(csv.DictReader(io.StringIO("\n".join(lines[1:]))))
    need = {"name", "kind", "start"}
    if rows and not need <= set(rows[0]):
        raise _fail(path, f"line 2: header must have columns {sorted(need)} (+ end, weekly); got {list(rows[0])}")
    events = [{k: v for k, v in r.items() if k is not None and v not in (None, "")} for r in rows]
    return {"covers_until": covers, "events": events}


#: The town event calendar in the home folder (one of them): the forecast reads it when it is there.
TOWN_EVENT_FILES = ("events.yaml", "events.yml", "events.csv")


def town_events(home: str | Path) -> EventCalendar | None:
    """The event calendar ``<home>/events.yaml`` (or ``.yml``, ``.csv``), None without one; two of them
    are an error (which one holds the truth?)."""
    found = [Path(home) / n for n in TOWN_EVENT_FILES if (Path(home) / n).is_file()]
    if len(found) > 1:
        raise EventFileError(f"{' and '.join(str(p) for p in found)}: keep one town event calendar, not {len(found)}")
    return load_events(found[0]) if found else None


def load_events(path: str | Path) -> EventCalendar:
    """Read and validate a town event calendar (``.yaml``/``.yml`` or ``.csv``)."""
    path = Path(path)
    if not path.is_file():
        raise EventFileError(f"{path}: no such event calendar file")
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".csv":
        data = _read_csv(path, text)
    elif path.suffix.lower() in (".yaml", ".yml"):
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise _fail(path, f"not valid YAML: {exc}") from exc
        if not isinstance(data, dict):
            raise _fail(path, "expected a mapping with 'covers_until' and 'events'")
    else:
        raise _fail(path, "expected a .yaml, .yml or .csv file")
    try:
        return EventCalendar(**data, source=str(path))
    except ValidationError as exc:
        raise _fail(path, exc) from exc
