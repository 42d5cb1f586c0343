"""Held-out evaluation of the baseline forecast on the real public hourly series in ``../shared/data``.

For each dataset and cutoff: read the files with the project's readers (``sensors_io.detect.discover``),
flag them (``sensors_io.quality.flag_counts``), total them per hour (``sensors_io.aggregate.hourly_totals``),
fit :func:`scenarios.forecast.fit_baseline` on the hours up to the cutoff, forecast the next 7 days and
compare with what was observed:

- ``mase`` = MAE(forecast) / MAE(weekly seasonal-naive issued at the same cutoff: the last observed
  value at the same local hour of week) on the observed hours of that week, per series, then averaged;
- ``cov80`` / ``cov95`` = share of those hours inside the 80 % / 95 % band (all series pooled).

A series enters the table when it has at least 24 observed hours in the held-out week and seasonal-naive
errs by at least :data:`MIN_NAIVE_MAE` per hour on them (else the series is empty that week). Run ``python -m scenarios.evaluation`` for the Markdown table
(``--dev`` for the development cutoffs :data:`DEV_DATASETS` the methods were chosen on).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import polars as pl

from scenarios.forecast import SERIES_KEY, fit_baseline
from sensors_io.aggregate import exact_mean, exact_sum, hourly_totals
from sensors_io.detect import discover
from sensors_io.quality import QualityConfig, flag_counts

HORIZON_H = 168
#: Series whose seasonal-naive error is below half a count per hour are (nearly) empty that week: a
#: ratio of two near-zero errors says nothing (a Telraam S2 "heavy" channel reads 0 all July 2026).
MIN_NAIVE_MAE = 0.5


@dataclass(frozen=True)
class Dataset:
    """A real hourly dataset, the calendar it lives in and the cutoffs it is evaluated at."""

    name: str
    folder: str
    tz: str
    country: str
    subdiv: str | None
    zone: str
    cutoffs: tuple[dt.date, ...]
    #: per-mode hourly caps replacing the street defaults (a 4-lane interstate carries > 3,500 veh/h)
    caps: tuple[tuple[str, float], ...] = ()


D = dt.date
DATASETS: tuple[Dataset, ...] = (
    # I-94 westbound: ordinary weeks and weeks holding a US holiday (4 July, Thanksgiving), 2013–2018.
    Dataset("uci_i94", "uci_metro_interstate", "America/Chicago", "US", "MN", "B",
            (D(2013, 5, 10), D(2014, 3, 14), D(2016, 6, 30), D(2017, 3, 10), D(2017, 11, 19), D(2018, 6, 8)),
            caps=(("all_vehicles", 9000.0),)),
    Dataset("telraam_karlsruhe", "telraam_karlsruhe", "Europe/Berlin", "DE", "BW", "B",
            (D(2026, 5, 1), D(2026, 7, 1))),
    Dataset("paris_loops", "paris_comptages_routiers", "Europe/Paris", "FR", None, "C",
            (D(2024, 3, 1), D(2024, 10, 1))),
)

#: Development cutoffs: every method and hyper-parameter choice of the forecast (candidates, ensemble,
#: number of backtest origins, interval calibration) was made on these weeks, never on :data:`DATASETS`'
#: held-out weeks, which were scored once at the end. No dev week overlaps an evaluation week.
#: ``python -m scenarios.evaluation --dev`` prints their table.
DEV_DATASETS: tuple[Dataset, ...] = (
    # I-94: ordinary weeks and weeks holding MLK day, Memorial Day, Labor Day, Thanksgiving, Christmas, 4 July
    Dataset("uci_i94", "uci_metro_interstate", "America/Chicago", "US", "MN", "B",
            (D(2012, 12, 14), D(2013, 1, 18), D(2013, 8, 29), D(2014, 1, 10), D(2014, 5, 22), D(2015, 9, 3),
             D(2016, 9, 1), D(2016, 11, 20), D(2016, 12, 20), D(2017, 5, 25), D(2017, 6, 30), D(2017, 9, 15),
             D(2018, 2, 9), D(2018, 8, 31)),
            caps=(("all_vehicles", 9000.0),)),
    Dataset("telraam_karlsruhe", "telraam_karlsruhe", "Europe/Berlin", "DE", "BW", "B",
            (D(2026, 3, 13), D(2026, 4, 10), D(2026, 6, 5), D(2026, 7, 24), D(2026, 8, 7))),
    Dataset("paris_loops", "paris_comptages_routiers", "Europe/Paris", "FR", None, "C",
            (D(2023, 12, 15), D(2024, 1, 19), D(2024, 4, 26), D(2024, 6, 7), D(2024, 7, 12), D(2024, 9, 6),
             D(2024, 11, 8))),
)


@lru_cache(maxsize=8)
def load_hourly(data_dir: Path, ds: Dataset) -> pl.DataFrame:
    """Hourly totals of one dataset read with the project's readers, quality flags and aggregation."""
    sources = discover([data_dir / ds.folder], tz=ds.tz)
    counts = pl.concat([s.read().accepted for s in sources], how="diagonal_relaxed")
    cfg = QualityConfig()
    if ds.caps:
        cfg = QualityConfig(caps_per_hour={**cfg.caps_per_hour, **dict(ds.caps)})
    clean = flag_counts(counts.lazy(), cfg, tz=ds.tz)
    return hourly_totals(clean, tz=ds.tz).collect().sort([*SERIES_KEY, "start_utc"])


def _weekly_naive(hist: pl.DataFrame, tz: str) -> pl.DataFrame:
    """Last observed count at each local hour of week per series (the reference forecast)."""
    local = pl.col("start_utc").dt.convert_time_zone(tz)
    how = (local.dt.weekday().cast(pl.Int32) - 1) * 24 + local.dt.hour().cast(pl.Int32)
    return (hist.filter(pl.col("count").is_not_null()).sort([*SERIES_KEY, "start_utc"])
            .with_columns(how=how).group_by([*SERIES_KEY, "how"]).agg(naive=pl.col("count").last()))


def evaluate_cutoff(hourly: pl.DataFrame, ds: Dataset, cutoff: dt.date, **options) -> tuple[dict, pl.DataFrame]:
    """Fit up to the end of local day ``cutoff``, forecast 7 days, score. Returns (summary row, per series)."""
    from scenarios.forecast import local_cutoff_utc  # noqa: PLC0415

    cut = local_cutoff_utc(cutoff, ds.tz)
    start, end = cut + dt.timedelta(hours=1), cut + dt.timedelta(hours=1 + HORIZON_H)
    hist = hourly.filter(pl.col("start_utc") <= cut)
    t0 = time.perf_counter()
    model = fit_baseline(hist, tz=ds.tz, zone=ds.zone, country=ds.country, subdiv=ds.subdiv, **options)
    f = model.predict(start, end)
    seconds = time.perf_counter() - t0
    local = pl.col("start_utc").dt.convert_time_zone(ds.tz)
    truth = (hourly.filter(pl.col("start_utc").is_between(start, end, closed="left") & pl.col("count").is_not_null())
             .select(*SERIES_KEY, "start_utc", "count")
             .with_columns(how=(local.dt.weekday().cast(pl.Int32) - 1) * 24 + local.dt.hour().cast(pl.Int32)))
    j = (truth.join(f, on=[*SERIES_KEY, "start_utc"], how="inner")
         .join(_weekly_naive(hist, ds.tz), on=[*SERIES_KEY, "how"], how="inner")
         .sort([*SERIES_KEY, "start_utc"]))
    per = (
        j.group_by(SERIES_KEY)
        .agg(
            mae=exact_mean((pl.col("count") - pl.col("yhat")).abs()),
            mae_naive=exact_mean((pl.col("count") - pl.col("naive")).abs()),
            in80=exact_sum(pl.col("count").is_between(pl.col("yhat_lower"), pl.col("yhat_upper")).cast(pl.Float64)),
            in95=exact_sum(pl.col("count").is_between(pl.col("yhat_lower_95"), pl.col("yhat_upper_95")).cast(pl.Float64)),
            n=pl.len(),
            model=pl.col("model").mode().sort().first(),
        )
        .filter((pl.col("n") >= 24) & (pl.col("mae_naive") >= MIN_NAIVE_MAE))
        .with_columns(mase=pl.col("mae") / pl.col("mae_naive"), dataset=pl.lit(ds.name), cutoff=pl.lit(cutoff))
        .sort(SERIES_KEY)
    )
    n = per["n"].sum()
    row = {
        "dataset": ds.name, "cutoff": cutoff, "series": per.height,
        "mase": per["mase"].mean(), "cov80": per["in80"].sum() / n if n else None,
        "cov95": per["in95"].sum() / n if n else None, "hours": int(n),
        "models": ", ".join(f"{m} {c}" for m, c in sorted(per["model"].value_counts().rows(), key=lambda r: (-r[1], r[0]))),
        "seconds": seconds,
    }
    return row, per


def _evaluate_task(data_dir: Path, ds: Dataset, cutoff: dt.date, options: dict) -> tuple[dict, pl.DataFrame]:
    return evaluate_cutoff(load_hourly(Path(data_dir), ds), ds, cutoff, **options)


def evaluation_table(data_dir: Path, datasets: tuple[Dataset, ...] = DATASETS, *, workers: int = 1,
                     **options) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Held-out scores for every dataset and cutoff (``options`` go to ``fit_baseline``).
    Returns (table, per-series rows).

    ``workers`` > 1 evaluates cutoffs in that many processes (each fit stays single-threaded and seeded,
    so the table is the same; on 2 cores it takes about half the time)."""
    tasks = [(ds, c) for ds in datasets for c in ds.cutoffs]
    if workers > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # spawn, not fork: a forked Polars process can deadlock on its thread pool's locks
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            results = list(pool.map(_evaluate_task, *zip(*[(Path(data_dir), ds, c, options) for ds, c in tasks],
                                                        strict=True)))
    else:
        results = [_evaluate_task(Path(data_dir), ds, c, options) for ds, c in tasks]
    return pl.DataFrame([r[0] for r in results]), pl.concat([r[1] for r in results], how="diagonal_relaxed")


def overall(table: pl.DataFrame, per: pl.DataFrame) -> dict[str, float]:
    """Mean MASE over every (series, cutoff) and pooled coverages over every held-out hour."""
    n = per["n"].sum()
    return {"mase": float(per["mase"].mean()), "cov80": float(per["in80"].sum() / n),
            "cov95": float(per["in95"].sum() / n), "series_cutoffs": per.height,
            "mase_of_table_rows": float(table["mase"].mean())}


def to_markdown(table: pl.DataFrame, per: pl.DataFrame) -> str:
    """The table as Markdown, with the overall line."""
    lines = ["| dataset | cutoff | series | MASE | cov80 | cov95 | models shipped (series) |",
             "|---|---|---|---|---|---|---|"]
    for r in table.iter_rows(named=True):
        lines.append(f"| {r['dataset']} | {r['cutoff']} | {r['series']} | {r['mase']:.3f} | {r['cov80']:.3f} "
                     f"| {r['cov95']:.3f} | {r['models']} |")
    o = overall(table, per)
    lines.append(f"| **all** | | {o['series_cutoffs']} | **{o['mase']:.3f}** | **{o['cov80']:.3f}** "
                 f"| **{o['cov95']:.3f}** | |")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    import os
    import sys

    root = Path(os.environ.get("MOBILITY_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    t = time.perf_counter()
    tab, rows = evaluation_table(root, DEV_DATASETS if "--dev" in sys.argv[1:] else DATASETS, workers=2)
    print(to_markdown(tab, rows))
    print(f"\n{time.perf_counter() - t:.0f} s", file=sys.stderr)
