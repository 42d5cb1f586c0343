"""Format detection and source discovery over the real export folders."""

from __future__ import annotations

from pathlib import Path

import pytest

from sensors_io.detect import FORMATS, Source, detect_format, discover
from sensors_io.errors import IngestError


def test_discover_national_schema_groups_files(shared_data: Path) -> None:
    root = shared_data / "comptage_mobilites_schema"
    sources = discover([root])
    name = "exemple-valide-eco-compteur.csv"
    assert sources == [
        Source("national_schema", tuple(root / v / role / name for role in ("measure", "channel", "site")))
        for v in ("v0.2.0", "v0.2.4")
    ]
    assert [s.read().accepted.height for s in sources] == [120, 3650]


def test_discover_telraam_attaches_devices(shared_data: Path) -> None:
    root = shared_data / "telraam_karlsruhe"
    sources = discover([root])
    # 12 monthly files for the V1 device + 8 for the S2 device; devices.json is metadata, not a source.
    assert len(sources) == 20
    assert {s.format for s in sources} == {"telraam"}
    assert all(s.files[1] == root / "devices.json" and len(s.files) == 2 for s in sources)
    assert sources[0].files[0] == root / "device_9000008322" / "hourly" / "2025-09.json"


def test_explicit_files_and_consumed_siblings(shared_data: Path) -> None:
    v = shared_data / "comptage_mobilites_schema" / "v0.2.4"
    files = [v / role / "exemple-valide-eco-compteur.csv" for role in ("site", "channel", "measure")]
    assert [s.files[0].parent.name for s in discover(files)] == ["measure"]
    with pytest.raises(IngestError, match="national_schema channel file"):
        discover([files[1]])


def test_detect_format_by_content(shared_data: Path, tmp_path: Path) -> None:
    v = shared_data / "comptage_mobilites_schema" / "v0.2.0"
    assert detect_format(v / "measure" / "exemple-valide-eco-compteur.csv") == "national_schema"
    assert detect_format(shared_data / "telraam_karlsruhe" / "device_9000010417" / "hourly" / "2026-05.json") == "telraam"
    bom = tmp_path / "renamed.txt"
    bom.write_bytes(b"\xef\xbb\xbfchannel_id;counter_id;start_datetime;end_datetime;count\n")
    assert detect_format(bom) == "national_schema"


def test_unknown_csv_lists_formats(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("# notes")
    (tmp_path / "LICENSE").write_text("x")
    (tmp_path / "schema.json").write_text("{}")
    unknown = tmp_path / "counts.csv"
    unknown.write_text("when,how_many\n2024-01-01,3\n")
    with pytest.raises(IngestError) as err:
        discover([tmp_path])
    msg = str(err.value)
    assert str(unknown) in msg and "line 1" in msg
    assert all(name in msg for name in FORMATS)
    assert "--format NAME" in msg and "--mapping FILE" in msg
    unknown.unlink()
    assert discover([tmp_path]) == []  # only non-data files left: nothing to read


def test_forced_format_and_bad_names(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match="national_schema"):
        discover([tmp_path], fmt="nope")
    with pytest.raises(IngestError, match="existing file or folder"):
        discover([tmp_path / "missing.csv"])
