"""The Dagster code location ``mobility``: everything composed explicitly, in one place."""

from __future__ import annotations

import dagster as dg

import assets
from pipelines.jobs import analysis_job, daily_job, ingest_job, scenario_job
from pipelines.resources import build_resources
from pipelines.schedules import daily_schedule
from pipelines.sensors import landing_sensor, scenario_catalog_sensor


@dg.definitions
def defs() -> dg.Definitions:
    """Assets and checks from ``assets/``, the jobs, the daily schedule, the landing and scenario sensors,
    resources."""
    return dg.Definitions(
        assets=dg.load_assets_from_package_module(assets),
        asset_checks=dg.load_asset_checks_from_package_module(assets),
        jobs=[ingest_job, analysis_job, daily_job, scenario_job],
        schedules=[daily_schedule],
        sensors=[landing_sensor, scenario_catalog_sensor],
        resources=build_resources(),
        executor=dg.multiprocess_executor.configured({"max_concurrent": 2}),
    )
