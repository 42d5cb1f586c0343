"""Ville de Paris « Comptages routiers permanents » (loop detectors): hourly flow and occupancy per arc.

Rules (see the data README and the publisher's 2019 notice):

- File: ``;``-delimited (``,`` sniffed too) UTF-8 (BOM tolerated, cp1252 fallback), rows in any order; columns matched case-insensitively.
  Required: ``Identifiant arc``, ``Date et heure de comptage``, ``Débit horaire``. Optional:
  ``Taux d'occupation``, ``Libelle``, ``geo_point_2d``.
- ``sensor_id`` = ``site_id`` = ``paris-arc-<Identifiant arc>``; ``mode`` = ``all_vehicles``;
  ``direction`` = ``both`` (an arc is one carriageway, counted as a whole); ``interval_s`` = 3600.
- Time: ``Date et heure de comptage`` carries its own UTC offset and marks the **end** of the measured hour
  ("01:00" = 00:00–01:00), so ``start_utc`` = parsed instant − 1 h. Offsets make DST unambiguous: the
  autumn repeated hour is two distinct instants (``02:00+02:00`` / ``02:00+01:00``).
- ``count`` = ``Débit horaire`` (vehicles/hour); empty → null (not measured), whatever ``Etat trafic``
  says (``Inconnu`` rows have an empty Débit). ``occupancy_pct`` = ``Taux d'occupation`` (empty → null).
  A decimal comma (``22,5``) is accepted.
- Quarantined (first failing check wins): empty ``Identifiant arc``; empty or unparseable timestamp (an
  offset is required); non-numeric/non-finite or negative Débit; non-numeric/non-finite or negative
  Taux; a start after now + 1 day (shared :func:`~sensors_io.readers.split_future`). ``line`` = 1-based
  physical line (header = 1).
- Duplicates: the shared rule of :mod:`sensors_io.readers` (keep the last line).
- Sites: one per arc, ``site_name`` = ``Libelle``, ``lat``/``lon`` from ``geo_point_2d`` (``"lat, lon"``);
  the float text of the point varies between rows, the first parseable one in file order is kept.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from sensors_io.readers import (
    collapse_sites,
    finish_read,
    first_problem,
    parse_iso_utc,
    problem,
    resolve_duplicates,
    split_future,
    split_problems,
)
from sensors_io.readers.naive_csv import (
    count_problem,
    header_columns,
    optional_column,
    parse_number,
    read_csv_strings,
)
from sensors_io.schema import COUNTS_SCHEMA, ReadResult, conform

SOURCE = "paris_loops"

COL_ARC = "Identifiant arc"
COL_TIME = "Date et heure de comptage"
COL_FLOW = "Débit horaire"
COL_OCC = "Taux d'occupation"
REQUIRED = (COL_ARC, COL_TIME, COL_FLOW)

REASON_BAD_TIME = "unparseable timestamp (expected ISO 8601 with a UTC offset)"


def parse_lat_lon(expr: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """``"lat, lon"`` (or ``"lat,lon"``) text → (lat, lon) Float64 expressions (null when malformed)."""
    parts = expr.str.strip_chars().str.extract_groups(r"^\s*([+-]?[\d.]+)\s*,\s*([+-]?[\d.]+)\s*$")
    return (
        parts.struct.field("1").cast(pl.Float64, strict=False),
        parts.struct.field("2").cast(pl.Float64, strict=False),
    )


def read_paris_loops(path: Path) -> ReadResult:
    """Read a Paris « comptages routiers permanents » CSV export (rules in the module docstring)."""
    path = Path(path)
    source_file = str(path)
    raw = read_csv_strings(path, REQUIRED, "Paris comptages routiers")
    rows_read = raw.height

    frame = raw.select(
        "line",
        arc=optional_column(raw, COL_ARC),
        time_raw=optional_column(raw, COL_TIME),
        flow_raw=optional_column(raw, COL_FLOW),
        occ_raw=optional_column(raw, COL_OCC),
        site_name=optional_column(raw, "Libelle"),
        point=optional_column(raw, "geo_point_2d"),
    ).with_columns(
        end_utc=parse_iso_utc(pl.col("time_raw")),
        count=parse_number(pl.col("flow_raw"), decimal_comma=True),
        occupancy_pct=parse_number(pl.col("occ_raw"), decimal_comma=True),
    )
    flow_nan, flow_neg = count_problem(pl.col("flow_raw"), pl.col("count"))
    occ_nan, occ_neg = count_problem(pl.col("occ_raw"), pl.col("occupancy_pct"))

    frame = frame.with_columns(_bad=first_problem(
        (pl.col("arc").is_null(), problem(COL_ARC, "arc", f"missing {COL_ARC}")),
        (pl.col("end_utc").is_null(), problem(COL_TIME, "time_raw", REASON_BAD_TIME)),
        (flow_nan, problem(COL_FLOW, "flow_raw", "non-numeric count")),
        (flow_neg, problem(COL_FLOW, "flow_raw", "negative count")),
        (occ_nan, problem(COL_OCC, "occ_raw", "non-numeric occupancy")),
        (occ_neg, problem(COL_OCC, "occ_raw", "negative occupancy")),
    ))
    good, rejected = split_problems(frame, source_file=source_file)
    good = good.with_columns(site_id=pl.format("paris-arc-{}", pl.col("arc")))
    rows = good.select(
        "line",
        "site_id",
        "time_raw",
        sensor_id="site_id",
        mode=pl.lit("all_vehicles"),
        direction=pl.lit("both"),
        start_utc=pl.col("end_utc").dt.offset_by("-1h"),  # the stamp is the END of the hour
        interval_s=pl.lit(3600, dtype=pl.Int32),
        count="count",
        source=pl.lit(SOURCE),
        source_file=pl.lit(source_file),
        occupancy_pct="occupancy_pct",
    )
    rows, future = split_future(rows, source_file=source_file, column=COL_TIME, value="time_raw")
    kept, conflicts, n_duplicates = resolve_duplicates(rows, source_file=source_file)
    accepted = conform(kept.sort("start_utc", "line")).collect()

    lat, lon = parse_lat_lon(pl.col("point"))
    sites = (
        good.sort("line")
        .select("site_id", "site_name", lat=lat, lon=lon)
        .pipe(collapse_sites, SOURCE)
    )

    return finish_read(accepted.select(*COUNTS_SCHEMA, "occupancy_pct"), [rejected, future, conflicts],
                       rows_read=rows_read, duplicates=n_duplicates, source=SOURCE, sites=sites)


def _sniff(path: Path, head: str) -> str | None:
    cols = header_columns(head)
    return "data" if {"identifiant arc", "date et heure de comptage", "débit horaire"} <= cols else None


def _read(path: Path) -> ReadResult:
    return read_paris_loops(path)


def _format():
    from sensors_io.detect import Format

    return Format(
        SOURCE,
        "Paris « comptages routiers permanents » loop CSV (';', Identifiant arc, Débit horaire, end-of-hour stamps)",
        _read,
        _sniff,
        REQUIRED,
    )


FORMAT = _format()

__all__ = ["FORMAT", "parse_lat_lon", "read_paris_loops"]
