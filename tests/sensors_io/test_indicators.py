"""Indicators on a tiny fixture, every expected value computed by hand."""

import datetime as dt
import functools

import polars as pl
import pytest

from scenarios.calendars import calendar_frame
from sensors_io.indicators import INDICATORS_SCHEMA, traffic_indicators

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
