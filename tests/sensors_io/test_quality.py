"""Quality flags: one flag and reason per value; values are never changed; thresholds computed by hand."""

import datetime as dt
import math
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sensors_io.anomalies import parse_register
from sensors_io.quality import (
    FLAGS,
    QUALITY_COLUMNS,
    QualityConfig,
    flag_counts,
    gate_missing_share,
    missing_share_by_sensor,
)

UTC = dt.UTC
PARIS = ZoneInfo("Europe/Paris")
T0 = dt.datetime(2025, 1, 6, 8, tzinfo=UTC)  # 09:00 local, a Monday
#: Only the rule under test: outliers and zero runs off unless a test turns them on.
QUIET = {"outlier_z": 1e9, "zero_run_max_probability": 1e-300}


def _lf(values, mode="car", uptime=None, t0=T0, step=dt.timedelta(hours=1), interval_s=3600,
        sensor="a", direction="E") -> pl.LazyFrame:
    rows = [{"site_id": "s", "sensor_id": sensor, "mode": mode, "direction": direction, "start_utc": t0 + step * i,
             "interval_s": interval_s, "count": v} for i, v in enumerate(values)]
    lf = pl.LazyFrame(rows, schema_overrides={"count": pl.Float64, "interval_s": pl.Int32,
                                              "start_utc": pl.Datetime("us", "UTC")})
    return lf.with_columns(uptime=pl.Series(uptime, dtype=pl.Float64)) if uptime is not None else lf


def _local(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=PARIS).astimezone(UTC)


def _at(times_values, mode="car", sensor="a", direction="E") -> pl.LazyFrame:
    rows = [{"site_id": "s", "sensor_id": sensor, "mode": mode, "direction": direction, "start_utc": t,
             "interval_s": 3600, "count": v} for t, v in times_values]
    return pl.LazyFrame(rows, schema_overrides={"count": pl.Float64, "interval_s": pl.Int32,
                                                "start_utc": pl.Datetime("us", "UTC")})


def _flags(lf: pl.LazyFrame, **cfg) -> list[tuple]:
    config = QualityConfig(**{**QUIET, **cfg})
    return flag_counts(lf, config, impute=False).collect().select("flag", "flag_reason").rows()


def test_new_columns_and_types() -> None:
    out = flag_counts(_lf([10.0, None])).collect()
    assert out.schema == pl.Schema({**_lf([1.0]).collect_schema(), **QUALITY_COLUMNS})
    assert set(out["flag"]) <= set(FLAGS)


def test_basic_taxonomy_and_caps_scaled_to_the_interval() -> None:
    assert _flags(_lf([10.0, None, 0.0, 8001.0])) == [
        ("observed", None), ("missing", "no_data"), ("zero", None), ("excluded", "implausible")]
    # Car cap 8000 veh/h (a 4-lane motorway carriageway) → 2000 per 15 minutes.
    q = _lf([2000.0, 2001.0], step=dt.timedelta(minutes=15), interval_s=900)
    assert [f for f, _ in _flags(q)] == ["observed", "excluded"]


def test_stuck_needs_a_run_that_chance_cannot_explain() -> None:
    # p_eq(λ) = 1/sqrt(4πλ): two Poisson(λ) draws are equal with this probability; a run of k equal values has
    # p_eq^(k-1). Stuck when that is below 1e-6, i.e. k - 1 > ln(1e-6) / ln(p_eq):
    #   λ = 250: p_eq = 0.017841, ln = -4.0262 → k - 1 > 3.431 → k ≥ 5;
    #   λ = 50:  p_eq = 0.039894, ln = -3.2215 → k - 1 > 4.289 → k ≥ 6.
    assert [r[1] for r in _flags(_lf([250.0] * 5 + [260.0]))] == ["stuck"] * 5 + [None]
    assert [r[1] for r in _flags(_lf([250.0] * 4 + [260.0]))] == [None] * 5
    assert [r[1] for r in _flags(_lf([50.0] * 6 + [60.0]))] == ["stuck"] * 6 + [None]
    assert [r[1] for r in _flags(_lf([50.0] * 5 + [60.0]))] == [None] * 6
    assert [r[0] for r in _flags(_lf([1.0] * 12, mode="bike"))] == ["observed"] * 12  # below stuck_min_value 5


def test_low_uptime_excluded_and_no_uptime_is_missing_by_design() -> None:
    assert _flags(_lf([10.0, 10.5, None], uptime=[0.3, 0.9, 0.0])) == [
        ("excluded", "low_uptime"), ("observed", None), ("missing", "no_uptime")]


def test_classes_not_counted_in_night_mode_are_unclassified_and_never_imputed() -> None:
    # Telraam S2 night mode: car is null while all_vehicles (same sensor, same hour) has a count.
    t = [T0 + dt.timedelta(hours=h) for h in range(3)]
    weeks_before = [(t[1] - dt.timedelta(weeks=w), 6.0 + w) for w in (3, 2, 1)]  # profile of that hour: 8
    car = _at([*weeks_before, (t[0], 5.0), (t[1], None), (t[2], 6.0)])
    night = _at([(t[1], 9.0)], mode="all_vehicles")
    out = flag_counts(pl.concat([car, night]), QualityConfig(**QUIET)).collect().filter(pl.col("mode") == "car")
    assert out.select("flag", "flag_reason", "count_filled").row(-2) == ("missing", "unclassified", None)
    # The same empty hour without the night-mode count is an ordinary gap: imputed from the profile (8, level 1).
    out = flag_counts(car, QualityConfig(**QUIET)).collect()
    assert out.select("flag", "flag_reason", "count_filled").row(-2) == ("imputed", "no_data", 8.0)


def _weeks(weekday_day: int, hour: int, values, month=3) -> list[tuple[dt.datetime, float | None]]:
    """One value per week at a local hour (local: DST changes the UTC hour), from a day of ``month`` 2025."""
    first = dt.date(2025, month, weekday_day)
    return [(_local(*(first + dt.timedelta(weeks=i)).timetuple()[:3], hour), v) for i, v in enumerate(values)]


def test_adaptive_zero_run_threshold_from_the_trailing_cell_mean() -> None:
    # Threshold: P(run total = 0) = (1 + M/k)^-k < 1e-4 with k = 5 ⇔ M > 5·(10^0.8 − 1) = 26.548 vehicles,
    # M = Σ over the run of the trailing 60-day mean of its (hour, day type) cell.
    cfg = {"zero_run_max_probability": 1e-4}
    assert QualityConfig().zero_run_min_expected() == pytest.approx(26.548, abs=1e-3)
    # Mondays 3, 10, 17, 24 March at 10:00 hold 30 → μ = 30 on 31 March: a single zero hour is flagged.
    assert _flags(_at(_weeks(3, 10, [30.0, 31.0, 29.0, 30.0, 0.0])), **cfg)[-1] == ("excluded", "zero_run")
    # μ = (20 + 21 + 19 + 20) / 4 = 20 < 26.5: one zero hour is allowed.
    assert _flags(_at(_weeks(3, 10, [20.0, 21.0, 19.0, 20.0, 0.0])), **cfg)[-1] == ("zero", None)


def test_zero_run_length_matters_and_day_types_have_their_own_cells() -> None:
    cfg = {"zero_run_max_probability": 1e-4}
    hist = [v for h in (10, 11, 12) for v in _weeks(3, h, [10.0, 11.0, 9.0, 10.0])]  # μ = 10 per hour
    three = [(_local(2025, 3, 31, h), 0.0) for h in (10, 11, 12)]
    two = [(_local(2025, 3, 31, 10), 0.0), (_local(2025, 3, 31, 11), 0.0), (_local(2025, 3, 31, 12), 10.0)]
    # 3 zero hours: M = 30 > 26.5 → flagged; 2 zero hours: M = 20 → allowed.
    assert [r[1] for r in _flags(_at(hist + three), **cfg)[-3:]] == ["zero_run"] * 3
    assert [r[0] for r in _flags(_at(hist + two), **cfg)[-3:]] == ["zero", "zero", "observed"]
    # Sundays quiet (2), Mondays busy (30). Easter Monday 21 April 2025 is a public holiday: its cell is
    # Sunday/holiday (μ = 2, allowed); the next Monday's cell is working (μ = 30, flagged).
    sundays = _weeks(23, 10, [2.0, 3.0, 2.0, 3.0])  # μ 2.5
    mondays = _weeks(24, 10, [30.0, 31.0, 30.0, 31.0])  # μ 30.5
    # (Sunday 27 April, 2 vehicles, sits between the two zeros so that they are two runs, not one.)
    tail = [(_local(2025, 4, 21, 10), 0.0), (_local(2025, 4, 27, 10), 2.0), (_local(2025, 4, 28, 10), 0.0)]
    out = flag_counts(_at(sorted(sundays + mondays) + tail), QualityConfig(**{**QUIET, **cfg}), impute=False).collect()
    assert out.select("flag", "flag_reason").rows()[-3:] == [("zero", None), ("observed", None),
                                                             ("excluded", "zero_run")]


def test_robust_outlier_against_the_hour_of_week_cell() -> None:
    # Eight Mondays 09:00 alternating 99/101: median log1p = (ln 100 + ln 102)/2 = 4.61507 (μ = 99.995),
    # IQR/1.349 = 0.0147 → floor 0.1; Poisson sd of log1p = sqrt(μ)/(1+μ) = 0.09901;
    # σ = sqrt(0.1² + 0.09901²) = 0.14072. |z| > 4 ⇔ count > e^(4.61507 + 0.56290) − 1 = 176.3
    # or count < e^(4.61507 − 0.56290) − 1 = 56.5. z(190) = 4.53, z(175) = 3.95, z(60) = −3.58, z(50) = −4.86.
    hist = _weeks(3, 9, [99.0, 101.0] * 4, month=2)  # Mondays from 3 February
    nxt = _local(2025, 3, 31, 9)
    for value, expected in [(190.0, ("suspect", "outlier")), (175.0, ("observed", None)),
                            (60.0, ("observed", None)), (50.0, ("suspect", "outlier"))]:
        out = flag_counts(_at([*hist, (nxt, value)]), QualityConfig(zero_run_max_probability=1e-300),
                          impute=False).collect()
        assert out.select("flag", "flag_reason").row(-1) == expected, value
        assert out["count_clean"][-1] == value  # suspect values stay in count_clean


def test_a_whole_day_at_another_level_is_not_an_outlier_but_one_hour_is() -> None:
    # Four Mondays of 8 hours around 100, then a Monday at twice the level: the day's median residual
    # (ln(201/101) ≈ 0.69) is removed, nothing is flagged. The same day with only 12:00 doubled is flagged.
    hist = [v for h in range(8, 16) for v in _weeks(3, h, [99.0 + 2 * ((i + h) % 2) for i in range(4)])]
    doubled = [(_local(2025, 3, 31, h), 200.0 + h % 2) for h in range(8, 16)]
    one = [(_local(2025, 3, 31, h), 300.0 if h == 12 else 100.0 + h % 2) for h in range(8, 16)]
    cfg = QualityConfig(zero_run_max_probability=1e-300)
    day = flag_counts(_at(sorted(hist + doubled)), cfg, impute=False).collect().tail(8)
    assert day["flag"].to_list() == ["observed"] * 8
    day = flag_counts(_at(sorted(hist + one)), cfg, impute=False).collect().tail(8)
    assert day.filter(pl.col("flag") == "suspect")["start_utc"].to_list() == [_local(2025, 3, 31, 12)]


def test_dst_duplicate_is_a_suspect_copy_of_the_first_autumn_hour() -> None:
    # 26 Oct 2025: 02:00 local happens twice, 00:00Z (CEST) and 01:00Z (CET).
    t0 = dt.datetime(2025, 10, 25, 23, tzinfo=UTC)
    assert _flags(_lf([7.0, 12.0, 12.0, 9.0], t0=t0)) == [
        ("observed", None), ("observed", None), ("suspect", "dst_duplicate"), ("observed", None)]
    assert [f for f, _ in _flags(_lf([7.0, 12.0, 13.0, 9.0], t0=t0))] == ["observed"] * 4
    assert [f for f, _ in _flags(_lf([0.0, 0.0], t0=t0 + dt.timedelta(hours=1), mode="bike"))] == ["zero"] * 2
    # The same equal pair one day earlier is not an autumn hour.
    assert [f for f, _ in _flags(_lf([12.0, 12.0], t0=t0 - dt.timedelta(days=1)))] == ["observed"] * 2


def test_absent_slots_become_gap_rows_up_to_the_gap_limit() -> None:
    # Rows at 0, 1, 4 h (2 absent slots) and 12 h (7 absent slots > 6 h: not materialised).
    lf = _at([(T0 + dt.timedelta(hours=h), 10.0 + h) for h in (0, 1, 4, 12)])
    out = flag_counts(lf, QualityConfig(**QUIET), impute=False).collect()
    hours = [(t - T0).total_seconds() / 3600 for t in out["start_utc"]]
    assert hours == [0, 1, 2, 3, 4, 12]
    assert out.select("flag", "flag_reason").rows()[2:4] == [("missing", "gap")] * 2
    assert flag_counts(lf, QualityConfig(complete_grid=False, **QUIET), impute=False).collect().height == 4


def test_register_exclude_and_accept() -> None:
    reg = parse_register([
        {"sensor_id": "a", "start": "2025-03-31T10:00", "end": "2025-03-31T11:00", "reason": "fermeture",
         "flagged_by": "me", "action": "accept"},
        {"sensor_id": "*", "mode": "car", "start": "2025-03-24T10:00", "end": "2025-03-24T11:00", "reason": "panne",
         "flagged_by": "me", "action": "exclude"},
    ])
    # Without the register the zero on 31 March (μ = 30) is a zero run; accepted, it is a real zero.
    lf = _at(_weeks(3, 10, [30.0, 31.0, 29.0, 30.0, 0.0]))
    out = flag_counts(lf, QualityConfig(zero_run_max_probability=1e-4, outlier_z=1e9), register=reg,
                      impute=False).collect()
    assert out.select("flag", "flag_reason", "count_clean").rows()[-2:] == [
        ("excluded", "register:panne", None), ("zero", "register:fermeture", 0.0)]


def test_history_feeds_the_trailing_windows_but_is_not_returned() -> None:
    hist = _at(_weeks(3, 10, [30.0, 31.0, 29.0, 30.0]))
    run = _at([(_local(2025, 3, 31, 10), 0.0)])
    cfg = QualityConfig(zero_run_max_probability=1e-4, outlier_z=1e9)
    with_history = flag_counts(run, cfg, history=hist, impute=False).collect()
    assert with_history.select("flag", "flag_reason").rows() == [("excluded", "zero_run")]
    assert flag_counts(run, cfg, impute=False).collect().select("flag").item() == "zero"  # no history, no μ


def test_missing_share_and_gate_ignore_register_periods_and_cameras_off_by_design() -> None:
    # Series a: 10 hours from T0 (09:00 local): 2 empty, 1 implausible, 1 not counting (uptime 0).
    a = _lf([10.0, None, 12.0, None, 9001.0, 11.0, 13.0, None, 12.5, 14.0],
            uptime=[0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.0, 0.9, 0.9])
    b = _lf([5.0, 6.0, 7.0, 8.0], sensor="b", uptime=[0.9] * 4)
    clean = flag_counts(pl.concat([a, b]), QualityConfig(**QUIET), impute=False).collect()
    # a: rows 10 − 1 (no_uptime) = 9, missing 3 (2 empty + 1 implausible) → 1/3; b: 0/4.
    shares = missing_share_by_sensor(clean)
    assert shares.select("sensor_id", "rows", "missing").rows() == [("a", 9, 3), ("b", 4, 0)]
    assert shares["share"].to_list() == pytest.approx([1 / 3, 0.0])
    # The register takes 10:00–11:00 local (the 2nd row, empty) out: a = 8 rows, 2 missing = 0.25.
    reg = parse_register([{"sensor_id": "a", "start": "2025-01-06T10:00", "end": "2025-01-06T11:00",
                           "reason": "r", "flagged_by": "me", "action": "exclude"}])
    assert missing_share_by_sensor(clean, reg).select("rows", "missing").row(0) == (8, 2)
    passed, offenders = gate_missing_share(clean, 0.3)
    assert not passed and offenders["sensor_id"].to_list() == ["a"]
    assert gate_missing_share(clean, 0.3, reg)[0]
    with pytest.raises(ValueError, match="between 0 and 1"):
        gate_missing_share(clean, 30)


values_st = st.lists(st.one_of(st.none(), st.floats(0, 5000, allow_nan=False), st.sampled_from([0.0, 50.0])),
                     min_size=1, max_size=40)


@settings(max_examples=30, deadline=None)
@given(values_st)
def test_flags_never_change_a_count_and_count_clean_is_the_count_or_null(values) -> None:
    out = flag_counts(_lf(values), QualityConfig()).collect()
    assert out["count"].to_list() == values
    kept = out.filter(pl.col("count_clean").is_not_null())
    assert (kept["count_clean"] == kept["count"]).all()
    assert set(out["flag"]) <= set(FLAGS)
    assert out.filter(pl.col("count").is_null())["flag"].is_in(["missing", "imputed"]).all()
    assert out.filter(pl.col("flag").is_in(["observed", "zero", "suspect"]))["count_clean"].null_count() == 0


@settings(max_examples=15, deadline=None)
@given(values_st, st.randoms(use_true_random=False))
def test_flags_do_not_depend_on_row_order(values, rnd) -> None:
    lf = pl.concat([_lf(values), _lf(values[::-1], sensor="b")])
    a = flag_counts(lf).collect()
    rows = lf.collect().rows()
    rnd.shuffle(rows)
    b = flag_counts(pl.LazyFrame(rows, schema=lf.collect_schema(), orient="row")).collect()
    assert a.equals(b)


def test_allowed_zero_hours_table_of_the_docs() -> None:
    # docs/quality.md: allowed zero hours at a cell mean μ = floor(26.548 / μ) (1 → 26 h, 5 → 5 h, 13.3 → 1 h,
    # 27 → none).
    assert [math.floor(QualityConfig().zero_run_min_expected() / mu) for mu in (1, 5, 13.3, 27)] == [26, 5, 1, 0]
