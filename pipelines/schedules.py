"""Schedules: yesterday's partition at 02:00, the analysis at 04:00 (town time). Both start stopped."""

from __future__ import annotations

import dagster as dg

from pipelines.jobs import analysis_job, ingest_job
from pipelines.partitions import daily_partitions

ingest_schedule = dg.build_schedule_from_partitioned_job(ingest_job, hour_of_day=2)

analysis_schedule = dg.ScheduleDefinition(
    job=analysis_job,
    cron_schedule="0 4 * * *",
    execution_timezone=daily_partitions.timezone,
    description="Indicators, forecasts and reports after the night's ingest.",
)
