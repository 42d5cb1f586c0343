"""The landing-folder sensor: files dropped in ``<home>/landing/`` are ingested into their days.

Cursor = the newest modification time seen; each new source gives one run of ``ingest_job`` over
the local days it covers, with ``run_key = "<file>:<mtime>"`` so a replayed tick requests nothing new.
The sensor reads (stages) each new source once to learn its days; the run then reuses the staged rows.
"""


import datetime as dt
from pathlib import Path

import dagster as dg

from pipelines.jobs import ingest_job, scenario_job
from pipelines.partitions import daily_partitions
from pipelines.resources import LakeResource
from sensors_io.staging import discover_tolerant, stage_sources

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"


def _mtime(path: Path) -> float:
    return path.stat().st_mtime


def clip_to_partitions(first: dt.date, last: dt.date, current_time: dt.datetime | None = None) -> tuple[str, str] | None:
    """The partition keys ``[first, last]`` that exist (the last key is yesterday), or None."""
    keys = daily_partitions.get_partition_keys(current_time=current_time)
    if not keys:
        return None
    a, b = max(first.isoformat(), keys[0]), min(last.isoformat(), keys[-1])
    return (a, b) if a <= b else None


@dg.sensor(job=ingest_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.STOPPED)
def landing_sensor(context: dg.SensorEvaluationContext, lake: LakeResource):
    """Ingest files newly dropped in the landing folder."""
    cursor = float(context.cursor or 0.0)
    if not lake.landing.is_dir():
        return dg.SkipReason(f"no landing folder at {lake.landing}")
    found, failed = discover_tolerant([lake.landing])
    for f in failed:  # one unreadable file must not stop every tick: say it, ingest the rest
        if _mtime(Path(f.files[0])) > cursor:
            context.log.warning(f.error)
    sources = [s for s in found if max(_mtime(Path(f)) for f in s.files) > cursor]
    if not sources:
        return dg.SkipReason("no new file in the landing folder")
    report = stage_sources(sources, lake.lake, lake.tz)
    requests = []
    for src, rep in zip(sources, report.sources):
        mtime = max(_mtime(Path(f)) for f in src.files)
        if rep.error or not rep.first_day:
            context.log.warning(f"{rep.files[0]}: {rep.error or 'no rows'}")
            continue
        keys = clip_to_partitions(dt.date.fromisoformat(rep.first_day), dt.date.fromisoformat(rep.last_day))
        if keys is None:
            continue
        requests.append(dg.RunRequest(run_key=f"{Path(src.files[0]).name}:{mtime}",
                                      tags={RANGE_START: keys[0], RANGE_END: keys[1]}))
    newest = max(max(_mtime(Path(f)) for f in s.files) for s in sources)
    return dg.SensorResult(run_requests=requests, cursor=str(newest))


@dg.sensor(job=scenario_job, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING)
def scenario_catalog_sensor(context: dg.SensorEvaluationContext, lake: LakeResource):
    """One partition per scenario file (shipped catalog + ``<home>/scenarios``): added when a file
    appears, removed when it goes; a file added or edited after the first tick is run."""
    from assets.scenarios import catalog_files, scenario_partitions

    files = {p.stem: p for p in catalog_files(Path(lake.home))}
    known = set(context.instance.get_dynamic_partitions(scenario_partitions.name))
    cursor = float(context.cursor) if context.cursor else None
    changed = [n for n, p in files.items() if cursor is not None and _mtime(p) > cursor]
    requests = [dg.RunRequest(run_key=f"{n}:{_mtime(files[n])}", partition_key=n) for n in sorted(changed)]
    newest = max((_mtime(p) for p in files.values()), default=cursor or 0.0)
    return dg.SensorResult(
        run_requests=requests,
        cursor=str(max(newest, cursor or 0.0)),
        dynamic_partitions_requests=[
            scenario_partitions.build_add_request(sorted(set(files) - known)),
            scenario_partitions.build_delete_request(sorted(known - set(files))),
        ],
    )
