"""Quality flags on canonical counts: every value is observed, a confirmed zero, missing or excluded (why).

The rules here are the foundation set (INDICATORS.md §3); thresholds live in :class:`QualityConfig`.
Flags never change ``count``: aggregations read ``count_clean``, which is ``count`` for observed
values and confirmed zeros and null for everything else.
"""

from __future__ import annotations

import polars as pl
from pydantic import BaseModel, Field

from sensors_io.schema import SERIES_KEY

FLAGS = ("observed", "zero", "missing", "excluded")


class QualityConfig(BaseModel):
    """Thresholds of the cleaning rules."""

    uptime_min: float = Field(0.5, description="Telraam: hours with uptime below this are excluded (telraamStats keeps > 0.5).")
    caps_per_hour: dict[str, float] = Field(
        default_factory=lambda: {
            "car": 3000.0, "heavy": 800.0, "all_vehicles": 3500.0, "bus": 200.0, "motorcycle": 800.0,
            "bike": 2500.0, "scooter": 1000.0, "pedestrian": 15000.0, "other": 5000.0,
        },
        description="Physically implausible above these counts per hour and direction.",
    )
    stuck_min_run: int = Field(4, description="Same non-zero value this many intervals in a row = stuck sensor.")
    stuck_min_value: float = Field(5.0, description="Small repeated values (1, 1, 1 bikes at night) are plausible.")
    zero_run_min: int = Field(3, description="Daytime zero run length (intervals) that excludes a motor-traffic series.")
    zero_run_modes: tuple[str, ...] = ("car", "all_vehicles")
    daytime_hours: tuple[int, int] = Field((7, 20), description="Local hours [start, end) where a motor zero run is suspicious.")


def flag_counts(counts: pl.LazyFrame, config: QualityConfig | None = None, tz: str = "Europe/Paris") -> pl.LazyFrame:
    """Add ``flag``, ``flag_reason`` and ``count_clean`` to canonical counts (sorted by series and time).

    Examples
    --------
    >>> import datetime as dt
    >>> t0 = dt.datetime(2025, 1, 6, 10, tzinfo=dt.timezone.utc)
    >>> rows = [{"sensor_id": "a", "mode": "car", "direction": "E", "start_utc": t0 + dt.timedelta(hours=i),
    ...          "interval_s": 3600, "count": c} for i, c in enumerate([10.0, None, 0.0, 9000.0])]
    >>> out = flag_counts(pl.LazyFrame(rows)).collect()
    >>> out.select("flag", "flag_reason", "count_clean").rows()
    [('observed', None, 10.0), ('missing', None, None), ('zero', None, 0.0), ('excluded', 'implausible', None)]
    """
    cfg = config or QualityConfig()
    series = list(SERIES_KEY)
    cols = counts.collect_schema().names()
    cap = pl.col("mode").replace_strict(cfg.caps_per_hour, default=cfg.caps_per_hour["other"], return_dtype=pl.Float64)
    run_id = pl.col("count").rle_id().over(series, order_by="start_utc")
    run_len = pl.len().over([*series, "_run"])
    hour = pl.col("start_utc").dt.convert_time_zone(tz).dt.hour()
    day0, day1 = cfg.daytime_hours
    low_uptime = (pl.col("uptime") < cfg.uptime_min) if "uptime" in cols else pl.lit(False)
    implausible = pl.col("count") > cap * pl.col("interval_s") / 3600.0
    stuck = (pl.col("count") >= cfg.stuck_min_value) & (run_len >= cfg.stuck_min_run)
    zero_run = (
        (pl.col("count") == 0)
        & pl.col("mode").is_in(list(cfg.zero_run_modes))
        & (pl.len().over([*series, "_run", "_daytime"]) >= cfg.zero_run_min)
        & pl.col("_daytime")
    )
    reason = (
        pl.when(pl.col("count").is_null()).then(None)
        .when(low_uptime).then(pl.lit("low_uptime"))
        .when(implausible).then(pl.lit("implausible"))
        .when(stuck).then(pl.lit("stuck"))
        .when(zero_run).then(pl.lit("zero_run"))
        .otherwise(None)
    )
    flag = (
        pl.when(pl.col("count").is_null()).then(pl.lit("missing"))
        .when(pl.col("flag_reason").is_not_null()).then(pl.lit("excluded"))
        .when(pl.col("count") == 0).then(pl.lit("zero"))
        .otherwise(pl.lit("observed"))
    )
    return (
        counts.sort([*series, "start_utc"])
        .with_columns(_run=run_id, _daytime=hour.is_between(day0, day1 - 1))
        .with_columns(flag_reason=reason)
        .with_columns(flag=flag)
        .with_columns(count_clean=pl.when(pl.col("flag").is_in(["observed", "zero"])).then(pl.col("count")))
        .drop("_run", "_daytime")
    )
