"""Impact of a past intervention: study files, a known synthetic effect, and the demo town's roadworks."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from scenarios.impact import (
    TABLE_SCHEMA,
    ImpactDataError,
    ImpactFileError,
    ImpactStudy,
    evaluate_impact,
    load_impact_study,
    placebo_dates,
)
from sensors_io.aggregate import daily_totals
from sensors_io.demo_town import generate_demo_town
from sensors_io.detect import discover
from sensors_io.quality import flag_counts

IMPACT = Path(__file__).resolve().parents[2] / "scenarios" / "catalog" / "impact"
TZ = "Europe/Paris"


# --------------------------------------------------------------------------------------------------
# a synthetic town with a known effect
# --------------------------------------------------------------------------------------------------
def synthetic_daily(effect: float = -0.30) -> pl.DataFrame:
    """Daily car totals of a treated sensor T and three controls over 2024, all sharing a seasonal and a
    weather-like daily factor; T loses ``effect`` from 7 to 27 October. Noise: 2 % per sensor-day."""
    rng = np.random.default_rng(7)
    days = [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(366)]
    n = len(days)
    doy = np.arange(n)
    common = np.exp(0.08 * np.sin(2 * np.pi * doy / 365.25) + rng.normal(0, 0.04, n))
    weekend = np.array([d.isoweekday() >= 6 for d in days])
    rows = []
    for sensor, level, wk in (("T", 5000, 0.8), ("C1", 8000, 0.7), ("C2", 3000, 0.9), ("C3", 6000, 0.75)):
        y = level * common * np.where(weekend, wk, 1.0) * np.exp(rng.normal(0, 0.02, n))
        if sensor == "T":
            window = np.array([dt.date(2024, 10, 7) <= d <= dt.date(2024, 10, 27) for d in days])
            y = np.where(window, y * (1 + effect), y)
        rows.append(pl.DataFrame({"sensor_id": sensor, "mode": "car", "direction": "both", "day": days,
                                  "count": np.round(y), "is_valid_day": True}))
    out = pl.concat(rows)
    # C2 misses 10 October: the control index is the mean of the other two that day
    return out.with_columns(is_valid_day=~((pl.col("sensor_id") == "C2") & (pl.col("day") == dt.date(2024, 10, 10))))


def synthetic_study(**kw) -> ImpactStudy:
    args = dict(name="synthetic", title_fr="t", title_en="t", treated={"sensor": "T"},
                intervention={"start": dt.date(2024, 10, 7), "end": dt.date(2024, 10, 27)}, controls=["C1", "C2", "C3"],
                simulations=1000)
    return ImpactStudy(**{**args, **kw})


def test_placebo_dates_by_hand() -> None:
    # Every 28 days back from 7 October 2024 while 182 training days remain after 1 January 2024:
    # 9 Sept (252 days), 12 Aug (224), 15 July (196); 17 June would leave 168.
    s = synthetic_study()
    assert placebo_dates(s, dt.date(2024, 1, 1), dt.date(2024, 10, 6)) == [
        dt.date(2024, 7, 15), dt.date(2024, 8, 12), dt.date(2024, 9, 9)]
    explicit = synthetic_study(placebo={"dates": [dt.date(2024, 6, 3)]})
    assert placebo_dates(explicit, dt.date(2024, 1, 1), dt.date(2024, 10, 6)) == [dt.date(2024, 6, 3)]


def test_a_known_effect_is_recovered_and_placebos_are_small() -> None:
    result = evaluate_impact(synthetic_daily(), synthetic_study())
    t = result.table()
    assert t.schema == pl.Schema(TABLE_SCHEMA)
    assert t["kind"].to_list() == ["effect"] + ["placebo_date"] * 3 + ["placebo_control"] * 3 + ["leave_one_out"] * 3
    e = t.row(0, named=True)
    assert e["days"] == 21 and e["level"] == 0.8
    # −30 % by construction; daily noise 2 % (+ the controls' own 2 %, averaged) over 21 days is about 0.5 % on
    # the mean: the estimate is within 1.5 points and its 80 % interval about a point either side.
    assert abs(e["effect_pct"] - (-30.0)) < 1.5
    assert 0.2 < (e["effect_pct_upper"] - e["effect_pct_lower"]) / 2 < 2.5
    assert e["effect_lower"] < e["effect"] < e["effect_upper"] < 0 and e["shows_effect"]
    # A placebo compares one series' 21-day mean with others' (noise sd ≈ 2 % × √1.5 / √21 ≈ 0.55 %): no
    # effect was put there, so none is beyond 3 % (> 5 sd).
    placebo = t.filter(pl.col("kind").str.starts_with("placebo"))
    assert (placebo["effect_pct"].abs() < 3.0).all()
    # 6 placebos judged together at 80 %: each at 1 − 0.2 / 6
    assert placebo["family_level"].to_list() == [pytest.approx(1 - 0.2 / 6)] * 6
    assert (placebo["effect_pct_family_lower"] <= placebo["effect_pct_lower"]).all()
    loo = t.filter(kind="leave_one_out")
    assert ((loo["effect_pct"] - e["effect_pct"]).abs() < 1.0).all()
    daily = result.daily
    assert daily.height == 21 and daily["used"].all()
    assert (daily["counterfactual_lower"] <= daily["counterfactual"]).all()
    impact, placebos = result.report_frames()
    assert impact.select("sensor_id", "mode", "direction").row(0) == ("T", "car", "all")
    # 3 date placebos on the treated sensor, 3 control placebos each on its control (as in the report's table)
    assert placebos["sensor_id"].to_list() == ["T"] * 3 + ["C1", "C2", "C3"]
    # each row names its study; the effect its intervention's dates (what the report's columns show)
    study = result.study
    assert impact.select("study", "title_fr", "start", "end").row(0) == (
        study.name, study.title_fr, study.intervention.start, study.intervention.end)
    assert set(placebos["study"]) == {study.name}


def test_data_problems_name_the_study_and_the_sensor() -> None:
    daily = synthetic_daily()
    with pytest.raises(ImpactDataError, match=r"impact study 'synthetic': controls\[1\]: sensor 'C9' is not in the "
                                              r"daily counts \(expected one of: C1, C2, C3, T\)"):
        evaluate_impact(daily, synthetic_study(controls=["C1", "C9"]))
    with pytest.raises(ImpactDataError, match=r"treated.sensor: sensor 'T' counts none of the modes bike"):
        evaluate_impact(daily, synthetic_study(treated={"sensor": "T", "modes": ["bike"]}))
    short = synthetic_study(pre_period={"start": dt.date(2024, 9, 1), "end": dt.date(2024, 10, 6)})
    with pytest.raises(ImpactDataError, match=r"only 36 valid pre-period days for T .* at least 56 are needed"):
        evaluate_impact(daily, short)


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "study.yaml"
    p.write_text(text, encoding="utf-8")
    return p


STUDY = """
name: s
title_fr: t
title_en: t
treated: {sensor: A, modes: [car]}
intervention: {start: 2025-03-03, end: 2025-03-23}
controls: [B, C]
"""


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("controls: [B, C]", "controls: [B, A]",
     "(top level): Value error, controls: 'A' is the treated sensor; a control must not be affected"),
    ("controls: [B, C]", "controls: [B, B]", "controls: Value error, controls listed twice: B"),
    ("controls: [B, C]", "controls: []", "controls: List should have at least 1 item"),
    ("modes: [car]", "modes: [cars]", "treated.modes[0]: Input should be 'car'"),
    ("treated: {sensor: A, modes: [car]}", "treated: {modes: [car]}", "treated.sensor: Field required"),
    ("controls: [B, C]", "controls: [B, C]\npre_period: {start: 2024-01-01, end: 2025-03-03}",
     "pre_period: it must end before the intervention starts (2025-03-03), got end 2025-03-03"),
    ("controls: [B, C]", "controls: [B, C]\nlevel: 1.5", "level: Input should be less than or equal to 0.99"),
    ("controls: [B, C]", "controls: [B, C]\nplacebo: {count: 3, dates: [2024-10-01], spacing: 7}",
     "placebo.spacing: Extra inputs are not permitted"),
])
def test_invalid_study_files_name_the_field(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert old in STUDY
    p = _write(tmp_path, STUDY.replace(old, new))
    with pytest.raises(ImpactFileError) as exc:
        load_impact_study(p)
    assert str(exc.value).startswith(f"{p}: invalid impact study file")
    assert expected in str(exc.value)


def test_catalog_studies_load() -> None:
    files = sorted(IMPACT.glob("*.yaml"))
    assert [f.stem for f in files] == ["roadworks_albert_1er_2025", "roadworks_diversion_quai_berigny_2025"]
    for f in files:
        s = load_impact_study(f)
        assert s.name == f.stem and (s.intervention.start, s.intervention.end) == (dt.date(2025, 3, 3),
                                                                                  dt.date(2025, 3, 23))
        assert "CPT-QUAI-BERIGNY" not in s.controls and "CPT-ALBERT-1ER" not in s.controls


# --------------------------------------------------------------------------------------------------
# the demo town's roadworks (acceptance)
# --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> dict:
    """The `mobility demo` town (2024–2025, default seed) read back through the readers, flagged, as daily totals.

    Only the national-schema counters are read: every sensor of the studies is one of them.
    """
    town = generate_demo_town(tmp_path_factory.mktemp("town"), start=dt.date(2024, 1, 1), end=dt.date(2025, 12, 31))
    sources = discover([town.comptage_dir], None, TZ)
    counts = pl.concat([s.read().accepted for s in sources], how="diagonal_relaxed")
    daily = daily_totals(flag_counts(counts.lazy(), tz=TZ), tz=TZ).collect()
    return {"town": town, "daily": daily}


def test_demo_roadworks_effect_on_the_seafront_is_recovered(demo: dict) -> None:
    closure = demo["town"].truth["closure"]
    assert (closure["sensor_id"], closure["start"], closure["end"]) == ("CPT-ALBERT-1ER", "2025-03-03", "2025-03-23")
    truth_pct = -100 * closure["removed_share"]  # the generator keeps 10 %: −90 %
    result = evaluate_impact(demo["daily"], load_impact_study(IMPACT / "roadworks_albert_1er_2025.yaml"))
    t = result.table()
    e = t.row(0, named=True)
    assert e["kind"] == "effect" and e["effect_pct_lower"] <= truth_pct <= e["effect_pct_upper"], e
    # Placebos (4 fake dates, 4 controls) show no effect, judged together at 80 %.
    placebo = t.filter(pl.col("kind").str.starts_with("placebo"))
    assert placebo.height == 8 and not placebo["shows_effect"].any(), placebo
    assert (placebo["effect_pct_family_lower"] <= 0).all() and (placebo["effect_pct_family_upper"] >= 0).all()
    # Dropping any one control moves the estimate by less than a point.
    loo = t.filter(kind="leave_one_out")
    assert loo.height == 4 and ((loo["effect_pct"] - e["effect_pct"]).abs() < 1.0).all()


def test_demo_roadworks_diversion_to_the_quay_is_recovered(demo: dict) -> None:
    closure = demo["town"].truth["closure"]
    assert closure["diverted_to"] == "CPT-QUAI-BERIGNY"
    # Truth: the quay received diverted_share of the seafront's removed traffic. The seafront's counts
    # during the closure are Poisson around residual_share × its expected traffic, so
    # removed ≈ counts × removed_share / residual_share (±0.8 % Poisson noise on 15,000 vehicles).
    local_day = pl.col("start_utc").dt.convert_time_zone(TZ).dt.date()
    seafront = demo["town"].expected.filter(
        pl.col("sensor_id") == "CPT-ALBERT-1ER", pl.col("mode").is_in(closure["modes"]),
        local_day.is_between(dt.date(2025, 3, 3), dt.date(2025, 3, 23)))["count"].sum()
    truth = closure["diverted_share"] * seafront * closure["removed_share"] / closure["residual_share"]
    result = evaluate_impact(demo["daily"], load_impact_study(IMPACT / "roadworks_diversion_quai_berigny_2025.yaml"))
    t = result.table()
    e = t.row(0, named=True)
    assert e["days"] == 21 and e["effect_lower"] <= truth <= e["effect_upper"], (truth, e)
    placebo = t.filter(pl.col("kind").str.starts_with("placebo"))
    assert placebo.height == 8 and not placebo["shows_effect"].any(), placebo
