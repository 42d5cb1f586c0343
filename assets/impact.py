"""Impact of past interventions: a counterfactual from control sensors, the effect with its interval, and
placebo tests beside it (scenarios.impact), for each study file in ``<home>/scenarios/impact/``."""


import dagster as dg
import polars as pl

from assets.aggregate import daily_counts
from pipelines.resources import LakeResource
from scenarios.impact import TABLE_SCHEMA, ImpactDataError, evaluate_impact, load_impact_study

IMPACT_FOLDER = "scenarios/impact"


def study_files(lake: LakeResource) -> list:
    """The impact study files of this home, by name."""
    return sorted((lake.home_path / IMPACT_FOLDER).glob("*.yaml"))


@dg.asset(deps=[daily_counts], io_manager_key="lake_io", group_name="scenarios", kinds={"statsmodels", "parquet"})
def impact_evaluation(context: dg.AssetExecutionContext, lake: LakeResource) -> pl.DataFrame:
    """One row per estimate of each study (`lake/impact/impact.parquet`): the effect of the intervention
    with its 80 % interval, placebo dates and controls (judged together), and leave-one-control-out checks.
    A study the data cannot support (too short a pre-period, a sensor not counted) is reported and skipped."""
    daily = pl.read_parquet(lake.dataset("daily") / "*.parquet")
    tables, skipped = [], {}
    for path in study_files(lake):
        study = load_impact_study(path)
        try:
            result = evaluate_impact(daily, study)
        except ImpactDataError as exc:
            skipped[study.name] = str(exc)
            context.log.warning(f"impact study {study.name} skipped: {exc}")
            continue
        tables.append(result.table())
        for w in result.warnings:
            context.log.warning(f"{study.name}: {w}")
    out = pl.concat(tables) if tables else pl.DataFrame(schema=TABLE_SCHEMA)
    effects = out.filter(pl.col("kind") == "effect")
    context.add_output_metadata({
        "studies": len(tables), "skipped": dg.MetadataValue.json(skipped),
        "effects": dg.MetadataValue.md("\n".join(
            f"- {r['study']}: {r['effect_pct']:+.1f} % [{r['effect_pct_lower']:+.1f}, {r['effect_pct_upper']:+.1f}]"
            for r in effects.iter_rows(named=True)) or "none"),
        "placebos_showing_an_effect": int(out.filter(pl.col("kind").str.starts_with("placebo") & pl.col("shows_effect")).height),
    })
    return out
