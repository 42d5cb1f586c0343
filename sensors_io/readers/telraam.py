"""Telraam API hourly JSON (``/v1/reports/traffic``, level ``segments``, format ``per-hour``).

Rules:

- Text: UTF-8 (BOM tolerated), else cp1252. An empty file, invalid JSON (e.g. truncated) or an empty
  item list raise :class:`~sensors_io.errors.IngestError`.
- Shapes accepted: the collector file ``{"device_id", "month", "data": [items]}``, the API's
  ``{"report": [items]}``, or a bare list of items.
- One canonical row per item × mode (``car``, ``heavy``, ``bike``, ``pedestrian``) × direction
  (``lft``, ``rgt``) from the ``<mode>_<dir>`` fields; ``start_utc`` = ``date`` (UTC hour start);
  ``interval_s`` = 3600; ``sensor_id`` = ``site_id`` = ``telraam-<segment_id>``.
- Counts are Telraam's uptime-extrapolated decimals and are kept as they are.
- ``uptime == 0`` → every count of the hour is null (not measured), never 0.
- S2 night mode: when ``night`` > 0 the camera counted unclassified vehicles by their lights, so two
  ``all_vehicles`` rows (``night_lft``, ``night_rgt``) are emitted. If the class counts are then all 0
  (a full night-mode hour) they were not measured and are emitted as null. At dusk and dawn an hour can
  be part day, part night (classes > 0 and night > 0): both are emitted as Telraam reports them, each
  covering only part of the hour (187 such hours in the Karlsruhe S2 sample). A null or 0 ``night``
  emits no ``all_vehicles`` row.
- Optional columns: ``uptime`` on every row; ``speed_v85_kmh`` = ``v85`` on car rows only.
- Quarantine: an item that is not an object, lacks ``segment_id``, has an unparseable ``date`` or a
  ``date`` after now + 1 day (shared :func:`~sensors_io.readers.split_future`) → one quarantine row
  (column ``date``/``segment_id``); a count field that is not a number, not finite or
  negative → that one canonical row is quarantined. ``line`` is the 1-based item index.
- ``rows_read`` unit: candidate canonical rows = 8 per valid item (+ 2 when ``night`` > 0), plus 1 per
  rejected item. Duplicates follow the shared rule of :mod:`sensors_io.readers` (keep the last item).
- Sites: one per segment; ``site_name`` from ``devices.json`` (given, or found in the file's folder or up
  to two folders above, as in the collector layout ``devices.json`` + ``device_<id>/hourly/*.json``), and
  ``lat`` / ``lon`` when a town added them to its entries (Telraam's list has none).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import polars as pl

from sensors_io.errors import IngestError
from sensors_io.readers import (
    decode_text,
    finish_read,
    parse_iso_utc,
    quarantine_rows,
    resolve_duplicates,
    split_future,
)
from sensors_io.schema import (
    COUNTS_SCHEMA,
    SITES_SCHEMA,
    ReadResult,
    conform,
    empty_quarantine,
)

SOURCE = "telraam"
MODES: tuple[str, ...] = ("car", "heavy", "bike", "pedestrian")
DIRECTIONS: tuple[str, ...] = ("lft", "rgt")
INTERVAL_S = 3600
DEVICES_FILE = "devices.json"


def load_telraam_items(path: Path) -> list[Any]:
    """Load the item list of a Telraam JSON file, whatever its wrapper; raise IngestError otherwise."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise IngestError(path, "a readable Telraam JSON file", found=str(exc)) from exc
    text, _encoding = decode_text(raw, path)
    if not text.strip():
        raise IngestError(path, "Telraam hourly JSON", line=1, found="an empty file")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        truncated = exc.pos >= len(text.rstrip())
        raise IngestError(
            path, "valid JSON", line=exc.lineno, found=f"{exc.msg} (column {exc.colno})",
            hint="The file looks truncated: download it again" if truncated else None,
        ) from exc
    items: list[Any] | None = None
    if isinstance(doc, list):
        items = doc
    elif isinstance(doc, dict):
        for key in ("data", "report"):
            if isinstance(doc.get(key), list):
                items = doc[key]
                break
    if items is not None:
        if not items:
            raise IngestError(path, "at least one hourly item", line=1, found="an empty item list")
        return items
    raise IngestError(
        path,
        'Telraam hourly JSON: a list of items, {"data": [...]} or {"report": [...]}',
        found=type(doc).__name__ if not isinstance(doc, dict) else "keys " + ", ".join(list(doc)[:6]),
    )


def _number(value: Any) -> tuple[float | None, str | None]:
    """(value, problem): None is a valid missing value; bools, strings and non-finite numbers are problems."""
    if value is None:
        return None, None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None, "non-numeric count"
    if not math.isfinite(value):
        return None, "non-numeric count"
    if value < 0:
        return None, "negative count"
    return float(value), None


def find_devices_file(path: Path) -> Path | None:
    """``devices.json`` in the file's folder or up to two folders above (collector layout)."""
    # absolute(), not resolve(): keep the path as the user gave it (a symlinked data folder stays itself).
    for folder in list(Path(path).absolute().parents)[:3]:
        candidate = folder / DEVICES_FILE
        if candidate.is_file():
            return candidate
    return None


def _device_info(devices: Path | None) -> dict[str, tuple[str | None, float | None, float | None]]:
    """segment/device id → (name, lat, lon) from a devices.json list of ``{"id", "name", …}``; {} when absent
    or odd. Telraam's device list has no coordinates; a town may add ``lat`` and ``lon`` (WGS 84 degrees;
    ``latitude`` / ``longitude`` also read) to place its segments on the reports' map. A coordinate that is
    not a number in range is an error naming the file and the device."""
    if devices is None:
        return {}
    try:
        doc = json.loads(decode_text(Path(devices).read_bytes(), devices)[0])
    except (OSError, json.JSONDecodeError) as exc:
        raise IngestError(devices, 'a devices.json list of {"id", "name"} objects', found=str(exc)) from exc
    if isinstance(doc, dict):
        doc = doc.get("devices", doc.get("data", []))
    out: dict[str, tuple[str | None, float | None, float | None]] = {}
    for i, d in enumerate(doc, start=1):
        if not isinstance(d, dict) or d.get("id", d.get("segment_id")) is None:
            continue
        key = str(d.get("id", d.get("segment_id")))
        coords = []
        for names, limit in ((("lat", "latitude"), 90.0), (("lon", "longitude"), 180.0)):
            name = next((n for n in names if n in d), None)
            value = None if name is None else d[name]
            if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)
                                      or not math.isfinite(value) or abs(value) > limit):
                raise IngestError(devices, f"device {key} (entry {i}): a number of degrees within ±{limit:g}, or null",
                                  column=name, found=repr(value))
            coords.append(None if value is None else float(value))
        out[key] = (d.get("name"), coords[0], coords[1])
    return out


def read_telraam_json(path: Path, devices: Path | None = None) -> ReadResult:
    """Read one Telraam hourly JSON file into canonical rows (rules in the module docstring)."""
    path = Path(path)
    source_file = str(path)
    items = load_telraam_items(path)

    fields = [f"{m}_{d}" for m in MODES for d in DIRECTIONS] + [f"night_{d}" for d in DIRECTIONS]
    cols: dict[str, list[Any]] = {k: [] for k in ("line", "segment", "date", "uptime", "v85", "night", "class_sum")}
    for f in fields:
        cols[f] = []
        cols[f + "__bad"] = []
    bad_items: list[dict[str, Any]] = []
    for i, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            bad_items.append({"line": i, "column": "item", "value": str(item)[:80], "reason": "item is not an object"})
            continue
        if item.get("segment_id") is None:
            bad_items.append({"line": i, "column": "segment_id", "value": None, "reason": "missing segment_id"})
            continue
        cols["line"].append(i)
        cols["segment"].append(str(item["segment_id"]))
        cols["date"].append(item.get("date") if isinstance(item.get("date"), str) else None)
        # uptime/v85/night are metadata, not counts: a malformed value is read as missing.
        cols["uptime"].append(_number(item.get("uptime"))[0])
        cols["v85"].append(_number(item.get("v85"))[0])
        cols["night"].append(_number(item.get("night"))[0])
        cols["class_sum"].append(sum(_number(item.get(m))[0] or 0.0 for m in MODES))
        for f in fields:
            value, problem = _number(item.get(f))
            cols[f].append(value)
            cols[f + "__bad"].append(None if problem is None else f"{problem}\x1f{item.get(f)!r}")

    schema = {"line": pl.Int64, "segment": pl.String, "date": pl.String}
    schema |= {k: pl.Float64 for k in ("uptime", "v85", "night", "class_sum", *fields)}
    schema |= {f + "__bad": pl.String for f in fields}
    wide = pl.DataFrame(cols, schema=schema).with_columns(start_utc=parse_iso_utc(pl.col("date")))

    bad_dates = wide.filter(pl.col("start_utc").is_null())
    wide, future = split_future(
        wide.filter(pl.col("start_utc").is_not_null()), source_file=source_file, column="date", value="date"
    )
    rejected_items = pl.concat(
        [
            pl.DataFrame(bad_items, schema={"line": pl.Int64, "column": pl.String, "value": pl.String, "reason": pl.String}),
            bad_dates.select(
                "line", column=pl.lit("date"), value=pl.col("date"),
                reason=pl.lit("unparseable date (expected ISO 8601 UTC hour start)"),
            ),
            future.select("line", "column", "value", "reason"),
        ]
    )

    night_on = pl.col("night").fill_null(0) > 0
    not_measured = pl.col("uptime") == 0
    # Full night-mode hour: classes read 0 because they were not measured.
    night_only = night_on & (pl.col("class_sum") == 0)
    long_parts = []
    for mode in (*MODES, "all_vehicles"):
        for d in DIRECTIONS:
            f = f"{mode}_{d}" if mode != "all_vehicles" else f"night_{d}"
            part = wide
            if mode == "all_vehicles":
                part = part.filter(night_on)
            null_when = not_measured | night_only if mode != "all_vehicles" else not_measured
            long_parts.append(
                part.select(
                    "line",
                    "start_utc",
                    "uptime",
                    site_id=pl.format("telraam-{}", "segment"),
                    mode=pl.lit(mode),
                    direction=pl.lit(d),
                    count=pl.when(null_when).then(None).otherwise(pl.col(f)),
                    speed_v85_kmh=pl.col("v85") if mode == "car" else pl.lit(None, pl.Float64),
                    field=pl.lit(f),
                    bad=pl.col(f + "__bad"),
                )
            )
    long = pl.concat(long_parts).with_columns(sensor_id=pl.col("site_id"))
    rows_read = long.height + rejected_items.height

    bad_values = long.filter(pl.col("bad").is_not_null()).with_columns(
        pl.col("bad").str.split_exact("\x1f", 1).struct.rename_fields(["reason", "value"]).alias("bad")
    ).unnest("bad")
    quarantine = pl.concat(
        [
            empty_quarantine(),
            quarantine_rows(rejected_items, source_file=source_file, line="line", column=pl.col("column"),
                            value="value", reason=pl.col("reason")),
            quarantine_rows(bad_values, source_file=source_file, line="line", column=pl.col("field"),
                            value="value", reason=pl.col("reason")),
        ]
    )
    good = long.filter(pl.col("bad").is_null()).with_columns(
        interval_s=pl.lit(INTERVAL_S, pl.Int32), source=pl.lit(SOURCE), source_file=pl.lit(source_file)
    )
    kept, conflicts, n_duplicates = resolve_duplicates(good, source_file=source_file)
    accepted = conform(kept.sort("line", "mode", "direction")).collect()

    if devices is None:
        devices = find_devices_file(path)
    info = _device_info(devices)
    segments = wide.get_column("segment").unique(maintain_order=True).to_list()
    none = (None, None, None)
    sites = pl.DataFrame(
        {
            "site_id": [f"telraam-{s}" for s in segments],
            "site_name": [info.get(s, none)[0] for s in segments],
            "lat": [info.get(s, none)[1] for s in segments],
            "lon": [info.get(s, none)[2] for s in segments],
            "source": [SOURCE] * len(segments),
        },
        schema=SITES_SCHEMA,
    )

    return finish_read(accepted.select(*COUNTS_SCHEMA, "speed_v85_kmh", "uptime"), [quarantine, conflicts],
                       rows_read=rows_read, duplicates=n_duplicates, source=SOURCE, sites=sites)
