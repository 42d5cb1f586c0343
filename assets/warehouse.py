"""Warehouse: the lake's tables served through SQLAlchemy (SQLite by default, PostgreSQL in production)."""


import dagster as dg
import polars as pl

from assets.aggregate import daily_counts, traffic_indicators
from assets.forecast import baseline_forecast
from assets.impact import impact_evaluation
from assets.ingest import sensor_sites
from assets.scenarios import scenario_forecast
from pipelines.resources import LakeResource
from warehouse.io import polars_schema
from warehouse.resource import WarehouseResource

#: warehouse table → (lake files, write mode)
TABLES: dict[str, tuple[tuple[str, ...], str]] = {
    "sites": (("sites/*.parquet",), "replace_all"),
    "daily_counts": (("daily/*.parquet",), "replace_all"),
    "indicators": (("indicators/*.parquet",), "replace_all"),
    "forecasts": (("forecasts/*.parquet", "forecasts/scenarios/*.parquet"), "replace_all"),
    "forecast_scores": (("forecast_scores/*.parquet",), "replace_all"),
    "impact": (("impact/*.parquet",), "replace_all"),
}

_DEPS = {
    "sites": [sensor_sites],
    "daily_counts": [daily_counts],
    "indicators": [traffic_indicators],
    "forecasts": [baseline_forecast, scenario_forecast],
    "forecast_scores": [dg.AssetKey("forecast_scores")],
    "impact": [impact_evaluation],
}


@dg.multi_asset(
    specs=[
        dg.AssetSpec(f"warehouse_{table}", deps=_DEPS[table], group_name="warehouse", kinds={"sqlalchemy", "sqlite"},
                     description=f"The `{table}` table of the warehouse, replaced from the lake in one transaction.")
        for table in TABLES
    ],
    can_subset=True,
)
def warehouse_tables(context: dg.AssetExecutionContext, lake: LakeResource, warehouse: WarehouseResource):
    """Copy each lake dataset into its warehouse table (atomic per table)."""
    for key in sorted(context.selected_asset_keys, key=lambda k: k.to_user_string()):
        table = key.path[-1].removeprefix("warehouse_")
        patterns, mode = TABLES[table]
        files = sorted(str(f) for pat in patterns for f in lake.lake.glob(pat))
        model_cols = list(polars_schema(table))
        frame = (pl.concat([pl.read_parquet(f) for f in files], how="diagonal_relaxed") if files
                 else pl.DataFrame(schema=polars_schema(table)))
        frame = frame.select([c for c in frame.columns if c in model_cols])
        if table == "forecasts":
            # Every scenario partition carries the baseline over its own period: periods that overlap
            # give the same baseline rows (one model), kept once.
            fkey = ["scenario", "sensor_id", "mode", "direction", "start_utc"]
            frame = frame.sort(fkey).unique(subset=fkey, keep="first", maintain_order=True)
        rows = warehouse.write(table, frame, mode, run_id=context.run.run_id, asset=key.to_user_string())
        yield dg.MaterializeResult(asset_key=key, metadata={"dagster/row_count": rows, "table": table})
