"""Aggregate: hourly and daily totals, then the French indicators (TMJA, TMJM, TMJO, weekend)."""


import datetime as dt

import dagster as dg
import polars as pl

from assets.quality import clean_counts
from pipelines.resources import LakeResource
from scenarios.calendars import calendar_frame
from sensors_io.aggregate import daily_totals, hourly_totals
from sensors_io.indicators import traffic_indicators as compute_indicators
from sensors_io.relative import relative_traffic as compute_relative

_kwargs = dict(deps=[clean_counts], io_manager_key="lake_io", group_name="aggregate", kinds={"polars", "parquet"})


def _clean(lake: LakeResource) -> pl.LazyFrame:
    # Whole history by glob rather than an AllPartitionMapping input: that one resolves every
    # partition key (38 s for 700 keys, DAGSTER-NOTES §8).
    return pl.scan_parquet(lake.dataset("clean_counts") / "*.parquet")


@dg.asset(**_kwargs)
def hourly_counts(lake: LakeResource) -> pl.DataFrame:
    """Hourly totals per series (`lake/hourly/hourly.parquet`); `count` is null unless the whole hour is valid."""
    return hourly_totals(_clean(lake), lake.tz).collect()


@dg.asset(**_kwargs)
def daily_counts(lake: LakeResource) -> pl.DataFrame:
    """Local-day totals per series (`lake/daily/daily.parquet`) with valid hours and the valid-day rule (≥ 19 of 24 h)."""
    return daily_totals(_clean(lake), lake.tz).collect()


@dg.asset(deps=[daily_counts, hourly_counts], io_manager_key="lake_io", group_name="aggregate",
          kinds={"polars", "parquet"})
def traffic_indicators(context: dg.AssetExecutionContext, lake: LakeResource) -> pl.DataFrame:
    """The French indicators per series, per sensor (direction ``all``) and year/month (`lake/indicators/`):
    TMJA by three estimators with their spread and flags, TMJM, TMJO, weekend, HPM/HPS and their hours,
    q30/K30, UVP, %PL, seasonality indices (docs/indicators.md).

    Every value carries its coverage (valid days / days in the period) and imputed share.
    """
    daily = pl.scan_parquet(lake.dataset("daily") / "*.parquet")
    hourly = pl.scan_parquet(lake.dataset("hourly") / "*.parquet")
    span = daily.select(pl.col("day").min().alias("a"), pl.col("day").max().alias("b")).collect().row(0)
    calendar = calendar_frame(dt.date(span[0].year, 1, 1), dt.date(span[1].year, 12, 31), lake.school_zone)
    indicators = compute_indicators(daily, calendar, hourly=hourly)
    tmja = indicators.filter((pl.col("indicator") == "tmja") & (pl.col("direction") == "all")
                             & (pl.col("estimator") == "mean_valid_days"))
    flags = indicators.filter(pl.col("indicator") == "tmja_flag")
    context.add_output_metadata({
        "preview": dg.MetadataValue.md(_md_table(tmja.head(20))),
        "indicators": dg.MetadataValue.json(dict(indicators.group_by("indicator").len().sort("indicator").iter_rows())),
        "tmja_flags": flags.height,
    })
    return indicators


@dg.asset(deps=[hourly_counts], io_manager_key="lake_io", group_name="aggregate", kinds={"polars", "parquet"})
def relative_traffic(lake: LakeResource) -> pl.DataFrame:
    """Observed over typical traffic per series and hour (`lake/relative/`): typical is the median of the
    same local hour and weekday over the trailing year, as Telraam's "relative" layer shows it."""
    hourly = pl.scan_parquet(lake.dataset("hourly") / "*.parquet")
    return compute_relative(hourly, tz=lake.tz).collect()


def _md_table(df: pl.DataFrame) -> str:
    """A small Markdown table for the Dagster UI."""
    cols = ["sensor_id", "mode", "period", "value", "coverage"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in df.select(cols).iter_rows():
        lines.append("| " + " | ".join("" if v is None else (f"{v:.1f}" if isinstance(v, float) else str(v)) for v in row) + " |")
    return "\n".join(lines)
