"""Ingest: files dropped in ``<home>/landing/`` (or given to ``mobility ingest``) → canonical counts."""


import dagster as dg
import polars as pl

from pipelines.partitions import daily_partitions
from pipelines.resources import LakeResource
from sensors_io.schema import COUNTS_SCHEMA, OPTIONAL_SCHEMA, ROW_KEY
from sensors_io.staging import select_counts, stage_paths, staged_sites

NO_NEGATIVE_COUNTS = "no_negative_counts"
NO_DUPLICATE_ROWS = "no_duplicate_rows"
CANONICAL_SCHEMA = "canonical_schema"

#: lake/counts always holds the canonical and the optional columns, so a glob scan sees one schema.
LAKE_COUNTS_SCHEMA = pl.Schema({**COUNTS_SCHEMA, **OPTIONAL_SCHEMA})


def stage_landing(lake: LakeResource) -> dict[str, dg.MetadataValue]:
    """Stage whatever new files sit in the landing folder; return the accounting as metadata."""
    if not lake.landing.is_dir() or not any(lake.landing.iterdir()):
        return {"landing_sources": dg.MetadataValue.int(0)}
    report = stage_paths([lake.landing], lake.lake, tz=lake.tz, tolerant=True)
    new = [s for s in report.sources if not s.already_staged]
    return {
        "landing_sources": dg.MetadataValue.int(len(report.sources)),
        "new_sources": dg.MetadataValue.int(len(new)),
        "rows_read": dg.MetadataValue.int(report.total("rows_read")),
        "rows_quarantined": dg.MetadataValue.int(report.total("quarantined")),
        "source_errors": dg.MetadataValue.md("\n".join(f"- {s.error}" for s in report.errors) or "none"),
    }


@dg.asset(
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    io_manager_key="lake_io",
    group_name="ingest",
    kinds={"polars", "parquet"},
    check_specs=[
        dg.AssetCheckSpec(NO_NEGATIVE_COUNTS, asset="sensor_counts", blocking=True,
                          description="A count is never negative (negative rows are quarantined at read)."),
        dg.AssetCheckSpec(NO_DUPLICATE_ROWS, asset="sensor_counts", blocking=True,
                          description="One row per sensor × mode × direction × interval."),
        dg.AssetCheckSpec(CANONICAL_SCHEMA, asset="sensor_counts", blocking=True,
                          description="Exactly the canonical columns and types of DESIGN.md (plus the optional ones)."),
    ],
)
def sensor_counts(context: dg.AssetExecutionContext, lake: LakeResource):
    """Canonical counts (`lake/counts/<day>.parquet`): one row per sensor × mode × direction × interval.

    New files in the landing folder are read first; overlapping sources are deduplicated (the source
    staged last wins). Rows are the local days of the partition(s), in UTC.
    """
    staged = stage_landing(lake)
    window = context.partition_time_window
    counts, duplicates = select_counts(lake.lake, window.start, window.end)
    counts = counts.with_columns(
        [pl.lit(None, dtype=t).alias(c) for c, t in OPTIONAL_SCHEMA.items() if c not in counts.columns]
    ).select(list(LAKE_COUNTS_SCHEMA))
    negatives = counts.filter(pl.col("count") < 0)
    dup_rows = counts.height - counts.select(ROW_KEY).n_unique() if counts.height else 0
    schema_ok = counts.schema == LAKE_COUNTS_SCHEMA
    yield dg.Output(counts, metadata={**staged, "duplicates_dropped": duplicates,
                                      "sensors": counts["sensor_id"].n_unique()})
    yield dg.AssetCheckResult(check_name=NO_NEGATIVE_COUNTS, passed=negatives.height == 0,
                              metadata={"rows": negatives.height,
                                        "sensors": ", ".join(sorted(negatives["sensor_id"].unique())) or "none"})
    yield dg.AssetCheckResult(check_name=NO_DUPLICATE_ROWS, passed=dup_rows == 0, metadata={"rows": dup_rows})
    yield dg.AssetCheckResult(check_name=CANONICAL_SCHEMA, passed=schema_ok,
                              metadata={"columns": ", ".join(f"{c}:{t}" for c, t in counts.schema.items())})


@dg.asset(deps=[sensor_counts], io_manager_key="lake_io", group_name="ingest", kinds={"polars", "parquet"})
def sensor_sites(lake: LakeResource) -> pl.DataFrame:
    """Where each counting site is (name, WGS84 position), from the sources' site descriptions."""
    return staged_sites(lake.lake)
