"""TMJA from a short count against a permanent reference (rattachement and factor methods)."""

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from sensors_io.short_counts import EXPECTED_MAE, estimate_tmja_from_short_count

D = dt.date
WEEK = [D(2025, 3, 3) + dt.timedelta(days=i) for i in range(7)]  # Monday 3 – Sunday 9 March 2025


def _daily(days: list[dt.date], counts: list[float], valid: list[bool] | None = None,
           session: str | None = None) -> pl.LazyFrame:
    rows = [{"day": d, "count": c, "is_valid_day": True if valid is None else valid[i]}
            for i, (d, c) in enumerate(zip(days, counts, strict=True))]
    lf = pl.LazyFrame(rows, schema_overrides={"count": pl.Float64})
    return lf.with_columns(session=pl.lit(session)) if session else lf


SHORT = [110.0, 120.0, 500.0, 140.0, 150.0, 60.0, 40.0]       # Wednesday 500
REF = [1200.0, 1100.0, 1300.0, 1250.0, 1350.0, 700.0, 600.0]  # Σ 7,500


def test_rattachement_scales_the_short_mean_by_the_reference_ratio() -> None:
    est = estimate_tmja_from_short_count(_daily(WEEK, SHORT), _daily(WEEK, REF), 1000.0)
    # MJ_c = 1,120 / 7, MJ_r = 7,500 / 7 → 1,120 · 1,000 / 7,500 = 149.33
    assert est.tmja == pytest.approx(1120 * 1000 / 7500)
    assert (est.method, est.days, est.sessions) == ("rattachement", 7, 1)
    assert est.factor == pytest.approx(1000 / (7500 / 7))
    assert (est.expected_error, est.expected_error_mismatched) == (0.064, pytest.approx(0.154))


def test_rattachement_drops_days_where_either_side_is_not_valid() -> None:
    ref_valid = [True, True, False, True, True, True, True]  # reference Wednesday invalid
    est = estimate_tmja_from_short_count(_daily(WEEK, SHORT), _daily(WEEK, REF, ref_valid), 1000.0)
    # without Wednesday: (1,120 − 500) · 1,000 / (7,500 − 1,300) = 620,000 / 6,200 = 100
    assert est.tmja == pytest.approx(100.0) and est.days == 6


def test_several_sessions_are_averaged_per_session() -> None:
    june = [D(2025, 6, 2) + dt.timedelta(days=i) for i in range(7)]
    short = pl.concat([_daily(WEEK, [110.0, 120.0, 130.0, 140.0, 150.0, 60.0, 40.0], session="mars"),
                       _daily(june, [200.0] * 7, session="juin")])
    ref = pl.concat([_daily(WEEK, REF), _daily(june, [1000.0] * 7)])
    est = estimate_tmja_from_short_count(short, ref, 1000.0)
    # March: 750 · 1,000 / 7,500 = 100; June: 200 · 1,000 / 1,000 = 200 → 1/2 · (100 + 200) = 150
    # (one pooled period would give 2,150 · 1,000 / 14,500 = 148.3)
    assert est.tmja == pytest.approx(150.0) and (est.days, est.sessions) == (14, 2)


def test_reference_of_another_year_aligned_on_weekdays() -> None:
    ref_days = [d - dt.timedelta(days=364) for d in WEEK]  # Monday 4 – Sunday 10 March 2024
    est = estimate_tmja_from_short_count(_daily(WEEK, SHORT), _daily(ref_days, REF), 1000.0,
                                         reference_offset_days=364)
    assert est.tmja == pytest.approx(1120 * 1000 / 7500)
    with pytest.raises(ValueError, match="no valid day with a valid reference day to estimate from"):
        estimate_tmja_from_short_count(_daily(WEEK, SHORT), _daily(ref_days, REF), 1000.0)


def _march_reference() -> pl.LazyFrame:
    """Every day of March 2025: Mondays 1,000 … 1,400 (mean 1,200), Tue–Fri 1,000, Sat 500, Sun 400."""
    days = [D(2025, 3, 1) + dt.timedelta(days=i) for i in range(31)]
    mondays = iter([1000.0, 1100.0, 1200.0, 1300.0, 1400.0])  # 3, 10, 17, 24, 31 March
    by_dow = {2: 1000.0, 3: 1000.0, 4: 1000.0, 5: 1000.0, 6: 500.0, 7: 400.0}
    return _daily(days, [next(mondays) if d.isoweekday() == 1 else by_dow[d.isoweekday()] for d in days])


def test_factor_method_uses_the_month_and_weekday_factors() -> None:
    short = _daily(WEEK, [120.0, 100.0, 100.0, 100.0, 100.0, 50.0, 60.0])
    est = estimate_tmja_from_short_count(short, _march_reference(), 900.0, method="factor")
    # C_m · C_dow,m = TMJA_r / MJ_r,dow,m: Mon 900/1,200 = 0.75, Tue–Fri 0.9, Sat 1.8, Sun 2.25
    # days: 120·0.75 = 90, 4 × 100·0.9 = 90, 50·1.8 = 90, 60·2.25 = 135 → (6·90 + 135) / 7 = 675 / 7
    assert est.tmja == pytest.approx(675 / 7)
    assert est.factor == pytest.approx((0.75 + 4 * 0.9 + 1.8 + 2.25) / 7)  # 1.2
    assert (est.method, est.days) == ("factor", 7)


def test_factor_method_needs_the_reference_cell() -> None:
    april = _daily([D(2025, 4, 1)], [100.0])  # a Tuesday in April; the reference has March only
    with pytest.raises(ValueError, match="no valid reference day .* in April on a Tuesday"):
        estimate_tmja_from_short_count(april, _march_reference(), 900.0, method="factor")
    with pytest.raises(ValueError, match="unknown short-count method 'guess'"):
        estimate_tmja_from_short_count(april, _march_reference(), 900.0, method="guess")
    with pytest.raises(ValueError, match="reference_tmja must be a positive daily volume"):
        estimate_tmja_from_short_count(april, _march_reference(), 0.0)


# --- real data: the UCI I-94 series, one year against the year before ----------------------------

def test_uci_week_estimates_are_within_the_stated_error(shared_data: Path) -> None:
    from sensors_io.aggregate import daily_totals
    from sensors_io.detect import discover
    from sensors_io.quality import QualityConfig, flag_counts

    source = discover([shared_data / "uci_metro_interstate"])[0].read()
    caps = {**QualityConfig().caps_per_hour, "all_vehicles": 8000.0}  # an interstate, not a town street
    clean = flag_counts(source.accepted.lazy(), QualityConfig(caps_per_hour=caps), tz="America/Chicago")
    clean = clean.drop([c for c in ("count_filled", "impute_method") if c in clean.collect_schema().names()])
    daily = daily_totals(clean, "America/Chicago").collect()
    # Two complete twelve-month periods (362 and 364 valid days): the reference Oct 2016 – Sep 2017, the
    # "counted site" Oct 2017 – Sep 2018, read against the reference 364 days earlier (same weekdays).
    ref = daily.filter(pl.col("day").is_between(D(2016, 10, 1), D(2017, 9, 30)))
    site = daily.filter(pl.col("day").is_between(D(2017, 10, 1), D(2018, 9, 30)))
    assert ref["is_valid_day"].sum() == 362 and site["is_valid_day"].sum() == 364
    ref_tmja = ref.filter("is_valid_day")["count"].mean()
    true_tmja = site.filter("is_valid_day")["count"].mean()

    def error(start: dt.date, method: str) -> float:
        week = site.filter(pl.col("day").is_between(start, start + dt.timedelta(days=6)))
        est = estimate_tmja_from_short_count(week, ref, ref_tmja, method=method, reference_offset_days=364)
        return est.tmja / true_tmja - 1

    # one ordinary spring week, chosen before looking (Monday 7 May 2018): within the stated 6.4 %
    for method in ("rattachement", "factor"):
        assert abs(error(D(2018, 5, 7), method)) <= EXPECTED_MAE
    # the 52 weeks of the year: the mean absolute error is within the stated figure (measured: 5.1 % by
    # rattachement, 5.2 % by factors); single weeks reach 17–21 % (a mid-April 2018 blizzard, autumn weeks)
    mondays = [D(2017, 10, 2) + dt.timedelta(weeks=w) for w in range(52)]
    for method in ("rattachement", "factor"):
        errors = [abs(error(m, method)) for m in mondays]
        assert sum(errors) / len(errors) <= EXPECTED_MAE
        assert max(errors) < 0.25  # never worse than the 24.6 % of misclassified weekend counts [I14]
