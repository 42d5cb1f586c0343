"""Long hourly CSV with NAIVE local timestamps (one row per hour), e.g. UCI « Metro Interstate Traffic Volume ».

Rules:

- Columns: ``time_column`` (default ``date_time``) holds naive local wall-clock stamps
  (``YYYY-MM-DD HH:MM:SS``, ``YYYY-MM-DDTHH:MM:SS`` or ``YYYY-MM-DD HH:MM``) marking the **start** of the
  hour; ``count_column`` (default ``traffic_volume``) the count. Separator ``,`` or ``;`` (sniffed from the
  header); other columns are ignored. ``interval_s`` = 3600 (``interval_s=`` to change).
- One series per file: ``sensor_id`` = ``site_id`` = the ``sensor_id`` argument, else the file stem;
  ``mode`` = ``all_vehicles`` (``mode=``); ``direction`` = ``both`` (``direction=``).
- Time zone: ``tz`` (default ``Europe/Paris``, the town's). The UCI file, recognised by its header
  (:data:`UCI_COLUMNS`), defaults to ``America/Chicago`` (the dataset's documented zone), ``sensor_id``
  ``uci-i94-atr301`` and ``direction`` ``W`` (I-94 westbound, ATR 301); an explicit argument always wins.
- Naive → UTC:

  * a stamp inside the spring-forward gap (e.g. 02:30 on 2024-03-31 in Paris) names no instant: the row is
    quarantined (column = ``time_column``, reason :data:`REASON_NON_EXISTENT`);
  * a stamp in the autumn repeated hour is ambiguous. Rule: among the rows of one ambiguous stamp, the
    rows carrying the **first count value met in file order** take the **earlier** instant (summer time),
    rows carrying any other count take the **later** instant (standard time). So one row alone takes the
    earlier instant; two rows with different counts give both hours; two rows with the same count (UCI
    repeats a row per weather condition, and its 2012-11-04 01:00 hour appears twice with 730) are one hour
    written twice, not two hours, and the copy is counted as a duplicate.

- Counts: empty → null (not measured); ``0`` stays 0; decimals kept. Quarantined (first failing check
  wins): empty or unparseable stamp, non-numeric or non-finite count, negative count, a stamp after
  now + 1 day (shared :func:`~sensors_io.readers.split_future`). ``line`` is the
  1-based physical line (header = 1).
- Duplicates (same UTC hour after the rule above): the shared rule of :mod:`sensors_io.readers`: the last
  line is kept; earlier rows with the same count are ``duplicates``, with another count quarantined
  (``conflicting duplicate``).
- Files are UTF-8 (BOM tolerated) or cp1252 (shared rules of :mod:`sensors_io.readers`).
- A file without the time or count column (or not readable as a CSV) raises
  :class:`~sensors_io.errors.IngestError` naming the file, line 1 and the missing column.

This module also holds the CSV helpers shared by the ``;``-delimited French readers
(:mod:`~sensors_io.readers.paris_loops`, :mod:`~sensors_io.readers.ecocounter`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl

from sensors_io.errors import IngestError
from sensors_io.readers import (
    decode_head,
    finish_read,
    first_problem,
    problem,
    resolve_duplicates,
    split_future,
    split_problems,
)
from sensors_io.readers import read_csv_strings as shared_read_csv_strings
from sensors_io.schema import COUNTS_SCHEMA, ReadResult, conform

SOURCE = "naive_csv"

#: Header columns that identify the UCI Metro Interstate Traffic Volume file.
UCI_COLUMNS: frozenset[str] = frozenset({"holiday", "weather_main", "date_time", "traffic_volume"})
UCI_TZ = "America/Chicago"
UCI_SENSOR_ID = "uci-i94-atr301"
UCI_DIRECTION = "W"
DEFAULT_TZ = "Europe/Paris"

#: Naive formats tried in order (the first that parses wins).
NAIVE_FORMATS: tuple[str, ...] = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M")

REASON_BAD_TIME = "unparseable timestamp"
REASON_NON_EXISTENT = "non-existent local time (inside the spring-forward DST gap)"
REASON_NON_NUMERIC = "non-numeric count"
REASON_NEGATIVE = "negative count"

SNIFF_BYTES = 8192


# --------------------------------------------------------------------------------------------------
# Shared CSV helpers
# --------------------------------------------------------------------------------------------------


def normalise_name(name: str) -> str:
    """Column-name key used for matching: stripped of BOM, quotes and spaces, lower-case."""
    return name.replace("\ufeff", "").strip().strip('"').strip().lower()


def header_line(path: Path) -> str:
    """The first line of a file (BOM removed, undecodable bytes replaced)."""
    with open(path, "rb") as fh:
        raw = fh.read(SNIFF_BYTES)
    text = decode_head(raw)
    return text.splitlines()[0] if text else ""


def header_columns(head: str) -> set[str]:
    """Normalised column names of the first line of ``head``, split on ``;`` or ``,`` (the more frequent)."""
    first = head.splitlines()[0] if head else ""
    sep = ";" if first.count(";") > first.count(",") else ","
    return {normalise_name(c) for c in first.split(sep)}


def read_csv_strings(
    path: Path, required: Sequence[str], what: str, *, hint: str | None = None
) -> pl.DataFrame:
    """Read a CSV with every column as String, names normalised (:func:`normalise_name`), plus ``line``.

    The shared reader :func:`sensors_io.readers.read_csv_strings`: UTF-8 (BOM tolerated) or cp1252, the
    separator sniffed from the header (``;`` or ``,``), ``line`` the 1-based physical line (header = 1).
    ``required`` are column names as the source writes them; a missing one raises IngestError naming the
    file, line 1 and that column; so do an empty file, a header only, and a line with a wrong field count.
    """
    return shared_read_csv_strings(path, required, what, normalise=normalise_name, hint=hint)


def optional_column(frame: pl.DataFrame, name: str) -> pl.Expr:
    """The stripped column ``name`` (empty → null) if present, else a null String literal."""
    key = normalise_name(name)
    if key not in frame.columns:
        return pl.lit(None, dtype=pl.String)
    return pl.col(key).str.strip_chars().replace("", None)


def parse_number(raw: pl.Expr, *, decimal_comma: bool = False) -> pl.Expr:
    """String → Float64 (null when not a number). With ``decimal_comma``, ``12,5`` reads as 12.5."""
    text = raw.str.strip_chars()
    if decimal_comma:
        text = text.str.replace(r"^([+-]?\d+),(\d+)$", "${1}.${2}")
    return text.cast(pl.Float64, strict=False)


def count_problem(raw: pl.Expr, value: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """(is non-numeric/non-finite, is negative) conditions for a count given its raw text and parsed value."""
    non_numeric = raw.is_not_null() & (value.is_null() | ~value.is_finite())
    return non_numeric, value < 0


# --------------------------------------------------------------------------------------------------
# Naive local time → UTC
# --------------------------------------------------------------------------------------------------


def parse_naive(expr: pl.Expr) -> pl.Expr:
    """Parse naive local stamps (:data:`NAIVE_FORMATS`) to a naive Datetime(us); anything else → null."""
    text = expr.str.strip_chars()
    return pl.coalesce(
        [text.str.to_datetime(f, time_unit="us", strict=False, exact=True) for f in NAIVE_FORMATS]
    )


def localize_naive(tz: str, *, local: str = "local", count: str = "count", line: str = "line",
                   keys: Sequence[str] = ()) -> pl.Expr:
    """Expression giving ``start_utc`` for naive ``local`` stamps in ``tz`` with the ambiguity rule (module doc).

    Non-existent stamps give null. ``keys`` are extra series columns the rule is applied within.
    """
    earliest = pl.col(local).dt.replace_time_zone(tz, ambiguous="earliest", non_existent="null")
    latest = pl.col(local).dt.replace_time_zone(tz, ambiguous="latest", non_existent="null")
    group = [*keys, local]
    # Rank of the row's count among the stamp's distinct counts, by first appearance in file order.
    first_line_of_count = pl.col(line).min().over([*group, count])
    rank = first_line_of_count.rank("dense").over(group)
    chosen = pl.when(earliest.eq_missing(latest) | (rank == 1)).then(earliest).otherwise(latest)
    return chosen.dt.convert_time_zone("UTC").cast(pl.Datetime("us", "UTC"))


# --------------------------------------------------------------------------------------------------
# The reader
# --------------------------------------------------------------------------------------------------


def is_uci_header(columns: set[str]) -> bool:
    """True for the UCI Metro Interstate Traffic Volume header."""
    return UCI_COLUMNS <= columns


def read_naive_csv(
    path: Path,
    *,
    tz: str | None = None,
    sensor_id: str | None = None,
    mode: str = "all_vehicles",
    time_column: str = "date_time",
    count_column: str = "traffic_volume",
    direction: str | None = None,
    interval_s: int = 3600,
) -> ReadResult:
    """Read a long hourly CSV with naive local stamps (rules in the module docstring).

    ``tz=None`` means the file's documented zone: ``America/Chicago`` for the UCI file, else ``Europe/Paris``.
    """
    path = Path(path)
    source_file = str(path)
    uci = is_uci_header(header_columns(header_line(path)))
    tz = tz or (UCI_TZ if uci else DEFAULT_TZ)
    sensor_id = sensor_id or (UCI_SENSOR_ID if uci else path.stem)
    direction = direction or (UCI_DIRECTION if uci else "both")
    try:
        pl.select(pl.lit(None, dtype=pl.Datetime("us")).dt.replace_time_zone(tz))
    except pl.exceptions.PolarsError as exc:
        raise IngestError(path, "a valid IANA time zone (e.g. Europe/Paris)", found=tz,
                          hint="Pass --tz ZONE") from exc

    raw = read_csv_strings(path, (time_column, count_column), "naive hourly", hint=None)
    rows_read = raw.height
    tcol, ccol = normalise_name(time_column), normalise_name(count_column)
    count_raw = pl.col(ccol).str.strip_chars().replace("", None)
    frame = raw.select(
        "line",
        time_raw=pl.col(tcol),
        count_raw=count_raw,
        local=parse_naive(pl.col(tcol)),
        count=parse_number(count_raw),
    )
    non_numeric, negative = count_problem(pl.col("count_raw"), pl.col("count"))
    probe = pl.col("local").dt.replace_time_zone(tz, ambiguous="earliest", non_existent="null")
    frame = frame.with_columns(_bad=first_problem(
        (pl.col("local").is_null(),
         problem(time_column, "time_raw", f"{REASON_BAD_TIME} (expected naive YYYY-MM-DD HH:MM:SS)")),
        (probe.is_null(), problem(time_column, "time_raw", f"{REASON_NON_EXISTENT} in {tz}")),
        (non_numeric, problem(count_column, "count_raw", REASON_NON_NUMERIC)),
        (negative, problem(count_column, "count_raw", REASON_NEGATIVE)),
    ))
    good, rejected = split_problems(frame, source_file=source_file)
    good = good.select(
        "line",
        "time_raw",
        site_id=pl.lit(sensor_id),
        sensor_id=pl.lit(sensor_id),
        mode=pl.lit(mode),
        direction=pl.lit(direction),
        start_utc=localize_naive(tz),
        interval_s=pl.lit(interval_s, dtype=pl.Int32),
        count="count",
        source=pl.lit(SOURCE),
        source_file=pl.lit(source_file),
    )
    good, future = split_future(good, source_file=source_file, column=time_column, value="time_raw")
    kept, conflicts, n_duplicates = resolve_duplicates(good, source_file=source_file)
    accepted = conform(kept.sort("start_utc", "line")).collect()
    return finish_read(accepted.select(list(COUNTS_SCHEMA)), [rejected, future, conflicts],
                       rows_read=rows_read, duplicates=n_duplicates, source=SOURCE)


def _sniff(path: Path, head: str) -> str | None:
    cols = header_columns(head)
    return "data" if {"date_time", "traffic_volume"} <= cols else None


def _read(path: Path, **options: object) -> ReadResult:
    return read_naive_csv(path, **options)  # type: ignore[arg-type]


def _format():
    from sensors_io.detect import Format

    return Format(
        SOURCE,
        "Long hourly CSV with naive local timestamps (date_time, traffic_volume; UCI I-94 layout), --tz ZONE",
        _read,
        _sniff,
        ("date_time", "traffic_volume"),
    )


FORMAT = _format()

__all__ = ["FORMAT", "localize_naive", "parse_naive", "read_csv_strings", "read_naive_csv"]
