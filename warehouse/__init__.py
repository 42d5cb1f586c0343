"""The SQL warehouse: SQLAlchemy 2 models, engine, atomic Polars writes/reads, and the Dagster resource.

SQLite under ``MOBILITY_HOME`` by default, PostgreSQL (psycopg 3) via ``MOBILITY_WAREHOUSE_URL``.
Migrations (Alembic) are not set up: :func:`create_schema` creates missing tables and rebuilds stale ones (all are derived from the lake).
"""

from warehouse.engine import create_schema, default_url, make_engine, warehouse_url
from warehouse.io import WriteMode, data_columns, natural_key, polars_schema, read_frame, write_frame
from warehouse.models import metadata

__all__ = [
    "WriteMode",
    "create_schema",
    "data_columns",
    "default_url",
    "make_engine",
    "metadata",
    "natural_key",
    "polars_schema",
    "read_frame",
    "warehouse_url",
    "write_frame",
]
