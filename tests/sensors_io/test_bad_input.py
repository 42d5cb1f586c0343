"""Bad input, one case at a time, through the path ``mobility ingest`` takes: ``discover([...])`` then ``Source.read()``.

Each case builds a small bad file in ``tmp_path`` from a valid small file of one format and asserts exactly one
outcome:

- it reads like the valid file (BOM, cp1252 text, the other delimiter, extra columns);
- an :class:`IngestError` whose message names the file, the line, the column where one applies, and what
  was expected (empty file, header only, binary data, truncated file, missing column, a line with the
  wrong delimiter);
- the bad rows in ``ReadResult.quarantine`` with their line, column, value and reason, and the accounting
  identity holding (non-numeric / negative counts, timestamps in the future or unparseable, conflicting
  duplicates).
"""

from __future__ import annotations

import copy
import csv
import datetime as dt
import io
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from sensors_io.detect import discover
from sensors_io.errors import IngestError
from sensors_io.readers import REASON_CONFLICT, REASON_FUTURE
from sensors_io.schema import QUARANTINE_SCHEMA, ReadResult

UTC = dt.UTC
PARIS_TZ = dt.timezone(dt.timedelta(hours=1))  # January: CET
#: Three valid hours (UTC) and their counts; the base file of every format holds exactly these.
HOURS = [dt.datetime(2024, 1, 10, h, tzinfo=UTC) for h in (8, 9, 10)]
COUNTS = ["12", "0", "7"]
FUTURE = dt.datetime(2099, 6, 1, 12, tzinfo=UTC)
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + random.Random(7).randbytes(600)


# --------------------------------------------------------------------------------------------------
# One valid small file per format, and how to damage it
# --------------------------------------------------------------------------------------------------


@dataclass
class CsvFormat:
    """A CSV format: its header, a row builder, where time and count live, and its sibling files."""

    name: str
    filename: str
    header: list[str]
    row: Callable[[dt.datetime, str], dict[str, str]]
    time_col: str
    count_col: str
    sep: str
    #: Column holding the site name (for the cp1252 case) and the name written there.
    name_col: str | None = None
    siblings: Callable[[Path, str], None] = lambda folder, encoding: None

    def rows(self) -> list[dict[str, str]]:
        return [self.row(h, c) for h, c in zip(HOURS, COUNTS)]

    def render(self, rows: list[dict[str, str]], *, sep: str | None = None, header: list[str] | None = None) -> str:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=header or self.header, delimiter=sep or self.sep,
                                lineterminator="\n", extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
        return out.getvalue()

    def write(self, folder: Path, text: str | bytes, *, encoding: str = "utf-8") -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        self.siblings(folder, encoding)
        path = folder / self.filename
        path.write_bytes(text if isinstance(text, bytes) else text.encode(encoding))
        return path

    def valid(self, folder: Path) -> Path:
        return self.write(folder, self.render(self.rows()))

    def set_time(self, row: dict[str, str], when: dt.datetime | str) -> None:
        """Put ``when`` (an instant, or raw text) in the row's time field(s)."""
        if isinstance(when, str):
            row[self.time_col] = when
        else:
            row.update({k: v for k, v in self.row(when, row[self.count_col]).items() if k != self.count_col})

    def set_count(self, row: dict[str, str], value: str) -> None:
        row[self.count_col] = value

    def line_of(self, index: int) -> int:
        return index + 2  # header = line 1


SITE_NAME = "Fécamp – Quai Bérigny"  # "–" (U+2013) exists in cp1252, not in latin-1


def _national_siblings(folder: Path, encoding: str) -> None:
    (folder / "comptagemobilites_channel_test.csv").write_text(
        "channel_id,site_id,mobility_type,direction,provider_direction_code,temporality,started_at,time_step\n"
        "c1,s1,BIKE,,IN,PERMANENT,2020-01-01T00:00:00+01:00,3600\n",
        encoding="utf-8",
    )
    (folder / "comptagemobilites_site_test.csv").write_bytes(
        f"site_id,site_name,xlong,ylat\ns1,{SITE_NAME},0.37,49.76\n".encode(encoding)
    )


NATIONAL = CsvFormat(
    name="national_schema",
    filename="comptagemobilites_measure_test.csv",
    header=["channel_id", "counter_id", "start_datetime", "end_datetime", "count"],
    row=lambda t, c: {"channel_id": "c1", "counter_id": "K-Bérigny", "start_datetime": t.isoformat(),
                      "end_datetime": (t + dt.timedelta(hours=1)).isoformat(), "count": c},
    time_col="start_datetime",
    count_col="count",
    sep=",",
    siblings=_national_siblings,
)
PARIS = CsvFormat(
    name="paris_loops",
    filename="comptages-routiers-permanents.csv",
    header=["Identifiant arc", "Libelle", "Date et heure de comptage", "Débit horaire", "Taux d'occupation",
            "Etat trafic", "geo_point_2d"],
    # The stamp marks the END of the hour, in local time with its offset.
    row=lambda t, c: {"Identifiant arc": "4264", "Libelle": "Av. des Champs-Élysées",
                      "Date et heure de comptage": (t + dt.timedelta(hours=1)).astimezone(PARIS_TZ).isoformat(),
                      "Débit horaire": c, "Taux d'occupation": "3,5", "Etat trafic": "Fluide",
                      "geo_point_2d": "48.87, 2.30"},
    time_col="Date et heure de comptage",
    count_col="Débit horaire",
    sep=";",
    name_col="Libelle",
)
ECOCOUNTER = CsvFormat(
    name="ecocounter",
    filename="comptage-velo-donnees-compteurs.csv",
    header=["Identifiant du compteur", "Nom du compteur", "Identifiant du site de comptage",
            "Nom du site de comptage", "Comptage horaire", "Date et heure de comptage", "Coordonnées géographiques"],
    row=lambda t, c: {"Identifiant du compteur": "100003096-353242251", "Nom du compteur": "Quai d'Orsay E-O",
                      "Identifiant du site de comptage": "100003096", "Nom du site de comptage": "Quai d'Orsay – Alma",
                      "Comptage horaire": c, "Date et heure de comptage": t.astimezone(PARIS_TZ).isoformat(),
                      "Coordonnées géographiques": "48.86,2.31"},
    time_col="Date et heure de comptage",
    count_col="Comptage horaire",
    sep=";",
    name_col="Nom du site de comptage",
)
NAIVE = CsvFormat(
    name="naive_csv",
    filename="parvis.csv",
    header=["date_time", "traffic_volume", "remarque"],
    # Naive Europe/Paris wall-clock stamps (the default zone of a non-UCI file).
    row=lambda t, c: {"date_time": t.astimezone(PARIS_TZ).strftime("%Y-%m-%d %H:%M:%S"), "traffic_volume": c,
                      "remarque": "Été - déviation"},
    time_col="date_time",
    count_col="traffic_volume",
    sep=",",
)
CSV_FORMATS = [NATIONAL, PARIS, ECOCOUNTER, NAIVE]


@dataclass
class TelraamFormat:
    """Telraam hourly JSON: items instead of rows; ``line`` is the 1-based item index."""

    name: str = "telraam"
    filename: str = "2024-01.json"
    time_col: str = "date"
    count_col: str = "car_lft"

    def rows(self) -> list[dict[str, Any]]:
        return [self.item(h, float(c)) for h, c in zip(HOURS, COUNTS)]

    @staticmethod
    def item(t: dt.datetime, car: float) -> dict[str, Any]:
        fields = {f"{m}_{d}": 1.0 for m in ("car", "heavy", "bike", "pedestrian") for d in ("lft", "rgt")}
        return {"segment_id": 9000001234, "date": t.strftime("%Y-%m-%dT%H:%M:%S.000Z"), "interval": "hourly",
                "uptime": 0.8, "v85": 42.0, "night": None, **fields, "car_lft": car}

    def render(self, rows: list[dict[str, Any]]) -> str:
        return json.dumps({"device_id": "9000001234", "month": "2024-01", "data": rows}, indent=1)

    def write(self, folder: Path, text: str | bytes, *, encoding: str = "utf-8") -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / self.filename
        path.write_bytes(text if isinstance(text, bytes) else text.encode(encoding))
        return path

    def valid(self, folder: Path) -> Path:
        return self.write(folder, self.render(self.rows()))

    def set_time(self, row: dict[str, Any], when: dt.datetime | str) -> None:
        row["date"] = when if isinstance(when, str) else when.strftime("%Y-%m-%dT%H:%M:%S.000Z")

    def set_count(self, row: dict[str, Any], value: str) -> None:
        try:
            row["car_lft"] = float(value)
        except ValueError:
            row["car_lft"] = value

    def line_of(self, index: int) -> int:
        return index + 1


TELRAAM = TelraamFormat()
ALL_FORMATS = [*CSV_FORMATS, TELRAAM]


def _ids(formats: list[Any]) -> list[str]:
    return [f.name for f in formats]


def ingest(*paths: Path) -> list[ReadResult]:
    """What ``mobility ingest`` does with the paths: discover the sources, read each."""
    return [source.read() for source in discover(list(paths))]


def ingest_one(path: Path) -> ReadResult:
    results = ingest(path)
    assert len(results) == 1
    results[0].check_accounting()
    return results[0]


def comparable(result: ReadResult) -> pl.DataFrame:
    return result.accepted.drop("source_file")


def assert_ingest_error(path: Path, *, line: int, column: str | None, expected: str, found: str | None = None,
                        **kwargs: Any) -> IngestError:
    """``ingest(path)`` raises an IngestError naming the file, the line, the column and what was expected."""
    with pytest.raises(IngestError) as info:
        ingest(path)
    err, msg = info.value, str(info.value)
    assert str(path) in msg and err.path == str(path)
    assert f"line {line}" in msg and err.line == line
    if column is not None:
        assert f"column {column!r}" in msg and err.column == column
    else:
        assert err.column is None
    assert f"expected {expected}" in msg or expected in err.expected, msg
    if found is not None:
        assert found in msg, msg
    return err


# --------------------------------------------------------------------------------------------------
# Reads like the valid file
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ALL_FORMATS, ids=_ids(ALL_FORMATS))
def test_valid_base_file_reads_whole(fmt, tmp_path: Path) -> None:
    r = ingest_one(fmt.valid(tmp_path / "ok"))
    assert r.source == fmt.name and r.quarantine.height == 0 and r.duplicates == 0
    assert r.accepted.height == r.rows_read == (24 if fmt is TELRAAM else 3)
    assert sorted(r.accepted["start_utc"].unique().to_list()) == HOURS


@pytest.mark.parametrize("fmt", ALL_FORMATS, ids=_ids(ALL_FORMATS))
def test_utf8_bom_reads_fine(fmt, tmp_path: Path) -> None:
    base = ingest_one(fmt.valid(tmp_path / "ok"))
    bom = ingest_one(fmt.write(tmp_path / "bom", b"\xef\xbb\xbf" + fmt.render(fmt.rows()).encode()))
    assert comparable(bom).equals(comparable(base))


@pytest.mark.parametrize("fmt", CSV_FORMATS, ids=_ids(CSV_FORMATS))
def test_cp1252_file_reads_with_correct_text(fmt, tmp_path: Path) -> None:
    base = ingest_one(fmt.valid(tmp_path / "ok"))
    text = fmt.render(fmt.rows())
    raw = text.encode("cp1252")
    assert raw != text.encode("utf-8")  # the file really has accented characters (header or values)
    r = ingest_one(fmt.write(tmp_path / "cp1252", raw, encoding="cp1252"))
    assert comparable(r).equals(comparable(base))
    if fmt is NATIONAL:
        assert r.sites["site_name"].to_list() == [SITE_NAME]
    elif fmt.name_col is not None:
        assert r.sites["site_name"].to_list() == [fmt.rows()[0][fmt.name_col]]


def test_cp1252_telraam_devices_name(tmp_path: Path) -> None:
    folder = tmp_path / "collector"
    path = TELRAAM.write(folder / "device_9000001234" / "hourly", TELRAAM.render(TELRAAM.rows()).encode("cp1252"))
    (folder / "devices.json").write_bytes(json.dumps([{"id": 9000001234, "name": "Rue de l'Église"}],
                                                     ensure_ascii=False).encode("cp1252"))
    r = ingest_one(path)
    assert r.sites["site_name"].to_list() == ["Rue de l'Église"]


@pytest.mark.parametrize("fmt", CSV_FORMATS, ids=_ids(CSV_FORMATS))
def test_other_delimiter_for_the_whole_file_reads_fine(fmt, tmp_path: Path) -> None:
    """A ';' file where ',' is expected (national, naive) and a ',' file where ';' is expected (Paris, Eco-Counter)."""
    base = ingest_one(fmt.valid(tmp_path / "ok"))
    other = ";" if fmt.sep == "," else ","
    r = ingest_one(fmt.write(tmp_path / "other", fmt.render(fmt.rows(), sep=other)))
    assert comparable(r).equals(comparable(base))


@pytest.mark.parametrize("fmt", ALL_FORMATS, ids=_ids(ALL_FORMATS))
def test_unknown_extra_columns_are_ignored(fmt, tmp_path: Path) -> None:
    base = ingest_one(fmt.valid(tmp_path / "ok"))
    rows = fmt.rows()
    for i, row in enumerate(rows):
        row["zz_extra"] = f"x{i}"
        row["météo"] = "pluie"
    if fmt is TELRAAM:
        text = fmt.render(rows)
    else:
        text = fmt.render(rows, header=["zz_extra", *fmt.header, "météo"])
    r = ingest_one(fmt.write(tmp_path / "extra", text))
    assert comparable(r).equals(comparable(base))


# --------------------------------------------------------------------------------------------------
# IngestError: file, line, column, expectation
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ALL_FORMATS, ids=_ids(ALL_FORMATS))
def test_empty_file_is_an_error(fmt, tmp_path: Path) -> None:
    path = fmt.write(tmp_path, b"")
    assert_ingest_error(path, line=1, column=None, expected="one of the known formats", found="an empty file")


@pytest.mark.parametrize("fmt", ALL_FORMATS, ids=_ids(ALL_FORMATS))
def test_empty_file_with_named_format_is_an_error(fmt, tmp_path: Path) -> None:
    path = fmt.write(tmp_path, b"")
    with pytest.raises(IngestError) as info:
        [s.read() for s in discover([path], fmt=fmt.name)]
    msg = str(info.value)
    assert str(path) in msg and "line 1" in msg and "expected" in msg and "an empty file" in msg


@pytest.mark.parametrize("fmt", ALL_FORMATS, ids=_ids(ALL_FORMATS))
def test_header_only_is_an_error(fmt, tmp_path: Path) -> None:
    if fmt is TELRAAM:
        path = fmt.write(tmp_path, fmt.render([]))
        assert_ingest_error(path, line=1, column=None, expected="at least one hourly item", found="an empty item list")
    else:
        path = fmt.write(tmp_path, fmt.render([]))
        assert_ingest_error(path, line=2, column=None, expected="at least one data row", found="only the header line")


@pytest.mark.parametrize("kind", ["random", "png"])
@pytest.mark.parametrize("fmt", ALL_FORMATS, ids=_ids(ALL_FORMATS))
def test_binary_garbage_is_an_error(fmt, kind: str, tmp_path: Path) -> None:
    data = random.Random(3).randbytes(3000) if kind == "random" else PNG
    path = fmt.write(tmp_path, data)
    assert_ingest_error(path, line=1, column=None, expected="a text file (CSV or JSON) encoded in UTF-8",
                        found="a PNG image" if kind == "png" else "binary data")
    # Even when the user names the format, the reader refuses it with the same message.
    with pytest.raises(IngestError, match="a text file"):
        [s.read() for s in discover([path], fmt=fmt.name)]


@pytest.mark.parametrize("fmt", CSV_FORMATS, ids=_ids(CSV_FORMATS))
def test_truncated_last_line_is_an_error(fmt, tmp_path: Path) -> None:
    text = fmt.render(fmt.rows())
    last = text.rstrip("\n").rsplit("\n", 1)[1]
    stamp = fmt.rows()[-1][fmt.time_col]
    cut = text.rstrip("\n")[: len(text.rstrip("\n")) - len(last) + last.index(stamp) + 7]  # mid-timestamp
    path = fmt.write(tmp_path, cut)
    next_col = fmt.header[fmt.header.index(fmt.time_col) + 1]
    err = assert_ingest_error(path, line=4, column=next_col, expected=f"{len(fmt.header)} fields on every line")
    assert "truncated" in str(err)


def test_truncated_json_is_an_error(tmp_path: Path) -> None:
    text = TELRAAM.render(TELRAAM.rows())
    path = TELRAAM.write(tmp_path, text[: len(text) // 2])
    n_lines = text[: len(text) // 2].count("\n") + 1
    err = assert_ingest_error(path, line=n_lines, column=None, expected="valid JSON")
    assert "truncated" in str(err)


@pytest.mark.parametrize("fmt", CSV_FORMATS, ids=_ids(CSV_FORMATS))
def test_one_line_with_the_other_delimiter_is_an_error(fmt, tmp_path: Path) -> None:
    rows = fmt.rows()
    good = fmt.render(rows)
    other = fmt.render(rows, sep=";" if fmt.sep == "," else ",").splitlines()
    lines = good.splitlines()
    lines[2] = other[2]  # line 3 written with the other delimiter
    path = fmt.write(tmp_path, "\n".join(lines) + "\n")
    assert_ingest_error(path, line=3, column=fmt.header[1], expected=f"{len(fmt.header)} fields on every line",
                        found="1 field")


@pytest.mark.parametrize("fmt", CSV_FORMATS, ids=_ids(CSV_FORMATS))
@pytest.mark.parametrize("missing", ["time", "count"])
def test_missing_required_column_is_an_error_naming_it(fmt, missing: str, tmp_path: Path) -> None:
    column = fmt.time_col if missing == "time" else fmt.count_col
    header = [c for c in fmt.header if c != column]
    path = fmt.write(tmp_path, fmt.render(fmt.rows(), header=header))
    assert_ingest_error(path, line=1, column=column, expected=f"the {fmt.name} columns")


@pytest.mark.parametrize("fmt", CSV_FORMATS, ids=_ids(CSV_FORMATS))
def test_missing_required_column_with_named_format(fmt, tmp_path: Path) -> None:
    header = [c for c in fmt.header if c != fmt.count_col]
    path = fmt.write(tmp_path, fmt.render(fmt.rows(), header=header))
    with pytest.raises(IngestError) as info:
        [s.read() for s in discover([path], fmt=fmt.name)]
    msg = str(info.value)
    assert str(path) in msg and "line 1" in msg and f"column {fmt.count_col.lower()!r}" in msg.lower()
    assert "expected the " in msg


# --------------------------------------------------------------------------------------------------
# Quarantine: line, column, value, reason; accounting holds
# --------------------------------------------------------------------------------------------------


def _bad_count(value: str) -> Callable[[Any, list[Any]], tuple[int, str, str]]:
    def damage(fmt: Any, rows: list[Any]) -> tuple[int, str, str]:
        fmt.set_count(rows[1], value)
        return 1, fmt.count_col, value
    return damage


def _bad_time(when: dt.datetime | str) -> Callable[[Any, list[Any]], tuple[int, str, str]]:
    def damage(fmt: Any, rows: list[Any]) -> tuple[int, str, str]:
        fmt.set_time(rows[1], when)
        return 1, fmt.time_col, rows[1][fmt.time_col]
    return damage


def _conflicting_duplicate(fmt: Any, rows: list[Any]) -> tuple[int, str, str]:
    copy_of_first = copy.deepcopy(rows[0])
    fmt.set_count(copy_of_first, "99")
    rows.append(copy_of_first)  # the last line wins: the first row is quarantined
    return 0, "count", "12"  # conflicts name the canonical column (the shared duplicate rule)


ROW_CASES: dict[str, tuple[Callable[[Any, list[Any]], tuple[int, str, str]], str]] = {
    "non_numeric_count": (_bad_count("douze"), "non-numeric count"),
    "negative_count": (_bad_count("-5"), "negative count"),
    "timestamp_in_the_future": (_bad_time(FUTURE), REASON_FUTURE),
    "unparseable_timestamp": (_bad_time("10/01/2024 25h"), "unparseable"),
    "conflicting_duplicate": (_conflicting_duplicate, REASON_CONFLICT),
}


@pytest.mark.parametrize("case", list(ROW_CASES))
@pytest.mark.parametrize("fmt", ALL_FORMATS, ids=_ids(ALL_FORMATS))
def test_bad_rows_are_quarantined(fmt, case: str, tmp_path: Path) -> None:
    damage, reason = ROW_CASES[case]
    rows = fmt.rows()
    index, column, value = damage(fmt, rows)
    path = fmt.write(tmp_path, fmt.render(rows))
    r = ingest_one(path)

    assert r.quarantine.schema == QUARANTINE_SCHEMA
    assert r.quarantine.height == 1, r.quarantine
    q = r.quarantine.row(0, named=True)
    assert q["source_file"] == str(path)
    assert q["line"] == fmt.line_of(index)
    assert q["column"] == column
    assert value in q["value"], q
    assert q["reason"].startswith(reason), q
    assert r.rows_read == r.accepted.height + r.quarantine.height + r.duplicates
    per_item = 8 if fmt is TELRAAM else 1
    if case == "conflicting_duplicate":
        assert r.accepted.height == 3 * per_item and r.duplicates == per_item - 1
        assert 99.0 in r.accepted["count"].to_list()
    else:
        assert r.accepted.height == 3 * per_item - per_item + (per_item - 1 if case.endswith("count") else 0)
        assert r.duplicates == 0


def test_future_cutoff_is_now_plus_one_day(tmp_path: Path) -> None:
    """Tomorrow morning is not quarantined; the day after tomorrow is (one shared rule, every reader)."""
    now = dt.datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    rows = NATIONAL.rows()
    NATIONAL.set_time(rows[0], now + dt.timedelta(hours=12))
    NATIONAL.set_time(rows[1], now + dt.timedelta(days=2))
    r = ingest_one(NATIONAL.write(tmp_path, NATIONAL.render(rows)))
    assert r.quarantine["line"].to_list() == [3] and r.quarantine["reason"].to_list() == [REASON_FUTURE]
    assert r.accepted.height == 2
