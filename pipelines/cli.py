"""The ``mobility`` command: the same graph as the Dagster UI, run in-process from a terminal."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from pipelines.settings import Settings, load_settings

def _user_errors() -> tuple[type[Exception], ...]:
    from scenarios.calendars import CalendarCoverageError
    from scenarios.events import EventFileError
    from scenarios.spec import ScenarioFileError
    from sensors_io.anomalies import RegisterError
    from sensors_io.errors import IngestError

    return IngestError, CalendarCoverageError, ScenarioFileError, EventFileError, RegisterError


#: The synthetic town's exports live beside the landing folder: its truth.json is not sensor data.
DEMO_FOLDER = "demo_town"


#: Files from docs/examples a demo home starts with (a town writes its own): what they are.
DEMO_HOME_FILES = {
    # the demo town's known anomalies (closure, festivals, outage, stuck run), as a town would register them
    "anomalies.yaml": "Anomaly register",
    # its past festivals, for the forecast's calendar
    "events.yaml": "Town event calendar",
}


def install_demo_files(home: Path) -> list[Path]:
    """Copy the demo town's anomaly register and event calendar into ``home`` where they are missing."""
    written = []
    for name in DEMO_HOME_FILES:
        target, example = home / name, Path(__file__).resolve().parent.parent / "docs" / "examples" / name
        if not target.exists() and example.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(example.read_text(encoding="utf-8"), encoding="utf-8")
            written.append(target)
    return written


def demo_sources(folder: Path) -> list[Path]:
    """The export folders of a generated demo town (national schema CSVs, Telraam JSON)."""
    return [folder / "comptage", folder / "telraam"]


def _echo(msg: str) -> None:
    click.echo(msg, err=False)


def _asset_defs():
    import dagster as dg

    import assets

    return dg.load_assets_from_package_module(assets)


def materialize(settings: Settings, selection: list[str] | None, days: tuple[str, str] | None,
                ops_config: dict | None = None, *, partition_key: str | None = None,
                instance=None) -> dict[str, int]:
    """Materialize assets in-process (all, or ``selection``) over the daily partition keys ``days``, or
    the scenario assets for the dynamic partition ``partition_key`` (which is added if missing)."""
    import contextlib

    import dagster as dg

    from pipelines.resources import build_resources

    # The same assets as the code location, with resources bound to this home (not the environment's).
    asset_defs = _asset_defs()
    all_keys = [k for a in asset_defs for k in a.keys]
    keys = [k for k in all_keys if selection is None or k.to_user_string() in selection]
    partitioned = {k for a in asset_defs if a.partitions_def is not None for k in a.keys}
    dynamic = {k: a.partitions_def for a in asset_defs if isinstance(a.partitions_def, dg.DynamicPartitionsDefinition)
               for k in a.keys}
    if partition_key is not None:
        keys = [k for k in keys if k in dynamic]
    else:
        keys = [k for k in keys if k not in dynamic and (days is not None or k not in partitioned)]
    if not keys:
        return {}
    tags = ({"dagster/asset_partition_range_start": days[0], "dagster/asset_partition_range_end": days[1]}
            if days and partition_key is None and partitioned.intersection(keys) else {})
    with contextlib.ExitStack() as stack:
        if instance is None:
            instance = stack.enter_context(dg.DagsterInstance.ephemeral())
        if partition_key is not None:
            for pdef in {dynamic[k].name: dynamic[k] for k in keys}.values():
                if not instance.has_dynamic_partition(pdef.name, partition_key):
                    instance.add_dynamic_partitions(pdef.name, [partition_key])
        result = dg.materialize(
            asset_defs,
            selection=keys,
            instance=instance,
            resources=build_resources(settings),
            tags=tags,
            partition_key=partition_key,
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}, "ops": ops_config or {}},
        )
        failed = [e for e in result.all_events if e.is_step_failure]
        for event in failed:
            err = event.step_failure_data.error
            _echo(f"  ✗ {event.step_key}: {err.message.strip() if err else 'failed'}")
        for ev in (e for e in result.get_asset_check_evaluations() if not e.passed):
            where = f"{ev.check_name} on {ev.asset_key.to_user_string()}"
            if ev.severity == dg.AssetCheckSeverity.WARN:
                _echo(f"  ! check {where}: warning ({_check_summary(ev)})")
            else:
                _echo(f"  ✗ check {where} failed ({_check_summary(ev)})")
        if not result.success:
            raise click.ClickException("the run failed (see above)")
        counts: dict[str, int] = {}
        for ev in result.get_asset_materialization_events():
            name = ev.asset_key.to_user_string()
            counts[name] = counts.get(name, 0) + 1
        return counts


def _check_summary(ev) -> str:
    """A check's metadata in one line (numbers and sensor lists; tables are for the UI)."""
    parts = []
    for k, v in sorted(ev.metadata.items()):
        val = getattr(v, "value", v)
        if isinstance(val, (int, float)) or (isinstance(val, list) and len(val) <= 12):
            parts.append(f"{k}: {val}")
    return "; ".join(parts)


#: Assets that read every scenario's output: built after the scenario partitions.
def _late_assets() -> list[str]:
    return sorted(k.to_user_string() for a in _asset_defs() for k in a.keys
                  if k.to_user_string().startswith("warehouse_") or k.to_user_string() == "scenario_report")


def run_scenarios(settings: Settings, names: list[str], instance=None) -> dict[str, int]:
    """Materialize the scenario partitions ``names`` (one run each)."""
    counts: dict[str, int] = {}
    for name in names:
        _echo(f"  scenario {name} …")
        for k, v in materialize(settings, None, None, partition_key=name, instance=instance).items():
            counts[k] = counts.get(k, 0) + v
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


def _run_all(settings: Settings, days: tuple[str, str] | None = None) -> None:
    import dagster as dg

    from assets.scenarios import catalog_files

    days = days or _partition_days(settings)
    if days is None:
        raise click.ClickException(f"nothing ingested under {settings.home}: run `mobility ingest PATH` first")
    _echo(f"Running the whole graph over {days[0]} → {days[1]} (home: {settings.home})")
    t0 = time.perf_counter()
    late = _late_assets()
    everything = [k.to_user_string() for a in _asset_defs() for k in a.keys]
    with dg.DagsterInstance.ephemeral() as instance:
        counts = materialize(settings, [k for k in everything if k not in late], days, instance=instance)
        counts |= run_scenarios(settings, [p.stem for p in catalog_files(settings.home)], instance)
        counts |= materialize(settings, late, None, instance=instance)
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
    from assets.scenarios import install_catalog

    for f in install_catalog(s.home):
        _echo(f"Scenario: {f}")
    for path in install_demo_files(s.home):
        _echo(f"{DEMO_HOME_FILES[path.name]}: {path}")
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
@click.option("--from", "first", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Rebuild the counts and flags of these days only (default: every ingested day), as the "
                   "daily schedule does for yesterday; the rest of the graph is rebuilt from the whole lake.")
@click.option("--to", "last", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Last day (default: --from).")
def run(home: str | None, first, last) -> None:
    """Materialize the whole graph in-process for whatever has been ingested."""
    s = load_settings(home)
    days = None
    if first or last:
        from pipelines.sensors import clip_to_partitions

        a = (first or last).date()
        b = (last or first).date()
        if b < a:
            raise click.BadParameter(f"--to {b} is before --from {a}")
        days = clip_to_partitions(a, b)
        if days is None:
            raise click.ClickException(f"{a} → {b} is outside the daily partitions (MOBILITY_PARTITIONS_START … yesterday)")
    _run_all(s, days)


@cli.command()
@home_option
@click.option("--lang", type=click.Choice(["fr", "en"]), default="fr", show_default=True)
def report(home: str | None, lang: str) -> None:
    """Write the scenario reports (HTML) from the warehouse."""
    s = load_settings(home)
    materialize(s, ["scenario_report"], None, {"scenario_report": {"config": {"lang": lang}}})
    _echo(f"Reports: {s.reports / ('index.html' if lang == 'fr' else f'index.{lang}.html')}")


@cli.group()
def fetch() -> None:
    """Download counts from a vendor's API into the landing folder (the landing sensor ingests them)."""


@fetch.command("telraam")
@home_option
@click.argument("segment")
@click.option("--from", "first", type=click.DateTime(["%Y-%m-%d"]), required=True, help="First UTC day.")
@click.option("--to", "last", type=click.DateTime(["%Y-%m-%d"]), required=True, help="Last UTC day (included).")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Folder of the monthly JSON files (default: <home>/landing/telraam/device_SEGMENT/hourly).")
@click.option("--ingest/--no-ingest", "then_ingest", default=False, show_default=True,
              help="Ingest the downloaded months at once (otherwise the landing sensor or `mobility ingest` does).")
@click.option("--base-url", default=None, help="API root (default: Telraam's; a test server's for tests).")
def fetch_telraam(home: str | None, segment: str, first, last, out: str | None, then_ingest: bool,
                  base_url: str | None) -> None:
    """Hourly counts of one Telraam segment, key from $TELRAAM_API_KEY; months already there are merged."""
    import datetime as dt

    from sensors_io.telraam_api import DEFAULT_BASE_URL, TelraamAPIError, TelraamClient

    s = load_settings(home)
    start = first.replace(tzinfo=dt.UTC)
    end = last.replace(tzinfo=dt.UTC) + dt.timedelta(days=1)
    if end <= start:
        raise click.BadParameter(f"--to {last:%Y-%m-%d} is before --from {first:%Y-%m-%d}")
    folder = Path(out) if out else s.landing / "telraam" / f"device_{segment}" / "hourly"
    try:
        client = TelraamClient(base_url=base_url or DEFAULT_BASE_URL)
        paths = client.download_segment(segment, start, end, folder)
    except TelraamAPIError as exc:
        raise click.ClickException(str(exc)) from exc
    _echo(f"Telraam segment {segment}: {len(paths)} month file(s) in {folder} "
          f"({client.requests_sent} request(s))")
    for path in paths:
        _echo(f"  {path.name}")
    if then_ingest and paths:
        click.get_current_context().invoke(ingest, home=home, paths=tuple(str(p) for p in paths), fmt="telraam",
                                           mapping=None, tz=None)


@cli.group()
def scenario() -> None:
    """Planning scenarios: YAML files of hypotheses applied to the baseline forecast."""


@scenario.command("list")
@home_option
def scenario_list(home: str | None) -> None:
    """The scenario files: the shipped catalog and the town's own (<home>/scenarios)."""
    from assets.scenarios import catalog_files
    from scenarios.spec import load_scenario

    s = load_settings(home)
    for path in catalog_files(s.home):
        spec = load_scenario(path)
        _echo(f"{spec.name:<24} {spec.period.start} → {spec.period.end}  {spec.title_fr}  ({path})")


@scenario.command("run")
@home_option
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def scenario_run(home: str | None, file: str) -> None:
    """Validate FILE, add it to the town's scenarios (<home>/scenarios/), forecast it and rebuild the
    warehouse and reports: the same as materializing its partition in the Dagster UI."""
    import shutil

    from assets.scenarios import HOME_CATALOG
    from scenarios.spec import ScenarioFileError, load_scenario

    s = load_settings(home)
    src = Path(file)
    spec = load_scenario(src)  # an invalid file stops here, naming the field
    if spec.name != src.stem:
        raise ScenarioFileError(f"{src}: field `name` is {spec.name!r}, expected the file's name {src.stem!r} "
                                "(one scenario per file, named as its file)")
    if not (s.lake / "models").exists():
        raise click.ClickException(f"no baseline forecast under {s.home}: run `mobility run` (or `mobility demo`) first")
    target = s.home / HOME_CATALOG / src.name
    target.parent.mkdir(parents=True, exist_ok=True)
    if src.resolve() != target.resolve():
        shutil.copyfile(src, target)
    t0 = time.perf_counter()
    import dagster as dg

    with dg.DagsterInstance.ephemeral() as instance:
        run_scenarios(s, [spec.name], instance)
        materialize(s, _late_assets(), None, instance=instance)
    _echo(f"  ✓ {spec.name} in {time.perf_counter() - t0:.1f} s. Report: {s.reports / f'{spec.name}.fr.html'}")


def _parse_horizon(text: str) -> int:
    """Hours in a horizon written ``7d``, ``48h`` or ``168``."""
    import re

    m = re.fullmatch(r"\s*(\d+)\s*([dh]?)\s*", text)
    if not m or int(m.group(1)) < 1:
        raise click.BadParameter(f"expected a number of days or hours such as 7d or 48h, got {text!r}")
    return int(m.group(1)) * (24 if m.group(2) == "d" else 1)


@cli.command()
@home_option
@click.option("--cutoff", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Fit on data up to the end of this local day (default: the last observed hour).")
@click.option("--horizon", default="7d", show_default=True, help="How far ahead: 7d, 48h, …")
@click.option("--out", type=click.Path(file_okay=False), default=None, help="Folder for the CSV files (default: <home>/exports).")
@click.option("--statsmodels", "with_stat", is_flag=True, default=False,
              help="Also fit the statsmodels candidates (MSTL + ETS, UnobservedComponents): slower, per series.")
def forecast(home: str | None, cutoff, horizon: str, out: str | None, with_stat: bool) -> None:
    """Forecast every hourly series from whatever has been ingested; write the forecasts and the
    scoreboard as CSV and print the scoreboard (for CI and backtests: with --cutoff in the past, the
    hours after it are the truth to compare with)."""
    import polars as pl

    from scenarios.events import town_events
    from scenarios.forecast import candidate_models, forecast_from_lake
    from sensors_io.aggregate import hourly_totals
    from sensors_io.anomalies import load_register

    s = load_settings(home)
    hours = _parse_horizon(horizon)
    if (s.lake / "hourly").exists():
        hourly = pl.read_parquet(s.lake / "hourly" / "*.parquet")
    elif list((s.lake / "clean_counts").glob("*.parquet")):
        hourly = hourly_totals(pl.scan_parquet(s.lake / "clean_counts" / "*.parquet"), s.tz).collect()
    else:
        raise click.ClickException(f"nothing ingested under {s.home}: run `mobility ingest PATH` first")
    if hourly["count"].drop_nulls().is_empty():
        raise click.ClickException("no hourly counts in the lake (daily-only sources): nothing to forecast")
    day = cutoff.date() if cutoff else None
    t0 = time.perf_counter()
    reg_path = s.home / "anomalies.yaml"  # accepted (real but unusual) hours are left out of the history
    reg = load_register(reg_path, tz=s.tz) if reg_path.exists() else None
    fc, scores = forecast_from_lake(hourly, day, hours, s.tz, s.school_zone, events=town_events(s.home),
                                    register=reg, models=candidate_models(with_stat))
    folder = Path(out) if out else s.home / "exports"
    folder.mkdir(parents=True, exist_ok=True)
    tag = f"{day or 'last'}_{hours}h"
    fc.write_csv(folder / f"forecast_{tag}.csv")
    scores.write_csv(folder / f"forecast_scores_{tag}.csv")
    chosen = scores.filter(pl.col("chosen"))
    _echo(f"{chosen.height} series, cutoff {fc['cutoff_utc'].min() if fc.height else '—'} UTC, {hours} h ahead, "
          f"fitted in {time.perf_counter() - t0:.1f} s")
    _echo(f"backtest: mean MASE {chosen['mase'].mean():.3f} against weekly seasonal-naive, 80 % coverage "
          f"{chosen['coverage80'].mean():.3f}, 95 % coverage {chosen['coverage95'].mean():.3f}")
    for model, n in chosen.group_by("model").len().sort("model").iter_rows():
        _echo(f"  {model:<24} {n:>4} series")
    _echo(f"Forecasts: {folder / f'forecast_{tag}.csv'}")


@cli.command()
@home_option
def impact(home: str | None) -> None:
    """Measure the effect of past interventions (<home>/scenarios/impact/*.yaml) against a counterfactual
    from control sensors, with placebo tests; writes lake/impact and the warehouse table `impact`."""
    import polars as pl

    s = load_settings(home)
    if not (s.lake / "daily").exists():
        raise click.ClickException(f"no daily totals under {s.home}: run `mobility run` (or `mobility demo`) first")
    materialize(s, ["impact_evaluation", "warehouse_impact"], None)
    table = pl.read_parquet(s.lake / "impact" / "impact.parquet")
    if table.is_empty():
        _echo(f"No impact study could be evaluated (files in {s.home / 'scenarios' / 'impact'}).")
        return
    for study in table["study"].unique(maintain_order=True):
        rows = table.filter(pl.col("study") == study)
        e = rows.filter(pl.col("kind") == "effect").row(0, named=True)
        _echo(f"{study}: {e['sensor_id']} ({e['modes']}) {e['start']} → {e['end']}: effect {e['effect']:+,.0f} veh "
              f"({e['effect_pct']:+.1f} %, {e['level']:.0%} interval {e['effect_pct_lower']:+.1f} … {e['effect_pct_upper']:+.1f} %)")
        for r in rows.filter(pl.col("kind") != "effect").iter_rows(named=True):
            lo = r["effect_pct_family_lower"] if r["effect_pct_family_lower"] is not None else r["effect_pct_lower"]
            hi = r["effect_pct_family_upper"] if r["effect_pct_family_upper"] is not None else r["effect_pct_upper"]
            verdict = "shows an effect" if r["shows_effect"] else "no effect"
            _echo(f"    {r['kind']:<16} {r['label']:<34} {r['effect_pct']:+6.1f} % [{lo:+.1f}, {hi:+.1f}] {verdict}")


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
