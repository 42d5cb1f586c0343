"""Long CSV in canonical column names, streamed: files larger than memory, millions of rows a second.

A *long CSV* has one row per sensor × time (× mode × direction), with columns named as the canonical
counts (case and surrounding spaces ignored):

========================= ===========================================================================
``sensor_id`` (required)  the counting device
``count`` (required)      a number ≥ 0; empty = not measured
time (required)           ``start_utc``, ``ts``, ``timestamp``, ``datetime`` or ``time``: interval start,
                          ISO 8601 with an offset or ``Z`` (UTC), or naive local time (``--tz``,
                          default the town's zone)
``mode``                  one of the canonical modes (default ``all_vehicles``)
``direction``             default ``both``
``site_id``               default the sensor id
``interval_s``            seconds; when absent, the most common step between a series' first rows
========================= ===========================================================================

How it stays fast and bounded (PERFORMANCE.md): the file is never held in memory.

1. One streaming Polars plan parses every line (strings → types with one timestamp format detected
   from the first rows, so the parse is a fixed-format one; the mode as an Enum of the canonical modes),
   judges it by the checks, and feeds two sinks from the one scan: the parsed rows go to the staged
   Parquet file, and the rejected ones, with their line, problem code and raw text, to a temporary file.
   The staged file holds only the columns the CSV varies: values the same on every row (source, file
   name, staging order, a default mode, direction or interval, absent optional columns) are kept once
   in its metadata and added back by :func:`scan_staged`.
2. Duplicate keys are found from 64-bit hashes of the key columns (8 bytes a row, sorted in buckets
   when the file is big), so only rows whose key occurs twice are ever gathered and resolved exactly, by
   the shared rule (:func:`sensors_io.readers.resolve_duplicates`: the last line wins, exact copies are
   duplicates, conflicting copies go to quarantine). The resolved rows are written beside the staged
   file (``<key>.fix.parquet``), and :func:`scan_staged` serves them in place of the repeated ones.
3. Rejected rows go to quarantine with line, column, value and reason.
   ``rows read = accepted + quarantined + duplicates`` holds exactly.

Naive local times: a local time that does not exist (the spring-forward hour) is quarantined; a local
time that occurs twice (the autumn hour) takes the earlier offset on its first line and the later
offset on the second line of the same series, as clocks write it.

A file that is not valid UTF-8 is transcoded from Windows-1252 to a temporary UTF-8 copy, in chunks.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import os
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from sensors_io.errors import IngestError
from sensors_io.readers import (
    FALLBACK_ENCODING,
    FUTURE_TOLERANCE,
    REASON_FUTURE,
    TEXT_EXPECTED,
    UTF8_BOM,
    binary_kind,
    resolve_duplicates,
    sniff_separator,
    utc_now,
)
from sensors_io.schema import COUNTS_SCHEMA, MODES, OPTIONAL_SCHEMA, QUARANTINE_SCHEMA, ROW_KEY, ReadResult

SOURCE = "long_csv"
TIME_COLUMNS = ("start_utc", "ts", "timestamp", "datetime", "time")
REQUIRED = ("sensor_id", "count")
DEFAULT_MODE = "all_vehicles"
#: Rows whose timestamps are sampled to choose the fixed parse format and the interval.
SAMPLE_ROWS = 2000
#: Hash buckets are sized so that one bucket's hashes take at most this many rows (8 bytes each).
BUCKET_ROWS = 4_000_000

#: Fixed formats tried on the sample, in order (aware ones first); the first that parses every sampled
#: value is used for the whole file, and a row it does not parse is quarantined naming it.
AWARE_FORMATS = (
    "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S%.fZ", "%Y-%m-%dT%H:%M:%S%:z", "%Y-%m-%dT%H:%M:%S%.f%:z",
    "%Y-%m-%d %H:%M:%S%:z", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S%z", "%Y-%m-%dT%H:%M:%S%#z",
    "%Y-%m-%d %H:%M:%S%#z",
)
NAIVE_FORMATS = ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M")


@dataclass
class StreamStats:
    """Accounting of one streamed source."""

    rows_read: int
    accepted: int
    quarantined: int
    duplicates: int
    first_utc: dt.datetime | None
    last_utc: dt.datetime | None


def _normalise(name: str) -> str:
    return name.replace("\ufeff", "").strip().strip('"').strip().lower()


@dataclass(frozen=True)
class _Layout:
    sep: str
    columns: tuple[str, ...]  # normalised, in file order
    time_column: str
    time_format: str
    aware: bool
    interval_s: int | None  # None: the file has an interval_s column
    padded: bool  # sampled values carry surrounding spaces: strip every value


def _head_lines(path: Path, n: int) -> tuple[list[str], str]:
    """The first ``n`` lines (decoded) and the encoding the file seems to use."""
    with open(path, "rb") as fh:
        raw = fh.read(1 << 20)
    kind = binary_kind(raw[:8192])
    if kind is not None:
        raise IngestError(path, TEXT_EXPECTED, line=1, found=kind, hint="Was a file of another kind renamed to .csv?")
    raw = raw.removeprefix(UTF8_BOM)
    try:
        text, encoding = raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start > len(raw) - 4:  # a multi-byte character cut by the 1 MiB window
            text, encoding = raw[: exc.start].decode("utf-8"), "utf-8"
        else:
            text, encoding = raw.decode(FALLBACK_ENCODING, errors="replace"), FALLBACK_ENCODING
    lines = text.splitlines()
    return lines[:n], encoding


def _detect_format(path: Path, values: list[str], column: str) -> tuple[str, bool]:
    """(format, aware) parsing every sampled timestamp; IngestError naming the first one none parses."""
    sample = pl.Series([v.strip() for v in values if v.strip()], dtype=pl.String)
    if sample.is_empty():
        raise IngestError(path, f"timestamps in column {column!r}", line=2, column=column, found="empty values")
    best: tuple[int, str, bool] | None = None
    for fmt, aware in [*((f, True) for f in AWARE_FORMATS), *((f, False) for f in NAIVE_FORMATS)]:
        kw = {"time_zone": "UTC"} if aware else {}
        parsed = sample.str.to_datetime(fmt, strict=False, time_unit="us", **kw).len() - \
            sample.str.to_datetime(fmt, strict=False, time_unit="us", **kw).null_count()
        if parsed == sample.len():
            return fmt, aware
        if best is None or parsed > best[0]:
            best = (parsed, fmt, aware)
    # The format most sampled stamps follow; the others are quarantined naming it.
    if best is not None and 2 * best[0] > sample.len():
        return best[1], best[2]
    raise IngestError(
        path, "ISO 8601 timestamps (2024-03-31T01:00:00Z, …+02:00, or naive 2024-03-31 01:00:00)",
        line=2, column=column, found=values[0][:40],
        hint="For other timestamp layouts, describe the file with --mapping FILE (README, \"Mapping files\")",
    )


def sniff(path: Path, head: str) -> str | None:
    """``data`` when the header names the canonical long columns (sensor_id, count and a time column)."""
    first = head.splitlines()[0] if head else ""
    sep = ";" if first.count(";") > first.count(",") else ","
    cols = {_normalise(c) for c in first.split(sep)}
    return "data" if set(REQUIRED) <= cols and cols & set(TIME_COLUMNS) else None


def _layout(path: Path, tz: str | None) -> tuple[_Layout, str]:
    lines, encoding = _head_lines(path, SAMPLE_ROWS + 1)
    if not lines or not lines[0].strip():
        raise IngestError(path, "a long CSV with a header line", line=1, found="an empty file")
    sep = sniff_separator(lines[0])
    columns = tuple(_normalise(c) for c in next(csv.reader([lines[0]], delimiter=sep)))
    missing = [c for c in REQUIRED if c not in columns]
    time_cols = [c for c in TIME_COLUMNS if c in columns]
    if missing or not time_cols:
        raise IngestError(path, f"the long CSV columns sensor_id, count and one of {', '.join(TIME_COLUMNS)}",
                          line=1, column=missing[0] if missing else "start_utc", found=lines[0][:200],
                          hint="Otherwise use --format NAME or --mapping FILE")
    rows = [r for r in csv.reader(lines[1:], delimiter=sep) if r]
    if not rows:
        raise IngestError(path, "data rows after the header", line=2, found="end of file (header only)")
    ti, si = columns.index(time_cols[0]), columns.index("sensor_id")
    fmt, aware = _detect_format(path, [r[ti] for r in rows if len(r) > ti], time_cols[0])
    interval = None
    if "interval_s" not in columns:
        interval = _infer_interval(path, rows, si, ti, fmt, aware,
                                   [columns.index(c) for c in ("mode", "direction") if c in columns])
    padded = any(v != v.strip() for r in rows[:SAMPLE_ROWS] for v in r)
    return _Layout(sep, columns, time_cols[0], fmt, aware, interval, padded), encoding


def _infer_interval(path: Path, rows: list[list[str]], si: int, ti: int, fmt: str, aware: bool,
                    extra: list[int]) -> int:
    """The most common positive step between consecutive sampled stamps of a series."""
    n = max(si, ti, *extra) + 1
    ok = [r for r in rows if len(r) >= n]
    frame = pl.DataFrame({"k": ["\x1f".join(r[i] for i in (si, *extra)) for r in ok], "t": [r[ti].strip() for r in ok]})
    kw = {"time_zone": "UTC"} if aware else {}
    steps = (
        frame.with_columns(pl.col("t").str.to_datetime(fmt, strict=False, time_unit="us", **kw))
        .with_columns(d=pl.col("t").diff().over("k").dt.total_seconds())
        .filter(pl.col("d") > 0)["d"]
    )
    if steps.is_empty():
        raise IngestError(path, "an interval_s column, or at least two rows of one series to infer the interval",
                          line=1, column="interval_s", found="one row per series in the first rows")
    return int(steps.mode().sort()[0])


def _transcode(path: Path, work: Path) -> Path:
    """A UTF-8 copy of a Windows-1252 file, written in chunks (bounded memory)."""
    out = work / f"{uuid.uuid4().hex}.utf8.csv"
    dec = codecs.getincrementaldecoder(FALLBACK_ENCODING)()
    with open(path, "rb") as src, open(out, "w", encoding="utf-8", newline="") as dst:
        for chunk in iter(lambda: src.read(1 << 22), b""):
            try:
                dst.write(dec.decode(chunk))
            except UnicodeDecodeError as exc:
                raise IngestError(path, TEXT_EXPECTED, found=f"bytes {chunk[exc.start:exc.start + 4].hex(' ')}") from exc
        dst.write(dec.decode(b"", final=True))
    return out


def _ragged_line(path: Path, sep: str, encoding: str) -> tuple[int, int]:
    """(line, fields) of the first record with more fields than the header (error path only)."""
    with open(path, encoding=encoding, errors="replace", newline="") as fh:
        reader = csv.reader(fh, delimiter=sep)
        width = len(next(reader))
        for row in reader:
            if len(row) > width:
                return reader.line_num, len(row)
    return 0, width


def _parse_plan(csv_path: Path, lay: _Layout, tz: str, source_file: str, now: dt.datetime,
                seq: int | None = None) -> tuple[pl.LazyFrame, pl.LazyFrame, dict[str, object], list[tuple[str, str, str]]]:
    """Every line parsed and checked, as two plans over one scan: the rows without problems (the columns the
    file varies, in file order, and ``_amb`` for naive times: an ambiguous autumn local time), and the
    rejected rows (``_line``, the first problem's code ``_code`` and raw texts); with the
    values that are the same for every row, and the checks ``(column, raw field, reason)`` the codes index."""
    lf = pl.scan_csv(
        csv_path, separator=lay.sep, infer_schema=False, row_index_name="_line", row_index_offset=2,
        with_column_names=lambda cols: [_normalise(c) for c in cols], encoding="utf8",
    )
    cols = set(lay.columns)

    def text(name: str) -> pl.Expr:
        # Stripping every value costs ~0.25 s per 7 M; it is done only when the sampled rows are padded.
        return pl.col(name).str.strip_chars() if lay.padded else pl.col(name)

    raw_t = text(lay.time_column)
    if lay.aware:
        start = raw_t.str.to_datetime(lay.time_format, strict=False, time_unit="us", time_zone="UTC", cache=False)
    else:
        naive = raw_t.str.to_datetime(lay.time_format, strict=False, time_unit="us", cache=False)
        start = naive.dt.replace_time_zone(tz, ambiguous="earliest", non_existent="null").dt.convert_time_zone("UTC")
        later = naive.dt.replace_time_zone(tz, ambiguous="latest", non_existent="null").dt.convert_time_zone("UTC")
        amb = start != later
        naive_ok = naive.is_not_null()
    raw_c = text("count")
    count = raw_c.cast(pl.Float64, strict=False)
    sensor = text("sensor_id")
    cutoff = pl.lit(now + FUTURE_TOLERANCE).cast(pl.Datetime("us", "UTC"))
    gap_reason = (f"a timestamp as {lay.time_format}" if lay.aware
                  else f"a local time ({tz}) as {lay.time_format}")
    # Typed columns are computed once; the checks below refer to them by name (a when/then chain
    # over expressions would evaluate each parse once per branch). Columns the file does not have are
    # neither computed nor checked: their value is the same on every row (kept in the metadata below).
    typed_cols: dict[str, pl.Expr] = {"_rt": raw_t, "_rc": raw_c, "sensor_id": sensor, "start_utc": start,
                                      "count": count}
    if "site_id" in cols:
        typed_cols["site_id"] = text("site_id").fill_null(sensor)
    if "mode" in cols:
        # Parsed as an Enum of the canonical modes: the cast is the check (an unknown mode is null), and an
        # Enum is written and hashed faster than text (~0.4 s of CPU per 7 M rows). scan_staged gives text.
        typed_cols["_rm"] = text("mode")
        typed_cols["mode"] = text("mode").cast(pl.Enum(list(MODES)), strict=False)
    if "direction" in cols:
        typed_cols["direction"] = text("direction").fill_null("both")
    if lay.interval_s is None:
        typed_cols["_ri"] = text("interval_s")
        typed_cols["interval_s"] = text("interval_s").cast(pl.Int32, strict=False)
    if not lay.aware:
        typed_cols["_naive_ok"] = naive_ok
        typed_cols["_amb"] = amb
    typed = lf.select(pl.col("_line").cast(pl.Int64), **typed_cols)
    c = pl.col
    checks: list[tuple[pl.Expr, str, str, str]] = [
        (c("sensor_id").is_null() | (c("sensor_id") == ""), "sensor_id", "sensor_id", "missing sensor_id"),
        (c("_rt").is_null() | (c("_rt") == ""), lay.time_column, "_rt", "missing timestamp"),
    ]
    if not lay.aware:
        checks.append((c("_naive_ok") & c("start_utc").is_null(), lay.time_column, "_rt",
                       f"local time does not exist in {tz} (clocks moved forward)"))
    checks.append((c("start_utc").is_null(), lay.time_column, "_rt", f"timestamp does not parse: expected {gap_reason}"))
    if "mode" in cols:
        checks.append((c("mode").is_null(), "mode", "_rm", f"unknown mode: expected one of {', '.join(MODES)}"))
    if lay.interval_s is None:
        checks.append((c("interval_s").is_null() | (c("interval_s") <= 0), "interval_s", "_ri",
                       "interval_s: expected a positive whole number of seconds"))
    checks += [
        # null count (not measured) is fine when the field is empty; a text that is not a finite number is not
        ((c("count").is_null() & (c("_rc").str.len_bytes() > 0)) | ~c("count").is_finite(), "count", "_rc",
         "count is not a number"),
        (c("count") < 0, "count", "_rc", "negative count"),
        (c("start_utc") > cutoff, lay.time_column, "_rt", REASON_FUTURE),
    ]
    # Every row is judged by one OR of the checks (a null check counts as passed); the first failing
    # check's code is worked out for the rejected rows alone.
    code = pl.when(checks[0][0]).then(pl.lit(0, pl.Int8))
    for i, (cond, *_rest) in enumerate(checks[1:], start=1):
        code = code.when(cond).then(pl.lit(i, pl.Int8))
    typed = typed.with_columns(_bad=pl.any_horizontal(*(ch[0] for ch in checks)).fill_null(False))
    # The staged file holds only what varies from row to row; what is the same for every row of the file
    # (source, file name, _seq, absent optional columns, a default direction or interval, a site equal to
    # the sensor) is kept once, in the file's metadata, and added back by scan_staged (~0.4 s per 7 M rows).
    varying = [name for name in COUNTS_SCHEMA if name in typed_cols]  # canonical order
    defaults = {"site_id": {"column": "sensor_id"}, "mode": DEFAULT_MODE, "direction": "both",
                "interval_s": lay.interval_s}
    const: dict[str, object] = {"source": SOURCE, "source_file": source_file,
                                **({"_seq": seq} if seq is not None else {}),
                                **{name: v for name, v in defaults.items() if name not in typed_cols}}
    ok = ~c("_bad")
    # Parsed rows carry no line number (writing one costs ~0.2 s per 7 M rows): the rows are in file order,
    # and the few that need one (duplicate candidates) get it back from the rejected rows' lines (_good_lines).
    # Nor a key hash: the duplicate pass computes it from the key columns (storing it doubled the file).
    good = typed.filter(ok).select(*varying, *([] if lay.aware else ["_amb"]))
    # Rejected rows keep their problem's code and raw texts; column names, values and reasons are looked
    # up for those rows alone when the quarantine is written (:func:`_quarantine`).
    bad = typed.filter(c("_bad")).select("_line", _code=code,
                                         **{f"_raw{k}": k for k in dict.fromkeys(ch[2] for ch in checks)})
    return good, bad, const, [(ch[1], ch[2], ch[3]) for ch in checks]


def _quarantine(scan: pl.LazyFrame, checks: list[tuple[str, str, str]], source_file: str) -> pl.LazyFrame:
    """Rejected rows in QUARANTINE_SCHEMA, from their problem code (see :func:`_parse_plan`), lazily: a file
    whose rows are mostly rejected is streamed to quarantine too, in line order."""
    bad = scan.filter(pl.col("_code").is_not_null())
    codes = list(range(len(checks)))
    value = pl.lit(None, pl.String)
    for i, (_col, raw, _reason) in enumerate(checks):
        value = pl.when(pl.col("_code") == i).then(pl.col(f"_raw{raw}")).otherwise(value)
    return bad.select(
        source_file=pl.lit(source_file), line=pl.col("_line"),
        column=pl.col("_code").cast(pl.Int64).replace_strict(codes, [c[0] for c in checks], return_dtype=pl.String),
        value=value,
        reason=pl.col("_code").cast(pl.Int64).replace_strict(codes, [c[2] for c in checks], return_dtype=pl.String),
    ).cast(dict(QUARANTINE_SCHEMA))


def _key_hash(names: Sequence[str]) -> pl.Expr:
    """A 64-bit hash of the row key over the key columns a parsed file has (the others are the same on
    every row). Per-column hashes seeded apart and combined by XOR cost a fifth of a struct's row hash; a
    collision only makes two different keys candidates, and the exact rule then keeps both."""
    h = pl.col("sensor_id").hash(1) ^ pl.col("start_utc").hash(2)
    for seed, name in ((3, "mode"), (4, "direction"), (5, "interval_s")):  # ROW_KEY's other columns
        if name in names:
            h = h ^ pl.col(name).hash(seed)
    return h.alias("_h")


def _repeated_rows(parsed: Path, rows: int) -> tuple[pl.DataFrame, dt.datetime | None, dt.datetime | None]:
    """Positions ``_i`` and key hashes ``_h`` of the parsed rows whose key hash occurs more than once (hashes
    sorted in buckets when the file is big), and the first and last ``start_utc`` of the parsed rows,
    read in the same pass."""
    buckets = max(1, -(-rows // BUCKET_ROWS))
    found, lows, highs = [], [], []
    names = pl.scan_parquet(parsed).collect_schema().names()
    for b in range(buckets):
        scan = pl.scan_parquet(parsed, row_index_name="_i").select("_i", _key_hash(names), "start_utc")
        if buckets > 1:
            scan = scan.filter((pl.col("_h") % buckets) == b)
        frame = scan.collect()
        lows.append(frame["start_utc"].min())
        highs.append(frame["start_utc"].max())
        h = frame["_h"].sort(multithreaded=True)
        repeated = h.filter(h == h.shift(1)).unique()
        found.append(frame.filter(pl.col("_h").is_in(repeated.implode())).select("_i", "_h"))
    lows, highs = [x for x in lows if x is not None], [x for x in highs if x is not None]
    return pl.concat(found), min(lows) if lows else None, max(highs) if highs else None


def _good_lines(index: pl.Series, rejected_lines: pl.Series) -> pl.Series:
    """Line numbers of parsed rows from their 0-based positions in the parsed file, which holds the file's
    lines from line 2 on, in order, minus the rejected ones (``rejected_lines``, ascending).

    The j-th rejected line (0-based) ``b_j`` has ``g_j = b_j - 2 - j`` parsed rows before it, so the row at
    position ``i`` comes after the rejected lines with ``g_j <= i``: its line is ``i + 2 + #{j: g_j <= i}``.

    >>> _good_lines(pl.Series([0, 1, 2, 3]), pl.Series([3, 4, 7])).to_list()
    [2, 5, 6, 8]
    """
    g = rejected_lines.cast(pl.Int64) - 2 - pl.int_range(rejected_lines.len(), dtype=pl.Int64, eager=True)
    before = g.search_sorted(index.cast(pl.Int64), side="right").cast(pl.Int64)
    return (index.cast(pl.Int64) + 2 + before).alias("_line")


def _resolve_candidates(cands: pl.DataFrame, source_file: str) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """Exact duplicate rule on the rows whose key hash repeats (ambiguous autumn hours first)."""
    if cands.is_empty():
        return cands, pl.DataFrame(schema=QUARANTINE_SCHEMA), 0
    key = list(ROW_KEY)
    # Autumn repeated local hour: the 2nd line of one series' same local time is the later instant.
    rank = pl.col("_line").rank("ordinal").over(key)
    if "_amb" not in cands.columns:
        cands = cands.with_columns(_amb=pl.lit(False))
    cands = cands.with_columns(
        start_utc=pl.when(pl.col("_amb") & (rank == 2)).then(pl.col("start_utc") + pl.duration(hours=1))
        .otherwise(pl.col("start_utc"))
    )
    kept, conflicts, n_dup = resolve_duplicates(cands.rename({"_line": "line"}), source_file=source_file)
    return kept.rename({"line": "_line"}), conflicts, n_dup


#: Parquet metadata key holding the values every row of a streamed staged file shares (JSON).
CONSTANTS_KEY = "mobility.constants"


def _sink_parsed(csv_path: Path, lay: _Layout, tz: str, source_file: str, now: dt.datetime | None,
                 seq: int | None, out: Path, rejected_out: Path) -> list[tuple[str, str, str]]:
    """One pass over the CSV writing the parsed rows to ``out`` and the rejected ones to ``rejected_out``."""
    import json

    good, bad, const, checks = _parse_plan(csv_path, lay, tz, source_file, now or utc_now(), seq)
    # Both sinks run over one scan of the file (collect_all shares the common plan).
    pl.collect_all([
        good.sink_parquet(out, compression="lz4", statistics=True, metadata={CONSTANTS_KEY: json.dumps(const)},
                          lazy=True),
        bad.sink_parquet(rejected_out, compression="lz4", lazy=True),
    ], engine="streaming")
    return checks


def write_parquet_atomic(frame: pl.DataFrame | pl.LazyFrame, target: Path) -> None:
    """Write ``frame`` (a lazy one is streamed) to a hidden temporary file beside ``target``, then rename:
    a crash never leaves a partial Parquet file under its final name (the stagers' one writer)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        if isinstance(frame, pl.LazyFrame):
            frame.sink_parquet(tmp, compression="zstd", statistics=True)
        else:
            frame.write_parquet(tmp, compression="zstd", statistics=True)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def stream_long_csv(
    path: str | Path, accepted_out: Path, quarantine_out: Path, *, tz: str | None = None,
    seq: int | None = None, work_dir: Path | None = None, now: dt.datetime | None = None,
) -> StreamStats:
    """Stream a long CSV to ``accepted_out`` (read it with :func:`scan_staged`: canonical + optional columns,
    plus ``_seq`` when given) and ``quarantine_out`` (QUARANTINE_SCHEMA); both written aside then renamed.
    Returns the accounting."""
    path = Path(path)
    tz = tz or "Europe/Paris"
    lay, encoding = _layout(path, tz)
    source_file = str(path)
    with tempfile.TemporaryDirectory(dir=work_dir, prefix=".stream-") as tmpd:
        work = Path(tmpd)
        csv_path = path if encoding == "utf-8" else _transcode(path, work)
        accepted_out.parent.mkdir(parents=True, exist_ok=True)
        quarantine_out.parent.mkdir(parents=True, exist_ok=True)
        parsed = accepted_out.with_name(f".{accepted_out.name}.{uuid.uuid4().hex}.parsed")
        rejected = work / ".rejected.parquet"
        try:
            try:
                checks = _sink_parsed(csv_path, lay, tz, source_file, now, seq, parsed, rejected)
            except pl.exceptions.PolarsError as exc:
                msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                if "more fields" in msg:
                    line, n = _ragged_line(csv_path, lay.sep, "utf-8")
                    raise IngestError(path, f"{len(lay.columns)} '{lay.sep}'-separated fields as in the header",
                                      line=line, found=f"{n} fields") from exc
                if "utf" not in msg.lower():
                    raise IngestError(path, f"a readable '{lay.sep}'-delimited long CSV", found=msg) from exc
                csv_path = _transcode(path, work)
                checks = _sink_parsed(csv_path, lay, tz, source_file, now, seq, parsed, rejected)
            n_good = pl.scan_parquet(parsed).select(pl.len()).collect().item()
            n_bad = pl.scan_parquet(rejected).select(pl.len()).collect().item()
            rows_read = n_good + n_bad
            repeated, first_utc, last_utc = _repeated_rows(parsed, n_good)
            conflicts = pl.DataFrame(schema=QUARANTINE_SCHEMA)
            n_dup, n_kept, n_cand = 0, 0, 0
            fix = fix_path(accepted_out)
            fix.unlink(missing_ok=True)
            if repeated.height:
                # Rows whose key repeats are gathered by position, resolved exactly and written beside the
                # staged file; scan_staged serves them in place of the staged file's copies. In buckets of
                # key hashes, so that a file made mostly of duplicates stays bounded too.
                buckets = max(1, -(-repeated["_h"].n_unique() // (BUCKET_ROWS // 8)))
                scan = pl.scan_parquet(parsed, row_index_name="_i")
                rejected_lines = pl.read_parquet(rejected, columns=["_line"])["_line"]
                parts, conf_parts = [], []
                for b in range(buckets):
                    at = repeated if buckets == 1 else repeated.filter(pl.col("_h") % buckets == b)
                    cands = _with_constants(scan.filter(pl.col("_i").is_in(at["_i"].implode())), parsed).collect()
                    cands = cands.with_columns(_good_lines(cands["_i"], rejected_lines)).drop("_i")
                    kept, conf, nd = _resolve_candidates(cands, source_file)
                    # The accepted rows' bounds: the parsed rows' bounds, widened by the resolved copies (a
                    # repeated key's own instant is among them; an autumn hour's second copy moves later).
                    if kept.height:
                        lo, hi = kept["start_utc"].min(), kept["start_utc"].max()
                        first_utc = lo if first_utc is None else min(first_utc, lo)
                        last_utc = hi if last_utc is None else max(last_utc, hi)
                    n_cand, n_kept, n_dup = n_cand + cands.height, n_kept + kept.height, n_dup + nd
                    conf_parts.append(conf)
                    part = work / f".fix-{b}.parquet"
                    kept.select(_staged_columns(seq)).write_parquet(part, compression="lz4")
                    parts.append(part)
                write_parquet_atomic(pl.scan_parquet(parts), fix)
                conflicts = pl.concat(conf_parts)
            if n_bad and conflicts.is_empty():
                quarantine = _quarantine(pl.scan_parquet(rejected), checks, source_file)  # in line order
            elif n_bad:
                quarantine = pl.concat([_quarantine(pl.scan_parquet(rejected), checks, source_file),
                                        conflicts.lazy().cast(dict(QUARANTINE_SCHEMA))]).sort("line")
            else:
                quarantine = conflicts.lazy().select(list(QUARANTINE_SCHEMA)).cast(dict(QUARANTINE_SCHEMA)).sort("line")
            write_parquet_atomic(quarantine, quarantine_out)
            os.replace(parsed, accepted_out)
        finally:
            parsed.unlink(missing_ok=True)
    accepted = rows_read - n_bad - n_cand + n_kept
    stats = StreamStats(rows_read, accepted, n_bad + conflicts.height, n_dup, first_utc, last_utc)
    if stats.accepted + stats.quarantined + stats.duplicates != stats.rows_read:
        raise AssertionError(f"{path}: rows read {rows_read} != accepted {stats.accepted} + quarantined "
                             f"{stats.quarantined} + duplicates {n_dup}")
    return stats


def fix_path(staged: Path) -> Path:
    """The companion of a streamed staged file holding its resolved duplicate rows."""
    return staged.with_name(staged.name.removesuffix(".parquet") + ".fix.parquet")


def _staged_columns(seq: int | None) -> list[str]:
    return [*COUNTS_SCHEMA, *OPTIONAL_SCHEMA, *(["_seq"] if seq is not None else [])]


_STAGED_TYPES = {**COUNTS_SCHEMA, **OPTIONAL_SCHEMA, "_seq": pl.Int32}


def _with_constants(lf: pl.LazyFrame, path: Path) -> pl.LazyFrame:
    """``lf`` (a scan of the streamed staged file ``path``) with the columns its metadata holds once added
    back, every staged column in its canonical type."""
    import json

    meta = pl.read_parquet_metadata(path)
    if CONSTANTS_KEY not in meta:
        return lf
    const = json.loads(meta[CONSTANTS_KEY])
    schema = lf.collect_schema()
    add = []
    for name, dtype in _STAGED_TYPES.items():
        if name in schema:
            if schema[name] != dtype:  # mode is stored as an Enum
                add.append(pl.col(name).cast(dtype))
            continue
        if name not in const:
            if name == "_seq":
                continue
            add.append(pl.lit(None, dtype).alias(name))
        elif isinstance(const[name], dict):
            add.append(pl.col(const[name]["column"]).cast(dtype).alias(name))
        else:
            add.append(pl.lit(const[name], dtype).alias(name))
    return lf.with_columns(add)


def scan_staged(path: Path) -> pl.LazyFrame:
    """The accepted rows of a staged file, whichever way it was staged (canonical + optional columns and
    ``_seq`` when present). A streamed file keeps the values shared by every row in its metadata (added
    back here), and its rows whose key repeats are replaced by their resolved versions, kept in its
    ``.fix.parquet`` companion. (A file streamed by an earlier version also holds rejected rows, with a
    problem code: they are skipped.)"""
    path = Path(path)
    lf = _with_constants(pl.scan_parquet(path), path)
    names = lf.collect_schema().names()
    cols = [c for c in _staged_columns(0) if c in names]
    if "_code" in names:
        lf = lf.filter(pl.col("_code").is_null())
    fix = fix_path(path)
    if not fix.exists():
        return lf.select(cols)
    fixed = pl.scan_parquet(fix).select(cols)
    return pl.concat([lf.select(cols).join(fixed.select(ROW_KEY).unique(), on=list(ROW_KEY), how="anti"), fixed])


def read_long_csv(path: str | Path, *, tz: str | None = None) -> ReadResult:
    """:func:`stream_long_csv` into a temporary folder, read back as a :class:`ReadResult` (small files, tests)."""
    with tempfile.TemporaryDirectory(prefix="long-csv-") as tmpd:
        acc, qua = Path(tmpd) / "a.parquet", Path(tmpd) / "q.parquet"
        stats = stream_long_csv(path, acc, qua, tz=tz, work_dir=Path(tmpd))
        accepted = scan_staged(acc).select(list(COUNTS_SCHEMA)).sort([*ROW_KEY]).collect()
        quarantine = pl.read_parquet(qua)
    result = ReadResult(accepted, quarantine, rows_read=stats.rows_read, duplicates=stats.duplicates, source=SOURCE)
    result.check_accounting()
    return result


def _read(path: Path, **options: object) -> ReadResult:
    return read_long_csv(path, **options)  # type: ignore[arg-type]


def _stream(files: Sequence[Path], accepted_out: Path, quarantine_out: Path, *, seq: int, work_dir: Path,
            **options: object) -> StreamStats:
    return stream_long_csv(files[0], accepted_out, quarantine_out, seq=seq, work_dir=work_dir, **options)  # type: ignore[arg-type]


def _format():
    from sensors_io.detect import Format

    return Format(
        SOURCE,
        "Long CSV with canonical column names (sensor_id, count, start_utc|ts|timestamp, [mode, direction, "
        "site_id, interval_s]), streamed; naive times in --tz ZONE",
        _read,
        sniff,
        REQUIRED,
        streamer=_stream,
    )


FORMAT = _format()

__all__ = ["FORMAT", "StreamStats", "fix_path", "read_long_csv", "scan_staged", "stream_long_csv", "write_parquet_atomic"]
