"""French national schema « comptage des mobilités » (etalab, v0.2.x): site / channel / measure CSVs.

Rules (see shared/docs/INDICATORS.md §5 and the data README):

- ``site_id`` comes from the channel; ``sensor_id`` is ``measure.counter_id`` when present and non-empty,
  else the channel's ``site_id``. When the channel file has several channels with the same site, mode and
  direction (v0.2.4: channels 353226380 and 353226382, both "bike IN" on counter CPTTEST2043), their
  series would merge, so those channels get ``sensor_id = "<counter or site>:<channel_id>"``
  (decided from the channel file alone, so a measure file always yields the same ids).
- ``mode`` from ``channel.mobility_type`` through :data:`MOBILITY_TYPE_TO_MODE` and :func:`map_mobility_type`.
- ``direction`` = ``channel.direction`` (N, NE, …) if set, else ``provider_direction_code`` (IN/OUT), else
  ``both``; the code ``INDISTINCT`` (both directions summed) is written ``both``.
- ``start_utc`` from ``start_datetime`` and its own offset (``+02``, ``+0200`` and ``+02:00`` accepted);
  ``interval_s`` = ``end_datetime - start_datetime``, or ``channel.time_step`` when the end is empty.
  The source's stamps are kept as written: in the v0.2.4 example the 30 Oct 2022 row carries a wrong
  ``+01:00`` offset, which leaves a 1-hour hole in UTC; compare such daily rows on the local date.
- ``count``: empty → null (not measured), ``0`` stays 0, decimals kept.
- Quarantined (one row per measure line, first failing check wins): missing/unknown ``channel_id``,
  unparseable ``start_datetime``/``end_datetime``, end not after start, no end and no ``time_step``,
  non-numeric, non-finite or negative ``count``, ``start_datetime`` after now + 1 day (the shared
  :func:`~sensors_io.readers.split_future`). ``line`` is the 1-based record number + 1 (header = 1),
  which is the physical line unless a quoted field spans lines.
- Duplicates: the shared rule of :mod:`sensors_io.readers` (keep the last line).
- ``rows_read`` = data records of the measure file.
- Files: UTF-8 (BOM tolerated) or cp1252, ``,`` (the schema's) or ``;`` delimited; see :mod:`sensors_io.readers`.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import polars as pl

from sensors_io.errors import IngestError
from sensors_io.readers import (
    finish_read,
    first_problem,
    parse_iso_utc,
    problem,
    read_csv_strings,
    resolve_duplicates,
    split_future,
    split_problems,
)
from sensors_io.schema import COUNTS_SCHEMA, SITES_SCHEMA, ReadResult, conform

SOURCE = "national_schema"
BAD_ISO = "unparseable timestamp (expected ISO 8601 with a UTC offset)"

#: National ``mobility_type`` enum → canonical mode. VAN is a light vehicle (French VL, ≤ 3.5 t), so it
#: counts as ``car`` and stays out of ``%PL``; TRUCK is the heavy class (PL). Modes without a canonical
#: counterpart (horse riders, trams, canoes) and UNDEFINED map to ``other``.
MOBILITY_TYPE_TO_MODE: dict[str, str] = {
    "BIKE": "bike",
    "PEDESTRIAN": "pedestrian",
    "CAR": "car",
    "VAN": "car",
    "TRUCK": "heavy",
    "BUS": "bus",
    "MINIBUS": "bus",
    "TWO WHEELS MOTORIZED": "motorcycle",
    "E-SCOOTER": "scooter",
    "HORSE-RIDER": "other",
    "TRAMWAY": "other",
    "CANOE": "other",
    "UNDEFINED": "other",
}

#: Canonical modes that are motor vehicles: a multi-valued channel made only of these is ``all_vehicles``.
MOTOR_MODES: frozenset[str] = frozenset({"car", "heavy", "bus", "motorcycle"})

#: Provider direction codes that mean "both directions together".
BOTH_DIRECTION_CODES: frozenset[str] = frozenset({"INDISTINCT", "BOTH", "ALL"})

MEASURE_REQUIRED = ("channel_id", "start_datetime", "count")
CHANNEL_REQUIRED = ("channel_id", "site_id")
SITE_REQUIRED = ("site_id", "xlong", "ylat")


class NationalSiblings(NamedTuple):
    """The channel and site files that go with a measure file (None when not found)."""

    channel: Path | None
    site: Path | None


def map_mobility_type(value: str | None) -> str:
    """Map a (possibly comma-separated) ``mobility_type`` to one canonical mode.

    A channel with several types reports their sum: one type (or several that map to the same mode,
    e.g. ``BUS,MINIBUS``) gives that mode; only motor vehicles (``CAR,TRUCK``) gives ``all_vehicles``;
    any other mix, an empty value or an unknown type gives ``other``.

    Examples
    --------
    >>> [map_mobility_type(v) for v in ("BIKE", "CAR,TRUCK", "bus, minibus", "BIKE,PEDESTRIAN", None)]
    ['bike', 'all_vehicles', 'bus', 'other', 'other']
    """
    if value is None:
        return "other"
    modes = {MOBILITY_TYPE_TO_MODE.get(v.strip().upper(), "other") for v in value.split(",") if v.strip()}
    if len(modes) == 1:
        return modes.pop()
    if modes and modes <= MOTOR_MODES:
        return "all_vehicles"
    return "other"


def _sibling_by_name(measure: Path, role: str) -> Path | None:
    """``comptagemobilites_measure_X.csv`` → ``comptagemobilites_<role>_X.csv`` in the same folder."""
    name = measure.name
    idx = name.lower().rfind("measure")
    if idx < 0:
        return None
    candidate = measure.with_name(name[:idx] + role + name[idx + len("measure"):])
    return candidate if candidate.is_file() else None


def _sibling_by_folder(measure: Path, role: str) -> Path | None:
    """``…/measure/X.csv`` → ``…/<role>/X.csv``, or the only CSV in ``…/<role>/``."""
    if measure.parent.name.lower() != "measure":
        return None
    folder = measure.parent.parent / role
    if not folder.is_dir():
        return None
    same = folder / measure.name
    if same.is_file():
        return same
    csvs = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".csv" and p.is_file())
    return csvs[0] if len(csvs) == 1 else None


def find_national_siblings(measure_path: Path) -> NationalSiblings:
    """Find the channel and site files of a measure file.

    Two layouts are recognised: the national file-name pattern ``comptagemobilites_{measure,channel,site}_X.csv``
    in one folder, and the datapackage layout ``{measure,channel,site}/<same name>.csv`` (or the only CSV
    of the sibling folder).
    """
    measure_path = Path(measure_path)
    found = {
        role: _sibling_by_name(measure_path, role) or _sibling_by_folder(measure_path, role)
        for role in ("channel", "site")
    }
    return NationalSiblings(channel=found["channel"], site=found["site"])


def _read_strings(path: Path, required: tuple[str, ...], what: str) -> pl.DataFrame:
    """Read a CSV with every column as String (empty → null); raise IngestError if it is unreadable.

    Decoding (UTF-8, else cp1252), the ``,``/``;`` delimiter and structural checks are the shared ones
    (:func:`sensors_io.readers.read_csv_strings`).
    """
    return read_csv_strings(
        path,
        required,
        f"national schema {what}",
        hint="Is this a national-schema file? Otherwise use --format NAME or --mapping FILE",
    )


def _channels(path: Path) -> pl.DataFrame:
    """Channel table: channel_id, site_id, mode, direction, time_step."""
    raw = _read_strings(path, CHANNEL_REQUIRED, "channel")
    cols = raw.columns

    def opt(name: str) -> pl.Expr:
        return pl.col(name).str.strip_chars() if name in cols else pl.lit(None, dtype=pl.String)

    code = opt("provider_direction_code")
    return raw.select(
        channel_id=pl.col("channel_id").str.strip_chars(),
        ch_site_id=pl.col("site_id").str.strip_chars(),
        mode=opt("mobility_type").map_elements(map_mobility_type, return_dtype=pl.String, skip_nulls=False),
        direction=pl.coalesce(
            opt("direction").replace("", None),
            pl.when(code.str.to_uppercase().is_in(list(BOTH_DIRECTION_CODES))).then(pl.lit("both")).otherwise(code),
            pl.lit("both"),
        ),
        time_step=opt("time_step").cast(pl.Float64, strict=False).cast(pl.Int64, strict=False),
    ).unique("channel_id", keep="last", maintain_order=True).with_columns(
        # Two channels with the same site, mode and direction (e.g. two lanes "Vers Nantes" under one
        # counter) would merge into one series: their sensor_id gets the channel id appended.
        qualify=pl.len().over("ch_site_id", "mode", "direction") > 1,
    )


def _sites(path: Path | None) -> pl.DataFrame:
    """Site table (SITES_SCHEMA) from site.csv: xlong → lon, ylat → lat."""
    if path is None:
        return pl.DataFrame(schema=SITES_SCHEMA)
    raw = _read_strings(path, SITE_REQUIRED, "site")
    name = pl.col("site_name") if "site_name" in raw.columns else pl.lit(None, dtype=pl.String)
    return raw.select(
        site_id=pl.col("site_id").str.strip_chars(),
        site_name=name,
        lat=pl.col("ylat").str.strip_chars().cast(pl.Float64, strict=False),
        lon=pl.col("xlong").str.strip_chars().cast(pl.Float64, strict=False),
        source=pl.lit(SOURCE),
    ).cast(dict(SITES_SCHEMA))


def read_national_schema(measure: Path, channel: Path | None = None, site: Path | None = None) -> ReadResult:
    """Read a national-schema measure CSV with its channel (required) and site (optional) CSVs.

    Missing ``channel``/``site`` are looked up with :func:`find_national_siblings`; without a channel file
    the measures cannot be placed, so an IngestError is raised. See the module docstring for the rules.
    """
    measure = Path(measure)
    siblings = find_national_siblings(measure) if channel is None or site is None else None
    if channel is None:
        channel = siblings.channel if siblings else None
        if channel is None:
            raise IngestError(
                measure,
                "a channel file beside the measure file (comptagemobilites_channel_*.csv or a channel/ folder)",
                hint="Pass the channel file explicitly, or put the three national-schema files together",
            )
    if site is None and siblings is not None:
        site = siblings.site
    source_file = str(measure)

    raw = _read_strings(measure, MEASURE_REQUIRED, "measure")
    rows_read = raw.height
    channels = _channels(Path(channel))

    cols = raw.columns
    counter = (
        pl.col("counter_id").str.strip_chars().replace("", None) if "counter_id" in cols else pl.lit(None, pl.String)
    )
    end_raw = pl.col("end_datetime") if "end_datetime" in cols else pl.lit(None, pl.String)
    frame = (
        raw.lazy()
        .select(
            "line",
            channel_id=pl.col("channel_id").str.strip_chars(),
            counter_id=counter,
            start_raw=pl.col("start_datetime"),
            end_raw=end_raw,
            count_raw=pl.col("count").str.strip_chars().replace("", None),
        )
        .join(channels.lazy(), on="channel_id", how="left")
        .with_columns(
            start_utc=parse_iso_utc(pl.col("start_raw")),
            end_utc=parse_iso_utc(pl.col("end_raw")),
            count=pl.col("count_raw").cast(pl.Float64, strict=False),
        )
        .with_columns(
            interval_s=pl.when(pl.col("end_raw").is_not_null())
            .then((pl.col("end_utc") - pl.col("start_utc")).dt.total_seconds())
            .otherwise(pl.col("time_step")),
        )
        .with_columns(
            _bad=first_problem(
                (pl.col("channel_id").is_null(), problem("channel_id", "channel_id", "missing channel_id")),
                (pl.col("ch_site_id").is_null(),
                 problem("channel_id", "channel_id", "unknown channel_id (not in the channel file)")),
                (pl.col("start_utc").is_null(), problem("start_datetime", "start_raw", BAD_ISO)),
                (pl.col("end_raw").is_not_null() & pl.col("end_utc").is_null(),
                 problem("end_datetime", "end_raw", BAD_ISO)),
                (pl.col("interval_s").is_null(),
                 problem("end_datetime", "end_raw", "no end_datetime and no channel time_step")),
                (pl.col("interval_s") <= 0, problem("end_datetime", "end_raw", "end_datetime not after start_datetime")),
                (pl.col("count_raw").is_not_null() & (pl.col("count").is_null() | ~pl.col("count").is_finite()),
                 problem("count", "count_raw", "non-numeric count")),
                (pl.col("count") < 0, problem("count", "count_raw", "negative count")),
            )
        )
        .collect()
    )

    good, rejected = split_problems(frame, source_file=source_file)
    good = good.select(
        "line",
        "start_raw",
        site_id=pl.col("ch_site_id"),
        sensor_id=pl.when(pl.col("qualify"))
        .then(pl.format("{}:{}", pl.coalesce("counter_id", "ch_site_id"), pl.col("channel_id")))
        .otherwise(pl.coalesce("counter_id", "ch_site_id")),
        mode="mode",
        direction="direction",
        start_utc="start_utc",
        interval_s=pl.col("interval_s").cast(pl.Int32),
        count="count",
        source=pl.lit(SOURCE),
        source_file=pl.lit(source_file),
    )
    good, future = split_future(good, source_file=source_file, column="start_datetime", value="start_raw")
    kept, conflicts, n_duplicates = resolve_duplicates(good, source_file=source_file)
    accepted = conform(kept.sort("line")).collect()
    return finish_read(accepted.select(list(COUNTS_SCHEMA)), [rejected, future, conflicts], rows_read=rows_read,
                       duplicates=n_duplicates, source=SOURCE, sites=_sites(Path(site) if site is not None else None))
