"""Speed quantiles (V85, V50) from binned speed histograms (INDICATORS.md §1.3).

Interpolation inside the bin that holds the quantile::

    V_p = L_b + w · (p·N − F_{b−1}) / f_b

with b the first bin whose cumulative ``F_b ≥ p·N``, ``L_b`` its lower edge, ``w`` its width, ``f_b`` its
count (or %), ``F_{b−1}`` the cumulative below it and ``N`` the histogram total (100 for percentages;
the total is used as given, so a percentage histogram that sums to 99.99 still works).

An **open top bin** (Telraam ``120+`` / ``70+``) has no width: when the quantile falls in it the value
is *censored*: :func:`quantile_from_histogram` returns its lower edge with ``censored=True``, to be read
"≥ L_b", never as a measured speed.

Telraam (hourly API items, [T13, T7]): ``car_speed_hist_0to120plus`` has 25 values, % of cars per 5 km/h
bin (0–5, …, 115–120, 120+); ``car_speed_hist_0to70plus`` has 8 values per 10 km/h bin (0–10, …, 60–70,
70+); the item also carries the device's own ``v85``. Measured on ``shared/data/telraam_karlsruhe``
(4,911 hours with ≥ 20 cars and a device ``v85``): the 5 km/h interpolation is within 0.5 km/h of the
device's ``v85`` in 4,896 hours (99.69 %); the 6 censored hours all have a device ``v85`` ≥ 120 km/h,
so 4,901 hours (99.80 %) agree once a censored "≥ 120" is read as agreeing with any device value ≥ 119.5.
The 8-bin histogram is coarser (within 2 km/h in about 87 % of those hours). Speeds are indicative
(about ±10 %) and not outlier-filtered. A V85 series states which definition it uses (device field, 5 km/h
or 10 km/h histogram); never mix them in one series.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import polars as pl

#: Lower edges of Telraam's 25 bins of 5 km/h (the last one, 120+, is open).
TELRAAM_EDGES_5KMH: tuple[float, ...] = tuple(5.0 * i for i in range(25))
#: Lower edges of Telraam's 8 bins of 10 km/h (the last one, 70+, is open).
TELRAAM_EDGES_10KMH: tuple[float, ...] = tuple(10.0 * i for i in range(8))

HIST_5KMH = "car_speed_hist_0to120plus"
HIST_10KMH = "car_speed_hist_0to70plus"

# Relative tolerance on the cumulative comparison, so that float noise in a sum of percentages
# (e.g. 84.99999999999999 for 85) does not push the quantile into the next (maybe open) bin.
_REL_TOL = 1e-9


def quantile_from_histogram(hist: Sequence[float], edges: Sequence[float], p: float) -> tuple[float | None, bool]:
    """The p-quantile of a binned distribution by linear interpolation inside its bin.

    ``hist`` holds counts or percentages per bin. ``edges`` holds either the **lower edge of every bin**
    (``len(edges) == len(hist)``: the last bin is open-ended, like Telraam's ``120+``) or every edge
    including the last upper one (``len(edges) == len(hist) + 1``: all bins are closed).

    Returns ``(value, censored)``: ``censored`` is True when the quantile lies in the open top bin, and
    ``value`` is then that bin's lower edge (read "≥ value"). ``(None, False)`` when the histogram is
    empty or all zero (no vehicle, no speed).

    Raises ``ValueError`` for ``p`` outside (0, 1], edges of the wrong length or not increasing, and
    negative or non-finite bin values.

    >>> quantile_from_histogram([10, 30, 40, 20], [0, 10, 20, 30, 40], 0.5)
    (22.5, False)
    >>> quantile_from_histogram([10, 30, 40, 20], [0, 10, 20, 30], 0.85)
    (30.0, True)
    """
    if not (0.0 < p <= 1.0):
        raise ValueError(f"quantile p must be in (0, 1], got {p}")
    n_bins = len(hist)
    if len(edges) not in (n_bins, n_bins + 1):
        raise ValueError(f"{n_bins} bins need {n_bins} lower edges (open top bin) or {n_bins + 1} edges, got {len(edges)}")
    if any(not (b > a) for a, b in itertools.pairwise(edges)):
        raise ValueError(f"bin edges must increase strictly: {list(edges)}")
    values = [float(f) for f in hist]
    if any(not math.isfinite(f) or f < 0 for f in values):
        raise ValueError(f"histogram values must be finite and ≥ 0: {list(hist)}")
    total = math.fsum(values)
    if total <= 0:
        return None, False
    open_top = len(edges) == n_bins
    target = p * total
    cumulative = 0.0
    for b, f in enumerate(values):
        if f > 0 and cumulative + f >= target * (1 - _REL_TOL):
            if open_top and b == n_bins - 1:
                return float(edges[b]), True
            width = float(edges[b + 1]) - float(edges[b])
            share = min(max((target - cumulative) / f, 0.0), 1.0)
            return float(edges[b]) + width * share, False
        cumulative += f
    # Unreachable with a positive total (the last non-empty bin reaches it); kept for safety.
    last = max(i for i, f in enumerate(values) if f > 0)
    if open_top and last == n_bins - 1:
        return float(edges[last]), True
    return float(edges[last + 1]), False


def _hist_quantile(item: Mapping[str, Any], key: str, edges: Sequence[float], p: float) -> tuple[float | None, bool]:
    hist = item.get(key)
    if not isinstance(hist, list) or len(hist) != len(edges) or any(
        isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v < 0 for v in hist
    ):
        return None, False  # missing or malformed histogram: no speed, not an error of the hour
    return quantile_from_histogram(hist, edges, p)


def telraam_speed_quantile(item: Mapping[str, Any], p: float = 0.85, histogram: str = HIST_5KMH) -> tuple[float | None, bool]:
    """``(V_p, censored)`` of one Telraam hourly item from its 5 km/h (default) or 10 km/h car histogram.

    A missing or malformed histogram gives ``(None, False)``.
    """
    edges = {HIST_5KMH: TELRAAM_EDGES_5KMH, HIST_10KMH: TELRAAM_EDGES_10KMH}.get(histogram)
    if edges is None:
        raise ValueError(f"unknown Telraam histogram {histogram!r}; expected {HIST_5KMH!r} or {HIST_10KMH!r}")
    return _hist_quantile(item, histogram, edges, p)


TELRAAM_V85_SCHEMA = pl.Schema(
    {
        "segment_id": pl.String,
        "start_utc": pl.Datetime("us", "UTC"),
        "car": pl.Float64,
        "v85_device": pl.Float64,
        "v85_hist5": pl.Float64,
        "v85_hist5_censored": pl.Boolean,
        "v85_hist10": pl.Float64,
        "v85_hist10_censored": pl.Boolean,
    }
)


def _utc(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        t = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return t.astimezone(dt.UTC) if t.tzinfo else t.replace(tzinfo=dt.UTC)


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def telraam_v85_from_items(items: Iterable[Mapping[str, Any]]) -> pl.DataFrame:
    """V85 per Telraam hourly item from both car speed histograms, beside the device's own ``v85``.

    One row per item (``TELRAAM_V85_SCHEMA``): ``segment_id``, ``start_utc`` (the item's UTC hour
    start), ``car`` (the item's car count), ``v85_device`` (the item's ``v85``, null when absent),
    ``v85_hist5`` / ``v85_hist5_censored`` from ``car_speed_hist_0to120plus`` (25 bins of 5 km/h, open
    ``120+``) and ``v85_hist10`` / ``v85_hist10_censored`` from ``car_speed_hist_0to70plus`` (8 bins of
    10 km/h, open ``70+``). A censored value is the open bin's lower edge, read "≥". The values are not
    filtered: select hours with enough cars (e.g. ``car ≥ 20``) before using them.
    """
    rows = []
    for item in items:
        v5, c5 = telraam_speed_quantile(item, 0.85, HIST_5KMH)
        v10, c10 = telraam_speed_quantile(item, 0.85, HIST_10KMH)
        seg = item.get("segment_id")
        rows.append({
            "segment_id": None if seg is None else str(seg),
            "start_utc": _utc(item.get("date")),
            "car": _float(item.get("car")),
            "v85_device": _float(item.get("v85")),
            "v85_hist5": v5, "v85_hist5_censored": c5,
            "v85_hist10": v10, "v85_hist10_censored": c10,
        })
    return pl.DataFrame(rows, schema=TELRAAM_V85_SCHEMA)
