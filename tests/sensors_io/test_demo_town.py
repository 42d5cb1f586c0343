"""The synthetic Fécamp town: real file shapes, determinism, DST, injected effects, values as written."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest

from scenarios.calendars import calendar_frame
from sensors_io.demo_town import SENSORS, SYNTHETIC_SUFFIX, TELRAAM_KEYS, DemoTown, generate_demo_town

SPAN = (dt.date(2025, 3, 1), dt.date(2025, 4, 15))
UTC = dt.timezone.utc
NATIONAL = pl.col("sensor_id").str.starts_with("CPT-")


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _local_date(col: str = "start_utc") -> pl.Expr:
    return pl.col(col).dt.convert_time_zone("Europe/Paris").dt.date()


@pytest.fixture(scope="module")
def town(tmp_path_factory: pytest.TempPathFactory) -> DemoTown:
    return generate_demo_town(tmp_path_factory.mktemp("town"), start=SPAN[0], end=SPAN[1])


@pytest.fixture(scope="module")
def measures(town: DemoTown) -> list[dict[str, str]]:
    return _rows(town.measure_csv)


# --- determinism -----------------------------------------------------------------------------------------

def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_identical_bytes_and_another_seed_differs(tmp_path: Path) -> None:
    kw = {"start": dt.date(2025, 3, 28), "end": dt.date(2025, 4, 2)}
    a = _tree(generate_demo_town(tmp_path / "a", **kw).out_dir)
    b = _tree(generate_demo_town(tmp_path / "b", **kw).out_dir)
    c_town = generate_demo_town(tmp_path / "c", seed=1, **kw)
    c = _tree(c_town.out_dir)
    assert a == b
    assert a.keys() == c.keys()
    measure = "comptage/comptagemobilites_measure_fecamp-demo.csv"
    assert a[measure] != c[measure]
    assert a["telraam/device_9000076001/hourly/2025-03.json"] != c["telraam/device_9000076001/hourly/2025-03.json"]
    # Structure does not depend on the seed: same rows, same timestamps.
    assert a[measure].count(b"\n") == c[measure].count(b"\n")
    assert c_town.truth["seed"] == 1


def test_rerun_over_a_shorter_span_leaves_no_stale_month_files(tmp_path: Path) -> None:
    generate_demo_town(tmp_path, start=dt.date(2025, 3, 30), end=dt.date(2025, 4, 2))
    town = generate_demo_town(tmp_path, start=dt.date(2025, 4, 1), end=dt.date(2025, 4, 2))
    months = {p.name for p in town.telraam_dir.rglob("hourly/*.json")}
    assert months == {"2025-03.json", "2025-04.json"}  # 2025-03: local 1 April 00:00 is 31 March 22:00Z
    assert not list(tmp_path.rglob("*.tmp"))


# --- national schema: exact shapes -------------------------------------------------------------------------

@pytest.mark.parametrize("table", ["site", "channel", "measure"])
def test_headers_equal_the_real_v024_files(town: DemoTown, shared_data: Path, table: str) -> None:
    real = shared_data / "comptage_mobilites_schema" / "v0.2.4" / table / "exemple-valide-eco-compteur.csv"
    ours = town.comptage_dir / f"comptagemobilites_{table}_fecamp-demo.csv"
    real_header = real.read_text(encoding="utf-8").splitlines()[0]
    assert ours.read_bytes().decode("utf-8").splitlines()[0] == real_header
    # Same number of fields on every line, and polars reads it as the real file's columns.
    assert pl.read_csv(ours, infer_schema=False).columns == pl.read_csv(real, infer_schema=False).columns


def test_site_and_channel_files_say_synthetic_and_follow_the_schema(town: DemoTown, shared_data: Path) -> None:
    schema_dir = shared_data / "comptage_mobilites_schema" / "v0.2.4"
    channel_schema = {f["name"]: f for f in json.loads((schema_dir / "channel" / "schema.json").read_text())["fields"]}
    sites = _rows(town.site_csv)
    channels = _rows(town.channel_csv)
    assert len(sites) == 8 and len(channels) == 28
    assert all(s["site_name"].endswith(SYNTHETIC_SUFFIX) for s in sites)
    assert all(c["data_provider_name"] == "DEMO SYNTHÉTIQUE" and "synthétiques" in c["comment"] for c in channels)
    assert all(len(c["comment"]) <= 50 for c in channels)
    directions = set(channel_schema["direction"]["constraints"]["enum"])
    assert {c["direction"] for c in channels} <= directions
    assert {c["mobility_type"] for c in channels} == {"CAR", "TRUCK", "BIKE", "PEDESTRIAN"}
    assert {c["time_step"] for c in channels} == {"3600"}
    assert {c["site_id"] for c in channels} == {s["site_id"] for s in sites}
    assert len({c["channel_id"] for c in channels}) == len(channels)
    # Each site: exactly two directions per mode (the pedestrian street included: N and S, no "both").
    pairs = pl.DataFrame(channels).group_by("site_id", "mobility_type").agg(pl.col("direction").n_unique())
    assert pairs["direction"].to_list() == [2] * pairs.height
    assert (town.out_dir / "README.txt").read_text(encoding="utf-8").startswith("DONNÉES SYNTHÉTIQUES")


def test_measure_rows_are_hourly_local_iso_with_offsets(town: DemoTown, measures: list[dict[str, str]]) -> None:
    n_hours = ((SPAN[1] - SPAN[0]).days + 1) * 24 - 1  # 2025-03-30 has 23 hours
    assert len(measures) == 28 * n_hours
    for row in measures[:50] + measures[-50:]:
        start = dt.datetime.fromisoformat(row["start_datetime"])
        end = dt.datetime.fromisoformat(row["end_datetime"])
        assert start.utcoffset() in (dt.timedelta(hours=1), dt.timedelta(hours=2))
        assert end - start == dt.timedelta(hours=1)  # aware subtraction: true elapsed time
        assert row["count"] == "" or row["count"].isdigit()


# --- DST -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("day", "hours", "first_utc", "last_utc"),
    [
        (dt.date(2025, 3, 30), 23, dt.datetime(2025, 3, 29, 23, tzinfo=UTC), dt.datetime(2025, 3, 30, 21, tzinfo=UTC)),
        (dt.date(2025, 10, 26), 25, dt.datetime(2025, 10, 25, 22, tzinfo=UTC), dt.datetime(2025, 10, 26, 22, tzinfo=UTC)),
    ],
)
def test_dst_days_have_23_and_25_hourly_rows(tmp_path: Path, day: dt.date, hours: int, first_utc: dt.datetime,
                                             last_utc: dt.datetime) -> None:
    town = generate_demo_town(tmp_path, start=day - dt.timedelta(days=1), end=day + dt.timedelta(days=1))
    rows = [r for r in _rows(town.measure_csv) if r["start_datetime"].startswith(day.isoformat())]
    per_channel: dict[str, list[dt.datetime]] = {}
    for r in rows:
        per_channel.setdefault(r["channel_id"], []).append(dt.datetime.fromisoformat(r["start_datetime"]))
    assert len(per_channel) == 28
    for starts in per_channel.values():
        utc = [s.astimezone(UTC) for s in starts]
        assert len(utc) == hours
        assert utc[0] == first_utc and utc[-1] == last_utc
        assert all(b - a == dt.timedelta(hours=1) for a, b in zip(utc, utc[1:]))
    labels = [r["start_datetime"] for r in rows if r["channel_id"] == "CH-GAMBETTA-CAR-N"]
    if hours == 25:  # the repeated local hour, once per offset
        assert "2025-10-26T02:00:00+02:00" in labels and "2025-10-26T02:00:00+01:00" in labels
        row = next(r for r in rows if r["start_datetime"] == "2025-10-26T02:00:00+02:00")
        assert row["end_datetime"] == "2025-10-26T02:00:00+01:00"
    else:
        assert not any(lab.startswith("2025-03-30T02:") for lab in labels)
    expected = town.expected.filter(_local_date() == day, pl.col("sensor_id") == "CPT-GAMBETTA")
    assert expected.group_by("mode", "direction").len()["len"].to_list() == [hours] * 4


# --- injected effects --------------------------------------------------------------------------------------

def test_outage_rows_are_present_with_empty_counts(tmp_path: Path) -> None:
    town = generate_demo_town(tmp_path, start=dt.date(2024, 10, 1), end=dt.date(2024, 10, 20))
    (outage,) = town.truth["outages"]
    assert outage["sensor_id"] == "CPT-GAMBETTA" and outage["hours"] == 240
    a = dt.datetime.fromisoformat(outage["start_local_iso"])
    b = dt.datetime.fromisoformat(outage["end_local_iso"])
    rows = _rows(town.measure_csv)
    inside = [r for r in rows if a <= dt.datetime.fromisoformat(r["start_datetime"]) < b]
    gambetta = [r for r in inside if r["counter_id"] == "CPT-GAMBETTA"]
    assert len(gambetta) == 4 * 240
    assert all(r["count"] == "" for r in gambetta)
    # Nothing else is empty: other sensors, and Gambetta outside the outage.
    empty = [r for r in rows if r["count"] == ""]
    assert len(empty) == len(gambetta)
    exp = town.expected.filter(pl.col("sensor_id") == "CPT-GAMBETTA")
    assert exp["count"].null_count() == 4 * 240
    assert town.expected.filter(NATIONAL)["count"].null_count() == 4 * 240


def test_stuck_run_repeats_a_nonzero_value(town: DemoTown, measures: list[dict[str, str]]) -> None:
    (run,) = town.truth["stuck_runs"]
    channel = f"CH-ROUTE-VALMONT-{run['mode'].upper()}-{run['direction']}"
    a = dt.datetime.fromisoformat(run["start_local_iso"])
    b = dt.datetime.fromisoformat(run["end_local_iso"])
    values = [r["count"] for r in measures
              if r["channel_id"] == channel and a <= dt.datetime.fromisoformat(r["start_datetime"]) < b]
    assert len(values) == run["hours"] >= 6
    assert set(values) == {str(run["value"])} and run["value"] > 0


def test_zero_run_is_eight_daytime_zeros(tmp_path: Path) -> None:
    town = generate_demo_town(tmp_path, start=dt.date(2024, 6, 11), end=dt.date(2024, 6, 13))
    (run,) = town.truth["zero_runs"]
    assert run["hours"] == 8
    a = dt.datetime.fromisoformat(run["start_local_iso"])
    series = town.expected.filter(pl.col("sensor_id") == run["sensor_id"], pl.col("mode") == run["mode"],
                                  pl.col("direction") == run["direction"])
    day = series.filter(_local_date() == a.date()).sort("start_utc")["count"].to_list()
    assert day[a.hour:a.hour + 8] == [0.0] * 8
    assert day[a.hour - 1] > 0 and day[a.hour + 8] > 0


def test_closure_lowers_the_seafront_and_diverts_to_the_quay(town: DemoTown) -> None:
    c = town.truth["closure"]
    assert (c["sensor_id"], c["diverted_to"]) == ("CPT-ALBERT-1ER", "CPT-QUAI-BERIGNY")
    assert (c["residual_share"], c["diverted_share"], c["evaporated_share"]) == (0.1, 0.7, 0.3)
    cal = calendar_frame(*SPAN).select("date", "is_working_day", "is_school_holiday")
    daily = (
        town.expected.filter(pl.col("mode") == "car", pl.col("sensor_id").is_in([c["sensor_id"], c["diverted_to"]]))
        .group_by("sensor_id", date=_local_date()).agg(pl.col("count").sum())
        .join(cal, on="date")
        # Compare like with like: working days outside school holidays, closed vs open.
        .filter(pl.col("is_working_day"), ~pl.col("is_school_holiday"))
        .with_columns(closed=pl.col("date").is_between(dt.date.fromisoformat(c["start"]),
                                                        dt.date.fromisoformat(c["end"])))
        .group_by("sensor_id", "closed").agg(pl.col("count").mean(), n=pl.len())
    )
    m = {(r["sensor_id"], r["closed"]): r["count"] for r in daily.iter_rows(named=True)}
    assert daily.filter(pl.col("closed"))["n"].to_list() == [15, 15]
    sea_open, sea_closed = m[(c["sensor_id"], False)], m[(c["sensor_id"], True)]
    quay_open, quay_closed = m[(c["diverted_to"], False)], m[(c["diverted_to"], True)]
    assert sea_closed / sea_open == pytest.approx(c["residual_share"], abs=0.03)
    assert (quay_closed - quay_open) / (sea_open - sea_closed) == pytest.approx(c["diverted_share"], abs=0.1)
    # Bikes on the seafront-side route are not closed.
    bikes = town.expected.filter(pl.col("sensor_id") == "CPT-VELOMARITIME")
    assert bikes["count"].null_count() == 0


# --- values as written -------------------------------------------------------------------------------------

def test_one_sensor_day_by_hand(town: DemoTown, measures: list[dict[str, str]]) -> None:
    # Quai Bérigny, cars towards the centre, Monday 10 March 2025 (closure week: diverted traffic included).
    by_hand = sum(int(r["count"]) for r in measures
                  if r["channel_id"] == "CH-QUAI-BERIGNY-CAR-E" and r["start_datetime"].startswith("2025-03-10T"))
    expected = town.expected.filter(pl.col("sensor_id") == "CPT-QUAI-BERIGNY", pl.col("mode") == "car",
                                    pl.col("direction") == "E", _local_date() == dt.date(2025, 3, 10))
    assert expected.height == 24
    assert expected["count"].sum() == by_hand
    assert 3_000 < by_hand < 8_000  # one direction: ~2,500 own traffic + ~2,300 diverted


def test_expected_matches_the_measure_csv_exactly(town: DemoTown) -> None:
    raw = pl.read_csv(town.measure_csv, schema_overrides={"count": pl.Float64})
    channels = pl.read_csv(town.channel_csv, infer_schema=False).select(
        "channel_id", "direction", mode=pl.col("mobility_type").replace_strict(
            {"CAR": "car", "TRUCK": "heavy", "BIKE": "bike", "PEDESTRIAN": "pedestrian"}))
    parsed = raw.join(channels, on="channel_id").select(
        sensor_id="counter_id", mode="mode", direction="direction",
        start_utc=pl.col("start_datetime").str.to_datetime("%Y-%m-%dT%H:%M:%S%:z", time_zone="UTC", time_unit="us"),
        count="count",
    ).sort("sensor_id", "mode", "direction", "start_utc")
    assert parsed.equals(town.expected.filter(NATIONAL).drop("site_id"))


def test_expected_schema_and_truth_file(town: DemoTown) -> None:
    assert town.expected.schema == pl.Schema({
        "site_id": pl.String, "sensor_id": pl.String, "mode": pl.String, "direction": pl.String,
        "start_utc": pl.Datetime("us", "UTC"), "count": pl.Float64,
    })
    assert set(town.expected["sensor_id"].unique()) == {s.sensor_id for s in SENSORS}
    text = (town.out_dir / "truth.json").read_text(encoding="utf-8")
    assert json.loads(text) == town.truth
    assert text == json.dumps(town.truth, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    assert town.truth["seed"] == 76400 and town.truth["synthetic"] is True
    assert town.truth["summer"]["multipliers"]["CPT-ALBERT-1ER"]["car"] == 1.5
    assert town.truth["festivals"] == []  # none falls in March–April 2025


# --- Telraam -------------------------------------------------------------------------------------------------

def _telraam_items(town: DemoTown, device: int) -> list[dict]:
    items = []
    for f in sorted((town.telraam_dir / f"device_{device}" / "hourly").glob("*.json")):
        doc = json.loads(f.read_text(encoding="utf-8"))
        assert all(i["date"][:7] == doc["month"] == f.stem for i in doc["data"])  # UTC month files
        items += doc["data"]
    return items


def test_telraam_files_have_the_real_api_shape(town: DemoTown, shared_data: Path) -> None:
    real_dir = shared_data / "telraam_karlsruhe"
    real = json.loads((real_dir / "device_9000008322" / "hourly" / "2026-03.json").read_text(encoding="utf-8"))
    real_devices = json.loads((real_dir / "devices.json").read_text(encoding="utf-8"))
    ours_path = town.telraam_dir / "device_9000076001" / "hourly" / "2025-03.json"
    raw = ours_path.read_text(encoding="utf-8")
    ours = json.loads(raw)
    assert raw == json.dumps(ours, indent=2, ensure_ascii=False)  # laid out like the real files
    assert list(ours) == list(real)
    assert [list(i) for i in ours["data"][:3]] == [list(real["data"][0])] * 3 == [list(TELRAAM_KEYS)] * 3
    devices = json.loads((town.telraam_dir / "devices.json").read_text(encoding="utf-8"))
    # the real list's keys, in its order, plus the coordinates a town adds for the map (not Telraam's)
    assert [list(d) for d in devices] == [[*real_devices[0], "lat", "lon"]] * 4
    assert all(49.7 < d["lat"] < 49.8 and 0.3 < d["lon"] < 0.45 for d in devices)  # in Fécamp
    assert all(d["name"].endswith(SYNTHETIC_SUFFIX) for d in devices)
    item = ours["data"][0]
    assert item["date"] == "2025-03-01T00:00:00.000Z" and item["timezone"] == "Europe/Paris"
    assert len(item["car_speed_hist_0to70plus"]) == 8 and len(item["car_speed_hist_0to120plus"]) == 25
    assert ours["data"][-1]["date"] == "2025-03-31T23:00:00.000Z"
    # The first file holds the last UTC hour of February (local midnight 1 March = 23:00Z).
    first = json.loads((town.telraam_dir / "device_9000076001" / "hourly" / "2025-02.json").read_text())
    assert [i["date"] for i in first["data"]] == ["2025-02-28T23:00:00.000Z"]


def test_telraam_v1_uptime_night_and_scaled_counts(town: DemoTown) -> None:
    items = _telraam_items(town, 9000076002)
    assert len(items) == ((SPAN[1] - SPAN[0]).days + 1) * 24 - 1
    night = [i for i in items if i["uptime"] == 0]
    day = [i for i in items if i["uptime"] > 0]
    assert 0.3 < len(night) / len(items) < 0.7
    assert all(i[k] == 0 for i in night for k in ("car", "heavy", "bike", "pedestrian", "car_lft", "bike_rgt"))
    assert all(i["v85"] is None and sum(i["car_speed_hist_0to120plus"]) == 0 for i in night)
    assert all(i["night"] is None and i["direction"] == 1 and i["instance_id"] == -1 for i in items)
    noon = [i for i in day if i["date"][11:13] in ("10", "11", "12")]
    assert all(0 < i["uptime"] <= 0.95 for i in day)  # dawn and dusk hours are partly dark
    assert all(0.6 * 0.3 <= i["uptime"] for i in noon)  # rare dips (cloud, glare) down to 30 %
    assert sum(0.6 <= i["uptime"] <= 0.95 for i in noon) / len(noon) > 0.9
    for i in day:
        for mode in ("car", "heavy", "bike", "pedestrian"):
            assert i[mode] == pytest.approx(i[f"{mode}_lft"] + i[f"{mode}_rgt"], abs=1e-8)
            # Telraam's extrapolation: an integer count of passages divided by the uptime.
            assert i[f"{mode}_lft"] * i["uptime"] == pytest.approx(round(i[f"{mode}_lft"] * i["uptime"]), abs=1e-6)
        if i["car"] > 0:
            assert sum(i["car_speed_hist_0to120plus"]) == pytest.approx(100.0, abs=1e-6)
            assert sum(i["car_speed_hist_0to70plus"]) == pytest.approx(100.0, abs=1e-6)
            assert 10 < i["v85"] < 70
    assert any(not float(i["car"]).is_integer() for i in day)


def test_telraam_expected_matches_the_json(town: DemoTown) -> None:
    items = _telraam_items(town, 9000076003)
    rows = [
        {"mode": m, "direction": d, "start_utc": dt.datetime.fromisoformat(i["date"].replace("Z", "+00:00")),
         "count": float(i[f"{m}_{d}"]) if i["uptime"] > 0 else None}
        for i in items for m in ("car", "heavy", "bike", "pedestrian") for d in ("lft", "rgt")
    ]
    parsed = pl.DataFrame(rows, schema={"mode": pl.String, "direction": pl.String,
                                        "start_utc": pl.Datetime("us", "UTC"), "count": pl.Float64})
    exp = town.expected.filter(pl.col("sensor_id") == "telraam-9000076003").select(parsed.columns)
    assert parsed.sort("mode", "direction", "start_utc").equals(exp)


# --- round trips through the readers -----------------------------------------------------------------------

def test_national_reader_reproduces_expected(town: DemoTown) -> None:
    national = pytest.importorskip("sensors_io.readers.national")
    result = national.read_national_schema(town.measure_csv, town.channel_csv, town.site_csv)
    assert result.quarantine.height == 0 and result.duplicates == 0
    got = result.accepted.select(town.expected.columns).sort("sensor_id", "mode", "direction", "start_utc")
    want = town.expected.filter(NATIONAL)
    assert got.equals(want)
    assert (result.accepted["interval_s"] == 3600).all()
    per_day = [f.group_by("sensor_id", date=_local_date()).agg(pl.col("count").sum()).sort("sensor_id", "date")
               for f in (got, want)]
    assert per_day[0].equals(per_day[1])


def test_telraam_reader_reproduces_expected(town: DemoTown) -> None:
    telraam = pytest.importorskip("sensors_io.readers.telraam")
    files = sorted(town.telraam_dir.rglob("device_*/hourly/*.json"))
    try:
        results = [telraam.read_telraam_json(f, devices=town.telraam_dir / "devices.json") for f in files]
    except NotImplementedError:
        pytest.skip("sensors_io.readers.telraam.read_telraam_json is not implemented yet")
    assert all(r.quarantine.height == 0 for r in results)
    got = pl.concat([r.accepted.select(town.expected.columns) for r in results])
    want = town.expected.filter(pl.col("sensor_id").str.starts_with("telraam-"))
    assert got.sort("sensor_id", "mode", "direction", "start_utc").equals(want)
    per_day = [f.group_by("sensor_id", "mode", date=_local_date()).agg(pl.col("count").sum())
               .sort("sensor_id", "mode", "date") for f in (got, want)]
    assert per_day[0].drop("count").equals(per_day[1].drop("count"))
    # Float sums: equal up to the summation order.
    assert per_day[0]["count"].to_list() == pytest.approx(per_day[1]["count"].to_list(), rel=1e-12)
    names = pl.concat([r.sites for r in results]).unique("site_id")
    assert names["site_name"].str.ends_with(SYNTHETIC_SUFFIX).all()


# --- the full two years ----------------------------------------------------------------------------------------

@pytest.mark.slow
def test_full_two_years_realistic(tmp_path: Path) -> None:
    # No wall-clock assertion here (tests never assert a time): generation takes ~4 s on 2 cores.
    town = generate_demo_town(tmp_path)
    e = town.expected.with_columns(date=_local_date())
    daily = e.group_by("sensor_id", "mode", "date").agg(pl.col("count").sum())
    mean = {(r["sensor_id"], r["mode"]): r["count"]
            for r in daily.group_by("sensor_id", "mode").agg(pl.col("count").mean()).iter_rows(named=True)}
    assert 7_000 < mean[("CPT-ALBERT-1ER", "car")] + mean[("CPT-ALBERT-1ER", "heavy")] < 9_500
    for entrance in ("CPT-ROUTE-ETRETAT", "CPT-ROUTE-VALMONT"):
        total = mean[(entrance, "car")] + mean[(entrance, "heavy")]
        assert 9_000 < total < 13_500
        assert 0.03 < mean[(entrance, "heavy")] / total < 0.08
    assert 3_000 < mean[("CPT-ALEXANDRE-LE-GRAND", "car")] < 5_000
    assert 200 < mean[("CPT-VELOMARITIME", "bike")] < 900
    assert 2_000 < mean[("CPT-JACQUES-HUET", "pedestrian")] < 8_000
    # Summer on the seafront, outside the festival.
    sea = daily.filter(pl.col("sensor_id") == "CPT-ALBERT-1ER", pl.col("mode") == "car")
    summer = sea.filter(pl.col("date").dt.month().is_in([7, 8]))["count"].mean()
    june_sept = sea.filter(pl.col("date").dt.month().is_in([6, 9]))["count"].mean()
    assert 1.25 < summer / june_sept < 1.7
    # Festival evening on the pedestrian street vs the same weekday a week earlier.
    for fest in town.truth["festivals"]:
        days = [dt.date.fromisoformat(d) for d in fest["days"]]
        ev = e.filter(pl.col("sensor_id") == "CPT-JACQUES-HUET",
                      pl.col("start_utc").dt.convert_time_zone("Europe/Paris").dt.hour() >= 18)
        during = ev.filter(pl.col("date").is_in(days))["count"].sum()
        before = ev.filter(pl.col("date").is_in([d - dt.timedelta(days=7) for d in days]))["count"].sum()
        assert during / before > 2.0
    # A public holiday looks like a Sunday: Thursday 1 May 2025 vs the Thursdays and Sundays around it.
    entrance = daily.filter(pl.col("sensor_id") == "CPT-ROUTE-ETRETAT", pl.col("mode") == "car")
    value = dict(entrance.select("date", "count").iter_rows())
    thursdays = [value[dt.date(2025, 5, 1) + dt.timedelta(days=k)] for k in (-14, -7, 14)]
    sundays = [value[dt.date(2025, 5, 4) + dt.timedelta(days=k)] for k in (-14, -7, 7)]
    assert abs(value[dt.date(2025, 5, 1)] - sum(sundays) / 3) < abs(value[dt.date(2025, 5, 1)] - sum(thursdays) / 3)
    assert {e["name"] for e in town.truth["festivals"]} == {"Fécamp Grand'Escale (fête maritime)", "Fête du Hareng"}
    size = sum(p.stat().st_size for p in town.files())
    assert size < 200_000_000
