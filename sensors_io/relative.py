"""Relative traffic: observed hourly volume / the typical volume of the same local hour and weekday.

As Telraam's "relative" layer ([T2] in INDICATORS.md: observed / typical, typical from the same hour
and weekday over the past year), with two choices of this project:

* ``typical`` is the **median** by default (``statistic="mean"`` for Telraam's mean): one festival day,
  a public holiday or a week of roadworks in the trailing year shifts a mean, not a median.
* The trailing window is the ``trailing_days`` days **before** the current day (``[d − N, d)``), so the
  current day never explains itself; holidays are not removed from it (they are part of "typical").

``typical`` is null when fewer than ``min_samples`` values of that hour and weekday exist in the window
(a new sensor, a long outage); ``relative`` is null when ``typical`` is null or 0.
"""

from __future__ import annotations

from typing import Literal

import polars as pl

from sensors_io.aggregate import EXACT_SCALE, local_hour

_SERIES = ["sensor_id", "mode", "direction"]


def relative_traffic(
    hourly: pl.LazyFrame,
    trailing_days: int = 365,
    statistic: Literal["median", "mean"] = "median",
    min_samples: int = 4,
    column: str = "count",
    tz: str = "Europe/Paris",
) -> pl.LazyFrame:
    """Observed / typical per series and hour (module docstring for the rules).

    ``hourly`` has the columns of :func:`sensors_io.aggregate.hourly_totals` (``hour`` is computed from
    ``start_utc`` in ``tz`` when absent). ``column`` is the observed volume: ``count`` (measured, the
    default: an imputed value compared with its own model says nothing) or ``count_filled``.

    Columns: sensor_id, mode, direction, start_utc, day, hour, dow (1 = Monday), observed, typical,
    n_typical (values in the window), relative. Sorted by series and time.

    Examples
    --------
    >>> import datetime as dt
    >>> t0 = dt.datetime(2025, 1, 6, 7, tzinfo=dt.timezone.utc)  # Mondays, 08:00 in Paris
    >>> rows = [{"sensor_id": "a", "mode": "car", "direction": "E", "start_utc": t0 + dt.timedelta(weeks=w),
    ...          "count": c} for w, c in enumerate([100.0, 120.0, 80.0, 60.0])]
    >>> out = relative_traffic(pl.LazyFrame(rows), min_samples=3).collect()
    >>> out["typical"].to_list(), out["relative"].to_list()
    ([None, None, None, 100.0], [None, None, None, 0.6])
    """
    if trailing_days < 1:
        raise ValueError(f"trailing_days must be ≥ 1, got {trailing_days}")
    if statistic not in ("median", "mean"):
        raise ValueError(f"statistic must be 'median' or 'mean', got {statistic!r}")
    names = hourly.collect_schema().names()
    if column not in names:
        raise ValueError(f"hourly frame has no column {column!r}; expected one of {names}")
    frame = hourly
    if "day" not in names:
        frame = frame.with_columns(day=pl.col("start_utc").dt.convert_time_zone(tz).dt.date())
    if "hour" not in names:
        frame = frame.with_columns(hour=local_hour(tz))
    window = f"{trailing_days}d"
    keys = [*_SERIES, "dow", "hour"]
    obs = pl.col("observed")
    if statistic == "median":
        typical = obs.rolling_median_by("day", window, closed="left")
    else:
        # exact mean: integer micro-units summed over the window, so ties in time cannot reorder a float sum
        micro = (obs * EXACT_SCALE).round().cast(pl.Int64)
        typical = micro.rolling_sum_by("day", window, closed="left") / EXACT_SCALE / pl.col("n_typical")
    n = obs.is_not_null().cast(pl.Int32).rolling_sum_by("day", window, closed="left")
    return (
        frame.select(*_SERIES, "start_utc", "day", pl.col("hour").cast(pl.Int8),
                     pl.col(column).cast(pl.Float64).alias("observed"))
        .with_columns(dow=pl.col("day").dt.weekday().cast(pl.Int8))
        .with_columns(n_typical=n.over(keys).fill_null(0))
        .with_columns(typical=pl.when(pl.col("n_typical") >= min_samples).then(typical.over(keys)))
        .with_columns(relative=pl.when(pl.col("typical") > 0).then(obs / pl.col("typical")))
        .select(*_SERIES, "start_utc", "day", "hour", "dow", "observed", "typical", "n_typical", "relative")
        .sort([*_SERIES, "start_utc"])
    )
