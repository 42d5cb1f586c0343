"""Quality flags on canonical counts: every value says what it is and why (INDICATORS.md §3, docs/quality.md).

``flag`` (one per row):

- ``observed``: a measured value we trust; ``zero``: a measured 0 we trust (nobody passed);
- ``suspect``: measured, kept in ``count_clean``, but unusual (``outlier``; ``dst_duplicate``: the repeated
  autumn hour equals the first one, as when a logger on local time copies it): a warning, not a deletion;
- ``missing``: not measured (``gap``: the slot had no row at all; ``no_uptime``: a Telraam camera that was
  not counting, e.g. V1 at night; ``unclassified``: the sensor counted all vehicles without classes, e.g.
  Telraam S2 night mode; ``no_data``: an empty count). ``no_uptime`` and ``unclassified`` are "not measured
  by design": never imputed, and ignored by the missing-data gate;
- ``excluded``: measured but not trusted (``register:<reason>``, ``low_uptime``, ``implausible``,
  ``stuck``, ``zero_run``);
- ``imputed``: a missing or excluded value filled by :mod:`sensors_io.impute`; ``flag_reason`` keeps
  the original cause.

``count`` is never changed. ``count_clean`` = ``count`` for observed, zero and suspect rows, null
otherwise; ``count_filled`` = ``count_clean`` where not null, else the imputed value, else null;
``impute_method`` names the method of imputed rows. Rows in an ``accept`` period of the anomaly
register keep ``flag_reason = register:<reason>`` and are never flagged ``zero_run`` or ``outlier``.
Day-level validity (≥ 19 valid hours, ±20 % of the same-weekday monthly mean) is left to aggregation.
"""

from __future__ import annotations

import math

import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from sensors_io.aggregate import exact_mean, exact_sum
from sensors_io.anomalies import match_register
from sensors_io.impute import ImputeConfig, impute_frame, micro, run_id, series_id, trailing_sum, with_calendar
from sensors_io.schema import ROW_KEY, SERIES_KEY

FLAGS = ("observed", "zero", "suspect", "imputed", "missing", "excluded")
#: Reasons, by flag (``register:<reason>`` also appears on accepted observed/zero rows).
REASONS: dict[str, tuple[str, ...]] = {
    "missing": ("gap", "no_uptime", "unclassified", "no_data"),
    "excluded": ("register:<reason>", "low_uptime", "implausible", "stuck", "zero_run"),
    "suspect": ("dst_duplicate", "outlier"),
}
#: Columns flag_counts adds, with their types.
QUALITY_COLUMNS: pl.Schema = pl.Schema(
    {"flag": pl.String, "flag_reason": pl.String, "count_clean": pl.Float64, "impute_method": pl.String,
     "count_filled": pl.Float64}
)


class QualityConfig(BaseModel):
    """Parameters of the quality rules and of the imputation (docs/quality.md explains each one)."""

    model_config = ConfigDict(extra="forbid")

    # --- hard limits ---------------------------------------------------------------------------------
    uptime_min: float = Field(0.5, description="Telraam: hours with uptime below this are excluded "
                                                 "(telraamStats keeps > 0.5).")
    caps_per_hour: dict[str, float] = Field(
        default_factory=lambda: {
            "car": 8000.0, "heavy": 2000.0, "all_vehicles": 9000.0, "bus": 200.0, "motorcycle": 800.0,
            "bike": 2500.0, "scooter": 1000.0, "pedestrian": 15000.0, "other": 5000.0,
        },
        description="Physically implausible above these counts per hour and direction (scaled to the interval); "
                    "motor caps allow a 4-lane motorway carriageway (~2,200 veh/h/lane; the I-94 reaches 7,280).",
    )
    # --- stuck values -----------------------------------------------------------------------------------
    stuck_min_run: int = Field(4, ge=2, description="A stuck run has at least this many equal values in a row.")
    stuck_min_value: float = Field(5.0, description="Small repeated values (1, 1, 1 bikes at night) are plausible.")
    stuck_max_probability: float = Field(
        1e-6, gt=0, lt=1,
        description="Stuck when p_eq(value)^(run-1) is below this, p_eq(λ) = 1/sqrt(4πλ) (two Poisson draws equal).",
    )
    # --- adaptive zero runs -------------------------------------------------------------------------------
    zero_run_modes: tuple[str, ...] | None = Field(None, description="Modes checked for zero runs (None = all).")
    zero_run_lookback_days: int = Field(60, ge=1, description="Trailing window of the cell mean (Toronto: 60 days).")
    zero_run_min_history: int = Field(4, ge=1, description="Values the trailing mean needs (else the frame's cell).")
    zero_run_dispersion: float = Field(5.0, gt=0, description="Negative-binomial size k of a run's total.")
    zero_run_max_probability: float = Field(1e-4, gt=0, lt=1, description="A zero run less likely is a fault.")
    zero_run_min: int = Field(1, ge=1, description="Shortest zero run that can be flagged (intervals).")
    # --- robust outliers --------------------------------------------------------------------------------
    outlier_window_days: int = Field(56, ge=1, description="Trailing window of the hour-of-week cell (8 weeks).")
    outlier_min_history: int = Field(4, ge=2, description="Values the trailing cell needs (else the frame's cell).")
    outlier_z: float = Field(4.0, gt=0, description="|z| above this on log1p(count) is an outlier.")
    outlier_min_scale: float = Field(0.1, gt=0, description="Floor of the robust scale (log1p units ≈ 10 %).")
    outlier_min_abs: float = Field(10.0, ge=0, description="And at least this far from the expected count.")
    outlier_min_day_values: int = Field(6, ge=1, description="Values a series-day needs to estimate its level shift.")
    # --- rows and calendar --------------------------------------------------------------------------------
    dst_duplicate_check: bool = Field(True, description="Suspect: the repeated autumn hour equals the first one.")
    complete_grid: bool = Field(True, description="Insert absent slots (interval ≤ 1 h) as missing rows, reason gap.")
    gap_rows_max_hours: float | None = Field(
        None, description="Only absent stretches up to this long become rows (None = impute.max_gap_hours, the "
                          "ones imputation can fill; a large value materialises every absent slot).")
    holidays_country: str = Field("FR", description="Public holidays (package `holidays`) for day types.")
    holidays_subdiv: str | None = Field(None, description="e.g. '57' for Moselle (Alsace-Moselle holidays).")
    impute: ImputeConfig = Field(default_factory=ImputeConfig, description="Imputation parameters.")

    def zero_run_min_expected(self) -> float:
        """Expected traffic over a zero run above which it is flagged: ``k·(p^(-1/k) − 1)``.

        From ``P(run total = 0) = (1 + M/k)^(-k)`` (negative binomial, mean M, size k) < p.
        """
        k, p = self.zero_run_dispersion, self.zero_run_max_probability
        return k * (p ** (-1.0 / k) - 1.0)


def _complete_grid(lf: pl.LazyFrame, max_hours: float | None) -> pl.LazyFrame:
    """Insert absent slots between a series' first and last row (single interval ≤ 1 h dividing the hour)
    in absent stretches of at most ``max_hours`` (all when None)."""
    series = list(SERIES_KEY)
    us = pl.col("start_utc").dt.epoch("us")
    bounds = (
        lf.group_by(series)
        .agg(site_id=pl.col("site_id").min() if "site_id" in lf.collect_schema().names() else pl.lit(None, pl.String),
             t0=us.min(), t1=us.max(), step=pl.col("interval_s").min(), steps=pl.col("interval_s").n_unique())
        .filter((pl.col("steps") == 1) & (pl.col("step") <= 3600) & (3600 % pl.col("step") == 0))
    )
    grid = (
        bounds.select(*series, "site_id", "step",
                      _t=pl.int_ranges("t0", pl.col("t1") + 1, pl.col("step").cast(pl.Int64) * 1_000_000))
        .explode("_t")
        .select(*series, "site_id", interval_s=pl.col("step").cast(pl.Int32),
                start_utc=pl.from_epoch("_t", time_unit="us").dt.replace_time_zone("UTC"))
    )
    absent = grid.join(lf.select(ROW_KEY), on=list(ROW_KEY), how="anti")
    if max_hours is not None:
        # Consecutive absent slots share start − rank × step; keep stretches of at most max_hours.
        us_step = pl.col("interval_s").cast(pl.Int64) * 1_000_000
        stretch = us - pl.int_range(pl.len()).over(series, order_by="start_utc").cast(pl.Int64) * us_step
        absent = absent.with_columns(_stretch=stretch).filter(
            (pl.len().over([*series, "_stretch"]) * pl.col("interval_s") / 3600.0) <= max_hours).drop("_stretch")
    absent = absent.with_columns(count=pl.lit(None, pl.Float64), _out=pl.lit(True), _gap=pl.lit(True))
    return pl.concat([lf, absent], how="diagonal_relaxed")


def flag_counts(counts: pl.LazyFrame, config: QualityConfig | None = None, tz: str = "Europe/Paris", *,
                register: pl.DataFrame | None = None, history: pl.LazyFrame | None = None,
                impute: bool = True) -> pl.LazyFrame:
    """Add ``flag``, ``flag_reason``, ``count_clean``, ``impute_method``, ``count_filled`` (sorted by series, time).

    ``register``: a loaded anomaly register (:func:`sensors_io.anomalies.load_register`).
    ``history``: earlier canonical counts (e.g. the 60 days before a run's first day): they feed the
    trailing windows, runs and profiles but are not returned. ``impute=False`` leaves ``count_filled`` =
    ``count_clean``. Absent slots become rows (reason ``gap``) when ``config.complete_grid``.

    Examples
    --------
    >>> import datetime as dt
    >>> t0 = dt.datetime(2025, 1, 6, 10, tzinfo=dt.timezone.utc)
    >>> rows = [{"sensor_id": "a", "mode": "car", "direction": "E", "start_utc": t0 + dt.timedelta(hours=i),
    ...          "interval_s": 3600, "count": c} for i, c in enumerate([10.0, None, 0.0, 9000.0])]
    >>> out = flag_counts(pl.LazyFrame(rows), impute=False).collect()
    >>> out.select("flag", "flag_reason", "count_clean").rows()
    [('observed', None, 10.0), ('missing', 'no_data', None), ('zero', None, 0.0), ('excluded', 'implausible', None)]
    """
    cfg = config or QualityConfig()
    series = list(SERIES_KEY)
    lf = counts.lazy()
    cols = lf.collect_schema().names()
    lf = lf.with_columns(_out=pl.lit(True), _gap=pl.lit(False))
    if history is not None:
        hist = history.lazy()
        keep = [c for c in cols if c in hist.collect_schema().names()]
        hist = hist.select(keep).join(lf.select(ROW_KEY), on=list(ROW_KEY), how="anti")
        lf = pl.concat([lf, hist.with_columns(_out=pl.lit(False), _gap=pl.lit(False))], how="diagonal_relaxed")
    if cfg.complete_grid:
        lf = _complete_grid(lf, cfg.gap_rows_max_hours if cfg.gap_rows_max_hours is not None
                            else cfg.impute.max_gap_hours)
    lf = with_calendar(
        lf.sort([*series, "start_utc", "interval_s", "count"], nulls_last=True), tz, cfg.holidays_country,
        cfg.holidays_subdiv,
    )
    # Sorted by series and time from here on: one integer key per series (``_sid``) partitions the windows,
    # and runs are found by comparing each row with the previous one.
    lf = match_register(lf, register).with_columns(_sid=series_id())
    series = ["_sid"]
    count = pl.col("count")
    hours = pl.col("interval_s") / 3600.0

    # 1. Rules on the value alone, the register, DST copies and stuck runs.
    cap = pl.col("mode").replace_strict(cfg.caps_per_hour, default=cfg.caps_per_hour.get("other", math.inf),
                                        return_dtype=pl.Float64)
    low_uptime = (pl.col("uptime") < cfg.uptime_min).fill_null(False) if "uptime" in cols else pl.lit(False)
    no_uptime = (pl.col("uptime") == 0).fill_null(False) if "uptime" in cols else pl.lit(False)
    run_len = pl.len().over([*series, "_vrun"])
    p_eq = (1.0 / (4 * math.pi * count.clip(lower_bound=1.0)).sqrt()).clip(upper_bound=1.0)
    stuck = (count >= cfg.stuck_min_value) & (run_len >= cfg.stuck_min_run) & (
        (run_len - 1).cast(pl.Float64) * p_eq.log() < math.log(cfg.stuck_max_probability))
    lf = lf.with_columns(
        _vrun=run_id(count),
        _accepted=(pl.col("register_action") == "accept").fill_null(False),
        _no_uptime=no_uptime,
    )
    # Telraam S2 night mode: the classes are not counted while the same sensor counts all vehicles.
    night = (
        lf.filter((pl.col("mode") == "all_vehicles") & count.is_not_null())
        .select("sensor_id", "start_utc", _night=pl.lit(True)).unique()
    )
    lf = lf.join(night, on=["sensor_id", "start_utc"], how="left", maintain_order="left").with_columns(
        _unclassified=count.is_null() & (pl.col("mode") != "all_vehicles") & pl.col("_night").fill_null(False),
    ).with_columns(
        _hard=pl.when(count.is_null()).then(None)
        .when(pl.col("register_action") == "exclude").then(pl.format("register:{}", pl.col("register_reason")))
        .when(low_uptime).then(pl.lit("low_uptime"))
        .when((count < 0) | (count > cap * hours)).then(pl.lit("implausible"))
        .when(stuck).then(pl.lit("stuck")),
    )
    lf = _flag_dst_duplicates(lf, tz) if cfg.dst_duplicate_check else lf.with_columns(_dst=pl.lit(False))

    # 2. Adaptive zero runs: expected traffic of each zero run from the trailing cell mean.
    learn = pl.when(count.is_not_null() & pl.col("_hard").is_null() & ~pl.col("_accepted")).then(count)
    zcell = [*series, "_daytype", "_hour"]
    w = cfg.zero_run_lookback_days
    n_t = trailing_sum(learn.is_not_null().cast(pl.Int64), w, zcell)
    mu = (
        pl.when(n_t >= cfg.zero_run_min_history).then(trailing_sum(micro(learn), w, zcell) / n_t / 1e6)
        .when(learn.count().over(zcell) >= cfg.zero_run_min_history).then(exact_mean(learn).over(zcell))
    )
    is_zero = (count == 0) & pl.col("_hard").is_null()
    zmodes = pl.lit(True) if cfg.zero_run_modes is None else pl.col("mode").is_in(list(cfg.zero_run_modes))
    zgroup = [*series, "_zrun"]
    lf = lf.with_columns(_mu=mu, _zrun=run_id(is_zero)).with_columns(
        _zero_run=(is_zero.fill_null(False) & zmodes & ~pl.col("_accepted")
                   & (pl.len().over(zgroup) >= cfg.zero_run_min)
                   & (pl.col("_mu").count().over(zgroup) > 0)
                   & (exact_sum(pl.col("_mu")).over(zgroup) > cfg.zero_run_min_expected())).fill_null(False),
    )

    # 3. Robust outliers on log1p(count) against the hour-of-week cell (trailing median and IQR).
    v = pl.when(pl.col("_zero_run").not_() & count.is_not_null() & pl.col("_hard").is_null()
                & ~pl.col("_accepted")).then(count.log1p())
    ocell = [*series, "_wday", "_hour", "_minute"]
    wo, mo = f"{cfg.outlier_window_days}d", cfg.outlier_min_history

    def q(p: float) -> pl.Expr:
        trailing = v.rolling_quantile_by("start_utc", wo, quantile=p, interpolation="linear", closed="left",
                                         min_samples=mo).over(ocell)
        whole = pl.when(v.count().over(ocell) >= mo).then(v.quantile(p, "linear").over(ocell))
        return pl.coalesce(trailing, whole)

    # The day's own level (median residual of the series-day) is removed first: a whole day above or below
    # its profile (summer start, festival day, closure) is a level, not an outlier hour.
    resid = v - pl.col("_q50")
    day = [*series, "_date"]
    lf = lf.with_columns(_q25=q(0.25), _q50=q(0.5), _q75=q(0.75)).with_columns(
        _shift=pl.when(resid.count().over(day) >= cfg.outlier_min_day_values).then(resid.median().over(day))
        .otherwise(0.0)
    )
    expected = pl.col("_q50") + pl.col("_shift")
    mu = expected.exp() - 1
    robust = ((pl.col("_q75") - pl.col("_q25")) / 1.349).clip(lower_bound=cfg.outlier_min_scale)
    poisson = mu.clip(lower_bound=0).sqrt() / (1 + mu.clip(lower_bound=0))  # sd of log1p(Poisson(μ)), delta method
    z = (count.log1p() - expected) / (robust.pow(2) + poisson.pow(2)).sqrt()
    outlier = (
        count.is_not_null() & pl.col("_hard").is_null() & ~pl.col("_zero_run") & ~pl.col("_accepted")
        & (z.abs() > cfg.outlier_z) & ((count - mu).abs() >= cfg.outlier_min_abs)
    ).fill_null(False)

    # 4. One flag and one reason per row.
    reason = (
        pl.when(count.is_null()).then(
            pl.when(pl.col("_gap")).then(pl.lit("gap")).when(pl.col("_no_uptime")).then(pl.lit("no_uptime"))
            .when(pl.col("_unclassified")).then(pl.lit("unclassified")).otherwise(pl.lit("no_data")))
        .when(pl.col("_hard").is_not_null()).then(pl.col("_hard"))
        .when(pl.col("_zero_run")).then(pl.lit("zero_run"))
        .when(pl.col("_dst")).then(pl.lit("dst_duplicate"))
        .when(outlier).then(pl.lit("outlier"))
        .when(pl.col("_accepted")).then(pl.format("register:{}", pl.col("register_reason")))
    )
    flag = (
        pl.when(count.is_null()).then(pl.lit("missing"))
        .when(pl.col("_hard").is_not_null() | pl.col("_zero_run")).then(pl.lit("excluded"))
        .when(pl.col("flag_reason").is_in(["outlier", "dst_duplicate"])).then(pl.lit("suspect"))
        .when(count == 0).then(pl.lit("zero"))
        .otherwise(pl.lit("observed"))
    )
    lf = (
        lf.with_columns(flag_reason=reason)
        .with_columns(flag=flag)
        .with_columns(count_clean=pl.when(pl.col("flag").is_in(["observed", "zero", "suspect"])).then(count))
    )
    if impute:
        lf = impute_frame(lf, cfg.impute)
    else:
        lf = lf.with_columns(count_filled=pl.col("count_clean"), impute_method=pl.lit(None, pl.String))
    lo = pl.col("start_utc").filter(~pl.col("_gap") & pl.col("_out")).min().over(series)
    hi = pl.col("start_utc").filter(~pl.col("_gap") & pl.col("_out")).max().over(series)
    out = lf.filter(pl.col("_out") & (pl.col("start_utc") >= lo) & (pl.col("start_utc") <= hi))
    return out.select(*cols, *QUALITY_COLUMNS).sort([*SERIES_KEY, "start_utc", "interval_s"])


def _flag_dst_duplicates(lf: pl.LazyFrame, tz: str) -> pl.LazyFrame:
    """``_dst`` on the second of the two autumn hours with the same local clock time when it repeats the first
    one's non-zero count (a logger that wrote its local hour twice, or chance: hence suspect, not excluded)."""
    key = [*SERIES_KEY, "interval_s"]
    naive = pl.col("start_utc").dt.convert_time_zone(tz).dt.replace_time_zone(None)
    before = pl.col("start_utc") - pl.duration(hours=1)
    cand = (
        lf.filter(naive == before.dt.convert_time_zone(tz).dt.replace_time_zone(None))
        .select(*key, "start_utc", "count", _prev_t=before)
    )
    prev = lf.select(*key, _prev_t="start_utc", _prev_count="count")
    dups = (
        cand.join(prev, on=[*key, "_prev_t"])
        .filter((pl.col("count") == pl.col("_prev_count")) & (pl.col("count") > 0))
        .select(*key, "start_utc", _dst=pl.lit(True))
    )
    return (
        lf.join(dups, on=[*key, "start_utc"], how="left", maintain_order="left")
        .with_columns(_dst=pl.col("_dst").fill_null(False) & pl.col("_hard").is_null())
    )


def missing_share_by_sensor(clean: pl.DataFrame | pl.LazyFrame, register: pl.DataFrame | None = None, *,
                            ignore_reasons: tuple[str, ...] = ("no_uptime", "unclassified")) -> pl.DataFrame:
    """Share of rows without a trusted measured value, per series, for the blocking gate.

    Columns: sensor_id, mode, direction, rows (Int64), missing (Int64), share (Float64, 0–1).
    ``missing`` = rows whose ``count_clean`` is null (flag missing or excluded, imputed or not). Rows in
    any register period (``exclude`` or ``accept``) and rows whose reason is in ``ignore_reasons``
    (default: not measured by design, ``no_uptime`` and ``unclassified``) count neither as rows nor as
    missing. Sorted by share (highest first), then series.
    """
    lf = match_register(clean.lazy().select(*SERIES_KEY, "start_utc", "count_clean", "flag_reason"), register)
    by_design = pl.col("flag_reason").is_in(list(ignore_reasons)).fill_null(False)
    kept = lf.filter(pl.col("register_action").is_null() & ~by_design)
    return (
        kept.group_by(list(SERIES_KEY))
        .agg(rows=pl.len().cast(pl.Int64), missing=pl.col("count_clean").is_null().sum().cast(pl.Int64))
        .with_columns(share=pl.col("missing") / pl.col("rows"))
        .sort(["share", *SERIES_KEY], descending=[True, False, False, False])
        .collect()
    )


def gate_missing_share(clean: pl.DataFrame | pl.LazyFrame, threshold: float,
                       register: pl.DataFrame | None = None) -> tuple[bool, pl.DataFrame]:
    """The blocking gate: passed when no series misses more than ``threshold`` (0–1) of its rows.

    Returns ``(passed, offenders)``; offenders are the rows of :func:`missing_share_by_sensor` above the
    threshold.
    """
    if not 0 <= threshold <= 1:
        raise ValueError(f"threshold must be a share between 0 and 1, got {threshold}")
    shares = missing_share_by_sensor(clean, register)
    offenders = shares.filter(pl.col("share") > threshold)
    return offenders.height == 0, offenders
