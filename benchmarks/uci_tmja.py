"""TMJA per year of the UCI I-94 series (ATR 301, westbound) by each estimator, with coverage and flags.

Run: ``.venv/bin/python benchmarks/uci_tmja.py [DATA_DIR]`` (default ``../shared/data/uci_metro_interstate``);
prints a Markdown table for the README. The path is the pipeline's: readers (``sensors_io.detect``),
``flag_counts``, ``daily_totals``, ``traffic_indicators``, in the series' own time zone (America/Chicago).

The cleaning uses the default quality settings (the motor caps allow a motorway carriageway: this
interstate carries up to 7,280 veh/h). One choice is said under the table:
- imputed values, if the cleaning step adds them, are left out (measured values only), so every figure
  can be checked against the raw CSV (tests/sensors_io/test_indicators.py does it for 2017).
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import polars as pl

from scenarios.calendars import calendar_frame
from sensors_io.aggregate import daily_totals
from sensors_io.detect import discover
from sensors_io.indicators import TMJA_ESTIMATORS, IndicatorConfig, traffic_indicators
from sensors_io.quality import QualityConfig, flag_counts

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "uci_metro_interstate"
TZ = "America/Chicago"
#: Highest plausible hourly volume on I-94 here (four lanes westbound; the file peaks at 7,280 veh/h).
IMPUTATION_COLUMNS = ("count_filled", "impute_method")


def uci_daily(data_dir: Path = DEFAULT_DIR) -> pl.LazyFrame:
    """Daily totals of the UCI file through the pipeline's readers and quality flags (measured values only)."""
    sources = discover([data_dir])
    if len(sources) != 1:
        raise ValueError(f"{data_dir}: expected one UCI source, found {len(sources)}")
    counts = sources[0].read().accepted
    clean = flag_counts(counts.lazy(), QualityConfig(), tz=TZ)
    drop = [c for c in IMPUTATION_COLUMNS if c in clean.collect_schema().names()]
    return daily_totals(clean.drop(drop), TZ)


def uci_indicators(data_dir: Path = DEFAULT_DIR, config: IndicatorConfig | None = None) -> pl.DataFrame:
    """Indicator rows of the UCI series (direction ``W``, the only one)."""
    daily = uci_daily(data_dir).collect()
    first, last = daily["day"].min(), daily["day"].max()
    calendar = calendar_frame(dt.date(first.year, 1, 1), dt.date(last.year, 12, 31))
    return traffic_indicators(daily.lazy(), calendar, config=config).filter(pl.col("direction") == "W")


def tmja_table(ind: pl.DataFrame, daily: pl.DataFrame) -> pl.DataFrame:
    """One row per year: days with a measured value, valid days, TMJA and coverage per estimator, spread, longest gap,
    and the flagged checks (comma-separated, empty when none)."""
    days = (daily.group_by(pl.col("day").dt.year().cast(pl.String).alias("period"))
            .agg(pl.col("count").is_not_null().sum().alias("days_with_data"),
                 pl.col("is_valid_day").sum().alias("valid_days")))

    def pick(indicator: str, estimator: str | None, prefix: str) -> pl.DataFrame:
        sel = ind.filter(pl.col("indicator") == indicator)
        sel = sel.filter(pl.col("estimator") == estimator) if estimator else sel
        return sel.select("period", pl.col("value").alias(prefix), pl.col("coverage").alias(f"{prefix}_coverage"))

    table = days
    for est in TMJA_ESTIMATORS:
        table = table.join(pick("tmja", est, est), on="period", how="left")
    table = table.join(pick("tmja_spread", None, "spread").drop("spread_coverage"), on="period", how="left")
    table = table.join(pick("longest_gap", None, "longest_gap").drop("longest_gap_coverage"), on="period", how="left")
    flags = (ind.filter((pl.col("indicator") == "tmja_flag") & (pl.col("value") == 1.0))
             .group_by("period").agg(pl.col("estimator").sort().str.join(", ").alias("flags")))
    return (table.join(flags, on="period", how="left").with_columns(pl.col("flags").fill_null(""))
            .sort("period"))


def _num(v: float | None, digits: int = 0) -> str:
    return "—" if v is None else f"{v:,.{digits}f}"


def markdown(table: pl.DataFrame, config: IndicatorConfig | None = None) -> str:
    """The table in Markdown, with what the flags mean."""
    cfg = config or IndicatorConfig()
    head = ("| year | days with data | valid days | A: mean of valid days (coverage) | B: complete months (coverage) "
            "| C: AASHTO 84 cells (coverage) | spread | longest gap (days) | flags |")
    lines = [head, "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in table.iter_rows(named=True):
        cells = [r["period"], str(r["days_with_data"]), str(r["valid_days"])]
        for est in TMJA_ESTIMATORS:
            cells.append(f"{_num(r[est])} ({r[f'{est}_coverage']:.0%})")
        cells += ["—" if r["spread"] is None else f"{r['spread']:.1%}", _num(r["longest_gap"]), r["flags"] or "—"]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        f"veh/day, westbound. Flags: `low_coverage` = A's coverage below {cfg.min_coverage:.0%}; `long_gap` = "
        f"{cfg.long_gap_days} or more consecutive days without a valid day; `disagreement` = spread above "
        f"{cfg.max_spread:.0%}. The values are kept and flagged, never silently averaged. Default quality "
        f"settings; measured values only.",
    ]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    data_dir = Path(argv[1]) if len(argv) > 1 else DEFAULT_DIR
    if not data_dir.is_dir():
        print(f"UCI data folder not found: {data_dir} (pass it as the first argument)", file=sys.stderr)
        return 2
    daily = uci_daily(data_dir).collect()
    print(markdown(tmja_table(uci_indicators(data_dir), daily)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
