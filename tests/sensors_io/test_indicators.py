"""Indicators on a tiny fixture, every expected value computed by hand."""

import calendar
import csv
import datetime as dt
import functools
import importlib.util
from pathlib import Path

from zoneinfo import ZoneInfo

import polars as pl
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from scenarios.calendars import calendar_frame
from sensors_io.aggregate import daily_totals, hourly_totals
from sensors_io.indicators import INDICATORS_SCHEMA, IndicatorConfig, speed_indicators, traffic_indicators
from sensors_io.speed import quantile_from_histogram

D = dt.date


def _daily(rows: list[tuple[str, dt.date, float, bool]]) -> pl.LazyFrame:
    return pl.LazyFrame(
        [{"site_id": "s", "sensor_id": "a", "mode": "car", "direction": d, "day": day, "count": c,
          "valid_hours": 24 if ok else 10, "expected_hours": 24, "is_valid_day": ok} for d, day, c, ok in rows]
    )


@pytest.fixture(scope="module")
def indicators() -> pl.DataFrame:
    rows = [
        ("E", D(2025, 1, 1), 30.0, True),    # Wednesday, public holiday (Jour de l'an)
        ("E", D(2025, 1, 6), 100.0, True),   # Monday
        ("E", D(2025, 1, 7), 200.0, True),   # Tuesday
        ("E", D(2025, 1, 11), 50.0, True),   # Saturday
        ("E", D(2025, 1, 12), 70.0, False),  # Sunday, too few valid hours
        ("W", D(2025, 1, 6), 10.0, True),
        ("W", D(2025, 1, 7), 20.0, True),
        ("W", D(2025, 1, 11), 5.0, True),
        ("W", D(2025, 1, 12), 7.0, True),
    ]
    return traffic_indicators(_daily(rows), calendar_frame(D(2025, 1, 1), D(2025, 12, 31)))


def _value(ind: pl.DataFrame, indicator: str, direction: str, period: str,
           estimator: str | None = None) -> tuple[float | None, float]:
    """(value, coverage) of one row; TMJA rows need their ``estimator`` (three estimators per year)."""
    row = ind.filter((pl.col("indicator") == indicator) & (pl.col("direction") == direction)
                     & (pl.col("period") == period))
    if estimator is not None:
        row = row.filter(pl.col("estimator") == estimator)
    assert row.height == 1, row
    return row["value"][0], row["coverage"][0]


def test_schema_is_the_indicators_contract(indicators: pl.DataFrame) -> None:
    assert indicators.schema == INDICATORS_SCHEMA


def test_tmja_is_the_mean_of_valid_days(indicators: pl.DataFrame) -> None:
    # (30 + 100 + 200 + 50) / 4 = 95; 4 valid days of 365.
    assert _value(indicators, "tmja", "E", "2025", "mean_valid_days") == (95.0, 4 / 365)
    est = indicators.filter(pl.col("indicator") == "tmja")["estimator"].unique().sort().to_list()
    assert est == ["aashto", "complete_months", "mean_valid_days"]


def test_tmjo_keeps_working_days_only(indicators: pl.DataFrame) -> None:
    # 1 January is a holiday: (100 + 200) / 2 = 150. 2025: 261 weekdays − 10 weekday holidays = 251.
    assert _value(indicators, "tmjo", "E", "2025") == (150.0, 2 / 251)


def test_weekend_mean_and_monthly_mean(indicators: pl.DataFrame) -> None:
    assert _value(indicators, "weekend", "E", "2025") == (50.0, 1 / 104)  # the Sunday is not valid
    assert _value(indicators, "tmjm", "E", "2025-01") == (95.0, 4 / 31)
    assert _value(indicators, "tmjm", "E", "2025-02") == (None, 0.0)  # no data: said, not hidden


def test_both_directions_sum_only_on_days_where_every_direction_is_valid(indicators: pl.DataFrame) -> None:
    # Mon 110, Tue 220, Sat 55 valid; Sun (E invalid) and 1 Jan (W absent) are not.
    value, coverage = _value(indicators, "tmja", "all", "2025", "mean_valid_days")
    assert value == pytest.approx((110 + 220 + 55) / 3)
    assert coverage == 3 / 365


def test_indicators_do_not_depend_on_row_order() -> None:
    rows = [("E", D(2025, 1, d), float(d * 10), True) for d in range(1, 20)]
    cal = calendar_frame(D(2025, 1, 1), D(2025, 12, 31))
    a = traffic_indicators(_daily(rows), cal)
    b = traffic_indicators(_daily(rows[::-1]), cal)
    assert a.equals(b)


def test_only_estimator_a_on_a_sparse_year_and_the_spread_says_so(indicators: pl.DataFrame) -> None:
    # No month of E is complete: B is null, coverage 0. Its 4 valid days fill 4 dow × month cells of 84
    # (Jan × Wed, Mon, Tue, Sat): C is null, coverage 4/84. One estimator left: no spread.
    assert _value(indicators, "tmja", "E", "2025", "complete_months") == (None, 0.0)
    assert _value(indicators, "tmja", "E", "2025", "aashto") == (None, 4 / 84)
    assert _value(indicators, "tmja_spread", "E", "2025") == (None, 4 / 365)
    spread = indicators.filter(pl.col("indicator") == "tmja_spread")
    assert spread["estimator"].unique().to_list() == ["mean_valid_days"]  # what was available
    assert spread["unit"].unique().to_list() == ["ratio"]


# --- TMJA estimator B (complete months) -------------------------------------------------------------

def _span(first: dt.date, last: dt.date, count: float, ok: bool = True,
          direction: str = "E") -> list[tuple[str, dt.date, float, bool]]:
    return [(direction, first + dt.timedelta(days=i), count, ok) for i in range((last - first).days + 1)]


@functools.lru_cache(maxsize=1)
def _cal_2025() -> pl.DataFrame:
    return calendar_frame(D(2025, 1, 1), D(2025, 12, 31))


def test_complete_months_estimator_keeps_months_without_holes() -> None:
    rows = (
        _span(D(2025, 1, 1), D(2025, 1, 31), 100.0)      # January complete: Q = 3,100, N = 31
        + _span(D(2025, 2, 1), D(2025, 2, 28), 200.0)    # February complete: Q = 5,600, N = 28
        + _span(D(2025, 3, 1), D(2025, 3, 30), 400.0)    # March: 31 March absent → incomplete
        + _span(D(2025, 4, 1), D(2025, 4, 29), 400.0)    # April: 30 April present but invalid → incomplete
        + [("E", D(2025, 4, 30), 50.0, False)]
    )
    ind = traffic_indicators(_daily(rows), _cal_2025())
    # A = (3,100 + 5,600 + 30·400 + 29·400) / (31 + 28 + 30 + 29) = 32,300 / 118 = 273.73; 118 of 365 days
    assert _value(ind, "tmja", "E", "2025", "mean_valid_days") == (pytest.approx(32300 / 118), 118 / 365)
    # B = (3,100 + 5,600) / (31 + 28) = 8,700 / 59 = 147.46; days in complete months 59 of 365
    assert _value(ind, "tmja", "E", "2025", "complete_months") == (pytest.approx(8700 / 59), 59 / 365)
    # C: January–April fill all 7 dows of 4 months = 28 of 84 cells → undefined
    assert _value(ind, "tmja", "E", "2025", "aashto") == (None, pytest.approx(28 / 84))
    # spread over A and B: (32,300/118 − 8,700/59) / (8,700/59) = 32,300 / 17,400 − 1 = 0.85632
    value, coverage = _value(ind, "tmja_spread", "E", "2025")
    assert value == pytest.approx(32300 / 17400 - 1) and coverage == 118 / 365
    row = ind.filter((pl.col("indicator") == "tmja_spread") & (pl.col("direction") == "E"))
    assert row["estimator"].to_list() == ["complete_months,mean_valid_days"]


# --- TMJA estimator C (AASHTO 84 averages), on a full year ------------------------------------------

def _year_2025(outage: set[dt.date]) -> list[tuple[str, dt.date, float, bool]]:
    """Every day of 2025: 100 on Mon–Fri, 30 on Sat–Sun; the days in ``outage`` invalid."""
    days = [D(2025, 1, 1) + dt.timedelta(days=i) for i in range(365)]
    return [("E", d, 30.0 if d.isoweekday() >= 6 else 100.0, d not in outage) for d in days]


def test_aashto_on_a_full_year_with_a_summer_outage() -> None:
    # 8–31 July 2025 invalid (1 July is a Tuesday): 18 weekdays and 6 weekend days lost (Sat/Sun 12–13,
    # 19–20, 26–27). 2025 has 261 weekdays and 104 weekend days (it starts on Wednesday: 53 Wednesdays).
    outage = {D(2025, 7, d) for d in range(8, 32)}
    ind = traffic_indicators(_daily(_year_2025(outage)), _cal_2025())
    # C: every dow × month cell is 100 (Mon–Fri) or 30 (Sat–Sun), July's 1–7 fill July's 7 cells.
    #    C = (5·100 + 2·30) / 7 = 560 / 7 = 80; all 84 cells filled.
    assert _value(ind, "tmja", "E", "2025", "aashto") == (pytest.approx(80.0), 1.0)
    # A: (243 weekdays · 100 + 98 weekend days · 30) / 341 = 27,240 / 341 = 79.8827
    assert _value(ind, "tmja", "E", "2025", "mean_valid_days") == (pytest.approx(27240 / 341), 341 / 365)
    # B: July dropped (23 weekdays, 8 weekend days): (238·100 + 96·30) / 334 = 26,680 / 334 = 79.8802
    assert _value(ind, "tmja", "E", "2025", "complete_months") == (pytest.approx(26680 / 334), 334 / 365)
    # spread: max C = 80, min B: 80·334 / 26,680 − 1 = 40 / 26,680 = 0.0014993
    value, _ = _value(ind, "tmja_spread", "E", "2025")
    assert value == pytest.approx(40 / 26680)
    est = ind.filter((pl.col("indicator") == "tmja_spread") & (pl.col("direction") == "E"))["estimator"]
    assert est.to_list() == ["aashto,complete_months,mean_valid_days"]
    # one direction only: "all" is the same series
    assert _value(ind, "tmja", "all", "2025", "aashto") == (pytest.approx(80.0), 1.0)


def test_aashto_is_undefined_when_one_cell_is_empty() -> None:
    # All four Tuesdays of February 2025 (4, 11, 18, 25) invalid: cell (Tue, Feb) empty → 83 of 84.
    outage = {D(2025, 2, d) for d in (4, 11, 18, 25)}
    ind = traffic_indicators(_daily(_year_2025(outage)), _cal_2025())
    assert _value(ind, "tmja", "E", "2025", "aashto") == (None, pytest.approx(83 / 84))
    # B drops February (1 Feb is a Saturday: 20 weekdays, 8 weekend days): the months kept have
    # 365 − 28 = 337 days, 261 − 20 = 241 weekdays and 104 − 8 = 96 weekend days:
    # (241·100 + 96·30) / 337 = (24,100 + 2,880) / 337 = 26,980 / 337 = 80.059
    assert _value(ind, "tmja", "E", "2025", "complete_months") == (pytest.approx(26980 / 337), 337 / 365)
    # A: (257·100 + 104·30) / 361 = 28,820 / 361 = 79.834
    assert _value(ind, "tmja", "E", "2025", "mean_valid_days") == (pytest.approx(28820 / 361), 361 / 365)
    # spread over A and B only; B = 80.059 > A = 79.834: (26,980/337) / (28,820/361) − 1 = 0.002825
    value, _ = _value(ind, "tmja_spread", "E", "2025")
    assert value == pytest.approx((26980 / 337) / (28820 / 361) - 1)


# --- %PL ------------------------------------------------------------------------------------------

def test_pct_heavy_over_days_valid_for_both_modes() -> None:
    def row(mode: str, direction: str, day: dt.date, count: float, ok: bool, sensor: str = "t") -> dict:
        return {"site_id": "s", "sensor_id": sensor, "mode": mode, "direction": direction, "day": day,
                "count": count, "valid_hours": 24 if ok else 10, "expected_hours": 24, "is_valid_day": ok}

    d6, d7, d8, d9 = D(2025, 1, 6), D(2025, 1, 7), D(2025, 1, 8), D(2025, 1, 9)
    daily = pl.LazyFrame([
        row("car", "lft", d6, 90, True), row("car", "rgt", d6, 110, True),
        row("heavy", "lft", d6, 10, True), row("heavy", "rgt", d6, 5, True),
        row("car", "lft", d7, 100, True), row("car", "rgt", d7, 100, True),
        row("heavy", "lft", d7, 20, True), row("heavy", "rgt", d7, 5, False),   # heavy rgt invalid
        row("car", "lft", d8, 50, False), row("car", "rgt", d8, 60, True),      # car lft invalid
        row("heavy", "lft", d8, 30, True), row("heavy", "rgt", d8, 15, True),
        row("heavy", "lft", d9, 40, True),                                       # no car that day
        row("car", "both", d6, 500, True, "c"),                                  # car-only sensor: no %PL
        row("bike", "both", d6, 80, True, "b"),
    ]).with_columns(pl.col("count").cast(pl.Float64))
    ind = traffic_indicators(daily, _cal_2025())
    pl_rows = ind.filter(pl.col("indicator") == "pct_heavy")
    assert set(pl_rows["sensor_id"]) == {"t"} and set(pl_rows["mode"]) == {"heavy"}
    assert set(pl_rows["unit"]) == {"%"} and pl_rows["estimator"].null_count() == pl_rows.height
    assert sorted(pl_rows["direction"]) == ["all", "lft", "rgt"]
    # lft: 6 Jan (10 / 90) and 7 Jan (20 / 100) → 100 · 30 / (30 + 190) = 13.64 %; 8 Jan car invalid
    assert _value(pl_rows, "pct_heavy", "lft", "2025") == (pytest.approx(3000 / 220), 2 / 365)
    # rgt: 6 Jan (5 / 110) and 8 Jan (15 / 60) → 100 · 20 / (20 + 170) = 10.53 %; 7 Jan heavy invalid
    assert _value(pl_rows, "pct_heavy", "rgt", "2025") == (pytest.approx(2000 / 190), 2 / 365)
    # all: only 6 Jan has both directions valid for both modes → 100 · 15 / (15 + 200) = 6.98 %
    assert _value(pl_rows, "pct_heavy", "all", "2025") == (pytest.approx(1500 / 215), 1 / 365)


def test_float_indicators_are_bitwise_identical_whatever_the_row_order() -> None:
    # Non-integer counts (Telraam scales by uptime) over a full year, so every estimator is defined.
    import random

    rng = random.Random(7)
    days = [D(2025, 1, 1) + dt.timedelta(days=i) for i in range(365)]
    rows = [(d, day, rng.uniform(50, 5000) / 3, True) for d in ("E", "W") for day in days]
    cal = calendar_frame(D(2025, 1, 1), D(2025, 12, 31))
    first = traffic_indicators(_daily(rows), cal)
    for seed in range(3):
        shuffled = rows[:]
        random.Random(seed).shuffle(shuffled)
        assert traffic_indicators(_daily(shuffled), cal).equals(first)
    assert first.filter((pl.col("estimator") == "aashto") & pl.col("value").is_not_null()).height == 3


# --- TMJA flags ------------------------------------------------------------------------------------

def _flags(ind: pl.DataFrame, direction: str = "E", period: str = "2025") -> dict[str, float | None]:
    rows = ind.filter((pl.col("indicator") == "tmja_flag") & (pl.col("direction") == direction)
                      & (pl.col("period") == period))
    assert set(rows["unit"]) == {"flag"}
    return dict(zip(rows["estimator"], rows["value"], strict=True))


def test_a_ten_month_gap_is_flagged_and_the_values_kept() -> None:
    # Data on 1 January – 28 February 2025 only (59 valid days at 100), then nothing for ten months.
    ind = traffic_indicators(_daily(_span(D(2025, 1, 1), D(2025, 2, 28), 100.0)), _cal_2025())
    # A kept with its coverage 59/365 = 16 %; B = the two complete months; spread 0 (A = B = 100)
    assert _value(ind, "tmja", "E", "2025", "mean_valid_days") == (100.0, 59 / 365)
    assert _value(ind, "tmja", "E", "2025", "complete_months") == (100.0, 59 / 365)
    # 1 March – 31 December: 31+30+31+30+31+31+30+31+30+31 = 306 days without a valid day
    assert _value(ind, "longest_gap", "E", "2025") == (306.0, 59 / 365)
    assert _flags(ind) == {"low_coverage": 1.0, "long_gap": 1.0, "disagreement": 0.0}


def test_flags_of_a_good_year_and_of_disagreeing_estimators() -> None:
    # Summer outage 8–31 July: 24 days gap (< 30), coverage 341/365 = 93 % (≥ 80 %), spread 0.15 % (≤ 10 %)
    good = traffic_indicators(_daily(_year_2025({D(2025, 7, d) for d in range(8, 32)})), _cal_2025())
    assert _flags(good) == {"low_coverage": 0.0, "long_gap": 0.0, "disagreement": 0.0}
    assert _value(good, "longest_gap", "E", "2025")[0] == 24.0
    # The complete-months fixture: spread 85.6 % > 10 %; A's coverage 118/365 = 32 %;
    # gap 30 April – 31 December = 1 + (31+30+31+31+30+31+30+31 = 245) = 246 days
    rows = (_span(D(2025, 1, 1), D(2025, 1, 31), 100.0) + _span(D(2025, 2, 1), D(2025, 2, 28), 200.0)
            + _span(D(2025, 3, 1), D(2025, 3, 30), 400.0) + _span(D(2025, 4, 1), D(2025, 4, 29), 400.0))
    bad = traffic_indicators(_daily(rows), _cal_2025())
    assert _flags(bad) == {"low_coverage": 1.0, "long_gap": 1.0, "disagreement": 1.0}
    assert _value(bad, "longest_gap", "E", "2025")[0] == 246.0


def test_disagreement_is_undecidable_with_one_estimator(indicators: pl.DataFrame) -> None:
    assert _flags(indicators)["disagreement"] is None


def test_flag_thresholds_come_from_the_config() -> None:
    ind = traffic_indicators(_daily(_span(D(2025, 1, 1), D(2025, 2, 28), 100.0)), _cal_2025(),
                             config=IndicatorConfig(min_coverage=0.1, long_gap_days=307))
    assert _flags(ind) == {"low_coverage": 0.0, "long_gap": 0.0, "disagreement": 0.0}


# --- imputed share ---------------------------------------------------------------------------------

def test_imputed_share_is_the_imputed_volume_over_the_volume_used() -> None:
    def row(day: dt.date, count: float | None, filled: float, share: float, ok: bool = True) -> dict:
        return {"site_id": "s", "sensor_id": "a", "mode": "car", "direction": "E", "day": day, "count": count,
                "count_filled": filled, "imputed_share": share, "valid_hours": 24 if ok else 10,
                "expected_hours": 24, "is_valid_day": ok}

    daily = pl.LazyFrame([
        row(D(2025, 1, 6), 90.0, 100.0, 0.1),     # Monday: 10 imputed of 100
        row(D(2025, 1, 7), 200.0, 200.0, 0.0),    # Tuesday: all measured
        row(D(2025, 1, 11), None, 60.0, 1.0),     # Saturday: all imputed
        row(D(2025, 1, 12), 5.0, 50.0, 0.9, ok=False),  # Sunday: not valid, not used
    ])
    ind = traffic_indicators(daily, _cal_2025())

    def share(indicator: str, estimator: str | None = None) -> float:
        r = ind.filter((pl.col("indicator") == indicator) & (pl.col("direction") == "E"))
        r = r.filter(pl.col("estimator") == estimator) if estimator else r
        return r["imputed_share"][0]

    # A uses the filled volumes: (100 + 200 + 60) / 3 = 120; imputed (10 + 0 + 60) / 360
    assert _value(ind, "tmja", "E", "2025", "mean_valid_days") == (120.0, 3 / 365)
    assert share("tmja", "mean_valid_days") == pytest.approx(70 / 360)
    assert share("tmjo") == pytest.approx(10 / 300)    # Monday and Tuesday
    assert share("weekend") == 1.0                     # the Saturday only
    assert share("tmjm") == pytest.approx(70 / 360)
    assert share("tmja", "complete_months") == 0.0     # no complete month: nothing used


# --- hourly indicators: HPM / HPS, K30 --------------------------------------------------------------

PARIS = ZoneInfo("Europe/Paris")


def _hourly(values: dict[dt.datetime, float | None], sensor: str = "a", direction: str = "E") -> list[dict]:
    """Hourly rows from local (Paris) hour starts."""
    return [{"site_id": "s", "sensor_id": sensor, "mode": "car", "direction": direction,
             "start_utc": t.replace(tzinfo=PARIS).astimezone(dt.UTC), "day": t.date(), "hour": t.hour,
             "count": v, "valid_share": 1.0} for t, v in values.items()]


def _hourly_frame(rows: list[dict]) -> pl.LazyFrame:
    return pl.LazyFrame(rows, schema_overrides={"hour": pl.Int8, "count": pl.Float64,
                                                "start_utc": pl.Datetime("us", "UTC")})


def test_hpm_and_hps_are_the_peak_of_the_working_day_profile() -> None:
    T = dt.datetime
    values = {
        T(2025, 1, 6, 7): 100.0, T(2025, 1, 6, 8): 300.0,    # Monday
        T(2025, 1, 7, 7): 200.0, T(2025, 1, 7, 8): 100.0,    # Tuesday
        T(2025, 1, 11, 8): 900.0,                            # Saturday: not a working day
        T(2025, 1, 1, 8): 800.0,                             # Wednesday 1 January: public holiday
        T(2025, 1, 6, 6): 700.0,                             # 06:00 is outside the morning window
        T(2025, 1, 6, 17): 50.0, T(2025, 1, 6, 18): 80.0, T(2025, 1, 6, 19): 70.0,
        T(2025, 1, 7, 17): 60.0, T(2025, 1, 7, 18): None, T(2025, 1, 7, 19): 90.0,
    }
    daily = _daily([("E", D(2025, 1, 6), 1.0, True)])
    ind = traffic_indicators(daily, _cal_2025(), hourly=_hourly_frame(_hourly(values)))
    # morning means: 7 h (100 + 200) / 2 = 150, 8 h (300 + 100) / 2 = 200 → HPM 200 at 8 h, 2 of 251 working days
    assert _value(ind, "hpm", "E", "2025") == (200.0, 2 / 251)
    assert _value(ind, "hpm_hour", "E", "2025") == (8.0, 2 / 251)
    # evening means: 17 h 55, 18 h 80 (Tuesday missing), 19 h 80 → tie, the earlier hour 18 (1 day)
    assert _value(ind, "hps", "E", "2025") == (80.0, 1 / 251)
    assert _value(ind, "hps_hour", "E", "2025") == (18.0, 1 / 251)
    units = dict(ind.filter(pl.col("direction") == "E").select("indicator", "unit").unique().iter_rows())
    assert units["hpm"] == "veh/h" and units["hpm_hour"] == "h"
    # direction "all" of a one-direction sensor is the same
    assert _value(ind, "hpm", "all", "2025") == (200.0, 2 / 251)


def test_peak_window_comes_from_the_config() -> None:
    T = dt.datetime
    values = {T(2025, 1, 6, 6): 700.0, T(2025, 1, 6, 7): 100.0}
    ind = traffic_indicators(_daily([("E", D(2025, 1, 6), 1.0, True)]), _cal_2025(),
                             hourly=_hourly_frame(_hourly(values)), config=IndicatorConfig(hpm_hours=(6, 9)))
    assert _value(ind, "hpm", "E", "2025") == (700.0, 1 / 251)
    assert _value(ind, "hpm_hour", "E", "2025") == (6.0, 1 / 251)


@functools.lru_cache(maxsize=1)
def _design_hour_indicators() -> pl.DataFrame:
    """Series a: every hour of 2025 at 10, except 40 hours on 40 different days at 1000..1039.
    Series b: the same without the last 73 days of the year (80 % of the hours)."""
    start = dt.datetime(2025, 1, 1, tzinfo=PARIS).astimezone(dt.UTC)
    hours = [start + dt.timedelta(hours=i) for i in range(8760)]  # 2025 has 8,760 hours in Paris
    big = {dt.date(2025, 1, 1) + dt.timedelta(days=3 * k): 1000.0 + k for k in range(40)}
    rows_a, rows_b = [], []
    for t in hours:
        local = t.astimezone(PARIS)
        v = big[local.date()] if local.date() in big and local.hour == 12 else 10.0
        row = {"site_id": "s", "mode": "car", "direction": "E", "start_utc": t, "interval_s": 3600, "count_clean": v}
        rows_a.append({**row, "sensor_id": "a"})
        if local.date() < dt.date(2025, 10, 20):  # 20 Oct – 31 Dec = 12 + 30 + 31 = 73 days dropped
            rows_b.append({**row, "sensor_id": "b"})
    clean = pl.LazyFrame(rows_a + rows_b, schema_overrides={"interval_s": pl.Int32})
    return traffic_indicators(daily_totals(clean), _cal_2025(), hourly=hourly_totals(clean))


def test_k30_is_the_30th_highest_hour_over_tmja() -> None:
    ind = _design_hour_indicators().filter(pl.col("sensor_id") == "a")
    # top 30 of 1000..1039 → 1039 … 1010: q30 = 1010; all 8,760 hours → coverage 1
    assert _value(ind, "q30", "E", "2025") == (1010.0, 1.0)
    # TMJA A: every day valid, the year's volume is 8,760·10 + Σ(1000..1039) − 40·10 = 87,600 + 40,380
    tmja = (87600 + 40380) / 365
    assert _value(ind, "tmja", "E", "2025", "mean_valid_days")[0] == pytest.approx(tmja)
    value, coverage = _value(ind, "k30", "E", "2025")
    assert value == pytest.approx(1010 / tmja) and coverage == 1.0
    assert ind.filter(pl.col("indicator") == "k30")["unit"].unique().to_list() == ["ratio"]


def test_k30_is_null_when_the_year_is_too_incomplete() -> None:
    ind = _design_hour_indicators().filter(pl.col("sensor_id") == "b")
    # 20 Oct – 31 Dec holds the 25-hour day of 26 October: 72·24 + 25 = 1,753 hours missing of 8,760
    assert _value(ind, "k30", "E", "2025") == (None, (8760 - 1753) / 8760)
    assert _value(ind, "q30", "E", "2025") == (None, (8760 - 1753) / 8760)


# --- UVP, seasonality -------------------------------------------------------------------------------

def test_uvp_weights_each_mode_on_days_valid_for_all() -> None:
    def row(mode: str, day: dt.date, count: float, ok: bool = True) -> dict:
        return {"site_id": "s", "sensor_id": "t", "mode": mode, "direction": "lft", "day": day, "count": count,
                "valid_hours": 24 if ok else 10, "expected_hours": 24, "is_valid_day": ok}

    d6, d7, d8 = D(2025, 1, 6), D(2025, 1, 7), D(2025, 1, 8)
    daily = pl.LazyFrame([
        row("car", d6, 100), row("heavy", d6, 10), row("bike", d6, 20), row("pedestrian", d6, 999),
        row("car", d7, 200), row("heavy", d7, 5), row("bike", d7, 40, ok=False),   # bike invalid: day out
        row("car", d8, 50), row("heavy", d8, 0), row("bike", d8, 10),
    ]).with_columns(pl.col("count").cast(pl.Float64))
    girabase = traffic_indicators(daily, _cal_2025())
    uvp = girabase.filter(pl.col("indicator") == "uvp")
    assert set(uvp["mode"]) == {"all_vehicles"} and set(uvp["unit"]) == {"uvp/day"}
    assert set(uvp["estimator"]) == {"girabase"}
    # Girabase VL 1, PL 2, 2R 0.5: 6 Jan 100 + 20 + 10 = 130; 8 Jan 50 + 0 + 5 = 55 → 92.5; pedestrians ignored
    assert _value(uvp, "uvp", "lft", "2025") == (92.5, 2 / 365)
    feux = traffic_indicators(daily, _cal_2025(), config=IndicatorConfig(uvp_set="carrefour_feux"))
    # signalised junction 2R 0.3: 100 + 20 + 6 = 126; 50 + 0 + 3 = 53 → 89.5
    assert _value(feux.filter(pl.col("indicator") == "uvp"), "uvp", "lft", "2025") == (89.5, 2 / 365)
    with pytest.raises(ValueError, match="unknown UVP coefficient set 'pcu'"):
        traffic_indicators(daily, _cal_2025(), config=IndicatorConfig(uvp_set="pcu"))


def test_no_uvp_for_a_sensor_counting_one_mode(indicators: pl.DataFrame) -> None:
    assert indicators.filter(pl.col("indicator") == "uvp").is_empty()


def test_summer_index_and_peak_day_index() -> None:
    # 100 a day, 150 in July–August, 400 on 14 July
    days = [D(2025, 1, 1) + dt.timedelta(days=i) for i in range(365)]
    rows = [("E", d, 400.0 if d == D(2025, 7, 14) else 150.0 if d.month in (7, 8) else 100.0, True) for d in days]
    ind = traffic_indicators(_daily(rows), _cal_2025())
    # summer (62 days): (61·150 + 400) / 62 = 9,550 / 62; rest (303 days): 100
    assert _value(ind, "summer_index", "E", "2025") == (pytest.approx(9550 / 62 / 100), 1.0)
    # TMJA = (303·100 + 9,550) / 365 = 39,850 / 365; peak 400
    assert _value(ind, "peak_day_index", "E", "2025") == (pytest.approx(400 / (39850 / 365)), 1.0)


# --- groups -----------------------------------------------------------------------------------------

def _group_daily() -> pl.LazyFrame:
    def row(sensor: str, direction: str, day: dt.date, count: float, ok: bool = True) -> dict:
        return {"site_id": "s", "sensor_id": sensor, "mode": "car", "direction": direction, "day": day,
                "count": count, "valid_hours": 24 if ok else 10, "expected_hours": 24, "is_valid_day": ok}

    d6, d7, d8 = D(2025, 1, 6), D(2025, 1, 7), D(2025, 1, 8)
    return pl.LazyFrame([
        row("a", "E", d6, 10), row("a", "W", d6, 20), row("b", "both", d6, 5),      # group: 35
        row("a", "E", d7, 10), row("a", "W", d7, 20, ok=False), row("b", "both", d7, 5),  # a not valid
        row("a", "E", d8, 30), row("a", "W", d8, 40),                                   # b absent
        row("c", "both", d6, 1000),                                                     # not a member
    ]).with_columns(pl.col("count").cast(pl.Float64))


def test_a_group_sums_its_members_on_days_when_every_member_is_valid() -> None:
    ind = traffic_indicators(_group_daily(), _cal_2025(), groups={"centre": ["a", "b"]})
    g = ind.filter(pl.col("sensor_id") == "centre")
    assert set(g["direction"]) == {"all"} and set(g["mode"]) == {"car"}
    assert _value(g, "tmja", "all", "2025", "mean_valid_days") == (35.0, 1 / 365)
    assert _value(g, "tmjm", "all", "2025-01") == (35.0, 1 / 31)
    # members keep their own rows
    assert _value(ind.filter(pl.col("sensor_id") == "a"), "tmja", "all", "2025", "mean_valid_days") == (50.0, 2 / 365)


def test_group_errors_name_the_group_and_the_sensor() -> None:
    with pytest.raises(ValueError, match=r"group 'centre': sensor\(s\) \['zz'\] not in the daily totals"):
        traffic_indicators(_group_daily(), _cal_2025(), groups={"centre": ["a", "zz"]})
    with pytest.raises(ValueError, match="group 'a' has the name of a sensor"):
        traffic_indicators(_group_daily(), _cal_2025(), groups={"a": ["b", "c"]})
    with pytest.raises(ValueError, match="group 'empty' has no member"):
        traffic_indicators(_group_daily(), _cal_2025(), groups={"empty": []})


# --- speed ------------------------------------------------------------------------------------------

def _hist(rows: list[tuple[str, dt.datetime, list[float]]], edges: list[tuple[float, float | None]]) -> pl.LazyFrame:
    return pl.LazyFrame(
        [{"sensor_id": "t", "mode": "car", "direction": d, "start_utc": t.replace(tzinfo=dt.UTC),
          "bin_lo_kmh": lo, "bin_hi_kmh": hi, "count": c}
         for d, t, counts in rows for (lo, hi), c in zip(edges, counts, strict=True)],
        schema_overrides={"bin_hi_kmh": pl.Float64, "bin_lo_kmh": pl.Float64, "count": pl.Float64},
    )


EDGES = [(0.0, 10.0), (10.0, 20.0), (20.0, 30.0), (30.0, None)]


def test_speed_quantiles_sum_the_histograms_over_the_period() -> None:
    T = dt.datetime
    hist = _hist([("lft", T(2025, 3, 3, 8), [10, 30, 40, 20]), ("lft", T(2025, 3, 3, 9), [0, 10, 20, 10]),
                  ("rgt", T(2025, 3, 3, 8), [0, 0, 10, 0])], EDGES)
    out = speed_indicators(hist)
    # lft summed: [10, 40, 60, 30], N = 140. V50: 70 → bin 20–30, 20 + 10·(70 − 50)/60 = 23.33
    # V85: 119 > 110 → the open 30+ bin: censored, "≥ 30"
    assert _value(out, "v50", "lft", "2025-03") == (pytest.approx(20 + 10 * 20 / 60), 2 / (24 * 31))
    assert _value(out, "v85", "lft", "2025") == (30.0, 2 / (24 * 365))
    est = dict(out.filter((pl.col("direction") == "lft") & (pl.col("period") == "2025"))
               .select("indicator", "estimator").iter_rows())
    assert est == {"v50": "histogram", "v85": "histogram_censored"}
    # both directions pooled: [10, 40, 70, 30], N = 150: V50 75 → 20 + 10·25/70 = 23.57;
    # V85 127.5 > 120 (cumulative below the open bin) → censored at 30
    assert _value(out, "v50", "all", "2025")[0] == pytest.approx(20 + 10 * 25 / 70)
    assert _value(out, "v85", "all", "2025")[0] == 30.0
    # the same as sensors_io.speed on the summed histogram
    assert quantile_from_histogram([10, 40, 70, 30], [0, 10, 20, 30], 0.5) == (pytest.approx(20 + 10 * 25 / 70), False)
    assert quantile_from_histogram([10, 40, 70, 30], [0, 10, 20, 30], 0.85) == (30.0, True)
    assert set(out["unit"]) == {"km/h"} and set(out["imputed_share"]) == {0.0}


def test_mixed_bins_in_one_series_are_an_error() -> None:
    T = dt.datetime
    hist = pl.concat([_hist([("lft", T(2025, 3, 3, 8), [10, 30, 40, 20])], EDGES),
                      _hist([("lft", T(2025, 3, 3, 9), [5, 5])], [(0.0, 5.0), (5.0, 10.0)])])
    with pytest.raises(ValueError, match="t/car/lft: bin 0.0–5.0 km/h overlaps the next bin"):
        speed_indicators(hist)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.integers(0, 50), min_size=5, max_size=5), min_size=1, max_size=4),
       st.sampled_from([0.5, 0.85]))
def test_speed_quantile_matches_sensors_io_speed(hours: list[list[int]], p: float) -> None:
    edges = [(0.0, 5.0), (5.0, 10.0), (10.0, 15.0), (15.0, 20.0), (20.0, None)]
    summed = [sum(h[i] for h in hours) for i in range(5)]
    assume(sum(summed) > 0)
    T = dt.datetime(2025, 3, 3, 8)
    hist = _hist([("lft", T + dt.timedelta(hours=i), [float(x) for x in h]) for i, h in enumerate(hours)], edges)
    out = speed_indicators(hist, quantiles={"v": p})
    got = out.filter((pl.col("direction") == "lft") & (pl.col("period") == "2025"))
    expected, censored = quantile_from_histogram(summed, [0, 5, 10, 15, 20], p)
    assert got["value"][0] == pytest.approx(expected)
    assert got["estimator"][0] == ("histogram_censored" if censored else "histogram")


# --- row order ------------------------------------------------------------------------------------

_ORDER_DAYS = [D(2025, 1, 1) + dt.timedelta(days=i) for i in range(0, 365, 5)]


@settings(max_examples=10, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["E", "W"]), st.sampled_from(_ORDER_DAYS),
                          st.floats(0, 5000, allow_nan=False), st.booleans()),
                min_size=1, max_size=40, unique_by=lambda r: (r[0], r[1])),
       st.randoms(use_true_random=False))
def test_every_indicator_is_bit_identical_whatever_the_row_order(rows, rnd) -> None:
    daily = [{"site_id": "s", "sensor_id": s, "mode": m, "direction": d, "day": day, "count": c / 3,
              "valid_hours": 24, "expected_hours": 24, "is_valid_day": ok}
             for s, m in (("a", "car"), ("a", "heavy"), ("b", "car")) for d, day, c, ok in rows]
    hourly = [{"site_id": "s", "sensor_id": s, "mode": "car", "direction": d,
               "start_utc": dt.datetime(day.year, day.month, day.day, h, tzinfo=dt.UTC), "day": day, "hour": h + 1,
               "count": c / (h + 7)} for s in ("a", "b") for d, day, c, _ in rows for h in (6, 7, 16)]
    shuffled_d, shuffled_h = daily[:], hourly[:]
    rnd.shuffle(shuffled_d)
    rnd.shuffle(shuffled_h)

    def run(d: list[dict], h: list[dict]) -> pl.DataFrame:
        return traffic_indicators(pl.LazyFrame(d), _cal_2025(), hourly=_hourly_frame(h), groups={"g": ["a", "b"]})

    assert run(daily, hourly).equals(run(shuffled_d, shuffled_h))


# --- the UCI table (real data), checked against the raw CSV ----------------------------------------

def _load_benchmark():
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "uci_tmja.py"
    spec = importlib.util.spec_from_file_location("uci_tmja", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _raw_uci_days(csv_path: Path) -> dict[dt.date, tuple[float, int]]:
    """Plain csv: per naive local date, (sum of volumes, hours). A timestamp written twice with the same
    volume is one hour (the file writes one row per weather condition); twice with two volumes is the
    repeated hour of the autumn DST change (two hours)."""
    seen: set[tuple[str, int]] = set()
    with open(csv_path, newline="") as fh:
        for row in csv.DictReader(fh):
            seen.add((row["date_time"], int(row["traffic_volume"])))
    days: dict[dt.date, tuple[float, int]] = {}
    for stamp, volume in seen:
        d = dt.date.fromisoformat(stamp[:10])
        total, hours = days.get(d, (0.0, 0))
        days[d] = (total + volume, hours + 1)
    return days


def _expected_hours(d: dt.date, tz: ZoneInfo) -> int:
    a = dt.datetime(d.year, d.month, d.day, tzinfo=tz)
    b = a + dt.timedelta(days=1)
    return round((b.astimezone(dt.UTC) - a.astimezone(dt.UTC)).total_seconds() / 3600)


def test_uci_table_matches_the_raw_csv_and_flags_the_gap_years(shared_data: Path) -> None:
    bench = _load_benchmark()
    folder = shared_data / "uci_metro_interstate"
    ind = bench.uci_indicators(folder)
    table = bench.tmja_table(ind, bench.uci_daily(folder).collect())
    raw = _raw_uci_days(folder / "Metro_Interstate_Traffic_Volume.csv")
    chicago = ZoneInfo("America/Chicago")
    for year in (2013, 2017):
        valid = {d: q for d, (q, h) in raw.items() if d.year == year and h >= _expected_hours(d, chicago) - 5}
        row = table.filter(pl.col("period") == str(year)).row(0, named=True)
        # A = mean of the valid days' totals; coverage = valid days / 365
        assert row["valid_days"] == len(valid)
        assert row["mean_valid_days"] == pytest.approx(sum(valid.values()) / len(valid), rel=1e-12)
        assert row["mean_valid_days_coverage"] == len(valid) / 365
    # 2017 is complete enough for all three estimators; B over the months whose every day is valid, computed from the raw file
    valid17 = {d: q for d, (q, h) in raw.items() if d.year == 2017 and h >= _expected_hours(d, chicago) - 5}
    months = [m for m in range(1, 13)
              if all(dt.date(2017, m, k) in valid17 for k in range(1, calendar.monthrange(2017, m)[1] + 1))]
    b_days = [q for d, q in valid17.items() if d.month in months]
    row17 = table.filter(pl.col("period") == "2017").row(0, named=True)
    assert row17["complete_months"] == pytest.approx(sum(b_days) / len(b_days), rel=1e-12)
    assert row17["aashto"] is not None and row17["flags"] == ""
    # The ten-month gap (8 August 2014 → 11 June 2015, README) is flagged in both years it cuts, never
    # silently averaged: the last valid day of 2014 and the first of 2015, from the raw file
    valid_all = {d for d, (q, h) in raw.items() if h >= _expected_hours(d, chicago) - 5}
    last_2014 = max(d for d in valid_all if d.year == 2014)
    first_2015 = min(d for d in valid_all if d.year == 2015)
    for year, gap in ((2014, (dt.date(2014, 12, 31) - last_2014).days), (2015, (first_2015 - dt.date(2015, 1, 1)).days)):
        row = table.filter(pl.col("period") == str(year)).row(0, named=True)
        assert row["longest_gap"] >= gap > 140  # at least the gap's part in that year, ~5 months each
        assert "long_gap" in row["flags"] and "low_coverage" in row["flags"]
    md = bench.markdown(table)
    assert md.count("\n| 20") == 7 and "long_gap, low_coverage" in md
