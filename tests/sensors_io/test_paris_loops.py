"""Paris « comptages routiers permanents » reader: the real Champs-Élysées file, and hand-made edge files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from sensors_io.detect import detect_format, discover
from sensors_io.errors import IngestError
from sensors_io.readers.paris_loops import read_paris_loops
from sensors_io.schema import COUNTS_SCHEMA, QUARANTINE_SCHEMA, SITES_SCHEMA

UTC = dt.timezone.utc
PARIS = "Europe/Paris"
HEADER = (
    "\ufeffIdentifiant arc;Libelle;Date et heure de comptage;Débit horaire;Taux d'occupation;Etat trafic;geo_point_2d"
)


def _file(shared_data: Path) -> Path:
    return shared_data / "paris_comptages_routiers" / "comptages-routiers-permanents.csv"


@pytest.fixture(scope="module")
def loops(shared_data: Path):
    return read_paris_loops(_file(shared_data))


def _local_day(frame: pl.DataFrame, day: str) -> pl.DataFrame:
    return frame.filter(pl.col("start_utc").dt.convert_time_zone(PARIS).dt.date() == dt.date.fromisoformat(day)).sort(
        "start_utc"
    )


def test_all_rows_accepted_with_canonical_schema(loops) -> None:
    # 9,034 data rows (wc -l = 9,035 with the header). Nothing is quarantined: every row has the arc id, an
    # ISO timestamp with offset, and a Débit/Taux that is a number or empty (empty → null, 323 « Inconnu »
    # rows, README). No duplicates: the README checks there is no repeated timestamp for the one arc.
    assert loops.rows_read == 9034
    assert loops.accepted.height == 9034
    assert loops.quarantine.height == 0 and loops.duplicates == 0
    loops.check_accounting()
    assert loops.accepted.schema == pl.Schema({**COUNTS_SCHEMA, "occupancy_pct": pl.Float64})
    assert loops.accepted["start_utc"].is_unique().all()
    one = loops.accepted.select(pl.col(c).unique() for c in ("site_id", "sensor_id", "mode", "direction", "interval_s"))
    assert one.row(0) == ("paris-arc-4264", "paris-arc-4264", "all_vehicles", "both", 3600)
    assert loops.accepted["count"].null_count() == 323
    assert loops.accepted["occupancy_pct"].null_count() == 323 + 61
    # First stamp 2023-10-01T05:00+02:00 = 03:00Z is the END of the hour → start 02:00Z.
    assert loops.accepted["start_utc"].min() == dt.datetime(2023, 10, 1, 2, tzinfo=UTC)
    assert loops.accepted["start_utc"].max() == dt.datetime(2024, 11, 28, 2, tzinfo=UTC)


def test_known_row_end_of_hour(loops) -> None:
    # sed -n 2p comptages-routiers-permanents.csv:
    # 4264;AV_Champs_Elysees;2024-01-04T22:00:00+01:00;1034.0;22.86333;Pré-saturé;…
    # 22:00+01:00 = 21:00Z ends the hour → start 20:00Z.
    row = loops.accepted.filter(pl.col("start_utc") == dt.datetime(2024, 1, 4, 20, tzinfo=UTC))
    assert row.select("count", "occupancy_pct").row(0) == (1034.0, 22.86333)


def test_local_day_total(loops) -> None:
    # Computed on the raw file, independently of the reader:
    # python -c "import csv,datetime as d,zoneinfo as z; rows=csv.DictReader(open('comptages-routiers-permanents.csv',
    #   encoding='utf-8-sig'),delimiter=';'); s=[r for r in rows if (d.datetime.fromisoformat(r['Date et heure de comptage'])
    #   -d.timedelta(hours=1)).astimezone(z.ZoneInfo('Europe/Paris')).date()==d.date(2024,1,4)];
    #   print(len(s), sum(float(r['Débit horaire']) for r in s if r['Débit horaire']))"
    # → 24 21477.0
    day = _local_day(loops.accepted, "2024-01-04")
    assert day.height == 24
    assert day["count"].sum() == 21477.0


def test_dst_days_exact_instants(loops) -> None:
    # Spring 2024-03-31 (23-hour local day): stamps 01:00+01:00 … 03:00+02:00 … 2024-04-01T00:00+02:00,
    # continuous in UTC. Line 8560 "2024-03-31T03:00:00+02:00;;" (Inconnu) → start 00:00Z, count null.
    spring = _local_day(loops.accepted, "2024-03-31")
    assert spring["start_utc"].to_list() == [dt.datetime(2024, 3, 30, 23, tzinfo=UTC)] + [
        dt.datetime(2024, 3, 31, h, tzinfo=UTC) for h in range(22)
    ]
    assert spring["count"].to_list()[:3] == [1164.0, None, 870.0]
    assert spring["count"].sum() == 20251.0
    # Autumn 2023-10-29 (25-hour local day): 01:00+02:00 (line 8882, 1162) → 22:00Z; 02:00+02:00 (→ 23:00Z)
    # is absent from the file (README); 02:00+01:00 (line 8881, 1096) → 00:00Z; 03:00+01:00 (1112) → 01:00Z.
    autumn = _local_day(loops.accepted, "2023-10-29")
    assert autumn["start_utc"].to_list() == [dt.datetime(2023, 10, 28, 22, tzinfo=UTC)] + [
        dt.datetime(2023, 10, 29, h, tzinfo=UTC) for h in range(23)
    ]
    assert autumn["count"].to_list()[:3] == [1162.0, 1096.0, 1112.0]


def test_sites(loops) -> None:
    assert loops.sites.schema == SITES_SCHEMA
    assert loops.sites.rows() == [
        ("paris-arc-4264", "AV_Champs_Elysees", 48.87153587897717, 2.3017227924560615, "paris_loops")
    ]


def test_detected_by_content(shared_data: Path, tmp_path: Path) -> None:
    assert detect_format(_file(shared_data)) == "paris_loops"
    renamed = tmp_path / "export.txt"
    renamed.write_text(HEADER + "\n", encoding="utf-8")
    assert detect_format(renamed) == "paris_loops"
    sources = discover([shared_data / "paris_comptages_routiers"])
    assert [(s.format, s.files) for s in sources] == [("paris_loops", (_file(shared_data),))]


def test_bad_rows_quarantined_with_line_and_reason(tmp_path: Path) -> None:
    f = tmp_path / "loops.csv"
    f.write_text(
        "\n".join(
            [
                HEADER,
                '4264;Arc;2024-01-04T22:00:00+01:00;1034.0;22,5;Fluide;"48.1, 2.2"',  # 2: ok, decimal comma
                "4264;Arc;2024-01-04 23:00;10.0;1.0;Fluide;",  # 3: no offset
                "4264;Arc;2024-01-05T00:00:00+01:00;beaucoup;1.0;Fluide;",  # 4: non-numeric
                "4264;Arc;2024-01-05T01:00:00+01:00;-3.0;1.0;Fluide;",  # 5: negative
                ";Arc;2024-01-05T02:00:00+01:00;5.0;1.0;Fluide;",  # 6: no arc
                "4264;Arc;2024-01-05T03:00:00+01:00;;;Inconnu;",  # 7: not measured → null
                "4264;Arc;2024-01-05T03:00:00+01:00;;;Inconnu;",  # 8: exact copy → duplicate
                "4264;Arc;2024-01-04T22:00:00+01:00;1040.0;22.5;Fluide;",  # 9: conflicts with line 2, kept
                "4265;Autre;2024-01-05T03:00:00+01:00;0.0;x;Fluide;",  # 10: non-numeric occupancy
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    r = read_paris_loops(f)
    r.check_accounting()
    assert (r.rows_read, r.accepted.height, r.quarantine.height, r.duplicates) == (9, 2, 6, 1)
    assert r.quarantine.schema == QUARANTINE_SCHEMA
    assert r.quarantine.select("line", "column", "value").rows() == [
        (2, "count", "1034.0"),
        (3, "Date et heure de comptage", "2024-01-04 23:00"),
        (4, "Débit horaire", "beaucoup"),
        (5, "Débit horaire", "-3.0"),
        (6, "Identifiant arc", None),
        (10, "Taux d'occupation", "x"),
    ]
    reasons = r.quarantine["reason"].to_list()
    assert reasons[0].startswith("conflicting duplicate: line 9 kept")
    assert "UTC offset" in reasons[1] and reasons[2] == "non-numeric count" and reasons[3] == "negative count"
    assert r.accepted.select("start_utc", "count", "occupancy_pct").rows() == [
        (dt.datetime(2024, 1, 4, 20, tzinfo=UTC), 1040.0, 22.5),
        (dt.datetime(2024, 1, 5, 1, tzinfo=UTC), None, None),
    ]
    assert r.sites.select("site_id", "lat", "lon").rows() == [("paris-arc-4264", 48.1, 2.2)]


def test_missing_required_column_is_an_ingest_error(tmp_path: Path) -> None:
    f = tmp_path / "loops.csv"
    f.write_text("Identifiant arc;Libelle;Date et heure de comptage\n4264;Arc;2024-01-04T22:00:00+01:00\n")
    with pytest.raises(IngestError) as err:
        read_paris_loops(f)
    assert err.value.line == 1 and err.value.column == "Débit horaire"
    assert str(f) in str(err.value)
