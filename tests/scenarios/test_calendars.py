"""Calendars: French holidays, zone-B school holidays, bridge days, Pentecost Monday, town events, guards."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from scenarios.calendars import CalendarCoverageError, calendar_frame, calendar_last_day, school_calendar_last_day
from scenarios.events import EventFileError, load_events, town_events

D = dt.date


def _flag(frame: pl.DataFrame, col: str) -> list[dt.date]:
    return frame.filter(pl.col(col)).get_column("date").to_list()


def test_french_public_holidays_bridges_and_pentecost_2025() -> None:
    f = calendar_frame(D(2025, 5, 1), D(2025, 6, 30))
    # INDICATORS.md §6.3: 1 May, 8 May and Ascension 29 May 2025 are Thursdays -> Fridays 2, 9, 30 May are bridges;
    # Pentecost Monday = Easter (20 April 2025) + 50 days = 9 June.
    assert _flag(f, "is_public_holiday") == [D(2025, 5, 1), D(2025, 5, 8), D(2025, 5, 29), D(2025, 6, 9)]
    assert _flag(f, "is_bridge_day") == [D(2025, 5, 2), D(2025, 5, 9), D(2025, 5, 30)]
    assert _flag(f, "is_pentecost_monday") == [D(2025, 6, 9)]
    assert f.filter(pl.col("date") == D(2025, 6, 9))["holiday_name"].item() == "Lundi de Pentecôte"
    assert f.filter(pl.col("date") == D(2025, 5, 2))["is_working_day"].item() is True  # a bridge is still a working day


def test_zone_b_toussaint_2025_and_summer() -> None:
    f = calendar_frame(D(2025, 10, 15), D(2025, 11, 5), zone="B")
    # vacances-scolaires-france flags Sat 18 Oct -> Sun 2 Nov 2025 for zone B (INDICATORS.md §6.3): 16 days
    days = _flag(f, "is_school_holiday")
    assert days[0] == D(2025, 10, 18) and days[-1] == D(2025, 11, 2) and len(days) == 16
    s = calendar_frame(D(2025, 6, 30), D(2025, 9, 1))
    assert _flag(s, "is_summer") == [D(2025, 7, 1) + dt.timedelta(days=i) for i in range(62)]


def test_other_countries_use_their_own_holidays() -> None:
    # UCI I-94 is in Minnesota: Thanksgiving 2016 = Thursday 24 Nov, so Friday 25 Nov is a bridge day
    us = calendar_frame(D(2016, 11, 20), D(2016, 11, 27), country="US", subdiv="MN")
    assert _flag(us, "is_public_holiday") == [D(2016, 11, 24)]
    assert _flag(us, "is_bridge_day") == [D(2016, 11, 25)]
    assert not us["is_school_holiday"].any()  # school calendars exist for France only
    # Baden-Württemberg: Pfingstmontag 2026 = Easter 5 April + 50 days = 25 May
    de = calendar_frame(D(2026, 5, 20), D(2026, 5, 31), country="DE", subdiv="BW")
    assert _flag(de, "is_pentecost_monday") == [D(2026, 5, 25)]
    with pytest.raises(ValueError, match="no calendar for country 'XX'"):
        calendar_frame(D(2026, 1, 1), D(2026, 1, 2), country="XX")


def test_guard_past_school_data_names_the_package() -> None:
    last = school_calendar_last_day("B")
    assert calendar_frame(last - dt.timedelta(days=1), last).height == 2
    with pytest.raises(CalendarCoverageError, match="vacances-scolaires-france"):
        calendar_frame(last, last + dt.timedelta(days=1), zone="B")
    with pytest.raises(ValueError, match="school zone must be one of A, B, C"):
        calendar_frame(D(2025, 1, 1), D(2025, 1, 2), zone="Z")


EVENTS_YAML = """\
covers_until: 2026-12-31
events:
  - name: Fête du Hareng
    kind: festival
    start: 2026-11-14
    end: 2026-11-15
  - name: Marché du samedi
    kind: market
    weekly: saturday
    start: 2026-01-03
"""


def test_event_file_yaml_and_guard(tmp_path: Path) -> None:
    path = tmp_path / "events.yaml"
    path.write_text(EVENTS_YAML, encoding="utf-8")
    ev = load_events(path)
    f = calendar_frame(D(2026, 11, 9), D(2026, 11, 22), events=ev)
    assert _flag(f, "is_event") == [D(2026, 11, 14), D(2026, 11, 15)]
    assert _flag(f, "is_market") == [D(2026, 11, 14), D(2026, 11, 21)]  # the two Saturdays
    assert calendar_last_day("B", events=ev) == D(2026, 12, 31)
    with pytest.raises(CalendarCoverageError, match=r"events\.yaml is complete only to 2026-12-31"):
        calendar_frame(D(2026, 12, 30), D(2027, 1, 2), events=ev)


def test_event_file_csv_and_errors(tmp_path: Path) -> None:
    csv = tmp_path / "events.csv"
    csv.write_text("# covers_until: 2026-08-31\nname,kind,start,end,weekly\n"
                   "Festival des Terre-Neuvas,festival,2026-07-10,2026-07-12,\n", encoding="utf-8")
    f = calendar_frame(D(2026, 7, 9), D(2026, 7, 13), events=load_events(csv))
    assert _flag(f, "is_event") == [D(2026, 7, 10), D(2026, 7, 11), D(2026, 7, 12)]
    no_cover = tmp_path / "bad.csv"
    no_cover.write_text("name,kind,start\nX,festival,2026-07-10\n", encoding="utf-8")
    with pytest.raises(EventFileError, match="covers_until"):
        load_events(no_cover)
    bad = tmp_path / "bad.yaml"
    bad.write_text("covers_until: 2026-12-31\nevents:\n  - name: X\n    kind: concert\n    start: 2026-01-01\n")
    with pytest.raises(EventFileError, match=r"bad\.yaml: field 'events\.0\.kind'"):
        load_events(bad)
    backwards = tmp_path / "back.yaml"
    backwards.write_text("covers_until: 2026-12-31\nevents:\n  - {name: X, start: 2026-02-02, end: 2026-02-01}\n")
    with pytest.raises(EventFileError, match="before start"):
        load_events(backwards)


def test_one_off_event_days_and_the_town_file_in_the_home(tmp_path: Path) -> None:
    # is_one_off_event: the days of entries without `weekly` (a festival, a market on given dates), not the
    # weekly ones (the Saturday market): the days the forecast's medians leave out of their history.
    assert town_events(tmp_path) is None  # no file: no town events
    (tmp_path / "events.yaml").write_text(EVENTS_YAML + "  - name: Marché de Noël\n    kind: market\n"
                                          "    start: 2026-12-19\n    end: 2026-12-20\n", encoding="utf-8")
    ev = town_events(tmp_path)
    assert ev is not None and ev.source == str(tmp_path / "events.yaml")
    f = calendar_frame(D(2026, 11, 9), D(2026, 12, 20), events=ev)
    assert _flag(f, "is_one_off_event") == [D(2026, 11, 14), D(2026, 11, 15), D(2026, 12, 19), D(2026, 12, 20)]
    assert D(2026, 11, 21) in _flag(f, "is_market") and D(2026, 12, 19) in _flag(f, "is_market")
    assert not calendar_frame(D(2026, 11, 9), D(2026, 11, 22))["is_one_off_event"].any()  # no event file
    (tmp_path / "events.csv").write_text("# covers_until: 2026-12-31\nname,kind,start,end,weekly\n", encoding="utf-8")
    with pytest.raises(EventFileError, match=r"events\.yaml and .*events\.csv: keep one town event calendar, not 2"):
        town_events(tmp_path)
