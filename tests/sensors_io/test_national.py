"""National schema reader: real Eco-Counter example files, and small hand-made files for the edge rules."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from sensors_io.errors import IngestError
from sensors_io.readers import read_national_schema
from sensors_io.readers.national import find_national_siblings, map_mobility_type
from sensors_io.schema import COUNTS_SCHEMA, SITES_SCHEMA

UTC = dt.timezone.utc


def _v(shared_data: Path, version: str, role: str) -> Path:
    return shared_data / "comptage_mobilites_schema" / version / role / "exemple-valide-eco-compteur.csv"


@pytest.fixture(scope="module")
def v024(shared_data: Path):
    return read_national_schema(_v(shared_data, "v0.2.4", "measure"))


def test_v024_all_rows_accepted_with_canonical_schema(v024) -> None:
    assert v024.rows_read == 3650
    assert v024.accepted.height == 3650
    assert v024.quarantine.height == 0 and v024.duplicates == 0
    assert v024.accepted.schema == COUNTS_SCHEMA
    assert v024.accepted["source"].unique().to_list() == ["national_schema"]
    # 10 channels → 10 series of 365 days.
    series = v024.accepted.group_by("sensor_id", "mode", "direction").len()
    assert series.height == 10 and series["len"].unique().to_list() == [365]


def test_v024_known_count_and_instant(v024) -> None:
    # grep '^353226380,.*,2022-05-01T00' measure.csv → line 1582:
    # 353226380,CPTTEST2043,2022-05-01T00:00:00+02:00,2022-05-02T00:00:00+02:00,51
    # Channel 353226380 = site 300014151 (Mauves sur Loire), BIKE, provider_direction_code IN.
    row = v024.accepted.filter(
        pl.col("sensor_id") == "CPTTEST2043:353226380",
        pl.col("start_utc") == dt.datetime(2022, 4, 30, 22, tzinfo=UTC),
    )
    assert row.height == 1
    assert row.row(0, named=True) | {"source_file": None} == {
        "site_id": "300014151",
        "sensor_id": "CPTTEST2043:353226380",
        "mode": "bike",
        "direction": "IN",
        "start_utc": dt.datetime(2022, 4, 30, 22, tzinfo=UTC),
        "interval_s": 86400,
        "count": 51.0,
        "source": "national_schema",
        "source_file": None,
    }


def test_v024_channels_sharing_counter_mode_direction_stay_apart(v024) -> None:
    # 353226380 and 353226382 are both "bike IN" on counter CPTTEST2043: same day, different counts
    # (lines 2312: 203 vs 1582: 51), so they must not be merged into one series.
    may1 = v024.accepted.filter(pl.col("start_utc") == dt.datetime(2022, 4, 30, 22, tzinfo=UTC), pl.col("site_id") == "300014151")
    assert sorted(may1["sensor_id"].to_list()) == [
        "CPTTEST2043:353226380", "CPTTEST2043:353226382", "CPTTEST2043:353226415", "CPTTEST2043:353226417",
    ]
    assert v024.accepted.filter(pl.col("sensor_id").str.starts_with("CPTTEST2031"))["sensor_id"].unique().to_list() == [
        "CPTTEST2031"
    ]


def test_v024_dst_days(v024) -> None:
    ped_in = v024.accepted.filter(pl.col("sensor_id") == "CPTTEST2031", pl.col("mode") == "pedestrian", pl.col("direction") == "IN")
    # Spring: 2022-03-27T00:00+01:00 → 23:00+01:00, a 23-hour local day.
    spring = ped_in.filter(pl.col("start_utc") == dt.datetime(2022, 3, 26, 23, tzinfo=UTC))
    assert spring["interval_s"].to_list() == [23 * 3600]
    # Autumn quirk (README): the 30 Oct row starts at 00:00+01:00 (= 23:00Z), kept as written, labelled 24 h.
    autumn = ped_in.filter(pl.col("start_utc") == dt.datetime(2022, 10, 29, 23, tzinfo=UTC))
    assert autumn["interval_s"].to_list() == [86400]
    assert autumn["count"].to_list() == [15.0]  # line 304 of measure.csv
    assert v024.accepted["interval_s"].value_counts().sort("interval_s").rows() == [(82800, 10), (86400, 3640)]


def test_v024_sites(v024) -> None:
    assert v024.sites.schema == SITES_SCHEMA
    gambetta = v024.sites.filter(pl.col("site_id") == "300014142").row(0, named=True)
    assert gambetta["site_name"] == "Rue Gambetta"
    assert gambetta["lon"] == pytest.approx(-1.551592) and gambetta["lat"] == pytest.approx(47.213215)


def test_v020_hourly_short_offsets(shared_data: Path) -> None:
    r = read_national_schema(_v(shared_data, "v0.2.0", "measure"))
    assert (r.rows_read, r.accepted.height, r.quarantine.height) == (120, 120, 0)
    assert r.accepted["interval_s"].unique().to_list() == [3600]
    # 353267701,CPTTEST2030,2021-09-15T08:00:00+02,... → 06:00Z; channel says INDISTINCT → "both".
    first = r.accepted.filter(pl.col("sensor_id") == "CPTTEST2030").sort("start_utc")
    assert first["start_utc"][0] == dt.datetime(2021, 9, 14, 22, tzinfo=UTC)
    assert first["direction"].unique().to_list() == ["both"]


def test_find_siblings_both_layouts(shared_data: Path, tmp_path: Path) -> None:
    sib = find_national_siblings(_v(shared_data, "v0.2.4", "measure"))
    assert sib.channel == _v(shared_data, "v0.2.4", "channel") and sib.site == _v(shared_data, "v0.2.4", "site")
    for role in ("measure", "channel"):
        (tmp_path / f"comptagemobilites_{role}_fecamp.csv").write_text("x\n")
    sib = find_national_siblings(tmp_path / "comptagemobilites_measure_fecamp.csv")
    assert sib.channel == tmp_path / "comptagemobilites_channel_fecamp.csv" and sib.site is None


def test_mobility_type_mapping() -> None:
    assert [map_mobility_type(v) for v in ("BIKE", "PEDESTRIAN", "TRUCK", "VAN", "MINIBUS", "TWO WHEELS MOTORIZED",
                                           "E-SCOOTER", "UNDEFINED", "TRAMWAY", "CAR,TRUCK", "BIKE,E-SCOOTER", "", "FOO")] == [
        "bike", "pedestrian", "heavy", "car", "bus", "motorcycle", "scooter", "other", "other", "all_vehicles",
        "other", "other", "other",
    ]


# ---------- hand-made files ----------

CHANNEL = (
    "channel_id,site_id,mobility_type,direction,provider_direction_code,temporality,started_at,time_step\n"
    "c1,s1,BIKE,,IN,PERMANENT,2020-01-01T00:00:00+01:00,3600\n"
    '"c2",s1,"CAR,TRUCK",N,OUT,PERMANENT,2020-01-01T00:00:00+01:00,3600\n'
)


def _write(tmp_path: Path, measure: str) -> tuple[Path, Path]:
    m = tmp_path / "comptagemobilites_measure_test.csv"
    c = tmp_path / "comptagemobilites_channel_test.csv"
    m.write_text(measure, encoding="utf-8")
    c.write_text(CHANNEL, encoding="utf-8")
    return m, c


def test_counts_empty_zero_decimal_negative_and_bad_rows(tmp_path: Path) -> None:
    m, _ = _write(
        tmp_path,
        "channel_id,counter_id,start_datetime,end_datetime,count\n"
        "c1,K1,2024-07-01T10:00:00+02:00,2024-07-01T11:00:00+02:00,\n"  # 2 empty → null
        "c1,K1,2024-07-01T11:00:00+02:00,2024-07-01T12:00:00+02:00,0\n"  # 3 zero kept
        "c1,K1,2024-07-01T12:00:00+02:00,,2.5\n"  # 4 decimal, interval from time_step
        "c1,K1,2024-07-01T13:00:00+02:00,2024-07-01T14:00:00+02:00,-3\n"  # 5 negative
        "c9,K1,2024-07-01T13:00:00+02:00,2024-07-01T14:00:00+02:00,4\n"  # 6 unknown channel
        "c1,K1,2024-07-01 14h,2024-07-01T15:00:00+02:00,4\n"  # 7 bad timestamp
        "c1,K1,2024-07-01T15:00:00+02:00,2024-07-01T16:00:00+02:00,abc\n"  # 8 non-numeric
        "c2,,2024-07-01T15:00:00+02:00,2024-07-01T16:00:00+02:00,7\n",  # 9 no counter → site id
    )
    r = read_national_schema(m)  # channel found by the national naming pattern
    r.check_accounting()
    assert (r.rows_read, r.accepted.height, r.quarantine.height, r.duplicates) == (8, 4, 4, 0)
    by_hour = {row["start_utc"].hour: row for row in r.accepted.iter_rows(named=True)}
    assert by_hour[8]["count"] is None
    assert by_hour[9]["count"] == 0.0
    assert by_hour[10]["count"] == 2.5 and by_hour[10]["interval_s"] == 3600
    assert (by_hour[13]["sensor_id"], by_hour[13]["mode"], by_hour[13]["direction"]) == ("s1", "all_vehicles", "N")
    assert by_hour[8]["direction"] == "IN" and by_hour[8]["sensor_id"] == "K1"
    q = {row["line"]: row for row in r.quarantine.iter_rows(named=True)}
    assert set(q) == {5, 6, 7, 8}
    assert (q[5]["column"], q[5]["value"], q[5]["reason"]) == ("count", "-3", "negative count")
    assert q[6]["reason"].startswith("unknown channel_id") and q[6]["value"] == "c9"
    assert q[7]["column"] == "start_datetime" and q[7]["value"] == "2024-07-01 14h"
    assert q[8]["reason"] == "non-numeric count"


def test_duplicates_and_conflicts_keep_last_line(tmp_path: Path) -> None:
    m, c = _write(
        tmp_path,
        "channel_id,counter_id,start_datetime,end_datetime,count\n"
        "c1,K1,2024-07-01T10:00:00+02:00,2024-07-01T11:00:00+02:00,5\n"  # 2 conflict with line 5
        "c1,K1,2024-07-01T10:00:00+02:00,2024-07-01T11:00:00+02:00,7\n"  # 3 same as kept → duplicate
        "c1,K1,2024-07-01T11:00:00+02:00,2024-07-01T12:00:00+02:00,1\n"  # 4
        "c1,K1,2024-07-01T10:00:00+02:00,2024-07-01T11:00:00+02:00,7\n"  # 5 kept (last)
        "c1,K1,2024-07-01T11:00:00+02:00,2024-07-01T12:00:00+02:00,1\n",  # 6 exact duplicate of 4 (kept)
    )
    r = read_national_schema(m, c)
    r.check_accounting()
    assert (r.rows_read, r.accepted.height, r.quarantine.height, r.duplicates) == (5, 2, 1, 2)
    assert r.accepted.sort("start_utc")["count"].to_list() == [7.0, 1.0]
    q = r.quarantine.row(0, named=True)
    assert q["line"] == 2 and q["value"] == "5.0" and q["reason"].startswith("conflicting duplicate: line 5 kept")
    # Re-reading the same file gives the same result (idempotent).
    assert read_national_schema(m, c).accepted.equals(r.accepted)


def test_missing_channel_file_and_columns_raise(tmp_path: Path) -> None:
    m = tmp_path / "measures.csv"
    m.write_text("channel_id,start_datetime,count\nc1,2024-07-01T10:00:00+02:00,1\n")
    with pytest.raises(IngestError, match="channel file"):
        read_national_schema(m)
    channel = tmp_path / "channel.csv"
    channel.write_text(CHANNEL)
    bad = tmp_path / "comptagemobilites_measure_x.csv"
    bad.write_text("channel,start,count\nc1,2024-07-01T10:00:00+02:00,1\n")
    with pytest.raises(IngestError, match=r"line 1, column 'channel_id'"):
        read_national_schema(bad, channel)
