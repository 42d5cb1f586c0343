"""A mapping file for any other CSV: a small YAML file that describes the layout, no code.

The full YAML reference, with three worked examples, is ``docs/mapping.md``. In short:

- ``layout: long`` (one row per series × interval), ``wide`` (one count column per sensor or channel) or
  ``hours_wide`` (one row per sensor-day, one count column per hour of the day);
- ``timestamp``: one ``column`` or a ``date_column`` + ``time_column`` (joined with one space), read with
  ``format`` (a chrono/strftime pattern, or ``iso``); ``timezone`` for naive stamps; ``stamp``
  (``start``/``end`` of the interval); ``interval`` (``15min``, ``1h``, ``1d`` …);
- file: ``delimiter``, ``encoding``, ``skip_lines`` (preamble lines before the header).

Rules (shared with :mod:`sensors_io.readers.naive_csv` and the duplicate rule of :mod:`sensors_io.readers`):

- Counts: empty → null (not measured); ``0`` kept. Quarantined, first failing check wins: unparseable (or
  non-existent local) timestamp, timestamp more than a day in the future (shared
  :func:`~sensors_io.readers.split_future`), missing sensor id / direction, unknown mode, non-numeric or non-finite
  count, negative count. ``line`` is the 1-based physical line of the file, preamble and header included.
- ``rows_read`` counts candidate canonical rows: one per data line in ``long``, one per data line × mapped
  column in ``wide`` and ``hours_wide``. Blank lines (every field empty) are not data rows.
- Naive local stamps → UTC: a stamp in the spring-forward gap is quarantined; an autumn repeated stamp
  follows the rule of :func:`~sensors_io.readers.naive_csv.localize_naive` (``long``/``wide``); in
  ``hours_wide`` the hour column of the repeated hour is the first (summer-time) hour.
- ``stamp: end`` shifts every instant back by the interval, in UTC (after localisation).

An invalid mapping raises :class:`~sensors_io.errors.IngestError` naming the mapping file, the YAML line,
and the field path (``timestamp.format``, ``columns.Vélos.mode``); a column the mapping names but the CSV
lacks raises IngestError naming the CSV file, its header line and that column.
"""

from __future__ import annotations

import codecs
import datetime as dt
import re
import zoneinfo
from pathlib import Path
from typing import Annotated, Any, Literal

import polars as pl
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from sensors_io.errors import IngestError
from sensors_io.readers import (
    finish_read,
    parse_iso_utc,
    problem,
    resolve_duplicates,
    split_future,
    split_problems,
)
from sensors_io.readers.naive_csv import (
    REASON_BAD_TIME,
    REASON_NEGATIVE,
    REASON_NON_EXISTENT,
    REASON_NON_NUMERIC,
    count_problem,
    localize_naive,
    normalise_name,
    parse_naive,
    parse_number,
)
from sensors_io.schema import COUNTS_SCHEMA, MODES, ReadResult, conform

SOURCE_PREFIX = "mapping:"
LAYOUTS: tuple[str, ...] = ("long", "wide", "hours_wide")

#: Encodings a mapping may name (aliases such as ``utf8``, ``windows-1252``, ``latin1`` are accepted).
ENCODINGS: dict[str, str] = {"utf-8": "utf-8", "utf-8-sig": "utf-8-sig", "cp1252": "cp1252",
                             "iso8859-1": "latin-1"}

REASON_MISSING_SENSOR = "missing sensor id"
REASON_MISSING_DIRECTION = "missing direction"
REASON_UNKNOWN_MODE = "unknown mode"
REASON_NOT_MIDNIGHT = "day stamp with a time of day other than 00:00"

_INTERVAL_RE = re.compile(r"^\s*(\d+)\s*(s|sec|min|h|d)\s*$")
_INTERVAL_UNITS = {"s": 1, "sec": 1, "min": 60, "h": 3600, "d": 86400}
_AWARE_SPECS = ("%z", "%:z", "%::z", "%#z")
_SAMPLE = dt.datetime(2024, 7, 14, 13, 45)


# --------------------------------------------------------------------------------------------------
# The mapping model
# --------------------------------------------------------------------------------------------------


def parse_interval(text: str | int) -> int:
    """Interval length in seconds: ``"15min"`` → 900, ``"1h"`` → 3600, ``"1d"`` → 86400, ``900`` → 900.

    >>> parse_interval("15min"), parse_interval("1h"), parse_interval("1d")
    (900, 3600, 86400)
    """
    if isinstance(text, int) and not isinstance(text, bool):
        seconds = text
    else:
        match = _INTERVAL_RE.match(str(text))
        if not match:
            raise ValueError("an interval such as 15min, 1h or 1d (units: s, min, h, d)")
        seconds = int(match.group(1)) * _INTERVAL_UNITS[match.group(2)]
    if not 0 < seconds <= 31 * 86400:
        raise ValueError("a positive interval of at most 31 days")
    return seconds


def _has_time_of_day(fmt: str) -> bool:
    return any(spec in fmt for spec in ("%H", "%I", "%k", "%l", "%T", "%R", "%X", "%r", "%c", "%+"))


def _is_aware(fmt: str) -> bool:
    return fmt == "iso" or any(spec in fmt for spec in _AWARE_SPECS)


def check_format(fmt: str) -> str:
    """Validate a chrono strftime pattern by a round trip (format a sample instant, parse it back)."""
    if fmt == "iso":
        return fmt
    aware = _is_aware(fmt)
    sample = pl.Series([_SAMPLE], dtype=pl.Datetime("us"))
    if aware:
        sample = sample.dt.replace_time_zone("UTC")
    expected = _SAMPLE if _has_time_of_day(fmt) else _SAMPLE.replace(hour=0, minute=0)
    try:
        text = sample.dt.strftime(fmt)
        back = text.str.to_datetime(fmt, time_unit="us", strict=False, exact=True,
                                    **({"time_zone": "UTC"} if aware else {}))[0]
    except pl.exceptions.PolarsError:
        back = None
    if back is None or back.replace(tzinfo=None) != expected:
        raise ValueError(
            "a date format such as '%Y-%m-%d %H:%M:%S', '%d/%m/%Y %H:%M' or '%b %d, %Y %I:%M %p' "
            "(with year, month and day; hour and minute together), or 'iso'"
        )
    return fmt


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class TimestampSpec(_Strict):
    """Where the timestamp is and how it is written."""

    column: str | None = None
    date_column: str | None = None
    time_column: str | None = None
    format: str

    @field_validator("format")
    @classmethod
    def check_format_field(cls, v: str) -> str:
        return check_format(v)

    @model_validator(mode="after")
    def check_one_source(self) -> TimestampSpec:
        split = self.date_column is not None and self.time_column is not None
        partial = (self.date_column is None) != (self.time_column is None)
        if partial or (self.column is not None) == split:
            raise ValueError("either `column`, or both `date_column` and `time_column`")
        if split and self.format == "iso":
            raise ValueError("a single `column` with format 'iso' (date_column + time_column need a format)")
        return self

    @property
    def label(self) -> str:
        """The column name quarantine rows give for timestamp problems."""
        return self.column if self.column is not None else f"{self.date_column}+{self.time_column}"

    @property
    def source_columns(self) -> list[str]:
        return [self.column] if self.column is not None else [self.date_column, self.time_column]  # type: ignore[list-item]


def _check_mode(value: str | None) -> str | None:
    if value is not None and value not in MODES:
        raise ValueError(f"a canonical mode, one of {', '.join(MODES)}")
    return value


class ChannelSpec(_Strict):
    """One count column of a ``wide`` layout."""

    sensor_id: str = Field(min_length=1)
    mode: str
    direction: str = Field(default="both", min_length=1)
    site_id: str | None = None

    @field_validator("mode")
    @classmethod
    def check_mode_field(cls, v: str) -> str:
        return _check_mode(v)  # type: ignore[return-value]


class MappingSpec(_Strict):
    """Fields shared by every layout (the subclasses add the layout's own)."""

    layout: str
    delimiter: str = ","
    encoding: str = "utf-8"
    skip_lines: int = Field(default=0, ge=0)
    timestamp: TimestampSpec
    timezone: str = "Europe/Paris"
    stamp: Literal["start", "end"] = "start"
    interval: str | int
    decimal_comma: bool = False
    site_id: str | None = None

    _path: Path | None = PrivateAttr(default=None)

    @field_validator("delimiter")
    @classmethod
    def check_delimiter(cls, v: str) -> str:
        if v in ("\\t", "tab"):
            v = "\t"
        if len(v) != 1 or v in ('"', "\n", "\r"):
            raise ValueError("a single delimiter character such as ',' ';' or '\\t'")
        return v

    @field_validator("delimiter", mode="before")
    @classmethod
    def check_keep_tab(cls, v: Any) -> Any:
        return "tab" if v == "\t" else v  # str_strip_whitespace would empty a literal tab

    @field_validator("encoding")
    @classmethod
    def check_encoding(cls, v: str) -> str:
        try:
            name = codecs.lookup(v).name
        except LookupError:
            name = ""
        if v.lower().replace("_", "-") in ("utf-8-sig", "utf8-sig"):
            name = "utf-8-sig"
        if name not in ENCODINGS:
            raise ValueError("one of utf-8, utf-8-sig, cp1252, latin-1")
        return ENCODINGS[name]

    @field_validator("timezone")
    @classmethod
    def check_timezone(cls, v: str) -> str:
        try:
            zoneinfo.ZoneInfo(v)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError("an IANA time zone such as Europe/Paris") from None
        return v

    @field_validator("interval")
    @classmethod
    def check_interval(cls, v: str | int) -> str | int:
        parse_interval(v)
        return v

    @property
    def interval_s(self) -> int:
        return parse_interval(self.interval)

    @property
    def source(self) -> str:
        """``mapping:<mapping file stem>`` (``mapping:inline`` for a spec built in code)."""
        return SOURCE_PREFIX + (self._path.stem if self._path is not None else "inline")

    @property
    def path(self) -> Path | None:
        return self._path


class _SeriesColumns(MappingSpec):
    """Sensor / mode / direction / site given per row (columns) or as constants (long and hours_wide)."""

    sensor_column: str | None = None
    sensor_id: str | None = None
    mode_column: str | None = None
    mode: str | None = None
    mode_values: dict[str, str] = Field(default_factory=dict)
    direction_column: str | None = None
    direction: str | None = None
    site_column: str | None = None

    @field_validator("mode")
    @classmethod
    def check_mode_field(cls, v: str) -> str:
        return _check_mode(v)  # type: ignore[return-value]

    @field_validator("mode_values")
    @classmethod
    def check_mode_values(cls, v: dict[str, str]) -> dict[str, str]:
        for target in v.values():
            _check_mode(target)
        return v

    @model_validator(mode="after")
    def check_exclusive(self) -> _SeriesColumns:
        if (self.sensor_column is None) == (self.sensor_id is None):
            raise ValueError("exactly one of `sensor_column` and `sensor_id`")
        if (self.mode_column is None) == (self.mode is None):
            raise ValueError("exactly one of `mode_column` and `mode` (a constant: " + ", ".join(MODES) + ")")
        if self.direction_column is not None and self.direction is not None:
            raise ValueError("at most one of `direction_column` and `direction`")
        if self.site_column is not None and self.site_id is not None:
            raise ValueError("at most one of `site_column` and `site_id`")
        return self


class LongMapping(_SeriesColumns):
    """``layout: long``: one row per series and interval, the count in ``count_column``."""

    layout: Literal["long"]
    count_column: str


class WideMapping(MappingSpec):
    """``layout: wide``: one count column per sensor or channel, described in ``columns``."""

    layout: Literal["wide"]
    columns: dict[str, ChannelSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def check_distinct_series(self) -> WideMapping:
        seen: dict[tuple[str, str, str], str] = {}
        for name, ch in self.columns.items():
            key = (ch.sensor_id, ch.mode, ch.direction)
            if key in seen:
                raise ValueError(f"`columns` one column per series: {seen[key]!r} and {name!r} are both {key}")
            seen[key] = name
        return self


class HoursWideMapping(_SeriesColumns):
    """``layout: hours_wide``: one row per sensor-day, one count column per hour (``hour_columns``)."""

    layout: Literal["hours_wide"]
    interval: str | int = "1h"
    hour_columns: list[str] | str

    @field_validator("hour_columns")
    @classmethod
    def check_hours(cls, v: list[str] | str) -> list[str] | str:
        if isinstance(v, str):
            if "{h}" not in v and "{hh}" not in v:
                raise ValueError("a list of the 24 hour column names, or a pattern with {h} (0..23) or {hh} (00..23)")
        elif len(v) != 24 or len(set(v)) != 24:
            raise ValueError("a list of 24 distinct column names, hour 0 first")
        return v

    @model_validator(mode="after")
    def check_day_stamp(self) -> HoursWideMapping:
        if self.interval_s != 3600:
            raise ValueError("`interval` 1h: hours_wide holds hourly counts")
        if self.timestamp.column is None:
            raise ValueError("`timestamp.column` naming the day column (no date_column/time_column in hours_wide)")
        if self.timestamp.format == "iso" or _is_aware(self.timestamp.format):
            raise ValueError("`timestamp.format` for a naive day (e.g. '%Y-%m-%d'), not an offset or 'iso'")
        return self

    @property
    def hour_names(self) -> list[str]:
        """The 24 hour column names, hour 0 first."""
        if isinstance(self.hour_columns, list):
            return list(self.hour_columns)
        return [self.hour_columns.replace("{hh}", f"{h:02d}").replace("{h}", str(h)) for h in range(24)]


_ADAPTER: TypeAdapter[LongMapping | WideMapping | HoursWideMapping] = TypeAdapter(
    Annotated[LongMapping | WideMapping | HoursWideMapping, Field(discriminator="layout")]
)


# --------------------------------------------------------------------------------------------------
# Loading, with errors for people
# --------------------------------------------------------------------------------------------------


def _yaml_line(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """1-based YAML line of the deepest node of ``loc`` that exists (None without a node)."""
    if node is None:
        return None
    line = node.start_mark.line + 1
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            found = next((v for k, v in node.value if str(k.value) == str(key)), None)
            if found is None:
                # the key is missing: point at the mapping that lacks it
                return line
            node = found
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            break
        line = node.start_mark.line + 1
    return line


def _field_path(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    # The discriminated union puts the layout tag first; 'function-after[...]' steps are pydantic internals.
    return tuple(p for i, p in enumerate(loc)
                 if not (i == 0 and p in LAYOUTS) and not str(p).startswith(("function-", "list[", "str")))


def _validation_error(path: Path, exc: ValidationError, node: yaml.Node | None, data: dict) -> IngestError:
    errors = exc.errors(include_url=False)
    first = errors[0]
    loc = _field_path(tuple(first["loc"]))
    msg = first["msg"].removeprefix("Value error, ")
    named = re.search(r"`([a-z_.]+)`", msg)
    if named and first["type"] == "value_error" and named.group(1) not in {str(p) for p in loc}:
        # cross-field checks (model validators) have no loc of their own: name the first field they cite
        loc = (*loc, *named.group(1).split("."))
        msg = msg.removeprefix(f"`{named.group(1)}` ")  # "field `interval`: 1h …", not "`interval` 1h"
    field = ".".join(str(p) for p in loc) or "(top level)"
    if first["type"] == "missing":
        expected = f"field `{field}` (required)"
    elif first["type"] == "union_tag_invalid" or first["type"] == "union_tag_not_found":
        field, loc = "layout", ("layout",)
        expected = "field `layout`: one of long, wide, hours_wide"
        first = {**first, "input": data.get("layout")}
    elif first["type"] == "extra_forbidden":
        expected = f"no field `{field}` (unknown field: check its spelling in docs/mapping.md)"
    else:
        expected = f"field `{field}`: {msg}"
    found = first.get("input")
    found_text = None if first["type"] in ("missing", "extra_forbidden") or isinstance(found, (dict, list)) \
        or found is None else str(found)
    more = [".".join(str(p) for p in _field_path(tuple(e["loc"]))) or "(top level)" for e in errors[1:]]
    hint = "See docs/mapping.md for every field"
    if more:
        hint = f"Also check {', '.join(more)}. " + hint
    err = IngestError(path, expected, line=_yaml_line(node, loc), found=found_text, hint=hint)
    err.field = field  # type: ignore[attr-defined]
    return err


def parse_mapping(data: Any, *, path: str | Path = "<mapping>", node: yaml.Node | None = None) -> MappingSpec:
    """Validate a mapping given as a dict (e.g. parsed YAML); errors raise IngestError naming ``path``."""
    path = Path(path)
    if not isinstance(data, dict):
        raise IngestError(path, "a YAML mapping of fields (layout:, timestamp:, …)", line=1,
                          found=type(data).__name__, hint="See docs/mapping.md")
    try:
        spec = _ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise _validation_error(path, exc, node, data) from None
    spec._path = path
    return spec


def load_mapping(path: str | Path) -> MappingSpec:
    """Read and validate a YAML mapping file (see docs/mapping.md)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise IngestError(path, "a readable UTF-8 YAML mapping file", found=str(exc)) from exc
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise IngestError(path, "valid YAML", line=mark.line + 1 if mark else None,
                          found=str(getattr(exc, "problem", exc)), hint="See docs/mapping.md") from exc
    return parse_mapping(data, path=path, node=node)


# --------------------------------------------------------------------------------------------------
# Reading the CSV
# --------------------------------------------------------------------------------------------------

_LINE = "_line"


def _read_table(path: Path, spec: MappingSpec) -> pl.DataFrame:
    """Every column as String (names stripped) plus ``_line``, the 1-based physical line; blank lines dropped."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise IngestError(path, "a readable CSV file", found=str(exc)) from exc
    try:
        text = raw.decode(spec.encoding)
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise IngestError(path, f"text encoded in {spec.encoding} (mapping field `encoding`)", line=line,
                          found=raw[exc.start: exc.start + 4].hex(" "),
                          hint="Set `encoding:` in the mapping (cp1252 for most French Windows exports)") from exc
    text = text.removeprefix("\ufeff")
    parts = text.split("\n", spec.skip_lines)
    if len(parts) <= spec.skip_lines or not parts[-1].strip():
        raise IngestError(path, f"a header line after the {spec.skip_lines} preamble line(s) (`skip_lines`)",
                          line=spec.skip_lines + 1, found="end of file")
    body = parts[-1]
    try:
        frame = pl.read_csv(
            body.encode("utf-8"),
            separator=spec.delimiter,
            infer_schema=False,
            row_index_name=_LINE,
            row_index_offset=spec.skip_lines + 2,
            with_column_names=lambda cols: [c.strip().strip('"').strip() for c in cols],
            raise_if_empty=True,
        )
    except pl.exceptions.PolarsError as exc:
        first = str(exc).splitlines()[0] if str(exc) else None
        raise IngestError(path, f"a '{spec.delimiter}'-delimited CSV (mapping field `delimiter`)",
                          line=spec.skip_lines + 1, found=first,
                          hint="Check `delimiter` and `skip_lines` in the mapping") from exc
    data_cols = [c for c in frame.columns if c != _LINE]
    blank = pl.all_horizontal([pl.col(c).is_null() | (pl.col(c).str.strip_chars() == "") for c in data_cols])
    return frame.filter(~blank).with_columns(pl.col(_LINE).cast(pl.Int64))


def _resolver(path: Path, spec: MappingSpec, frame: pl.DataFrame):
    """Map a column name of the mapping to the CSV's (exact, else case/space-insensitive); raise if absent."""
    by_key = {normalise_name(c): c for c in frame.columns if c != _LINE}
    header = ", ".join(c for c in frame.columns if c != _LINE)
    source = spec.path or "the mapping"

    def resolve(name: str, field: str) -> str:
        if name in frame.columns and name != _LINE:
            return name
        if normalise_name(name) in by_key:
            return by_key[normalise_name(name)]
        raise IngestError(path, f"a column {name!r} (named by `{field}` in {source})",
                          line=spec.skip_lines + 1, column=name, found=header[:300],
                          hint="Fix the column name in the mapping, or check `delimiter`, `encoding` and `skip_lines`")

    return resolve


def _blank_to_null(expr: pl.Expr) -> pl.Expr:
    return expr.str.strip_chars().replace("", None)


def _stamp_text(spec: MappingSpec, resolve) -> pl.Expr:
    ts = spec.timestamp
    if ts.column is not None:
        return _blank_to_null(pl.col(resolve(ts.column, "timestamp.column")))
    date = _blank_to_null(pl.col(resolve(ts.date_column, "timestamp.date_column")))  # type: ignore[arg-type]
    time = _blank_to_null(pl.col(resolve(ts.time_column, "timestamp.time_column")))  # type: ignore[arg-type]
    return pl.concat_str([date, time], separator=" ")


def _parse_stamp(text: pl.Expr, fmt: str) -> tuple[pl.Expr, pl.Expr]:
    """(naive local datetime, aware UTC datetime) expressions; one of them null per row."""
    if fmt == "iso":
        utc = parse_iso_utc(text)
        return pl.when(utc.is_null()).then(parse_naive(text)), utc
    if _is_aware(fmt):
        utc = text.str.strip_chars().str.to_datetime(fmt, time_unit="us", time_zone="UTC", strict=False, exact=True)
        return pl.lit(None, dtype=pl.Datetime("us")), utc
    local = text.str.strip_chars().str.to_datetime(fmt, time_unit="us", strict=False, exact=True)
    return local, pl.lit(None, dtype=pl.Datetime("us", "UTC"))


def _series_exprs(spec: _SeriesColumns, resolve) -> dict[str, pl.Expr]:
    """site/sensor/mode/direction expressions (raw, blank → null) for long and hours_wide."""
    if spec.sensor_column is not None:
        sensor = _blank_to_null(pl.col(resolve(spec.sensor_column, "sensor_column")))
    else:
        sensor = pl.lit(spec.sensor_id, dtype=pl.String)
    if spec.mode_column is not None:
        raw_mode = _blank_to_null(pl.col(resolve(spec.mode_column, "mode_column")))
        mode = raw_mode.replace(spec.mode_values) if spec.mode_values else raw_mode
    else:
        raw_mode = mode = pl.lit(spec.mode, dtype=pl.String)
    if spec.direction_column is not None:
        direction = _blank_to_null(pl.col(resolve(spec.direction_column, "direction_column")))
    else:
        direction = pl.lit(spec.direction or "both", dtype=pl.String)
    if spec.site_column is not None:
        site = pl.coalesce(_blank_to_null(pl.col(resolve(spec.site_column, "site_column"))), sensor)
    else:
        site = pl.lit(spec.site_id, dtype=pl.String) if spec.site_id else sensor
    return {"site_id": site, "sensor_id": sensor, "mode": mode, "direction": direction, "_mode_raw": raw_mode}


def _cells(frame: pl.DataFrame, spec: MappingSpec, resolve) -> pl.DataFrame:
    """One row per candidate canonical row: _line, _stamp_raw, _local, _utc, series columns, _count_col, count_raw."""
    text = _stamp_text(spec, resolve)
    local, utc = _parse_stamp(text, spec.timestamp.format)
    base = {_LINE: pl.col(_LINE), "_stamp_raw": text, "_local": local, "_utc": utc}

    if isinstance(spec, LongMapping):
        ccol = resolve(spec.count_column, "count_column")
        return frame.select(**base, **_series_exprs(spec, resolve), _count_col=pl.lit(spec.count_column),
                            count_raw=_blank_to_null(pl.col(ccol)), _midnight_ok=pl.lit(True))

    if isinstance(spec, WideMapping):
        names = {name: resolve(name, f"columns.{name}") for name in spec.columns}
        channels = pl.DataFrame(
            {
                "_count_col": list(spec.columns),
                "_csv_col": [names[n] for n in spec.columns],
                "site_id": [ch.site_id or spec.site_id or ch.sensor_id for ch in spec.columns.values()],
                "sensor_id": [ch.sensor_id for ch in spec.columns.values()],
                "mode": [ch.mode for ch in spec.columns.values()],
                "direction": [ch.direction for ch in spec.columns.values()],
            },
            schema={c: pl.String for c in ("_count_col", "_csv_col", "site_id", "sensor_id", "mode", "direction")},
        )
        stamped = frame.with_columns(**base)
        long = stamped.unpivot(on=list(names.values()), index=[_LINE, "_stamp_raw", "_local", "_utc"],
                               variable_name="_csv_col", value_name="count_raw")
        return (
            long.join(channels, on="_csv_col", how="left", maintain_order="left")
            .with_columns(count_raw=_blank_to_null(pl.col("count_raw")), _mode_raw=pl.col("mode"),
                          _midnight_ok=pl.lit(True))
            .drop("_csv_col")
        )

    assert isinstance(spec, HoursWideMapping)
    hours = {h: resolve(name, "hour_columns") for h, name in enumerate(spec.hour_names)}
    series = _series_exprs(spec, resolve)
    stamped = frame.with_columns(**base, **series)
    index = [_LINE, "_stamp_raw", "_local", "_utc", *series]
    long = stamped.unpivot(on=list(hours.values()), index=index, variable_name="_csv_col", value_name="count_raw")
    hour_of = pl.DataFrame({"_csv_col": list(hours.values()), "_hour": list(hours.keys()),
                            "_count_col": spec.hour_names},
                           schema={"_csv_col": pl.String, "_hour": pl.Int64, "_count_col": pl.String})
    return (
        long.join(hour_of, on="_csv_col", how="left", maintain_order="left")
        .with_columns(
            count_raw=_blank_to_null(pl.col("count_raw")),
            _midnight_ok=pl.col("_local").is_null() | (pl.col("_local") == pl.col("_local").dt.truncate("1d")),
            _local=pl.col("_local") + pl.duration(hours=pl.col("_hour")),
        )
        .drop("_csv_col", "_hour")
    )


def read_with_mapping(path: str | Path, mapping: str | Path | MappingSpec, *, tz: str | None = None) -> ReadResult:
    """Read ``path`` as the YAML ``mapping`` describes (a file or a :class:`MappingSpec`) into canonical counts.

    ``tz`` overrides the mapping's ``timezone`` (the CLI's ``--tz``). Rules: module docstring and docs/mapping.md.
    """
    path = Path(path)
    spec = mapping if isinstance(mapping, MappingSpec) else load_mapping(mapping)
    if tz is not None:
        try:
            zoneinfo.ZoneInfo(tz)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise IngestError(path, "a valid IANA time zone (e.g. Europe/Paris)", found=tz, hint="Pass --tz ZONE") from None
    zone = tz or spec.timezone
    source, source_file = spec.source, str(path)

    frame = _read_table(path, spec)
    resolve = _resolver(path, spec, frame)
    cells = _cells(frame, spec, resolve).with_columns(count=parse_number(pl.col("count_raw"),
                                                                          decimal_comma=spec.decimal_comma))
    rows_read = cells.height

    ts_label = spec.timestamp.label
    fmt_hint = spec.timestamp.format
    # Spring-gap probe: a naive stamp that names no instant in the zone.
    probe = pl.col("_local").dt.replace_time_zone(zone, ambiguous="earliest", non_existent="null")
    non_numeric, negative = count_problem(pl.col("count_raw"), pl.col("count"))

    bad = problem

    mode_label = getattr(spec, "mode_column", None) or "mode"
    if isinstance(spec, HoursWideMapping):  # the hour column makes the local time: name it and the stamp
        gap_column, gap_value = pl.col("_count_col"), pl.col("_local").dt.strftime("%Y-%m-%d %H:%M")
    else:
        gap_column, gap_value = pl.lit(ts_label), pl.col("_stamp_raw")
    cells = cells.with_columns(
        _bad=pl.when(pl.col("_local").is_null() & pl.col("_utc").is_null())
        .then(bad(ts_label, pl.col("_stamp_raw"), f"{REASON_BAD_TIME} (expected format {fmt_hint!r})"))
        .when(~pl.col("_midnight_ok"))
        .then(bad(ts_label, pl.col("_stamp_raw"), REASON_NOT_MIDNIGHT))
        .when(pl.col("_utc").is_null() & probe.is_null())
        .then(bad(gap_column, gap_value, f"{REASON_NON_EXISTENT} in {zone}"))
        .when(pl.col("sensor_id").is_null())
        .then(bad(getattr(spec, "sensor_column", None) or "sensor_id", pl.lit(None, pl.String), REASON_MISSING_SENSOR))
        .when(pl.col("direction").is_null())
        .then(bad(getattr(spec, "direction_column", None) or "direction", pl.lit(None, pl.String),
                  REASON_MISSING_DIRECTION))
        .when(pl.col("mode").is_null() | ~pl.col("mode").is_in(list(MODES)))
        .then(bad(mode_label, pl.col("_mode_raw"),
                  f"{REASON_UNKNOWN_MODE} (expected one of {', '.join(MODES)}, or add it to mode_values)"))
        .when(non_numeric)
        .then(bad(pl.col("_count_col"), pl.col("count_raw"), REASON_NON_NUMERIC))
        .when(negative)
        .then(bad(pl.col("_count_col"), pl.col("count_raw"), REASON_NEGATIVE))
    )
    good, rejected = split_problems(cells, source_file=source_file, line=_LINE)
    keys = ["sensor_id", "mode", "direction"]
    if isinstance(spec, HoursWideMapping):
        localized = (pl.col("_local").dt.replace_time_zone(zone, ambiguous="earliest", non_existent="null")
                     .dt.convert_time_zone("UTC").cast(pl.Datetime("us", "UTC")))
    else:
        localized = localize_naive(zone, local="_local", count="count", line=_LINE, keys=keys)
    start = pl.coalesce(pl.col("_utc"), localized)
    if spec.stamp == "end":
        start = start - pl.duration(seconds=spec.interval_s)
    good = good.select(
        pl.col(_LINE).alias("line"),
        "site_id",
        "sensor_id",
        "mode",
        "direction",
        start_utc=start,
        interval_s=pl.lit(spec.interval_s, dtype=pl.Int32),
        count="count",
        source=pl.lit(source),
        source_file=pl.lit(source_file),
        _stamp_raw="_stamp_raw",
    )
    good, future = split_future(good, source_file=source_file, column=ts_label, value="_stamp_raw")
    # resolve_duplicates needs one row per line within a key: true for long (one row per line) and for the
    # wide layouts (distinct series per column in wide; distinct hours per line in hours_wide).
    kept, conflicts, n_duplicates = resolve_duplicates(good, source_file=source_file)
    accepted = conform(kept.sort("sensor_id", "mode", "direction", "start_utc", "line")).collect()
    return finish_read(accepted.select(list(COUNTS_SCHEMA)), [rejected, future, conflicts],
                       rows_read=rows_read, duplicates=n_duplicates, source=source)


__all__ = [
    "ChannelSpec",
    "HoursWideMapping",
    "LongMapping",
    "MappingSpec",
    "TimestampSpec",
    "WideMapping",
    "load_mapping",
    "parse_interval",
    "parse_mapping",
    "read_with_mapping",
]
