"""Staging: idempotent re-ingestion, the dedupe rule (last staged source wins), exact accounting."""

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from pipelines.cli import demo_sources
from sensors_io.demo_town import generate_demo_town
from sensors_io.schema import ROW_KEY
from sensors_io.staging import read_manifest, select_counts, stage_paths

START, END = dt.date(2025, 3, 10), dt.date(2025, 3, 11)
WINDOW = (dt.datetime(2025, 3, 9, 23, tzinfo=dt.UTC), dt.datetime(2025, 3, 11, 23, tzinfo=dt.UTC))


@pytest.fixture(scope="module")
def towns(tmp_path_factory) -> tuple:
    base = tmp_path_factory.mktemp("towns")
    return (generate_demo_town(base / "a", start=START, end=END, seed=1),
            generate_demo_town(base / "b", start=START, end=END, seed=2))


def _expected_in_window(town) -> pl.DataFrame:
    return town.expected.filter(pl.col("start_utc").is_between(*WINDOW, closed="left"))


def test_accounting_holds_and_reingesting_changes_nothing(towns, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    first = stage_paths(demo_sources(towns[0].out_dir), lake)
    assert first.total("rows_read") == first.total("accepted") + first.total("quarantined") + first.total("duplicates")
    assert first.total("accepted") == towns[0].expected.height
    files = sorted(p.name for p in (lake / "staging").glob("*.parquet"))
    again = stage_paths(demo_sources(towns[0].out_dir), lake)
    assert all(s.already_staged for s in again.sources)
    assert again.total("rows_read") == 0
    assert sorted(p.name for p in (lake / "staging").glob("*.parquet")) == files
    assert len(read_manifest(lake)) == len(first.sources)


def test_overlapping_sources_keep_the_one_staged_last(towns, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    stage_paths(demo_sources(towns[0].out_dir), lake)
    stage_paths(demo_sources(towns[1].out_dir), lake)
    counts, duplicates = select_counts(lake, *WINDOW)
    want = _expected_in_window(towns[1])
    assert counts.height == want.height
    assert duplicates == want.height  # every measurement came twice, once per town
    got = counts.select(*ROW_KEY, "count").sort(ROW_KEY[:4])
    exp = want.with_columns(interval_s=pl.lit(3600, pl.Int32)).select(*ROW_KEY, "count").sort(ROW_KEY[:4])
    assert got.equals(exp)
    assert not got.equals(_expected_in_window(towns[0]).with_columns(interval_s=pl.lit(3600, pl.Int32))
                          .select(*ROW_KEY, "count").sort(ROW_KEY[:4]))
