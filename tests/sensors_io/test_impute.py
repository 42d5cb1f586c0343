"""Imputation: short gaps only, never a measured value, neighbour before profile, order-independent."""

import datetime as dt
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sensors_io.impute import ImputeConfig, impute_counts, neighbour_candidates
from sensors_io.quality import QualityConfig, flag_counts

UTC = dt.UTC
PARIS = ZoneInfo("Europe/Paris")
QUIET = {"outlier_z": 1e9, "zero_run_max_probability": 1e-300}


def _local(day: dt.date, hour: int) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=PARIS).astimezone(UTC)


def _frame(times_values, sensor="a", mode="car", direction="E") -> pl.LazyFrame:
    rows = [{"site_id": "s", "sensor_id": sensor, "mode": mode, "direction": direction, "start_utc": t,
             "interval_s": 3600, "count": v} for t, v in times_values]
    return pl.LazyFrame(rows, schema_overrides={"count": pl.Float64, "interval_s": pl.Int32,
                                                "start_utc": pl.Datetime("us", "UTC")})


def _mondays(first: dt.date, values, hour=9):
    return [(_local(first + dt.timedelta(weeks=i), hour), v) for i, v in enumerate(values)]


def _run(lf: pl.LazyFrame, **impute) -> pl.DataFrame:
    return flag_counts(lf, QualityConfig(**QUIET, impute=ImputeConfig(**impute))).collect()


def test_profile_scaled_by_the_trailing_level() -> None:
    # Mondays 09:00 in January 2025 (winter): 100, 104, 120, 140, then 3 February missing.
    # Profile (winter, Monday, 09:00) = (100 + 104 + 120 + 140) / 4 = 116.
    lf = _frame(_mondays(dt.date(2025, 1, 6), [100.0, 104.0, 120.0, 140.0, None]))
    last = _run(lf, level_window_days=14, level_min_samples=2).row(-1, named=True)
    # Trailing 14 days = 20 and 27 January: level = (120 + 140) / (116 + 116) = 1.12069 → 116 × 1.12069 = 130.
    assert (last["flag"], last["flag_reason"], last["impute_method"]) == ("imputed", "no_data", "profile")
    assert last["count_filled"] == pytest.approx(130.0)
    assert last["count"] is None and last["count_clean"] is None
    # Default: fewer than 24 pairs in the trailing 28 days → level of the whole series = 464 / 464 = 1 → 116.
    assert _run(lf)["count_filled"][-1] == pytest.approx(116.0)


def test_profile_uses_the_season_cell_else_the_hour_of_week_cell() -> None:
    winter = _mondays(dt.date(2025, 2, 3), [100.0, 102.0, 104.0])  # February: winter
    # Spring cell with 3 values (Mondays 3, 10, 17 March; the 24th missing): profile = 202, level 1 → 202.
    spring = _mondays(dt.date(2025, 3, 3), [200.0, 202.0, 204.0, None])
    assert _run(_frame(winter + spring))["count_filled"][-1] == pytest.approx(202.0)
    # Only 2 spring values (< profile_min_samples 3): hour-of-week cell over all five = 708/5 = 141.6. Level of the
    # whole series: winter rows 306/306, spring rows 402/(2 × 141.6) → (306 + 402)/(306 + 283.2) = 708/589.2;
    # 141.6 × 708/589.2 = 170.1507.
    spring2 = _mondays(dt.date(2025, 3, 3), [200.0, 202.0, None])
    assert _run(_frame(winter + spring2))["count_filled"][-1] == pytest.approx(170.1507, abs=1e-4)


def test_neighbour_ratio_is_preferred_over_the_profile() -> None:
    days = [dt.date(2025, 1, d) for d in (6, 7, 8, 9, 10, 13)]  # working days, 09:00 local
    b = [(_local(d, 9), v) for d, v in zip(days, [100.0, 120.0, 140.0, 160.0, 180.0, 200.0], strict=True)]
    a = [(_local(d, 9), v) for d, v in zip(days, [50.0, 61.0, 69.0, 80.0, 91.0, None], strict=True)]
    lf = pl.concat([_frame(a, sensor="A"), _frame(b, sensor="B")])
    cfg = {"neighbour_min_overlap": 5, "profile_min_samples": 1}
    row = _run(lf, **cfg).filter(pl.col("sensor_id") == "A").row(-1, named=True)
    # Ratio of the (09:00, working day) cell over the trailing 42 days = (50+61+69+80+91)/(100+…+180) = 351/700;
    # estimate = B's 200 × 351/700 = 100.2857.
    assert row["impute_method"] == "neighbour_ratio"
    assert row["count_filled"] == pytest.approx(100.2857, abs=1e-4)
    # Without neighbours: profile of Monday 09:00 = 50 (one value), level 1 → 50.
    row = _run(lf, use_neighbours=False, **cfg).filter(pl.col("sensor_id") == "A").row(-1, named=True)
    assert (row["impute_method"], row["count_filled"]) == ("profile", pytest.approx(50.0))


def test_neighbour_candidates_pearson_by_hand() -> None:
    t = [dt.datetime(2025, 1, 6, h, tzinfo=UTC) for h in range(4)]
    obs = pl.DataFrame({"sensor_id": ["A"] * 4 + ["B"] * 4, "mode": "car", "direction": "E", "start_utc": t + t,
                        "interval_s": 3600, "y": [1.0, 2.0, 3.0, 4.0, 2.0, 4.0, 6.0, 9.0]})
    # mean A 2.5, mean B 5.25; Σ dA·dB = 11.5; Σ dA² = 5; Σ dB² = 26.75
    # → r = 11.5 / sqrt(5 × 26.75) = 11.5 / 11.565035 = 0.994377.
    c = neighbour_candidates(obs, ImputeConfig(neighbour_min_overlap=4, neighbour_min_corr=0.99))
    assert c.select("sensor_id", "nb_sensor", "n", "rank").rows() == [("A", "B", 4, 0), ("B", "A", 4, 0)]
    assert c["r"].to_list() == pytest.approx([0.994377] * 2, abs=1e-6)
    assert neighbour_candidates(obs, ImputeConfig(neighbour_min_overlap=4, neighbour_min_corr=0.995)).height == 0
    assert neighbour_candidates(obs, ImputeConfig(neighbour_min_overlap=5, neighbour_min_corr=0.9)).height == 0


def _two_weeks(overrides: dict[int, float | None]) -> pl.LazyFrame:
    """Hourly from Monday 6 January 2025 00:00 local for 14 days; week 2 repeats week 1 (20 + 3·hour + day)."""
    start = _local(dt.date(2025, 1, 6), 0)
    vals = [20.0 + 3 * (i % 24) + (i // 24) % 7 for i in range(14 * 24)]
    for i, v in overrides.items():
        vals[i] = v
    return _frame([(start + dt.timedelta(hours=i), v) for i, v in enumerate(vals)])


def test_gap_limit_and_reasons_kept() -> None:
    tue, wed, thu = 8 * 24, 9 * 24, 10 * 24  # week 2, 00:00 local
    holes = {tue + h: None for h in range(8, 14)}                 # 6 h: filled
    holes |= {thu + h: None for h in range(8, 15)}                # 7 h > max_gap_hours 6: left missing
    holes |= {wed + h: 250.0 for h in range(9, 14)}               # 5 × 250: stuck (k ≥ 5 at λ = 250), 5 h
    out = _run(_two_weeks(holes), profile_min_samples=1)
    week1 = [20.0 + 3 * (i % 24) + (i // 24) % 7 for i in range(7 * 24)]
    tue_rows = out[tue + 8: tue + 14]
    # Profile = mean of the hour-of-week cell = week 1's value (week 2 is missing there); level = 1.
    assert tue_rows["impute_method"].to_list() == ["profile"] * 6
    assert tue_rows["count_filled"].to_list() == pytest.approx(week1[24 + 8: 24 + 14])
    assert tue_rows["flag_reason"].to_list() == ["no_data"] * 6
    thu_rows = out[thu + 8: thu + 15]
    assert thu_rows["count_filled"].null_count() == 7 and thu_rows["flag"].to_list() == ["missing"] * 7
    wed_rows = out[wed + 9: wed + 14]
    assert wed_rows.select("flag", "flag_reason").rows() == [("imputed", "stuck")] * 5
    assert wed_rows["count"].to_list() == [250.0] * 5  # the measured value stays in `count`
    assert wed_rows["count_filled"].to_list() == pytest.approx(week1[48 + 9: 48 + 14])


def test_impute_counts_on_a_flagged_frame_keeps_its_kind() -> None:
    flagged = flag_counts(_two_weeks({8 * 24 + 10: None}), QualityConfig(**QUIET), impute=False).collect()
    out = impute_counts(flagged, ImputeConfig(profile_min_samples=1))
    assert isinstance(out, pl.DataFrame) and out.height == flagged.height
    assert out.row(8 * 24 + 10, named=True)["impute_method"] == "profile"
    assert isinstance(impute_counts(flagged.lazy()), pl.LazyFrame)
    assert impute_counts(flagged, ImputeConfig(enabled=False))["count_filled"].null_count() == 1


@st.composite
def _gappy(draw):
    days = draw(st.integers(8, 12))
    noise = draw(st.lists(st.integers(0, 9), min_size=days * 24, max_size=days * 24))
    vals: list[float | None] = [float(10 + 2 * (i % 24) + n) for i, n in enumerate(noise)]
    for _ in range(draw(st.integers(0, 4))):
        start, length = draw(st.integers(0, days * 24 - 1)), draw(st.integers(1, 10))
        for i in range(start, min(start + length, days * 24)):
            vals[i] = None
    return vals


def _null_run_hours(values: list) -> list[int]:
    """Length (hours) of the null run each row belongs to (0 for non-null rows)."""
    out, i = [0] * len(values), 0
    while i < len(values):
        j = i
        while j < len(values) and values[j] is None:
            j += 1
        for k in range(i, j):
            out[k] = j - i
        i = max(j, i + 1)
    return out


@settings(max_examples=15, deadline=None)
@given(_gappy())
def test_imputation_fills_only_null_rows_within_the_gap_limit(vals) -> None:
    start = _local(dt.date(2025, 1, 6), 0)
    out = _run(_frame([(start + dt.timedelta(hours=i), v) for i, v in enumerate(vals)]), profile_min_samples=1)
    assert out["count"].to_list() == vals
    clean = out["count_clean"].to_list()
    runs = _null_run_hours(clean)
    for c, f, m, r in zip(clean, out["count_filled"], out["impute_method"], runs, strict=True):
        if c is not None:
            assert f == c and m is None            # measured values are never changed
        elif m is not None:
            assert r <= 6 and f is not None       # filled only inside gaps of ≤ 6 h
        else:
            assert f is None
    assert (out.filter(pl.col("impute_method").is_not_null())["flag"] == "imputed").all()


@settings(max_examples=10, deadline=None)
@given(_gappy(), st.randoms(use_true_random=False))
def test_imputation_does_not_depend_on_row_order(vals, rnd) -> None:
    start = _local(dt.date(2025, 1, 6), 0)
    pairs = [(start + dt.timedelta(hours=i), v) for i, v in enumerate(vals)]
    twin = [(t, None if v is None else v * 2 + 1) for t, v in pairs[::-1]]
    lf = pl.concat([_frame(pairs, sensor="A"), _frame(twin[::-1], sensor="B")])
    cfg = QualityConfig(**QUIET, impute=ImputeConfig(neighbour_min_overlap=24, profile_min_samples=1))
    a = flag_counts(lf, cfg).collect()
    rows = lf.collect().rows()
    rnd.shuffle(rows)
    b = flag_counts(pl.LazyFrame(rows, schema=lf.collect_schema(), orient="row"), cfg).collect()
    assert a.equals(b)


def test_accepted_periods_do_not_shape_the_profile_but_count_in_the_level() -> None:
    from sensors_io.anomalies import parse_register

    reg = parse_register([{"sensor_id": "a", "start": "2025-01-20", "end": "2025-01-20", "reason": "fermeture",
                           "flagged_by": "me", "action": "accept"}])
    lf = _frame(_mondays(dt.date(2025, 1, 6), [100.0, 104.0, 10.0, 120.0, None]))
    out = flag_counts(lf, QualityConfig(**QUIET), register=reg).collect()
    assert out["flag_reason"][2] == "register:fermeture"
    # Profile without the accepted closure day: (100 + 104 + 120) / 3 = 108. Level (whole series, closure
    # included: it is real traffic) = 334 / (4 × 108) → 108 × 334 / 432 = 83.5.
    assert out["count_filled"][-1] == pytest.approx(83.5)
