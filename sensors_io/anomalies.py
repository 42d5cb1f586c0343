"""The anomaly register: periods a person has looked at, kept in a hand-editable YAML file.

Each entry says which series (``sensor_id`` or ``*``, optional ``mode`` and ``direction``), when
(``start`` / ``end``), why (``reason``), who (``flagged_by``) and what to do (``action``):

- ``exclude``: the values are wrong (vandalised counter, mis-aimed camera): flag ``excluded``,
  reason ``register:<reason>``; they leave ``count_clean`` and may be imputed like any excluded value;
- ``accept``: the values are real although unusual (roadworks closure, festival, diversion): the
  automatic checks (zero runs, outliers) must not flag them; they keep ``flag_reason``
  ``register:<reason>`` as provenance.

Times: a **date** (``2025-03-03``) is the whole local day, so ``end: 2025-03-23`` includes the 23rd; a
**datetime** (``2025-04-08T10:00`` or ``2025-04-08T10:00:00+02:00``) is an instant and ``end`` is
excluded. Naive dates and datetimes are read in the file's ``timezone`` (default: the town's zone). A row
belongs to an entry when its interval **starts** in ``[start, end)``. When several entries match a row,
``exclude`` wins over ``accept``; within one action the first entry in the file wins.

The layout (see ``docs/examples/anomalies.yaml`` and ``docs/quality.md``)::

    timezone: Europe/Paris          # optional
    anomalies:
      - sensor_id: CPT-ALBERT-1ER
        mode: car                   # optional
        start: 2025-03-03
        end: 2025-03-23
        reason: roadworks closure
        flagged_by: services techniques
        action: accept
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from pathlib import Path
from typing import Any, Literal

import polars as pl
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from sensors_io.schema import MODES, SERIES_KEY, UTC_US

__all__ = ["REGISTER_SCHEMA", "AnomalyEntry", "RegisterError", "load_register", "match_register",
           "parse_register"]

#: Columns of a loaded register (one row per entry, times converted to UTC, ``end_utc`` excluded).
REGISTER_SCHEMA: pl.Schema = pl.Schema(
    {
        "entry": pl.Int32,
        "sensor_id": pl.String,
        "mode": pl.String,
        "direction": pl.String,
        "start_utc": UTC_US,
        "end_utc": UTC_US,
        "reason": pl.String,
        "flagged_by": pl.String,
        "action": pl.String,
    }
)
ACTIONS = ("exclude", "accept")
DEFAULT_TZ = "Europe/Paris"


class RegisterError(ValueError):
    """An anomaly register that cannot be used: names the file, the entry (1-based), its line and the field."""

    def __init__(self, path: str | Path, message: str, *, entry: int | None = None, line: int | None = None,
                 field: str | None = None) -> None:
        self.path, self.entry, self.line, self.field = str(path), entry, line, field
        where = self.path
        if entry is not None:
            where += f", entry {entry}"
        if line is not None:
            where += f" (line {line})" if entry is not None else f", line {line}"
        if field is not None:
            where += f", field `{field}`"
        super().__init__(f"{where}: {message}. See docs/quality.md (anomaly register)")


class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps dates as text: PyYAML would crash on 2025-13-01 instead of naming the field."""


_Loader.yaml_implicit_resolvers = {
    first: [r for r in resolvers if r[0] != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _when(value: Any) -> dt.date | dt.datetime:
    """A date (whole local day) or a datetime (instant), from YAML scalars or ISO strings."""
    if isinstance(value, dt.datetime | dt.date):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return dt.date.fromisoformat(text) if len(text) == 10 else dt.datetime.fromisoformat(text)
        except ValueError:
            pass
    raise ValueError("expected a date (2025-03-03) or an ISO datetime (2025-03-03T10:00 or 2025-03-03T10:00:00+01:00)")


class AnomalyEntry(BaseModel):
    """One register entry (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    sensor_id: str = Field(min_length=1, description="The sensor, or `*` for every sensor.")
    mode: str | None = Field(None, description="Only this mode (canonical vocabulary); all modes when absent.")
    direction: str | None = Field(None, description="Only this direction; all directions when absent.")
    start: dt.date | dt.datetime = Field(description="First local day, or first instant.")
    end: dt.date | dt.datetime = Field(description="Last local day (included), or the instant it ends (excluded).")
    reason: str = Field(min_length=1, description="Why; shown as `register:<reason>` in flag_reason.")
    flagged_by: str = Field(min_length=1, description="Who recorded it.")
    action: Literal["exclude", "accept"] = Field(description="exclude = wrong values; accept = real, do not flag.")

    @field_validator("start", "end", mode="before")
    @classmethod
    def _parse_when(cls, value: Any) -> dt.date | dt.datetime:
        return _when(value)

    @field_validator("sensor_id", "direction", "reason", "flagged_by", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        # YAML reads `direction: N` as a string but `sensor_id: 12` as an int: ids are text here.
        return str(value).strip() if isinstance(value, int | float) and not isinstance(value, bool) else value

    @field_validator("mode")
    @classmethod
    def _known_mode(cls, value: str | None) -> str | None:
        if value is not None and value not in MODES:
            raise ValueError(f"expected one of {', '.join(MODES)}")
        return value

    def bounds_utc(self, tz: str) -> tuple[dt.datetime, dt.datetime]:
        """``[start, end)`` as UTC instants (a date end means the end of that local day)."""
        zone = zoneinfo.ZoneInfo(tz)

        def instant(v: dt.date | dt.datetime, *, is_end: bool) -> dt.datetime:
            if not isinstance(v, dt.datetime):
                v = dt.datetime.combine(v + dt.timedelta(days=1) if is_end else v, dt.time())
            if v.tzinfo is None:
                v = v.replace(tzinfo=zone)
            return v.astimezone(dt.UTC)

        return instant(self.start, is_end=False), instant(self.end, is_end=True)


class _RegisterFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timezone: str | None = None
    anomalies: list[Any] = Field(default_factory=list)


def _entry_lines(node: yaml.Node | None) -> list[int]:
    """1-based YAML line of each item of the ``anomalies`` list (or of the top-level list)."""
    if isinstance(node, yaml.MappingNode):
        node = next((v for k, v in node.value if str(k.value) == "anomalies"), None)
    if not isinstance(node, yaml.SequenceNode):
        return []
    return [item.start_mark.line + 1 for item in node.value]


def _field_line(node: yaml.Node | None, index: int, field: str | None) -> int | None:
    if isinstance(node, yaml.MappingNode):
        node = next((v for k, v in node.value if str(k.value) == "anomalies"), None)
    if not isinstance(node, yaml.SequenceNode) or index >= len(node.value):
        return None
    item = node.value[index]
    if field is not None and isinstance(item, yaml.MappingNode):
        for k, v in item.value:
            if str(k.value) == field:
                return v.start_mark.line + 1
    return item.start_mark.line + 1


def parse_register(data: Any, *, path: str | Path = "<register>", tz: str | None = None,
                   node: yaml.Node | None = None) -> pl.DataFrame:
    """Validate a register given as parsed YAML (a mapping with ``anomalies:``, or a bare list of entries).

    Returns a frame with :data:`REGISTER_SCHEMA`; errors raise :class:`RegisterError`.
    """
    if data is None:
        data = {}
    if isinstance(data, list):
        data = {"anomalies": data}
    if not isinstance(data, dict):
        raise RegisterError(
            path, f"expected a mapping with `anomalies:` (a list of entries), found {type(data).__name__}", line=1)
    try:
        top = _RegisterFile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        field = ".".join(str(p) for p in first["loc"])
        msg = ("unknown field (expected `timezone` and `anomalies`)" if first["type"] == "extra_forbidden"
               else first["msg"])
        raise RegisterError(path, msg, field=field, line=1) from None
    zone = top.timezone or tz or DEFAULT_TZ
    try:
        zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise RegisterError(path, f"expected a valid IANA time zone (e.g. Europe/Paris), found {zone!r}",
                            field="timezone", line=1) from None

    rows: list[dict[str, Any]] = []
    for i, raw in enumerate(top.anomalies):
        n = i + 1
        if not isinstance(raw, dict):
            raise RegisterError(path, f"expected a mapping of fields (sensor_id:, start:, …), found {raw!r}",
                                entry=n, line=_field_line(node, i, None))
        try:
            entry = AnomalyEntry.model_validate(raw)
        except ValidationError as exc:
            problems = exc.errors(include_url=False)
            first = problems[0]
            field = str(first["loc"][0]) if first["loc"] else None
            if first["type"] == "missing":
                msg = "required field is missing"
            elif first["type"] == "extra_forbidden":
                msg = "unknown field (expected sensor_id, mode, direction, start, end, reason, flagged_by, action)"
            elif first["type"] == "literal_error":
                msg = f"expected one of {', '.join(ACTIONS)}, found {first.get('input')!r}"
            else:
                msg = first["msg"].removeprefix("Value error, ")
                if first.get("input") is not None and not isinstance(first["input"], dict | list):
                    msg += f", found {first['input']!r}"
            if len(problems) > 1:
                others = sorted({str(p["loc"][0]) for p in problems[1:] if p["loc"]} - {field})
                if others:
                    msg += f" (also check {', '.join(others)})"
            raise RegisterError(path, msg, entry=n, field=field, line=_field_line(node, i, field)) from None
        start, end = entry.bounds_utc(zone)
        if end <= start:
            raise RegisterError(path, f"expected an end after the start ({entry.start} → {entry.end})",
                                entry=n, field="end", line=_field_line(node, i, "end"))
        rows.append({"entry": n, "sensor_id": entry.sensor_id, "mode": entry.mode, "direction": entry.direction,
                     "start_utc": start, "end_utc": end, "reason": entry.reason, "flagged_by": entry.flagged_by,
                     "action": entry.action})
    return pl.DataFrame(rows, schema=REGISTER_SCHEMA)


def load_register(path: str | Path, *, tz: str | None = None) -> pl.DataFrame:
    """Read and validate an anomaly register YAML file (``tz``: zone of naive times when the file has none).

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "anomalies.yaml"
    >>> _ = p.write_text("anomalies:\\n  - {sensor_id: A, start: 2025-03-03, end: 2025-03-03, reason: works,"
    ...                  " flagged_by: me, action: exclude}\\n")
    >>> [t.isoformat() for t in load_register(p).select("start_utc", "end_utc").row(0)]  # 3 March, local
    ['2025-03-02T23:00:00+00:00', '2025-03-03T23:00:00+00:00']
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise RegisterError(path, f"expected a readable UTF-8 YAML file ({exc})") from exc
    try:
        node = yaml.compose(text, Loader=_Loader)
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise RegisterError(path, f"expected valid YAML ({getattr(exc, 'problem', exc)})",
                            line=mark.line + 1 if mark else None) from exc
    return parse_register(data, path=path, tz=tz, node=node)


def match_register(frame: pl.LazyFrame, register: pl.DataFrame | None) -> pl.LazyFrame:
    """Add ``register_action`` (``exclude``/``accept``/null) and ``register_reason`` to rows of counts.

    Vectorised: one ``when/then`` clause per register entry (registers hold tens of entries, not rows).
    ``exclude`` wins over ``accept``; within an action the first entry wins.
    """
    none = frame.with_columns(register_action=pl.lit(None, pl.String), register_reason=pl.lit(None, pl.String))
    if register is None or register.height == 0:
        return none
    entries = register.sort("entry")
    ordered = [*entries.filter(pl.col("action") == "exclude").iter_rows(named=True),
               *entries.filter(pl.col("action") == "accept").iter_rows(named=True)]
    action: Any = pl
    reason: Any = pl
    for e in ordered:
        cond = (pl.col("start_utc") >= e["start_utc"]) & (pl.col("start_utc") < e["end_utc"])
        if e["sensor_id"] != "*":
            cond = cond & (pl.col("sensor_id") == e["sensor_id"])
        for key in SERIES_KEY[1:]:
            if e[key] is not None:
                cond = cond & (pl.col(key) == e[key])
        action = action.when(cond).then(pl.lit(e["action"]))
        reason = reason.when(cond).then(pl.lit(e["reason"]))
    return frame.with_columns(register_action=action.otherwise(pl.lit(None, pl.String)),
                              register_reason=reason.otherwise(pl.lit(None, pl.String)))
