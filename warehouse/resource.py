"""The warehouse as a Dagster resource: one engine per URL per process, schema created on first use."""

from __future__ import annotations

import threading

import dagster as dg
import polars as pl
import sqlalchemy as sa
from pydantic import Field

from warehouse.engine import create_schema, make_engine
from warehouse.io import WriteMode, read_frame, write_frame

__all__ = ["WarehouseResource", "dispose_engines"]

# A ConfigurableResource is a frozen pydantic model, so the engine is cached here, keyed by URL: every
# resource instance (Dagster rebuilds them per run/step) in one process shares one pool per warehouse.
_ENGINES: dict[str, sa.Engine] = {}
_LOCK = threading.Lock()


def _engine_for(url: str) -> sa.Engine:
    with _LOCK:
        engine = _ENGINES.get(url)
        if engine is None:
            engine = make_engine(url)
            create_schema(engine)
            _ENGINES[url] = engine
        return engine


def dispose_engines() -> None:
    """Close every cached engine's pool (tests, or before forking)."""
    with _LOCK:
        for engine in _ENGINES.values():
            engine.dispose()
        _ENGINES.clear()


class WarehouseResource(dg.ConfigurableResource):
    """The SQL warehouse (SQLite by default, PostgreSQL in production) that serves the pipeline's tables.

    Tables are created on first use (no migrations yet). Writes are atomic; see :func:`warehouse.io.write_frame`.
    """

    url: str = Field(
        description=(
            "SQLAlchemy URL of the warehouse: sqlite:///<home>/warehouse.sqlite by default, or"
            " postgresql+psycopg://user@host/db (set it from the MOBILITY_WAREHOUSE_URL environment"
            " variable with dg.EnvVar so credentials stay out of config)."
        )
    )

    def engine(self) -> sa.Engine:
        """The (cached) engine, with the schema created."""
        return _engine_for(self.url)

    def write(
        self,
        table: str,
        df: pl.DataFrame,
        mode: WriteMode,
        where: dict[str, object] | None = None,
        *,
        run_id: str | None = None,
        asset: str | None = None,
        partition: str | None = None,
    ) -> int:
        """Write ``df`` to ``table`` atomically (``replace_all`` / ``replace_where`` / ``upsert``); return rows written.

        With ``run_id`` an audit row goes to ``runs`` in the same transaction.
        """
        return write_frame(
            self.engine(), table, df, mode=mode, where=where, run_id=run_id, asset=asset, partition=partition
        )

    def read(
        self, table: str, where: dict[str, object] | None = None, order_by: list[str] | None = None
    ) -> pl.DataFrame:
        """Read ``table`` as Polars (filtered by equality, ordered by the natural key unless told)."""
        return read_frame(self.engine(), table, where=where, order_by=order_by)
