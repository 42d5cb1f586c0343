"""Calendars for a town: public holidays, school holidays by zone, bridge days, Pentecost Monday,
summer season and the town's own events.

Sources: ``holidays`` (public holidays; France métropole by default, any country/subdivision the package
knows for data from elsewhere, e.g. the UCI I-94 file: ``country="US", subdiv="MN"``),
``vacances-scolaires-france`` (school holidays per zone, offline table; France only) and the town event
calendar file (:mod:`scenarios.events`). Fécamp is in zone B (académie de Normandie) since 2016.

Coverage guard: every table that ends somewhere (school holidays, the event file) is checked against the
requested dates; asking past its end raises :class:`CalendarCoverageError` naming what to update, never
a silent "no holiday".
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import holidays as holidays_lib
import polars as pl
from dateutil.easter import easter
from vacances_scolaires_france import SchoolHolidayDates

from scenarios.events import EventCalendar

#: Months of the seaside tourist season (a proposal of this project: school flags miss it).
SUMMER_MONTHS: frozenset[int] = frozenset({7, 8})
#: School-holiday zones of ``vacances-scolaires-france`` (métropole).
SCHOOL_ZONES: tuple[str, ...] = ("A", "B", "C")


class CalendarCoverageError(ValueError):
    """Asked for calendar days beyond what the installed calendar data covers."""


@lru_cache(maxsize=1)
def _school() -> SchoolHolidayDates:
    return SchoolHolidayDates()


def _check_zone(zone: str) -> None:
    if zone not in SCHOOL_ZONES:
        raise ValueError(f"school zone must be one of {', '.join(SCHOOL_ZONES)} (MOBILITY_SCHOOL_ZONE); got {zone!r}")


@lru_cache(maxsize=8)
def school_calendar_last_day(zone: str = "B") -> dt.date:
    """Last date for which the school-holiday table is known to be complete for ``zone``.

    Coverage is per calendar year of the last holiday present (see INDICATORS.md §6.3): the table's
    last holiday ends in summer, so the autumn after it is unknown, not "no holiday".
    """
    _check_zone(zone)
    school = _school()
    return max(
        d for y in range(school.max_year - 1, school.max_year + 1)
        for d, row in school.holidays_for_year_and_zone(y, zone).items()
    )


def calendar_last_day(zone: str = "B", *, country: str = "FR", events: EventCalendar | None = None) -> dt.date:
    """The last local date every calendar source used for ``country`` covers (the forecast guard)."""
    last = school_calendar_last_day(zone) if country == "FR" else dt.date.max
    return min(last, events.covers_until) if events is not None else last


def _public_holidays(years: list[int], country: str, subdiv: str | None) -> holidays_lib.HolidayBase:
    try:
        if country == "FR":
            return holidays_lib.country_holidays("FR", subdiv=subdiv, years=years, language="fr")
        return holidays_lib.country_holidays(country, subdiv=subdiv, years=years)
    except (NotImplementedError, KeyError) as exc:
        raise ValueError(
            f"the 'holidays' package has no calendar for country {country!r} subdivision {subdiv!r}: {exc}"
        ) from exc


def calendar_frame(start: dt.date, end: dt.date, zone: str = "B", *, country: str = "FR",
                   subdiv: str | None = None, events: EventCalendar | None = None) -> pl.DataFrame:
    """One row per local date in ``[start, end]`` with the calendar flags used by models and indicators.

    Columns: ``date`` (Date), ``dow`` (1 = Monday … 7 = Sunday), ``is_public_holiday``,
    ``holiday_name`` (null otherwise), ``is_pentecost_monday``, ``is_school_holiday`` (France only;
    False elsewhere), ``is_bridge_day`` (a working day between a Tuesday/Thursday holiday and the
    weekend), ``is_summer`` (July–August), ``is_working_day`` (Mon–Fri, not a public holiday),
    ``is_event``, ``is_market`` and ``is_one_off_event`` (the town event calendar, see
    :meth:`scenarios.events.EventCalendar.frame`; False without one).

    Raises :class:`CalendarCoverageError` when ``end`` is past the school-holiday data (France) or past
    the event file's ``covers_until``.

    Examples
    --------
    >>> f = calendar_frame(dt.date(2025, 5, 29), dt.date(2025, 5, 30))
    >>> f.select("date", "is_public_holiday", "is_bridge_day").rows()
    [(datetime.date(2025, 5, 29), True, False), (datetime.date(2025, 5, 30), False, True)]
    """
    if end < start:
        raise ValueError(f"calendar end {end} is before start {start}")
    years = list(range(start.year, end.year + 1))
    school_days: set[dt.date] = set()
    if country == "FR":
        last = school_calendar_last_day(zone)
        if end > last:
            raise CalendarCoverageError(
                f"school-holiday data for zone {zone} ends on {last}; cannot build a calendar to {end}. "
                "Update the 'vacances-scolaires-france' package (pip install -U vacances-scolaires-france)."
            )
        school = _school()
        for y in years:
            if school.min_year <= y <= school.max_year:
                school_days.update(school.holidays_for_year_and_zone(y, zone))
    ev = events.frame(start, end) if events is not None else None  # raises past covers_until
    public = _public_holidays(years, country, subdiv)
    days = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
    hol = {d: public.get(d) for d in days}
    pentecost = {easter(y) + dt.timedelta(days=50) for y in years}

    def is_bridge(d: dt.date) -> bool:
        # Friday after a Thursday holiday, Monday before a Tuesday holiday.
        if d in public or d.isoweekday() > 5:
            return False
        if d.isoweekday() == 5 and (d - dt.timedelta(days=1)) in public:
            return True
        return d.isoweekday() == 1 and (d + dt.timedelta(days=1)) in public

    out = pl.DataFrame(
        {
            "date": days,
            "dow": [d.isoweekday() for d in days],
            "is_public_holiday": [hol[d] is not None for d in days],
            "holiday_name": [hol[d] for d in days],
            "is_pentecost_monday": [d in pentecost and hol[d] is not None for d in days],
            "is_school_holiday": [d in school_days for d in days],
            "is_bridge_day": [is_bridge(d) for d in days],
            "is_summer": [d.month in SUMMER_MONTHS for d in days],
            "is_working_day": [d.isoweekday() <= 5 and hol[d] is None for d in days],
        },
        schema_overrides={"dow": pl.Int8, "holiday_name": pl.String},
    )
    if ev is None:
        return out.with_columns(is_event=pl.lit(False), is_market=pl.lit(False), is_one_off_event=pl.lit(False))
    return out.join(ev.select("date", "is_event", "is_market", is_one_off_event="is_one_off"), on="date",
                    how="left").sort("date")
