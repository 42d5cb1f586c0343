"""Scenario files: validation with readable errors, and exact multipliers on a baseline forecast."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from scenarios.forecast import FORECAST_SCHEMA
from scenarios.spec import (
    DemandGrowth,
    EventDays,
    ScenarioFileError,
    ScenarioSpec,
    SeasonalSurge,
    apply_scenario,
    load_scenario,
)

CATALOG = Path(__file__).resolve().parents[2] / "scenarios" / "catalog"
UTC = dt.UTC


def _utc(y: int, m: int, d: int, h: int) -> dt.datetime:
    return dt.datetime(y, m, d, h, tzinfo=UTC)


def tiny_baseline() -> pl.DataFrame:
    """Four hours in summer 2026 (CEST = UTC+2) for a car and a pedestrian sensor, and one outside the period."""
    rows = [
        # sensor, mode, start (UTC), yhat, lower, upper
        ("R1", "car", _utc(2026, 7, 14, 18), 100.0, 80.0, 120.0),      # 20 h local, 14 July
        ("R1", "car", _utc(2026, 7, 14, 10), 100.0, 80.0, 120.0),      # 12 h local, 14 July
        ("P1", "pedestrian", _utc(2026, 7, 14, 19), 50.0, 40.0, 60.0),  # 21 h local, 14 July
        ("P1", "pedestrian", _utc(2026, 7, 15, 19), 50.0, 40.0, 60.0),  # 21 h local, 15 July
        ("P1", "pedestrian", _utc(2026, 8, 2, 9), 200.0, 150.0, 260.0),  # August
        ("B1", "bike", _utc(2026, 8, 2, 9), 10.0, 8.0, 12.0),          # bike: no hypothesis applies
        ("R1", "car", _utc(2026, 6, 30, 12), 100.0, 80.0, 120.0),      # June 30: before the period
    ]
    return pl.DataFrame(
        {
            "sensor_id": [r[0] for r in rows], "mode": [r[1] for r in rows], "direction": ["both"] * len(rows),
            "start_utc": [r[2] for r in rows], "yhat": [r[3] for r in rows], "yhat_lower": [r[4] for r in rows],
            "yhat_upper": [r[5] for r in rows], "model": ["hgb_poisson"] * len(rows),
            "cutoff_utc": [_utc(2025, 12, 31, 22)] * len(rows), "scenario": ["baseline"] * len(rows),
        },
        schema=FORECAST_SCHEMA,
    )


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


def test_every_catalog_file_is_valid() -> None:
    files = sorted(CATALOG.glob("*.yaml"))
    assert files
    for f in files:
        load_scenario(f)


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


def test_wrong_field_names_the_file_the_field_and_the_expectation(tmp_path: Path) -> None:
    p = _write(tmp_path, GOOD.replace("multipliers: {7: 1.1}", "multipliers: {13: 1.1}\n    modes: [car, plane]"))
    with pytest.raises(ScenarioFileError) as exc:
        load_scenario(p)
    msg = str(exc.value)
    assert str(p) in msg
    assert "hypotheses[0].seasonal_surge.multipliers[13] (key): " in msg and "less than or equal to 12" in msg
    assert "hypotheses[0].seasonal_surge.modes[1]" in msg and "'pedestrian'" in msg and "'plane'" in msg
    assert "Traceback" not in msg and exc.value.__cause__ is None and exc.value.__suppress_context__


def test_unknown_kind_and_typo_field(tmp_path: Path) -> None:
    with pytest.raises(ScenarioFileError, match=r"hypotheses\[0\]: Input tag 'surge' .*expected tags"):
        load_scenario(_write(tmp_path, GOOD.replace("seasonal_surge", "surge")))
    with pytest.raises(ScenarioFileError, match=r"hypotheses\[0\]\.seasonal_surge\.multiplers: Extra inputs"):
        load_scenario(_write(tmp_path, GOOD.replace("multipliers", "multiplers")))
    with pytest.raises(ScenarioFileError, match=r"period: Value error, end \(2026-06-01\) is before start"):
        load_scenario(_write(tmp_path, GOOD.replace("end: 2026-07-31", "end: 2026-06-01")))
    with pytest.raises(ScenarioFileError, match=r"name: String should match pattern"):
        load_scenario(_write(tmp_path, GOOD.replace("name: test", "name: Été 2026")))


def test_yaml_syntax_error_gives_line_and_column(tmp_path: Path) -> None:
    with pytest.raises(ScenarioFileError, match=r"bad\.yaml: not valid YAML at line 3, column"):
        load_scenario(_write(tmp_path, "name: x\ntitle_fr: [unclosed\ntitle_en: y\n"))
    with pytest.raises(ScenarioFileError, match="cannot read"):
        load_scenario(tmp_path / "missing.yaml")
    with pytest.raises(ScenarioFileError, match="expected a mapping"):
        load_scenario(_write(tmp_path, "- just\n- a list\n"))


def _spec(*hyps) -> ScenarioSpec:
    return ScenarioSpec(name="t", title_fr="t", title_en="t",
                        period={"start": dt.date(2026, 7, 1), "end": dt.date(2026, 8, 31)}, hypotheses=list(hyps))


def test_multipliers_are_applied_exactly_and_only_where_they_apply() -> None:
    spec = load_scenario(CATALOG / "summer_peak.yaml")
    out = apply_scenario(tiny_baseline(), spec)
    assert out.schema == tiny_baseline().schema
    assert out["scenario"].unique().to_list() == ["summer_peak"]
    got = {(r["sensor_id"], r["start_utc"]): (r["yhat"], r["yhat_lower"], r["yhat_upper"]) for r in out.iter_rows(named=True)}
    assert len(got) == 6  # 30 June is outside the period
    # car at 20 h on 14 July: July surge ×1.15 then fireworks ×1.3
    assert got[("R1", _utc(2026, 7, 14, 18))] == pytest.approx((149.5, 119.6, 179.4), rel=1e-12)
    # car at noon on 14 July: outside the event hours, July surge only
    assert got[("R1", _utc(2026, 7, 14, 10))] == pytest.approx((115.0, 92.0, 138.0), rel=1e-12)
    # pedestrian at 21 h on 14 July: ×1.15 × 1.8
    assert got[("P1", _utc(2026, 7, 14, 19))] == pytest.approx((103.5, 82.8, 124.2), rel=1e-12)
    # pedestrian at 21 h on 15 July: the day after the event, surge only
    assert got[("P1", _utc(2026, 7, 15, 19))] == pytest.approx((57.5, 46.0, 69.0), rel=1e-12)
    # pedestrian in August: ×1.25
    assert got[("P1", _utc(2026, 8, 2, 9))] == pytest.approx((250.0, 187.5, 325.0), rel=1e-12)
    # bikes are not in any hypothesis: unchanged to the bit
    assert got[("B1", _utc(2026, 8, 2, 9))] == (10.0, 8.0, 12.0)


def test_event_hours_are_local_and_other_hours_unchanged() -> None:
    ev = EventDays(kind="event_days", dates=[dt.date(2026, 7, 14)], hours=[21], multiplier=2.0)
    base = tiny_baseline().filter(pl.col("start_utc") >= _utc(2026, 7, 1, 0))
    out = apply_scenario(base, _spec(ev))
    changed = out.join(base, on=["sensor_id", "start_utc"], suffix="_b").filter(pl.col("yhat") != pl.col("yhat_b"))
    # only 19:00 UTC = 21 h CEST on 14 July changes; 21 h on 15 July and 18:00 UTC (20 h) do not
    assert changed.select("sensor_id", "start_utc").rows() == [("P1", _utc(2026, 7, 14, 19))]
    assert changed["yhat"].item() == 100.0


def test_demand_growth_compounds_from_reference_and_filters_sensors() -> None:
    g = DemandGrowth(kind="demand_growth", pct_per_year=10.0, reference=dt.date(2025, 7, 14), sensors=["R1"])
    out = apply_scenario(tiny_baseline(), _spec(g))
    r1 = out.filter(sensor_id="R1", start_utc=_utc(2026, 7, 14, 18))
    assert r1["yhat"].item() == pytest.approx(100.0 * 1.1 ** (365 / 365.25), rel=1e-12)
    assert out.filter(sensor_id="P1")["yhat"].to_list() == [50.0, 50.0, 200.0]


def test_hypotheses_apply_in_order_and_compose() -> None:
    s = SeasonalSurge(kind="seasonal_surge", multipliers={8: 2.0})
    e = EventDays(kind="event_days", dates=[dt.date(2026, 8, 2)], multiplier=0.5, modes=["bike"])
    out = apply_scenario(tiny_baseline(), _spec(s, e)).filter(start_utc=_utc(2026, 8, 2, 9)).sort("sensor_id")
    assert out.select("sensor_id", "yhat").rows() == [("B1", 10.0), ("P1", 400.0)]


def test_baseline_name_is_reserved() -> None:
    with pytest.raises(ValueError, match="reserved"):
        ScenarioSpec(name="baseline", title_fr="t", title_en="t", period={"start": "2026-01-01", "end": "2026-01-02"},
                     hypotheses=[{"kind": "seasonal_surge", "multipliers": {1: 1.0}}])
