"""Scenario files: validation with readable errors, and exact effects of each hypothesis on a baseline forecast."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from scenarios.forecast import FORECAST_SCHEMA
from scenarios.spec import (
    CapacityChange,
    Closure,
    DemandGrowth,
    EventDays,
    ModalShift,
    Pedestrianisation,
    ScenarioDataError,
    ScenarioFileError,
    ScenarioSpec,
    SeasonalSurge,
    apply_scenario,
    load_scenario,
    value_columns,
)
from sensors_io.demo_town import SENSORS

CATALOG = Path(__file__).resolve().parents[2] / "scenarios" / "catalog"
UTC = dt.UTC
CUTOFF = dt.datetime(2025, 12, 31, 23, tzinfo=UTC)


def _utc(y: int, m: int, d: int, h: int) -> dt.datetime:
    return dt.datetime(y, m, d, h, tzinfo=UTC)


def frame(rows: list[tuple]) -> pl.DataFrame:
    """Forecast rows (sensor, mode, direction, start, yhat); every bound is a fixed ratio of yhat (lower ×0.8,
    upper ×1.2, other ``yhat_*`` bounds ×0.5 / ×1.5), so a scaled or moved row keeps those ratios."""
    data = {"sensor_id": [r[0] for r in rows], "mode": [r[1] for r in rows], "direction": [r[2] for r in rows],
            "start_utc": [r[3] for r in rows], "yhat": [float(r[4]) for r in rows]}
    for col in FORECAST_SCHEMA:
        if col.startswith("yhat_"):
            k = 0.8 if col == "yhat_lower" else 1.2 if col == "yhat_upper" else 0.5 if "lower" in col else 1.5
            data[col] = [k * float(r[4]) for r in rows]
    data.update(model=["hgb_poisson"] * len(rows), cutoff_utc=[CUTOFF] * len(rows), scenario=["baseline"] * len(rows))
    return pl.DataFrame(data).select(list(FORECAST_SCHEMA)).cast(FORECAST_SCHEMA)


def tiny_baseline() -> pl.DataFrame:
    """Hours in summer 2026 (CEST = UTC+2) for a car and a pedestrian sensor, and one outside the period."""
    return frame([
        ("R1", "car", "both", _utc(2026, 7, 14, 18), 100.0),         # 20 h local, 14 July
        ("R1", "car", "both", _utc(2026, 7, 14, 10), 100.0),         # 12 h local, 14 July
        ("P1", "pedestrian", "both", _utc(2026, 7, 14, 19), 50.0),   # 21 h local, 14 July
        ("P1", "pedestrian", "both", _utc(2026, 7, 15, 19), 50.0),   # 21 h local, 15 July
        ("P1", "pedestrian", "both", _utc(2026, 8, 2, 9), 200.0),    # August
        ("B1", "bike", "both", _utc(2026, 8, 2, 9), 10.0),           # bike: no hypothesis applies
        ("R1", "car", "both", _utc(2026, 6, 30, 12), 100.0),         # June 30: before the period
    ])


def values(out: pl.DataFrame, sensor: str, start: dt.datetime, direction: str | None = None,
           mode: str | None = None) -> tuple[float, float, float]:
    f = out.filter(pl.col("sensor_id") == sensor, pl.col("start_utc") == start)
    if direction is not None:
        f = f.filter(pl.col("direction") == direction)
    if mode is not None:
        f = f.filter(pl.col("mode") == mode)
    assert f.height == 1, f
    return f["yhat"].item(), f["yhat_lower"].item(), f["yhat_upper"].item()


def assert_bounds_keep_ratios(out: pl.DataFrame) -> None:
    """Every hypothesis scales or moves each bound with the same share: the ratios of frame() survive."""
    for col in value_columns(out):
        if col == "yhat":
            continue
        k = 0.8 if col == "yhat_lower" else 1.2 if col == "yhat_upper" else 0.5 if "lower" in col else 1.5
        assert ((out[col] - k * out["yhat"]).abs() <= 1e-9 * (1 + out["yhat"].abs())).all(), col


# --------------------------------------------------------------------------------------------------
# catalog
# --------------------------------------------------------------------------------------------------
def test_catalog_summer_peak_loads() -> None:
    spec = load_scenario(CATALOG / "summer_peak.yaml")
    assert spec.name == "summer_peak"
    assert spec.title_fr == "Été 2026 : pic touristique"
    assert (spec.period.start, spec.period.end) == (dt.date(2026, 7, 1), dt.date(2026, 8, 31))
    surge = spec.hypotheses[0]
    assert isinstance(surge, SeasonalSurge)
    assert surge.multipliers == {7: 1.15, 8: 1.25}
    assert surge.modes == ["car", "pedestrian"]
    events = [h for h in spec.hypotheses if isinstance(h, EventDays)]
    assert events and all(h.dates == [dt.date(2026, 7, 14)] and min(h.hours) >= 18 for h in events)
    assert "juillet ×1,15" in surge.describe("fr") and "July ×1.15" in surge.describe("en")


def test_every_catalog_file_is_valid_and_names_only_demo_town_sensors() -> None:
    files = sorted(CATALOG.glob("*.yaml"))
    assert {f.stem for f in files} == {"summer_peak", "festival_weekend", "roadworks_seafront",
                                       "bike_lane_entrance", "pedestrian_centre"}
    demo_ids = {s.sensor_id for s in SENSORS}
    for f in files:
        spec = load_scenario(f)
        assert spec.name == f.stem and spec.source == str(f)
        assert set(spec.sensor_ids()) <= demo_ids, f
        # The demo town covers 2024–2025: every scenario is in 2026, so a baseline forecast exists for it.
        assert spec.period.start >= dt.date(2026, 1, 1) and spec.period.end <= dt.date(2026, 12, 31)
        for h in spec.hypotheses:
            assert h.describe("fr") and h.describe("en")
    roadworks = load_scenario(CATALOG / "roadworks_seafront.yaml").hypotheses[0]
    assert isinstance(roadworks, Closure) and roadworks.sensor == "CPT-ALBERT-1ER"
    assert [(t.sensor, t.share) for t in roadworks.diversion] == [("CPT-QUAI-BERIGNY", 0.6),
                                                                   ("telraam-9000076003", 0.1)]
    assert "report : CPT-QUAI-BERIGNY 60 %, telraam-9000076003 10 % ; évaporation 30 %" in roadworks.describe("fr")


# --------------------------------------------------------------------------------------------------
# invalid files: every error names the file, the field and what was expected
# --------------------------------------------------------------------------------------------------
def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "bad.yaml"
    p.write_text(text, encoding="utf-8")
    return p


GOOD = """
name: test
title_fr: T
title_en: T
period: {start: 2026-07-01, end: 2026-07-31}
hypotheses:
  - kind: seasonal_surge
    multipliers: {7: 1.1}
"""

CLOSURE = """
name: test
title_fr: T
title_en: T
period: {start: 2026-03-02, end: 2026-03-22}
hypotheses:
  - kind: closure
    sensor: A
    kept_share: 0.1
    diversion:
      - {sensor: B, share: 0.6, direction_map: {S: E, N: W}}
      - {sensor: C, share: 0.1}
    evaporated_share: 0.3
"""


def _error(tmp_path: Path, text: str) -> str:
    p = _write(tmp_path, text)
    with pytest.raises(ScenarioFileError) as exc:
        load_scenario(p)
    msg = str(exc.value)
    assert msg.startswith(f"{p}: invalid scenario file")
    assert "Traceback" not in msg and exc.value.__cause__ is None and exc.value.__suppress_context__
    return msg


def test_wrong_field_names_the_file_the_field_and_the_expectation(tmp_path: Path) -> None:
    msg = _error(tmp_path, GOOD.replace("multipliers: {7: 1.1}", "multipliers: {13: 1.1}\n    modes: [car, plane]"))
    assert "hypotheses[0].seasonal_surge.multipliers[13] (key): " in msg and "less than or equal to 12" in msg
    assert "hypotheses[0].seasonal_surge.modes[1]" in msg and "'pedestrian'" in msg and "'plane'" in msg


def test_unknown_kind_and_typo_field(tmp_path: Path) -> None:
    with pytest.raises(ScenarioFileError, match=r"hypotheses\[0\]: Input tag 'surge' .*expected tags"):
        load_scenario(_write(tmp_path, GOOD.replace("seasonal_surge", "surge")))
    with pytest.raises(ScenarioFileError, match=r"hypotheses\[0\]\.seasonal_surge\.multiplers: Extra inputs"):
        load_scenario(_write(tmp_path, GOOD.replace("multipliers", "multiplers")))
    with pytest.raises(ScenarioFileError, match=r"period: Value error, end \(2026-06-01\) is before start"):
        load_scenario(_write(tmp_path, GOOD.replace("end: 2026-07-31", "end: 2026-06-01")))
    with pytest.raises(ScenarioFileError, match=r"name: String should match pattern"):
        load_scenario(_write(tmp_path, GOOD.replace("name: test", "name: Été 2026")))


def test_the_valid_closure_text_loads(tmp_path: Path) -> None:
    spec = load_scenario(_write(tmp_path, CLOSURE))
    assert isinstance(spec.hypotheses[0], Closure) and spec.hypotheses[0].kept_share == 0.1


@pytest.mark.parametrize(("old", "new", "expected"), [
    # 0.6 + 0.1 diverted, 0.2 evaporated: 0.1 of the removed traffic is unaccounted for
    ("evaporated_share: 0.3", "evaporated_share: 0.2",
     r"hypotheses[0].closure: Value error, shares do not balance: diversion shares (0.6 + 0.1 = 0.7) must equal "
     r"1 − evaporated_share (0.2) + induced_share (0) = 0.8"),
    ("share: 0.6,", "share: 1.6,", "hypotheses[0].closure.diversion[0].share: Input should be less than or equal to 1"),
    ("    sensor: A\n", "", "hypotheses[0].closure.sensor: Field required"),
    ("{sensor: C, share: 0.1}", "{sensor: B, share: 0.1}", "diversion[1].sensor: 'B' is listed twice"),
    ("{sensor: C, share: 0.1}", "{sensor: A, share: 0.1}", "diversion[1].sensor: 'A' is the closed sensor itself"),
    ("kept_share: 0.1", "kept_share: 0.1\n    period: {start: 2026-02-20, end: 2026-03-05}",
     "hypotheses[0].period: 2026-02-20..2026-03-05 is not inside the scenario period 2026-03-02..2026-03-22"),
    ("direction_map: {S: E, N: W}", "direction_map: [S, E]",
     "hypotheses[0].closure.diversion[0].direction_map: Input should be a valid dictionary"),
])
def test_invalid_closure_fields_are_named(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert old in CLOSURE
    assert expected in _error(tmp_path, CLOSURE.replace(old, new))


@pytest.mark.parametrize(("hypothesis", "expected"), [
    ("{kind: modal_shift, sensors: [R], to_mode: car, share: 0.02}",
     "hypotheses[0].modal_shift.to_mode: Input should be 'bike' or 'pedestrian' (got 'car')"),
    ("{kind: modal_shift, sensors: [], to_mode: bike, share: 0.02}",
     "hypotheses[0].modal_shift.sensors: List should have at least 1 item"),
    ("{kind: modal_shift, sensors: [R], to_mode: bike, share: 0.02, counted_at: [{sensor: V, share: 0.7}, "
     "{sensor: W, share: 0.5}]}", "counted_at shares add up to 1.2; expected at most 1"),
    ("{kind: capacity_change, sensor: R, lanes_after: 0, lane_capacity_uvp_h: 600}",
     "hypotheses[0].capacity_change.lanes_after: Input should be greater than or equal to 1 (got 0)"),
    ("{kind: capacity_change, sensor: R, lanes_after: 1, lane_capacity_uvp_h: 600, uvp_set: pcu}",
     "hypotheses[0].capacity_change.uvp_set: Value error, unknown UVP coefficient set 'pcu'; expected one of: "
     "carrefour_feux, girabase"),
    ("{kind: capacity_change, sensor: R, lanes_after: 1}",
     "hypotheses[0].capacity_change.lane_capacity_uvp_h: Field required"),
    ("{kind: pedestrianisation, sensor: P, diversion: [{sensor: Q, share: 0.8}], evaporated_share: 0.2, "
     "pedestrian_uplift: 0}", "hypotheses[0].pedestrianisation.pedestrian_uplift: Input should be greater than 0"),
    ("{kind: event_days, dates: [2026-07-14]}",
     "hypotheses[0].event_days: Value error, give `multiplier` (a number, e.g. 1.3) or `profile`"),
    ("{kind: event_days, dates: [2026-07-14], profile: {18: 2}, hours: [18]}",
     "`hours` goes with `multiplier`; with `profile`, list the hours in the profile"),
    ("{kind: event_days, dates: [2026-07-14], profile: {24: 2}}",
     "hypotheses[0].event_days.profile[24] (key): Input should be less than or equal to 23"),
    ("{kind: event_days, dates: [2026-08-14], multiplier: 2}",
     "hypotheses[0].dates: 2026-08-14 is not inside the scenario period 2026-07-01..2026-07-31"),
    ("{kind: demand_growth, pct_per_year: 2, reference: 2026-01-01, groups: [entres]}",
     "hypotheses[0].groups: unknown sensor group 'entres' (sensor_groups defines: entrees)"),
])
def test_invalid_hypotheses_are_named(tmp_path: Path, hypothesis: str, expected: str) -> None:
    text = GOOD.replace("hypotheses:", "sensor_groups: {entrees: [E1, E2]}\nhypotheses:").replace(
        "  - kind: seasonal_surge\n    multipliers: {7: 1.1}\n", f"  - {hypothesis}\n")
    assert expected in _error(tmp_path, text)


def test_yaml_syntax_error_gives_line_and_column(tmp_path: Path) -> None:
    with pytest.raises(ScenarioFileError, match=r"bad\.yaml: not valid YAML at line 3, column"):
        load_scenario(_write(tmp_path, "name: x\ntitle_fr: [unclosed\ntitle_en: y\n"))
    with pytest.raises(ScenarioFileError, match="cannot read"):
        load_scenario(tmp_path / "missing.yaml")
    with pytest.raises(ScenarioFileError, match="expected a mapping"):
        load_scenario(_write(tmp_path, "- just\n- a list\n"))


# --------------------------------------------------------------------------------------------------
# multiplicative hypotheses
# --------------------------------------------------------------------------------------------------
def _spec(*hyps, start: dt.date = dt.date(2026, 7, 1), end: dt.date = dt.date(2026, 8, 31), **kw) -> ScenarioSpec:
    return ScenarioSpec(name="t", title_fr="t", title_en="t", period={"start": start, "end": end},
                        hypotheses=list(hyps), **kw)


def test_multipliers_are_applied_exactly_and_only_where_they_apply() -> None:
    spec = load_scenario(CATALOG / "summer_peak.yaml")
    out = apply_scenario(tiny_baseline(), spec)
    assert out.schema == tiny_baseline().schema
    assert out["scenario"].unique().to_list() == ["summer_peak"]
    assert out.height == 6  # 30 June is outside the period
    # car at 20 h on 14 July: July surge ×1.15 then fireworks ×1.3
    assert values(out, "R1", _utc(2026, 7, 14, 18)) == pytest.approx((149.5, 119.6, 179.4), rel=1e-12)
    # car at noon on 14 July: outside the event hours, July surge only
    assert values(out, "R1", _utc(2026, 7, 14, 10)) == pytest.approx((115.0, 92.0, 138.0), rel=1e-12)
    # pedestrian at 21 h on 14 July: ×1.15 × 1.8
    assert values(out, "P1", _utc(2026, 7, 14, 19)) == pytest.approx((103.5, 82.8, 124.2), rel=1e-12)
    # pedestrian at 21 h on 15 July: the day after the event, surge only
    assert values(out, "P1", _utc(2026, 7, 15, 19)) == pytest.approx((57.5, 46.0, 69.0), rel=1e-12)
    # pedestrian in August: ×1.25 on 200 (bounds 160 and 240)
    assert values(out, "P1", _utc(2026, 8, 2, 9)) == pytest.approx((250.0, 200.0, 300.0), rel=1e-12)
    # bikes are not in any hypothesis: unchanged to the bit
    assert values(out, "B1", _utc(2026, 8, 2, 9)) == (10.0, 8.0, 12.0)
    assert_bounds_keep_ratios(out)


def test_event_hours_are_local_and_other_hours_unchanged() -> None:
    ev = EventDays(kind="event_days", dates=[dt.date(2026, 7, 14)], hours=[21], multiplier=2.0)
    base = tiny_baseline().filter(pl.col("start_utc") >= _utc(2026, 7, 1, 0))
    out = apply_scenario(base, _spec(ev))
    changed = out.join(base, on=["sensor_id", "start_utc"], suffix="_b").filter(pl.col("yhat") != pl.col("yhat_b"))
    # only 19:00 UTC = 21 h CEST on 14 July changes; 21 h on 15 July and 18:00 UTC (20 h) do not
    assert changed.select("sensor_id", "start_utc").rows() == [("P1", _utc(2026, 7, 14, 19))]
    assert changed["yhat"].item() == 100.0


def test_event_profile_multiplies_listed_hours_and_the_rest_of_the_day() -> None:
    ev = EventDays(kind="event_days", dates=[dt.date(2026, 7, 14)], multiplier=1.5, profile={20: 2.0, 21: 3.0},
                   sensors=["R1", "P1"])
    out = apply_scenario(tiny_baseline(), _spec(ev))
    assert values(out, "R1", _utc(2026, 7, 14, 18))[0] == 200.0  # 20 h: profile ×2
    assert values(out, "R1", _utc(2026, 7, 14, 10))[0] == 150.0  # 12 h: not in the profile, ×1.5
    assert values(out, "P1", _utc(2026, 7, 14, 19))[0] == 150.0  # 21 h: ×3
    assert values(out, "P1", _utc(2026, 7, 15, 19))[0] == 50.0   # 15 July: not an event day
    bare = EventDays(kind="event_days", dates=[dt.date(2026, 7, 14)], profile={20: 2.0})
    out = apply_scenario(tiny_baseline(), _spec(bare))
    assert values(out, "R1", _utc(2026, 7, 14, 10))[0] == 100.0  # no multiplier: other hours ×1
    assert "20 h ×2, 21 h ×3, autres heures ×1,5" in ev.describe("fr")
    evening = EventDays(kind="event_days", dates=[dt.date(2026, 7, 14)], profile={h: 1.9 for h in range(18, 24)})
    assert "14 July 2026, from 18:00 to midnight ×1.9 — all modes" in evening.describe("en")


def test_demand_growth_compounds_from_reference_and_filters_sensors_and_groups() -> None:
    g = DemandGrowth(kind="demand_growth", pct_per_year=10.0, reference=dt.date(2025, 7, 14), sensors=["R1"])
    out = apply_scenario(tiny_baseline(), _spec(g))
    assert values(out, "R1", _utc(2026, 7, 14, 18))[0] == pytest.approx(100.0 * 1.1 ** (365 / 365.25), rel=1e-12)
    assert out.filter(sensor_id="P1")["yhat"].to_list() == [50.0, 50.0, 200.0]
    by_group = DemandGrowth(kind="demand_growth", pct_per_year=-10.0, reference=dt.date(2026, 7, 14), groups=["walk"])
    out = apply_scenario(tiny_baseline(), _spec(by_group, sensor_groups={"walk": ["P1"]}))
    # 2 August is 19 days after the reference: 200 × 0.9^(19/365.25)
    assert values(out, "P1", _utc(2026, 8, 2, 9))[0] == pytest.approx(200.0 * 0.9 ** (19 / 365.25), rel=1e-12)
    assert values(out, "R1", _utc(2026, 7, 14, 18))[0] == 100.0


def test_hypotheses_apply_in_order_and_compose() -> None:
    s = SeasonalSurge(kind="seasonal_surge", multipliers={8: 2.0})
    e = EventDays(kind="event_days", dates=[dt.date(2026, 8, 2)], multiplier=0.5, modes=["bike"])
    out = apply_scenario(tiny_baseline(), _spec(s, e)).filter(start_utc=_utc(2026, 8, 2, 9)).sort("sensor_id")
    assert out.select("sensor_id", "yhat").rows() == [("B1", 10.0), ("P1", 400.0)]


def test_baseline_name_is_reserved() -> None:
    with pytest.raises(ValueError, match="reserved"):
        ScenarioSpec(name="baseline", title_fr="t", title_en="t", period={"start": "2026-01-01", "end": "2026-01-02"},
                     hypotheses=[{"kind": "seasonal_surge", "multipliers": {1: 1.0}}])


# --------------------------------------------------------------------------------------------------
# moving traffic
# --------------------------------------------------------------------------------------------------
T8 = _utc(2026, 3, 3, 7)    # 8 h local (CET = UTC+1) on Tuesday 3 March, inside the closure
T_OUT = _utc(2026, 3, 10, 7)  # a week later: the scenario period, but after the closure's own dates


def closure_baseline() -> pl.DataFrame:
    return frame([
        ("A", "car", "S", T8, 100.0), ("A", "car", "N", T8, 60.0), ("A", "heavy", "S", T8, 4.0),
        ("B", "car", "E", T8, 30.0), ("B", "car", "W", T8, 10.0),
        ("C", "car", "lft", T8, 25.0), ("C", "car", "rgt", T8, 75.0),
        ("A", "car", "S", T_OUT, 100.0), ("B", "car", "E", T_OUT, 30.0),
    ])


def closure(**kw) -> Closure:
    args = dict(kind="closure", sensor="A", modes=["car"], kept_share=0.1,
                period={"start": dt.date(2026, 3, 2), "end": dt.date(2026, 3, 8)},
                diversion=[{"sensor": "B", "share": 0.6, "direction_map": {"S": "E", "N": "W"}},
                           {"sensor": "C", "share": 0.1}], evaporated_share=0.3)
    return Closure(**{**args, **kw})


def test_closure_keeps_diverts_by_direction_map_and_pro_rata() -> None:
    spec = _spec(closure(), start=dt.date(2026, 3, 2), end=dt.date(2026, 3, 15))
    out = apply_scenario(closure_baseline(), spec)
    # A keeps 10 %: S 100 → 10, N 60 → 6; removed 90 and 54.
    assert values(out, "A", T8, "S", "car")[0] == pytest.approx(10.0, rel=1e-12)
    assert values(out, "A", T8, "N", "car")[0] == pytest.approx(6.0, rel=1e-12)
    # B (map S→E, N→W) gets 60 %: E 30 + 0.6·90 = 84, W 10 + 0.6·54 = 42.4
    assert values(out, "B", T8, "E") == pytest.approx((84.0, 67.2, 100.8), rel=1e-12)
    assert values(out, "B", T8, "W")[0] == pytest.approx(42.4, rel=1e-12)
    # C (no map) gets 10 % of 144 = 14.4, split 25/75 like its own traffic: lft 25 + 3.6, rgt 75 + 10.8
    assert values(out, "C", T8, "lft")[0] == pytest.approx(28.6, rel=1e-12)
    assert values(out, "C", T8, "rgt")[0] == pytest.approx(85.8, rel=1e-12)
    # heavy is not closed here; the next week is outside the closure's dates
    assert values(out, "A", T8, "S", "heavy")[0] == 4.0
    assert values(out, "A", T_OUT)[0] == 100.0 and values(out, "B", T_OUT)[0] == 30.0
    assert out.height == closure_baseline().height
    assert_bounds_keep_ratios(out)


def test_pedestrianisation_removes_cars_diverts_them_and_raises_pedestrians() -> None:
    base = frame([("P", "car", "both", T8, 200.0), ("P", "pedestrian", "both", T8, 50.0),
                  ("P", "bike", "both", T8, 8.0), ("Q", "car", "both", T8, 100.0)])
    ped = Pedestrianisation(kind="pedestrianisation", sensor="P", kept_share=0.05,
                            diversion=[{"sensor": "Q", "share": 0.8}], evaporated_share=0.2, pedestrian_uplift=1.25)
    out = apply_scenario(base, _spec(ped, start=dt.date(2026, 3, 2), end=dt.date(2026, 3, 8)))
    assert values(out, "P", T8, mode="car")[0] == pytest.approx(10.0, rel=1e-12)     # 5 % of 200 kept
    assert values(out, "Q", T8)[0] == pytest.approx(252.0, rel=1e-12)                # 100 + 0.8 · 190
    assert values(out, "P", T8, mode="pedestrian")[0] == pytest.approx(62.5, rel=1e-12)  # 50 × 1.25
    assert values(out, "P", T8, mode="bike")[0] == 8.0                                 # bikes stay
    assert_bounds_keep_ratios(out)


def test_modal_shift_counted_elsewhere_or_on_the_same_sensor() -> None:
    base = frame([("R", "car", "E", T8, 500.0), ("R", "car", "W", T8, 300.0),
                  ("V", "bike", "E", T8, 40.0), ("V", "bike", "W", T8, 60.0),
                  ("T", "car", "both", T8, 1000.0), ("T", "bike", "both", T8, 20.0)])
    to_v = ModalShift(kind="modal_shift", sensors=["R"], to_mode="bike", share=0.02,
                      counted_at=[{"sensor": "V", "share": 0.5, "direction_map": {"E": "E", "W": "W"}}])
    same = ModalShift(kind="modal_shift", sensors=["T"], to_mode="bike", share=0.05, persons_per_vehicle=1.2)
    out = apply_scenario(base, _spec(to_v, same, start=dt.date(2026, 3, 2), end=dt.date(2026, 3, 8)))
    # R loses 2 %: 490 and 294; half of the 10 and 6 moved trips are counted at V: 45 and 63
    assert values(out, "R", T8, "E")[0] == pytest.approx(490.0, rel=1e-12)
    assert values(out, "R", T8, "W")[0] == pytest.approx(294.0, rel=1e-12)
    assert values(out, "V", T8, "E")[0] == pytest.approx(45.0, rel=1e-12)
    assert values(out, "V", T8, "W")[0] == pytest.approx(63.0, rel=1e-12)
    # T: 5 % of 1000 cars = 50 vehicles × 1.2 persons = 60 more bikes on the same sensor
    assert values(out, "T", T8, mode="car")[0] == pytest.approx(950.0, rel=1e-12)
    assert values(out, "T", T8, mode="bike")[0] == pytest.approx(80.0, rel=1e-12)
    assert_bounds_keep_ratios(out)


def test_unknown_sensor_is_reported_with_file_hypothesis_and_id(tmp_path: Path) -> None:
    p = _write(tmp_path, CLOSURE.replace("sensor: C,", "sensor: CPT-NOPE,"))
    spec = load_scenario(p)
    with pytest.raises(ScenarioDataError) as exc:
        apply_scenario(closure_baseline(), spec)
    assert str(exc.value) == (f"{p}: hypotheses[0] (closure): diversion[1].sensor: sensor 'CPT-NOPE' is not in the "
                              "baseline forecast (expected one of: A, B, C)")
    assert isinstance(exc.value, ScenarioFileError)  # the CLI's user errors catch it


def test_data_mismatches_are_reported_at_apply_time() -> None:
    spec = _spec(closure(diversion=[{"sensor": "B", "share": 0.6, "direction_map": {"S": "E"}},
                                    {"sensor": "C", "share": 0.1}]), start=dt.date(2026, 3, 2), end=dt.date(2026, 3, 8))
    with pytest.raises(ScenarioDataError, match=r"scenario 't': hypotheses\[0\] \(closure\): diversion\[0\]\."
                                                r"direction_map: no entry for direction 'N'"):
        apply_scenario(closure_baseline(), spec)
    spec = _spec(closure(modes=["heavy"]), start=dt.date(2026, 3, 2), end=dt.date(2026, 3, 8))
    with pytest.raises(ScenarioDataError, match=r"diversion\[0\]: sensor 'B' has no 'heavy' series"):
        apply_scenario(closure_baseline(), spec)
    ped = Pedestrianisation(kind="pedestrianisation", sensor="A", modes=["car"],
                            diversion=[{"sensor": "C", "share": 1.0}], pedestrian_uplift=1.2)
    with pytest.raises(ScenarioDataError, match=r"sensor: sensor 'A' has no pedestrian series"):
        apply_scenario(closure_baseline(), _spec(ped, start=dt.date(2026, 3, 2), end=dt.date(2026, 3, 8)))
    # Without `modes`, a pedestrianisation removes every motor mode: A's lorries too, which C cannot receive.
    default_modes = Pedestrianisation(kind="pedestrianisation", sensor="A", diversion=[{"sensor": "C", "share": 1.0}])
    with pytest.raises(ScenarioDataError, match=r"diversion\[0\]: sensor 'C' has no 'heavy' series .*its modes: car"):
        apply_scenario(closure_baseline(), _spec(default_modes, start=dt.date(2026, 3, 2), end=dt.date(2026, 3, 8)))
    cap = CapacityChange(kind="capacity_change", sensor="A", directions=["E"], lanes_after=1, lane_capacity_uvp_h=900)
    with pytest.raises(ScenarioDataError, match=r"\(capacity_change\): directions\[0\]: sensor 'A' has no direction "
                                                r"'E' \(its directions: N, S\)"):
        apply_scenario(closure_baseline(), _spec(cap, start=dt.date(2026, 3, 2), end=dt.date(2026, 3, 8)))
    growth = DemandGrowth(kind="demand_growth", pct_per_year=1.0, reference=dt.date(2026, 1, 1), sensors=["A", "Z"])
    with pytest.raises(ScenarioDataError, match=r"hypotheses\[0\] \(demand_growth\): sensors\[1\]: sensor 'Z'"):
        apply_scenario(closure_baseline(), _spec(growth, start=dt.date(2026, 3, 2), end=dt.date(2026, 3, 8)))


def test_hypothesis_texts_name_groups_lanes_and_coefficient_sets_in_words() -> None:
    from scenarios.spec import UVP_SET_NAMES
    from sensors_io.indicators import UVP_SETS

    for lang in ("fr", "en"):
        assert set(UVP_SET_NAMES[lang]) == set(UVP_SETS)  # every set has a reader's name
    festival = load_scenario(CATALOG / "festival_weekend.yaml")
    grouped = next(h for h in festival.hypotheses if h.groups == ["entrees"])
    text = grouped.describe("fr", festival.sensor_groups)
    assert "capteurs : groupe « entrees » (CPT-ROUTE-ETRETAT, CPT-ROUTE-VALMONT)" in text
    assert "sensors: group “entrees” (CPT-ROUTE-ETRETAT, CPT-ROUTE-VALMONT)" in grouped.describe(
        "en", festival.sensor_groups)
    assert "groupe entrees" in grouped.describe("fr")  # without the spec's groups: the name only
    same = CapacityChange(kind="capacity_change", sensor="A", lanes_before=1, lanes_after=1,
                          lane_capacity_uvp_h=750, lane_capacity_after_uvp_h=900)
    assert same.describe("fr") == ("Capacité : A (A, tous sens) — 1 voie, 750 → 900 UVP/h par sens "
                                   "(coefficients UVP d'un carrefour à feux).")
    fewer = CapacityChange(kind="capacity_change", sensor="A", street="Quai", lanes_before=2, lanes_after=1,
                           lane_capacity_uvp_h=900, uvp_set="girabase")
    assert fewer.describe("en") == ("Capacity: Quai (A, all directions) — 2 lanes → 1 lane, 1,800 → 900 PCU/h per "
                                    "direction (PCU coefficients of a roundabout (Girabase)).")
    bike_lane = load_scenario(CATALOG / "bike_lane_entrance.yaml")
    inbound = next(h for h in bike_lane.hypotheses if isinstance(h, CapacityChange) and h.directions == ["E"])
    assert "(CPT-ROUTE-ETRETAT, vers l'est (E)) — 2 voies → 1 voie" in inbound.describe("fr")
    unchanged = CapacityChange(kind="capacity_change", sensor="A", lanes_before=2, lanes_after=2,
                               lane_capacity_uvp_h=700)
    assert "— 2 voies, 1\u202f400 UVP/h par sens, inchangée (coefficients" in unchanged.describe("fr")
    from scenarios.spec import _num
    # thousands grouped as in the tables, never an exponent (f"{x:g}" wrote 1.5e+06), no trailing zeros
    assert [_num(v, "fr") for v in (1_500_000.0, 1.15, 2.0, 0.1, -0.0)] == ["1\u202f500\u202f000", "1,15", "2", "0,1", "0"]
    assert _num(1_500_000.0, "en") == "1,500,000" and _num(12.5, "en") == "12.5"
