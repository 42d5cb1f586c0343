"""The ``mobility`` command: the same graph as the Dagster UI, run in-process from a terminal."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from pipelines.settings import Settings, load_settings

def _user_errors() -> tuple[type[Exception], ...]:
    from scenarios.calendars import CalendarCoverageError
    from scenarios.spec import ScenarioFileError
    from sensors_io.errors import IngestError

    return IngestError, CalendarCoverageError, ScenarioFileError


#: The synthetic town's exports live beside the landing folder: its truth.json is not sensor data.
DEMO_FOLDER = "demo_town"


def demo_sources(folder: Path) -> list[Path]:
    """The export folders of a generated demo town (national schema CSVs, Telraam JSON)."""
    return [folder / "comptage", folder / "telraam"]


def _echo(msg: str) -> None:
    click.echo(msg, err=False)


def materialize(settings: Settings, selection: list[str] | None, days: tuple[str, str] | None,
                ops_config: dict | None = None) -> dict[str, int]:
    """Materialize assets in-process (all, or ``selection``) over the partition keys ``days``."""
    import dagster as dg

    import assets
    from pipelines.resources import build_resources

    # The same assets as the code location, with resources bound to this home (not the environment's).
    asset_defs = dg.load_assets_from_package_module(assets)
    all_keys = [k for a in asset_defs for k in a.keys]
    keys = [k for k in all_keys if selection is None or k.to_user_string() in selection]
    partitioned = {k for a in asset_defs if a.partitions_def is not None for k in a.keys}
    if days is None:
        keys = [k for k in keys if k not in partitioned]
    tags = ({"dagster/asset_partition_range_start": days[0], "dagster/asset_partition_range_end": days[1]}
            if days and partitioned.intersection(keys) else {})
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(
            asset_defs,
            selection=keys,
            instance=instance,
            resources=build_resources(settings),
            tags=tags,
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}, "ops": ops_config or {}},
        )
        failed = [e for e in result.all_events if e.is_step_failure]
        for event in failed:
            err = event.step_failure_data.error
            _echo(f"  ✗ {event.step_key}: {err.message.strip() if err else 'failed'}")
        checks = [e for e in result.get_asset_check_evaluations() if not e.passed]
        for ev in checks:
            _echo(f"  ✗ check {ev.check_name} on {ev.asset_key.to_user_string()} failed")
        if not result.success:
            raise click.ClickException("the run failed (see above)")
        counts: dict[str, int] = {}
        for ev in result.get_asset_materialization_events():
            name = ev.asset_key.to_user_string()
            counts[name] = counts.get(name, 0) + 1
        return counts


def _partition_days(settings: Settings) -> tuple[str, str] | None:
    from pipelines.sensors import clip_to_partitions
    from sensors_io.staging import staged_day_range

    span = staged_day_range(settings.lake)
    return clip_to_partitions(*span) if span else None


#: Above this many sources, the accounting prints one line per folder and format instead.
MAX_SOURCE_LINES = 15


def _source_label(files: list[str]) -> str:
    """The file name, with its folder when that tells files apart (Telraam: device_…/hourly/2025-01.json)."""
    p = Path(files[0])
    return str(Path(*p.parts[-3:])) if p.parent.name == "hourly" else p.name


def _print_accounting(report) -> None:
    """One line per source (or per folder and format when there are many), errors always in full."""
    _echo(f"{'source':<60} {'format':<16} {'read':>9} {'accepted':>9} {'quarant.':>9} {'dupl.':>7}")
    fresh = [s for s in report.sources if not s.error and not s.already_staged]
    old = [s for s in report.sources if s.already_staged]
    for s in report.sources:
        if s.error:
            _echo(f"{_source_label(s.files):<60} ERROR: {s.error}")
    if len(fresh) <= MAX_SOURCE_LINES:
        for s in fresh:
            _echo(f"{_source_label(s.files):<60} {s.format:<16} {s.rows_read:>9} {s.accepted:>9} "
                  f"{s.quarantined:>9} {s.duplicates:>7}")
    else:
        groups: dict[tuple[str, str], list] = {}
        for s in fresh:
            folder = Path(s.files[0]).parent
            folder = folder.parent.parent if folder.name == "hourly" else folder  # Telraam: all devices together
            groups.setdefault((str(folder.name), s.format), []).append(s)
        for (folder, fmt), items in sorted(groups.items()):
            label = f"{folder}/ ({len(items)} sources)"
            _echo(f"{label:<60} {fmt:<16} {sum(i.rows_read for i in items):>9} {sum(i.accepted for i in items):>9} "
                  f"{sum(i.quarantined for i in items):>9} {sum(i.duplicates for i in items):>7}")
    if old:
        _echo(f"{len(old)} source(s) already ingested: nothing changes for them")
    t = report.total
    _echo(f"{'total (new sources)':<60} {'':<16} {t('rows_read'):>9} {t('accepted'):>9} {t('quarantined'):>9} {t('duplicates'):>7}")
    ok = t("rows_read") == t("accepted") + t("quarantined") + t("duplicates")
    _echo(f"rows read = accepted + quarantined + duplicates: {'holds' if ok else 'DOES NOT HOLD'}")


def _run_all(settings: Settings) -> None:
    days = _partition_days(settings)
    if days is None:
        raise click.ClickException(f"nothing ingested under {settings.home}: run `mobility ingest PATH` first")
    _echo(f"Running the whole graph over {days[0]} → {days[1]} (home: {settings.home})")
    t0 = time.perf_counter()
    counts = materialize(settings, None, days)
    _echo(f"  ✓ {len(counts)} assets materialized in {time.perf_counter() - t0:.1f} s")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Mobility-sensor analytics: ingest street counts, compute indicators, forecast, build scenarios."""


def home_option(f):
    return click.option("--home", type=click.Path(file_okay=False), default=None,
                        help="Home folder (default: $MOBILITY_HOME, else ./mobility_home).")(f)


@cli.command()
@home_option
@click.option("--seed", default=76400, show_default=True, help="Seed of the synthetic town.")
def demo(home: str | None, seed: int) -> None:
    """Build the synthetic demo town (Fécamp-like), ingest it and run everything."""
    from sensors_io.demo_town import generate_demo_town
    from sensors_io.staging import stage_paths

    s = load_settings(home)
    target = s.home / DEMO_FOLDER
    t0 = time.perf_counter()
    if not (target / "truth.json").exists():
        _echo(f"Generating the synthetic demo town into {target} …")
        generate_demo_town(target, seed=seed)
    _echo(f"Ingesting {target} …")
    report = stage_paths(demo_sources(target), s.lake, tz=s.tz)
    _print_accounting(report)
    _run_all(s)
    _echo(f"Done in {time.perf_counter() - t0:.1f} s. Reports: {s.reports / 'index.html'}")


@cli.command()
@home_option
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--format", "fmt", default=None, help="Skip auto-detection and read every file with this reader.")
@click.option("--mapping", type=click.Path(exists=True, dir_okay=False), default=None,
              help="A YAML mapping file for a CSV layout the readers do not know (see the README).")
@click.option("--tz", default=None,
              help="Time zone of naive timestamps (default: the town's, Europe/Paris; the UCI file: America/Chicago).")
def ingest(home: str | None, paths: tuple[str, ...], fmt: str | None, mapping: str | None, tz: str | None) -> None:
    """Read sensor exports (files or folders) into the lake, then rebuild the days they cover."""
    from sensors_io.staging import stage_paths

    s = load_settings(home)
    if mapping:
        if fmt:
            raise click.UsageError("use either --format NAME or --mapping FILE, not both")
        from sensors_io.staging import mapped_sources, stage_sources

        report = stage_sources(mapped_sources([Path(p) for p in paths], Path(mapping), tz), s.lake, tz=s.tz)
    else:
        report = stage_paths([Path(p) for p in paths], s.lake, tz=s.tz, fmt=fmt, naive_tz=tz)
    _print_accounting(report)
    from pipelines.jobs import INGEST_ASSETS
    from pipelines.sensors import clip_to_partitions

    span = report.day_range()
    keys = clip_to_partitions(*span) if span else None
    if span and keys is None:
        from pipelines.partitions import daily_partitions

        raise click.ClickException(
            f"the data covers {span[0]} → {span[1]}, outside the daily partitions (from "
            f"{daily_partitions.start:%Y-%m-%d} to yesterday): set MOBILITY_PARTITIONS_START to an earlier date"
            " and run the command again (what was read is kept)")
    if keys:
        _echo(f"Rebuilding counts and quality flags for {keys[0]} → {keys[1]} …")
        materialize(s, INGEST_ASSETS, keys)
    if report.errors:
        raise click.ClickException(f"{len(report.errors)} source(s) could not be read (see above)")


@cli.command()
@home_option
def run(home: str | None) -> None:
    """Materialize the whole graph in-process for whatever has been ingested."""
    _run_all(load_settings(home))


@cli.command()
@home_option
@click.option("--lang", type=click.Choice(["fr", "en"]), default="fr", show_default=True)
def report(home: str | None, lang: str) -> None:
    """Write the scenario reports (HTML) from the warehouse."""
    s = load_settings(home)
    materialize(s, ["scenario_report"], None, {"scenario_report": {"config": {"lang": lang}}})
    _echo(f"Reports: {s.reports / ('index.html' if lang == 'fr' else f'index.{lang}.html')}")


@cli.command()
@home_option
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Folder to write to (default: <home>/exports).")
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), default="csv", show_default=True)
@click.option("--table", "tables", multiple=True,
              help="A warehouse table to export (repeatable; default: every table).")
def export(home: str | None, out: str | None, fmt: str, tables: tuple[str, ...]) -> None:
    """Write the warehouse tables as CSV (UTF-8, comma) or Parquet files, one per table."""
    import sqlalchemy as sa

    from warehouse.engine import make_engine, warehouse_url
    from warehouse.io import read_frame
    from warehouse.models import metadata

    s = load_settings(home)
    known = [t.name for t in metadata.sorted_tables]
    unknown = [t for t in tables if t not in known]
    if unknown:
        raise click.UsageError(f"unknown table {unknown[0]!r}: expected one of {', '.join(known)}")
    engine = make_engine(warehouse_url(s.home))
    present = set(sa.inspect(engine).get_table_names())
    chosen = [t for t in (tables or known) if t in present]
    if not chosen:
        raise click.ClickException(f"the warehouse of {s.home} has no tables yet: run `mobility run` first")
    folder = Path(out) if out else s.home / "exports"
    folder.mkdir(parents=True, exist_ok=True)
    for table in chosen:
        frame = read_frame(engine, table)
        target = folder / f"{table}.{fmt}"
        tmp = target.with_name(f".{target.name}.tmp")
        if fmt == "csv":
            frame.write_csv(tmp)
        else:
            frame.write_parquet(tmp)
        tmp.replace(target)
        _echo(f"  {table:<18} {frame.height:>9} rows → {target}")
    engine.dispose()


def main() -> None:
    """Entry point: user errors print one clear message and exit 2."""
    import warnings

    from dagster_shared.utils.warnings import BetaWarning

    # backfill_policy is beta in Dagster 1.13: a warning for developers, noise for a terminal user.
    warnings.filterwarnings("ignore", category=BetaWarning)
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except _user_errors() as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
