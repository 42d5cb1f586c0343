"""Benchmark: fit + 7-day forecast of N synthetic hourly series with one year of history.

    .venv/bin/python benchmarks/forecast.py [--sizes 50 200 500] [--threads 1]

Prints, per size, the wall time of ``fit_baseline`` + ``predict`` (168 h), each model's fit time per
series (summed over the 8 backtest origins and the final fit), and how the total grows from the smallest
size to the largest. The target (issue #4) is 500 series in under 5 minutes on 2 cores. The default
candidates (``DEFAULT_MODELS``) are timed; ``--stat`` adds the opt-in ``mstl_ets``, which runs only up to
``stat_max_series`` series (default 100): above that its line says "skipped".

Series: daily and weekly profiles per mode (commuter car, bike, leisure pedestrian, heavy), public-
holiday dips, a summer surge, day-to-day weather shared by all, per-series level, Poisson noise and a
few gaps (nulls). Generated here with a fixed seed; no file is read.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scenarios.calendars import calendar_frame  # noqa: E402
from scenarios.forecast import DEFAULT_MODELS, MODEL_MSTL, fit_baseline  # noqa: E402

TZ = "Europe/Paris"
MODES = ("car", "bike", "pedestrian", "heavy")


def _shape(mode: str, hour: np.ndarray, off: np.ndarray) -> np.ndarray:
    g = lambda mu, sd: np.exp(-0.5 * ((hour - mu) / sd) ** 2)  # noqa: E731
    if mode in ("car", "heavy"):
        return np.where(off, 0.05 + 0.5 * g(14, 3.5), 0.06 + g(8, 1.1) + 0.8 * g(17.5, 1.4) + 0.4 * g(13, 2.5))
    if mode == "bike":
        return np.where(off, 0.03 + 0.6 * g(15, 3), 0.03 + g(8, 1) + g(17.5, 1.2))
    return np.where(off, 0.05 + 1.4 * g(15, 3.5), 0.05 + g(13, 3.5))


def synthetic_hourly(n_series: int, days: int = 365, seed: int = 7) -> pl.DataFrame:
    """``n_series`` hourly series ending on 2025-10-31, in the shape of the lake's hourly totals."""
    rng = np.random.default_rng(seed)
    end = dt.datetime(2025, 11, 1, tzinfo=dt.UTC)
    times = pl.datetime_range(end - dt.timedelta(days=days), end, "1h", closed="left", time_unit="us",
                              time_zone="UTC", eager=True)
    grid = pl.DataFrame({"start_utc": times}).with_columns(local=pl.col("start_utc").dt.convert_time_zone(TZ))
    grid = grid.with_columns(day=pl.col("local").dt.date(), hour=pl.col("local").dt.hour(), dow=pl.col("local").dt.weekday(),
                             month=pl.col("local").dt.month())
    cal = calendar_frame(grid["day"].min(), grid["day"].max()).select("date", "is_public_holiday")
    grid = grid.join(cal, left_on="day", right_on="date", how="left").sort("start_utc")
    hour = grid["hour"].to_numpy().astype(float)
    off = (grid["dow"].to_numpy() >= 6) | grid["is_public_holiday"].to_numpy()
    summer = np.isin(grid["month"].to_numpy(), (7, 8))
    day_idx = (grid["day"] - grid["day"].min()).dt.total_days().to_numpy()
    weather = np.exp(rng.normal(0, 0.08, day_idx.max() + 1))[day_idx]
    frames = []
    for i in range(n_series):
        mode = MODES[i % len(MODES)]
        peak = float(rng.lognormal(np.log({"car": 400, "bike": 40, "pedestrian": 150, "heavy": 30}[mode]), 0.5))
        surge = 1.0 + (0.3 if mode == "pedestrian" else 0.1) * summer
        lam = peak * _shape(mode, hour, off) * weather * surge * np.exp(rng.normal(0, 0.05, day_idx.max() + 1))[day_idx]
        y = rng.poisson(lam).astype(float)
        y[rng.random(y.size) < 0.01] = np.nan  # scattered missing hours
        frames.append(pl.DataFrame({
            "site_id": f"S{i:04d}", "sensor_id": f"X{i:04d}", "mode": mode, "direction": "both",
            "start_utc": times, "count": pl.Series(y).fill_nan(None), "valid_share": 1.0,
        }))
    return pl.concat(frames)


def run(n: int, threads: int, stat: bool = False) -> dict:
    hourly = synthetic_hourly(n)
    t0 = time.perf_counter()
    models = DEFAULT_MODELS + ((MODEL_MSTL,) if stat else ())
    model = fit_baseline(hourly, tz=TZ, n_threads=threads, models=models)
    start = model.cutoff_utc + dt.timedelta(hours=1)
    f = model.predict(start, start + dt.timedelta(hours=168))
    total = time.perf_counter() - t0
    assert f.height == n * 168
    chosen = model.scores.filter(pl.col("chosen"))
    return {"n": n, "total": total, "timings": model.timings,
            "mase": float(chosen["mase"].mean()), "cov80": float(chosen["coverage80"].mean()),
            "models": dict(sorted(chosen["model"].value_counts().iter_rows()))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[50, 200, 500])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--stat", action="store_true", help="also fit the opt-in mstl_ets")
    args = ap.parse_args()
    results = []
    for n in args.sizes:
        r = run(n, args.threads, args.stat)
        results.append(r)
        t = r["timings"]
        print(f"\n{n} series: fit + forecast {r['total']:.1f} s ({r['total'] / n:.3f} s/series); "
              f"backtest MASE of the shipped models {r['mase']:.3f}, coverage80 {r['cov80']:.3f}; shipped {r['models']}")
        for k in ("fit:hgb_poisson", "fit:hgb_lag", "fit:mstl_ets", "fit:state"):
            v = t.get(k)
            if k == "fit:mstl_ets" and not args.stat:
                continue
            print(f"  {k[4:]:<14} " + (f"{v / n:.4f} s/series ({v:.1f} s)" if v is not None
                                        else "skipped (more series than stat_max_series)"))
        other = r["total"] - sum(v for k, v in t.items() if k.startswith("fit:"))
        print(f"  {'everything else':<14} {other / n:.4f} s/series ({other:.1f} s: features, backtest predictions, scoring)")
    if len(results) > 1:
        a, b = results[0], results[-1]
        print(f"\ngrowth {a['n']} -> {b['n']} series ({b['n'] / a['n']:.0f}x): total {a['total']:.1f} s -> {b['total']:.1f} s "
              f"({b['total'] / a['total']:.1f}x)")


if __name__ == "__main__":
    main()
