"""Where the warehouse lives and how to connect to it.

SQLite under ``MOBILITY_HOME`` by default; PostgreSQL (psycopg 3) in production through the
``MOBILITY_WAREHOUSE_URL`` environment variable, which may carry credentials and is never logged.

Migrations (Alembic) are not set up: every table is derived from the lake and replaced on each run,
so :func:`create_schema` creates missing tables and rebuilds a table whose columns no longer match its
model (a warehouse written by an older release).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from warehouse.models import metadata

__all__ = ["ENV_VAR", "create_schema", "default_url", "make_engine", "stale_tables", "warehouse_url"]

#: Environment variable that overrides the default SQLite warehouse.
ENV_VAR = "MOBILITY_WAREHOUSE_URL"

#: Seconds a SQLite writer waits for another process's write lock before failing.
SQLITE_BUSY_TIMEOUT_S = 30.0

# Arbitrary constant: serialises concurrent create_schema calls (Dagster's multiprocess executor
# starts several steps at once, and concurrent CREATE TABLE on PostgreSQL races on pg_type).
_PG_SCHEMA_LOCK = 0x6D6F62696C  # "mobil"


def default_url(home: Path) -> str:
    """The default warehouse: ``sqlite:///<home>/warehouse.sqlite``."""
    return f"sqlite:///{Path(home).resolve() / 'warehouse.sqlite'}"


def warehouse_url(home: Path) -> str:
    """``$MOBILITY_WAREHOUSE_URL`` if set (and not empty), else :func:`default_url`."""
    return os.environ.get(ENV_VAR) or default_url(home)


def _normalise(url: str | sa.URL) -> sa.URL:
    """Parse ``url``; a bare ``postgresql://`` / ``postgres://`` means psycopg 3 here (psycopg2 is not installed)."""
    u = sa.make_url(url)
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    return u


def make_engine(url: str | sa.URL, **kwargs: Any) -> sa.Engine:
    """An engine for ``url``; extra keyword arguments go to :func:`sqlalchemy.create_engine`.

    SQLite: creates the parent folder, turns on WAL (readers do not block the writer), foreign keys and
    a busy timeout, and emits ``BEGIN`` itself so that every transaction — DDL included — is atomic
    (the pysqlite driver otherwise commits implicitly before DDL; see SQLAlchemy's "Serializable isolation
    / Savepoints / Transactional DDL" recipe). PostgreSQL: ``postgresql+psycopg://`` with pre-ping.
    A PostgreSQL schema can be selected in the URL: ``...?options=-csearch_path%3Dmyschema``.
    """
    u = _normalise(url)
    if u.get_backend_name() == "sqlite":
        return _sqlite_engine(u, **kwargs)
    kwargs.setdefault("pool_pre_ping", True)
    return sa.create_engine(u, **kwargs)


def _sqlite_engine(u: sa.URL, **kwargs: Any) -> sa.Engine:
    if u.database and u.database != ":memory:" and not u.database.startswith("file:"):
        Path(u.database).parent.mkdir(parents=True, exist_ok=True)
    connect_args = kwargs.pop("connect_args", {})
    connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT_S)
    engine = sa.create_engine(u, connect_args=connect_args, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to SQLAlchemy (see the "begin" hook below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            if u.database and u.database != ":memory:":
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL; a crash loses no committed data
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        # Writers ask for the write lock up front so the busy timeout applies instead of a
        # lock-upgrade failure mid-transaction.
        immediate = conn.get_execution_options().get("sqlite_immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def stale_tables(conn: sa.Connection) -> list[sa.Table]:
    """The project's tables that exist with other columns than the models declare."""
    insp = sa.inspect(conn)
    stale = []
    for t in metadata.sorted_tables:
        if insp.has_table(t.name):
            have = {c["name"] for c in insp.get_columns(t.name)}
            if have != {c.name for c in t.columns}:
                stale.append(t)
    return stale


def create_schema(engine: sa.Engine) -> list[str]:
    """Create the warehouse tables and indexes that do not exist yet (idempotent, atomic).

    Every table here is derived data, rebuilt from the lake on each run; a table whose columns differ
    from its model (a warehouse written by an older release) is dropped and created again instead of
    failing the run. Returns the names of the tables so rebuilt. (Alembic migrations are not set up.)
    """
    with engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
        if conn.dialect.name == "postgresql":
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_SCHEMA_LOCK)))
        stale = stale_tables(conn)
        for t in reversed(stale):
            t.drop(conn)
        metadata.create_all(conn, checkfirst=True)
    return [t.name for t in stale]
