"""Mapping files (YAML) for any other CSV: the three docs examples, DST, stamp=end, accounting, bad mappings.

Expected values are computed by hand from the example files in docs/examples/ (see the comments).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
import yaml

from sensors_io.errors import IngestError
from sensors_io.readers.mapping import (
    HoursWideMapping,
    LongMapping,
    MappingSpec,
    WideMapping,
    load_mapping,
    parse_interval,
    parse_mapping,
    read_with_mapping,
)
from sensors_io.readers.naive_csv import REASON_NON_EXISTENT
from sensors_io.schema import COUNTS_SCHEMA, QUARANTINE_SCHEMA

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
UTC = dt.UTC


def _example(name: str):
    return read_with_mapping(EXAMPLES / f"{name}.csv", EXAMPLES / f"{name}.yaml")


def _series(frame: pl.DataFrame, sensor: str, mode: str, direction: str) -> pl.DataFrame:
    return frame.filter(sensor_id=sensor, mode=mode, direction=direction).sort("start_utc")


def _local_day_total(frame: pl.DataFrame, day: str, tz: str = "Europe/Paris") -> float:
    local_day = pl.col("start_utc").dt.convert_time_zone(tz).dt.date()
    return frame.filter(local_day == dt.date.fromisoformat(day))["count"].sum()


def _spec(**fields) -> MappingSpec:
    base = {"layout": "long", "timestamp": {"column": "t", "format": "%Y-%m-%d %H:%M"}, "interval": "1h",
            "sensor_id": "s1", "mode": "car", "count_column": "n"}
    return parse_mapping({**base, **fields}, path="test_mapping.yaml")


def _csv(tmp_path: Path, rows: list[str], header: str = "t,n", name: str = "in.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(("\n".join([header, *rows]) + "\n").encode(encoding))
    return path


def _check_shape(result) -> None:
    assert result.accepted.schema == COUNTS_SCHEMA
    assert result.quarantine.schema == QUARANTINE_SCHEMA
    result.check_accounting()


# ------------------------------------------------------------------ the three documented examples


def test_long_example() -> None:
    r = _example("long_counts")
    _check_shape(r)
    # 13 data lines: -3 (line 9), n/a (line 10), 14/07/2024 04:00 (line 13) quarantined; line 12 copies line 11.
    assert (r.rows_read, r.accepted.height, r.quarantine.height, r.duplicates) == (13, 9, 3, 1)
    assert r.source == "mapping:long_counts"
    assert r.accepted["source_file"].unique().to_list() == [str(EXAMPLES / "long_counts.csv")]
    assert r.quarantine.select("line", "column", "value").rows() == [
        (9, "nombre", "-3"), (10, "nombre", "n/a"), (13, "horodatage", "14/07/2024 04:00")]
    assert r.quarantine["reason"].to_list()[:2] == ["negative count", "non-numeric count"]
    # mode_values: VL → car, PL → heavy, vélo → bike; 2024-07-14 00:00 Paris (CEST) = 2024-07-13 22:00 UTC.
    bike = _series(r.accepted, "TB-02", "bike", "Est")
    assert bike.select("site_id", "start_utc", "count").rows() == [
        ("Rue Théagène Boufart", dt.datetime(2024, 7, 13, 22, tzinfo=UTC), 3.0)]
    car_n = _series(r.accepted, "QB-01", "car", "Nord")
    assert car_n["count"].to_list() == [12.0, 7.0, None]  # empty count → null (not measured)
    assert _local_day_total(car_n, "2024-07-14") == 19.0
    assert _series(r.accepted, "QB-01", "heavy", "Nord")["count"].to_list() == [1.0, 0.0, 2.0]  # 0 kept


def test_wide_example_cp1252_preamble_stamp_end() -> None:
    r = _example("wide_channels")
    _check_shape(r)
    # 24 hourly lines × 4 mapped channels; the empty Piétons cell (line 9, hour 05:00-06:00) is a null.
    assert (r.rows_read, r.accepted.height, r.quarantine.height, r.duplicates) == (96, 96, 0, 0)
    velo_in = _series(r.accepted, "QB-velo", "bike", "entree")
    assert velo_in.height == 24 and velo_in["site_id"].unique().to_list() == ["quai-berigny"]
    # First line "14/07/2024;01:00" ends the hour 00:00-01:00 Paris → starts 2024-07-13 22:00 UTC.
    assert velo_in["start_utc"][0] == dt.datetime(2024, 7, 13, 22, tzinfo=UTC)
    # Last line "15/07/2024;00:00" ends the hour 23:00-24:00 of 14 July → 2024-07-14 21:00 UTC.
    assert velo_in["start_utc"][-1] == dt.datetime(2024, 7, 14, 21, tzinfo=UTC)
    # Vélos entrée = (3h mod 17), h = 0..23: 0+1+…+16 = 136, then 0,3,6,9,12,15,1 = 46 → 182.
    assert _local_day_total(velo_in, "2024-07-14") == 182.0
    pieton = _series(r.accepted, "QB-pieton", "pedestrian", "both")
    assert pieton["count"].null_count() == 1
    assert _local_day_total(pieton, "2024-07-14") == 501.0  # Σ(10+h) = 516, minus the missing 15
    cars = _series(r.accepted, "QB-boucle", "car", "both")
    assert cars["site_id"].unique().to_list() == ["quai-berigny-chaussee"]
    assert _local_day_total(cars, "2024-07-14") == 1512.0  # Σ(40+2h) = 960 + 552


def test_hours_wide_example_us_dates() -> None:
    r = _example("hours_wide_us")
    _check_shape(r)
    # 3 sensor-day lines × 24 hours; line 4 has an empty h08 (null) and "x" in h09 (quarantined).
    assert (r.rows_read, r.accepted.height, r.quarantine.height, r.duplicates) == (72, 71, 1, 0)
    assert r.quarantine.select("line", "column", "value", "reason").rows() == [(4, "h09", "x", "non-numeric count")]
    inbound = _series(r.accepted, "FEC-01", "bike", "IN")
    # "Jan 1, 2022 12:00 AM" = midnight; h00 in Paris (CET, +01) = 2021-12-31 23:00 UTC.
    assert inbound["start_utc"][0] == dt.datetime(2021, 12, 31, 23, tzinfo=UTC)
    assert inbound["start_utc"][13] == dt.datetime(2022, 1, 1, 12, tzinfo=UTC)  # h13 = 1 PM local
    # (7h mod 23) for h = 0..22 is a permutation of 0..22 (sum 253), h23 → 161 mod 23 = 0.
    assert _local_day_total(inbound, "2022-01-01") == 253.0
    # Jan 2: (3h mod 23) → 253, minus h08 (null: 24 mod 23 = 1) and h09 (quarantined: 27 mod 23 = 4).
    assert _local_day_total(inbound, "2022-01-02") == 248.0
    assert inbound.filter(pl.col("count").is_null()).height == 1


def test_docs_examples_load_as_their_layouts() -> None:
    assert isinstance(load_mapping(EXAMPLES / "long_counts.yaml"), LongMapping)
    assert isinstance(load_mapping(EXAMPLES / "wide_channels.yaml"), WideMapping)
    spec = load_mapping(EXAMPLES / "hours_wide_us.yaml")
    assert isinstance(spec, HoursWideMapping)
    assert spec.hour_names[:3] == ["h00", "h01", "h02"] and spec.interval_s == 3600
    assert [parse_interval(x) for x in ("15min", "1h", "1d", 300)] == [900, 3600, 86400, 300]


# ------------------------------------------------------------------ time


def test_dst_spring_and_autumn_long(tmp_path: Path) -> None:
    path = _csv(tmp_path, [
        "2024-03-31 01:00,10", "2024-03-31 02:00,11", "2024-03-31 03:00,12",  # 02:00 does not exist in Paris
        "2024-10-27 01:00,20", "2024-10-27 02:00,21", "2024-10-27 02:00,22", "2024-10-27 03:00,23",
    ])
    r = read_with_mapping(path, _spec())
    _check_shape(r)
    assert r.quarantine.select("line", "column", "value").rows() == [(3, "t", "2024-03-31 02:00")]
    assert r.quarantine["reason"][0].startswith(REASON_NON_EXISTENT)
    assert r.accepted.select("start_utc", "count").rows() == [
        (dt.datetime(2024, 3, 31, 0, tzinfo=UTC), 10.0),  # 01:00 CET
        (dt.datetime(2024, 3, 31, 1, tzinfo=UTC), 12.0),  # 03:00 CEST
        (dt.datetime(2024, 10, 26, 23, tzinfo=UTC), 20.0),  # 01:00 CEST
        (dt.datetime(2024, 10, 27, 0, tzinfo=UTC), 21.0),  # first 02:00 (CEST)
        (dt.datetime(2024, 10, 27, 1, tzinfo=UTC), 22.0),  # second 02:00 (CET)
        (dt.datetime(2024, 10, 27, 2, tzinfo=UTC), 23.0),  # 03:00 CET
    ]


def test_dst_hours_wide(tmp_path: Path) -> None:
    header = "day," + ",".join(str(h) for h in range(24))
    values = ",".join(str(h + 1) for h in range(24))
    path = _csv(tmp_path, [f"2024-03-31,{values}", f"2024-10-27,{values}"], header=header)
    spec = parse_mapping({"layout": "hours_wide", "timestamp": {"column": "day", "format": "%Y-%m-%d"},
                          "sensor_id": "s1", "mode": "bike", "hour_columns": "{h}"}, path="hw.yaml")
    r = read_with_mapping(path, spec)
    _check_shape(r)
    # Spring: hour column "2" names no instant → quarantined; the day keeps 23 hours.
    assert r.quarantine.select("line", "column", "value").rows() == [(2, "2", "2024-03-31 02:00")]
    spring = r.accepted.filter(pl.col("start_utc") < dt.datetime(2024, 6, 1, tzinfo=UTC))["start_utc"].to_list()
    assert len(spring) == 23
    assert spring[:3] == [dt.datetime(2024, 3, 30, 23, tzinfo=UTC), dt.datetime(2024, 3, 31, 0, tzinfo=UTC),
                          dt.datetime(2024, 3, 31, 1, tzinfo=UTC)]  # 00:00 CET, 01:00 CET, 03:00 CEST
    # Autumn: column "2" is the first (summer-time) 02:00; column "3" is 03:00 CET.
    autumn = r.accepted.filter(pl.col("start_utc") > dt.datetime(2024, 6, 1, tzinfo=UTC))
    assert autumn.height == 24
    by_count = dict(zip(autumn["count"].to_list(), autumn["start_utc"].to_list()))
    assert by_count[3.0] == dt.datetime(2024, 10, 27, 0, tzinfo=UTC)
    assert by_count[4.0] == dt.datetime(2024, 10, 27, 2, tzinfo=UTC)


def test_stamp_end_shifts_back_by_the_interval(tmp_path: Path) -> None:
    path = _csv(tmp_path, ["2024-07-14 00:15,1", "2024-03-31 03:00,2"])
    start = read_with_mapping(path, _spec(interval="15min"))
    end = read_with_mapping(path, _spec(interval="15min", stamp="end"))
    assert end.accepted["interval_s"].unique().to_list() == [900]
    shifted = dict(zip(end.accepted["count"], end.accepted["start_utc"]))
    unshifted = dict(zip(start.accepted["count"], start.accepted["start_utc"]))
    assert shifted[1.0] == dt.datetime(2024, 7, 13, 22, 0, tzinfo=UTC)  # 00:15 CEST end → 00:00 CEST start
    assert unshifted[1.0] - shifted[1.0] == dt.timedelta(minutes=15)
    # The shift is in UTC: 03:00 CEST (= 01:00 UTC) ends the quarter-hour starting 01:45 CET (00:45 UTC).
    assert shifted[2.0] == dt.datetime(2024, 3, 31, 0, 45, tzinfo=UTC)


def test_iso_offsets_and_date_time_columns(tmp_path: Path) -> None:
    iso = _csv(tmp_path, ["2024-07-14T00:00:00+02:00,5", "2024-07-14T00:00:00Z,6", "nope,7"], name="iso.csv")
    r = read_with_mapping(iso, _spec(timestamp={"column": "t", "format": "iso"}, timezone="America/New_York"))
    assert r.accepted.select("start_utc", "count").rows() == [(dt.datetime(2024, 7, 13, 22, tzinfo=UTC), 5.0),
                                                              (dt.datetime(2024, 7, 14, 0, tzinfo=UTC), 6.0)]
    assert r.quarantine.select("line", "value").rows() == [(4, "nope")]
    split = _csv(tmp_path, ["14/07/2024;08:30;4"], header="jour;heure;n", name="split.csv")
    r = read_with_mapping(split, _spec(delimiter=";", timestamp={"date_column": "jour", "time_column": "heure",
                                                                  "format": "%d/%m/%Y %H:%M"}))
    assert r.accepted["start_utc"].to_list() == [dt.datetime(2024, 7, 14, 6, 30, tzinfo=UTC)]
    # --tz overrides the mapping's timezone
    r = read_with_mapping(split, _spec(delimiter=";", timestamp={"date_column": "jour", "time_column": "heure",
                                                                  "format": "%d/%m/%Y %H:%M"}), tz="UTC")
    assert r.accepted["start_utc"].to_list() == [dt.datetime(2024, 7, 14, 8, 30, tzinfo=UTC)]


# ------------------------------------------------------------------ accounting and duplicates


def test_accounting_identity_with_duplicates_and_conflicts(tmp_path: Path) -> None:
    path = _csv(tmp_path, [
        "2024-07-14 00:00,1", "2024-07-14 00:00,1",  # exact copy → duplicate
        "2024-07-14 01:00,2", "2024-07-14 01:00,3",  # conflict → line 4 quarantined, line 5 kept
        "", "2024-07-14 02:00,",  # blank line is not a data row; empty count → null
        "2024-07-14 03:00,0", "bad,1", "2024-07-14 04:00,-1", "2024-07-14 05:00,inf",
        "2999-01-01 00:00,1",  # in the future → quarantined (shared rule)
    ])
    r = read_with_mapping(path, _spec())
    # 9 data lines (the blank line 6 is not one): kept lines 3, 5, 7, 8; line 2 duplicates line 3;
    # quarantined: 4 (conflict), 9 (bad stamp), 10 (negative), 11 (inf is not a count), 12 (future).
    assert r.rows_read == 10 == r.accepted.height + r.quarantine.height + r.duplicates
    assert (r.accepted.height, r.quarantine.height, r.duplicates) == (4, 5, 1)
    assert r.accepted["count"].to_list() == [1.0, 3.0, None, 0.0]
    reasons = dict(zip(r.quarantine["line"], r.quarantine["reason"]))
    assert list(reasons) == [4, 9, 10, 11, 12]
    assert reasons[4].startswith("conflicting duplicate: line 5 kept")
    assert reasons[9].startswith("unparseable timestamp")
    assert reasons[10] == "negative count" and reasons[11] == "non-numeric count"
    assert reasons[12] == "timestamp in the future"


# ------------------------------------------------------------------ encodings


def test_cp1252_accented_site_name(tmp_path: Path) -> None:
    path = _csv(tmp_path, ["2024-07-14 00:00;Rue Théagène Boufart;3", "2024-07-14 01:00;Quai Bérigny;4"],
                header="t;lieu;n", encoding="cp1252")
    assert "é".encode("cp1252") in path.read_bytes()  # really cp1252, not UTF-8
    spec = _spec(delimiter=";", encoding="cp1252", site_column="lieu", skip_lines=0)
    r = read_with_mapping(path, spec)
    assert r.accepted["site_id"].to_list() == ["Rue Théagène Boufart", "Quai Bérigny"]
    # The same file read as UTF-8 fails with the file, the line of the bad byte and a hint.
    with pytest.raises(IngestError, match=r"in\.csv, line 2: expected text encoded in utf-8") as err:
        read_with_mapping(path, _spec(delimiter=";", site_column="lieu"))
    assert "cp1252" in (err.value.hint or "")


# ------------------------------------------------------------------ invalid mappings


def _write_mapping(tmp_path: Path, data: dict, name: str = "bad.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _example_yaml(name: str) -> dict:
    return yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text(encoding="utf-8"))


def test_missing_field(tmp_path: Path) -> None:
    data = _example_yaml("long_counts")
    del data["count_column"]
    path = _write_mapping(tmp_path, data)
    with pytest.raises(IngestError, match=r"bad\.yaml, line 1: expected field `count_column` \(required\)") as err:
        load_mapping(path)
    assert err.value.path == str(path) and err.value.field == "count_column"


def test_wrong_layout_value(tmp_path: Path) -> None:
    path = _write_mapping(tmp_path, {**_example_yaml("long_counts"), "layout": "tall"})
    with pytest.raises(IngestError, match=r"bad\.yaml, line 1: expected field `layout`: one of long, wide, "
                                          r"hours_wide, found 'tall'"):
        load_mapping(path)


def test_invalid_nested_value_names_field_and_yaml_line(tmp_path: Path) -> None:
    text = (EXAMPLES / "wide_channels.yaml").read_text(encoding="utf-8").replace("mode: pedestrian", "mode: walkers")
    path = tmp_path / "wide.yaml"
    path.write_text(text, encoding="utf-8")
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "walkers" in t)
    with pytest.raises(IngestError, match=rf"wide\.yaml, line {line}: expected field `columns\.Piétons\.mode`: "
                                          r"a canonical mode.*found 'walkers'"):
        load_mapping(path)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"timestamp": {"column": "t", "format": "%Y-%m-%d %H"}}, "timestamp.format"),
        ({"timestamp": {"column": "t", "format": "hello"}}, "timestamp.format"),
        ({"timestamp": {"column": "t", "date_column": "d", "time_column": "x", "format": "%Y"}}, "timestamp.format"),
        ({"timestamp": {"date_column": "d", "format": "%Y-%m-%d"}}, "timestamp.column"),
        ({"interval": "15m"}, "interval"),
        ({"timezone": "Europe/Pari"}, "timezone"),
        ({"encoding": "utf-16"}, "encoding"),
        ({"delimiter": ";;"}, "delimiter"),
        ({"sensor_column": "capteur"}, "sensor_column"),  # with sensor_id too
        ({"mode": "cars"}, "mode"),
        ({"sensr_id": "x"}, "sensr_id"),  # a typo is an unknown field, not silently ignored
    ],
)
def test_invalid_fields(change: dict, field: str) -> None:
    base = {"layout": "long", "timestamp": {"column": "t", "format": "%Y-%m-%d %H:%M"}, "interval": "1h",
            "sensor_id": "s1", "mode": "car", "count_column": "n"}
    with pytest.raises(IngestError, match=r"m\.yaml") as err:
        parse_mapping({**base, **change}, path="m.yaml")
    assert err.value.field == field, str(err.value)


def test_unknown_csv_column_names_column_and_file(tmp_path: Path) -> None:
    data = _example_yaml("wide_channels")
    data["columns"]["Vélos total"] = {"sensor_id": "QB-velo", "mode": "bike", "direction": "total"}
    mapping = _write_mapping(tmp_path, data, name="wide.yaml")
    csv = EXAMPLES / "wide_channels.csv"
    with pytest.raises(IngestError) as err:
        read_with_mapping(csv, mapping)
    e = err.value
    assert e.path == str(csv) and e.column == "Vélos total" and e.line == 3  # header after the 2-line preamble
    assert "wide_channels.csv, line 3, column 'Vélos total'" in str(e) and "wide.yaml" in str(e)
    assert "Vélos entrée" in (e.found or "")  # the header, decoded from cp1252


def test_wrong_delimiter_or_preamble_says_so(tmp_path: Path) -> None:
    data = {**_example_yaml("wide_channels"), "skip_lines": 0}
    with pytest.raises(IngestError, match=r"column 'Date'.*skip_lines"):
        read_with_mapping(EXAMPLES / "wide_channels.csv", parse_mapping(data, path="w.yaml"))
