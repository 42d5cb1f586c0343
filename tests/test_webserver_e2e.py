"""End to end through a real Dagster webserver: the location loads, an ingest run launched over GraphQL succeeds."""

import datetime as dt
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import polars as pl
import pytest

from sensors_io.demo_town import generate_demo_town

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.e2e

WORKSPACE = """query { workspaceOrError { ... on Workspace { locationEntries { name loadStatus
  locationOrLoadError { __typename ... on RepositoryLocation { repositories { name jobs { name } } }
  ... on PythonError { message } } } } } }"""
LAUNCH = """mutation Launch($executionParams: ExecutionParams!) { launchRun(executionParams: $executionParams) {
  __typename ... on LaunchRunSuccess { run { runId status } } ... on PythonError { message stack }
  ... on RunConfigValidationInvalid { errors { message } } } }"""
STATUS = "query S($runId: ID!) { runOrError(runId: $runId) { __typename ... on Run { status } } }"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _gql(port: int, query: str, variables: dict | None = None) -> dict:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", method="POST",
                                 data=json.dumps({"query": query, "variables": variables or {}}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        body = json.loads(resp.read())
    assert "errors" not in body, body["errors"]
    return body["data"]


def test_ingest_job_runs_for_one_partition_through_the_webserver(tmp_path: Path) -> None:
    home, dagster_home = tmp_path / "home", tmp_path / "dagster_home"
    town = generate_demo_town(tmp_path / "town", start=dt.date(2025, 3, 10), end=dt.date(2025, 3, 12), seed=5)
    shutil.copytree(town.comptage_dir, home / "landing" / "comptage")
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text(
        "run_coordinator:\n  module: dagster.core.run_coordinator\n  class: DefaultRunCoordinator\n"
        "telemetry:\n  enabled: false\n")
    port = _free_port()
    env = {**os.environ, "DAGSTER_HOME": str(dagster_home), "MOBILITY_HOME": str(home)}
    proc = subprocess.Popen([sys.executable, "-m", "dagster_webserver", "-h", "127.0.0.1", "-p", str(port)],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 300  # a safety limit for a loaded machine, not a performance check
        while True:
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2)
                break
            except OSError:
                assert time.monotonic() < deadline, "webserver did not start in 300 s"
                time.sleep(0.5)
        entries = _gql(port, WORKSPACE)["workspaceOrError"]["locationEntries"]
        [entry] = entries
        assert (entry["name"], entry["loadStatus"]) == ("mobility", "LOADED")
        assert entry["locationOrLoadError"]["__typename"] == "RepositoryLocation"
        jobs = {j["name"] for j in entry["locationOrLoadError"]["repositories"][0]["jobs"]}
        assert {"ingest_job", "analysis_job"} <= jobs

        params = {"selector": {"repositoryLocationName": "mobility", "repositoryName": "__repository__",
                               "jobName": "ingest_job"},
                  "executionMetadata": {"tags": [{"key": "dagster/partition", "value": "2025-03-11"}]},
                  "runConfigData": {}}
        launched = _gql(port, LAUNCH, {"executionParams": params})["launchRun"]
        assert launched["__typename"] == "LaunchRunSuccess", launched
        run_id = launched["run"]["runId"]
        status, deadline = None, time.monotonic() + 600
        while status not in ("SUCCESS", "FAILURE", "CANCELED"):
            assert time.monotonic() < deadline, f"run {run_id} still {status} after 600 s"
            time.sleep(1)
            status = _gql(port, STATUS, {"runId": run_id})["runOrError"]["status"]
        assert status == "SUCCESS"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    # The partition file holds that local day's rows, exactly what the generator wrote.
    counts = pl.read_parquet(home / "lake" / "counts" / "2025-03-11.parquet")
    day = pl.col("start_utc").dt.convert_time_zone("Europe/Paris").dt.date() == dt.date(2025, 3, 11)
    want = town.expected.filter(day & pl.col("sensor_id").str.starts_with("CPT-"))
    assert counts.height == want.height
    assert counts["count"].sum() == want["count"].sum()
    assert (home / "lake" / "clean_counts" / "2025-03-11.parquet").exists()
