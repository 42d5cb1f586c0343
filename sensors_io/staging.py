"""Staging: every source read once into the lake, with its quarantine, then served by local day.

A *source* (one file, or the national schema's site/channel/measure files together) is identified by
the SHA-256 of its content. Staging it writes ``lake/staging/<key>.parquet`` (accepted rows, all
canonical and optional columns, plus ``_seq``, the order in which sources were staged),
``lake/quarantine/<key>.parquet`` (rejected rows with their reason) and an entry in
``lake/staging/_manifest.json``. Re-staging the same content does nothing.

**Deduplication rule** (documented in the README): two rows with the same
(``sensor_id``, ``mode``, ``direction``, ``start_utc``, ``interval_s``) are one measurement; the
row from the source staged **last** wins, and every other copy is counted as a duplicate. Within
one file, readers resolve duplicates themselves (see each reader).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl

from sensors_io.errors import IngestError
from sensors_io.readers.long_csv import fix_path, scan_staged, write_parquet_atomic
from sensors_io.schema import (
    COUNTS_SCHEMA,
    OPTIONAL_SCHEMA,
    QUARANTINE_SCHEMA,
    ROW_KEY,
    SITES_SCHEMA,
)

STAGING = "staging"
QUARANTINE = "quarantine"
MANIFEST = "_manifest.json"
#: Bump when a reader changes what it produces: sources are then staged again.
STAGING_VERSION = "1"

#: Name prefix of a streamed source's files before its key is known (hidden: never listed, removed if left).
PENDING_PREFIX = ".pending-"

STAGED_SCHEMA = pl.Schema({**COUNTS_SCHEMA, **OPTIONAL_SCHEMA, "_seq": pl.Int32})


@dataclass
class SourceReport:
    """Accounting for one source: ``rows_read == accepted + quarantined + duplicates``."""

    key: str
    format: str
    files: list[str]
    rows_read: int = 0
    accepted: int = 0
    quarantined: int = 0
    duplicates: int = 0
    first_day: str | None = None
    last_day: str | None = None
    already_staged: bool = False
    error: str | None = None


@dataclass
class IngestReport:
    """What one ingestion did, source by source."""

    sources: list[SourceReport] = field(default_factory=list)

    def total(self, name: str) -> int:
        return sum(getattr(s, name) for s in self.sources if not s.already_staged)

    @property
    def errors(self) -> list[SourceReport]:
        return [s for s in self.sources if s.error]

    def day_range(self) -> tuple[dt.date, dt.date] | None:
        days = [d for s in self.sources for d in (s.first_day, s.last_day) if d]
        if not days:
            return None
        return dt.date.fromisoformat(min(days)), dt.date.fromisoformat(max(days))


@contextlib.contextmanager
def _locked(lake: Path) -> Iterator[None]:
    """One stager at a time per lake (runs of several partitions may start together)."""
    (lake / STAGING).mkdir(parents=True, exist_ok=True)
    with open(lake / STAGING / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            _remove_leftovers(lake)
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _remove_leftovers(lake: Path) -> None:
    """Delete what a killed stager left behind (hidden temporary files and folders, written aside before
    a rename): with the lock held, no other stager is writing them. The manifest never lists them."""
    import shutil

    for folder in (lake / STAGING, lake / QUARANTINE):
        if not folder.is_dir():
            continue
        for p in folder.iterdir():
            if p.name.startswith(".stream-") and p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            elif p.name.startswith(".") and (p.name.endswith((".tmp", ".parsed")) or p.name.startswith(PENDING_PREFIX)):
                p.unlink(missing_ok=True)


def read_manifest(lake: Path) -> list[dict]:
    """The staged sources, in staging order."""
    path = lake / STAGING / MANIFEST
    return json.loads(path.read_text()) if path.exists() else []


def _write_manifest(lake: Path, entries: list[dict]) -> None:
    path = lake / STAGING / MANIFEST
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(json.dumps(entries, indent=1, sort_keys=True))
    os.replace(tmp, path)


def source_key(fmt: str, files: Sequence[Path], options: Sequence[tuple[str, object]] = ()) -> str:
    """SHA-256 of the format, its reader options, the staging version and every file's bytes (names do not matter)."""
    h = hashlib.sha256(f"{fmt}\0{sorted(options)!r}\0{STAGING_VERSION}\0".encode())
    for f in files:
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        h.update(b"\0")
    return h.hexdigest()[:24]


def _day_bounds(df: pl.DataFrame, tz: str) -> tuple[str | None, str | None]:
    if df.is_empty():
        return None, None
    days = df.select(pl.col("start_utc").dt.convert_time_zone(tz).dt.date().alias("d"))["d"]
    return str(days.min()), str(days.max())


def _already_staged(entry: dict) -> SourceReport:
    """The report of a source whose content is in the manifest already (``entry``)."""
    return SourceReport(**{**{k: v for k, v in entry.items() if k != "seq"}, "already_staged": True})


def _record(rep: SourceReport, seq: int, lake: Path, manifest: list[dict], known: dict, report: IngestReport) -> None:
    """Add a staged source to the manifest (written at once) and to the report."""
    entry = {k: v for k, v in asdict(rep).items() if k not in ("already_staged", "error")}
    manifest.append({**entry, "seq": seq})
    known[rep.key] = manifest[-1]
    _write_manifest(lake, manifest)
    report.sources.append(rep)


def _stream_source(src, key: str, lake: Path, tz: str, manifest: list[dict], known: dict,
                   report: IngestReport, rep: SourceReport) -> None:
    """Stream one source straight under its key (reported with its error if unreadable)."""
    seq = len(manifest) + 1
    acc, qua = lake / STAGING / f"{key}.parquet", lake / QUARANTINE / f"{key}.parquet"
    try:
        stats = src.stream(acc, qua, seq=seq, work_dir=lake / STAGING)
    except IngestError as exc:
        rep.error = str(exc)
        report.sources.append(rep)
        return
    _file_stream(stats, key, acc, qua, lake, tz, manifest, known, report, rep, seq)


def _stream_new(src, files: list[Path], options, lake: Path, tz: str, manifest: list[dict], known: dict,
                report: IngestReport) -> SourceReport | None:
    """Stream a source under pending names while its key is computed in a thread, then file it under its
    key, or discard it if that content is staged already (~0.2 s per 250 MB saved on a new file).
    Returns its report when it was staged."""
    from concurrent.futures import ThreadPoolExecutor

    pending = f"{PENDING_PREFIX}{uuid.uuid4().hex}.parquet"
    acc, qua = lake / STAGING / pending, lake / QUARANTINE / pending
    seq = len(manifest) + 1
    try:
        with ThreadPoolExecutor(1) as pool:
            future = pool.submit(source_key, src.format, files, options)
            try:
                outcome: object = src.stream(acc, qua, seq=seq, work_dir=lake / STAGING)
            except IngestError as exc:
                outcome = exc
            key = future.result()
        if key in known:
            report.sources.append(_already_staged(known[key]))
            return None
        rep = SourceReport(key=key, format=src.format, files=[str(f) for f in files])
        if isinstance(outcome, IngestError):
            rep.error = str(outcome)
            report.sources.append(rep)
            return None
        _file_stream(outcome, key, acc, qua, lake, tz, manifest, known, report, rep, seq)
        return rep
    finally:
        for p in (acc, qua, fix_path(acc)):
            p.unlink(missing_ok=True)


def _file_stream(stats, key: str, acc: Path, qua: Path, lake: Path, tz: str, manifest: list[dict], known: dict,
                 report: IngestReport, rep: SourceReport, seq: int) -> None:
    """Move a streamed source's files under its key (if staged under pending names) and record it."""
    target = lake / STAGING / f"{key}.parquet"
    if acc != target:
        if fix_path(acc).exists():
            os.replace(fix_path(acc), fix_path(target))
        else:
            fix_path(target).unlink(missing_ok=True)
        os.replace(qua, lake / QUARANTINE / f"{key}.parquet")
        os.replace(acc, target)
    rep.rows_read, rep.accepted = stats.rows_read, stats.accepted
    rep.quarantined, rep.duplicates = stats.quarantined, stats.duplicates
    if stats.first_utc is not None:
        rep.first_day = str(stats.first_utc.astimezone(ZoneInfo(tz)).date())
        rep.last_day = str(stats.last_utc.astimezone(ZoneInfo(tz)).date())
    _record(rep, seq, lake, manifest, known, report)


def stage_sources(sources: Sequence, lake: Path, tz: str = "Europe/Paris") -> IngestReport:
    """Read and stage each source not staged yet; a source that cannot be read is reported, not fatal."""
    report = IngestReport()
    with _locked(lake):
        manifest = read_manifest(lake)
        known = {e["key"]: e for e in manifest}
        staged_paths = {tuple(e["files"]) for e in manifest}
        for src in sources:
            files = [Path(f) for f in src.files]
            options = getattr(src, "options", ())
            streamed = getattr(src, "streamer", None) is not None
            if streamed and tuple(map(str, files)) not in staged_paths:
                # A file not seen under this name: its SHA-256 is computed while it is parsed (~0.2 s per
                # 250 MB saved); if its content turns out to be staged already, the parse is discarded.
                rep = _stream_new(src, files, options, lake, tz, manifest, known, report)
                if rep is not None:
                    staged_paths.add(tuple(rep.files))
                continue
            key = source_key(src.format, files, options)
            if key in known:
                report.sources.append(_already_staged(known[key]))
                continue
            rep = SourceReport(key=key, format=src.format, files=[str(f) for f in files])
            if streamed:
                _stream_source(src, key, lake, tz, manifest, known, report, rep)
                continue
            try:
                result = src.read()
                result.check_accounting()
            except IngestError as exc:
                rep.error = str(exc)
                report.sources.append(rep)
                continue
            seq = len(manifest) + 1
            accepted = (
                result.accepted.lazy()
                .with_columns(
                    [pl.lit(None, dtype=t).alias(c) for c, t in OPTIONAL_SCHEMA.items() if c not in result.accepted.columns]
                )
                .with_columns(_seq=pl.lit(seq, dtype=pl.Int32))
                .select([pl.col(c).cast(t) for c, t in STAGED_SCHEMA.items()])
                .sort(list(ROW_KEY))
                .collect()
            )
            write_parquet_atomic(result.quarantine.select(list(QUARANTINE_SCHEMA)), lake / QUARANTINE / f"{key}.parquet")
            if not result.sites.is_empty():
                write_parquet_atomic(result.sites.select(list(SITES_SCHEMA)), lake / STAGING / f"{key}.sites.parquet")
            write_parquet_atomic(accepted, lake / STAGING / f"{key}.parquet")
            rep.rows_read = result.rows_read
            rep.accepted = accepted.height
            rep.quarantined = result.quarantine.height
            rep.duplicates = result.duplicates
            rep.first_day, rep.last_day = _day_bounds(accepted, tz)
            _record(rep, seq, lake, manifest, known, report)
    return report


@dataclass(frozen=True)
class MappedSource:
    """A CSV read through a user's mapping file (``mobility ingest --mapping``).

    The mapping file is one of the source's files, so editing it stages the CSV again.
    """

    files: tuple[Path, Path]  # the CSV, then the mapping
    tz: str | None = None
    format: str = "mapping"

    @property
    def options(self) -> tuple[tuple[str, object], ...]:
        return (("tz", self.tz),) if self.tz else ()

    def read(self):
        from sensors_io.readers.mapping import read_with_mapping

        return read_with_mapping(self.files[0], self.files[1], tz=self.tz)


def mapped_sources(paths: Sequence[Path], mapping: Path, tz: str | None = None) -> list[MappedSource]:
    """One source per CSV under ``paths`` (folders read recursively), after validating the mapping once."""
    from sensors_io.readers.mapping import load_mapping

    load_mapping(mapping)  # a bad mapping fails before any data is read
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files += sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in (".csv", ".txt", ".tsv")
                            and not any(part.startswith(".") for part in f.relative_to(p).parts))
        elif p.is_file():
            files.append(p)
        else:
            raise IngestError(p, "an existing file or folder", found="nothing at this path")
    return [MappedSource((f, Path(mapping)), tz) for f in files]


def stage_paths(
    paths: Sequence[Path], lake: Path, *, tz: str = "Europe/Paris", fmt: str | None = None,
    tolerant: bool = False, naive_tz: str | None = None,
) -> IngestReport:
    """Discover the sources under ``paths`` (files or folders) and stage them.

    ``tz`` is the town's zone (local days); ``naive_tz`` the zone of sources without offsets (``--tz``).

    With ``tolerant`` (the landing folder), each top-level entry is discovered on its own and one
    unreadable entry is reported in the result instead of stopping the others.
    """
    from sensors_io.detect import discover

    if not tolerant:
        return stage_sources(discover([Path(p) for p in paths], fmt, naive_tz), lake, tz)
    sources, failed = discover_tolerant(paths, fmt, naive_tz)
    report = stage_sources(sources, lake, tz)
    report.sources += failed
    return report


def discover_tolerant(paths: Sequence[Path], fmt: str | None = None,
                      naive_tz: str | None = None) -> tuple[list, list[SourceReport]]:
    """Sources under ``paths``, each top-level entry discovered on its own; unreadable entries are
    returned as failed reports instead of stopping the others (the landing folder's rule)."""
    from sensors_io.detect import discover

    sources, failed = [], []
    for entry in (c for p in map(Path, paths) for c in (sorted(p.iterdir()) if p.is_dir() else [p])):
        if entry.name.startswith("."):
            continue
        try:
            sources += discover([entry], fmt, naive_tz)
        except IngestError as exc:
            failed.append(SourceReport(key="", format="unknown", files=[str(entry)], error=str(exc)))
    return sources, failed


def staged_files(lake: Path) -> list[Path]:
    """The staged count files, in staging order."""
    return [lake / STAGING / f"{e['key']}.parquet" for e in read_manifest(lake)]


def staged_day_range(lake: Path) -> tuple[dt.date, dt.date] | None:
    """First and last local day present in the staged data."""
    days = [d for e in read_manifest(lake) for d in (e.get("first_day"), e.get("last_day")) if d]
    if not days:
        return None
    return dt.date.fromisoformat(min(days)), dt.date.fromisoformat(max(days))


def select_counts(lake: Path, start_utc: dt.datetime, end_utc: dt.datetime) -> tuple[pl.DataFrame, int]:
    """Canonical rows with ``start_utc`` in ``[start_utc, end_utc)``, deduplicated; and the duplicates dropped.

    Columns: the canonical ones, then the optional ones that hold any value in the window.
    """
    files = [f for f in staged_files(lake) if f.exists()]
    if not files:
        return pl.DataFrame(schema=COUNTS_SCHEMA), 0
    start_utc, end_utc = start_utc.astimezone(dt.UTC), end_utc.astimezone(dt.UTC)
    # Each file through scan_staged: a streamed source keeps its parse columns and skips rejected rows.
    window = (
        pl.concat([scan_staged(f).select(list(STAGED_SCHEMA)) for f in files])
        .filter(pl.col("start_utc").is_between(start_utc, end_utc, closed="left"))
        .collect()
    )
    deduped = (
        window.sort([*ROW_KEY, "_seq"])
        .unique(subset=list(ROW_KEY), keep="last", maintain_order=True)
        .drop("_seq")
    )
    keep_optional = [c for c in OPTIONAL_SCHEMA if deduped[c].null_count() < deduped.height]
    return deduped.select([*COUNTS_SCHEMA, *keep_optional]), window.height - deduped.height


def staged_sites(lake: Path) -> pl.DataFrame:
    """Every site seen in staged sources; the latest description of a site wins."""
    files = [f.with_name(f.stem + ".sites.parquet") for f in staged_files(lake)]
    files = [f for f in files if f.exists()]
    if not files:
        return pl.DataFrame(schema=SITES_SCHEMA)
    return (
        pl.concat([pl.read_parquet(f) for f in files])
        .unique(subset=["site_id"], keep="last", maintain_order=True)
        .sort("site_id")
    )
