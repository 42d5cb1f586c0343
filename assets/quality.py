"""Quality: a flag on every value, gap filling that says so, and the gates that stop broken data.

``clean_counts`` flags every row (observed, zero, suspect, imputed, missing, excluded — with the reason
or the imputation method, docs/quality.md), respecting the anomaly register ``<home>/anomalies.yaml``
when it exists, with the 60 days before the run as history for the trailing windows.

Checks on ``clean_counts``:

- ``missing_share`` (**blocking**): no more than ``max_missing_share`` of the run's rows may lack a
  measured value. The daily schedule runs one day (the partition): a broken feed, an export cut short,
  stops that day's totals, indicators, forecasts, scenarios, warehouse and reports; a backfill over a
  range is judged as a whole (days with outages inside it are flagged, filled or left out by the
  quality rules, and listed by ``days_missing``). Periods in the register, and hours not measured by
  design (a Telraam camera at night or at dawn and dusk, :data:`BY_DESIGN`), do not count. Its metadata
  names the days, their missing rows and the sensors. Register the period (``exclude`` or ``accept``)
  or fix the source, then run again.
- ``days_missing`` (warning): days of the run above ``max_missing_share`` on their own.
- ``series_missing`` (warning): series that miss more than ``max_missing_share`` of a day on their own (a
  sensor down for a day, a daytime zero run), with how many rows.
- ``quality_warnings`` (warning): how many rows are suspect (outliers, DST duplicates) or excluded, by
  reason and sensor.
"""


import datetime as dt

import dagster as dg
import polars as pl
from pydantic import Field

from pipelines.partitions import daily_partitions
from pipelines.resources import LakeResource
from sensors_io.anomalies import load_register, match_register
from sensors_io.quality import flag_counts
from sensors_io.schema import SERIES_KEY

#: The town's anomaly register, under its home (format: docs/examples/anomalies.yaml).
REGISTER_FILE = "anomalies.yaml"
HISTORY_DAYS = 60
MISSING_SHARE = "missing_share"
SERIES_MISSING = "series_missing"
DAYS_MISSING = "days_missing"
QUALITY_WARNINGS = "quality_warnings"
#: Hours not measured by design: they are not "missing" for the gate (a Telraam camera at night, in
#: night mode, or at dawn and dusk with too little light — reported by ``quality_warnings`` instead).
BY_DESIGN = ("no_uptime", "unclassified", "low_uptime")


class CleanConfig(dg.Config):
    """Thresholds of the quality gate."""

    max_missing_share: float = Field(
        default=0.5, ge=0.0, le=1.0,
        description="Blocking: the largest share of the run's rows (all series; one day for the daily schedule) "
                    "that may lack a measured value; a day or a series above it on its own is a warning.")


def register(lake: LakeResource) -> pl.DataFrame | None:
    """The anomaly register of this home, or None when it has none (RegisterError when unreadable)."""
    path = lake.home_path / REGISTER_FILE
    return load_register(path, tz=lake.tz) if path.exists() else None


def _history(lake: LakeResource, first_day: dt.date) -> pl.LazyFrame | None:
    """Canonical counts of the ``HISTORY_DAYS`` partitions before ``first_day`` that are in the lake."""
    folder = lake.dataset("counts")
    days = [first_day - dt.timedelta(days=i) for i in range(HISTORY_DAYS, 0, -1)]
    files = [folder / f"{d.isoformat()}.parquet" for d in days]
    files = [str(f) for f in files if f.exists()]
    return pl.scan_parquet(files, missing_columns="insert", extra_columns="ignore") if files else None


def missing_by_day(clean: pl.DataFrame, reg: pl.DataFrame | None, tz: str) -> pl.DataFrame:
    """Per series and local day: rows, rows without a measured value, and their share (register periods
    and by-design hours left out)."""
    lf = match_register(clean.lazy().select(*SERIES_KEY, "start_utc", "count_clean", "flag_reason"), reg)
    by_design = pl.col("flag_reason").is_in(list(BY_DESIGN)).fill_null(False)
    return (
        lf.filter(pl.col("register_action").is_null() & ~by_design)
        .with_columns(day=pl.col("start_utc").dt.convert_time_zone(tz).dt.date())
        .group_by([*SERIES_KEY, "day"])
        .agg(rows=pl.len().cast(pl.Int64), missing=pl.col("count_clean").is_null().sum().cast(pl.Int64))
        .with_columns(share=pl.col("missing") / pl.col("rows"))
        .sort(["share", *SERIES_KEY, "day"], descending=[True, False, False, False, False])
        .collect()
    )


def _md(frame: pl.DataFrame, limit: int = 20) -> str:
    cols = frame.columns
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in frame.head(limit).iter_rows():
        lines.append("| " + " | ".join(f"{v:.3f}" if isinstance(v, float) else str(v) for v in row) + " |")
    if frame.height > limit:
        lines.append(f"\n… and {frame.height - limit} more")
    return "\n".join(lines)


@dg.asset(
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    io_manager_key="lake_io",
    group_name="quality",
    kinds={"polars", "parquet"},
    check_specs=[
        dg.AssetCheckSpec(MISSING_SHARE, asset="clean_counts", blocking=True,
                          description="The run misses no more than max_missing_share of its rows (register periods excepted)."),
        dg.AssetCheckSpec(DAYS_MISSING, asset="clean_counts",
                          description="Days missing more than max_missing_share of their rows (warning)."),
        dg.AssetCheckSpec(SERIES_MISSING, asset="clean_counts",
                          description="Series missing more than max_missing_share of a day on their own (warning)."),
        dg.AssetCheckSpec(QUALITY_WARNINGS, asset="clean_counts",
                          description="Suspect and excluded rows by reason and sensor (warning)."),
    ],
)
def clean_counts(context: dg.AssetExecutionContext, config: CleanConfig, sensor_counts: pl.LazyFrame,
                 lake: LakeResource):
    """Counts with `flag`, `flag_reason`, `count_clean`, `impute_method` and `count_filled`
    (`lake/clean_counts/`): flags never change `count`."""
    reg = register(lake)
    first_day = dt.date.fromisoformat(context.partition_key_range.start)
    clean = flag_counts(sensor_counts, tz=lake.tz, register=reg, history=_history(lake, first_day)).collect()
    shares = clean["flag"].value_counts(normalize=True).sort("flag")
    yield dg.Output(clean, metadata={f"share_{f}": round(s, 4) for f, s in shares.iter_rows()}
                    | {"register_entries": 0 if reg is None else reg.height})

    by_series = missing_by_day(clean, reg, lake.tz)
    days = (
        by_series.group_by("day")
        .agg(pl.col("rows").sum(), pl.col("missing").sum(),
             sensors=pl.col("sensor_id").filter(pl.col("missing") > 0).unique().sort().str.join(", "))
        .with_columns(share=pl.col("missing") / pl.col("rows"))
        .sort("day")
    )
    bad_days = days.filter(pl.col("share") > config.max_missing_share)
    rows, missing = int(days["rows"].sum()), int(days["missing"].sum())
    share = missing / rows if rows else 0.0
    yield dg.AssetCheckResult(
        check_name=MISSING_SHARE,
        passed=share <= config.max_missing_share,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "threshold": config.max_missing_share,
            "share": round(share, 4),
            "rows": rows,
            "missing_rows": missing,
            "days_checked": days.height,
            "days": dg.MetadataValue.json([str(d) for d in bad_days["day"].to_list()][:50]),
            "sensors": dg.MetadataValue.json(sorted(by_series.filter(pl.col("missing") > 0)["sensor_id"].unique().to_list())[:50]),
            "what_to_do": "register the period in <home>/anomalies.yaml (exclude or accept) or fix the source",
        },
    )
    yield dg.AssetCheckResult(
        check_name=DAYS_MISSING,
        passed=bad_days.height == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"days_failing": bad_days.height, "missing_rows": int(bad_days["missing"].sum()) if bad_days.height else 0,
                  "offenders": dg.MetadataValue.md(_md(bad_days) if bad_days.height else "none")},
    )
    offenders = by_series.filter(pl.col("share") > config.max_missing_share)
    yield dg.AssetCheckResult(
        check_name=SERIES_MISSING,
        passed=offenders.height == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "series_days": offenders.height,
            "rows": int(offenders["missing"].sum()) if offenders.height else 0,
            "sensors": dg.MetadataValue.json(sorted(offenders["sensor_id"].unique().to_list())),
            "offenders": dg.MetadataValue.md(_md(offenders) if offenders.height else "none"),
        },
    )
    flagged = (clean.filter(pl.col("flag").is_in(["suspect", "excluded"]))
               .group_by("flag", "flag_reason", "sensor_id").len().sort("flag", "flag_reason", "sensor_id"))
    yield dg.AssetCheckResult(
        check_name=QUALITY_WARNINGS,
        passed=flagged.height == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"rows": int(flagged["len"].sum()) if flagged.height else 0,
                  "by_reason": dg.MetadataValue.md(_md(flagged) if flagged.height else "none")},
    )
