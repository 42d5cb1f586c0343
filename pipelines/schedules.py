"""Schedules: yesterday's partition end to end at 02:00 (town time): ingest, the quality gate, then the
analysis, in one run so that a broken day stops its own forecasts and reports. Starts stopped."""

from __future__ import annotations

import dagster as dg

from pipelines.jobs import daily_job
from pipelines.partitions import daily_partitions

daily_schedule = dg.build_schedule_from_partitioned_job(daily_job, hour_of_day=2)
