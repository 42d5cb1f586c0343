"""TMJA of a site counted for a week or two, from a permanent reference station (INDICATORS.md §2).

Two methods, both standard practice (Sétra 2004 guide on temporary counts, pp. 27–31 [C7]; FHWA factor
method [I3, I4]):

* ``rattachement``: the reference station r is read on the same days D as the short count c,
  ``TMJA_c ≈ MJ_c(D) · TMJA_r / MJ_r(D)``; with several counting sessions s,
  ``TMJA_c ≈ 1/S · Σ_s MJ_c(D_s) · TMJA_r / MJ_r(D_s)``.
* ``factor``: monthly and day-of-week factors of the reference,
  ``C_m = TMJA_r / TMJM_{r,m}`` and ``C_{dow,m} = TMJM_{r,m} / MJ_{r,dow,m}``, so that
  ``TMJA_c ≈ mean_{d∈D} [ Q_{c,d} · C_{m(d)} · C_{dow(d),m(d)} ]`` (= ``Q_{c,d} · TMJA_r / MJ_{r,dow,m}``);
  the reference need not be read on the same days (e.g. a reference year older than the count).

Expected error (stated, not computed: INDICATORS.md §2 [I6]): mean absolute error **6.4 %** of the true
TMJA for a 48 h count factored from a well-matched reference (same kind of road and traffic pattern);
up to **+9 points (15.4 %)** when the reference is badly matched; weekend-only counts at misclassified
sites averaged 24.6 % [I14]. A 7- or 14-day count covers every day of week, so it should do no worse
than the 48 h figure; no published figure for 7 days is quoted here. These are mean errors over many
counts, not bounds on one count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import polars as pl

from sensors_io.aggregate import exact_mean, exact_sum

#: Mean absolute error of a 48 h count with a well-matched reference, share of the true TMJA [I6].
EXPECTED_MAE = 0.064
#: The same with a badly assigned reference (factor group): up to +9 points [I6].
EXPECTED_MAE_MISMATCHED = 0.064 + 0.09
METHODS = ("rattachement", "factor")
#: Factors are ratios near 1: summed exactly in 1e-9 units rather than the counts' 1e-6.
_FACTOR_SCALE = 1_000_000_000


@dataclass(frozen=True)
class ShortCountEstimate:
    """A TMJA estimated from a short count, with the error to expect (module docstring)."""

    tmja: float
    method: str
    #: short-count days used (valid, and with a valid reference day for ``rattachement``)
    days: int
    #: counting sessions averaged (the ``session`` column, else 1)
    sessions: int
    #: the reference's TMJA over its mean on the days used (rattachement, mean over sessions) or the mean
    #: combined factor C_m · C_dow,m (factor method)
    factor: float
    expected_error: float = EXPECTED_MAE
    expected_error_mismatched: float = EXPECTED_MAE_MISMATCHED
    source: str = "INDICATORS.md §2: 48 h count, MAE 6.4 % (well-matched reference), +9 points if badly matched [I6]"


def _daily(frame: pl.LazyFrame | pl.DataFrame, name: str) -> pl.LazyFrame:
    """day, q (count_filled when present, else count), ok (is_valid_day, else count not null), session."""
    lf = frame.lazy()
    cols = lf.collect_schema().names()
    for need in ("day", "count"):
        if need not in cols:
            raise ValueError(f"{name}: column {need!r} missing; expected daily totals (day, count, is_valid_day)")
    q = pl.col("count_filled") if "count_filled" in cols else pl.col("count")
    ok = (pl.col("is_valid_day") & q.is_not_null()) if "is_valid_day" in cols else q.is_not_null()
    session = pl.col("session").cast(pl.String) if "session" in cols else pl.lit("1")
    return lf.select(pl.col("day").cast(pl.Date), q.cast(pl.Float64).alias("q"), ok.alias("ok"),
                     session.alias("session"))


def estimate_tmja_from_short_count(
    short_daily: pl.LazyFrame | pl.DataFrame,
    reference_daily: pl.LazyFrame | pl.DataFrame,
    reference_tmja: float,
    method: Literal["rattachement", "factor"] = "rattachement",
    reference_offset_days: int = 0,
) -> ShortCountEstimate:
    """TMJA of the short count by ``method`` (module docstring), from a reference with TMJA ``reference_tmja``.

    Both frames are daily totals of one series each (``day``, ``count`` or ``count_filled``, optional
    ``is_valid_day``); ``short_daily`` may carry a ``session`` column to average several counting
    periods. Only valid days are used.

    ``rattachement`` reads the reference on day ``d − reference_offset_days`` for short-count day ``d``
    (0: the same days; 364: the same weekdays one year earlier, when the reference's TMJA is of that
    year). ``factor`` takes the month and weekday of each short-count day and needs a reference year
    with a valid day in each (month, weekday) cell used.

    Raises ValueError for an unknown method, a non-positive reference TMJA, no usable day, or a missing
    reference cell.
    """
    if method not in METHODS:
        raise ValueError(f"unknown short-count method {method!r}; expected one of {METHODS}")
    if not reference_tmja or reference_tmja <= 0:
        raise ValueError(f"reference_tmja must be a positive daily volume, got {reference_tmja!r}")
    short = _daily(short_daily, "short_daily").filter(pl.col("ok"))
    ref = _daily(reference_daily, "reference_daily").filter(pl.col("ok")).select("day", pl.col("q").alias("q_ref"))
    if method == "rattachement":
        used = (
            short.with_columns(_ref_day=pl.col("day").dt.offset_by(f"-{reference_offset_days}d"))
            .join(ref, left_on="_ref_day", right_on="day", how="inner")
        )
        per_session = (
            used.group_by("session")
            .agg(exact_mean(pl.col("q")).alias("_mc"), exact_mean(pl.col("q_ref")).alias("_mr"), pl.len().alias("_n"))
            .with_columns(_ratio=pl.lit(reference_tmja) / pl.col("_mr"))
            .with_columns(_est=pl.col("_mc") * pl.col("_ratio"))
        )
        out = per_session.select(
            exact_mean(pl.col("_est")).alias("tmja"), exact_mean(pl.col("_ratio"), _FACTOR_SCALE).alias("factor"),
            pl.col("_n").sum().alias("days"), pl.len().alias("sessions"),
            (pl.col("_mr") <= 0).any().alias("_zero"),
        ).collect()
        if out["_zero"][0]:
            raise ValueError("reference_daily: the reference counts 0 on the days of the short count; no ratio")
    else:
        cells = (
            ref.group_by(pl.col("day").dt.month().alias("_m"), pl.col("day").dt.weekday().alias("_dow"))
            .agg(exact_mean(pl.col("q_ref")).alias("_mj"))
        )
        used = (
            short.with_columns(_m=pl.col("day").dt.month(), _dow=pl.col("day").dt.weekday())
            .join(cells, on=["_m", "_dow"], how="left")
        )
        missing = used.filter(pl.col("_mj").is_null() | (pl.col("_mj") <= 0)).select("day").sort("day").collect()
        if missing.height:
            d = missing["day"][0]
            raise ValueError(
                f"reference_daily: no valid reference day (or only zeros) in {d:%B} on a {d:%A}, needed for "
                f"the short-count day {d}; the factor method needs a reference year with every (month, weekday) used")
        per_session = (
            used.with_columns(_f=pl.lit(reference_tmja) / pl.col("_mj"))
            .with_columns(_est=pl.col("q") * pl.col("_f"))
            .group_by("session")
            .agg(exact_mean(pl.col("_est")).alias("_est"), exact_sum(pl.col("_f"), _FACTOR_SCALE).alias("_fsum"), pl.len().alias("_n"))
        )
        out = per_session.select(
            exact_mean(pl.col("_est")).alias("tmja"),
            (exact_sum(pl.col("_fsum"), _FACTOR_SCALE) / pl.col("_n").sum()).alias("factor"),
            pl.col("_n").sum().alias("days"), pl.len().alias("sessions"),
        ).collect()
    if out.height == 0 or out["tmja"][0] is None or out["days"][0] == 0:
        what = "with a valid reference day " if method == "rattachement" else ""
        raise ValueError(f"short_daily: no valid day {what}to estimate from (check the dates and reference_offset_days)")
    return ShortCountEstimate(tmja=float(out["tmja"][0]), method=method, days=int(out["days"][0]),
                              sessions=int(out["sessions"][0]), factor=float(out["factor"][0]))
