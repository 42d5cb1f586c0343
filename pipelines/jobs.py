"""Jobs: ingest (daily partitions) and analysis (everything downstream of the daily tables)."""

from __future__ import annotations

import dagster as dg

INGEST_ASSETS = ["sensor_counts", "clean_counts"]

ingest_job = dg.define_asset_job(
    "ingest_job",
    selection=dg.AssetSelection.assets(*INGEST_ASSETS),
    description="Read new landing files and rebuild the counts and quality flags of the selected days.",
)

#: Assets partitioned by scenario (dynamic partitions, one per scenario file).
SCENARIO_ASSETS = ["scenario_forecast"]

analysis_job = dg.define_asset_job(
    "analysis_job",
    selection=dg.AssetSelection.all() - dg.AssetSelection.assets(*INGEST_ASSETS, *SCENARIO_ASSETS),
    description="Totals, indicators, forecasts, warehouse tables and reports from the cleaned counts.",
)

scenario_job = dg.define_asset_job(
    "scenario_job",
    selection=dg.AssetSelection.assets(*SCENARIO_ASSETS),
    description="One scenario (partition): its baseline and its forecast under the file's hypotheses.",
)

daily_job = dg.define_asset_job(
    "daily_job",
    selection=dg.AssetSelection.all() - dg.AssetSelection.assets(*SCENARIO_ASSETS),
    description="One day, end to end: ingest and flag the day's counts, then totals, indicators, forecasts, "
                "warehouse and reports — the blocking quality gate on the day stops everything after it.",
)
