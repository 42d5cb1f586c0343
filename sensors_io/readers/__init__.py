"""Readers for each real export format, and the rules they share (timestamps, duplicates, quarantine).

Every reader returns a :class:`~sensors_io.schema.ReadResult` whose ``accepted`` frame has the canonical
columns (``sensors_io.schema.COUNTS_SCHEMA``) and whose accounting identity holds:
``rows_read == accepted + quarantined + duplicates``.

Duplicate rule (all readers): rows with the same ``ROW_KEY`` (sensor, mode, direction, start, interval)
inside one source are resolved by keeping the **last** one in file order (a later line is taken to be a
correction appended by the producer). Earlier rows with the same count (null equals null) are counted as
``duplicates`` and dropped; earlier rows with a different count go to quarantine with reason
``conflicting duplicate``, naming the line that was kept.

Bad input (all readers, tested in ``tests/sensors_io/test_bad_input.py``):

- Text is decoded as UTF-8 (a BOM is dropped); a file that is not valid UTF-8 is read as Windows-1252
  (cp1252, a superset of latin-1 for the printable range), as French spreadsheets export it. Binary files
  (NUL bytes, PNG/ZIP/… signatures) and bytes that neither encoding accepts raise
  :class:`~sensors_io.errors.IngestError`.
- CSV: the delimiter (``,`` or ``;``) is sniffed from the header line. An empty file, a header without
  data rows, or a record whose field count differs from the header's (a truncated last line, a line
  written with another delimiter) raise IngestError naming the line (and the first missing column).
- A row whose timestamp is after now + 1 day (:data:`FUTURE_TOLERANCE`) is quarantined with reason
  :data:`REASON_FUTURE` (:func:`split_future`), after the reader's own checks.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Sequence
from pathlib import Path

import polars as pl

from sensors_io.errors import IngestError
from sensors_io.schema import (
    QUARANTINE_SCHEMA,
    ROW_KEY,
    SITES_SCHEMA,
    ReadResult,
    empty_quarantine,
)

#: Accepts ``+02``, ``+0200``, ``+02:00`` offsets and optional fractional seconds (``%#z`` is lenient).
ISO_OFFSET_FORMAT = "%Y-%m-%dT%H:%M:%S%.f%#z"

#: Reason strings shared by the readers (tests and the quarantine report match on them).
REASON_CONFLICT = "conflicting duplicate"
REASON_FUTURE = "timestamp in the future"

#: A timestamp later than now + this is quarantined (:func:`split_future`); the slack absorbs clock skew
#: and sources stamped in a time zone ahead of UTC.
FUTURE_TOLERANCE = dt.timedelta(days=1)

#: Bytes read to sniff a file (format, delimiter, binary content).
SNIFF_BYTES = 8192
UTF8_BOM = b"\xef\xbb\xbf"
#: Encodings tried in order; cp1252 is the fallback of French spreadsheet exports.
FALLBACK_ENCODING = "cp1252"
TEXT_EXPECTED = "a text file (CSV or JSON) encoded in UTF-8 or Windows-1252 (cp1252)"

#: Leading bytes of binary formats that get renamed ``.csv``/``.json`` by mistake.
BINARY_SIGNATURES: dict[bytes, str] = {
    b"\x89PNG\r\n\x1a\n": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"%PDF": "a PDF document",
    b"PK\x03\x04": "a ZIP archive (an .xlsx/.ods spreadsheet?)",
    b"\xd0\xcf\x11\xe0": "an old Excel/Office document (.xls)",
    b"\x1f\x8b": "gzip-compressed data",
    b"PAR1": "a Parquet file",
    b"SQLite format 3\x00": "an SQLite database",
}


def utc_now() -> dt.datetime:
    """The current instant (UTC); a function so tests can pin it."""
    return dt.datetime.now(dt.UTC)


def binary_kind(head: bytes) -> str | None:
    """What a file's first bytes look like if they are not text (``"a PNG image"``, …), else None."""
    for signature, kind in BINARY_SIGNATURES.items():
        if head.startswith(signature):
            return kind
    if b"\x00" in head:
        return "binary data (NUL bytes)"
    sample = head[:SNIFF_BYTES]
    controls = sum(1 for b in sample if (b < 32 and b not in (9, 10, 12, 13)) or b == 127)
    if sample and controls / len(sample) > 0.05:
        return "binary data (control bytes)"
    return None


def decode_text(raw: bytes, path: str | Path) -> tuple[str, str]:
    """``(text, encoding)`` of a file's bytes: UTF-8 (BOM dropped), else cp1252; IngestError for binary data.

    Examples
    --------
    >>> decode_text("Débit".encode("cp1252"), "f.csv")
    ('Débit', 'cp1252')
    >>> decode_text("\ufeffDébit".encode("utf-8"), "f.csv")
    ('Débit', 'utf-8')
    """
    kind = binary_kind(raw[:SNIFF_BYTES])
    if kind is not None:
        raise IngestError(path, TEXT_EXPECTED, line=1, found=kind)
    body = raw.removeprefix(UTF8_BOM)
    try:
        return body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as utf8_error:
        try:
            return body.decode(FALLBACK_ENCODING), FALLBACK_ENCODING
        except UnicodeDecodeError:
            line = body.count(b"\n", 0, utf8_error.start) + 1
            raise IngestError(
                path, TEXT_EXPECTED, line=line, found=f"byte 0x{body[utf8_error.start]:02x}, valid in neither"
            ) from utf8_error


def decode_head(raw: bytes) -> str:
    """The first bytes of a file as text for sniffing: like :func:`decode_text`, tolerant of a cut character."""
    body = raw.removeprefix(UTF8_BOM)
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start >= len(body) - 3 and exc.reason == "unexpected end of data":
            return body[: exc.start].decode("utf-8", errors="replace")
        return body.decode(FALLBACK_ENCODING, errors="replace")


def sniff_separator(header: str) -> str:
    """``;`` when the header line has more semicolons than commas, else ``,``."""
    return ";" if header.count(";") > header.count(",") else ","


def read_csv_strings(
    path: str | Path,
    required: Sequence[str],
    what: str,
    *,
    normalise: Callable[[str], str] = lambda c: c.replace("\ufeff", "").strip().strip('"').strip().lower(),
    hint: str | None = None,
) -> pl.DataFrame:
    """Read a CSV with every column as String (empty → null), names normalised, plus ``line``.

    Decoding and delimiter as in the module docstring. ``line`` is the 1-based physical line (header = 1),
    exact unless a quoted field spans lines. ``required`` are column names as the source writes them; a
    missing one raises IngestError naming the file, line 1 and that column. Structural problems (empty
    file, header only, a record with another field count than the header) raise IngestError too.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise IngestError(path, f"a readable {what} CSV file", found=str(exc)) from exc
    text, encoding = decode_text(raw, path)
    if not text.strip():
        raise IngestError(path, f"a {what} CSV with a header line", line=1, found="an empty file")
    header_text = text.splitlines()[0]
    sep = sniff_separator(header_text)
    _check_records(path, text, sep, what)
    data = raw[len(UTF8_BOM):] if encoding == "utf-8" and raw.startswith(UTF8_BOM) else raw
    if encoding != "utf-8":
        data = text.encode("utf-8")
    try:
        frame = pl.read_csv(
            io.BytesIO(data),
            separator=sep,
            infer_schema=False,
            row_index_name="line",
            row_index_offset=2,  # header is line 1
            with_column_names=lambda cols: [normalise(c) for c in cols],
            raise_if_empty=True,
        )
    except pl.exceptions.NoDataError as exc:
        raise IngestError(path, f"a {what} CSV with a header line", line=1, found="an empty file") from exc
    except pl.exceptions.PolarsError as exc:
        raise IngestError(
            path, f"a readable {what} CSV ('{sep}' delimited)", found=str(exc).splitlines()[0] if str(exc) else None
        ) from exc
    missing = [c for c in required if normalise(c) not in frame.columns]
    if missing:
        raise IngestError(
            path,
            f"the {what} columns {', '.join(required)}",
            line=1,
            column=missing[0],
            found=header_text[:200],
            hint=hint or "Is this the right format? Otherwise use --format NAME or --mapping FILE",
        )
    return frame.with_columns(pl.col("line").cast(pl.Int64))


def _check_records(path: Path, text: str, sep: str, what: str) -> None:
    """Raise IngestError for a header without data rows or a record whose field count is not the header's."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    try:
        header = next(reader)
        n_fields = len(header)
        n_records = 0
        start = reader.line_num + 1
        for record in reader:
            line, start = start, reader.line_num + 1
            if not record:  # blank line: skipped by the CSV parser too
                continue
            n_records += 1
            if len(record) != n_fields:
                last = reader.line_num == text.count("\n") + (0 if text.endswith("\n") else 1)
                truncated = last and not text.endswith(("\n", "\r")) and len(record) < n_fields
                raise IngestError(
                    path,
                    f"{n_fields} fields on every line ('{sep}' delimited, like the header)",
                    line=line,
                    column=header[len(record)].strip() if len(record) < n_fields else None,
                    found=f"{len(record)} field{'s' if len(record) != 1 else ''}",
                    hint="The file looks truncated (its last line is cut): download or export it again"
                    if truncated
                    else "Was this line written with another delimiter, or is a quote missing?",
                )
    except csv.Error as exc:
        raise IngestError(path, f"a readable {what} CSV ('{sep}' delimited)", line=reader.line_num,
                          found=str(exc)) from exc
    if n_records == 0:
        raise IngestError(path, f"at least one data row after the {what} header", line=2,
                          found="only the header line")


def split_future(
    frame: pl.DataFrame,
    *,
    source_file: str,
    column: str,
    value: str | pl.Expr,
    start: str = "start_utc",
    line: str = "line",
    now: dt.datetime | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split rows whose ``start`` is after now + :data:`FUTURE_TOLERANCE`: ``(kept, quarantine)``.

    The quarantine rows name ``column`` (the source's time column) and ``value`` (its raw text: a column
    name or an expression), with reason :data:`REASON_FUTURE`. Shared by every reader.
    """
    cutoff = (now or utc_now()) + FUTURE_TOLERANCE
    future = pl.col(start) > pl.lit(cutoff).cast(pl.Datetime("us", "UTC"))
    quarantined = quarantine_rows(
        frame.filter(future), source_file=source_file, line=line, column=column, value=value, reason=REASON_FUTURE
    )
    return frame.filter(~future | pl.col(start).is_null()), quarantined


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


def problem(column: str | pl.Expr, value: str | pl.Expr, reason: str | pl.Expr) -> pl.Expr:
    """A row's problem as a struct: ``column`` and ``reason`` strings are literals, ``value`` a column name."""
    return pl.struct(
        column=pl.lit(column) if isinstance(column, str) else column,
        value=(pl.col(value) if isinstance(value, str) else value).cast(pl.String),
        reason=pl.lit(reason) if isinstance(reason, str) else reason,
    )


def first_problem(*checks: tuple[pl.Expr, pl.Expr]) -> pl.Expr:
    """The first failing ``(condition, problem(...))`` of each row, else null: one reason per rejected row."""
    (cond, prob), *rest = checks
    expr = pl.when(cond).then(prob)
    for cond, prob in rest:
        expr = expr.when(cond).then(prob)
    return expr


def split_problems(frame: pl.DataFrame, *, source_file: str, line: str = "line",
                   flag: str = "_bad") -> tuple[pl.DataFrame, pl.DataFrame]:
    """Rows without a problem, and the others shaped as quarantine rows (``flag`` holds first_problem)."""
    rejected = quarantine_rows(
        frame.filter(pl.col(flag).is_not_null()).unnest(flag), source_file=source_file, line=line,
        column=pl.col("column"), value=pl.col("value"), reason=pl.col("reason"),
    )
    return frame.filter(pl.col(flag).is_null()).drop(flag), rejected


def resolve_duplicates(
    frame: pl.DataFrame, *, source_file: str, line: str = "line"
) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """Apply the shared duplicate rule: keep the last row per ROW_KEY; exact copies → duplicates, others → quarantine.

    Returns ``(kept, quarantine, n_duplicates)``. ``frame`` needs the ROW_KEY columns, ``count`` and ``line``;
    lines must be unique within a key (true for one CSV line or one JSON item per key). The quarantine rows
    name the canonical column ``count``.
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
from sensors_io.readers.national import find_national_siblings, read_national_schema
from sensors_io.readers.telraam import read_telraam_json

__all__ = [
    "REASON_FUTURE",
    "decode_text",
    "find_national_siblings",
    "parse_iso_utc",
    "read_csv_strings",
    "read_national_schema",
    "read_telraam_json",
    "resolve_duplicates",
    "split_future",
]
