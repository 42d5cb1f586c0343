"""Self-contained HTML scenario report for urbanists (French by default, English with ``lang="en"``).

Everything is inline (CSS, SVG charts drawn by matplotlib with text as paths), so the file opens offline.
Every string that comes from data is escaped by Jinja2's autoescape; the only markup inserted unescaped is
the SVG that this module draws itself (comments stripped, ids prefixed per chart so two charts never share
an id). The same inputs give byte-identical HTML except for the generation date: the SVG hash salt is
fixed, the SVG carries no date, and every table and chart series is sorted.

Numbers are shown in the reader's convention (``8 123`` with a narrow no-break space in French, ``8,123``
in English); the exact value sits in each cell's ``data-value`` attribute (Python ``repr``, which
round-trips floats) for tools and tests.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import polars as pl  # noqa: E402
from jinja2 import Environment, FileSystemLoader, StrictUndefined  # noqa: E402
from markupsafe import Markup  # noqa: E402

from scenarios.forecast import MODEL_HGB, MODEL_SNAIVE  # noqa: E402
from scenarios.spec import MODE_NAMES, MONTHS, ScenarioSpec  # noqa: E402
from sensors_io.aggregate import exact_sum  # noqa: E402  (order-independent: byte-identical reports)
from sensors_io.indicators import DEFAULT_TMJA_ESTIMATOR  # noqa: E402

TEMPLATES = Path(__file__).resolve().parent / "templates"
NNBSP = "\u202f"  # narrow no-break space: French thousands separator and before % (typography)
MODE_ORDER = ["car", "heavy", "all_vehicles", "bus", "motorcycle", "scooter", "bike", "pedestrian", "other"]
TZ = "Europe/Paris"

LABELS: dict[str, dict[str, str]] = {
    "fr": {
        "doc_title": "Rapport de scénario",
        "synthetic": "Données synthétiques — ville de démonstration",
        "synthetic_note": "Ce rapport est produit à partir de comptages simulés : il illustre la méthode, pas la ville réelle.",
        "period": "Période :",
        "hypotheses": "Hypothèses du scénario",
        "hyp_intro": "Le scénario multiplie la prévision de référence, dans l'ordre suivant :",
        "effect": "Effet du scénario sur la période",
        "mode": "Mode", "baseline_total": "Référence (total)", "scenario_total": "Scénario (total)",
        "change": "Écart",
        "indicators": "Indicateurs de trafic par capteur",
        "indicators_intro": "TMJA : trafic moyen journalier annuel (tous les jours) ; TMJO : trafic moyen des jours ouvrés. "
                            "Passages par jour, sens confondus lorsque le sens vaut « all ».",
        "site": "Site", "sensor": "Capteur", "direction": "Sens", "year": "Année",
        "tmja": "TMJA", "tmjo": "TMJO", "coverage": "Couverture", "imputed": "Part imputée", "estimator": "Estimateur",
        "no_indicators": "Aucun indicateur annuel disponible.",
        "chart_daily": "Totaux journaliers : référence et scénario",
        "chart_daily_note": "Somme des capteurs de chaque mode. Bande : intervalle à 80 % (somme des bornes horaires, donc prudente).",
        "chart_profile": "Profil journalier moyen",
        "chart_profile_note": "Passages par heure (heure locale), moyenne des jours de la période, somme des capteurs du mode.",
        "baseline": "Référence", "scenario": "Scénario", "band": "Intervalle 80 %",
        "date": "Date", "hour": "Heure", "per_day": "passages / jour", "per_hour": "passages / heure",
        "scores": "Qualité de la prévision (backtest)",
        "scores_intro": "MASE : erreur du modèle divisée par celle de la prévision naïve « même heure la semaine "
                        "précédente » sur les mêmes heures (moins de 1 = meilleure). Un capteur dont le modèle ne bat "
                        "pas la prévision naïve utilise la prévision naïve.",
        "model_chosen": "Modèle retenu", "mase": "MASE du modèle", "coverage80": "Couverture 80 %",
        "n_hours": "Heures testées", "no_scores": "Aucun score disponible.",
        "model_names": f"{MODEL_HGB} : gradient boosting (Poisson) sur le calendrier ; {MODEL_SNAIVE} : naïf saisonnier hebdomadaire.",
        "method": "Méthode et limites",
        "method_items": "\n".join([
            "La référence est une prévision heure par heure apprise sur les comptages passés et le calendrier "
            "(heure, jour, jours fériés, vacances scolaires de la zone B, ponts, saison estivale) ; elle ne "
            "connaît ni la météo ni les événements.",
            "Le scénario ne prévoit rien de lui-même : il applique des hypothèses (multiplicateurs) à la "
            "référence. Ses chiffres valent ce que valent ses hypothèses.",
            "Les intervalles à 80 % sont calibrés sur les dernières semaines avant la date de coupure ; "
            "à plusieurs mois d'horizon, l'incertitude réelle est plus grande.",
            "Les capteurs eux-mêmes se trompent de 5 à 15 % selon le type : un écart plus petit n'est pas significatif.",
        ]),
        "cutoff": "Données jusqu'au",
        "input_hash": "Empreinte des données d'entrée",
        "generated_at": "Généré le",
    },
    "en": {
        "doc_title": "Scenario report",
        "synthetic": "Synthetic data — demonstration town",
        "synthetic_note": "This report is built from simulated counts: it illustrates the method, not the real town.",
        "period": "Period:",
        "hypotheses": "Scenario hypotheses",
        "hyp_intro": "The scenario multiplies the baseline forecast, in this order:",
        "effect": "Scenario effect over the period",
        "mode": "Mode", "baseline_total": "Baseline (total)", "scenario_total": "Scenario (total)",
        "change": "Change",
        "indicators": "Traffic indicators by sensor",
        "indicators_intro": "AADT (TMJA): annual average daily traffic (all days); TMJO: average working-day traffic. "
                            "Counts per day, both directions summed where the direction is “all”.",
        "site": "Site", "sensor": "Sensor", "direction": "Direction", "year": "Year",
        "tmja": "TMJA (AADT)", "tmjo": "TMJO", "coverage": "Coverage", "imputed": "Imputed share", "estimator": "Estimator",
        "no_indicators": "No annual indicator available.",
        "chart_daily": "Daily totals: baseline and scenario",
        "chart_daily_note": "Sum over the sensors of each mode. Band: 80 % interval (sum of hourly bounds, hence conservative).",
        "chart_profile": "Mean daily profile",
        "chart_profile_note": "Counts per hour (local time), mean over the days of the period, sum over the mode's sensors.",
        "baseline": "Baseline", "scenario": "Scenario", "band": "80 % interval",
        "date": "Date", "hour": "Hour", "per_day": "counts / day", "per_hour": "counts / hour",
        "scores": "Forecast quality (backtest)",
        "scores_intro": "MASE: the model's error divided by that of the naive “same hour last week” forecast on the "
                        "same hours (below 1 = better). A sensor whose model does not beat the naive forecast uses "
                        "the naive forecast.",
        "model_chosen": "Model used", "mase": "Model MASE", "coverage80": "80 % coverage",
        "n_hours": "Hours tested", "no_scores": "No score available.",
        "model_names": f"{MODEL_HGB}: gradient boosting (Poisson) on the calendar; {MODEL_SNAIVE}: weekly seasonal-naive.",
        "method": "Method and caveats",
        "method_items": "\n".join([
            "The baseline is an hour-by-hour forecast learnt from past counts and the calendar (hour, day, public "
            "holidays, zone B school holidays, bridge days, summer season); it knows neither weather nor events.",
            "The scenario forecasts nothing by itself: it applies hypotheses (multipliers) to the baseline. Its "
            "numbers are as good as its hypotheses.",
            "80 % intervals are calibrated on the last weeks before the cutoff; months ahead, the real "
            "uncertainty is larger.",
            "Sensors themselves err by 5–15 % depending on the type: a smaller difference is not meaningful.",
        ]),
        "cutoff": "Data up to",
        "input_hash": "Input data hash",
        "generated_at": "Generated on",
    },
}


@dataclass(frozen=True)
class ReportData:
    """Everything one scenario report shows. Frames follow the DESIGN contracts.

    ``baseline`` and ``scenario`` are forecasts-contract frames (the scenario over ``spec.period``);
    ``scores`` is :attr:`scenarios.forecast.BaselineModel.scores`; ``sensor_sites`` (optional:
    sensor_id, site_id) links sensors to ``sites`` for the site names.
    """

    spec: ScenarioSpec
    indicators: pl.DataFrame
    baseline: pl.DataFrame
    scenario: pl.DataFrame
    sites: pl.DataFrame
    scores: pl.DataFrame
    input_hash: str
    generated_at: dt.datetime
    synthetic: bool = False
    sensor_sites: pl.DataFrame | None = None


# --------------------------------------------------------------------------------------------------
# formatting
# --------------------------------------------------------------------------------------------------
def format_number(x: float | None, lang: str = "fr", decimals: int = 0) -> str:
    """``8123.4`` → ``"8 123"`` (narrow no-break space) in French, ``"8,123"`` in English; ``—`` for missing.

    >>> format_number(8123.4, "fr") == "8\u202f123"
    True
    >>> format_number(0.8765, "en", 2)
    '0.88'
    """
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    s = f"{x:,.{decimals}f}"
    if lang == "fr":
        s = s.replace(",", NNBSP).replace(".", ",")
    return s


def format_pct(x: float | None, lang: str = "fr", decimals: int = 0, signed: bool = False) -> str:
    """Share 0–1 → ``"92 %"`` (French, narrow no-break space) or ``"92%"`` (English)."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    v = 100 * x
    s = (f"{v:+,.{decimals}f}" if signed else f"{v:,.{decimals}f}")
    if lang == "fr":
        return s.replace(",", NNBSP).replace(".", ",") + NNBSP + "%"
    return s + "%"


def format_date(d: dt.date, lang: str = "fr") -> str:
    """``1er juillet 2026`` / ``1 July 2026``."""
    if lang == "fr":
        day = "1er" if d.day == 1 else str(d.day)
        return f"{day} {MONTHS['fr'][d.month - 1]} {d.year}"
    return f"{d.day} {MONTHS['en'][d.month - 1]} {d.year}"


def raw_value(x: object) -> str:
    """Exact value for a ``data-value`` attribute (``repr`` round-trips floats); empty for missing."""
    if x is None:
        return ""
    if isinstance(x, float):
        return repr(x)
    return str(x)


def mode_label(mode: str, lang: str) -> str:
    return MODE_NAMES[lang].get(mode, mode)


def _mode_key(mode: str) -> tuple[int, str]:
    return (MODE_ORDER.index(mode) if mode in MODE_ORDER else len(MODE_ORDER), mode)


# --------------------------------------------------------------------------------------------------
# numbers behind the charts
# --------------------------------------------------------------------------------------------------
def chart_frames(data: ReportData, tz: str = TZ) -> dict[str, pl.DataFrame]:
    """The numbers each chart draws: ``daily_totals`` and ``daily_profile`` (local time), per mode."""
    start, end = data.spec.period.start, data.spec.period.end
    cols = ["yhat", "yhat_lower", "yhat_upper"]

    def local(f: pl.DataFrame) -> pl.DataFrame:
        loc = pl.col("start_utc").dt.convert_time_zone(tz)
        return f.with_columns(date=loc.dt.date(), hour=loc.dt.hour().cast(pl.Int8)).filter(
            pl.col("date").is_between(start, end))

    b, s = local(data.baseline), local(data.scenario)

    def daily(f: pl.DataFrame, prefix: str) -> pl.DataFrame:
        return f.group_by("mode", "date").agg(
            [exact_sum(pl.col(c)).alias(f"{prefix}_{c.removeprefix('yhat_') if c != 'yhat' else 'yhat'}") for c in cols])

    daily_totals = (
        daily(b, "baseline").join(daily(s, "scenario"), on=["mode", "date"], how="full", coalesce=True)
        .sort("mode", "date")
    )

    def profile(f: pl.DataFrame, prefix: str) -> pl.DataFrame:
        days = f.group_by("mode").agg(n=pl.col("date").n_unique())
        return (f.group_by("mode", "hour").agg(tot=exact_sum(pl.col("yhat"))).join(days, on="mode")
                .select("mode", "hour", (pl.col("tot") / pl.col("n")).alias(f"{prefix}_yhat")))

    daily_profile = (
        profile(b, "baseline").join(profile(s, "scenario"), on=["mode", "hour"], how="full", coalesce=True)
        .sort("mode", "hour")
    )
    return {"daily_totals": daily_totals, "daily_profile": daily_profile}


def _atomic_write_bytes(path: Path, payload: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600: reports are meant to be served and shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_chart_csv(frames: dict[str, pl.DataFrame], dir: str | os.PathLike[str]) -> list[Path]:
    """Write each chart's numbers as ``<dir>/<name>.csv`` (atomically); returns the paths, sorted."""
    out = []
    for name in sorted(frames):
        if not re.fullmatch(r"[A-Za-z0-9_\-]+", name):
            raise ValueError(f"chart name {name!r} is not a safe file name")
        buf = io.BytesIO()
        frames[name].write_csv(buf)
        out.append(_atomic_write_bytes(Path(dir) / f"{name}.csv", buf.getvalue()))
    return out


def write_report(html: str, path: str | os.PathLike[str]) -> Path:
    """Write the report as UTF-8, atomically (temporary file in the same folder, then ``os.replace``)."""
    return _atomic_write_bytes(Path(path), html.encode("utf-8"))


# --------------------------------------------------------------------------------------------------
# charts (inline SVG)
# --------------------------------------------------------------------------------------------------
_COLORS = {"baseline": "#4a5a6a", "scenario": "#c0392b"}
_XML_HEAD = re.compile(r"\A.*?(?=<svg\b)", re.S)
_COMMENT = re.compile(r"<!--.*?-->|<metadata>.*?</metadata>\s*", re.S)
_ID = re.compile(r'\bid="([^"]+)"')


def _svg(fig: plt.Figure, prefix: str) -> Markup:
    """Deterministic inline SVG: fixed hash salt, no date, no prolog/comments/RDF metadata, ids prefixed."""
    buf = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": "mobility", "svg.fonttype": "path"}):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    plt.close(fig)
    svg = _COMMENT.sub("", _XML_HEAD.sub("", buf.getvalue()))
    ids = set(_ID.findall(svg))
    if ids:
        pat = re.compile(r'(\bid="|url\(#|href="#)(' + "|".join(re.escape(i) for i in sorted(ids, key=len, reverse=True)) + r')(?=["\)])')
        svg = pat.sub(lambda m: f"{m.group(1)}{prefix}-{m.group(2)}", svg)
    svg = re.sub(r"<svg\b", f'<svg role="img" class="chart" id="{prefix}"', svg, count=1)
    return Markup(svg.strip())  # noqa: S704 - drawn here, no data strings (text is paths)


def _modes(frame: pl.DataFrame) -> list[str]:
    return sorted(frame.get_column("mode").unique().to_list(), key=_mode_key)


def _daily_chart(daily: pl.DataFrame, lang: str) -> Markup | None:
    modes = _modes(daily)
    if not modes:
        return None
    t = LABELS[lang]
    with matplotlib.rc_context({"font.size": 8, "axes.spines.top": False, "axes.spines.right": False}):
        fig, axes = plt.subplots(len(modes), 1, figsize=(8, 1.9 * len(modes) + 0.4), sharex=True, squeeze=False)
        for ax, mode in zip(axes[:, 0], modes, strict=True):
            d = daily.filter(pl.col("mode") == mode).sort("date")
            x = d.get_column("date").to_list()
            for who in ("baseline", "scenario"):
                y = d.get_column(f"{who}_yhat").to_numpy()
                lo, hi = d.get_column(f"{who}_lower").to_numpy(), d.get_column(f"{who}_upper").to_numpy()
                ax.fill_between(x, lo, hi, color=_COLORS[who], alpha=0.15, linewidth=0)
                ax.plot(x, y, color=_COLORS[who], linewidth=1.4, label=t[who])
            ax.set_title(mode_label(mode, lang), loc="left", fontsize=9)
            ax.set_ylabel(t["per_day"])
            ax.set_ylim(bottom=0)
            ax.grid(axis="y", linewidth=0.3)
        axes[0, 0].legend(loc="upper right", frameon=False, ncols=2)
        fig.autofmt_xdate()
        fig.tight_layout()
        return _svg(fig, "chart-daily")


def _profile_chart(profile: pl.DataFrame, lang: str) -> Markup | None:
    modes = _modes(profile)
    if not modes:
        return None
    t = LABELS[lang]
    with matplotlib.rc_context({"font.size": 8, "axes.spines.top": False, "axes.spines.right": False}):
        ncol = min(2, len(modes))
        nrow = math.ceil(len(modes) / ncol)
        fig, axes = plt.subplots(nrow, ncol, figsize=(8, 2.2 * nrow + 0.3), squeeze=False)
        for i, ax in enumerate(axes.flat):
            if i >= len(modes):
                ax.set_visible(False)
                continue
            mode = modes[i]
            d = profile.filter(pl.col("mode") == mode).sort("hour")
            h = d.get_column("hour").to_numpy()
            for who in ("baseline", "scenario"):
                ax.plot(h, d.get_column(f"{who}_yhat").to_numpy(), color=_COLORS[who], linewidth=1.4,
                        drawstyle="steps-mid", label=t[who])
            ax.set_title(mode_label(mode, lang), loc="left", fontsize=9)
            ax.set_xticks(range(0, 24, 3))
            ax.set_xlabel(t["hour"])
            ax.set_ylabel(t["per_hour"])
            ax.set_ylim(bottom=0)
            ax.grid(axis="y", linewidth=0.3)
        axes[0, 0].legend(loc="upper left", frameon=False)
        fig.tight_layout()
        return _svg(fig, "chart-profile")


# --------------------------------------------------------------------------------------------------
# tables
# --------------------------------------------------------------------------------------------------
def _site_names(data: ReportData) -> dict[str, str]:
    links = data.sensor_sites
    if links is None and "sensor_id" in data.sites.columns:
        links = data.sites.select("sensor_id", "site_id")
    if links is None or "site_name" not in data.sites.columns:
        return {}
    j = links.select("sensor_id", "site_id").unique().join(
        data.sites.select("site_id", "site_name"), on="site_id", how="left").sort("sensor_id", "site_id")
    return {r[0]: r[1] for r in j.select("sensor_id", "site_name").rows() if r[1] is not None}


def _indicator_rows(data: ReportData, lang: str) -> list[dict]:
    ind = data.indicators.filter(
        pl.col("indicator").is_in(["tmja", "tmjo"]) & pl.col("period").str.contains(r"^\d{4}$"))
    if ind.is_empty():
        return []
    # one estimator per value: the only one (null) or TMJA's default (mean of valid days), then alphabetical
    preferred = pl.col("estimator").is_null() | (pl.col("estimator") == DEFAULT_TMJA_ESTIMATOR)
    ind = (ind.sort("sensor_id", "mode", "direction", "period", "indicator", ~preferred, "estimator")
           .unique(["sensor_id", "mode", "direction", "period", "indicator"], keep="first"))
    latest = ind.group_by("sensor_id", "mode", "direction").agg(period=pl.col("period").max())
    ind = ind.join(latest, on=["sensor_id", "mode", "direction", "period"], how="semi")
    # An urbanist reads both directions together ("all"); single directions stay in the warehouse.
    summed = ind.filter(pl.col("direction") == "all")
    ind = pl.concat([summed, ind.join(summed.select("sensor_id", "mode").unique(), on=["sensor_id", "mode"], how="anti")])
    names = _site_names(data)
    rows = []
    keys = ind.select("sensor_id", "mode", "direction", "period").unique().rows()
    keys.sort(key=lambda k: (k[0], _mode_key(k[1]), k[2], k[3]))
    by_key = {(r["sensor_id"], r["mode"], r["direction"], r["period"], r["indicator"]): r
              for r in ind.iter_rows(named=True)}
    for k in keys:
        cells = {}
        for name in ("tmja", "tmjo"):
            r = by_key.get((*k, name))
            cells[name] = None if r is None else {
                "value": r["value"], "text": format_number(r["value"], lang), "raw": raw_value(r["value"]),
                "estimator": r["estimator"],
            }
        ref = by_key.get((*k, "tmja")) or by_key.get((*k, "tmjo"))
        rows.append({
            "site": names.get(k[0], ""), "sensor_id": k[0], "mode": mode_label(k[1], lang), "direction": k[2],
            "period": k[3], "tmja": cells["tmja"], "tmjo": cells["tmjo"],
            "coverage": {"text": format_pct(ref["coverage"], lang), "raw": raw_value(ref["coverage"])},
            "imputed": {"text": format_pct(ref["imputed_share"], lang), "raw": raw_value(ref["imputed_share"])},
            "estimator": (cells["tmja"] or cells["tmjo"])["estimator"] or "",
        })
    return rows


def _score_rows(data: ReportData, lang: str) -> list[dict]:
    s = data.scores
    if s.is_empty():
        return []
    chosen = s.filter(pl.col("chosen")).select("sensor_id", "mode", "direction", chosen_model="model",
                                                coverage80="coverage80", n_hours="n_hours")
    model = s.filter(pl.col("model") == MODEL_HGB).select("sensor_id", "mode", "direction", "mase")
    j = chosen.join(model, on=["sensor_id", "mode", "direction"], how="left")
    rows = sorted(j.iter_rows(named=True), key=lambda r: (r["sensor_id"], _mode_key(r["mode"]), r["direction"]))
    return [{
        "sensor_id": r["sensor_id"], "mode": mode_label(r["mode"], lang), "direction": r["direction"],
        "model": r["chosen_model"],
        "mase": {"text": format_number(r["mase"], lang, 2), "raw": raw_value(r["mase"])},
        "coverage80": {"text": format_pct(r["coverage80"], lang), "raw": raw_value(r["coverage80"])},
        "n_hours": {"text": format_number(r["n_hours"], lang), "raw": raw_value(r["n_hours"])},
        "beats_naive": r["chosen_model"] == MODEL_HGB,
    } for r in rows]


def _effect_rows(daily: pl.DataFrame, lang: str) -> list[dict]:
    if daily.is_empty():
        return []
    tot = daily.group_by("mode").agg(b=exact_sum(pl.col("baseline_yhat")), s=exact_sum(pl.col("scenario_yhat")))
    rows = []
    for mode, b, s in sorted(tot.rows(), key=lambda r: _mode_key(r[0])):
        change = (s / b - 1) if b else None
        rows.append({
            "mode": mode_label(mode, lang),
            "baseline": {"text": format_number(b, lang), "raw": raw_value(b)},
            "scenario": {"text": format_number(s, lang), "raw": raw_value(s)},
            "change": {"text": format_pct(change, lang, 1, signed=True), "raw": raw_value(change)},
        })
    return rows


# --------------------------------------------------------------------------------------------------
# rendering
# --------------------------------------------------------------------------------------------------
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined,
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
    )


def render_scenario_report(data: ReportData, lang: str = "fr") -> str:
    """The report as one HTML string (``<html lang="fr">`` or ``"en"``), every data string escaped."""
    if lang not in LABELS:
        raise ValueError(f"unsupported report language {lang!r}; expected one of {sorted(LABELS)}")
    t = LABELS[lang]
    spec = data.spec
    frames = chart_frames(data)
    cutoffs = data.baseline.get_column("cutoff_utc").drop_nulls() if "cutoff_utc" in data.baseline.columns else None
    cutoff = cutoffs.max() if cutoffs is not None and cutoffs.len() else None
    hypotheses = [{"text": h.describe(lang), "note": h.note(lang)} for h in spec.hypotheses]
    gen = data.generated_at
    gen_text = gen.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC") if gen.tzinfo else gen.strftime("%Y-%m-%d %H:%M")
    ctx = {
        "lang": lang, "t": t, "title": spec.title(lang), "description": spec.description(lang),
        "scenario_name": spec.name,
        "period_text": f"{format_date(spec.period.start, lang)} – {format_date(spec.period.end, lang)}",
        "hypotheses": hypotheses, "synthetic": data.synthetic,
        "effect_rows": _effect_rows(frames["daily_totals"], lang),
        "indicator_rows": _indicator_rows(data, lang),
        "score_rows": _score_rows(data, lang),
        "daily_chart": _daily_chart(frames["daily_totals"], lang),
        "profile_chart": _profile_chart(frames["daily_profile"], lang),
        "method_items": t["method_items"].split("\n"),
        "cutoff_text": cutoff.strftime("%Y-%m-%d %H:%M UTC") if cutoff is not None else "—",
        "input_hash": data.input_hash, "generated_at": gen_text,
        "generated_at_iso": gen.isoformat(),
    }
    return _environment().get_template("scenario_report.html.j2").render(**ctx)


INDEX_LABELS = {
    "fr": {"title": "Scénarios de mobilité", "scenario": "Scénario", "period": "Période", "report": "Rapport",
           "intro": "Chaque scénario applique des hypothèses d'aménagement à la prévision de référence.",
           "input_hash": "Empreinte des données :", "generated_at": "Généré le"},
    "en": {"title": "Mobility scenarios", "scenario": "Scenario", "period": "Period", "report": "Report",
           "intro": "Each scenario applies planning hypotheses to the baseline forecast.",
           "input_hash": "Input data hash:", "generated_at": "Generated on"},
}


def render_index(specs: list[ScenarioSpec], lang: str, *, input_hash: str, generated_at: dt.datetime,
                 synthetic: bool = False) -> str:
    """The reports' index page: one line per scenario, linking ``<name>.<lang>.html``."""
    if lang not in INDEX_LABELS:
        raise ValueError(f"unsupported report language {lang!r}; expected one of {sorted(INDEX_LABELS)}")
    t = {**INDEX_LABELS[lang], "synthetic": LABELS[lang]["synthetic"], "synthetic_note": LABELS[lang]["synthetic_note"]}
    entries = [{"title": s.title(lang), "href": f"{s.name}.{lang}.html",
                "period": f"{format_date(s.period.start, lang)} – {format_date(s.period.end, lang)}"} for s in specs]
    return _environment().get_template("index.html.j2").render(
        lang=lang, t=t, entries=entries, synthetic=synthetic, input_hash=input_hash,
        generated_at=generated_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"))
