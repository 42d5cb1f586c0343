"""Clean + aggregate + indicators benchmark (issue #6): the project's pipeline against the same work in DuckDB SQL.

Run: ``.venv/bin/python benchmarks/clean_aggregate.py [--sensors 500] [--repeat 2] [--batch 50]``
(``--sensors 50`` for a quick run; ``--profile`` times engine A's stages on one batch instead).

Workload (generated once into ``--data``, default /tmp/mobility-bench): canonical long counts Parquet
(site_id, sensor_id, mode, direction, start_utc, interval_s = 900, count, source, source_file) for N
sensors × 4 modes (car, heavy, bike, pedestrian) × one direction × the year 2024 at 15-minute steps
(500 sensors: 70.3 M rows), with daily and weekly profiles, public holidays, a July–August surge, gaps
(short ones that imputation fills, and whole days), stuck runs, zero runs in daytime and spikes; no
duplicates (ingest dedupes), sorted by sensor and time, row groups of whole sensors.

Engines, each in its own process (wall time and peak RSS = VmHWM of that process), alternated A B A B:

- ``mobility`` (A): the project's functions, in batches of ``--batch`` sensors (a range filter on
  ``sensor_id`` over the Parquet scan, so row groups of other sensors are skipped); per batch
  ``flag_counts`` (flags + imputation) collected once → ``hourly_totals`` and ``daily_totals`` →
  ``traffic_indicators`` with ``calendar_frame`` (every indicator here is per sensor, so per batch).
- ``duckdb`` (B): the same work in DuckDB SQL, in the same batches, with the same rules and default
  parameters of QualityConfig / ImputeConfig: caps per mode, stuck runs by the probability rule
  ``(run − 1) · log p_eq(value) < log 1e-6``, zero runs whose expected traffic (trailing 60-day mean of the
  day-type × hour cell, else the whole cell) exceeds the negative-binomial threshold, outliers by the
  trailing 56-day median / IQR of the hour-of-week cell after the day's level shift, DST duplicates,
  gap rows up to 6 h, profile imputation (hour of week × season, scaled by the trailing 28-day level)
  within the 6-hour gap limit, hourly and daily totals with the valid-day rule, TMJA by mean of valid
  days / complete months / AASHTO, HPM / HPS. Sums use the same integer micro-units as exact_sum.

Simplifications (both engines run them identically, so outputs can be compared):

- Neighbour-ratio imputation is off in both (``ImputeConfig(use_neighbours=False)``): the Pearson
  matrix of every pair of series is a numpy matrix product in the project, and has no reasonable SQL
  form. ``--neighbours`` adds a run of engine A with the defaults (neighbours on) for the record.
- B is written for this workload's shape: no anomaly register, no uptime column, no ``all_vehicles``
  mode (Telraam night mode), one interval length (900 s) and no history frame; the project handles them.
- Indicators in B: TMJA (three estimators) and HPM / HPS only; A computes the full indicator set.

Agreement (printed): per series and day, daily ``count`` and ``count_filled`` equal within 1e-9, the
validity of days equal, the number of rows per (flag, reason) equal, and TMJA (per estimator), HPM and
HPS per series equal within 1e-9.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODES = ("car", "heavy", "bike", "pedestrian")
YEAR = 2024
TZ = "Europe/Paris"
TARGET_RSS_MB = 4096
TOL = 1e-9


# --- workload -----------------------------------------------------------------------------------------

def generate(path: Path, sensors: int, seed: int = 6) -> int:
    """Write the canonical counts Parquet (sorted by sensor, time); returns its rows."""
    import numpy as np
    import polars as pl
    import pyarrow.parquet as pq

    ts = pl.datetime_range(dt.datetime(YEAR, 1, 1), dt.datetime(YEAR + 1, 1, 1) - dt.timedelta(minutes=15),
                           "15m", time_zone="UTC", eager=True)
    local = ts.dt.convert_time_zone(TZ)
    hour = (local.dt.hour().to_numpy() + local.dt.minute().to_numpy() / 60.0)
    dow = local.dt.weekday().to_numpy()
    month = local.dt.month().to_numpy()
    n_t = len(ts)
    # Daily shapes (two peaks for motor traffic and bikes, one midday hump for pedestrians), weekly factor,
    # July–August surge.
    peaks = lambda h, a, b: np.exp(-((h - a) ** 2) / 2.0) + 0.9 * np.exp(-((h - b) ** 2) / 3.0)  # noqa: E731
    shape = {
        "car": 0.08 + peaks(hour, 8.0, 17.5), "heavy": 0.15 + 0.8 * np.exp(-((hour - 11) ** 2) / 18.0),
        "bike": 0.03 + peaks(hour, 8.3, 17.8), "pedestrian": 0.05 + np.exp(-((hour - 13) ** 2) / 12.0),
    }
    weekend = dow >= 6
    week = {"car": np.where(weekend, 0.7, 1.0), "heavy": np.where(weekend, 0.25, 1.0),
            "bike": np.where(weekend, 0.8, 1.0), "pedestrian": np.where(weekend, 1.3, 1.0)}
    summer = np.isin(month, [7, 8])
    surge = {"car": np.where(summer, 1.25, 1.0), "heavy": np.where(summer, 0.9, 1.0),
             "bike": np.where(summer, 1.5, 1.0), "pedestrian": np.where(summer, 1.6, 1.0)}
    level = {"car": 120.0, "heavy": 12.0, "bike": 25.0, "pedestrian": 40.0}
    rng = np.random.default_rng(seed)
    tmp = path.with_suffix(".tmp")
    writer = None
    rows = 0
    for s in range(sensors):
        sid = f"S{s:04d}"
        frames = []
        for mode in MODES:
            lam = level[mode] * rng.uniform(0.3, 2.0) * shape[mode] * week[mode] * surge[mode]
            count = rng.poisson(lam).astype(np.float64)
            keep = np.ones(n_t, dtype=bool)
            for _ in range(rng.integers(2, 6)):          # short gaps (≤ 6 h: imputed)
                a = rng.integers(0, n_t - 24)
                keep[a:a + rng.integers(1, 24)] = False
            if rng.random() < 0.3:                         # a few whole days lost
                a = rng.integers(0, n_t - 96 * 5)
                keep[a:a + 96 * rng.integers(1, 5)] = False
            if rng.random() < 0.3:                         # stuck value
                a = rng.integers(0, n_t - 40)
                count[a:a + rng.integers(6, 40)] = max(count[a], 7.0)
            if rng.random() < 0.3:                         # zero run in daytime
                a = int(np.argmax((hour[:n_t - 96] > 9) & (np.arange(n_t - 96) > rng.integers(0, n_t - 200))))
                count[a:a + rng.integers(8, 48)] = 0.0
            spikes = rng.integers(0, n_t, rng.integers(0, 4))
            count[spikes] = count[spikes] * 8 + 60        # spikes (outliers)
            if rng.random() < 0.05:
                count[rng.integers(0, n_t)] = -1.0         # implausible
            frames.append(pl.DataFrame({"start_utc": ts.filter(pl.Series(keep)), "count": count[keep]})
                          .with_columns(mode=pl.lit(mode)))
        batch = (
            pl.concat(frames)
            .with_columns(site_id=pl.lit(f"site{s // 2:04d}"), sensor_id=pl.lit(sid), direction=pl.lit("E"),
                          interval_s=pl.lit(900, pl.Int32), source=pl.lit("bench"),
                          source_file=pl.lit(f"bench_{s // 100:02d}.csv"))
            .select("site_id", "sensor_id", "mode", "direction", "start_utc", "interval_s", "count", "source",
                    "source_file")
            .sort("sensor_id", "mode", "direction", "start_utc")
        )
        table = batch.to_arrow()
        if writer is None:
            writer = pq.ParquetWriter(tmp, table.schema, compression="zstd")
        writer.write_table(table, row_group_size=table.num_rows)
        rows += table.num_rows
    assert writer is not None
    writer.close()
    tmp.rename(path)
    return rows


def sensor_batches(sensors: int, batch: int) -> list[tuple[str, str]]:
    """Inclusive sensor_id ranges of the batches."""
    ids = [f"S{s:04d}" for s in range(sensors)]
    return [(ids[i], ids[min(i + batch, sensors) - 1]) for i in range(0, sensors, batch)]


def _rss_mb() -> float:
    """Peak resident memory of this process (VmHWM: unlike ru_maxrss it does not inherit the parent's)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# --- engine A: the project's functions ----------------------------------------------------------------

def quality_config():  # noqa: ANN201 - imported lazily in the child
    """QualityConfig defaults, neighbour imputation off unless --neighbours (see the module docstring)."""
    from sensors_io.impute import ImputeConfig
    from sensors_io.quality import QualityConfig

    return QualityConfig(impute=ImputeConfig(use_neighbours=False))


def run_mobility(parquet: Path, sensors: int, batch: int, out: Path | None, neighbours: bool = False) -> dict:
    """Engine A; writes its outputs to ``out`` for the agreement check when given."""
    import polars as pl

    from scenarios.calendars import calendar_frame
    from sensors_io.aggregate import daily_totals, hourly_totals
    from sensors_io.indicators import traffic_indicators
    from sensors_io.quality import QualityConfig, flag_counts

    cfg = QualityConfig() if neighbours else quality_config()
    cal = calendar_frame(dt.date(YEAR, 1, 1), dt.date(YEAR, 12, 31), "C")
    scan = pl.scan_parquet(parquet)
    daily, flags, inds = [], [], []
    rows = 0
    for lo, hi in sensor_batches(sensors, batch):
        counts = scan.filter(pl.col("sensor_id").is_between(pl.lit(lo), pl.lit(hi)))
        clean = flag_counts(counts, cfg, TZ).collect()   # materialised once, both totals read it
        rows += clean.height
        day = daily_totals(clean.lazy(), TZ).collect()
        hour = hourly_totals(clean.lazy(), TZ).collect()
        flags.append(clean.group_by("flag", "flag_reason").len())
        del clean
        # Every indicator here is per sensor (no groups): computed per batch, so the hourly totals of all
        # sensors (17.6 M rows at 500 sensors) are never held at once.
        inds.append(traffic_indicators(day.lazy(), cal, hourly=hour.lazy()))
        daily.append(day.select("sensor_id", "mode", "direction", "day", "count", "count_filled", "is_valid_day"))
        del hour
    ind = pl.concat(inds)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        pl.concat(daily).write_parquet(out / "daily.parquet")
        pl.concat(flags).group_by("flag", "flag_reason").agg(pl.col("len").sum()).write_parquet(out / "flags.parquet")
        ind.filter(pl.col("indicator").is_in(["tmja", "hpm", "hps", "hpm_hour", "hps_hour"])
                   & (pl.col("direction") != "all")) \
            .select("sensor_id", "mode", "direction", "indicator", "estimator", "value").write_parquet(out / "ind.parquet")
    return {"rows": rows, "indicator_rows": ind.height}


# --- engine B: DuckDB SQL -----------------------------------------------------------------------------

def _micro(x: str) -> str:
    """Integer micro-units, rounded half to even like polars' round() (sensors_io.impute.micro)."""
    return f"CAST(round_even(({x}) * 1000000.0, 0) AS BIGINT)"


def _exact_sum(x: str) -> str:
    """sensors_io.aggregate.exact_sum: null when no value."""
    return f"CASE WHEN count({x}) > 0 THEN CAST(sum({_micro(x)}) AS DOUBLE) / 1000000.0 END"


def _exact_mean(x: str) -> str:
    return f"(({_exact_sum(x)}) / count({x}))"


def clean_sql(lo: str, hi: str, parquet: Path, cfg) -> str:  # noqa: ANN001
    """The flags and the imputation of one batch of sensors, in DuckDB SQL (QualityConfig rules)."""
    q, imp = cfg, cfg.impute
    caps = " ".join(f"WHEN '{m}' THEN {c}" for m, c in q.caps_per_hour.items())
    season = " ".join(f"WHEN {m} THEN {i}" for i, ms in enumerate(imp.seasons.values()) for m in ms)
    s = "sensor_id, mode, direction"
    max_gap_slots = f"{imp.max_gap_hours} * 3600 / interval_s"
    trailing = "ORDER BY start_utc RANGE BETWEEN INTERVAL '{d} days' PRECEDING AND INTERVAL '1 microsecond' PRECEDING"
    zwin = f"PARTITION BY {s}, _daytype, _hour {trailing.format(d=q.zero_run_lookback_days)}"
    owin = f"PARTITION BY {s}, _wday, _hour, _minute {trailing.format(d=q.outlier_window_days)}"
    lwin = f"PARTITION BY {s} {trailing.format(d=imp.level_window_days)}"
    ocell = f"PARTITION BY {s}, _wday, _hour, _minute"
    return f"""
WITH src AS (
    SELECT site_id, sensor_id, mode, direction, start_utc, interval_s, count, false AS _gap
    FROM read_parquet('{parquet}') WHERE sensor_id BETWEEN '{lo}' AND '{hi}'
), nxt AS (
    SELECT *, lead(start_utc) OVER (PARTITION BY {s} ORDER BY start_utc) AS _next FROM src
), gaps AS (   -- absent slots of stretches up to max_gap_hours become rows (complete_grid)
    SELECT site_id, sensor_id, mode, direction, unnest(generate_series(start_utc + to_seconds(interval_s),
           _next - to_seconds(interval_s), to_seconds(interval_s))) AS start_utc, interval_s,
           CAST(NULL AS DOUBLE) AS count, true AS _gap
    FROM nxt
    WHERE _next > start_utc + to_seconds(interval_s)
      AND epoch(_next - start_utc) / interval_s - 1 <= {max_gap_slots}
), rows0 AS (
    SELECT * FROM src UNION ALL SELECT * FROM gaps
), cal AS (
    SELECT *, timezone('{TZ}', start_utc) AS _local FROM rows0
), cal2 AS (
    SELECT *, CAST(_local AS DATE) AS _date, hour(_local) AS _hour, minute(_local) AS _minute,
           month(_local) AS _month, isodow(_local) AS _dow,
           CAST(_local AS DATE) IN (SELECT d FROM holidays) AS _holiday
    FROM cal
), base AS (
    SELECT *,
           CASE WHEN _holiday OR _dow = 7 THEN 2 WHEN _dow = 6 THEN 1 ELSE 0 END AS _daytype,
           CASE WHEN _holiday THEN 7 ELSE _dow END AS _wday,
           sum(CASE WHEN count IS NOT DISTINCT FROM _prev THEN 0 ELSE 1 END)
               OVER (PARTITION BY {s} ORDER BY start_utc ROWS UNBOUNDED PRECEDING) AS _vrun
    FROM (SELECT *, lag(count) OVER (PARTITION BY {s} ORDER BY start_utc) AS _prev FROM cal2)
), hard AS (
    SELECT *,
           CASE WHEN count IS NULL THEN NULL
                WHEN count < 0 OR count > (CASE mode {caps} ELSE {q.caps_per_hour.get('other', 'inf')} END)
                     * (interval_s / 3600.0) THEN 'implausible'
                WHEN count >= {q.stuck_min_value} AND _run_len >= {q.stuck_min_run}
                     AND (_run_len - 1) * ln(least(1.0 / sqrt(4 * pi() * greatest(count, 1.0)), 1.0))
                         < ln({q.stuck_max_probability}) THEN 'stuck'
           END AS _hard
    FROM (SELECT *, count(*) OVER (PARTITION BY {s}, _vrun) AS _run_len FROM base)
), dst AS (   -- the repeated autumn hour equal to the first one
    SELECT h.sensor_id, h.mode, h.direction, h.start_utc, true AS _dst
    FROM hard h JOIN hard p
      ON p.sensor_id = h.sensor_id AND p.mode = h.mode AND p.direction = h.direction
     AND p.interval_s = h.interval_s AND p.start_utc = h.start_utc - INTERVAL 1 HOUR
    WHERE h._local = timezone('{TZ}', h.start_utc - INTERVAL 1 HOUR) AND h.count = p.count AND h.count > 0
), learn AS (
    SELECT h.* EXCLUDE (_prev), coalesce(d._dst, false) AND h._hard IS NULL AS _dst,
           CASE WHEN h.count IS NOT NULL AND h._hard IS NULL THEN h.count END AS _learn,
           coalesce(l.l1p, ln(1 + h.count)) AS _l1p
    FROM hard h LEFT JOIN dst d USING (sensor_id, mode, direction, start_utc)
    LEFT JOIN log1p l ON l.x = h.count
), mu AS (
    SELECT *,
           CASE WHEN count(_learn) OVER zw >= {q.zero_run_min_history}
                     THEN (CAST(sum({_micro('_learn')}) OVER zw AS DOUBLE) / count(_learn) OVER zw) / 1000000.0
                WHEN count(_learn) OVER (PARTITION BY {s}, _daytype, _hour) >= {q.zero_run_min_history}
                     THEN (CAST(sum({_micro('_learn')}) OVER (PARTITION BY {s}, _daytype, _hour) AS DOUBLE)
                           / 1000000.0) / count(_learn) OVER (PARTITION BY {s}, _daytype, _hour)
           END AS _mu,
           count = 0 AND _hard IS NULL AS _is_zero
    FROM learn WINDOW zw AS ({zwin})
), zrun AS (
    SELECT *, sum(CASE WHEN _is_zero IS NOT DISTINCT FROM _zprev THEN 0 ELSE 1 END)
                  OVER (PARTITION BY {s} ORDER BY start_utc ROWS UNBOUNDED PRECEDING) AS _zrun
    FROM (SELECT *, lag(_is_zero) OVER (PARTITION BY {s} ORDER BY start_utc) AS _zprev FROM mu)
), zero AS (
    SELECT * EXCLUDE (_zprev),
           coalesce(_is_zero, false)
           AND count(*) OVER zg >= {q.zero_run_min}
           AND count(_mu) OVER zg > 0
           AND coalesce(CAST(sum({_micro('_mu')}) OVER zg AS DOUBLE) / 1000000.0 > {q.zero_run_min_expected()!r}, false)
           AS _zero_run
    FROM zrun WINDOW zg AS (PARTITION BY {s}, _zrun)
), v AS (
    SELECT *, CASE WHEN NOT _zero_run AND count IS NOT NULL AND _hard IS NULL THEN _l1p END AS _v
    FROM zero
), quant AS (
    SELECT *,
           coalesce(CASE WHEN count(_v) OVER ow >= {q.outlier_min_history} THEN quantile_cont(_v, 0.25) OVER ow END,
                    CASE WHEN count(_v) OVER oc >= {q.outlier_min_history} THEN quantile_cont(_v, 0.25) OVER oc END) AS _q25,
           coalesce(CASE WHEN count(_v) OVER ow >= {q.outlier_min_history} THEN quantile_cont(_v, 0.5) OVER ow END,
                    CASE WHEN count(_v) OVER oc >= {q.outlier_min_history} THEN quantile_cont(_v, 0.5) OVER oc END) AS _q50,
           coalesce(CASE WHEN count(_v) OVER ow >= {q.outlier_min_history} THEN quantile_cont(_v, 0.75) OVER ow END,
                    CASE WHEN count(_v) OVER oc >= {q.outlier_min_history} THEN quantile_cont(_v, 0.75) OVER oc END) AS _q75
    FROM v WINDOW ow AS ({owin}), oc AS ({ocell})
), shift AS (
    SELECT *, _q50 + CASE WHEN count(_v - _q50) OVER dw >= {q.outlier_min_day_values}
                          THEN median(_v - _q50) OVER dw ELSE 0.0 END AS _expected
    FROM quant WINDOW dw AS (PARTITION BY {s}, _date)
), outl AS (
    SELECT *,
           coalesce(count IS NOT NULL AND _hard IS NULL AND NOT _zero_run
             AND abs((_l1p - _expected) / sqrt(pow(greatest((_q75 - _q25) / 1.349, {q.outlier_min_scale}), 2)
                 + pow(sqrt(greatest(exp(_expected) - 1, 0)) / (1 + greatest(exp(_expected) - 1, 0)), 2)))
                 > {q.outlier_z}
             AND abs(count - (exp(_expected) - 1)) >= {q.outlier_min_abs}, false) AS _outlier
    FROM shift
), flagged AS (
    SELECT *,
           CASE WHEN count IS NULL THEN (CASE WHEN _gap THEN 'gap' ELSE 'no_data' END)
                WHEN _hard IS NOT NULL THEN _hard WHEN _zero_run THEN 'zero_run'
                WHEN _dst THEN 'dst_duplicate' WHEN _outlier THEN 'outlier' END AS flag_reason,
           CASE WHEN count IS NULL THEN 'missing' WHEN _hard IS NOT NULL OR _zero_run THEN 'excluded'
                WHEN _dst OR _outlier THEN 'suspect' WHEN count = 0 THEN 'zero' ELSE 'observed' END AS flag
    FROM outl
), need AS (
    SELECT *, CASE WHEN flag IN ('observed', 'zero', 'suspect') THEN count END AS count_clean,
           CASE WHEN flag IN ('observed', 'zero') THEN count END AS _y,
           CASE _month {season} END AS _season
    FROM flagged
), nrun AS (
    SELECT *, sum(CASE WHEN (count_clean IS NULL) = _nprev THEN 0 ELSE 1 END)
                  OVER (PARTITION BY {s} ORDER BY start_utc ROWS UNBOUNDED PRECEDING) AS _nrun
    FROM (SELECT *, lag(count_clean IS NULL) OVER (PARTITION BY {s} ORDER BY start_utc) AS _nprev FROM need)
), profile AS (
    SELECT *,
           count_clean IS NULL
           AND epoch(max(start_utc + to_seconds(interval_s)) OVER (PARTITION BY {s}, _nrun)
                     - min(start_utc) OVER (PARTITION BY {s}, _nrun)) / 3600.0 <= {imp.max_gap_hours} AS _fillable,
           CASE WHEN count(_y) OVER ps >= {imp.profile_min_samples}
                     THEN (CAST(sum({_micro('_y')}) OVER ps AS DOUBLE) / 1000000.0) / count(_y) OVER ps
                WHEN count(_y) OVER pw >= {imp.profile_min_samples}
                     THEN (CAST(sum({_micro('_y')}) OVER pw AS DOUBLE) / 1000000.0) / count(_y) OVER pw END AS _profile
    FROM nrun WINDOW ps AS (PARTITION BY {s}, _season, _wday, _hour, _minute),
                     pw AS (PARTITION BY {s}, _wday, _hour, _minute)
), pairs AS (
    SELECT *, CASE WHEN _y IS NOT NULL AND _profile IS NOT NULL THEN {_micro('_y')} END AS _yb,
              CASE WHEN _y IS NOT NULL AND _profile IS NOT NULL THEN {_micro('_profile')} END AS _pb
    FROM profile
), level AS (
    SELECT *,
           CASE WHEN count(_pb) OVER lw >= {imp.level_min_samples} AND sum(_pb) OVER lw > 0
                     THEN CAST(sum(_yb) OVER lw AS DOUBLE) / CAST(sum(_pb) OVER lw AS DOUBLE)
                WHEN sum(_pb) OVER sw > 0 THEN CAST(sum(_yb) OVER sw AS DOUBLE) / CAST(sum(_pb) OVER sw AS DOUBLE)
                ELSE 1.0 END AS _level
    FROM pairs WINDOW lw AS ({lwin}), sw AS (PARTITION BY {s})
)
SELECT site_id, sensor_id, mode, direction, start_utc, interval_s, count,
       CASE WHEN _fillable AND _profile IS NOT NULL THEN 'imputed' ELSE flag END AS flag, flag_reason, count_clean,
       coalesce(count_clean, CASE WHEN _fillable THEN _profile * _level END) AS count_filled
FROM level
"""


def aggregate_sql() -> str:
    """Hourly and daily totals of table ``clean`` (sensors_io.aggregate rules), appended to ``hourly`` / ``daily``."""
    s = "sensor_id, mode, direction"
    measured = "count_clean IS NOT NULL"
    imputed = "count_clean IS NULL AND count_filled IS NOT NULL"
    return f"""
INSERT INTO hourly
SELECT {s}, h AS start_utc, CAST(timezone('{TZ}', h) AS DATE) AS day, hour(timezone('{TZ}', h)) AS hour,
       CASE WHEN _m_s >= 3600 THEN coalesce(_sum, 0.0) END AS count,
       CASE WHEN _m_s + _i_s >= 3600 THEN coalesce(_fsum, 0.0) END AS count_filled
FROM (SELECT {s}, date_trunc('hour', start_utc) AS h, {_exact_sum('count_clean')} AS _sum,
             {_exact_sum('count_filled')} AS _fsum,
             sum(CASE WHEN {measured} THEN interval_s ELSE 0 END) AS _m_s,
             sum(CASE WHEN {imputed} THEN interval_s ELSE 0 END) AS _i_s
      FROM clean GROUP BY ALL);
INSERT INTO daily
SELECT {s}, day, count, count_filled,
       (_m_s + _i_s) // 3600 >= epoch(timezone('{TZ}', CAST(day + 1 AS TIMESTAMP)) - timezone('{TZ}', CAST(day AS TIMESTAMP)))
                                // 3600 - 5 AS is_valid_day
FROM (SELECT {s}, CAST(timezone('{TZ}', start_utc) AS DATE) AS day, {_exact_sum('count_clean')} AS count,
             {_exact_sum('count_filled')} AS count_filled,
             sum(CASE WHEN {measured} THEN interval_s ELSE 0 END) AS _m_s,
             sum(CASE WHEN {imputed} THEN interval_s ELSE 0 END) AS _i_s
      FROM clean GROUP BY ALL);
"""


def indicators_sql() -> str:
    """TMJA (mean of valid days, complete months, AASHTO) and HPM / HPS of tables ``daily`` / ``hourly``."""
    s = "sensor_id, mode, direction"
    return f"""
CREATE TEMP TABLE full_days AS
SELECT d.sensor_id, d.mode, d.direction, c.day, year(c.day) AS y, month(c.day) AS m, isodow(c.day) AS dow,
       t.count_filled AS count, coalesce(t.is_valid_day, false) AS valid
FROM (SELECT DISTINCT {s} FROM daily) d CROSS JOIN calendar c
LEFT JOIN daily t ON t.sensor_id = d.sensor_id AND t.mode = d.mode AND t.direction = d.direction AND t.day = c.day;
CREATE TEMP TABLE ind AS
WITH a AS (
    SELECT {s}, 'tmja' AS indicator, 'mean_valid_days' AS estimator,
           {_exact_mean('CASE WHEN valid THEN count END')} AS value
    FROM full_days GROUP BY ALL
), months AS (
    SELECT {s}, y, bool_and(valid) AS complete,
           coalesce({_exact_sum('CASE WHEN valid THEN count END')}, 0.0) AS q, count(*) FILTER (valid) AS n
    FROM full_days GROUP BY {s}, y, m
), b AS (
    SELECT {s}, 'tmja', 'complete_months',
           CASE WHEN sum(n) FILTER (complete) > 0
                THEN coalesce({_exact_sum('CASE WHEN complete THEN q END')}, 0.0) / sum(n) FILTER (complete) END
    FROM months GROUP BY {s}, y
), cells AS (
    SELECT {s}, y, dow, m, {_exact_mean('CASE WHEN valid THEN count END')} AS cell
    FROM full_days GROUP BY {s}, y, dow, m
), dows AS (
    SELECT {s}, y, dow, {_exact_mean('cell')} AS dow_mean, count(cell) AS filled FROM cells GROUP BY ALL
), c AS (
    SELECT {s}, 'tmja', 'aashto', CASE WHEN sum(filled) = 84 THEN {_exact_mean('dow_mean')} END
    FROM dows GROUP BY {s}, y
), peak AS (
    SELECT {s}, year(h.day) AS y, h.hour, {_exact_mean('h.count_filled')} AS mean
    FROM hourly h JOIN calendar c ON c.day = h.day
    WHERE c.is_working_day AND (h.hour BETWEEN 7 AND 8 OR h.hour BETWEEN 17 AND 19)
    GROUP BY ALL
), hp AS (
    SELECT {s}, CASE WHEN hour < 12 THEN 'hpm' ELSE 'hps' END AS indicator, max(mean) AS value,
           min(hour) FILTER (mean = max_mean) AS at_hour
    FROM (SELECT *, max(mean) OVER (PARTITION BY {s}, y, hour < 12) AS max_mean FROM peak)
    GROUP BY ALL
)
SELECT * FROM a UNION ALL SELECT * FROM b UNION ALL SELECT * FROM c
UNION ALL SELECT {s}, indicator, NULL, value FROM hp
UNION ALL SELECT {s}, indicator || '_hour', NULL, at_hour FROM hp;
"""


def _run(con, sql: str) -> None:  # noqa: ANN001
    """Execute each statement of ``sql`` to completion."""
    for stmt in sql.split(";\n"):
        if stmt.strip():
            con.execute(stmt).fetchall()


def run_duckdb(parquet: Path, sensors: int, batch: int, out: Path | None) -> dict:
    """Engine B: the same work in DuckDB SQL, batch by batch."""
    import duckdb
    import numpy as np
    import polars as pl
    import pyarrow as pa

    from sensors_io.impute import holiday_dates

    cfg = quality_config()
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'").fetchall()
    con.execute("CREATE TEMP TABLE holidays (d DATE)").fetchall()
    con.executemany("INSERT INTO holidays VALUES (?)", [(d,) for d in holiday_dates("FR") if d.year in (YEAR - 1, YEAR, YEAR + 1)])
    con.execute(f"""CREATE TEMP TABLE calendar AS
        SELECT CAST(d AS DATE) AS day, isodow(d) <= 5 AND CAST(d AS DATE) NOT IN (SELECT d FROM holidays) AS is_working_day
        FROM generate_series(DATE '{YEAR}-01-01', DATE '{YEAR}-12-31', INTERVAL 1 DAY) t(d)""")
    con.execute("CREATE TEMP TABLE hourly (sensor_id VARCHAR, mode VARCHAR, direction VARCHAR, start_utc TIMESTAMPTZ,"
                " day DATE, hour BIGINT, count DOUBLE, count_filled DOUBLE)")
    con.execute("CREATE TEMP TABLE daily (sensor_id VARCHAR, mode VARCHAR, direction VARCHAR, day DATE, count DOUBLE,"
                " count_filled DOUBLE, is_valid_day BOOLEAN)")
    # DuckDB has no log1p and ln(1 + x) can differ from polars log1p in the last bit, which moves the rare count
    # exactly on the |count − μ| = 10 boundary: a table of log1p for whole counts (others use ln(1 + x)).
    con.execute("CREATE TEMP TABLE log1p (x DOUBLE, l1p DOUBLE)").fetchall()
    xs = np.arange(0, 100_001, dtype=np.float64)
    con.register("_log1p", pa.table({"x": xs, "l1p": pl.Series(xs).log1p().to_numpy()}))  # polars log1p
    con.execute("INSERT INTO log1p SELECT * FROM _log1p").fetchall()
    con.execute("CREATE TEMP TABLE flags (flag VARCHAR, flag_reason VARCHAR, len BIGINT)").fetchall()
    rows = 0
    for lo, hi in sensor_batches(sensors, batch):
        _run(con, f"CREATE OR REPLACE TEMP TABLE clean AS {clean_sql(lo, hi, parquet, cfg)}")
        rows += con.execute("SELECT count(*) FROM clean").fetchall()[0][0]
        _run(con, aggregate_sql())
        _run(con, "INSERT INTO flags SELECT flag, flag_reason, count(*) FROM clean GROUP BY ALL")
    _run(con, "DROP TABLE clean")
    _run(con, indicators_sql())
    n_ind = con.execute("SELECT count(*) FROM ind").fetchall()[0][0]
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        con.sql("SELECT sensor_id, mode, direction, day, count, count_filled, is_valid_day FROM daily") \
            .pl().write_parquet(out / "daily.parquet")
        con.sql("SELECT flag, flag_reason, sum(len) AS len FROM flags GROUP BY ALL").pl() \
            .with_columns(pl.col("len").cast(pl.UInt32)).write_parquet(out / "flags.parquet")
        con.sql("SELECT * FROM ind").pl().write_parquet(out / "ind.parquet")
    return {"rows": rows, "indicator_rows": n_ind}


# --- agreement -----------------------------------------------------------------------------------------

def agreement(a: Path, b: Path) -> list[str]:
    """Compare the outputs the two engines wrote; one line per check."""
    import polars as pl

    lines = []
    key = ["sensor_id", "mode", "direction", "day"]
    da, db = pl.read_parquet(a / "daily.parquet"), pl.read_parquet(b / "daily.parquet")
    j = da.join(db, on=key, how="full", suffix="_b", coalesce=True)
    for col in ("count", "count_filled"):
        diff = (pl.col(col) - pl.col(f"{col}_b")).abs()
        both_null = pl.col(col).is_null() & pl.col(f"{col}_b").is_null()
        bad = j.filter(~(both_null | (diff <= TOL * pl.max_horizontal(1.0, pl.col(col).abs()))).fill_null(False))
        lines.append(f"daily {col}: {j.height - bad.height:,} / {j.height:,} series-days agree within {TOL:g} "
                     f"({da.height:,} rows in A, {db.height:,} in B)")
    valid = j.filter(pl.col("is_valid_day").ne_missing(pl.col("is_valid_day_b"))).height
    lines.append(f"daily is_valid_day: {j.height - valid:,} / {j.height:,} equal")
    fa, fb = pl.read_parquet(a / "flags.parquet"), pl.read_parquet(b / "flags.parquet")
    f = fa.join(fb, on=["flag", "flag_reason"], how="full", coalesce=True, nulls_equal=True, suffix="_b").sort(
        "flag", "flag_reason", nulls_last=True)
    same = f.filter(pl.col("len").ne_missing(pl.col("len_b"))).height == 0
    lines.append("rows per (flag, reason): " + ("equal" if same else "DIFFER") + " — " + ", ".join(
        f"{r['flag']}/{r['flag_reason'] or '-'} {r['len'] or 0:,}" + ("" if r["len"] == r["len_b"] else f" (B {r['len_b'] or 0:,})")
        for r in f.iter_rows(named=True)))
    ia, ib = pl.read_parquet(a / "ind.parquet"), pl.read_parquet(b / "ind.parquet")
    k = ["sensor_id", "mode", "direction", "indicator", "estimator"]
    ji = ib.join(ia, on=k, how="left", nulls_equal=True, suffix="_a")
    for name, rows in ji.group_by(pl.concat_str("indicator", pl.lit(" "), pl.col("estimator").fill_null(""))
                                  .str.strip_chars().alias("i"), maintain_order=True):
        ok = rows.filter((pl.col("value").is_null() & pl.col("value_a").is_null())
                         | ((pl.col("value") - pl.col("value_a")).abs()
                            <= TOL * pl.max_horizontal(1.0, pl.col("value").abs())).fill_null(False)).height
        nulls = rows.filter(pl.col("value").is_null()).height
        lines.append(f"{name[0]}: {ok} / {rows.height} series agree within {TOL:g} ({nulls} null in both engines' rule)")
    return lines


# --- driver ---------------------------------------------------------------------------------------------

def run_engine(engine: str, parquet: Path, sensors: int, batch: int, out: Path | None) -> dict:
    """One timed run in this process (called in a child process)."""
    t0 = time.perf_counter()
    if engine == "mobility":
        extra = run_mobility(parquet, sensors, batch, out)
    elif engine == "mobility-neighbours":
        extra = run_mobility(parquet, sensors, batch, None, neighbours=True)
    elif engine == "duckdb":
        extra = run_duckdb(parquet, sensors, batch, out)
    else:
        raise SystemExit(f"unknown engine {engine}")
    return {"engine": engine, "seconds": time.perf_counter() - t0, "rss_mb": _rss_mb(), **extra}


def _child(engine: str, parquet: Path, sensors: int, batch: int, out: Path | None) -> dict:
    cmd = [sys.executable, __file__, "--child", engine, str(parquet), str(sensors), str(batch), str(out or "")]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sensors", type=int, default=500, help="500 sensors × 4 modes × 2024 ≈ 70 M rows (50: 7 M)")
    ap.add_argument("--repeat", type=int, default=2, help="alternated runs per engine (A B A B …)")
    ap.add_argument("--batch", type=int, default=25, help="sensors per batch (A); B uses --duckdb-batch")
    ap.add_argument("--duckdb-batch", type=int, default=None, help="sensors per batch of B (default: --batch)")
    ap.add_argument("--engines", default="mobility,duckdb", help="comma-separated: mobility, duckdb")
    ap.add_argument("--neighbours", action="store_true", help="also run A with neighbour imputation (defaults)")
    ap.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "mobility-bench")
    ap.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        engine, parquet, sensors, batch, out = args.child
        print(json.dumps(run_engine(engine, Path(parquet), int(sensors), int(batch), Path(out) if out else None)))
        return

    import polars as pl

    args.data.mkdir(parents=True, exist_ok=True)
    parquet = args.data / f"counts_{args.sensors}s.parquet"
    if not parquet.exists():
        print(f"generating {parquet} …", flush=True)
        generate(parquet, args.sensors)
    rows = pl.scan_parquet(parquet).select(pl.len()).collect().item()
    batches = {"mobility": args.batch, "duckdb": args.duckdb_batch or args.batch}
    engines = args.engines.split(",")
    runs: dict[str, list[dict]] = {e: [] for e in engines}
    outs = {e: args.data / f"out_{e}_{args.sensors}s" for e in engines}
    for i in range(args.repeat):
        for e in engines:
            r = _child(e, parquet, args.sensors, batches[e], outs[e] if i == 0 else None)
            runs[e].append(r)
            print(f"  run {i + 1} {e:9s} {r['seconds']:7.1f} s  {r['rss_mb']:6.0f} MB", flush=True)
    if args.neighbours:
        e = "mobility-neighbours"
        runs[e] = [_child(e, parquet, args.sensors, args.batch, None)]
        print(f"  run 1 {e} {runs[e][0]['seconds']:7.1f} s  {runs[e][0]['rss_mb']:6.0f} MB", flush=True)

    print(f"\n{rows:,} input rows ({args.sensors} sensors × 4 modes × {YEAR}, 15 min); "
          f"medians of {args.repeat} alternated runs, batches of {batches['mobility']} (A) / {batches['duckdb']} (B) sensors")
    print("| engine | wall (s) | rows/s | peak RSS (MB) | wall vs DuckDB |")
    print("|---|---|---|---|---|")
    base = statistics.median(r["seconds"] for r in runs["duckdb"]) if "duckdb" in runs else math.nan
    for e, rs in runs.items():
        secs = statistics.median(r["seconds"] for r in rs)
        rss = max(r["rss_mb"] for r in rs)
        print(f"| {e} | {secs:.1f} | {rows / secs / 1e6:.2f} M | {rss:,.0f} | {secs / base:.2f}× |")
    if engines != ["mobility", "duckdb"]:
        return
    print("\nagreement (A vs B):")
    for line in agreement(outs["mobility"], outs["duckdb"]):
        print("  " + line)
    a_secs = statistics.median(r["seconds"] for r in runs["mobility"])
    a_rss = max(r["rss_mb"] for r in runs["mobility"])
    print(f"\ngoal A ≤ B: {'met' if a_secs <= base else 'NOT met'} ({a_secs:.1f} s vs {base:.1f} s); "
          f"goal A peak < {TARGET_RSS_MB} MB: {'met' if a_rss < TARGET_RSS_MB else 'NOT met'} ({a_rss:,.0f} MB)")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
