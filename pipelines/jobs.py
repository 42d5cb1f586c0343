"""Jobs: ingest (daily partitions) and analysis (everything downstream of the daily tables)."""

from __future__ import annotations

import dagster as dg

INGEST_ASSETS = ["sensor_counts", "clean_counts", "hourly_counts", "daily_counts"]

ingest_job = dg.define_asset_job(
    "ingest_job",
    selection=dg.AssetSelection.assets(*INGEST_ASSETS),
    description="Read new landing files and rebuild the counts, flags and totals of the selected days.",
)

analysis_job = dg.define_asset_job(
    "analysis_job",
    selection=dg.AssetSelection.all() - dg.AssetSelection.assets(*INGEST_ASSETS),
    description="Indicators, forecasts, scenarios, warehouse tables and reports from the daily tables.",
)
