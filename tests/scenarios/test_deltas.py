"""Indicator deltas, hours above saturation, side-by-side comparison and the mass balance of diversions."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from scenarios.deltas import (
    DELTAS_SCHEMA,
    compare_scenarios,
    indicator_deltas,
    mass_balance,
    saturation_table,
)
from scenarios.forecast import FORECAST_SCHEMA
from scenarios.spec import (
    CapacityChange,
    Closure,
    ScenarioSpec,
    SeasonalSurge,
    apply_scenario,
    load_scenario,
    value_columns,
)
from sensors_io.demo_town import generate_demo_town
from tests.scenarios.test_spec import frame

CATALOG = Path(__file__).resolve().parents[2] / "scenarios" / "catalog"
MARCH = {"start": dt.date(2026, 3, 2), "end": dt.date(2026, 3, 8)}


def local(d: int, h: int) -> dt.datetime:
    """Local hour h on d March 2026 (CET, UTC+1), in UTC."""
    return dt.datetime(2026, 3, d, h - 1, tzinfo=dt.UTC)


def spec(*hyps, name: str = "s") -> ScenarioSpec:
    return ScenarioSpec(name=name, title_fr="t", title_en="t", period=MARCH, hypotheses=list(hyps))


def peaks_baseline() -> pl.DataFrame:
    """Sensor X (car E/W, heavy E) on Monday 2 and Tuesday 3 March (working days) and Saturday 7 March."""
    car = {  # (day, hour): (E, W)
        (2, 7): (100, 50), (2, 8): (200, 60), (2, 17): (150, 100), (2, 18): (120, 90),
        (3, 7): (120, 40), (3, 8): (180, 70), (3, 17): (130, 110), (3, 18): (160, 80),
        (7, 8): (5000, 5000),  # Saturday: in the period's mean daily traffic, not in the working-day peaks
    }
    rows = [("X", "car", d, local(day, h), v) for (day, h), pair in car.items() for d, v in zip("EW", pair)]
    rows.append(("X", "heavy", "E", local(2, 8), 30.0))
    return frame(rows)


def test_tmj_peaks_and_pct_heavy_by_hand() -> None:
    surge = SeasonalSurge(kind="seasonal_surge", multipliers={3: 0.5}, modes=["car"])
    base = peaks_baseline()
    scen = apply_scenario(base, spec(surge))
    d = indicator_deltas(base, scen, spec(surge))
    assert d.schema == pl.Schema(DELTAS_SCHEMA)
    got = {(r["mode"], r["indicator"]): (r["baseline"], r["scenario"], r["delta_pct"]) for r in d.iter_rows(named=True)}
    # car: (100+200+150+120) + (50+60+100+90) + (120+180+130+160) + (40+70+110+80) = 1,760 on the two working
    # days + 10,000 on Saturday, over 3 local days
    assert got[("car", "tmj")] == pytest.approx((11760 / 3, 5880 / 3, -50.0), rel=1e-12)
    # HPM = max over 7 h and 8 h of the working-day mean of E+W: 7 h (150+160)/2 = 155; 8 h (260+250)/2 = 255
    assert got[("car", "hpm")] == pytest.approx((255.0, 127.5, -50.0), rel=1e-12)
    assert got[("car", "hpm_hour")][:2] == (8.0, 8.0) and got[("car", "hpm_hour")][2] is None
    # HPS over 17–19 h: 17 h (250+240)/2 = 245; 18 h (210+240)/2 = 225 → 245 at 17 h
    assert got[("car", "hps")] == pytest.approx((245.0, 122.5, -50.0), rel=1e-12)
    assert got[("car", "hps_hour")][:2] == (17.0, 17.0)
    # %PL = 100 · 30 / (30 + 11,760), then with half the cars 100 · 30 / (30 + 5,880)
    assert got[("heavy", "pct_heavy")][:2] == pytest.approx((100 * 30 / 11790, 100 * 30 / 5910), rel=1e-12)
    assert got[("heavy", "pct_heavy")][2] is None  # a share changes in points, not in % of itself
    assert got[("heavy", "tmj")] == pytest.approx((10.0, 10.0, 0.0), rel=1e-12)
    assert set(d["direction"]) == {"all"} and set(d["scenario_name"]) == {"s"}
    assert d.filter(indicator="hpm", mode="car")["unit"].item() == "veh/h"


def test_hours_above_saturation_against_capacity_before_and_after() -> None:
    base = frame([("R", "car", "E", local(2, 7), 500.0), ("R", "car", "E", local(2, 8), 650.0),
                  ("R", "car", "E", local(2, 9), 700.0), ("R", "heavy", "E", local(2, 7), 50.0),
                  ("R", "heavy", "E", local(2, 8), 40.0), ("R", "heavy", "E", local(2, 9), 10.0),
                  ("R", "car", "W", local(2, 8), 900.0)])
    cap = CapacityChange(kind="capacity_change", sensor="R", directions=["E"], lanes_before=2, lanes_after=1,
                         lane_capacity_uvp_h=600)
    s = spec(cap)
    assert s.capacities().rows() == [("R", "E", 1200.0, 600.0, "carrefour_feux", dt.date(2026, 3, 2),
                                      dt.date(2026, 3, 8))]
    scen = apply_scenario(base, s)
    assert scen["yhat"].to_list() == base["yhat"].to_list()  # capacity does not change the volumes
    # UVP (carrefour_feux: heavy 2): 500+100 = 600, 650+80 = 730, 700+20 = 720. Before 2 × 600 = 1,200: none
    # above; after 600: 730 and 720 are (600 itself is not above), max ratio 730 / 600.
    sat = saturation_table(base, scen, s)
    assert sat.rows() == [("R", "E", "UVP/h", 1200.0, 600.0, 0.0, 2.0, pytest.approx(730 / 1200),
                           pytest.approx(730 / 600))]
    d = indicator_deltas(base, scen, s).filter(mode="uvp")
    assert d.select("direction", "indicator", "baseline", "scenario").rows() == [
        ("E", "hours_above_saturation", 0.0, 2.0), ("E", "vc_max", pytest.approx(730 / 1200), pytest.approx(730 / 600))]
    girabase = CapacityChange(kind="capacity_change", sensor="R", lanes_after=1, lane_capacity_uvp_h=600,
                              uvp_set="girabase")
    assert "W" in set(saturation_table(base, apply_scenario(base, spec(girabase)), spec(girabase))["direction"])


def test_compare_scenarios_side_by_side() -> None:
    base = peaks_baseline()
    half = spec(SeasonalSurge(kind="seasonal_surge", multipliers={3: 0.5}, modes=["car"]), name="half")
    double = spec(SeasonalSurge(kind="seasonal_surge", multipliers={3: 2.0}, modes=["car"]), name="double")
    table = compare_scenarios(base, [apply_scenario(base, half), apply_scenario(base, double)], [half, double])
    assert table.columns[:5] == ["sensor_id", "mode", "direction", "indicator", "unit"]
    assert table.columns[5:] == [f"{n}_{c}" for n in ("half", "double") for c in ("baseline", "scenario", "delta",
                                                                                   "delta_pct")]
    row = table.filter(mode="car", indicator="hpm").row(0, named=True)
    assert (row["half_baseline"], row["half_scenario"], row["double_scenario"], row["double_delta_pct"]) == \
        pytest.approx((255.0, 127.5, 510.0, 100.0), rel=1e-12)


def test_mass_balance_by_hand_and_when_a_target_misses_hours() -> None:
    t8 = local(3, 8)
    base = frame([("A", "car", "S", t8, 100.0), ("A", "car", "N", t8, 60.0), ("B", "car", "E", t8, 30.0),
                  ("B", "car", "W", t8, 10.0), ("C", "car", "lft", t8, 25.0), ("C", "car", "rgt", t8, 75.0),
                  ("B", "car", "W", local(3, 9), 12.0)])
    clo = Closure(kind="closure", sensor="A", modes=["car"], kept_share=0.1,
                  diversion=[{"sensor": "B", "share": 0.6, "direction_map": {"S": "E", "N": "W"}},
                             {"sensor": "C", "share": 0.1}], evaporated_share=0.3)
    s = spec(clo)
    mb = mass_balance(s, base, apply_scenario(base, s))
    closed = mb.filter(role="closed", mode="all").row(0, named=True)
    # 160 on A, 16 kept, 144 closed: 0.6 · 144 = 86.4 to B, 14.4 to C, 43.2 evaporated, nothing left over
    assert (closed["baseline_volume"], closed["kept"], closed["closed_volume"], closed["diverted"],
            closed["evaporated"]) == pytest.approx((160.0, 16.0, 144.0, 100.8, 43.2), rel=1e-9)
    assert abs(closed["residual"]) < 1e-6 and abs(closed["residual_pct"]) < 1e-6
    targets = mb.filter(role="diversion", mode="all").select("target", "declared_share", "diverted").rows()
    assert targets == [("B", 0.6, pytest.approx(86.4)), ("C", 0.1, pytest.approx(14.4))]
    # B has no forecast for W at that hour: the 0.6 · 54 = 32.4 sent there are lost, 22.5 % of 144
    holed = base.filter(~((pl.col("sensor_id") == "B") & (pl.col("direction") == "W") & (pl.col("start_utc") == t8)))
    mb = mass_balance(s, holed, apply_scenario(holed, s))
    closed = mb.filter(role="closed", mode="all").row(0, named=True)
    assert closed["residual"] == pytest.approx(32.4, abs=1e-6)
    assert closed["residual_pct"] == pytest.approx(22.5, abs=1e-6)
    with pytest.raises(ValueError, match="is not 's' applied to this baseline"):
        mass_balance(s, base, apply_scenario(holed, s))


@pytest.fixture(scope="module")
def demo_baseline(tmp_path_factory) -> pl.DataFrame:
    """A stand-in for the baseline forecast over the catalog's 2026 periods: the demo town's own counts for
    March–October 2026 (not measured at night on Telraam: 0), bounds ×0.8 / ×1.2."""
    town = generate_demo_town(tmp_path_factory.mktemp("town"), start=dt.date(2026, 3, 1), end=dt.date(2026, 10, 5))
    e = town.expected.group_by("sensor_id", "mode", "direction", "start_utc").agg(pl.col("count").sum())
    rows = e.with_columns(pl.col("count").fill_null(0.0))
    return frame(list(rows.select("sensor_id", "mode", "direction", "start_utc", "count").iter_rows()))


def test_every_catalog_scenario_applies_to_the_demo_town(demo_baseline: pl.DataFrame) -> None:
    for path in sorted(CATALOG.glob("*.yaml")):
        s = load_scenario(path)
        out = apply_scenario(demo_baseline, s)
        assert out.height > 0 and out["scenario"].unique().to_list() == [s.name]
        assert (out["yhat"] >= 0).all() and (out["yhat_lower"] <= out["yhat"]).all(), path
        d = indicator_deltas(demo_baseline, out, s)
        assert d.filter(pl.col("delta") != 0).height > 0, path  # every scenario changes something


def test_roadworks_catalog_mass_balance_holds_within_a_tenth_of_a_percent(demo_baseline: pl.DataFrame) -> None:
    s = load_scenario(CATALOG / "roadworks_seafront.yaml")
    out = apply_scenario(demo_baseline, s)
    mb = mass_balance(s, demo_baseline, out)
    closed = mb.filter(role="closed", mode="all").row(0, named=True)
    assert abs(closed["residual_pct"]) <= 0.1
    # By hand from the baseline: the seafront's car + heavy traffic from 2 to 22 March, 90 % of it closed,
    # 60 % of that to the Quai Bérigny and 10 % to the Rue Théagène Boufart.
    local_day = pl.col("start_utc").dt.convert_time_zone("Europe/Paris").dt.date()
    seafront = demo_baseline.filter(pl.col("sensor_id") == "CPT-ALBERT-1ER", pl.col("mode").is_in(["car", "heavy"]),
                                    local_day.is_between(dt.date(2026, 3, 2), dt.date(2026, 3, 22)))["yhat"].sum()
    assert closed["baseline_volume"] == pytest.approx(seafront, rel=1e-9)
    assert closed["closed_volume"] == pytest.approx(0.9 * seafront, rel=1e-9)
    diverted = dict(mb.filter(role="diversion", mode="all").select("target", "diverted").rows())
    assert diverted["CPT-QUAI-BERIGNY"] == pytest.approx(0.6 * 0.9 * seafront, rel=1e-6)
    assert diverted["telraam-9000076003"] == pytest.approx(0.1 * 0.9 * seafront, rel=1e-6)
    assert closed["evaporated"] == pytest.approx(0.3 * 0.9 * seafront, rel=1e-9)
    # The quay's own rows gained exactly what the ledger says.
    quay = pl.col("sensor_id") == "CPT-QUAI-BERIGNY"
    gained = out.filter(quay)["yhat"].sum() - demo_baseline.filter(quay, local_day.is_between(
        dt.date(2026, 3, 2), dt.date(2026, 3, 22)))["yhat"].sum()
    assert gained == pytest.approx(diverted["CPT-QUAI-BERIGNY"], rel=1e-6)
    assert set(value_columns(out)) >= {"yhat", "yhat_lower", "yhat_upper"}
    assert list(out.columns) == list(FORECAST_SCHEMA)
