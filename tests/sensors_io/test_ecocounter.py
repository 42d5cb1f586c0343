"""Eco-Counter « comptage vélo » reader: the real Paris 21-row sample, and a hand-made DST-autumn file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from sensors_io.detect import detect_format, discover
from sensors_io.errors import IngestError
from sensors_io.readers.ecocounter import read_ecocounter
from sensors_io.schema import COUNTS_SCHEMA, QUARANTINE_SCHEMA, SITES_SCHEMA

UTC = dt.timezone.utc
HEADER = (
    "Identifiant du compteur;Nom du compteur;Identifiant du site de comptage;Nom du site de comptage;"
    "Comptage horaire;Date et heure de comptage;Coordonnées géographiques"
)


def _file(shared_data: Path) -> Path:
    return shared_data / "paris_comptage_velo_sample" / "comptage-velo-donnees-compteurs.csv"


@pytest.fixture(scope="module")
def velo(shared_data: Path):
    return read_ecocounter(_file(shared_data))


def _write(path: Path, lines: list[str]) -> Path:
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-8"))  # CRLF, as Paris publishes
    return path


def test_real_sample_all_rows(velo) -> None:
    # 21 data rows, one counter, hours 03:00–23:00 local on 2021-09-01 (README), all valid and distinct.
    assert (velo.rows_read, velo.accepted.height, velo.quarantine.height, velo.duplicates) == (21, 21, 0, 0)
    velo.check_accounting()
    assert velo.accepted.schema == COUNTS_SCHEMA
    assert velo.accepted.select("site_id", "sensor_id", "mode", "direction", "interval_s", "source").unique().rows() == [
        ("100003096", "100003096-353242251", "bike", "SO-NE", 3600, "ecocounter")
    ]
    # 03:00+02:00 = 01:00Z … 23:00+02:00 = 21:00Z, every hour present.
    assert velo.accepted["start_utc"].to_list() == [dt.datetime(2021, 9, 1, h, tzinfo=UTC) for h in range(1, 22)]


def test_known_hour(velo) -> None:
    # sed -n 9p comptage-velo-donnees-compteurs.csv | cut -d';' -f1-6:
    # 100003096-353242251;97 avenue Denfert Rochereau SO-NE;100003096;97 avenue Denfert Rochereau;280.0;2021-09-01T08:00:00+02:00
    # The stamp is the START of the hour: 08:00+02:00 = 06:00Z.
    row = velo.accepted.filter(pl.col("start_utc") == dt.datetime(2021, 9, 1, 6, tzinfo=UTC))
    assert row["count"].to_list() == [280.0]


def test_sites(velo) -> None:
    assert velo.sites.schema == SITES_SCHEMA
    assert velo.sites.rows() == [("100003096", "97 avenue Denfert Rochereau", 48.83504, 2.33314, "ecocounter")]


def test_detected_by_content(shared_data: Path) -> None:
    assert detect_format(_file(shared_data)) == "ecocounter"
    sources = discover([shared_data / "paris_comptage_velo_sample"])
    assert [(s.format, s.files) for s in sources] == [("ecocounter", (_file(shared_data),))]
    assert sources[0].read().accepted.height == 21


def test_dst_autumn_repeated_hour_and_bad_rows(tmp_path: Path) -> None:
    f = _write(
        tmp_path / "velo.csv",
        [
            HEADER,
            "100-1;Quai d'Orsay E-O;100;Quai d'Orsay;4.0;2021-10-31T02:00:00+01:00;48.86,2.31",  # 2: second 02:00
            "100-1;Quai d'Orsay E-O;100;Quai d'Orsay;7.0;2021-10-31T02:00:00+02:00;48.86,2.31",  # 3: first 02:00
            "100-1;Quai d'Orsay E-O;100;Quai d'Orsay;9,0;2021-10-31T01:00:00+02:00;48.86,2.31",  # 4: decimal comma
            "100-1;Quai d'Orsay E-O;100;Quai d'Orsay;;2021-10-31T03:00:00+01:00;48.86,2.31",  # 5: null
            "100-1;Quai d'Orsay E-O;100;Quai d'Orsay;0.0;2021-10-31T04:00:00+01:00;48.86,2.31",  # 6: zero
            "100-1;Quai d'Orsay E-O;100;Quai d'Orsay;1.0;2021-10-31 05:00:00;48.86,2.31",  # 7: no offset
            "100-1;Quai d'Orsay E-O;100;Quai d'Orsay;n/a;2021-10-31T06:00:00+01:00;48.86,2.31",  # 8: non-numeric
            "100-1;Quai d'Orsay E-O;100;Quai d'Orsay;-1;2021-10-31T07:00:00+01:00;48.86,2.31",  # 9: negative
            ";Quai d'Orsay E-O;100;Quai d'Orsay;1.0;2021-10-31T08:00:00+01:00;48.86,2.31",  # 10: no counter
            "200-5;Pont Neuf;;;2.0;2021-10-31T02:00:00+01:00;",  # 11: no direction token, no site id
            "100-1;Quai d'Orsay E-O;100;Quai d'Orsay;7.0;2021-10-31T02:00:00+02:00;48.86,2.31",  # 12: copy of 3
        ],
    )
    r = read_ecocounter(f)
    r.check_accounting()
    assert (r.rows_read, r.accepted.height, r.quarantine.height, r.duplicates) == (11, 6, 4, 1)
    assert r.accepted.filter(pl.col("sensor_id") == "100-1").select("start_utc", "count").rows() == [
        (dt.datetime(2021, 10, 30, 23, tzinfo=UTC), 9.0),
        (dt.datetime(2021, 10, 31, 0, tzinfo=UTC), 7.0),  # 02:00+02:00
        (dt.datetime(2021, 10, 31, 1, tzinfo=UTC), 4.0),  # 02:00+01:00: another instant, not a duplicate
        (dt.datetime(2021, 10, 31, 2, tzinfo=UTC), None),
        (dt.datetime(2021, 10, 31, 3, tzinfo=UTC), 0.0),
    ]
    assert r.accepted.select("sensor_id", "site_id", "direction").unique(maintain_order=True).rows() == [
        ("100-1", "100", "E-O"),
        ("200-5", "200", "both"),
    ]
    assert r.quarantine.schema == QUARANTINE_SCHEMA
    assert r.quarantine.select("line", "column", "value").rows() == [
        (7, "Date et heure de comptage", "2021-10-31 05:00:00"),
        (8, "Comptage horaire", "n/a"),
        (9, "Comptage horaire", "-1"),
        (10, "Identifiant du compteur", None),
    ]
    assert r.quarantine["reason"].to_list()[1:] == ["non-numeric count", "negative count", "missing Identifiant du compteur"]
    assert r.sites.rows() == [
        ("100", "Quai d'Orsay", 48.86, 2.31, "ecocounter"),
        ("200", "Pont Neuf", None, None, "ecocounter"),
    ]


def test_missing_required_column_is_an_ingest_error(tmp_path: Path) -> None:
    f = _write(tmp_path / "velo.csv", ["Identifiant du compteur;Nom du compteur;Comptage horaire", "1;x;3"])
    with pytest.raises(IngestError) as err:
        read_ecocounter(f)
    assert (err.value.line, err.value.column) == (1, "Date et heure de comptage")
    assert str(f) in str(err.value)
