"""Scenarios: the baseline over each catalog scenario's period, and the same under its hypotheses."""


import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import polars as pl

from assets.forecast import MODEL_FILE, baseline_forecast
from pipelines.resources import LakeResource
from scenarios.forecast import FORECAST_SCHEMA, load_model
from scenarios.spec import apply_scenario, load_scenario

#: The scenario files shipped with the project (YAML, validated by scenarios.spec).
CATALOG = Path(__file__).resolve().parent.parent / "scenarios" / "catalog"


def catalog_files() -> list[Path]:
    """Scenario files of the catalog, by name."""
    return sorted(CATALOG.glob("*.yaml"))


def local_period_utc(start: dt.date, end: dt.date, tz: str) -> tuple[dt.datetime, dt.datetime]:
    """``[start 00:00, end + 1 day 00:00)`` local, in UTC."""
    zone = ZoneInfo(tz)
    a = dt.datetime.combine(start, dt.time(), zone).astimezone(dt.UTC)
    b = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), zone).astimezone(dt.UTC)
    return a, b


@dg.asset(deps=[baseline_forecast], io_manager_key="lake_io", group_name="scenarios",
          kinds={"polars", "parquet"})
def scenario_forecast(context: dg.AssetExecutionContext, lake: LakeResource) -> pl.DataFrame:
    """For each catalog scenario: the baseline over its period (`scenario` = `baseline`) and the
    forecast under its hypotheses (`scenario` = its name), in the forecasts contract
    (`lake/forecasts/scenarios.parquet`)."""
    if not (lake.lake / MODEL_FILE).exists():
        context.add_output_metadata({"note": "no baseline model (no hourly counts): no scenario forecast"})
        return pl.DataFrame(schema=FORECAST_SCHEMA)
    model = load_model(lake.lake / MODEL_FILE)
    frames = []
    for path in catalog_files():
        spec = load_scenario(path)
        start, end = local_period_utc(spec.period.start, spec.period.end, lake.tz)
        base = model.predict(start, end)
        frames += [base, apply_scenario(base, spec, tz=lake.tz)]
    out = pl.concat(frames).unique(maintain_order=True)
    context.add_output_metadata({"scenarios": ", ".join(p.stem for p in catalog_files())})
    return out
