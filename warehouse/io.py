"""Polars frames in and out of the warehouse tables, atomically.

:func:`write_frame` runs in **one transaction**: the delete (if any) and every insert commit together or
not at all, so a failing write leaves the previous contents intact. Three modes:

* ``replace_all`` — delete every row, insert the frame;
* ``replace_where`` — delete the rows matching an equality filter (``{"scenario": "baseline"}``), insert
  the frame; every row of the frame must match the filter, so the write is exactly a partition swap;
* ``upsert`` — ``INSERT … ON CONFLICT (natural key) DO UPDATE`` (SQLite and PostgreSQL dialects); tables
  whose natural key has a nullable column (``indicators``) refuse it, use ``replace_where``.

The frame must have exactly the table's data columns (surrogate ids excluded), in any order; dtypes are
cast where that loses nothing (Int32 → Int64, Int → Float64, Float32 → Float64, Null → anything), and
datetimes must be time-zone aware (converted to UTC). Float ``NaN`` is written as NULL on both backends
(SQLite cannot store NaN and would do so silently; this keeps the backends identical).

Large frames on PostgreSQL go through ``COPY … FROM STDIN (FORMAT csv)`` (Polars writes the CSV; floats
in shortest round-trip form, so exact), and upserts through a temporary staging table; everything else
uses chunked ``executemany`` (SQLAlchemy's "insertmanyvalues" batching on psycopg).

:func:`read_frame` returns Polars with the dtypes of :func:`polars_schema`: String, Float64, Int64,
Boolean, Date and Datetime(us, UTC).
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Mapping, Sequence
from typing import Any, Literal, get_args

import polars as pl
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import visitors

from warehouse.models import UTCDateTime, metadata

__all__ = [
    "WriteMode",
    "data_columns",
    "natural_key",
    "polars_schema",
    "read_frame",
    "write_frame",
]

WriteMode = Literal["replace_all", "replace_where", "upsert"]

UTC_US = pl.Datetime("us", "UTC")

#: Rows per executemany batch.
CHUNK_ROWS = 10_000
#: From this many rows, PostgreSQL writes go through COPY.
COPY_THRESHOLD = 5_000


# --------------------------------------------------------------------------------------------------
# Table introspection
# --------------------------------------------------------------------------------------------------


def _table(name: str) -> sa.Table:
    try:
        return metadata.tables[name]
    except KeyError:
        raise ValueError(f"unknown warehouse table {name!r}; known: {sorted(metadata.tables)}") from None


def data_columns(table: str) -> list[str]:
    """The columns a frame written to ``table`` must have (the surrogate ``id`` excluded), in table order."""
    return [c.name for c in _table(table).columns if not c.info.get("surrogate")]


def natural_key(table: str) -> tuple[str, ...] | None:
    """The natural key upserts conflict on: the primary key, or a unique constraint beside a surrogate id.

    ``None`` when the natural key contains a nullable column (``indicators``): such a table is written by
    ``replace_all`` / ``replace_where`` only.
    """
    t = _table(table)
    pk = tuple(c.name for c in t.primary_key.columns)
    if pk and not any(t.c[c].info.get("surrogate") for c in pk):
        return pk
    for con in t.constraints:
        if isinstance(con, sa.UniqueConstraint) and not any(c.nullable for c in con.columns):
            return tuple(c.name for c in con.columns)
    return None


def _uniqueness_key(t: sa.Table) -> tuple[str, ...] | None:
    """Columns whose combination must be unique in a frame (NULLs compared equal, like the indexes)."""
    key = natural_key(t.name)
    if key is not None:
        return key
    for ix in t.indexes:
        if ix.unique:
            names = [
                e.name
                for expr in ix.expressions
                for e in visitors.iterate(expr)
                if isinstance(e, sa.ColumnClause) and e.name in t.c
            ]
            return tuple(dict.fromkeys(names)) or None
    return None


def _polars_dtype(col: sa.Column[Any]) -> pl.DataType:
    typ = col.type
    if isinstance(typ, UTCDateTime):
        return UTC_US
    if isinstance(typ, sa.Boolean):
        return pl.Boolean()
    if isinstance(typ, sa.Float):  # Double is a Float
        return pl.Float64()
    if isinstance(typ, sa.Integer):
        return pl.Int64()
    if isinstance(typ, sa.Date):
        return pl.Date()
    if isinstance(typ, sa.String):
        return pl.String()
    raise TypeError(f"{col.table.name}.{col.name}: no Polars dtype for {typ!r}")  # pragma: no cover


def polars_schema(table: str) -> pl.Schema:
    """The Polars schema of ``table``'s data columns (what :func:`read_frame` returns)."""
    t = _table(table)
    return pl.Schema({c: _polars_dtype(t.c[c]) for c in data_columns(table)})


# --------------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------------


def _check_columns(table: str, df: pl.DataFrame) -> None:
    expected = data_columns(table)
    missing = [c for c in expected if c not in df.columns]
    extra = [c for c in df.columns if c not in expected]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {missing}")
        if extra:
            parts.append(f"extra {extra}")
        raise ValueError(
            f"frame for warehouse table {table!r} does not match its columns: {'; '.join(parts)}"
            f" (expected exactly {expected})"
        )


_SAFE_NUMERIC = {pl.Int8, pl.Int16, pl.Int32, pl.Int64, pl.UInt8, pl.UInt16, pl.UInt32}


def _conform(table: str, df: pl.DataFrame) -> pl.DataFrame:
    """Cast ``df`` to the table's Polars schema where that is lossless, else raise naming the column."""
    exprs: list[pl.Expr] = []
    for name, target in polars_schema(table).items():
        got = df.schema[name]
        col = pl.col(name)
        if got == target:
            expr = col
        elif got == pl.Null:
            expr = col.cast(target)
        elif isinstance(target, pl.Datetime) and isinstance(got, pl.Datetime):
            if got.time_zone is None:
                raise TypeError(
                    f"{table}.{name}: naive {got}; the warehouse stores UTC — attach the zone first"
                    " (e.g. .dt.replace_time_zone('UTC'))"
                )
            expr = col.dt.convert_time_zone("UTC").cast(target)
        elif isinstance(target, pl.Float64) and (got.base_type() in _SAFE_NUMERIC or got == pl.Float32):
            expr = col.cast(target)
        elif isinstance(target, pl.Int64) and got.base_type() in _SAFE_NUMERIC:
            expr = col.cast(target)
        elif isinstance(target, pl.String) and isinstance(got, (pl.Categorical, pl.Enum)):
            expr = col.cast(target)
        else:
            raise TypeError(f"{table}.{name}: expected {target}, got {got}")
        if isinstance(target, pl.Float64):
            expr = expr.fill_nan(None)
        exprs.append(expr.alias(name))
    return df.select(exprs)


def _check_not_null(t: sa.Table, df: pl.DataFrame) -> None:
    nulls = df.select(pl.col(c.name).null_count() for c in t.columns if c.name in df.columns and not c.nullable)
    bad = {k: v[0] for k, v in nulls.to_dict(as_series=False).items() if v[0]}
    if bad:
        raise ValueError(f"{t.name}: nulls in NOT NULL columns (column: null rows): {bad}")


def _check_unique(t: sa.Table, df: pl.DataFrame) -> None:
    key = _uniqueness_key(t)
    if not key or df.is_empty():
        return
    dup = df.select(key).filter(pl.struct(key).is_duplicated())
    if dup.height:
        raise ValueError(
            f"{t.name}: {dup.height} rows share a key {list(key)} with another row of the frame;"
            f" first: {dup.row(0, named=True)}"
        )


def _check_where(t: sa.Table, where: Mapping[str, object] | None) -> dict[str, object]:
    where = dict(where or {})
    allowed = data_columns(t.name)
    unknown = [k for k in where if k not in allowed]
    if unknown:
        raise ValueError(f"{t.name}: filter on unknown columns {unknown} (columns: {allowed})")
    return where


def _is_seq(v: object) -> bool:
    return isinstance(v, (list, tuple, set, frozenset))


def _sql_filter(t: sa.Table, where: Mapping[str, object]) -> list[sa.ColumnElement[bool]]:
    out: list[sa.ColumnElement[bool]] = []
    for k, v in where.items():
        c = t.c[k]
        if v is None:
            out.append(c.is_(None))
        elif _is_seq(v):
            out.append(c.in_(list(v)))  # type: ignore[arg-type]
        else:
            out.append(c == v)
    return out


def _polars_filter(schema: pl.Schema, where: Mapping[str, object]) -> pl.Expr:
    exprs: list[pl.Expr] = []
    for k, v in where.items():
        if v is None:
            exprs.append(pl.col(k).is_null())
        elif _is_seq(v):
            exprs.append(pl.col(k).is_in(pl.Series(list(v), dtype=schema[k])))  # type: ignore[arg-type]
        else:
            exprs.append((pl.col(k) == pl.lit(v, dtype=schema[k])).fill_null(False))
    return pl.all_horizontal(exprs)


# --------------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------------


def write_frame(
    engine: sa.Engine,
    table: str,
    df: pl.DataFrame,
    *,
    mode: WriteMode,
    where: dict[str, object] | None = None,
    run_id: str | None = None,
    asset: str | None = None,
    partition: str | None = None,
) -> int:
    """Write ``df`` to ``table`` in one transaction; return the number of rows written.

    ``where`` (``replace_where`` only) maps columns to a value (``None`` = IS NULL) or a list of values
    (IN). With ``run_id``, one audit row (``runs``: run, ``asset`` — default the table name —, partition,
    rows, time) is written in the same transaction.

    Raises ``ValueError`` (columns missing/extra, nulls in NOT NULL columns, duplicate keys in the frame,
    rows outside ``where``, upsert on a table without a usable natural key) or ``TypeError`` (a column
    that cannot be cast losslessly) before touching the database; a database error rolls everything back.

    Examples
    --------
    >>> import polars as pl
    >>> from warehouse.engine import create_schema, make_engine
    >>> engine = make_engine("sqlite://"); create_schema(engine)
    >>> sites = pl.DataFrame({"site_id": ["s1"], "site_name": ["Quai"], "lat": [49.76],
    ...                       "lon": [0.37], "source": ["demo"]})
    >>> write_frame(engine, "sites", sites, mode="upsert")
    1
    >>> read_frame(engine, "sites")["site_name"].to_list()
    ['Quai']
    """
    if mode not in get_args(WriteMode):
        raise ValueError(f"unknown write mode {mode!r}; use one of {get_args(WriteMode)}")
    t = _table(table)
    _check_columns(table, df)
    df = _conform(table, df)
    _check_not_null(t, df)
    _check_unique(t, df)

    flt = _check_where(t, where)
    if mode == "replace_where":
        if not flt:
            raise ValueError(f"{table}: replace_where needs a non-empty `where` (use replace_all to replace everything)")
        outside = df.height - df.filter(_polars_filter(df.schema, flt)).height
        if outside:
            raise ValueError(f"{table}: {outside} rows of the frame do not match where={flt}; they would not be replaced")
    elif flt:
        raise ValueError(f"{table}: `where` is only used by mode='replace_where' (got mode={mode!r})")

    key: tuple[str, ...] | None = None
    if mode == "upsert":
        key = natural_key(table)
        if key is None:
            raise ValueError(
                f"{table}: no natural key without nullable columns to upsert on; write it with"
                " mode='replace_where' (e.g. where={'period': ...}) or 'replace_all'"
            )

    with engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
        if mode == "replace_all":
            conn.execute(sa.delete(t))
        elif mode == "replace_where":
            conn.execute(sa.delete(t).where(*_sql_filter(t, flt)))
        if df.height:
            if conn.dialect.name == "postgresql" and df.height >= COPY_THRESHOLD:
                _pg_copy_write(conn, t, df, key)
            else:
                _executemany_write(conn, t, df, key)
        if run_id is not None:
            conn.execute(
                sa.insert(metadata.tables["runs"]).values(
                    run_id=run_id,
                    asset=asset or table,
                    partition=partition,
                    rows=df.height,
                    written_at=dt.datetime.now(dt.UTC),
                )
            )
    return df.height


def _insert_stmt(conn: sa.Connection, t: sa.Table, key: tuple[str, ...] | None) -> sa.Insert:
    if key is None:
        return sa.insert(t)
    dialect_insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}.get(conn.dialect.name)
    if dialect_insert is None:
        raise NotImplementedError(f"upsert is implemented for SQLite and PostgreSQL, not {conn.dialect.name}")
    stmt = dialect_insert(t)
    update = {c: stmt.excluded[c] for c in data_columns(t.name) if c not in key}
    if not update:
        return stmt.on_conflict_do_nothing(index_elements=list(key))
    return stmt.on_conflict_do_update(index_elements=list(key), set_=update)


# SQLAlchemy's SQLite storage formats for Date / DateTime (the UTC wall time), reproduced in Polars so
# large frames skip per-value Python conversion; filters bound through SQLAlchemy compare equal.
_SQLITE_DATE = "%Y-%m-%d"
_SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S%.6f"


def _executemany_write(conn: sa.Connection, t: sa.Table, df: pl.DataFrame, key: tuple[str, ...] | None) -> None:
    stmt = _insert_stmt(conn, t, key)
    if conn.dialect.name != "sqlite":
        for chunk in df.iter_slices(CHUNK_ROWS):
            conn.execute(stmt, chunk.to_dicts())
        return
    # SQLite fast path: the compiled statement, positional tuples, dates/datetimes formatted by Polars.
    compiled = stmt.compile(dialect=conn.dialect, column_keys=list(df.columns))
    order = list(compiled.positiontup or [])
    assert sorted(order) == sorted(df.columns), (order, df.columns)
    prepared = df.select(
        pl.col(c).dt.strftime(_SQLITE_DATETIME) if isinstance(dtype, pl.Datetime)
        else pl.col(c).dt.strftime(_SQLITE_DATE) if dtype == pl.Date
        else pl.col(c)
        for c, dtype in df.select(order).schema.items()
    )
    for chunk in prepared.iter_slices(CHUNK_ROWS):
        conn.exec_driver_sql(str(compiled), chunk.rows())


def _csv_payload(df: pl.DataFrame) -> bytes:
    # Unquoted empty field = NULL, quoted "" = empty string (PostgreSQL COPY csv rules, Polars' default).
    buf = io.BytesIO()
    df.write_csv(buf, include_header=False, datetime_format="%Y-%m-%dT%H:%M:%S%.6f+00:00")
    return buf.getvalue()


def _pg_copy_write(conn: sa.Connection, t: sa.Table, df: pl.DataFrame, key: tuple[str, ...] | None) -> None:
    """COPY the frame into the table (or into a staging table, then upsert from it)."""
    prep = conn.dialect.identifier_preparer
    cols = list(df.columns)
    col_sql = ", ".join(prep.quote(c) for c in cols)
    target = prep.format_table(t)
    if key is not None:
        stage = "_wh_stage"
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {stage}")
        conn.exec_driver_sql(
            f"CREATE TEMPORARY TABLE {stage} AS SELECT {col_sql} FROM {target} WITH NO DATA"
        )
        copy_into = stage
    else:
        copy_into = target
    dbapi = conn.connection.driver_connection
    assert dbapi is not None
    copy_sql = f"COPY {copy_into} ({col_sql}) FROM STDIN (FORMAT csv)"
    payload = _csv_payload(df)
    try:
        with dbapi.cursor() as cur, cur.copy(copy_sql) as copy:
            for start in range(0, len(payload), 1 << 20):
                copy.write(payload[start : start + (1 << 20)])
    except conn.dialect.loaded_dbapi.Error as exc:
        # Same exception family as the executemany path (sqlalchemy.exc.IntegrityError, …).
        raise sa.exc.DBAPIError.instance(
            copy_sql, None, exc, conn.dialect.loaded_dbapi.Error, dialect=conn.dialect
        ) from exc
    if key is not None:
        src = sa.table(stage, *(sa.column(c) for c in cols))
        stmt = _insert_stmt(conn, t, key).from_select(cols, sa.select(*(src.c[c] for c in cols)))
        conn.execute(stmt)
        conn.exec_driver_sql(f"DROP TABLE {stage}")


# --------------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------------


def read_frame(
    engine: sa.Engine,
    table: str,
    *,
    where: dict[str, object] | None = None,
    order_by: list[str] | None = None,
) -> pl.DataFrame:
    """Read ``table`` (its data columns, in table order) as Polars with :func:`polars_schema` dtypes.

    ``where`` as in :func:`write_frame` (value, ``None`` = IS NULL, list = IN). Rows are ordered by
    ``order_by``, else by the natural key (else the surrogate id), so reads are deterministic.
    """
    t = _table(table)
    flt = _check_where(t, where)
    cols = data_columns(table)
    if order_by is None:
        order = list(natural_key(table) or [c.name for c in t.primary_key.columns])
    else:
        unknown = [c for c in order_by if c not in cols]
        if unknown:
            raise ValueError(f"{table}: order_by on unknown columns {unknown} (columns: {cols})")
        order = list(order_by)
    schema = polars_schema(table)
    with engine.connect() as conn:
        sqlite_dialect = conn.dialect.name == "sqlite"
        selected: list[sa.ColumnElement[Any]] = []
        for c in cols:
            col: sa.ColumnElement[Any] = t.c[c]
            if sqlite_dialect and schema[c] in (pl.Date, UTC_US):
                col = sa.type_coerce(col, sa.String)  # parsed by Polars below, not row by row
            elif schema[c] == UTC_US:
                # Naive UTC wall time from the server: Polars builds naive datetimes much faster than
                # aware ones; UTC is attached below.
                col = sa.type_coerce(sa.func.timezone("UTC", col), sa.DateTime())
            selected.append(col.label(c))
        stmt = sa.select(*selected).where(*_sql_filter(t, flt)).order_by(*(t.c[c] for c in order))
        rows = conn.execute(stmt).all()
    return _frame(cols, schema, rows, sqlite_dialect)


def _frame(cols: list[str], schema: pl.Schema, rows: Sequence[Any], sqlite_text: bool) -> pl.DataFrame:
    """Rows → Polars, built in Rust (``orient="row"``); SQLite's date/datetime text parsed vectorised."""
    raw: dict[str, pl.DataType] = {}
    for c in cols:
        if sqlite_text and schema[c] in (pl.Date, UTC_US):
            raw[c] = pl.String()
        elif schema[c] == UTC_US:
            raw[c] = pl.Datetime("us")
        else:
            raw[c] = schema[c]
    df = pl.DataFrame(rows, schema=raw, orient="row", strict=True) if rows else pl.DataFrame(schema=raw)
    fix: list[pl.Expr] = []
    for c in cols:
        if raw[c] == schema[c]:
            continue
        if schema[c] == pl.Date:
            fix.append(pl.col(c).str.to_date(_SQLITE_DATE))
        elif raw[c] == pl.String:
            fix.append(pl.col(c).str.to_datetime(_SQLITE_DATETIME, time_unit="us", time_zone="UTC"))
        else:
            fix.append(pl.col(c).dt.replace_time_zone("UTC"))
    return df.with_columns(fix)
