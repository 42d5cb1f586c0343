"""The lake's Parquet IO manager: dagster-polars, fixed for Polars 2, atomic, with lake folder names.

Three things differ from ``dagster_polars.PolarsParquetIOManager`` 0.27.12:

* **Reads work on Polars 2.** Upstream ``scan_parquet`` passes ``rechunk=`` and ``retries=``, both
  removed in Polars 2.0 (``ArgumentRemovedError``); :meth:`LakeIOManager.scan_df_from_path` calls
  :func:`polars.scan_parquet` with the keys that still exist.
* **Writes are atomic.** A file is written beside its target and renamed over it, so a crash never
  leaves a half-written partition behind.
* **A run can cover a range of daily partitions** (``BackfillPolicy.single_run``): the output frame
  is split by local day into one file per partition key, and a range input is scanned as one
  LazyFrame over the existing files.

Asset names map to the lake folders of DESIGN.md (``sensor_counts`` → ``lake/counts/``).
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
import polars as pl
from dagster_polars import PolarsParquetIOManager
from dagster_polars.io_managers.parquet import _remap_fsspec_storage_options
from pydantic import Field

if TYPE_CHECKING:
    from upath import UPath

#: Asset name → lake folder (the contract other parts rely on; see DESIGN.md).
LAKE_DATASETS: dict[str, str] = {
    "sensor_counts": "counts",
    "clean_counts": "clean_counts",
    "hourly_counts": "hourly/hourly",
    "daily_counts": "daily/daily",
    "sensor_sites": "sites/sites",
    "traffic_indicators": "indicators/traffic_indicators",
    "relative_traffic": "relative/relative",
    "impact_evaluation": "impact/impact",
    "baseline_forecast": "forecasts/baseline",
    "scenario_forecast": "forecasts/scenarios",
    "forecast_scores": "forecast_scores/forecast_scores",
}

_READ_KEYS = ("n_rows", "low_memory", "use_statistics", "hive_partitioning")


def lake_folder(asset_name: str) -> str:
    """The lake folder of an asset (its name when it has no contract name)."""
    return LAKE_DATASETS.get(asset_name, asset_name)


class LakeIOManager(PolarsParquetIOManager):
    """Parquet files under ``<home>/lake/<dataset>/<partition>.parquet`` (see module docstring)."""

    timezone: str = Field(
        default="Europe/Paris",
        description="Time zone of the daily partitions: a row belongs to the local day of its start_utc.",
    )

    # -- paths ---------------------------------------------------------------------------------
    def get_asset_relative_path(self, context: dg.InputContext | dg.OutputContext) -> "UPath":
        from upath import UPath

        *prefix, name = context.asset_key.path
        return UPath(*prefix, *lake_folder(name).split("/"))

    # -- reads ---------------------------------------------------------------------------------
    def _scan(self, paths: str | list[str], context: dg.InputContext) -> pl.LazyFrame:
        """``pl.scan_parquet`` with the read keys Polars 2 still has and the remapped storage options."""
        md = context.definition_metadata or {}
        keep = {k: md[k] for k in _READ_KEYS if k in md}
        opts = _remap_fsspec_storage_options(self.storage_options)
        return pl.scan_parquet(paths, storage_options=opts or None, **keep)

    def scan_df_from_path(
        self, path: "UPath", context: dg.InputContext, partition_key: str | None = None
    ) -> pl.LazyFrame:
        return self._scan(str(path), context)

    def load_partitions(self, context: dg.InputContext) -> Any:
        """Several partitions: a dict for ``dict[...]`` inputs, else one frame over all files."""
        paths = self._get_paths_for_partitions(context)
        allow_missing = bool((context.definition_metadata or {}).get("allow_missing_partitions"))
        present = {k: p for k, p in paths.items() if p.exists()}
        missing = sorted(set(paths) - set(present))
        if missing and not allow_missing:
            raise FileNotFoundError(
                f"{len(missing)} partition(s) of {context.asset_key.to_user_string()} are not in the lake"
                f" (first: {missing[0]}); materialize them first"
            )
        typing_type = context.dagster_type.typing_type
        if getattr(typing_type, "__origin__", None) is dict or typing_type is dict:
            return {k: self.load_from_path(context, p) for k, p in sorted(present.items())}
        if not present:
            raise FileNotFoundError(f"no partition of {context.asset_key.to_user_string()} in the lake")
        md = context.definition_metadata or {}
        lf = self._scan([str(p) for _, p in sorted(present.items())], context)
        if md.get("columns") is not None:
            lf = lf.select(md["columns"])
        eager = typing_type in (None, Any, pl.DataFrame) or typing_type is type(None)
        return lf.collect() if eager else lf

    # -- writes --------------------------------------------------------------------------------
    def write_df_to_path(self, context: dg.OutputContext, df: pl.DataFrame, path: "UPath") -> None:
        if getattr(path, "protocol", "") not in ("", "file", "local"):
            return super().write_df_to_path(context, df, path)
        md = context.definition_metadata or {}
        target = Path(str(path))
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        try:
            df.write_parquet(
                tmp,
                compression=md.get("compression", "zstd"),
                compression_level=md.get("compression_level"),
                statistics=md.get("statistics", True),
                row_group_size=md.get("row_group_size"),
            )
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)

    def sink_df_to_path(self, context: dg.OutputContext, df: pl.LazyFrame, path: "UPath") -> None:
        # Collect, then write aside and rename: sink_parquet would write in place.
        self.write_df_to_path(context, df.collect(), path)

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        if not (context.has_asset_partitions and len(context.asset_partition_keys) > 1):
            return super().handle_output(context, obj)
        frame = obj.collect() if isinstance(obj, pl.LazyFrame) else obj
        if not isinstance(frame, pl.DataFrame):
            raise TypeError(f"a partition range output must be a Polars frame, got {type(obj).__name__}")
        day = (
            pl.col("day")
            if "day" in frame.columns
            else pl.col("start_utc").dt.convert_time_zone(self.timezone).dt.date()
        )
        by_day = frame.with_columns(__day=day.cast(pl.String)).partition_by(
            "__day", as_dict=True, include_key=False
        )
        paths = self._get_paths_for_partitions(context)
        empty = frame.clear()
        for key, path in paths.items():
            part = by_day.get((key,), empty)
            self.make_directory(path.parent)
            self.write_df_to_path(context, part, path)
        context.add_output_metadata(
            {
                "dagster/row_count": frame.height,
                "partitions_written": len(paths),
                "path": dg.MetadataValue.path(str(next(iter(paths.values())).parent)),
            }
        )

    def get_metadata(self, context: dg.OutputContext, obj: Any) -> dict[str, dg.MetadataValue]:
        """Row count and column schema only: upstream also runs ``describe()`` on every output."""
        if not isinstance(obj, pl.DataFrame):
            return {}
        key = "dagster/partition_row_count" if context.has_asset_partitions else "dagster/row_count"
        schema = dg.TableSchema(
            columns=[dg.TableColumn(name, str(dtype)) for name, dtype in obj.schema.items()]
        )
        return {key: dg.MetadataValue.int(obj.height), "dagster/column_schema": dg.MetadataValue.table_schema(schema)}
