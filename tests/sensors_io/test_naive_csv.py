"""Naive-local-time hourly CSV reader: the real UCI I-94 file, and hand-made DST / duplicate edge files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from sensors_io.detect import detect_format, discover
from sensors_io.errors import IngestError
from sensors_io.readers.naive_csv import REASON_NON_EXISTENT, read_naive_csv
from sensors_io.schema import COUNTS_SCHEMA, QUARANTINE_SCHEMA

UTC = dt.timezone.utc


def _file(shared_data: Path) -> Path:
    return shared_data / "uci_metro_interstate" / "Metro_Interstate_Traffic_Volume.csv"


@pytest.fixture(scope="module")
def uci(shared_data: Path):
    return read_naive_csv(_file(shared_data))


def _local_day(frame: pl.DataFrame, day: str, tz: str = "America/Chicago") -> pl.DataFrame:
    return frame.filter(pl.col("start_utc").dt.convert_time_zone(tz).dt.date() == dt.date.fromisoformat(day)).sort(
        "start_utc"
    )


def _write(path: Path, rows: list[str], header: str = "date_time,traffic_volume") -> Path:
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def test_uci_accounting(uci) -> None:
    # Computed on the raw file, independently of the reader:
    # python -c "import csv,collections as c; rows=list(csv.DictReader(open('Metro_Interstate_Traffic_Volume.csv')));
    #   g=c.defaultdict(set); [g[r['date_time']].add(r['traffic_volume']) for r in rows];
    #   print(len(rows), len(g), len(rows)-len(g), sum(len(v)>1 for v in g.values()))"
    # → 48204 40575 7629 0: 40,575 distinct stamps, 7,629 repeated rows (13,074 rows over 5,445 stamps, README),
    # no stamp with two different volumes (so no conflict), no stamp in a spring gap, all volumes integers ≥ 0.
    # The autumn 01:00 stamps written twice (e.g. 2012-11-04, 2016-11-06) repeat the same volume, so by the
    # ambiguity rule they are one hour (earlier instant) + a duplicate: the distinct-stamp count holds.
    assert (uci.rows_read, uci.accepted.height, uci.duplicates, uci.quarantine.height) == (48204, 40575, 7629, 0)
    uci.check_accounting()
    assert uci.accepted.schema == COUNTS_SCHEMA
    assert uci.accepted.select("site_id", "sensor_id", "mode", "direction", "interval_s", "source").unique().rows() == [
        ("uci-i94-atr301", "uci-i94-atr301", "all_vehicles", "W", 3600, "naive_csv")
    ]
    assert uci.accepted["start_utc"].is_unique().all()


def test_uci_known_row(uci) -> None:
    # sed -n 2p Metro_Interstate_Traffic_Volume.csv → None,288.28,…,2012-10-02 09:00:00,5545
    # 09:00 CDT (UTC−5) = 14:00Z.
    first = uci.accepted.row(0, named=True)
    assert (first["start_utc"], first["count"]) == (dt.datetime(2012, 10, 2, 14, tzinfo=UTC), 5545.0)


def test_uci_spring_day(uci) -> None:
    # grep '^.*,2018-03-11 0[0-4]' → 00:00 (1662, ×2), 01:00 (975, ×2), 03:00 (420, ×3): no 02:00 (it does not
    # exist). 00:00 and 01:00 CST (UTC−6) → 06:00Z, 07:00Z; 03:00 CDT (UTC−5) → 08:00Z: continuous in UTC.
    day = _local_day(uci.accepted, "2018-03-11")
    assert day["start_utc"].to_list() == [dt.datetime(2018, 3, 11, 6, tzinfo=UTC) + dt.timedelta(hours=h) for h in range(23)]
    assert day["count"].to_list()[:3] == [1662.0, 975.0, 420.0]


def test_uci_autumn_day(uci) -> None:
    # grep ',2016-11-06 0[0-3]' → lines 27863–27867: 00:00 1283; 01:00 539 (temp 283.48); 01:00 539 (temp 282.87);
    # 02:00 331; 03:00 194. The two 01:00 rows carry the same volume → one hour at the earlier instant
    # (01:00 CDT = 06:00Z), the other is a duplicate; 02:00 CST = 08:00Z; 07:00Z (01:00 CST) stays a gap.
    day = _local_day(uci.accepted, "2016-11-06")
    assert day["start_utc"].to_list()[:4] == [
        dt.datetime(2016, 11, 6, 5, tzinfo=UTC),
        dt.datetime(2016, 11, 6, 6, tzinfo=UTC),
        dt.datetime(2016, 11, 6, 8, tzinfo=UTC),
        dt.datetime(2016, 11, 6, 9, tzinfo=UTC),
    ]
    assert day["count"].to_list()[:4] == [1283.0, 539.0, 331.0, 194.0]
    assert day.height == 24  # 25-hour day, one hour missing
    # 2015-11-01: a single 01:00 row (779, line 19276) → the earlier instant, 06:00Z.
    one = _local_day(uci.accepted, "2015-11-01")
    assert one.filter(pl.col("count") == 779.0)["start_utc"].to_list() == [dt.datetime(2015, 11, 1, 6, tzinfo=UTC)]


def test_uci_tz_and_sensor_override(shared_data: Path) -> None:
    r = read_naive_csv(_file(shared_data), tz="Europe/Paris", sensor_id="i94")
    # 2012-10-02 09:00 CEST (UTC+2) = 07:00Z. Paris has other DST dates: 2013-03-31 02:00 does not exist there,
    # but the file has no such row, so the accounting is unchanged.
    first = r.accepted.row(0, named=True)
    assert (first["start_utc"], first["sensor_id"], first["site_id"]) == (dt.datetime(2012, 10, 2, 7, tzinfo=UTC), "i94", "i94")
    r.check_accounting()


def test_uci_detected_by_content(shared_data: Path) -> None:
    assert detect_format(_file(shared_data)) == "naive_csv"
    sources = discover([shared_data / "uci_metro_interstate"])
    assert [(s.format, s.files) for s in sources] == [("naive_csv", (_file(shared_data),))]


def test_dst_rules_and_bad_rows(tmp_path: Path) -> None:
    f = _write(
        tmp_path / "parvis.csv",
        [
            "2024-03-31 01:00:00,10",  # 2: 00:00Z
            "2024-03-31 02:00:00,11",  # 3: does not exist in Paris → quarantine
            "2024-03-31 02:30:00,12",  # 4: does not exist → quarantine
            "2024-03-31 03:00:00,13",  # 5: 01:00Z
            "2024-10-27 02:00:00,20",  # 6: ambiguous, first count met → earlier (00:00Z, CEST)
            "2024-10-27 02:00:00,21",  # 7: another count → later (01:00Z, CET)
            "2024-10-27 02:00:00,20",  # 8: same as 6 → duplicate of 00:00Z
            "2024-10-27 02:00:00,22",  # 9: a third count → later too → conflicts with 7; the last line (9) is kept
            "2024-10-28 02:00:00,30",  # 10: not ambiguous
            "2024-10-28 02:00:00,31",  # 11: conflict with 10 → 10 quarantined, 11 kept
            "2024-10-28 03:00,",  # 12: empty count → null; HH:MM accepted
            "2024-10-28T04:00:00,0",  # 13: T separator; 0 stays 0
            "28/10/2024 05:00,5",  # 14: unparseable
            "2024-10-28 06:00:00+01:00,6",  # 15: not naive → unparseable here
            "2024-10-28 07:00:00,many",  # 16: non-numeric
            "2024-10-28 08:00:00,-1",  # 17: negative
            "2024-10-28 09:00:00,inf",  # 18: non-finite
        ],
    )
    r = read_naive_csv(f)
    r.check_accounting()
    assert (r.rows_read, r.accepted.height, r.quarantine.height, r.duplicates) == (17, 7, 9, 1)
    assert r.accepted.select("sensor_id", "direction").unique().rows() == [("parvis", "both")]  # file stem
    assert r.accepted.select("start_utc", "count").rows() == [
        (dt.datetime(2024, 3, 31, 0, tzinfo=UTC), 10.0),  # 01:00 CET
        (dt.datetime(2024, 3, 31, 1, tzinfo=UTC), 13.0),  # 03:00 CEST: continuous in UTC
        (dt.datetime(2024, 10, 27, 0, tzinfo=UTC), 20.0),  # 02:00 CEST (first count met)
        (dt.datetime(2024, 10, 27, 1, tzinfo=UTC), 22.0),  # 02:00 CET (other counts; last line wins)
        (dt.datetime(2024, 10, 28, 1, tzinfo=UTC), 31.0),
        (dt.datetime(2024, 10, 28, 2, tzinfo=UTC), None),
        (dt.datetime(2024, 10, 28, 3, tzinfo=UTC), 0.0),
    ]
    assert r.quarantine.schema == QUARANTINE_SCHEMA
    q = r.quarantine.select("line", "column", "value", "reason").rows()
    assert [(line, col, val) for line, col, val, _ in q] == [
        (3, "date_time", "2024-03-31 02:00:00"),
        (4, "date_time", "2024-03-31 02:30:00"),
        (7, "count", "21.0"),
        (10, "count", "30.0"),
        (14, "date_time", "28/10/2024 05:00"),
        (15, "date_time", "2024-10-28 06:00:00+01:00"),
        (16, "traffic_volume", "many"),
        (17, "traffic_volume", "-1"),
        (18, "traffic_volume", "inf"),
    ]
    reasons = [reason for *_, reason in q]
    assert reasons[0] == reasons[1] == f"{REASON_NON_EXISTENT} in Europe/Paris"
    assert reasons[2].startswith("conflicting duplicate: line 9 kept")
    assert reasons[3].startswith("conflicting duplicate: line 11 kept")
    assert reasons[4].startswith("unparseable timestamp") and reasons[5].startswith("unparseable timestamp")
    assert reasons[6:] == ["non-numeric count", "negative count", "non-numeric count"]


def test_ambiguous_single_row_takes_the_earlier_instant_and_tz_argument(tmp_path: Path) -> None:
    f = _write(tmp_path / "x.csv", ["2024-11-03 01:00:00;7"], header="when;n")
    r = read_naive_csv(f, tz="America/New_York", sensor_id="nyc", mode="bike", time_column="when", count_column="n")
    # 01:00 on 2024-11-03 happens twice in New York: the one row is EDT (UTC−4) → 05:00Z.
    assert r.accepted.select("sensor_id", "mode", "start_utc", "count").rows() == [
        ("nyc", "bike", dt.datetime(2024, 11, 3, 5, tzinfo=UTC), 7.0)
    ]


def test_missing_column_and_bad_zone_are_ingest_errors(tmp_path: Path) -> None:
    f = _write(tmp_path / "x.csv", ["2024-01-01 00:00:00,3"], header="date_time,volume")
    with pytest.raises(IngestError) as err:
        read_naive_csv(f)
    assert (err.value.line, err.value.column) == (1, "traffic_volume")
    assert str(f) in str(err.value)
    assert read_naive_csv(f, count_column="volume").accepted.height == 1
    with pytest.raises(IngestError, match="time zone"):
        read_naive_csv(f, tz="Mars/Olympus", count_column="volume")
