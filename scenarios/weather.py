"""Optional hourly weather regressors from Météo-France's public per-department hourly files.

Source: "Données climatologiques de base – horaires" on data.gouv.fr, one file per department and
period (``H_<dep>_latest-<y1>-<y2>.csv.gz``, ``H_<dep>_previous-…``; Fécamp → department 76), see
INDICATORS.md §7. Layout: ``;``-separated, header
``NUM_POSTE;NOM_USUEL;LAT;LON;ALTI;AAAAMMJJHH;RR1;QRR1;…;T;QT;…;U;QU;…``, one ``Q<var>`` quality code
beside every variable, ``AAAAMMJJHH`` in **UTC**.

Time convention here: the value stamped ``HH`` describes the hour that **ends** at ``HH`` (``RR1`` is
the rain of the preceding hour; ``T``, ``FF``, ``U`` are read at ``HH``), so ``start_utc = HH − 1 h``,
the same hour-start convention as the counts.

Quality codes (Météo-France field descriptor): 0 protected, 1 validated, 2 doubtful (being checked),
9 filtered (passed first-level checks only). Doubtful values (2) are nulled by default.

Forecasts run without weather. With weather, every forecast hour needs weather (observed or a weather
forecast in the same layout): :func:`require_coverage` stops with the file to update otherwise.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

#: Variables kept and the regressor names they become.
VARIABLES: dict[str, str] = {"RR1": "rain_mm", "T": "temp_c", "FF": "wind_ms", "U": "humidity_pct"}
#: Quality codes accepted by default (2 = doubtful is dropped).
GOOD_QUALITY: tuple[int, ...] = (0, 1, 9)
WEATHER_COLUMNS: list[str] = list(VARIABLES.values())
_KEY = ["NUM_POSTE", "NOM_USUEL", "LAT", "LON", "ALTI", "AAAAMMJJHH"]


class WeatherError(ValueError):
    """A weather file cannot be read, or does not cover the hours asked for."""


def read_meteofrance_hourly(path: str | Path, *, stations: list[str] | None = None,
                            good_quality: tuple[int, ...] = GOOD_QUALITY) -> pl.DataFrame:
    """Read one Météo-France hourly file (``.csv`` or ``.csv.gz``) into long-by-station rows.

    Returns ``station`` (NUM_POSTE, 8 digits), ``station_name``, ``start_utc`` (hour start, UTC) and the
    regressors of :data:`VARIABLES` that the file has (Float64, null when missing or of a rejected
    quality code). ``stations`` keeps only those NUM_POSTE values.
    """
    path = Path(path)
    if not path.is_file():
        raise WeatherError(f"{path}: no such weather file")
    try:
        head = pl.read_csv(path, separator=";", n_rows=0, infer_schema=False)
    except pl.exceptions.PolarsError as exc:
        raise WeatherError(f"{path}: not a ';'-separated Météo-France hourly file ({exc})") from exc
    missing = [c for c in _KEY if c not in head.columns]
    if missing:
        raise WeatherError(
            f"{path}: header lacks {missing}; expected a Météo-France hourly file starting "
            f"'{';'.join(_KEY)};RR1;QRR1;…'"
        )
    present = [v for v in VARIABLES if v in head.columns]
    noq = [v for v in present if f"Q{v}" not in head.columns]
    if noq:
        raise WeatherError(f"{path}: variables {noq} have no quality column Q<var>")
    cols = ["NUM_POSTE", "NOM_USUEL", "AAAAMMJJHH", *present, *(f"Q{v}" for v in present)]
    raw = pl.read_csv(path, separator=";", columns=cols, infer_schema=False, truncate_ragged_lines=True)
    raw = raw.with_columns(pl.col("NUM_POSTE").str.strip_chars().str.zfill(8))
    if stations is not None:
        raw = raw.filter(pl.col("NUM_POSTE").is_in(stations))
    stamp = (pl.col("AAAAMMJJHH").str.strip_chars() + "00").str.to_datetime("%Y%m%d%H%M", strict=False, time_unit="us")
    bad = raw.filter(stamp.is_null())
    if bad.height:
        raise WeatherError(f"{path}: AAAAMMJJHH {bad['AAAAMMJJHH'][0]!r} is not a YYYYMMDDHH hour")
    exprs = []
    for v in present:
        value = pl.col(v).str.strip_chars().cast(pl.Float64, strict=False)
        q = pl.col(f"Q{v}").str.strip_chars().cast(pl.Int32, strict=False)
        exprs.append(pl.when(q.is_in(list(good_quality))).then(value).alias(VARIABLES[v]))
    return (
        raw.select(
            station=pl.col("NUM_POSTE"), station_name=pl.col("NOM_USUEL"),
            start_utc=(stamp.dt.replace_time_zone("UTC") - pl.duration(hours=1)),
            *exprs,
        )
        .select("station", "station_name", "start_utc", *(VARIABLES[v] for v in present))
        .sort("station", "start_utc")
    )


def weather_regressors(weather: pl.DataFrame) -> pl.DataFrame:
    """One row per hour: the mean over stations of each regressor (``start_utc`` + :data:`WEATHER_COLUMNS`).

    Variables a file does not have are null columns, so the model always sees the same features.
    """
    cols = [c for c in WEATHER_COLUMNS if c in weather.columns]
    out = weather.group_by("start_utc").agg([pl.col(c).mean() for c in cols]).sort("start_utc")
    return out.with_columns([pl.lit(None, pl.Float64).alias(c) for c in WEATHER_COLUMNS if c not in cols]).select(
        "start_utc", *WEATHER_COLUMNS
    )


def require_coverage(regressors: pl.DataFrame, start_utc: dt.datetime, end_utc: dt.datetime,
                     source: str = "the weather file") -> None:
    """Raise :class:`WeatherError` unless ``regressors`` has every hour of ``[start_utc, end_utc)``."""
    want = pl.datetime_range(start_utc, end_utc, "1h", closed="left", time_unit="us", time_zone="UTC", eager=True)
    have = regressors.get_column("start_utc")
    lacking = want.filter(~want.is_in(have.implode()))
    if lacking.len():
        last = have.max() if have.len() else None
        raise WeatherError(
            f"weather regressors from {source} end at {last}; the forecast needs {lacking.len()} more hours "
            f"(first missing {lacking.min()}). Add the Météo-France hourly file (or a weather forecast in the "
            "same layout) covering them, or forecast without weather."
        )
