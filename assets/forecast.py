"""Forecast: the baseline model (global Poisson gradient boosting vs weekly seasonal-naive), 7 days ahead."""


import datetime as dt

import dagster as dg
import polars as pl

from assets.aggregate import hourly_counts
from assets.quality import REGISTER_FILE, register
from pipelines.resources import LakeResource
from scenarios.events import TOWN_EVENT_FILES, town_events
from scenarios.forecast import FORECAST_SCHEMA, SCORES_SCHEMA, candidate_models, fit_baseline, save_model

MODEL_FILE = "models/baseline.pkl"
#: The baseline looks one week ahead of the last observed hour.
HORIZON_HOURS = 168


class ForecastConfig(dg.Config):
    """Which candidates compete (set in the launchpad of the Dagster UI, or `mobility forecast --statsmodels`)."""

    statsmodels: bool = False
    """Also fit the statsmodels candidates (MSTL + ETS, UnobservedComponents) per series. Off by default:
    they lost to seasonal-naive on the development weeks (docs/forecasting.md) and cost 0.3–2 s per series
    and backtest origin; they run while there are at most 100 series."""


@dg.multi_asset(
    outs={
        "baseline_forecast": dg.AssetOut(
            io_manager_key="lake_io", group_name="forecast", kinds={"scikitlearn", "parquet"},
            description="Hourly forecasts for the week after the last observed hour, 80 % interval "
                        "(`lake/forecasts/baseline.parquet`, scenario `baseline`)."),
        "forecast_scores": dg.AssetOut(
            io_manager_key="lake_io", group_name="forecast", kinds={"polars", "parquet"},
            description="Backtest scoreboard per series: MASE against weekly seasonal-naive, "
                        "80 % interval coverage, the model shipped."),
    },
    deps=[hourly_counts],
    can_subset=False,
)
def baseline_forecast(context: dg.AssetExecutionContext, config: ForecastConfig, lake: LakeResource):
    """Fit on every hour in the lake, backtest, keep per series the model that beats seasonal-naive."""
    hourly = pl.read_parquet(lake.dataset("hourly") / "*.parquet")
    if hourly["count"].drop_nulls().is_empty():
        # Daily-only sources (e.g. the national schema at time_step 86400) have no hours to model:
        # say so, and let indicators, warehouse and reports still be built.
        (lake.lake / MODEL_FILE).unlink(missing_ok=True)
        note = "no hourly counts in the lake (daily-only sources): nothing to forecast"
        context.log.warning(note)
        yield dg.Output(pl.DataFrame(schema=FORECAST_SCHEMA), output_name="baseline_forecast", metadata={"note": note})
        yield dg.Output(pl.DataFrame(schema=SCORES_SCHEMA), output_name="forecast_scores", metadata={"note": note})
        return
    events = town_events(lake.home_path)  # <home>/events.yaml when the town keeps one
    # <home>/anomalies.yaml: hours it accepts as real but unusual (roadworks, a diversion) are left out
    reg = register(lake)
    model = fit_baseline(hourly, tz=lake.tz, zone=lake.school_zone, events=events, register=reg,
                         models=candidate_models(config.statsmodels))
    save_model(model, lake.lake / MODEL_FILE)
    start = model.cutoff_utc + dt.timedelta(hours=1)
    forecasts = model.predict(start, start + dt.timedelta(hours=HORIZON_HOURS))
    scores = model.scores
    chosen = scores.filter(pl.col("chosen"))
    yield dg.Output(forecasts, output_name="baseline_forecast",
                    metadata={"cutoff_utc": str(model.cutoff_utc), "series": chosen.height,
                              "fit_seconds": round(model.fit_seconds, 1),
                              "event_calendar": events.source if events is not None
                              else f"none (<home>/{TOWN_EVENT_FILES[0]})",
                              "unusual_hours_left_out": model.unusual_hours,
                              "anomaly_register": str(lake.home_path / REGISTER_FILE) if reg is not None
                              else f"none (<home>/{REGISTER_FILE})"})
    yield dg.Output(scores, output_name="forecast_scores",
                    metadata={"mean_mase_chosen": float(chosen["mase"].mean() or 0.0),
                              "models": dg.MetadataValue.json(dict(chosen["model"].value_counts().iter_rows()))})
