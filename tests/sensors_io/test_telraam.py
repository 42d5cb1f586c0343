"""Telraam hourly JSON reader: the real Karlsruhe files, and small hand-made items for the edge rules."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest

from sensors_io.errors import IngestError
from sensors_io.readers import read_telraam_json
from sensors_io.schema import COUNTS_SCHEMA, OPTIONAL_SCHEMA

UTC = dt.timezone.utc

# Expected numbers computed once from the raw files with
#   python3 -c "import json; d=json.load(open(F))['data']; print(len(d), sum(i['uptime']==0 for i in d),
#               sum((i['night'] or 0)>0 for i in d),
#               sum((i['night'] or 0)>0 and i['car']+i['heavy']+i['bike']+i['pedestrian']==0 for i in d))"
V1_MARCH = ("device_9000008322", 708, 337)  # items, uptime == 0 items (V1, night is always null)
S2_MARCH = ("device_9000010417", 744, 395, 337)  # items, night > 0 items, of which classes all 0


def _file(shared_data: Path, device: str) -> Path:
    return shared_data / "telraam_karlsruhe" / device / "hourly" / "2026-03.json"


@pytest.fixture(scope="module")
def v1(shared_data: Path):
    return read_telraam_json(_file(shared_data, V1_MARCH[0]))


@pytest.fixture(scope="module")
def s2(shared_data: Path):
    return read_telraam_json(_file(shared_data, S2_MARCH[0]))


def test_v1_rows_and_schema(v1) -> None:
    items = V1_MARCH[1]
    assert v1.rows_read == items * 8 == v1.accepted.height
    assert v1.quarantine.height == 0 and v1.duplicates == 0
    assert v1.accepted.schema == pl.Schema({**COUNTS_SCHEMA, "speed_v85_kmh": OPTIONAL_SCHEMA["speed_v85_kmh"],
                                           "uptime": OPTIONAL_SCHEMA["uptime"]})
    assert set(v1.accepted["mode"].unique()) == {"car", "heavy", "bike", "pedestrian"}
    assert v1.accepted["interval_s"].unique().to_list() == [3600]
    assert v1.accepted["sensor_id"].unique().to_list() == ["telraam-9000008322"]


def test_v1_known_hour(v1) -> None:
    # Raw item date "2026-03-10T07:00:00.000Z": uptime 0.7816666667, car_lft 198.7739951951,
    # car_rgt 214.1935201827, heavy_lft 24.398768627, v85 37.5.
    hour = v1.accepted.filter(pl.col("start_utc") == dt.datetime(2026, 3, 10, 7, tzinfo=UTC))
    car_lft = hour.filter(pl.col("mode") == "car", pl.col("direction") == "lft").row(0, named=True)
    assert car_lft["count"] == pytest.approx(198.7739951951)
    assert car_lft["speed_v85_kmh"] == 37.5 and car_lft["uptime"] == pytest.approx(0.7816666667)
    heavy_lft = hour.filter(pl.col("mode") == "heavy", pl.col("direction") == "lft").row(0, named=True)
    assert heavy_lft["count"] == pytest.approx(24.398768627) and heavy_lft["speed_v85_kmh"] is None


def test_v1_uptime_zero_is_not_measured(v1) -> None:
    off = v1.accepted.filter(pl.col("uptime") == 0)
    assert off.height == V1_MARCH[2] * 8
    assert off["count"].null_count() == off.height  # never 0
    assert v1.accepted.filter(pl.col("uptime") > 0)["count"].null_count() == 0


def test_s2_night_mode(s2) -> None:
    items, night_items, night_only = S2_MARCH[1:]
    assert s2.rows_read == items * 8 + night_items * 2 == s2.accepted.height
    allv = s2.accepted.filter(pl.col("mode") == "all_vehicles")
    assert allv.height == night_items * 2
    # Raw item "2026-03-01T02:00:00.000Z": classes 0, night 10 = night_lft 3 + night_rgt 7.
    hour = s2.accepted.filter(pl.col("start_utc") == dt.datetime(2026, 3, 1, 2, tzinfo=UTC))
    counts = {(r["mode"], r["direction"]): r["count"] for r in hour.iter_rows(named=True)}
    assert counts[("all_vehicles", "lft")] == 3.0 and counts[("all_vehicles", "rgt")] == 7.0
    assert all(counts[(m, d)] is None for m in ("car", "heavy", "bike", "pedestrian") for d in ("lft", "rgt"))
    classes = s2.accepted.filter(pl.col("mode") != "all_vehicles")
    assert classes["count"].null_count() == night_only * 8
    # Day hour "2026-03-10T07:00:00.000Z": car_lft 76, night 0 → no all_vehicles row.
    day = s2.accepted.filter(pl.col("start_utc") == dt.datetime(2026, 3, 10, 7, tzinfo=UTC))
    assert day.filter(pl.col("mode") == "car", pl.col("direction") == "lft")["count"].to_list() == [76.0]
    assert "all_vehicles" not in day["mode"].to_list()


def test_sites_named_from_devices_json(v1, s2) -> None:
    assert v1.sites.rows() == [("telraam-9000008322", "Georg-Friedrich-Straße", None, None, "telraam")]
    assert s2.sites["site_name"].to_list() == ["Telraam v2 AKMV 9000010417"]


# ---------- hand-made items ----------

def _item(date: str, **kw) -> dict:
    base = {"segment_id": 42, "date": date, "uptime": 0.5, "v85": 31.0, "night": None,
            "car": 2, "heavy": 0, "bike": 1, "pedestrian": 0}
    base |= {f"{m}_{d}": 1.0 if m == "car" else 0.0 for m in ("car", "heavy", "bike", "pedestrian") for d in ("lft", "rgt")}
    base |= {"night_lft": None, "night_rgt": None}
    return base | kw


def test_shapes_duplicates_and_bad_values(tmp_path: Path) -> None:
    items = [
        _item("2026-01-01T00:00:00.000Z"),  # 1
        _item("2026-01-01T01:00:00.000Z", car_lft=-1),  # 2: one row quarantined
        _item("not a date"),  # 3: whole item quarantined
        _item("2026-01-01T00:00:00.000Z"),  # 4: exact copy of item 1 → 8 duplicates
        _item("2026-01-01T02:00:00.000Z", heavy_rgt="x"),  # 5: one row quarantined
    ]
    for i, shape in enumerate((items, {"report": items}, {"device_id": "42", "data": items})):
        f = tmp_path / f"t{i}.json"
        f.write_text(json.dumps(shape))
        r = read_telraam_json(f)
        r.check_accounting()
        assert r.rows_read == 4 * 8 + 1
        assert (r.accepted.height, r.quarantine.height, r.duplicates) == (22, 3, 8)
        q = {(row["line"], row["column"]): row["reason"] for row in r.quarantine.iter_rows(named=True)}
        assert q == {(2, "car_lft"): "negative count", (3, "date"): q[(3, "date")], (5, "heavy_rgt"): "non-numeric count"}
        assert r.sites.rows() == [("telraam-42", None, None, None, "telraam")]


def test_not_telraam_json_raises(tmp_path: Path) -> None:
    f = tmp_path / "x.json"
    f.write_text('{"foo": 1}')
    with pytest.raises(IngestError, match="Telraam hourly JSON"):
        read_telraam_json(f)
    f.write_text("{not json")
    with pytest.raises(IngestError, match="line 1"):
        read_telraam_json(f)


def test_devices_json_may_place_segments_on_the_map(tmp_path: Path) -> None:
    # Telraam's device list has no coordinates; a town adds lat / lon (or latitude / longitude) to its entries
    (tmp_path / "devices.json").write_text(json.dumps([
        {"id": "42", "name": "Rue Arquaise", "lat": 49.757, "lon": 0.3755},
        {"id": "43", "name": "Quai", "latitude": 49.76, "longitude": 0.37},
        {"id": "44", "name": "Sans coordonnées"}]), encoding="utf-8")
    hourly = tmp_path / "device_42" / "hourly"
    hourly.mkdir(parents=True)
    items = [_item("2026-01-01T08:00:00.000Z"), _item("2026-01-01T08:00:00.000Z", segment_id=43),
             _item("2026-01-01T08:00:00.000Z", segment_id=44)]
    (hourly / "2026-01.json").write_text(json.dumps({"report": items}), encoding="utf-8")
    sites = read_telraam_json(hourly / "2026-01.json").sites.sort("site_id")
    assert sites.select("site_id", "site_name", "lat", "lon").rows() == [
        ("telraam-42", "Rue Arquaise", 49.757, 0.3755), ("telraam-43", "Quai", 49.76, 0.37),
        ("telraam-44", "Sans coordonnées", None, None)]
    (tmp_path / "devices.json").write_text(json.dumps([{"id": "42", "name": "x", "lat": "49,757"}]), encoding="utf-8")
    with pytest.raises(IngestError, match=r"devices\.json.*lat.*device 42 \(entry 1\): a number of degrees within "
                                          r"±90, or null.*'49,757'"):
        read_telraam_json(hourly / "2026-01.json")
