"""Telraam API client against a local fake of ``POST /v1/reports/traffic`` serving the RECORDED Karlsruhe items.

No network: the fake listens on 127.0.0.1 (random port), checks ``X-Api-Key``, filters the recorded items of
the requested segment to ``[time_start, time_end)`` and answers ``{"report": items}``. It can be told to answer
429 (Retry-After: 1) or 503 first, and it records each request's arrival time and body.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import polars as pl
import pytest

from sensors_io.readers import read_telraam_json
from sensors_io.telraam_api import API_KEY_ENV, TelraamAPIError, TelraamClient

UTC = dt.UTC
KEY = "test-key-not-a-secret"
V1, S2 = 9000008322, 9000010417
INTERVAL = 0.2  # min_interval_s used in the tests


def _t(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def _hourly(shared_data: Path, segment: int) -> Path:
    return shared_data / "telraam_karlsruhe" / f"device_{segment}" / "hourly"


def _parse_api_time(text: str) -> dt.datetime:
    """Accept the formats Telraam clients send: ``2026-03-01 00:00:00Z``, ``2026-03-01T00:00:00.000Z``."""
    return dt.datetime.fromisoformat(text).astimezone(UTC)


class FakeTelraam:
    """State of the fake API (shared by the handler threads)."""

    def __init__(self, recorded: dict[str, list[tuple[dt.datetime, dict]]]) -> None:
        self.recorded = recorded
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.key = KEY
        self.failures: list[tuple[int, dict[str, str]]] = []  # answered first, one per request
        self.arrivals: list[float] = []
        self.bodies: list[dict] = []
        self.statuses: list[int] = []

    def answer(self, headers, raw: bytes) -> tuple[int, dict[str, str], dict]:
        with self.lock:
            self.arrivals.append(time.monotonic())
            try:
                body = json.loads(raw)
            except ValueError:
                body = {}
            self.bodies.append(body)
            if headers.get("X-Api-Key") != self.key:
                status, extra, doc = 403, {}, {"message": "Forbidden"}
            elif self.failures:
                status, extra = self.failures.pop(0)
                doc = {"message": "fake failure"}
            elif body.get("level") != "segments" or body.get("format") != "per-hour":
                status, extra, doc = 400, {}, {"message": "unsupported level/format"}
            else:
                lo, hi = _parse_api_time(body["time_start"]), _parse_api_time(body["time_end"])
                items = [item for when, item in self.recorded.get(str(body.get("id")), []) if lo <= when < hi]
                status, extra, doc = 200, {}, {"status_code": 200, "message": "ok", "report": items}
            self.statuses.append(status)
            return status, extra, doc


@pytest.fixture(scope="module")
def fake(shared_data: Path):
    recorded: dict[str, list[tuple[dt.datetime, dict]]] = {}
    for segment in (V1, S2):
        for path in sorted(_hourly(shared_data, segment).glob("*.json")):
            for item in json.loads(path.read_text(encoding="utf-8"))["data"]:
                recorded.setdefault(str(item["segment_id"]), []).append((_parse_api_time(item["date"]), item))
    state = FakeTelraam(recorded)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.path != "/v1/reports/traffic":
                status, extra, doc = 404, {}, {"message": "Not Found"}
            else:
                status, extra, doc = state.answer(self.headers, raw)
            payload = json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def api(fake: FakeTelraam) -> FakeTelraam:
    fake.reset()
    return fake


def _client(api: FakeTelraam, **kw) -> TelraamClient:
    kw = {"api_key": KEY, "min_interval_s": INTERVAL, "timeout_s": 5, "backoff_s": 0.1} | kw
    return TelraamClient(base_url=api.base_url, **kw)


def _count_recorded(shared_data: Path, segment: int, lo: str, hi: str) -> int:
    """By hand from the recorded JSON: items whose ``date`` string is in [lo, hi) (same ISO format sorts)."""
    n = 0
    for path in _hourly(shared_data, segment).glob("*.json"):
        n += sum(lo <= item["date"] < hi for item in json.loads(path.read_text(encoding="utf-8"))["data"])
    return n


def test_fetch_count_matches_recorded_files(api, shared_data) -> None:
    items = _client(api).fetch_segment_hours(V1, _t(2025, 10, 20, 5), _t(2026, 1, 10, 17))
    expected = _count_recorded(shared_data, V1, "2025-10-20T05:00:00.000Z", "2026-01-10T17:00:00.000Z")
    # 1,980 hours in the range minus the recorded gap 2025-10-27 13:00Z → 2025-11-16 12:00Z (and a few hours);
    # checked with: sum('2025-10-20T05' <= i['date'] < '2026-01-10T17' for i in <each file>['data']) → 1501
    assert expected == 1501 and len(items) == expected
    dates = [i["date"] for i in items]
    assert dates == sorted(dates) and len(set(dates)) == len(dates)
    assert dates[0] == "2025-10-20T05:00:00.000Z" and dates[-1] == "2026-01-10T16:00:00.000Z"
    body = api.bodies[0]
    assert body["level"] == "segments" and body["format"] == "per-hour" and body["id"] == str(V1)


def test_chunking_five_months(api) -> None:
    start, end = _t(2026, 1, 1), _t(2026, 6, 1)  # 151 days
    client = _client(api)
    default = client.fetch_segment_hours(S2, start, end)
    assert len(api.bodies) == 2  # 90 + 61 days
    monthly = client.fetch_segment_hours(S2, start, end, chunk=dt.timedelta(days=31))
    assert len(api.bodies) == 2 + 5  # 31 × 4 + 27
    assert monthly == default and len(default) > 3000
    windows = [(_parse_api_time(b["time_start"]), _parse_api_time(b["time_end"])) for b in api.bodies[2:]]
    assert windows[0][0] == start and windows[-1][1] == end
    assert all(a[1] == b[0] for a, b in itertools.pairwise(windows))  # contiguous, no gap, no overlap
    assert all(hi - lo <= dt.timedelta(days=31) for lo, hi in windows)


def test_requests_are_spaced(api) -> None:
    _client(api).fetch_segment_hours(S2, _t(2026, 3, 1), _t(2026, 3, 6), chunk=dt.timedelta(days=1))
    gaps = [b - a for a, b in zip(api.arrivals, api.arrivals[1:])]
    assert len(api.arrivals) == 5
    assert min(gaps) >= INTERVAL - 0.01  # server-side arrival times


def test_429_and_503_are_retried(api, shared_data) -> None:
    api.failures = [(429, {"Retry-After": "1"}), (503, {})]
    items = _client(api).fetch_segment_hours(S2, _t(2026, 4, 1), _t(2026, 4, 3))
    assert api.statuses == [429, 503, 200]
    assert len(items) == _count_recorded(shared_data, S2, "2026-04-01", "2026-04-03") == 48
    assert api.arrivals[1] - api.arrivals[0] >= 1.0 - 0.01  # Retry-After honoured
    assert api.arrivals[2] - api.arrivals[1] >= INTERVAL - 0.01


def test_retries_give_up_with_clear_error(api) -> None:
    api.failures = [(503, {})] * 3
    with pytest.raises(TelraamAPIError, match=r"segment 9000010417 .*HTTP 503.*retry later") as err:
        _client(api, max_retries=2).fetch_segment_hours(S2, _t(2026, 4, 1), _t(2026, 4, 2))
    assert err.value.status == 503 and err.value.segment_id == S2 and len(api.arrivals) == 3


def test_wrong_key_is_a_clear_error(api) -> None:
    with pytest.raises(TelraamAPIError) as err:
        _client(api, api_key="wrong").fetch_segment_hours(V1, _t(2026, 3, 1), _t(2026, 3, 2))
    msg = str(err.value)
    assert err.value.status == 403 and "segment 9000008322" in msg and "HTTP 403" in msg
    assert API_KEY_ENV in msg and "wrong" not in msg
    assert len(api.arrivals) == 1  # an auth error is not retried


def test_other_4xx_is_not_retried(api) -> None:
    api.failures = [(400, {})]
    with pytest.raises(TelraamAPIError, match=r"HTTP 400.*time range") as err:
        _client(api).fetch_segment_hours(V1, _t(2026, 3, 1), _t(2026, 3, 2))
    assert err.value.status == 400 and len(api.arrivals) == 1


def test_key_from_env_or_clear_error(api, monkeypatch) -> None:
    monkeypatch.delenv(API_KEY_ENV, raising=False)
    with pytest.raises(TelraamAPIError, match=API_KEY_ENV):
        TelraamClient()
    monkeypatch.setenv(API_KEY_ENV, KEY)
    client = TelraamClient(base_url=api.base_url, min_interval_s=0)
    assert len(client.fetch_segment_hours(S2, _t(2026, 5, 1), _t(2026, 5, 1, 3))) == 3
    assert KEY not in repr(client)


def test_naive_or_reversed_range_refused(api) -> None:
    client = _client(api)
    with pytest.raises(ValueError, match="naive"):
        client.fetch_segment_hours(V1, dt.datetime(2026, 3, 1), _t(2026, 3, 2))
    with pytest.raises(ValueError, match="after start"):
        client.fetch_segment_hours(V1, _t(2026, 3, 2), _t(2026, 3, 1))
    assert api.arrivals == []


def _rows(path: Path) -> pl.DataFrame:
    return read_telraam_json(path).accepted.drop("source_file")


def test_download_reads_back_like_recorded(api, shared_data, tmp_path) -> None:
    out = tmp_path / f"device_{S2}" / "hourly"
    paths = _client(api).download_segment(S2, _t(2026, 2, 1), _t(2026, 5, 1), out)
    assert [p.name for p in paths] == ["2026-02.json", "2026-03.json", "2026-04.json"]
    assert sorted(p.name for p in out.iterdir()) == [p.name for p in paths]  # no temp files left
    for path in paths:
        doc = json.loads(path.read_text(encoding="utf-8"))
        assert set(doc) == {"device_id", "month", "data", "lastUpdated"}
        assert doc["device_id"] == str(S2) and doc["month"] == path.stem
        recorded = _hourly(shared_data, S2) / path.name
        assert doc["data"] == json.loads(recorded.read_text(encoding="utf-8"))["data"]
        assert _rows(path).equals(_rows(recorded))


def test_download_merges_partial_months(api, shared_data, tmp_path) -> None:
    client = _client(api)
    client.download_segment(V1, _t(2026, 3, 1), _t(2026, 3, 16), tmp_path)
    first = json.loads((tmp_path / "2026-03.json").read_text(encoding="utf-8"))["data"]
    paths = client.download_segment(V1, _t(2026, 3, 10), _t(2026, 4, 2), tmp_path)
    assert [p.name for p in paths] == ["2026-03.json", "2026-04.json"]
    march = json.loads((tmp_path / "2026-03.json").read_text(encoding="utf-8"))["data"]
    recorded = json.loads((_hourly(shared_data, V1) / "2026-03.json").read_text(encoding="utf-8"))["data"]
    assert 0 < len(first) < len(march) and march == recorded  # earlier hours kept, overlap not doubled
    assert len(json.loads(paths[1].read_text(encoding="utf-8"))["data"]) == 24


def test_cli_fetch_writes_the_landing_folder(api, shared_data, tmp_path, monkeypatch) -> None:
    from click.testing import CliRunner

    from pipelines.cli import cli

    monkeypatch.setenv(API_KEY_ENV, KEY)
    home = tmp_path / "home"
    res = CliRunner().invoke(cli, ["fetch", "telraam", str(S2), "--from", "2026-02-01", "--to", "2026-04-30",
                                   "--home", str(home), "--base-url", api.base_url])
    assert res.exit_code == 0, res.output
    folder = home / "landing" / "telraam" / f"device_{S2}" / "hourly"
    assert sorted(p.name for p in folder.iterdir()) == ["2026-02.json", "2026-03.json", "2026-04.json"]
    for path in folder.iterdir():
        recorded = _hourly(shared_data, S2) / path.name
        assert json.loads(path.read_text(encoding="utf-8"))["data"] == json.loads(recorded.read_text(encoding="utf-8"))["data"]
    assert "3 month file(s)" in res.output and len(api.bodies) == 1  # 89 days: one request


def test_cli_fetch_without_key_or_with_ingest(api, shared_data, tmp_path, monkeypatch) -> None:
    from click.testing import CliRunner

    from pipelines.cli import cli
    from sensors_io.staging import read_manifest

    monkeypatch.delenv(API_KEY_ENV, raising=False)
    home = tmp_path / "home"
    args = ["fetch", "telraam", str(S2), "--from", "2026-03-02", "--to", "2026-03-03", "--home", str(home),
            "--base-url", api.base_url]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 1 and "TELRAAM_API_KEY" in res.output and not (home / "landing").exists()
    monkeypatch.setenv(API_KEY_ENV, KEY)
    res = CliRunner().invoke(cli, [*args, "--ingest"])
    assert res.exit_code == 0, res.output
    month = home / "landing" / "telraam" / f"device_{S2}" / "hourly" / "2026-03.json"
    expected = read_telraam_json(month)
    # 2 days of hourly items, by hand from the recorded file
    recorded = json.loads((_hourly(shared_data, S2) / "2026-03.json").read_text(encoding="utf-8"))["data"]
    assert len(json.loads(month.read_text(encoding="utf-8"))["data"]) == sum(
        "2026-03-02" <= i["date"][:10] <= "2026-03-03" for i in recorded)
    (entry,) = read_manifest(home / "lake")
    assert entry["files"] == [str(month)] and entry["rows_read"] == expected.rows_read > 0
    assert "Rebuilding counts and quality flags for 2026-03-0" in res.output
