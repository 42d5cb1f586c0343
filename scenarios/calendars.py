"""French calendars for a town: public holidays, school holidays by zone, bridge days, summer season.

Sources: ``holidays`` (public holidays, France métropole) and ``vacances-scolaires-france`` (school
holidays per zone, offline table). Fécamp is in zone B (académie de Normandie) since 2016.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import holidays as holidays_lib
import polars as pl
from vacances_scolaires_france import SchoolHolidayDates

#: Months of the seaside tourist season (a proposal of this project: school flags miss it).
SUMMER_MONTHS: frozenset[int] = frozenset({7, 8})


class CalendarCoverageError(ValueError):
    """Asked for calendar days beyond what the installed calendar data covers."""


@lru_cache(maxsize=1)
def _school() -> SchoolHolidayDates:
    return SchoolHolidayDates()


def school_calendar_last_day(zone: str = "B") -> dt.date:
    """Last date for which the school-holiday table is known to be complete for ``zone``.

    Coverage is per calendar year of the last holiday present (see INDICATORS.md §6.3): the table's
    last holiday ends in summer, so the autumn after it is unknown, not "no holiday".
    """
    school = _school()
    last = max(
        d for y in range(school.max_year - 1, school.max_year + 1)
        for d, row in school.holidays_for_year_and_zone(y, zone).items()
    )
    return last


def calendar_frame(start: dt.date, end: dt.date, zone: str = "B") -> pl.DataFrame:
    """One row per local date in ``[start, end]`` with the calendar flags used by models and indicators.

    Columns: ``date`` (Date), ``dow`` (1 = Monday … 7 = Sunday), ``is_public_holiday``,
    ``holiday_name`` (French, null otherwise), ``is_pentecost_monday``, ``is_school_holiday``,
    ``is_bridge_day`` (a working day between a Tuesday/Thursday holiday and the weekend),
    ``is_summer`` (July–August), ``is_working_day`` (Mon–Fri, not a public holiday).

    Raises :class:`CalendarCoverageError` when ``end`` is past the school-holiday data's coverage.

    Examples
    --------
    >>> f = calendar_frame(dt.date(2025, 5, 29), dt.date(2025, 5, 30))
    >>> f.select("date", "is_public_holiday", "is_bridge_day").rows()
    [(datetime.date(2025, 5, 29), True, False), (datetime.date(2025, 5, 30), False, True)]
    """
    if end < start:
        raise ValueError(f"calendar end {end} is before start {start}")
    last = school_calendar_last_day(zone)
    if end > last:
        raise CalendarCoverageError(
            f"school-holiday data for zone {zone} ends on {last}; cannot build a calendar to {end}. "
            "Update the 'vacances-scolaires-france' package (pip install -U vacances-scolaires-france)."
        )
    school = _school()
    years = range(start.year, end.year + 1)
    public = holidays_lib.France(years=list(years), language="fr")
    school_days: set[dt.date] = set()
    for y in years:
        school_days.update(d for d in school.holidays_for_year_and_zone(y, zone))
    days = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
    hol = {d: public.get(d) for d in days}

    def is_bridge(d: dt.date) -> bool:
        # Friday after a Thursday holiday, Monday before a Tuesday holiday.
        if d in public or d.isoweekday() > 5:
            return False
        if d.isoweekday() == 5 and (d - dt.timedelta(days=1)) in public:
            return True
        return d.isoweekday() == 1 and (d + dt.timedelta(days=1)) in public

    return pl.DataFrame(
        {
            "date": days,
            "dow": [d.isoweekday() for d in days],
            "is_public_holiday": [hol[d] is not None for d in days],
            "holiday_name": [hol[d] for d in days],
            "is_pentecost_monday": [hol[d] == "Lundi de Pentecôte" for d in days],
            "is_school_holiday": [d in school_days for d in days],
            "is_bridge_day": [is_bridge(d) for d in days],
            "is_summer": [d.month in SUMMER_MONTHS for d in days],
            "is_working_day": [d.isoweekday() <= 5 and hol[d] is None for d in days],
        },
        schema_overrides={"dow": pl.Int8},
    )
