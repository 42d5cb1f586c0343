"""The canonical counts contract (DESIGN.md) and the result every reader returns."""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

#: Modes of the canonical `mode` column, mapped from the national `mobility_type` vocabulary.
MODES: tuple[str, ...] = (
    "car",
    "heavy",
    "bike",
    "pedestrian",
    "bus",
    "motorcycle",
    "scooter",
    "all_vehicles",
    "other",
)

UTC_US = pl.Datetime("us", "UTC")

#: Canonical counts, in column order. `count` null = not measured; 0 = measured, nobody passed.
COUNTS_SCHEMA: pl.Schema = pl.Schema(
    {
        "site_id": pl.String,
        "sensor_id": pl.String,
        "mode": pl.String,
        "direction": pl.String,
        "start_utc": UTC_US,
        "interval_s": pl.Int32,
        "count": pl.Float64,
        "source": pl.String,
        "source_file": pl.String,
    }
)

#: Optional columns a reader adds where its source has them.
OPTIONAL_SCHEMA: pl.Schema = pl.Schema(
    {
        "speed_v85_kmh": pl.Float64,
        "occupancy_pct": pl.Float64,
        "uptime": pl.Float64,
    }
)

#: Rows a reader rejects, with why. `line` is the 1-based physical line of the file (header = 1),
#: or the 1-based item index for JSON sources.
QUARANTINE_SCHEMA: pl.Schema = pl.Schema(
    {
        "source_file": pl.String,
        "line": pl.Int64,
        "column": pl.String,
        "value": pl.String,
        "reason": pl.String,
    }
)

#: Where each site is, for maps and report labels (`lake/sites/`).
SITES_SCHEMA: pl.Schema = pl.Schema(
    {
        "site_id": pl.String,
        "site_name": pl.String,
        "lat": pl.Float64,
        "lon": pl.Float64,
        "source": pl.String,
    }
)

#: Key of one measurement: a row with the same key in two files is a duplicate.
SERIES_KEY: tuple[str, ...] = ("sensor_id", "mode", "direction")
ROW_KEY: tuple[str, ...] = (*SERIES_KEY, "start_utc", "interval_s")


def conform(frame: pl.LazyFrame | pl.DataFrame) -> pl.LazyFrame:
    """Cast to the canonical types and order; keep optional columns that are present, drop others.

    Examples
    --------
    >>> import polars as pl, datetime as dt
    >>> row = {"site_id": "s", "sensor_id": "s1", "mode": "car", "direction": "both",
    ...        "start_utc": dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc), "interval_s": 3600,
    ...        "count": 3, "source": "test", "source_file": "f.csv", "junk": 1}
    >>> conform(pl.DataFrame([row])).collect().columns
    ['site_id', 'sensor_id', 'mode', 'direction', 'start_utc', 'interval_s', 'count', 'source', 'source_file']
    """
    lf = frame.lazy()
    names = lf.collect_schema().names()
    exprs = [pl.col(c).cast(t) for c, t in COUNTS_SCHEMA.items()]
    exprs += [pl.col(c).cast(t) for c, t in OPTIONAL_SCHEMA.items() if c in names]
    return lf.select(exprs)


def empty_counts(optional: bool = False) -> pl.DataFrame:
    """An empty frame with the canonical schema (and the optional columns when asked)."""
    schema = dict(COUNTS_SCHEMA)
    if optional:
        schema.update(OPTIONAL_SCHEMA)
    return pl.DataFrame(schema=schema)


def empty_quarantine() -> pl.DataFrame:
    """An empty quarantine frame."""
    return pl.DataFrame(schema=QUARANTINE_SCHEMA)


@dataclass
class ReadResult:
    """What a reader returns for one source (a file, or the national schema's three files).

    Accounting: ``rows_read == accepted.height + quarantine.height + duplicates``.
    """

    accepted: pl.DataFrame
    quarantine: pl.DataFrame = field(default_factory=empty_quarantine)
    rows_read: int = 0
    duplicates: int = 0
    source: str = ""
    #: Site metadata where the source has it (SITES_SCHEMA), else an empty frame.
    sites: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=SITES_SCHEMA))

    def check_accounting(self) -> None:
        """Raise if rows were lost or invented."""
        total = self.accepted.height + self.quarantine.height + self.duplicates
        if total != self.rows_read:
            raise AssertionError(
                f"{self.source}: rows read {self.rows_read} != accepted {self.accepted.height}"
                f" + quarantined {self.quarantine.height} + duplicates {self.duplicates}"
            )
