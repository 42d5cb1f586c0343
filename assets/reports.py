"""Reports: one self-contained HTML page per catalog scenario, and an index, from the warehouse tables."""

import datetime as dt
import hashlib

import dagster as dg
import polars as pl
from pydantic import Field

from assets.impact import study_files
from assets.scenarios import catalog_files
from assets.warehouse import warehouse_tables
from pipelines.resources import LakeResource
from scenarios.report import (
    ReportData,
    render_index,
    report_frames,
    render_scenario_report,
    write_chart_csv,
    write_report,
)
from scenarios.deltas import compare_scenarios, indicator_deltas, mass_balance, saturation_table
from scenarios.impact import IMPACT_UNITS, ImpactFileError, load_impact_study
from scenarios.spec import load_scenario
from sensors_io.staging import read_manifest
from warehouse.resource import WarehouseResource

#: Marks the demo town's sites (sensors_io.demo_town): reports built on them say the data is synthetic.
SYNTHETIC_MARK = "synthétiques"


class ReportConfig(dg.Config):
    """Run-time knobs of the reports."""

    lang: str = Field(default="fr", description="Language of the reports: fr (default) or en.")


def input_hash(lake: LakeResource) -> str:
    """SHA-256 over the content keys of every ingested source: same inputs, same hash."""
    keys = sorted(e["key"] for e in read_manifest(lake.lake))
    return hashlib.sha256("\n".join(keys).encode()).hexdigest()[:16]


def _scenario_sections(spec, base: pl.DataFrame, scen: pl.DataFrame, tz: str) -> dict:
    """Indicator deltas, hours above saturation and the mass balance of one scenario (None when they do not apply)."""
    if base.is_empty() or scen.is_empty():
        return {}
    balance = mass_balance(spec, base, scen, tz)
    return {
        "indicator_deltas": indicator_deltas(base, scen, spec, tz),
        "saturation": saturation_table(base, scen, spec, tz) if not spec.capacities().is_empty() else None,
        "mass_balance": balance if not balance.is_empty() else None,
    }


def _impact_titles(lake: LakeResource) -> pl.DataFrame:
    """Each impact study's title in both languages (a file that does not load is left out: the impact
    asset already said why)."""
    rows = []
    for path in study_files(lake):
        try:
            s = load_impact_study(path)
        except ImpactFileError:
            continue
        rows.append({"study": s.name, "title_fr": s.title_fr, "title_en": s.title_en})
    return pl.DataFrame(rows, schema={"study": pl.String, "title_fr": pl.String, "title_en": pl.String})


def _impact_sections(impact: pl.DataFrame, spec, titles: pl.DataFrame | None = None) -> dict:
    """The measured effect of past interventions on this scenario's sensors, with their placebos, on the
    treated series' scale (a placebo's relative effect × the effect's counterfactual); each row names its
    study (``title_fr`` / ``title_en`` from ``titles``) and the effect its intervention's dates."""
    effects = impact.filter((pl.col("kind") == "effect") & pl.col("sensor_id").is_in(spec.sensor_ids()))
    if effects.is_empty():
        return {}
    if titles is None:
        titles = pl.DataFrame(schema={"study": pl.String, "title_fr": pl.String, "title_en": pl.String})
    studies = effects["study"].to_list()
    cf = dict(effects.select("study", "counterfactual").iter_rows())
    placebos = impact.filter(pl.col("study").is_in(studies) & pl.col("kind").str.starts_with("placebo"))
    scale = pl.col("study").replace_strict(cf, return_dtype=pl.Float64) / 100.0
    unit = pl.col("modes").replace_strict(IMPACT_UNITS, default="veh", return_dtype=pl.String)
    return {
        "impact": effects.sort("study").join(titles, on="study", how="left", maintain_order="left").select(
            "study", "title_fr", "title_en", "start", "end",
            "sensor_id", mode=pl.col("modes"), direction=pl.lit("all"), unit=unit, effect="effect",
            lower="effect_lower", upper="effect_upper", effect_pct="effect_pct"),
        "impact_placebos": placebos.sort("study", "kind", "label").join(
            titles, on="study", how="left", maintain_order="left").select(
            "study", "title_fr", "title_en",
            "sensor_id", mode=pl.col("modes"), direction=pl.lit("all"), placebo="label",
            effect=pl.col("effect_pct") * scale, lower=pl.col("effect_pct_family_lower") * scale,
            upper=pl.col("effect_pct_family_upper") * scale),
    }


def _compare_md(tmj: pl.DataFrame, names: list[str]) -> str:
    """Mean daily traffic per sensor and mode, each scenario's change in %, as a Markdown table."""
    cols = [n for n in names if f"{n}_delta_pct" in tmj.columns]
    lines = ["| sensor | mode | " + " | ".join(cols) + " |", "|---|---|" + "---|" * len(cols)]
    for r in tmj.iter_rows(named=True):
        cells = [("" if r[f"{n}_delta_pct"] is None else f"{r[f'{n}_delta_pct']:+.1f} %") for n in cols]
        lines.append(f"| {r['sensor_id']} | {r['mode']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _quality(daily: pl.DataFrame) -> pl.DataFrame:
    """Per series: days in the warehouse, valid days, coverage and the imputed share of the volume."""
    from sensors_io.aggregate import exact_sum

    return (
        daily.group_by("sensor_id", "mode", "direction")
        .agg(days=pl.len(), valid_days=pl.col("is_valid_day").sum(),
             _filled=exact_sum(pl.col("count_filled")), _measured=exact_sum(pl.col("count")))
        .with_columns(coverage=pl.col("valid_days") / pl.col("days"),
                      imputed_share=pl.when(pl.col("_filled") > 0)
                      .then(((pl.col("_filled") - pl.col("_measured")) / pl.col("_filled")).clip(0.0, 1.0)))
        .drop("_filled", "_measured")
        .sort("sensor_id", "mode", "direction")
    )


@dg.asset(deps=sorted(warehouse_tables.keys, key=str), group_name="reports", kinds={"html"})
def scenario_report(context: dg.AssetExecutionContext, config: ReportConfig, lake: LakeResource,
                    warehouse: WarehouseResource) -> dg.MaterializeResult:
    """HTML reports for urbanists in `<home>/reports/` (French by default), built from the warehouse tables
    so the figures are those the warehouse serves; the numbers behind each chart are written as CSV."""
    lang = config.lang
    forecasts = warehouse.read("forecasts")
    sites = warehouse.read("sites")
    daily = warehouse.read("daily_counts")
    common = dict(
        indicators=warehouse.read("indicators"),
        sites=sites,
        scores=warehouse.read("forecast_scores"),
        input_hash=input_hash(lake),
        generated_at=dt.datetime.now(dt.UTC).replace(microsecond=0),
        synthetic=bool(sites["site_name"].str.contains(SYNTHETIC_MARK).any()),
        sensor_sites=daily.select("sensor_id", "site_id").unique().sort("sensor_id"),
    )
    quality = _quality(daily)
    impact = warehouse.read("impact")
    titles = _impact_titles(lake)
    written, specs = [], []
    for path in catalog_files(lake.home):
        spec = load_scenario(path)
        specs.append(spec)
        start, end = spec.period.start, spec.period.end
        local_day = pl.col("start_utc").dt.convert_time_zone(lake.tz).dt.date()
        in_period = forecasts.filter(local_day.is_between(start, end))
        base = in_period.filter(pl.col("scenario") == "baseline")
        scen = in_period.filter(pl.col("scenario") == spec.name)
        data = ReportData(spec=spec, baseline=base, scenario=scen, tz=lake.tz, quality=quality,
                          **_scenario_sections(spec, base, scen, lake.tz), **_impact_sections(impact, spec, titles), **common)
        html = render_scenario_report(data, lang=lang)
        target = lake.reports / f"{spec.name}.{lang}.html"
        write_report(html, target)
        write_chart_csv(report_frames(data), lake.reports / "data" / spec.name)
        written.append(target)
    # Every scenario side by side (each against the baseline over its own hours), for the index's readers.
    all_base = forecasts.filter(pl.col("scenario") == "baseline")
    frames = [forecasts.filter(pl.col("scenario") == sp.name) for sp in specs]
    frames = [f for f in frames if not f.is_empty()]
    comparison = compare_scenarios(all_base, frames, specs, lake.tz) if frames else None
    if comparison is not None:
        write_chart_csv({"scenarios_compared": comparison}, lake.reports / "data")
    index = lake.reports / ("index.html" if lang == "fr" else f"index.{lang}.html")
    write_report(render_index(specs, lang, input_hash=common["input_hash"], generated_at=common["generated_at"],
                              synthetic=common["synthetic"], tz=lake.tz), index)
    written.append(index)
    compared = {}
    if comparison is not None:
        tmj = comparison.filter((pl.col("indicator") == "tmj") & (pl.col("direction") == "all"))
        compared = {"scenarios_compared": dg.MetadataValue.md(_compare_md(tmj, [sp.name for sp in specs]))}
    return dg.MaterializeResult(metadata={**compared,
                                          "reports": dg.MetadataValue.md("\n".join(f"- `{p}`" for p in written)),
                                          "lang": lang})
