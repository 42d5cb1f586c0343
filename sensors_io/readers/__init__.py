"""Readers for each real export format, and the rules they share (timestamps, duplicates, quarantine).

Every reader returns a :class:`~sensors_io.schema.ReadResult` whose ``accepted`` frame has the canonical
columns (``sensors_io.schema.COUNTS_SCHEMA``) and whose accounting identity holds:
``rows_read == accepted + quarantined + duplicates``.

Duplicate rule (all readers): rows with the same ``ROW_KEY`` (sensor, mode, direction, start, interval)
inside one source are resolved by keeping the **last** one in file order (a later line is taken to be a
correction appended by the producer). Earlier rows with the same count (null equals null) are counted as
``duplicates`` and dropped; earlier rows with a different count go to quarantine with reason
``conflicting duplicate``, naming the line that was kept.
"""

from __future__ import annotations

import polars as pl

from collections.abc import Sequence

from sensors_io.schema import QUARANTINE_SCHEMA, ROW_KEY, SITES_SCHEMA, ReadResult, empty_quarantine

#: Accepts ``+02``, ``+0200``, ``+02:00`` offsets and optional fractional seconds (``%#z`` is lenient).
ISO_OFFSET_FORMAT = "%Y-%m-%dT%H:%M:%S%.f%#z"

#: Reason strings shared by the readers (tests and the quarantine report match on them).
REASON_CONFLICT = "conflicting duplicate"


def parse_iso_utc(expr: pl.Expr) -> pl.Expr:
    """Parse ISO 8601 strings that carry a UTC offset (or ``Z``) to Datetime(us, UTC); anything else → null.

    A timestamp without an offset is rejected (null) on purpose: its instant is ambiguous.

    Examples
    --------
    >>> import polars as pl
    >>> s = pl.Series(["2021-09-15T00:00:00+02", "2026-03-01T00:00:00.000Z", "2021-09-15 00:00"])
    >>> pl.select(parse_iso_utc(pl.lit(s))).to_series().to_list()[:2]
    [datetime.datetime(2021, 9, 14, 22, 0, tzinfo=zoneinfo.ZoneInfo(key='UTC')), datetime.datetime(2026, 3, 1, 0, 0, tzinfo=zoneinfo.ZoneInfo(key='UTC'))]
    """
    normalised = expr.str.strip_chars().str.replace(r"[Zz]$", "+00:00")
    return normalised.str.to_datetime(
        ISO_OFFSET_FORMAT, time_unit="us", time_zone="UTC", strict=False
    )


def quarantine_rows(
    frame: pl.DataFrame, *, source_file: str, line: str, column: str | pl.Expr, value: str | pl.Expr,
    reason: str | pl.Expr,
) -> pl.DataFrame:
    """Shape rejected rows as QUARANTINE_SCHEMA (column/value/reason given as names, literals or expressions)."""

    def as_expr(x: str | pl.Expr, literal: bool) -> pl.Expr:
        if isinstance(x, pl.Expr):
            return x
        return pl.lit(x) if literal else pl.col(x)

    return frame.select(
        source_file=pl.lit(source_file),
        line=pl.col(line),
        column=as_expr(column, literal=True),
        value=as_expr(value, literal=False),
        reason=as_expr(reason, literal=True),
    ).cast(dict(QUARANTINE_SCHEMA))


def resolve_duplicates(
    frame: pl.DataFrame, *, source_file: str, line: str = "line"
) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """Apply the shared duplicate rule: keep the last row per ROW_KEY; exact copies → duplicates, others → quarantine.

    Returns ``(kept, quarantine, n_duplicates)``. ``frame`` needs the ROW_KEY columns, ``count`` and ``line``;
    lines must be unique within a key (true for one CSV line or one JSON item per key).
    """
    key = list(ROW_KEY)
    marked = frame.with_columns(
        _kept_line=pl.col(line).max().over(key),
        _kept_count=pl.col("count").sort_by(line).last().over(key),
    )
    is_kept = pl.col(line) == pl.col("_kept_line")
    same = pl.col("count").eq_missing(pl.col("_kept_count"))
    kept = marked.filter(is_kept).drop("_kept_line", "_kept_count")
    n_duplicates = marked.filter(~is_kept & same).height
    conflicts = marked.filter(~is_kept & ~same)
    quarantine = quarantine_rows(
        conflicts,
        source_file=source_file,
        line=line,
        column="count",
        value=pl.col("count").cast(pl.String),
        reason=pl.format(REASON_CONFLICT + ": line {} kept (the last one)", pl.col("_kept_line")),
    )
    return kept, quarantine, n_duplicates


def collapse_sites(frame: pl.DataFrame, source: str) -> pl.DataFrame:
    """One row per ``site_id`` (first non-null name and position in file order), in SITES_SCHEMA."""
    return (
        frame.group_by("site_id", maintain_order=True)
        .agg(pl.all().drop_nulls().first())
        .with_columns(source=pl.lit(source))
        .select(list(SITES_SCHEMA))
        .cast(dict(SITES_SCHEMA))
    )


def finish_read(
    accepted: pl.DataFrame,
    quarantined: Sequence[pl.DataFrame],
    *,
    rows_read: int,
    duplicates: int,
    source: str,
    sites: pl.DataFrame | None = None,
) -> ReadResult:
    """Assemble a reader's result (quarantine sorted by line) and check no row was lost or invented."""
    result = ReadResult(
        accepted=accepted,
        quarantine=pl.concat([empty_quarantine(), *quarantined]).sort("line"),
        rows_read=rows_read,
        duplicates=duplicates,
        source=source,
        **({"sites": sites} if sites is not None else {}),
    )
    result.check_accounting()
    return result


# Imported after the shared helpers, which the reader modules use.
from sensors_io.readers.national import find_national_siblings, read_national_schema  # noqa: E402
from sensors_io.readers.telraam import read_telraam_json  # noqa: E402

__all__ = [
    "find_national_siblings",
    "parse_iso_utc",
    "read_national_schema",
    "read_telraam_json",
    "resolve_duplicates",
]
