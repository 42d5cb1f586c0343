"""Find what to read: recognise each export format from its content and group multi-file sources.

Rules:

- Recognition sniffs the first bytes (BOM-tolerant, UTF-8 else cp1252): the CSV header line, or JSON keys
  near the start. A binary file (PNG, ZIP, NUL bytes…) is an error; so is an unrecognised header that has
  most of a format's required columns (the error names the first missing one).
- A folder is read recursively (hidden files and folders skipped). Files that are not data are skipped:
  README*, LICENSE*, CHANGELOG*, ``schema.json``, ``datapackage.json``, and extensions other than
  ``.csv``/``.json``/``.txt``/``.tsv``.
- The national schema's measure file is the source; its channel and site files (found with
  :func:`~sensors_io.readers.national.find_national_siblings`) are consumed with it, never read alone.
  Telraam ``devices.json`` is metadata: it names sites and is attached to the data files beside it.
- Metadata files left over in a folder are skipped; one named explicitly on its own is an error, as is a
  data-looking file (``.csv``/``.json``/…) that no format recognises.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sensors_io.errors import IngestError
from sensors_io.readers import TEXT_EXPECTED, binary_kind, decode_head
from sensors_io.readers.national import (
    MEASURE_REQUIRED,
    find_national_siblings,
    read_national_schema,
)
from sensors_io.readers.telraam import (
    DEVICES_FILE,
    find_devices_file,
    read_telraam_json,
)
from sensors_io.schema import ReadResult

#: Roles a recognised file can play: the data itself, or metadata consumed by a data file.
DATA = "data"
SNIFF_BYTES = 8192
DATA_SUFFIXES = frozenset({".csv", ".json", ".txt", ".tsv"})
SKIP_NAMES = frozenset({"schema.json", "datapackage.json"})
SKIP_PREFIXES = ("readme", "license", "licence", "changelog", "notice")


@dataclass(frozen=True)
class Format:
    """A known export format: its reader (called with the source's files), and how to recognise it."""

    name: str
    description: str
    reader: Callable[..., ReadResult]
    #: ``sniff(path, head) -> role`` ("data", a metadata role such as "channel", or None if not this format).
    sniff: Callable[[Path, str], str | None]
    #: Header columns the data file must have (CSV formats): an unrecognised header holding most of them
    #: is reported as this format with the first missing column named.
    required: tuple[str, ...] = ()
    #: ``streamer(files, accepted_out, quarantine_out, *, seq, work_dir, **options) -> StreamStats`` for
    #: formats staged without holding the file in memory (see :mod:`sensors_io.readers.long_csv`).
    streamer: Callable[..., Any] | None = None


@dataclass(frozen=True)
class Source:
    """One thing to ingest: a format and its files, primary file first (national: measure, channel, site)."""

    format: str
    files: tuple[Path, ...]
    options: tuple[tuple[str, Any], ...] = field(default=())

    def read(self) -> ReadResult:
        """Read the source with its format's reader."""
        return FORMATS[self.format].reader(*self.files, **dict(self.options))

    @property
    def streamer(self) -> Callable[..., Any] | None:
        """The format's streaming stager, if it has one."""
        return FORMATS[self.format].streamer

    def stream(self, accepted_out: Path, quarantine_out: Path, *, seq: int, work_dir: Path) -> Any:
        """Stage the source by streaming (formats with a ``streamer``): returns its StreamStats."""
        return FORMATS[self.format].streamer(self.files, accepted_out, quarantine_out, seq=seq,  # type: ignore[misc]
                                             work_dir=work_dir, **dict(self.options))


def _head(path: Path) -> str:
    """The first bytes of a file as text (UTF-8, else cp1252), without a BOM; IngestError for binary data."""
    with open(path, "rb") as fh:
        raw = fh.read(SNIFF_BYTES)
    kind = binary_kind(raw)
    if kind is not None:
        raise IngestError(path, TEXT_EXPECTED, line=1, found=kind,
                          hint="Was a file of another kind renamed to .csv/.json?")
    return decode_head(raw)


def _header_columns(head: str) -> set[str]:
    """Lower-case column names of the first line, split on ``,`` or ``;`` (whichever is more frequent)."""
    first = head.splitlines()[0] if head else ""
    sep = ";" if first.count(";") > first.count(",") else ","
    return {c.strip().strip('"').strip().lower() for c in first.split(sep)}


def _sniff_national(path: Path, head: str) -> str | None:
    cols = _header_columns(head)
    if {"channel_id", "start_datetime", "count"} <= cols:
        return DATA
    if {"channel_id", "site_id"} <= cols and cols & {"mobility_type", "time_step", "temporality"}:
        return "channel"
    if {"site_id", "xlong", "ylat"} <= cols:
        return "site"
    return None


def _sniff_telraam(path: Path, head: str) -> str | None:
    start = head.lstrip()[:1]
    if start not in ("{", "["):
        return None
    if '"segment_id"' in head and ('"uptime"' in head or '"car_lft"' in head):
        return DATA
    if all(f'"{key}"' in head for key in ("device_id", "month", "data")):
        return DATA  # the collector's monthly file, even with no items (the reader says so)
    if path.name == DEVICES_FILE or '"totalDataPoints"' in head:
        return "devices"
    return None


def _read_national(measure: Path, channel: Path | None = None, site: Path | None = None) -> ReadResult:
    return read_national_schema(measure, channel, site)


def _read_telraam(path: Path, devices: Path | None = None) -> ReadResult:
    return read_telraam_json(path, devices)


#: Known formats, by the name used with ``mobility ingest --format NAME``.
FORMATS: dict[str, Format] = {
    "national_schema": Format(
        "national_schema",
        "French national schema « comptage des mobilités » v0.2.x: measure CSV + channel (+ site) CSVs",
        _read_national,
        _sniff_national,
        MEASURE_REQUIRED,
    ),
    "telraam": Format(
        "telraam",
        "Telraam API hourly JSON (segments, per-hour), optionally with devices.json for names",
        _read_telraam,
        _sniff_telraam,
    ),
}


def _register_optional() -> None:
    """Register the readers that live in their own modules when present (written in parallel)."""
    for module, attr in (
        ("sensors_io.readers.paris_loops", "FORMAT"),
        ("sensors_io.readers.ecocounter", "FORMAT"),
        ("sensors_io.readers.naive_csv", "FORMAT"),
        ("sensors_io.readers.long_csv", "FORMAT"),
    ):
        try:
            mod = __import__(module, fromlist=[attr])
        except ImportError:
            continue
        fmt = getattr(mod, attr, None)
        if isinstance(fmt, Format):
            FORMATS.setdefault(fmt.name, fmt)


def _formats_list() -> str:
    return "; ".join(f"{f.name} ({f.description})" for f in FORMATS.values())


def _near_miss(path: Path, head: str) -> IngestError | None:
    """An error naming the missing column when the header has most of one format's required columns."""
    cols = _header_columns(head)
    best: tuple[int, Format, list[str]] | None = None
    for f in FORMATS.values():
        if not f.required:
            continue
        present = [c for c in f.required if c.lower() in cols]
        missing = [c for c in f.required if c.lower() not in cols]
        if missing and 2 * len(present) >= len(f.required) and (best is None or len(present) > best[0]):
            best = (len(present), f, missing)
    if best is None:
        return None
    _, f, missing = best
    return IngestError(
        path,
        f"the {f.name} columns {', '.join(f.required)}",
        line=1,
        column=missing[0],
        found=head.splitlines()[0][:200],
        hint="Is this the right format? Otherwise use --format NAME or --mapping FILE "
        '(see the README, "Mapping files")',
    )


def _unknown(path: Path, found: str | None = None) -> IngestError:
    head = _head(path)
    near = _near_miss(path, head) if head.strip() else None
    if near is not None:
        return near
    return IngestError(
        path,
        f"one of the known formats: {_formats_list()}",
        line=1,
        found=found,
        hint="Name the format with --format NAME, or describe the columns with --mapping FILE "
        '(see the README, "Mapping files")',
    )


def _sniff(path: Path, fmt: str | None) -> tuple[str, str] | None:
    """(format, role) of a file, or None when no format recognises it."""
    head = _head(path)
    candidates = [FORMATS[fmt]] if fmt else list(FORMATS.values())
    for f in candidates:
        role = f.sniff(path, head)
        if role is not None:
            return f.name, role
    if fmt:
        return fmt, DATA  # the user said what it is: the reader will check it
    return None


def detect_format(path: Path) -> str:
    """Name of the format of ``path`` (data or metadata file), from its content; IngestError when unknown."""
    path = Path(path)
    _register_optional()
    found = _sniff(path, None)
    if found is None:
        head = _head(path)
        raise _unknown(path, found=head.splitlines()[0][:120] if head.strip() else "an empty file")
    return found[0]


def is_data_candidate(path: Path) -> bool:
    """False for files that are never data: docs, licences, schemas, hidden files, other extensions."""
    name = path.name.lower()
    if name.startswith(".") or name in SKIP_NAMES or name.startswith(SKIP_PREFIXES):
        return False
    return path.suffix.lower() in DATA_SUFFIXES


def _expand(paths: Iterable[Path]) -> list[tuple[Path, bool]]:
    """Files to consider, each with whether the user named it explicitly (folders are walked, sorted)."""
    out: list[tuple[Path, bool]] = []
    for p in map(Path, paths):
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                rel = f.relative_to(p).parts
                if f.is_file() and not any(part.startswith(".") for part in rel) and is_data_candidate(f):
                    out.append((f, False))
        elif p.is_file():
            out.append((p, True))
        else:
            raise IngestError(p, "an existing file or folder", found="nothing at this path")
    return out


#: Formats whose timestamps carry no offset: the user's ``--tz`` is passed to their reader.
NAIVE_TIME_FORMATS = frozenset({"naive_csv", "long_csv"})


def discover(paths: Sequence[Path], fmt: str | None = None, tz: str | None = None) -> list[Source]:
    """Turn files and folders into sources to read (rules in the module docstring).

    ``tz`` is the time zone of naive timestamps (``mobility ingest --tz``); sources whose stamps carry
    an offset or are UTC ignore it.
    """
    _register_optional()
    if fmt is not None and fmt not in FORMATS:
        raise IngestError("--format", f"one of {', '.join(FORMATS)}", found=fmt)
    sniffed: list[tuple[Path, bool, str, str]] = []
    for path, explicit in _expand(paths):
        found = _sniff(path, fmt)
        if found is None:
            head = _head(path)
            raise _unknown(path, found=head.splitlines()[0][:120] if head.strip() else "an empty file")
        sniffed.append((path, explicit, *found))

    sources: list[Source] = []
    seen: set[Path] = set()
    consumed: set[Path] = set()
    for path, _explicit, name, role in sniffed:
        if role != DATA or path.resolve() in seen:
            continue
        seen.add(path.resolve())
        if name == "national_schema":
            channel, site = find_national_siblings(path)
            if channel is None:
                raise IngestError(
                    path,
                    "a channel file beside this national-schema measure file "
                    "(comptagemobilites_channel_*.csv, or channel/ next to measure/)",
                )
            files = (path, channel) + ((site,) if site is not None else ())
        elif name == "telraam":
            devices = find_devices_file(path)
            files = (path,) + ((devices,) if devices is not None else ())
        else:
            files = (path,)
        consumed.update(f.resolve() for f in files[1:])
        options = (("tz", tz),) if tz is not None and name in NAIVE_TIME_FORMATS else ()
        sources.append(Source(name, files, options))

    for path, explicit, name, role in sniffed:
        if role != DATA and explicit and path.resolve() not in consumed:
            raise IngestError(
                path,
                "a data file",
                found=f"a {name} {role} file (metadata)",
                hint="It is read with its data files: pass them too, or the folder holding them",
            )
    return sources


__all__ = ["FORMATS", "Format", "Source", "detect_format", "discover", "is_data_candidate"]
