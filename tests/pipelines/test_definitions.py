"""The code location loads; jobs, schedule and the landing sensor behave as documented."""

import datetime as dt
import os
import shutil
from pathlib import Path

import dagster as dg
import pytest

import assets
from pipelines.definitions import defs
from pipelines.resources import LakeResource
from pipelines.sensors import landing_sensor

EXPECTED_ASSETS = {
    "sensor_counts", "sensor_sites", "clean_counts", "hourly_counts", "daily_counts", "traffic_indicators", "relative_traffic",
    "baseline_forecast", "forecast_scores", "scenario_forecast", "scenario_report",
    "warehouse_sites", "warehouse_daily_counts", "warehouse_indicators", "warehouse_forecasts",
    "warehouse_forecast_scores", "impact_evaluation", "warehouse_impact",
}


@pytest.fixture(scope="module")
def definitions() -> dg.Definitions:
    return defs()


def test_definitions_load_with_the_whole_graph(definitions: dg.Definitions) -> None:
    dg.Definitions.validate_loadable(definitions)
    keys = {k.to_user_string() for k in definitions.resolve_asset_graph().get_all_asset_keys()}
    assert keys == EXPECTED_ASSETS
    # The generic package names resolve to this repository, not another distribution.
    assert Path(assets.__file__).resolve().parent.parent == Path(__file__).resolve().parent.parent.parent


def test_groups_follow_the_stages(definitions: dg.Definitions) -> None:
    graph = definitions.resolve_asset_graph()
    groups = {k.to_user_string(): graph.get(k).group_name for k in graph.get_all_asset_keys()}
    assert groups["sensor_counts"] == "ingest" and groups["clean_counts"] == "quality"
    assert groups["traffic_indicators"] == "aggregate" and groups["baseline_forecast"] == "forecast"
    assert groups["scenario_forecast"] == "scenarios" and groups["scenario_report"] == "reports"
    assert groups["warehouse_indicators"] == "warehouse"


def test_blocking_checks_guard_the_counts(definitions: dg.Definitions) -> None:
    checks = {(c.asset_key.to_user_string(), c.name): c for c in definitions.resolve_asset_graph().asset_check_keys}
    assert {("sensor_counts", n) for n in ("no_negative_counts", "no_duplicate_rows", "canonical_schema")} <= set(checks)
    assert {("clean_counts", "missing_share"), ("clean_counts", "quality_warnings")} <= set(checks)


def test_daily_schedule_requests_yesterdays_partition(definitions: dg.Definitions) -> None:
    schedule = definitions.resolve_schedule_def("daily_job_schedule")
    assert schedule.cron_schedule == "0 2 * * *"
    ctx = dg.build_schedule_context(scheduled_execution_time=dt.datetime(2025, 1, 3, 2, tzinfo=dt.UTC))
    assert schedule.evaluate_tick(ctx).run_requests[0].partition_key == "2025-01-02"
    # One run for the day, end to end: the gate on clean_counts stops the day's forecasts and reports.
    job = definitions.resolve_job_def("daily_job")
    # its daily partitions are inferred from the partitioned assets it selects (Dagster 1.13 deprecates
    # passing partitions_def to define_asset_job)
    from pipelines.partitions import daily_partitions

    assert job.partitions_def == daily_partitions
    assert {"clean_counts", "baseline_forecast", "scenario_report"} <= {k.to_user_string() for k in job.asset_layer.executable_asset_keys}
    assert definitions.resolve_sensor_def("scenario_catalog_sensor").job_name == "scenario_job"


def test_landing_sensor_ingests_new_files_once(tmp_path: Path) -> None:
    from sensors_io.demo_town import generate_demo_town

    home = tmp_path / "home"
    town = generate_demo_town(tmp_path / "town", start=dt.date(2025, 3, 10), end=dt.date(2025, 3, 11), seed=3)
    shutil.copytree(town.comptage_dir, home / "landing" / "comptage")
    lake = LakeResource(home=str(home))
    first = landing_sensor(dg.build_sensor_context(cursor=None, resources={"lake": lake}))
    assert isinstance(first, dg.SensorResult)
    [request] = first.run_requests
    assert request.tags["dagster/asset_partition_range_start"] == "2025-03-10"
    assert request.tags["dagster/asset_partition_range_end"] == "2025-03-11"
    assert request.run_key.startswith("comptagemobilites_measure_fecamp-demo.csv:")
    second = landing_sensor(dg.build_sensor_context(cursor=first.cursor, resources={"lake": lake}))
    assert isinstance(second, dg.SkipReason)


def test_an_unreadable_landing_file_does_not_stop_the_sensor(tmp_path: Path) -> None:
    from sensors_io.demo_town import generate_demo_town

    home = tmp_path / "home"
    town = generate_demo_town(tmp_path / "town", start=dt.date(2025, 3, 10), end=dt.date(2025, 3, 11), seed=3)
    shutil.copytree(town.comptage_dir, home / "landing" / "comptage")
    (home / "landing" / "unknown.csv").write_text("foo;bar\n1;2\n")
    result = landing_sensor(dg.build_sensor_context(cursor=None, resources={"lake": LakeResource(home=str(home))}))
    assert isinstance(result, dg.SensorResult)
    [request] = result.run_requests  # the good source is still ingested
    assert request.run_key.startswith("comptagemobilites_measure_fecamp-demo.csv:")
    assert os.path.exists(home / "lake" / "staging" / "_manifest.json")


def test_scenario_sensor_keeps_one_partition_per_scenario_file(tmp_path: Path) -> None:
    """Files in <home>/scenarios become partitions; a file added later is also run; a removed one goes."""
    from assets.scenarios import install_catalog
    from pipelines.sensors import scenario_catalog_sensor

    home = tmp_path / "home"
    install_catalog(home)
    lake = LakeResource(home=str(home))
    with dg.instance_for_test() as instance:
        first = scenario_catalog_sensor(dg.build_sensor_context(instance=instance, cursor=None, resources={"lake": lake}))
        [add, delete] = first.dynamic_partitions_requests
        assert sorted(add.partition_keys) == ["bike_lane_entrance", "festival_weekend", "pedestrian_centre",
                                              "roadworks_seafront", "summer_peak"]
        assert list(delete.partition_keys) == [] and first.run_requests == []  # the first tick only registers
        instance.add_dynamic_partitions("scenario", list(add.partition_keys))
        new = home / "scenarios" / "summer_peak_2.yaml"
        new.write_text((home / "scenarios" / "summer_peak.yaml").read_text().replace("name: summer_peak", "name: summer_peak_2"))
        os.utime(new, (new.stat().st_mtime + 10, new.stat().st_mtime + 10))
        (home / "scenarios" / "festival_weekend.yaml").unlink()
        second = scenario_catalog_sensor(dg.build_sensor_context(instance=instance, cursor=first.cursor, resources={"lake": lake}))
        add, delete = second.dynamic_partitions_requests
        assert list(add.partition_keys) == ["summer_peak_2"] and list(delete.partition_keys) == ["festival_weekend"]
        assert [r.partition_key for r in second.run_requests] == ["summer_peak_2"]
