"""Eco-Counter hourly exports as French open-data portals publish them (Paris « comptage vélo »).

Rules:

- File: ``;``-delimited (``,`` sniffed too) UTF-8 (BOM and CRLF tolerated, cp1252 fallback), rows in any order; columns matched
  case-insensitively. Required: ``Identifiant du compteur``, ``Comptage horaire``,
  ``Date et heure de comptage``. Optional: ``Nom du compteur``, ``Identifiant du site de comptage``,
  ``Nom du site de comptage``, ``Coordonnées géographiques``; other columns (photos, …) are ignored.
- ``sensor_id`` = ``Identifiant du compteur`` (``<site>-<channel>``); ``site_id`` = ``Identifiant du site
  de comptage``, else the counter id's part before the first ``-``, else the counter id; ``mode`` = ``bike``.
- ``direction`` = the trailing direction token of ``Nom du compteur`` (two compass points, French ``O`` or
  English ``W`` for west, joined by ``-``: ``97 avenue Denfert Rochereau SO-NE`` → ``SO-NE``), else ``both``.
- Time: ``Date et heure de comptage`` is local time with its UTC offset and marks the **start** of the
  hour; ``start_utc`` = that instant (the autumn repeated 02:00 is told apart by its ``+02:00``/``+01:00``
  offsets); ``interval_s`` = 3600. A stamp without an offset is quarantined (its instant is ambiguous).
- ``count`` = ``Comptage horaire``; empty → null (not measured), ``0`` stays 0, decimal comma accepted.
- Quarantined (first failing check wins): empty counter id; empty or unparseable timestamp;
  non-numeric/non-finite or negative count; a start after now + 1 day (shared
  :func:`~sensors_io.readers.split_future`). ``line`` = 1-based physical line (header = 1).
- Duplicates: the shared rule of :mod:`sensors_io.readers` (keep the last line).
- Sites: one per site id, ``site_name`` = ``Nom du site de comptage`` (else the counter name),
  ``lat``/``lon`` from ``Coordonnées géographiques`` (``"lat,lon"``), first non-null in file order.
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
from sensors_io.readers.paris_loops import parse_lat_lon
from sensors_io.schema import COUNTS_SCHEMA, ReadResult, conform

SOURCE = "ecocounter"

COL_COUNTER = "Identifiant du compteur"
COL_COUNT = "Comptage horaire"
COL_TIME = "Date et heure de comptage"
REQUIRED = (COL_COUNTER, COL_COUNT, COL_TIME)

#: Trailing direction token of a counter name: ``N-S``, ``SO-NE``, ``E-O``, ``NW-SE`` …
DIRECTION_PATTERN = r"(?:^|\s)([NSEOW]{1,2}-[NSEOW]{1,2})\s*$"

REASON_BAD_TIME = "unparseable timestamp (expected ISO 8601 with a UTC offset)"


def direction_from_name(name: pl.Expr) -> pl.Expr:
    """The trailing direction token of a counter name (upper-cased), else ``both``.

    Examples
    --------
    >>> import polars as pl
    >>> names = pl.Series(["97 avenue Denfert Rochereau SO-NE", "Quai d'Orsay e-o", "Pont Neuf", None])
    >>> pl.select(direction_from_name(pl.lit(names))).to_series().to_list()
    ['SO-NE', 'E-O', 'both', 'both']
    """
    token = name.str.to_uppercase().str.extract(DIRECTION_PATTERN, 1)
    return pl.coalesce(token, pl.lit("both"))


def read_ecocounter(path: Path) -> ReadResult:
    """Read an Eco-Counter hourly CSV as published by French portals (rules in the module docstring)."""
    path = Path(path)
    source_file = str(path)
    raw = read_csv_strings(path, REQUIRED, "Eco-Counter « comptage horaire »")
    rows_read = raw.height

    frame = raw.select(
        "line",
        counter=optional_column(raw, COL_COUNTER),
        counter_name=optional_column(raw, "Nom du compteur"),
        site=optional_column(raw, "Identifiant du site de comptage"),
        site_name=optional_column(raw, "Nom du site de comptage"),
        point=optional_column(raw, "Coordonnées géographiques"),
        time_raw=optional_column(raw, COL_TIME),
        count_raw=optional_column(raw, COL_COUNT),
    ).with_columns(
        start_utc=parse_iso_utc(pl.col("time_raw")),
        count=parse_number(pl.col("count_raw"), decimal_comma=True),
    )
    non_numeric, negative = count_problem(pl.col("count_raw"), pl.col("count"))

    frame = frame.with_columns(_bad=first_problem(
        (pl.col("counter").is_null(), problem(COL_COUNTER, "counter", f"missing {COL_COUNTER}")),
        (pl.col("start_utc").is_null(), problem(COL_TIME, "time_raw", REASON_BAD_TIME)),
        (non_numeric, problem(COL_COUNT, "count_raw", "non-numeric count")),
        (negative, problem(COL_COUNT, "count_raw", "negative count")),
    ))
    good, rejected = split_problems(frame, source_file=source_file)
    good = good.with_columns(
        site_id=pl.coalesce("site", pl.col("counter").str.split("-").list.first().replace("", None), "counter"),
    )
    rows = good.select(
        "line",
        "site_id",
        "time_raw",
        sensor_id="counter",
        mode=pl.lit("bike"),
        direction=direction_from_name(pl.col("counter_name")),
        start_utc="start_utc",
        interval_s=pl.lit(3600, dtype=pl.Int32),
        count="count",
        source=pl.lit(SOURCE),
        source_file=pl.lit(source_file),
    )
    rows, future = split_future(rows, source_file=source_file, column=COL_TIME, value="time_raw")
    kept, conflicts, n_duplicates = resolve_duplicates(rows, source_file=source_file)
    accepted = conform(kept.sort("sensor_id", "start_utc", "line")).collect()

    lat, lon = parse_lat_lon(pl.col("point"))
    sites = (
        good.sort("line")
        .select("site_id", site_name=pl.coalesce("site_name", "counter_name"), lat=lat, lon=lon)
        .pipe(collapse_sites, SOURCE)
    )

    return finish_read(accepted.select(list(COUNTS_SCHEMA)), [rejected, future, conflicts],
                       rows_read=rows_read, duplicates=n_duplicates, source=SOURCE, sites=sites)


def _sniff(path: Path, head: str) -> str | None:
    cols = header_columns(head)
    return "data" if {"identifiant du compteur", "comptage horaire", "date et heure de comptage"} <= cols else None


def _read(path: Path) -> ReadResult:
    return read_ecocounter(path)


def _format():
    from sensors_io.detect import Format

    return Format(
        SOURCE,
        "Eco-Counter hourly CSV from French portals (';', Identifiant du compteur, Comptage horaire)",
        _read,
        _sniff,
        REQUIRED,
    )


FORMAT = _format()

__all__ = ["FORMAT", "direction_from_name", "read_ecocounter"]
