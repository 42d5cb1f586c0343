"""Scenarios: one Dagster partition per scenario file; the baseline over its period and the forecast under
its hypotheses.

A town's scenarios are its files in ``<home>/scenarios/*.yaml``. The project ships the demo town's
catalog in ``scenarios/catalog/`` (``mobility demo`` copies it into the demo's home; see
:func:`install_catalog`). Partitions are dynamic: :func:`pipelines.sensors.scenario_catalog_sensor` adds
one per file (and removes those whose file is gone); ``mobility scenario run FILE`` adds a file and
runs it from a terminal.
"""


import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import polars as pl

from assets.forecast import MODEL_FILE, baseline_forecast
from pipelines.resources import LakeResource
from scenarios.forecast import FORECAST_SCHEMA, load_model
from scenarios.spec import ScenarioFileError, apply_scenario, load_scenario

#: The scenario files shipped with the project (YAML, validated by scenarios.spec).
CATALOG = Path(__file__).resolve().parent.parent / "scenarios" / "catalog"
#: The town's own scenario files, under its home.
HOME_CATALOG = "scenarios"

scenario_partitions = dg.DynamicPartitionsDefinition(name="scenario")


def catalog_files(home: Path | str | None = None) -> list[Path]:
    """Scenario files of a home (``<home>/scenarios/*.yaml``) by name; without a home, the shipped catalog."""
    folder = CATALOG if home is None else Path(home) / HOME_CATALOG
    return sorted(folder.glob("*.yaml"))


def install_catalog(home: Path | str, source: Path = CATALOG) -> list[Path]:
    """Copy the scenario files of ``source`` (the shipped demo catalog, with its ``impact/`` studies) into
    ``<home>/scenarios`` where a file of that name is not there yet (a town's edits are kept); returns the
    files copied."""
    target = Path(home) / HOME_CATALOG
    target.mkdir(parents=True, exist_ok=True)
    copied = []
    for p in sorted([*Path(source).glob("*.yaml"), *Path(source).glob("impact/*.yaml")]):
        dest = target / p.relative_to(source)
        dest.parent.mkdir(parents=True, exist_ok=True)
        if not dest.exists():
            dest.write_bytes(p.read_bytes())
            copied.append(dest)
    return copied


def scenario_file(name: str, home: Path | None = None) -> Path:
    """The file of scenario partition ``name``; ScenarioFileError if no catalog file has that name."""
    for p in catalog_files(home):
        if p.stem == name:
            return p
    known = ", ".join(p.stem for p in catalog_files(home)) or "none"
    raise ScenarioFileError(f"scenario {name!r}: no file {name}.yaml in "
                            f"{CATALOG if home is None else Path(home) / HOME_CATALOG} (known: {known})")


def local_period_utc(start: dt.date, end: dt.date, tz: str) -> tuple[dt.datetime, dt.datetime]:
    """``[start 00:00, end + 1 day 00:00)`` local, in UTC."""
    zone = ZoneInfo(tz)
    a = dt.datetime.combine(start, dt.time(), zone).astimezone(dt.UTC)
    b = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), zone).astimezone(dt.UTC)
    return a, b


@dg.asset(partitions_def=scenario_partitions, deps=[baseline_forecast], io_manager_key="lake_io",
          group_name="scenarios", kinds={"polars", "parquet"})
def scenario_forecast(context: dg.AssetExecutionContext, lake: LakeResource) -> pl.DataFrame:
    """One scenario (the partition): the baseline over its period (`scenario` = `baseline`) and the
    forecast under its hypotheses (`scenario` = its name), in the forecasts contract
    (`lake/forecasts/scenarios/<name>.parquet`)."""
    name = context.partition_key
    spec = load_scenario(scenario_file(name, lake.home))
    if spec.name != name:
        raise ScenarioFileError(f"{scenario_file(name, lake.home)}: field `name` is {spec.name!r}, expected the file's "
                                f"name {name!r} (one scenario per file, named as its file)")
    if not (lake.lake / MODEL_FILE).exists():
        context.add_output_metadata({"note": "no baseline model (no hourly counts): no scenario forecast"})
        return pl.DataFrame(schema=FORECAST_SCHEMA)
    model = load_model(lake.lake / MODEL_FILE)
    start, end = local_period_utc(spec.period.start, spec.period.end, lake.tz)
    base = model.predict(start, end)
    scen = apply_scenario(base, spec, tz=lake.tz)
    out = pl.concat([base, scen.select(base.columns)]).unique(maintain_order=True)
    total = {s: float(out.filter(pl.col("scenario") == s)["yhat"].sum()) for s in ("baseline", spec.name)}
    context.add_output_metadata({
        "scenario": spec.name, "period": f"{spec.period.start} → {spec.period.end}",
        "hypotheses": len(spec.hypotheses) if hasattr(spec, "hypotheses") else 0,
        "baseline_total": round(total["baseline"], 1), "scenario_total": round(total[spec.name], 1),
    })
    return out
