"""The anomaly register: loading, clear errors (file, entry, line, field), and matching rows to entries."""

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from sensors_io.anomalies import REGISTER_SCHEMA, RegisterError, load_register, match_register, parse_register

REPO = Path(__file__).resolve().parents[2]
UTC = dt.UTC


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "anomalies.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def test_example_register_loads_with_local_days_and_instants_in_utc() -> None:
    reg = load_register(REPO / "docs" / "examples" / "anomalies.yaml")
    assert reg.schema == REGISTER_SCHEMA
    assert reg.height == 8
    assert reg["action"].to_list() == ["accept"] * 5 + ["exclude"] * 3
    closure = reg.row(0, named=True)
    # 3 March 2025 00:00 Paris (CET, UTC+1) = 2 March 23:00Z; the end date 23 March is included, so the
    # period ends at 24 March 00:00 local = 23 March 23:00Z (DST only starts on 30 March).
    assert (closure["start_utc"], closure["end_utc"]) == (dt.datetime(2025, 3, 2, 23, tzinfo=UTC),
                                                          dt.datetime(2025, 3, 23, 23, tzinfo=UTC))
    stuck = reg.row(6, named=True)
    # Naive datetimes are Paris time: 8 April 10:00 and 17:00 CEST (UTC+2) = 08:00Z and 15:00Z (end excluded).
    assert (stuck["sensor_id"], stuck["mode"], stuck["direction"]) == ("CPT-ROUTE-VALMONT", "car", "W")
    assert (stuck["start_utc"], stuck["end_utc"]) == (dt.datetime(2025, 4, 8, 8, tzinfo=UTC),
                                                      dt.datetime(2025, 4, 8, 15, tzinfo=UTC))
    assert reg.filter(pl.col("sensor_id") == "*").height == 2
    zero = reg.row(7, named=True)
    # 12 June 2024 09:00–17:00 CEST = 07:00Z–15:00Z: the demo town's injected zero run (truth.json).
    assert (zero["sensor_id"], zero["start_utc"], zero["end_utc"]) == (
        "CPT-VELOMARITIME", dt.datetime(2024, 6, 12, 7, tzinfo=UTC), dt.datetime(2024, 6, 12, 15, tzinfo=UTC))


def test_time_zone_from_the_file_wins_over_the_argument_and_offsets_are_kept(tmp_path: Path) -> None:
    entry = ("  - {sensor_id: A, start: '2025-07-01T08:00:00+00:00', end: 2025-07-01, reason: r, flagged_by: me,"
             " action: exclude}\n")
    reg = load_register(_write(tmp_path, "timezone: America/Guadeloupe\nanomalies:\n" + entry), tz="Europe/Paris")
    # end = end of 1 July in Guadeloupe (UTC-4) = 2 July 04:00Z; the start carries its own offset.
    assert reg.select("start_utc", "end_utc").row(0) == (dt.datetime(2025, 7, 1, 8, tzinfo=UTC),
                                                         dt.datetime(2025, 7, 2, 4, tzinfo=UTC))
    reg2 = load_register(_write(tmp_path, "anomalies:\n" + entry), tz="America/Guadeloupe")
    assert reg2["end_utc"].item() == dt.datetime(2025, 7, 2, 4, tzinfo=UTC)


def test_empty_register_and_bare_list_are_accepted(tmp_path: Path) -> None:
    assert load_register(_write(tmp_path, "anomalies: []\n")).height == 0
    assert load_register(_write(tmp_path, "")).height == 0
    bare = "- {sensor_id: 12, start: 2025-01-01, end: 2025-01-02, reason: r, flagged_by: me, action: accept}\n"
    reg = load_register(_write(tmp_path, bare))
    assert reg["sensor_id"].to_list() == ["12"]  # a numeric id is read as text


@pytest.mark.parametrize(
    ("entry2", "field", "line", "needle"),
    [
        ("{sensor_id: B, start: 2025-01-01, end: 2025-01-02, reason: r, flagged_by: me, action: drop}",
         "action", 5, "expected one of exclude, accept, found 'drop'"),
        ("{sensor_id: B, start: 2025-01-01, end: 2025-01-02, reason: r, action: accept}",
         "flagged_by", 5, "required field is missing"),
        ("{sensor_id: B, start: 2025-01-01, end: 2025-01-02, reason: r, flagged_by: me, action: accept, note: x}",
         "note", 5, "unknown field"),
        ("{sensor_id: B, start: 2025-13-01, end: 2025-01-02, reason: r, flagged_by: me, action: accept}",
         "start", 5, "expected a date (2025-03-03) or an ISO datetime"),
        ("{sensor_id: B, start: 2025-01-05, end: 2025-01-02, reason: r, flagged_by: me, action: accept}",
         "end", 5, "expected an end after the start"),
        ("{sensor_id: B, mode: velo, start: 2025-01-01, end: 2025-01-02, reason: r, flagged_by: me, action: accept}",
         "mode", 5, "expected one of car, heavy, bike"),
    ],
)
def test_errors_name_file_entry_line_and_field(tmp_path: Path, entry2: str, field: str, line: int, needle: str) -> None:
    text = ("# register\nanomalies:\n"
            "  - {sensor_id: A, start: 2025-01-01, end: 2025-01-02, reason: r, flagged_by: me, action: accept}\n"
            "\n"
            f"  - {entry2}\n")
    path = _write(tmp_path, text)
    with pytest.raises(RegisterError) as err:
        load_register(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}, entry 2 (line {line}), field `{field}`: "), msg
    assert needle in msg
    assert (err.value.entry, err.value.field, err.value.line) == (2, field, line)


def test_errors_for_the_file_itself(tmp_path: Path) -> None:
    # The unclosed flow mapping is noticed at the end of the stream: line 3 (after the last newline).
    with pytest.raises(RegisterError, match=r"anomalies.yaml, line 3: expected valid YAML"):
        load_register(_write(tmp_path, "anomalies:\n  - {sensor_id: A\n"))
    with pytest.raises(RegisterError, match=r"line 1, field `timezone`: expected a valid IANA time zone"):
        load_register(_write(tmp_path, "timezone: Europe/Fecamp\nanomalies: []\n"))
    with pytest.raises(RegisterError, match=r"field `anomaly`: unknown field"):
        load_register(_write(tmp_path, "anomaly: []\n"))
    with pytest.raises(RegisterError, match=r"entry 1 \(line 2\): expected a mapping of fields"):
        load_register(_write(tmp_path, "anomalies:\n  - just text\n"))
    with pytest.raises(RegisterError, match="expected a readable UTF-8 YAML file"):
        load_register(tmp_path / "absent.yaml")


def test_match_register_priorities_filters_and_bounds() -> None:
    reg = parse_register([
        {"sensor_id": "*", "start": "2025-06-02T10:00", "end": "2025-06-02T12:00", "reason": "fête",
         "flagged_by": "me", "action": "accept"},
        {"sensor_id": "A", "mode": "car", "direction": "E", "start": "2025-06-02T11:00", "end": "2025-06-02T13:00",
         "reason": "panne", "flagged_by": "me", "action": "exclude"},
    ], tz="Europe/Paris")
    # Local 10:00–13:00 CEST = 08:00Z–11:00Z; rows start at 07:00Z..11:00Z.
    t = [dt.datetime(2025, 6, 2, h, tzinfo=UTC) for h in (7, 8, 9, 10, 11)]
    rows = pl.LazyFrame({"sensor_id": ["A"] * 5 + ["B"] * 5, "mode": ["car"] * 5 + ["bike"] * 5,
                         "direction": ["E"] * 5 + ["W"] * 5, "start_utc": t + t},
                        schema_overrides={"start_utc": pl.Datetime("us", "UTC")})
    out = match_register(rows, reg).collect()
    # A: 07Z before everything; 08Z accept only; 09Z both → exclude wins; 10Z exclude only; 11Z = end, excluded.
    assert out["register_action"].to_list()[:5] == [None, "accept", "exclude", "exclude", None]
    assert out["register_reason"].to_list()[:5] == [None, "fête", "panne", "panne", None]
    # B: only the `*` accept entry applies, for [08Z, 10Z).
    assert out["register_action"].to_list()[5:] == [None, "accept", "accept", None, None]
