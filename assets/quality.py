"""Quality: a flag on every value (observed, zero, missing, excluded with the reason)."""


import dagster as dg
import polars as pl

from pipelines.partitions import daily_partitions
from pipelines.resources import LakeResource
from sensors_io.quality import flag_counts


@dg.asset(
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    io_manager_key="lake_io",
    group_name="quality",
    kinds={"polars", "parquet"},
)
def clean_counts(context: dg.AssetExecutionContext, sensor_counts: pl.LazyFrame, lake: LakeResource) -> pl.DataFrame:
    """Counts with `flag`, `flag_reason` and `count_clean` (`lake/clean_counts/`): flags never change `count`."""
    clean = flag_counts(sensor_counts, tz=lake.tz).collect()
    shares = clean["flag"].value_counts(normalize=True).sort("flag")
    context.add_output_metadata({f"share_{f}": round(s, 4) for f, s in shares.iter_rows()})
    return clean
