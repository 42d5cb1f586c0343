"""Self-contained HTML scenario report for urbanists (French by default, English with ``lang="en"``).

Everything is inline (CSS, SVG charts drawn by matplotlib with text as paths, a sensor map drawn as SVG by
the template), so the file opens offline: no script, no CDN, no web font, no map tiles. Every string that
comes from data is escaped by Jinja2's autoescape; the only markup inserted unescaped is the SVG that
matplotlib draws here (comments stripped, ids prefixed per chart so two charts never share an id, text
drawn as paths). The same inputs give byte-identical HTML, whatever the row order of the input frames,
except for the one line that carries the generation date: the SVG hash salt is fixed, the SVG carries no
date, sums are exact (:func:`sensors_io.aggregate.exact_sum`) and every table and series is sorted.

Numbers are shown in the reader's convention (``8 123`` with a narrow no-break space in French, ``8,123``
in English); the exact value sits in each cell's ``data-value`` attribute (Python ``repr``, which
round-trips floats) for tools and tests. :func:`report_frames` returns the numbers behind every chart and
table, which :func:`write_chart_csv` writes as CSV.

Optional sections (:class:`ReportData` fields left ``None`` are omitted, or replaced by a sentence):
``mass_balance``, ``indicator_deltas``, ``saturation``, ``impact`` with ``impact_placebos``, ``quality``;
their columns are listed in :data:`SECTION_COLUMNS`. Columns named ``*_pct`` hold percentages
(``0.05`` = 0.05 %); ``coverage``, ``imputed_share`` and ``coverage80``/``coverage95`` hold shares (0–1).
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
from typing import Any
from zoneinfo import ZoneInfo

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import polars as pl  # noqa: E402
from jinja2 import Environment, FileSystemLoader, StrictUndefined  # noqa: E402
from markupsafe import Markup  # noqa: E402
from matplotlib.ticker import Formatter, FuncFormatter  # noqa: E402

from scenarios.forecast import FORECAST_SCHEMA, MODEL_HGB, MODEL_SNAIVE  # noqa: E402
from scenarios.spec import MODE_NAMES, MONTHS, ScenarioSpec, direction_label  # noqa: E402
from sensors_io.aggregate import MAX_MISSING_HOURS, exact_sum  # noqa: E402  (order-independent: byte-identical reports)
from sensors_io.demo_town import SYNTHETIC_SUFFIX  # noqa: E402
from sensors_io.indicators import DEFAULT_TMJA_ESTIMATOR  # noqa: E402

TEMPLATES = Path(__file__).resolve().parent / "templates"
ZWSP = "\u200b"  # zero-width space: where a long code may break
NNBSP = "\u202f"  # narrow no-break space: French thousands separator and before % (typography)
MODE_ORDER = ["car", "heavy", "all_vehicles", "bus", "motorcycle", "scooter", "bike", "pedestrian", "other"]
TZ = "Europe/Paris"
#: A mass balance closes when |residual| is at most this percentage of the closed volume.
MASS_BALANCE_TOLERANCE_PCT = 0.1
#: Metres per degree of latitude; the map is equirectangular (x scaled by cos(mean latitude)), whose
#: distortion over a town a few kilometres wide is far below a marker's size.
M_PER_DEG = 111_320.0
MAP_WIDTH, MAP_MAX_HEIGHT, MAP_PAD = 720.0, 440.0, 40.0
#: Smallest extent drawn (degrees of latitude, ≈ 450 m), so one site or two close ones do not fill the map.
MAP_MIN_SPAN = 0.004
_SCALE_STEPS_M = (10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000,
                  500_000, 1_000_000)

LABELS: dict[str, dict[str, str]] = {
    "fr": {
        "doc_title": "Rapport de scénario",
        "index_link": "Tous les scénarios",
        "synthetic": "Données synthétiques — ville de démonstration",
        "synthetic_note": "Ce rapport est produit à partir de comptages simulés : il illustre la méthode, pas la ville réelle.",
        "period": "Période :",
        "hypotheses": "Hypothèses du scénario",
        "hyp_intro": "Le scénario modifie la prévision de référence en appliquant ces hypothèses, dans l'ordre :",
        "effect": "Effet du scénario sur la période",
        "mode": "Mode", "baseline_total": "Référence (total)", "scenario_total": "Scénario (total)",
        "change": "Écart",
        "indicators": "Indicateurs de trafic par capteur",
        "indicators_intro": "TMJA : trafic moyen journalier annuel (tous les jours) ; TMJO : trafic moyen des jours ouvrés. "
                            "Passages par jour ; « tous sens » : les sens de circulation additionnés.",
        "site": "Site", "sensor": "Capteur", "direction": "Sens", "year": "Année",
        "tmja": "TMJA", "tmjo": "TMJO", "coverage": "Couverture", "imputed": "Part imputée", "estimator": "Estimateur",
        "no_indicators": "Aucun indicateur annuel disponible.",
        "no_valid_day": "« — » : aucun jour valide dans l'année pour {sensors}. Un jour est valide avec au moins "
                        "{hours} heures sur 24 ayant une valeur (mesurée ou imputée) ; un capteur qui ne compte que "
                        "de jour (Telraam V1 : la nuit n'est pas mesurée) n'en a aucun, et ses totaux de jour ne "
                        "sont pas un TMJA.",
        "chart_daily": "Totaux journaliers : référence et scénario",
        "chart_daily_note": "Somme des capteurs de chaque mode. Bande : intervalle à 80 % (somme des bornes horaires, donc prudente).",
        "chart_profile": "Profil journalier moyen",
        "chart_profile_note": "Passages par heure (heure locale), moyenne des jours de la période, somme des capteurs du mode.",
        "no_hourly": "Pas de graphique : aucune prévision horaire ne couvre la période du scénario. Soit les sources "
                     "n'ont que des totaux journaliers (rien à modéliser heure par heure), soit la prévision n'a pas "
                     "été calculée jusqu'à ces dates.",
        "no_scenario_rows": "Pas de graphique : la prévision de référence couvre la période, mais le scénario n'a "
                            "produit aucune ligne ; relancez le calcul du scénario.",
        "baseline": "Référence", "scenario": "Scénario", "band": "Intervalle 80 %",
        "date": "Date", "hour": "Heure", "per_day": "passages / jour", "per_hour": "passages / heure",
        "map": "Carte des capteurs",
        "map_note": "Position des sites (projection équirectangulaire, sans fond de carte). Les numéros renvoient "
                    "à la liste sous la carte.",
        "map_affected": "site dont un capteur est modifié par le scénario", "map_other": "autre site",
        "map_missing": "Sites sans coordonnées (absents de la carte) :",
        "no_map": "Pas de carte : aucun site n'a de coordonnées.",
        "no_sites": "Pas de carte : aucun site n'est décrit dans les données.",
        "north": "N",
        "mass_balance": "Bilan de conservation du trafic",
        "mass_balance_intro": "Le trafic retiré d'un tronçon fermé est reporté sur d'autres voies, évaporé "
                              "(déplacements abandonnés) ou compensé par du trafic induit ; le résidu est ce que "
                              "ce bilan n'explique pas. Passages cumulés sur la période.",
        "mass_balance_rule": "✓ : résidu au plus 0,1 % du volume fermé ; ✗ : le bilan ne boucle pas, les chiffres "
                             "du scénario sont à vérifier.",
        "target": "Tronçon", "closed_volume": "Volume fermé", "diverted": "Reporté", "evaporated": "Évaporé",
        "induced": "Induit", "residual": "Résidu", "residual_pct": "Résidu (% du fermé)",
        "balanced": "Bilan bouclé",
        "empty_mass_balance": "Aucun tronçon fermé dans ce scénario.",
        "indicator_deltas": "Indicateurs : référence et scénario",
        "indicator_deltas_intro": "Indicateurs calculés sur la prévision de la période, sans puis avec les hypothèses du scénario.",
        "indicator": "Indicateur", "unit": "Unité", "baseline_value": "Référence", "scenario_value": "Scénario",
        "delta": "Écart", "delta_pct": "Écart (%)",
        "empty_indicator_deltas": "Aucun indicateur recalculé pour ce scénario.",
        "sensor_one": "le capteur", "sensor_many": "les {n} capteurs",
        "unchanged_sensors": "Le scénario ne change pas {sensors} (écart nul sur chaque indicateur) : "
                             "absents du tableau, ils sont dans data/{scenario}/indicator_deltas.csv.",
        "unchanged_sensor": "Le scénario ne change pas {sensors} (écart nul sur chaque indicateur) : "
                            "absent du tableau, il est dans data/{scenario}/indicator_deltas.csv.",
        "saturation": "Heures au-delà du seuil de saturation",
        "saturation_intro": "Nombre d'heures de la période où le débit prévu dépasse le seuil de saturation du "
                            "capteur, sans puis avec le scénario.",
        "threshold": "Seuil (UVP / heure)", "hours_baseline": "Heures (référence)",
        "hours_scenario": "Heures (scénario)", "hours_change": "Écart (heures)",
        "empty_saturation": "Aucun capteur n'a de seuil de saturation renseigné.",
        "impact": "Effet mesuré d'une intervention",
        "impact_intro": "Interventions passées sur les rues de ce scénario, mesurées sur les comptages (deux sens "
                        "additionnés, sur toute la durée de l'intervention). Effet = comptages observés moins "
                        "contrefactuel (ce que la prévision attendait sans l'intervention) ; intervalle à 80 %. "
                        "Les placebos refont la même estimation là où il n'y a pas eu d'intervention (à de "
                        "fausses dates, sur des capteurs témoins), ramenée à l'échelle de la rue étudiée : un "
                        "effet réel dépasse la plupart d'entre eux.",
        "impact_effect": "Effet", "lower80": "Borne basse 80 %", "upper80": "Borne haute 80 %",
        "effect_pct": "Effet (%)", "placebo_rank": "Placebos au moins aussi forts",
        "placebos": "Placebos", "placebo": "Placebo", "study": "Étude", "intervention": "Intervention",
        "placebo_control": "capteur témoin (comme s'il avait eu l'intervention)",
        "placebo_date": "fausse date de début : {date}",
        "empty_impact": "Aucune évaluation d'impact disponible.",
        "empty_impact_placebos": "Aucun placebo calculé.",
        "quality": "Couverture des données",
        "quality_intro": "Couverture : part des jours valides sur la période des données ; part imputée : part "
                         "du trafic reconstituée pour combler des trous de mesure.",
        "valid_days": "Jours valides", "days": "Jours",
        "no_valid_day_quality": "Couverture de 0 % : {sensors} n'{verb} aucun jour valide (au moins {hours} heures "
                                "sur 24 ayant une valeur, mesurée ou imputée). Un capteur qui ne compte que de jour "
                                "(Telraam V1 : la nuit n'est pas mesurée) n'en a jamais ; ses comptages horaires de "
                                "jour restent mesurés.",
        "no_quality": "Couverture et part imputée par capteur : voir les colonnes du tableau des indicateurs.",
        "empty_quality": "Aucune mesure de couverture disponible.",
        "scores": "Qualité de la prévision (testée sur les semaines passées)",
        "scores_intro": "Chaque modèle a prévu, depuis plusieurs dates passées, la semaine suivante déjà comptée "
                        "(test rétrospectif) ; ses erreurs mesurent sa qualité. "
                        "MASE : erreur d'un modèle divisée par celle de la prévision naïve « même heure la semaine "
                        "précédente » sur les mêmes heures (moins de 1 = meilleure). Pour chaque série, la moyenne du "
                        "gradient boosting et de la médiane des 5 semaines (lundi–jeudi regroupés) est retenue, sauf si un autre modèle fait "
                        "mieux de plus de 5 % ; un modèle n'est retenu que s'il bat la prévision naïve (MASE < 1), "
                        "sinon c'est la prévision naïve. Dans l'intervalle : part des heures testées dont le comptage tombe "
                        "dans l'intervalle de prévision (80 % ou 95 % attendus).",
        "naive_kept": "{n} séries sur {total} gardent la prévision naïve : aucun modèle ne l'a battue au "
                      "test rétrospectif ({series}). Leur prévision est la semaine précédente, heure par heure.",
        "naive_kept_one": "1 série sur {total} garde la prévision naïve : aucun modèle ne l'a battue au "
                          "test rétrospectif ({series}). Sa prévision est la semaine précédente, heure par heure.",
        "naive_none": "Les {total} séries utilisent un modèle qui bat la prévision naïve au test rétrospectif.",
        "naive_none_one": "La série utilise un modèle qui bat la prévision naïve au test rétrospectif.",
        "model_chosen": "Modèle retenu", "coverage80": "Dans l'intervalle à 80 %",
        "coverage95": "Dans l'intervalle à 95 %",
        "n_hours": "Heures testées",
        "no_scores": "Aucun score : aucune série horaire n'a été prévue (sources à pas journalier, ou prévision "
                     "non calculée).",
        "model_names": "Modèles candidats :", "colon": " : ",
        "method": "Méthode et limites",
        "method_items": "\n".join([
            "La référence est une prévision heure par heure apprise sur les comptages passés et le calendrier "
            "(heure, jour, jours fériés, vacances scolaires de la zone B, ponts, saison estivale et, quand la "
            "ville en tient un, son calendrier d'événements : fêtes, foires, marchés) ; elle ne connaît pas la "
            "météo.",
            "Le scénario ne prévoit rien de lui-même : il applique des hypothèses (hausses, événements, "
            "fermetures et reports de trafic, report modal, capacités) à la référence. Ses chiffres valent ce "
            "que valent ses hypothèses.",
            "Les intervalles à 80 % sont calibrés sur les dernières semaines avant la date de coupure ; "
            "à plusieurs mois d'horizon, l'incertitude réelle est plus grande.",
            "Les capteurs eux-mêmes se trompent de 5 à 15 % selon le type : entre deux périodes comptées, un écart "
            "plus petit n'est pas significatif. Les écarts du scénario, eux, viennent de ses hypothèses et non de "
            "la mesure.",
        ]),
        "method_mass_balance": "Le bilan de conservation vérifie que le scénario ne crée ni ne perd de trafic "
                               "par erreur ; il ne dit pas si les parts reportées et évaporées sont justes.",
        "method_impact": "L'évaluation d'impact suppose que rien d'autre n'a changé pendant l'intervention "
                         "(météo, événements, autres travaux) ; les placebos en donnent l'ordre de grandeur du bruit.",
        "cutoff": "Données jusqu'au",
        "input_hash": "Empreinte des données d'entrée",
        "generated_at": "Généré le",
    },
    "en": {
        "doc_title": "Scenario report",
        "index_link": "All scenarios",
        "synthetic": "Synthetic data — demonstration town",
        "synthetic_note": "This report is built from simulated counts: it illustrates the method, not the real town.",
        "period": "Period:",
        "hypotheses": "Scenario hypotheses",
        "hyp_intro": "The scenario changes the baseline forecast by applying these hypotheses, in order:",
        "effect": "Scenario effect over the period",
        "mode": "Mode", "baseline_total": "Baseline (total)", "scenario_total": "Scenario (total)",
        "change": "Change",
        "indicators": "Traffic indicators by sensor",
        "indicators_intro": "AADT (TMJA): annual average daily traffic (all days); TMJO: average working-day traffic. "
                            "Counts per day; “all directions”: the directions of travel summed.",
        "site": "Site", "sensor": "Sensor", "direction": "Direction", "year": "Year",
        "tmja": "AADT (TMJA)", "tmjo": "TMJO", "coverage": "Coverage", "imputed": "Imputed share", "estimator": "Estimator",
        "no_indicators": "No annual indicator available.",
        "no_valid_day": "“—”: no valid day in the year for {sensors}. A day is valid with at least {hours} hours "
                        "of 24 holding a value (measured or imputed); a sensor that counts in daylight only (Telraam "
                        "V1: nights are not measured) has none, and its daylight totals are not an AADT.",
        "chart_daily": "Daily totals: baseline and scenario",
        "chart_daily_note": "Sum over the sensors of each mode. Band: 80 % interval (sum of hourly bounds, hence conservative).",
        "chart_profile": "Mean daily profile",
        "chart_profile_note": "Counts per hour (local time), mean over the days of the period, sum over the mode's sensors.",
        "no_hourly": "No chart: no hourly forecast covers the scenario period. Either the sources only have daily "
                     "totals (nothing to model hour by hour), or the forecast was not computed up to these dates.",
        "no_scenario_rows": "No chart: the baseline forecast covers the period but the scenario produced no rows; "
                            "run the scenario again.",
        "baseline": "Baseline", "scenario": "Scenario", "band": "80 % interval",
        "date": "Date", "hour": "Hour", "per_day": "counts / day", "per_hour": "counts / hour",
        "map": "Sensor map",
        "map_note": "Site positions (equirectangular projection, no background map). Numbers refer to the list "
                    "below the map.",
        "map_affected": "site with a sensor changed by the scenario", "map_other": "other site",
        "map_missing": "Sites without coordinates (not on the map):",
        "no_map": "No map: no site has coordinates.",
        "no_sites": "No map: the data describe no site.",
        "north": "N",
        "mass_balance": "Traffic mass balance",
        "mass_balance_intro": "Traffic removed from a closed link is diverted to other streets, evaporates "
                              "(trips given up) or is offset by induced traffic; the residual is what this "
                              "balance does not explain. Counts summed over the period.",
        "mass_balance_rule": "✓: residual at most 0.1 % of the closed volume; ✗: the balance does not close, "
                             "check the scenario's figures.",
        "target": "Link", "closed_volume": "Closed volume", "diverted": "Diverted", "evaporated": "Evaporated",
        "induced": "Induced", "residual": "Residual", "residual_pct": "Residual (% of closed)",
        "balanced": "Balance closes",
        "empty_mass_balance": "No closed link in this scenario.",
        "indicator_deltas": "Indicators: baseline and scenario",
        "indicator_deltas_intro": "Indicators computed on the forecast of the period, without then with the scenario's hypotheses.",
        "indicator": "Indicator", "unit": "Unit", "baseline_value": "Baseline", "scenario_value": "Scenario",
        "delta": "Change", "delta_pct": "Change (%)",
        "empty_indicator_deltas": "No indicator recomputed for this scenario.",
        "sensor_one": "sensor", "sensor_many": "the {n} sensors",
        "unchanged_sensors": "The scenario does not change {sensors} (zero change on every indicator): left "
                             "out of the table, they are in data/{scenario}/indicator_deltas.csv.",
        "unchanged_sensor": "The scenario does not change {sensors} (zero change on every indicator): left "
                            "out of the table, it is in data/{scenario}/indicator_deltas.csv.",
        "saturation": "Hours above the saturation threshold",
        "saturation_intro": "Hours of the period when the forecast flow exceeds the sensor's saturation "
                            "threshold, without then with the scenario.",
        "threshold": "Threshold (PCU / hour)", "hours_baseline": "Hours (baseline)",
        "hours_scenario": "Hours (scenario)", "hours_change": "Change (hours)",
        "empty_saturation": "No sensor has a saturation threshold.",
        "impact": "Measured effect of an intervention",
        "impact_intro": "Past interventions on this scenario's streets, measured on the counts (both directions "
                        "summed, over the whole intervention). Effect = observed counts minus the counterfactual "
                        "(what the forecast expected without the intervention); 80 % interval. Placebos repeat "
                        "the same estimate where there was no intervention (at fake dates, on control sensors), "
                        "scaled to the studied street: a real effect exceeds most of them.",
        "impact_effect": "Effect", "lower80": "80 % lower bound", "upper80": "80 % upper bound",
        "effect_pct": "Effect (%)", "placebo_rank": "Placebos at least as strong",
        "placebos": "Placebos", "placebo": "Placebo", "study": "Study", "intervention": "Intervention",
        "placebo_control": "control sensor (as if it had had the intervention)",
        "placebo_date": "fake start date: {date}",
        "empty_impact": "No impact evaluation available.",
        "empty_impact_placebos": "No placebo computed.",
        "quality": "Data coverage",
        "quality_intro": "Coverage: share of valid days over the data period; imputed share: share of the "
                         "traffic reconstructed to fill measurement gaps.",
        "valid_days": "Valid days", "days": "Days",
        "no_valid_day_quality": "0 % coverage: {sensors} {verb} no valid day (at least {hours} hours out of 24 "
                                "with a value, measured or imputed). A sensor that counts by day only (Telraam V1: "
                                "the night is not measured) never has one; its daytime hourly counts are still "
                                "measured.",
        "no_quality": "Coverage and imputed share per sensor: see the columns of the indicator table.",
        "empty_quality": "No coverage measure available.",
        "scores": "Forecast quality (tested on past weeks)",
        "scores_intro": "Each model forecast, from several past dates, the following week already counted "
                        "(backtest); its errors measure its quality. "
                        "MASE: a model's error divided by that of the naive “same hour last week” forecast on the "
                        "same hours (below 1 = better). Per series, the mean of the gradient boosting and the 5-week "
                        "median (Monday–Thursday pooled) is used unless another model does better by more than 5 %; a model is used only if "
                        "it beats the naive forecast (MASE < 1), else the naive forecast is. Inside the interval: share "
                        "of the hours tested whose count falls inside the forecast interval (80 % or 95 % expected).",
        "naive_kept": "{n} of {total} series keep the naive forecast: no model beat it in the backtest "
                      "({series}). Their forecast is the previous week, hour by hour.",
        "naive_kept_one": "1 of {total} series keeps the naive forecast: no model beat it in the backtest "
                          "({series}). Its forecast is the previous week, hour by hour.",
        "naive_none": "All {total} series use a model that beats the naive forecast in the backtest.",
        "naive_none_one": "The series uses a model that beats the naive forecast in the backtest.",
        "model_chosen": "Model used", "coverage80": "Inside the 80 % interval",
        "coverage95": "Inside the 95 % interval",
        "n_hours": "Hours tested",
        "no_scores": "No score: no hourly series was forecast (daily-step sources, or forecast not computed).",
        "model_names": "Candidate models:", "colon": ": ",
        "method": "Method and caveats",
        "method_items": "\n".join([
            "The baseline is an hour-by-hour forecast learnt from past counts and the calendar (hour, day, public "
            "holidays, zone B school holidays, bridge days, summer season and, when the town keeps one, its event "
            "calendar: festivals, fairs, markets); it does not know the weather.",
            "The scenario forecasts nothing by itself: it applies hypotheses (surges, events, closures and "
            "diverted traffic, modal shift, capacities) to the baseline. Its numbers are as good as its "
            "hypotheses.",
            "80 % intervals are calibrated on the last weeks before the cutoff; months ahead, the real "
            "uncertainty is larger.",
            "Sensors themselves err by 5–15 % depending on the type: between two counted periods, a smaller "
            "difference is not meaningful. The scenario's differences come from its hypotheses, not from the "
            "measurement.",
        ]),
        "method_mass_balance": "The mass balance checks that the scenario neither creates nor loses traffic by "
                               "mistake; it does not say whether the diverted and evaporated shares are right.",
        "method_impact": "The impact evaluation assumes nothing else changed during the intervention (weather, "
                         "events, other works); the placebos give the size of the noise.",
        "cutoff": "Data up to",
        "input_hash": "Input data hash",
        "generated_at": "Generated on",
    },
}


# No line break before "%": a narrow no-break space in French, none in English ("80%").
for _k, _v in LABELS["fr"].items():
    LABELS["fr"][_k] = _v.replace(" %", NNBSP + "%")
for _k, _v in LABELS["en"].items():
    LABELS["en"][_k] = _v.replace(" %", "%")


@dataclass(frozen=True)
class ReportData:
    """Everything one scenario report shows. Frames follow the DESIGN contracts; row order never matters.

    ``baseline`` and ``scenario`` are forecasts-contract frames (the scenario over ``spec.period``);
    ``scores`` is :attr:`scenarios.forecast.BaselineModel.scores` (a ``coverage95`` column is shown when
    present); ``sites`` follows ``SITES_SCHEMA`` (site_id, site_name, lat, lon, source); ``sensor_sites``
    (sensor_id, site_id) links sensors to sites for the names and the map. ``affected_sensors``: the
    sensor_ids the scenario changes (highlighted on the map); ``None`` derives them from the forecasts
    (scenario ≠ baseline). The optional section frames have the columns of :data:`SECTION_COLUMNS`.
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
    tz: str = TZ
    affected_sensors: frozenset[str] | None = None
    mass_balance: pl.DataFrame | None = None
    indicator_deltas: pl.DataFrame | None = None
    saturation: pl.DataFrame | None = None
    impact: pl.DataFrame | None = None
    impact_placebos: pl.DataFrame | None = None
    quality: pl.DataFrame | None = None


# --------------------------------------------------------------------------------------------------
# formatting
# --------------------------------------------------------------------------------------------------
def _missing(x: float | None) -> bool:
    return x is None or (isinstance(x, float) and not math.isfinite(x))


def _localise(s: str, lang: str) -> str:
    return s.replace(",", NNBSP).replace(".", ",") if lang == "fr" else s


def format_number(x: float | None, lang: str = "fr", decimals: int = 0, signed: bool = False) -> str:
    """``8123.4`` → ``"8 123"`` (narrow no-break space) in French, ``"8,123"`` in English; ``—`` for missing.

    >>> format_number(8123.4, "fr") == "8\u202f123"
    True
    >>> format_number(0.8765, "en", 2)
    '0.88'
    >>> format_number(-1234.0, "en", signed=True)
    '-1,234'
    >>> format_number(-0.2, "en", signed=True)  # rounds to zero: no sign ("+0" would read as a gain)
    '0'
    >>> format_number(0.0, "en", 2, signed=True)  # no change at all: no sign, no decimals
    '0'
    """
    if _missing(x):
        return "—"
    if signed and x == 0:
        return "0"
    if signed and round(x, decimals) == 0:
        signed = False
    return _localise(f"{x:+z,.{decimals}f}" if signed else f"{x:z,.{decimals}f}", lang)


def format_pct(x: float | None, lang: str = "fr", decimals: int = 0, signed: bool = False) -> str:
    """Share 0–1 → ``"92 %"`` (French, narrow no-break space) or ``"92%"`` (English); a value that rounds
    to zero has no minus sign.

    >>> format_pct(-0.00002, "en", 2, signed=True)  # rounds to zero: no sign
    '0.00%'
    >>> format_pct(0.0, "en", 2, signed=True)  # no change at all: no sign, no decimals
    '0%'
    """
    if _missing(x):
        return "—"
    v = 100 * x
    if signed and v == 0:
        return "0" + NNBSP + "%" if lang == "fr" else "0%"
    if signed and round(v, decimals) == 0:
        signed = False
    s = _localise(f"{v:+z,.{decimals}f}" if signed else f"{v:z,.{decimals}f}", lang)
    return s + NNBSP + "%" if lang == "fr" else s + "%"


def format_value(x: float | None, lang: str = "fr", signed: bool = False) -> str:
    """An indicator value of any size: no decimal from 100, one from 10, else two (``v85``, ``%PL``…)."""
    if _missing(x):
        return "—"
    decimals = 0 if abs(x) >= 100 else 1 if abs(x) >= 10 else 2
    return format_number(x, lang, decimals, signed)


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
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, float):
        return repr(x)
    return str(x)


def mode_label(mode: str, lang: str) -> str:
    """A mode's name; a comma-separated list of modes (an impact study's ``car,heavy``) name by name."""
    return ", ".join(MODE_NAMES[lang].get(m, m) for m in mode.split(","))


def placebo_label(label: str, lang: str) -> str:
    """A placebo of :mod:`scenarios.impact` in words: ``control X`` (a control sensor treated as if it had
    had the intervention), ``date 2024-11-11`` (the estimate at a fake start date); other labels as they are."""
    kind, _, rest = label.partition(" ")
    if kind == "control" and rest:
        return LABELS[lang]["placebo_control"]  # the sensor is in its own column
    if kind == "date" and rest:
        try:
            return LABELS[lang]["placebo_date"].format(date=format_date(dt.date.fromisoformat(rest), lang))
        except ValueError:
            return label
    return label


#: Indicator codes (:mod:`sensors_io.indicators`, :mod:`scenarios.deltas`) as a reader names them; an
#: unknown code is shown as is. The CSV files and ``data-value`` keep the codes.
INDICATOR_NAMES: dict[str, dict[str, str]] = {
    "fr": {"tmja": "TMJA", "tmjo": "TMJO", "tmjm": "TMJM", "weekend": "Moyenne du week-end",
           "tmj": "TMJ de la période", "hpm": "HPM (heure de pointe du matin)",
           "hps": "HPS (heure de pointe du soir)", "hpm_hour": "Début de la HPM", "hps_hour": "Début de la HPS",
           "q30": "Q30 (30ᵉ heure la plus chargée)",
           "k30": "K30 (Q30 / TMJA)", "pct_heavy": "Part de poids lourds", "uvp": "TMJA en UVP",
           "summer_index": "Indice estival", "peak_day_index": "Indice du jour de pointe", "v50": "V50",
           "v85": "V85", "tmja_spread": "Écart entre estimateurs du TMJA", "longest_gap": "Plus longue lacune",
           "tmja_flag": "Alerte sur le TMJA", "hours_above_saturation": "Heures au-delà du seuil de saturation",
           "vc_max": "Rapport débit / capacité maximal"},
    "en": {"tmja": "AADT (TMJA)", "tmjo": "Working-day mean (TMJO)", "tmjm": "Monthly mean (TMJM)",
           "weekend": "Weekend mean", "tmj": "Mean daily traffic of the period", "hpm": "AM peak hour (HPM)",
           "hps": "PM peak hour (HPS)", "hpm_hour": "AM peak starts at", "hps_hour": "PM peak starts at",
           "q30": "Q30 (30th busiest hour)", "k30": "K30 (Q30 / AADT)", "pct_heavy": "Heavy-vehicle share",
           "uvp": "AADT in PCU", "summer_index": "Summer index", "peak_day_index": "Peak-day index",
           "v50": "V50", "v85": "V85", "tmja_spread": "Spread of AADT estimators", "longest_gap": "Longest gap",
           "tmja_flag": "AADT warning", "hours_above_saturation": "Hours above the saturation threshold",
           "vc_max": "Peak volume / capacity ratio"},
}
#: Units of the indicators contract as a reader writes them.
UNIT_NAMES: dict[str, dict[str, str]] = {
    "fr": {"veh/day": "véh/j", "veh/h": "véh/h", "bikes/day": "vélos/j", "bikes/h": "vélos/h",
           "pedestrians/day": "piétons/j", "pedestrians/h": "piétons/h", "scooters/day": "trottinettes/j",
           "scooters/h": "trottinettes/h", "uvp/day": "UVP/j", "uvp/h": "UVP/h", "days": "jours",
           "ratio": "ratio", "flag": "alerte", "veh": "véhicules", "bikes": "vélos", "pedestrians": "piétons",
           "scooters": "trottinettes"},
    "en": {"uvp/day": "PCU/day", "uvp/h": "PCU/h", "veh": "vehicles"},
}
#: TMJA estimators (INDICATORS.md §1.2) as a reader names them.
ESTIMATOR_NAMES: dict[str, dict[str, str]] = {
    "fr": {"mean_valid_days": "moyenne des jours valides", "complete_months": "mois complets",
           "aashto": "AASHTO (84 moyennes)"},
    "en": {"mean_valid_days": "mean of valid days", "complete_months": "complete months",
           "aashto": "AASHTO (84 averages)"},
}


def indicator_label(code: str, lang: str) -> str:
    return INDICATOR_NAMES[lang].get(code, code)


def unit_label(code: str, lang: str) -> str:
    return UNIT_NAMES[lang].get(code, code)


def format_hour(x: float | None, lang: str = "fr", signed: bool = False) -> str:
    """A local hour of day (an hour start, e.g. the HPM's): ``8`` → ``"8 h"`` (French), ``"8:00"`` (English);
    a signed change of hours → ``"+1 h"``.

    >>> format_hour(8.0, "fr"), format_hour(17.0, "en"), format_hour(-1.0, "fr", signed=True)
    ('8\u202fh', '17:00', '-1\u202fh')
    """
    if _missing(x):
        return "—"
    if signed and x == 0:  # no change at all
        return f"0{NNBSP}h"
    if signed:
        return f"{x:+z.0f}{NNBSP}h"
    return f"{x:.0f}{NNBSP}h" if lang == "fr" else f"{x:.0f}:00"


def _mode_key(mode: str) -> tuple[int, str]:
    return (MODE_ORDER.index(mode) if mode in MODE_ORDER else len(MODE_ORDER), mode)


def format_instant(ts: dt.datetime, lang: str = "fr", tz: str = TZ) -> str:
    """An instant in the town's local time, in words: ``5 janvier 2026 à 10 h 30 (Europe/Paris)`` /
    ``5 January 2026, 10:30 (Europe/Paris)``; a naive datetime is read as UTC."""
    local = (ts if ts.tzinfo else ts.replace(tzinfo=dt.UTC)).astimezone(ZoneInfo(tz))
    if lang == "fr":
        return f"{format_date(local.date(), lang)} à {local.hour}{NNBSP}h{NNBSP}{local.minute:02d} ({tz})"
    return f"{format_date(local.date(), lang)}, {local:%H:%M} ({tz})"


def _sorted(frame: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """Deterministic order: ``keys`` first (``mode`` in :data:`MODE_ORDER`), then every other column."""
    rank = "__mode_rank"
    f = frame
    by = []
    for k in keys:
        if k not in f.columns:
            continue
        if k == "mode":
            order = pl.col("mode").replace_strict(MODE_ORDER, list(range(len(MODE_ORDER))),
                                                  default=len(MODE_ORDER), return_dtype=pl.Int32)
            f = f.with_columns(order.alias(rank))
            by.append(rank)
        by.append(k)
    by += [c for c in frame.columns if c not in by and frame.schema[c] != pl.Null]
    if not by:
        return frame
    return f.sort(by, nulls_last=True, maintain_order=True).drop(rank, strict=False)


# --------------------------------------------------------------------------------------------------
# numbers behind the charts
# --------------------------------------------------------------------------------------------------
def _forecasts(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame if it follows the forecasts contract, an empty contract frame if it is empty and bare."""
    if frame.is_empty() and not {"start_utc", "yhat"} <= set(frame.columns):
        return pl.DataFrame(schema=FORECAST_SCHEMA)
    missing = [c for c in ("sensor_id", "mode", "direction", "start_utc", "yhat", "yhat_lower", "yhat_upper")
               if c not in frame.columns]
    if missing:
        raise ValueError(f"report forecasts: missing column(s) {', '.join(missing)}; expected the forecasts "
                         f"contract ({', '.join(FORECAST_SCHEMA)})")
    return frame


def chart_frames(data: ReportData, tz: str | None = None) -> dict[str, pl.DataFrame]:
    """The numbers each chart draws: ``daily_totals`` and ``daily_profile`` (local time), per mode."""
    tz = tz or data.tz
    start, end = data.spec.period.start, data.spec.period.end
    cols = ["yhat", "yhat_lower", "yhat_upper"]

    def local(f: pl.DataFrame) -> pl.DataFrame:
        loc = pl.col("start_utc").dt.convert_time_zone(tz)
        return _forecasts(f).with_columns(date=loc.dt.date(), hour=loc.dt.hour().cast(pl.Int8)).filter(
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


def affected_sensors(data: ReportData) -> list[str]:
    """Sensors the scenario changes, sorted: ``data.affected_sensors``, else those whose scenario forecast
    differs from the baseline at some hour (relative tolerance 1e-9) or has no baseline hour to match."""
    if data.affected_sensors is not None:
        return sorted(data.affected_sensors)
    keys = ["sensor_id", "mode", "direction", "start_utc"]
    b = _forecasts(data.baseline).select(*keys, _b=pl.col("yhat"))
    s = _forecasts(data.scenario).select(*keys, _s=pl.col("yhat"))
    j = s.join(b, on=keys, how="left")
    tol = 1e-9 * pl.max_horizontal(pl.col("_b").abs(), pl.lit(1.0))
    changed = j.filter(pl.col("_b").is_null() | ((pl.col("_s") - pl.col("_b")).abs() > tol))
    return sorted(changed.get_column("sensor_id").drop_nulls().unique().to_list())


# --------------------------------------------------------------------------------------------------
# sites and the map
# --------------------------------------------------------------------------------------------------
SITE_FRAME_SCHEMA = {"marker": pl.Int64, "site_id": pl.String, "site_name": pl.String, "lat": pl.Float64,
                     "lon": pl.Float64, "sensors": pl.String, "affected": pl.Boolean}


def _links(data: ReportData) -> pl.DataFrame:
    """(sensor_id, site_id) pairs, unique and sorted."""
    links = data.sensor_sites
    if links is None and {"sensor_id", "site_id"} <= set(data.sites.columns):
        links = data.sites
    if links is None or links.is_empty():
        return pl.DataFrame(schema={"sensor_id": pl.String, "site_id": pl.String})
    links = links.select(pl.col("sensor_id").cast(pl.String), pl.col("site_id").cast(pl.String))
    return links.drop_nulls().unique().sort("sensor_id", "site_id")


def _sites(data: ReportData) -> pl.DataFrame:
    """One row per site_id (site_id, site_name, lat, lon): the first after sorting, when a site repeats."""
    s = data.sites
    if "site_id" not in s.columns or s.is_empty():
        return pl.DataFrame(schema={"site_id": pl.String, "site_name": pl.String, "lat": pl.Float64, "lon": pl.Float64})
    def col(name: str, dtype: pl.DataType) -> pl.Expr:
        return (pl.col(name).cast(dtype) if name in s.columns else pl.lit(None, dtype)).alias(name)

    s = s.select(col("site_id", pl.String), col("site_name", pl.String), col("lat", pl.Float64),
                 col("lon", pl.Float64)).drop_nulls("site_id")
    s = s.sort("site_id", "site_name", "lat", "lon", nulls_last=True)
    return s.unique("site_id", keep="first", maintain_order=True)


def _site_names(data: ReportData) -> dict[str, str]:
    """sensor_id → name of its site (the first site by site_id when a sensor has several)."""
    j = _links(data).join(_sites(data).select("site_id", "site_name"), on="site_id", how="inner")
    out: dict[str, str] = {}
    for sensor, name in j.sort("sensor_id", "site_id").select("sensor_id", "site_name").rows():
        if name is not None:
            out.setdefault(sensor, name)
    return out


def _street_name(site_name: str) -> str:
    """A site's name for running text: without the demo town's "(données synthétiques)" mark (the report's
    banner says it once)."""
    return site_name.removesuffix(SYNTHETIC_SUFFIX)


def with_street_names(text: str, names: dict[str, str]) -> str:
    """A hypothesis text with the sensor ids it names in running text preceded by their site's name:
    ``report : CPT-QUAI-BERIGNY 60 %`` → ``report : Quai Bérigny (port) (CPT-QUAI-BERIGNY) 60 %``; an id
    its own brackets follow (``CPT-X (CPT-X, E)``: no street in the file) becomes the name alone. Ids in
    brackets (after a street the scenario file names, in a group's list) stay as they are."""
    if not names:
        return text
    ids = "|".join(re.escape(s) for s in sorted(names, key=len, reverse=True))
    out, last = [], 0
    for m in re.finditer(rf"(?<![\w-])(?:{ids})(?![\w-])", text):
        before = text[:m.start()]
        if before.count("(") > before.count(")"):  # inside brackets
            continue
        sid, name = m.group(0), _street_name(names[m.group(0)])
        own = text.startswith(f" ({sid}", m.end())
        out += [text[last:m.start()], name if own else f"{name} ({sid})"]
        last = m.end()
    return "".join(out) + text[last:]


def _has_position(lat: float | None, lon: float | None) -> bool:
    # (0, 0) is the usual placeholder of an export without positions, in the Gulf of Guinea.
    return (not _missing(lat) and not _missing(lon) and -90 <= lat <= 90 and -180 <= lon <= 180
            and not (lat == 0 and lon == 0))


def site_frame(data: ReportData) -> pl.DataFrame:
    """The numbers behind the map: every site, its marker number (null without coordinates), its sensors
    (``;``-separated) and whether one of them is changed by the scenario; sorted by site_id."""
    affected = set(affected_sensors(data))
    sensors: dict[str, list[str]] = {}
    for sensor, site in _links(data).rows():
        sensors.setdefault(site, []).append(sensor)
    rows, marker = [], 0
    for site_id, name, lat, lon in _sites(data).rows():
        mine = sorted(sensors.get(site_id, []))
        placed = _has_position(lat, lon)
        marker += placed
        rows.append({"marker": marker if placed else None, "site_id": site_id, "site_name": name, "lat": lat,
                     "lon": lon, "sensors": "; ".join(mine),
                     "affected": bool(affected & set(mine)) or site_id in affected})
    return pl.DataFrame(rows, schema=SITE_FRAME_SCHEMA)


def _f(x: float) -> str:
    return f"{x:.1f}"


#: Where a marker's number may go, tried in order: (dx, dy) of the text anchor, text-anchor.
_LABEL_SPOTS = ((8.0, -6.0, "start"), (8.0, 15.0, "start"), (-8.0, -6.0, "end"), (-8.0, 15.0, "end"),
                (0.0, -11.0, "middle"), (0.0, 21.0, "middle"))


def _place_labels(points: list[dict[str, Any]]) -> None:
    """Put each marker's number where it hides no other number and no marker (greedy, in marker order;
    the first spot when none is free). Sets ``tx``, ``ty`` and ``anchor``."""
    taken: list[tuple[float, float, float, float]] = []
    discs = [(p["x"], p["y"], float(p["r"]) + 1) for p in points]

    def box(p: dict[str, Any], dx: float, dy: float, anchor: str) -> tuple[float, float, float, float]:
        w, x = 7.0 * len(str(p["marker"])), p["x"] + dx
        x0 = x if anchor == "start" else x - w if anchor == "end" else x - w / 2
        return (x0, p["y"] + dy - 10, x0 + w, p["y"] + dy + 1)

    def free(b: tuple[float, float, float, float], me: dict[str, Any]) -> bool:
        if any(b[0] < t[2] and t[0] < b[2] and b[1] < t[3] and t[1] < b[3] for t in taken):
            return False
        return not any(
            (max(b[0], min(cx, b[2])) - cx) ** 2 + (max(b[1], min(cy, b[3])) - cy) ** 2 < r ** 2
            for (cx, cy, r), p in zip(discs, points, strict=True) if p is not me)

    for p in points:
        spots = [(dx, dy, a, box(p, dx, dy, a)) for dx, dy, a in _LABEL_SPOTS]
        dx, dy, anchor, b = next((s for s in spots if free(s[3], p)), spots[0])
        taken.append(b)
        p.update(tx=_f(p["x"] + dx), ty=_f(p["y"] + dy), anchor=anchor)


def _site_map(sites: pl.DataFrame) -> dict[str, Any] | None:
    """Geometry of the inline SVG map (equirectangular, x scaled by cos of the mean latitude); ``None``
    when no site has coordinates. Strings stay raw here: the template escapes them."""
    placed = sites.filter(pl.col("marker").is_not_null()).sort("marker")
    if placed.is_empty():
        return None
    lats, lons = placed.get_column("lat").to_list(), placed.get_column("lon").to_list()
    k = math.cos(math.radians((min(lats) + max(lats)) / 2))
    xs = [lon * k for lon in lons]
    cx, cy = (min(xs) + max(xs)) / 2, (min(lats) + max(lats)) / 2
    xspan, yspan = max(max(xs) - min(xs), MAP_MIN_SPAN), max(max(lats) - min(lats), MAP_MIN_SPAN)
    scale = min((MAP_WIDTH - 2 * MAP_PAD) / xspan, (MAP_MAX_HEIGHT - 2 * MAP_PAD) / yspan)  # px per degree
    width, height = MAP_WIDTH, round(yspan * scale + 2 * MAP_PAD)
    points = []
    for r, x in zip(placed.iter_rows(named=True), xs, strict=True):
        px, py = width / 2 + (x - cx) * scale, height / 2 - (r["lat"] - cy) * scale
        points.append({"marker": r["marker"], "site_id": r["site_id"], "name": r["site_name"] or r["site_id"],
                       "sensors": r["sensors"], "affected": r["affected"], "x": px, "y": py,
                       "cx": _f(px), "cy": _f(py), "r": "7" if r["affected"] else "5"})
    _place_labels(points)
    # Scale bar: the largest round distance not longer than a fifth of the width.
    m_per_px = M_PER_DEG / scale
    metres = max([m for m in _SCALE_STEPS_M if m / m_per_px <= width / 5] or [_SCALE_STEPS_M[0]])
    length = metres / m_per_px
    x0, y0 = MAP_PAD / 2, height - MAP_PAD / 2
    label = f"{metres // 1000} km" if metres >= 1000 else f"{metres} m"
    return {
        "width": _f(width), "height": _f(height), "points": points,
        # the affected sites are drawn last, on top of the others
        "draw_order": sorted(points, key=lambda p: (p["affected"], p["marker"])),
        "scale_path": f"M{_f(x0)} {_f(y0 - 5)}V{_f(y0)}H{_f(x0 + length)}V{_f(y0 - 5)}",
        "scale_label": label.replace(" ", NNBSP), "scale_tx": _f(x0 + length + 6), "scale_ty": _f(y0),
        "north_path": f"M{_f(width - 22)} {_f(34)}L{_f(width - 16)} {_f(14)}L{_f(width - 10)} {_f(34)}"
                      f"L{_f(width - 16)} {_f(28)}Z",
        "north_tx": _f(width - 16), "north_ty": _f(48),
    }


# --------------------------------------------------------------------------------------------------
# tables: the frames (sorted, what the CSV holds) and their cells
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Col:
    """A column of an optional section: frame column, label key in :data:`LABELS`, cell kind, required."""

    name: str
    label: str
    kind: str = "text"
    required: bool = True


_NUMERIC = {"count", "signed_count", "value", "signed_value", "share", "signed_pct", "signed_pct2", "hours",
            "signed_hours", "dec2"}

#: Columns of the optional sections of :class:`ReportData`, in display order. ``required=False`` columns
#: are shown when present; ``balanced``, ``hours_change``, ``placebo_n`` and ``placebo_as_large`` are
#: computed here. Units: ``*_pct`` in percent; ``coverage``/``imputed_share`` as shares 0–1.
SECTION_COLUMNS: dict[str, tuple[Col, ...]] = {
    "mass_balance": (
        Col("target", "target"), Col("mode", "mode", "mode", False),
        Col("closed_volume", "closed_volume", "count"), Col("diverted", "diverted", "count"),
        Col("evaporated", "evaporated", "count"), Col("induced", "induced", "count"),
        Col("residual", "residual", "signed_count"), Col("residual_pct", "residual_pct", "signed_pct2"),
        Col("balanced", "balanced", "check", False),
    ),
    "indicator_deltas": (
        Col("sensor_id", "sensor"), Col("mode", "mode", "mode", False), Col("direction", "direction", "direction", False),
        Col("indicator", "indicator", "indicator"), Col("unit", "unit", "unit", False),
        Col("baseline", "baseline_value", "value"), Col("scenario", "scenario_value", "value"),
        Col("delta", "delta", "signed_value"), Col("delta_pct", "delta_pct", "signed_pct"),
    ),
    "saturation": (
        Col("sensor_id", "sensor"), Col("mode", "mode", "mode", False), Col("direction", "direction", "direction", False),
        Col("threshold", "threshold", "count", False),
        Col("hours_baseline", "hours_baseline", "hours"), Col("hours_scenario", "hours_scenario", "hours"),
        Col("hours_change", "hours_change", "signed_hours", False),
    ),
    "impact": (
        Col("study", "study", "study", False), Col("start", "intervention", "period", False),
        Col("sensor_id", "sensor"), Col("mode", "mode", "mode", False), Col("direction", "direction", "direction", False),
        Col("unit", "unit", "unit", False),
        Col("effect", "impact_effect", "signed_value"), Col("lower", "lower80", "signed_value"),
        Col("upper", "upper80", "signed_value"), Col("effect_pct", "effect_pct", "signed_pct", False),
        Col("placebo_as_large", "placebo_rank", "rank", False),
    ),
    "impact_placebos": (
        Col("study", "study", "study", False),
        Col("sensor_id", "sensor"), Col("mode", "mode", "mode", False), Col("direction", "direction", "direction", False),
        Col("placebo", "placebo", "placebo"), Col("effect", "impact_effect", "signed_value"),
        Col("lower", "lower80", "signed_value", False), Col("upper", "upper80", "signed_value", False),
    ),
    "quality": (
        Col("sensor_id", "sensor"), Col("mode", "mode", "mode", False), Col("direction", "direction", "direction", False),
        Col("days", "days", "count", False), Col("valid_days", "valid_days", "count", False),
        Col("coverage", "coverage", "share"), Col("imputed_share", "imputed", "share"),
    ),
}
_SECTION_KEYS = {
    "mass_balance": ["target", "mode"], "indicator_deltas": ["sensor_id", "mode", "direction", "indicator"],
    "saturation": ["sensor_id", "mode", "direction"], "impact": ["study", "sensor_id", "mode", "direction"],
    "impact_placebos": ["study", "sensor_id", "mode", "direction", "placebo"], "quality": ["sensor_id", "mode", "direction"],
}
_DERIVED = {"balanced", "hours_change", "placebo_as_large"}


#: Columns a cell kind reads beside its own (kept as text in the section's frame and CSV, not shown).
_COMPANIONS = {"study": ("title_fr", "title_en"), "period": ("end",)}


def _checked(name: str, frame: pl.DataFrame) -> pl.DataFrame:
    """The section's columns, numeric ones as Float64; a missing column raises a ValueError naming it."""
    cols = SECTION_COLUMNS[name]
    missing = [c.name for c in cols if c.required and c.name not in frame.columns]
    if missing:
        expected = ", ".join(c.name + ("" if c.required else " (optional)") for c in cols if c.name not in _DERIVED)
        raise ValueError(f"report section {name!r}: missing column(s) {', '.join(missing)}; expected {expected}")
    out = []
    for c in cols:
        if c.name not in frame.columns or c.name in _DERIVED:
            continue
        e = pl.col(c.name)
        try:
            frame.select(e.cast(pl.Float64 if c.kind in _NUMERIC else pl.String))
        except pl.exceptions.PolarsError as exc:
            raise ValueError(f"report section {name!r}: column {c.name!r} should be "
                             f"{'numeric' if c.kind in _NUMERIC else 'text'} ({exc.__class__.__name__})") from None
        out.append(e.cast(pl.Float64 if c.kind in _NUMERIC else pl.String))
        out += [pl.col(k).cast(pl.String) for k in _COMPANIONS.get(c.kind, ()) if k in frame.columns]
    return frame.select(out)


def section_frame(data: ReportData, name: str) -> pl.DataFrame | None:
    """An optional section's numbers, checked, derived columns added, sorted; ``None`` when not given."""
    frame = getattr(data, name)
    if frame is None:
        return None
    f = _checked(name, frame)
    if name == "mass_balance":
        f = f.with_columns(balanced=pl.col("residual_pct").abs() <= MASS_BALANCE_TOLERANCE_PCT)
    elif name == "saturation":
        f = f.with_columns(hours_change=pl.col("hours_scenario") - pl.col("hours_baseline"))
    elif name == "impact" and data.impact_placebos is not None:
        f = _placebo_rank(f, _checked("impact_placebos", data.impact_placebos))
    return _sorted(f, _SECTION_KEYS[name])


def _placebo_rank(impact: pl.DataFrame, placebos: pl.DataFrame) -> pl.DataFrame:
    """Add ``placebo_n`` and ``placebo_as_large``: how many placebos of the same series have an effect at
    least as large in absolute value (a rank test: 1 of 20 is about p = 0.05)."""
    # placebos belong to a study (its date and control placebos, on the treated street's scale) when the
    # frames say which; else to the series
    keys = (["study"] if "study" in impact.columns and "study" in placebos.columns else
            [k for k in ("sensor_id", "mode", "direction") if k in impact.columns and k in placebos.columns])
    by_series: dict[tuple, list[float]] = {}
    for r in placebos.iter_rows(named=True):
        if not _missing(r["effect"]):
            by_series.setdefault(tuple(r[k] for k in keys), []).append(abs(r["effect"]))
    n, large = [], []
    for r in impact.iter_rows(named=True):
        p = by_series.get(tuple(r[k] for k in keys), [])
        n.append(len(p))
        large.append(None if _missing(r["effect"]) or not p else sum(v >= abs(r["effect"]) for v in p))
    return impact.with_columns(placebo_n=pl.Series(n, dtype=pl.Int64),
                               placebo_as_large=pl.Series(large, dtype=pl.Int64))


def _cell(value: Any, kind: str, lang: str, row: dict[str, Any] | None = None) -> dict[str, Any]:
    """Text shown, exact ``data-value`` (``None``: no attribute), CSS class and ``code`` (shown as code)."""
    return {"code": False, **_cell_content(value, kind, lang, row)}


def _cell_content(value: Any, kind: str, lang: str, row: dict[str, Any] | None) -> dict[str, Any]:
    if kind == "text":
        return {"text": "" if value is None else str(value), "raw": None, "cls": "txt"}
    if kind == "mode":
        return {"text": "" if value is None else mode_label(value, lang), "raw": None, "cls": "txt"}
    if kind == "direction":  # the reader's words for the pipeline's own codes; data-value keeps the code
        return {"text": "" if value is None else direction_label(value, lang), "raw": value, "cls": "txt"}
    if kind in ("indicator", "unit"):  # the reader's name; data-value keeps the code
        label = indicator_label if kind == "indicator" else unit_label
        return {"text": "" if value is None else label(value, lang), "raw": value, "cls": "txt"}
    if kind in ("value", "signed_value") and str((row or {}).get("indicator", "")).endswith("_hour"):
        return {"text": format_hour(value, lang, signed=kind == "signed_value"), "raw": raw_value(value), "cls": None}
    if kind in ("value", "signed_value") and (row or {}).get("indicator") == "hours_above_saturation":
        # whole hours: "18", "+18", "0" (format_value gave "0,00" and "18,0")
        return {"text": format_number(value, lang, signed=kind == "signed_value"), "raw": raw_value(value), "cls": None}
    if kind == "signed_value" and (row or {}).get("unit") == "%" and not _missing(value) and value != 0:
        # a share's change is in percentage points
        point = f"{NNBSP}pt" if lang == "fr" else " pp"
        return {"text": format_value(value, lang, signed=True) + point, "raw": raw_value(value), "cls": None}
    if kind == "study":  # the study's title in the reader's language; data-value keeps its name
        title = (row or {}).get(f"title_{lang}")
        return {"text": "" if value is None else str(title or value), "raw": value, "cls": "txt"}
    if kind == "period":  # start (this cell's value) – the row's end, local dates
        end = (row or {}).get("end")
        if value is None:
            return {"text": "", "raw": None, "cls": "txt"}
        first, last = dt.date.fromisoformat(str(value)), None if end is None else dt.date.fromisoformat(str(end))
        text = format_date(first, lang) if last is None or last == first else \
            f"{format_date(first, lang)} – {format_date(last, lang)}"
        return {"text": text, "raw": f"{value}/{end}" if end is not None else str(value), "cls": "txt"}
    if kind == "placebo":  # "control X" / "date 2024-11-11" (scenarios.impact) in words; data-value keeps it
        text = "" if value is None else placebo_label(str(value), lang)
        return {"text": text, "raw": value, "cls": "txt"}
    if kind == "check":
        if value is None:
            return {"text": "—", "raw": "", "cls": "check"}
        return {"text": "✓" if value else "✗", "raw": raw_value(bool(value)),
                "cls": "check ok" if value else "check bad"}
    if kind == "rank":
        n = (row or {}).get("placebo_n") or 0
        return {"text": "—" if value is None else f"{value}{NNBSP}/{NNBSP}{n}",
                "raw": "" if value is None else f"{value}/{n}", "cls": None}
    text = {
        "count": lambda v: format_number(v, lang),
        "hours": lambda v: format_number(v, lang),
        "signed_count": lambda v: format_number(v, lang, signed=True),
        "signed_hours": lambda v: format_number(v, lang, signed=True),
        "dec2": lambda v: format_number(v, lang, 2),
        "value": lambda v: format_value(v, lang),
        "signed_value": lambda v: format_value(v, lang, signed=True),
        "share": lambda v: format_pct(v, lang),
        "signed_pct": lambda v: format_pct(None if _missing(v) else v / 100, lang, 1, signed=True),
        "signed_pct2": lambda v: format_pct(None if _missing(v) else v / 100, lang, 2, signed=True),
    }[kind](value)
    return {"text": text, "raw": raw_value(value), "cls": None}


def _head(text: str, kind: str = "text") -> dict[str, Any]:
    """A column header, aligned like its cells (numbers to the right)."""
    return {"text": text, "cls": "txt" if kind in ("text", "mode", "indicator", "unit", "study", "period", "placebo")
            else "num"}


def _table(name: str, frame: pl.DataFrame, lang: str, names: dict[str, str]) -> dict[str, Any]:
    """Headers and rows of a section table; a Site column first when the section is per sensor."""
    t = LABELS[lang]
    cols = [c for c in SECTION_COLUMNS[name] if c.name in frame.columns]
    with_site = "sensor_id" in frame.columns and bool(names)
    headers = ([_head(t["site"])] if with_site else []) + [_head(t[c.label], c.kind) for c in cols]
    rows = []
    for r in frame.iter_rows(named=True):
        cells = [_cell(names.get(r["sensor_id"], ""), "text", lang)] if with_site else []
        cells += [_cell(r[c.name], c.kind, lang, r) for c in cols]
        rows.append({"sensor": r.get("sensor_id"), "cells": cells})
    return {"id": name.replace("_", "-") + "-table", "headers": headers, "rows": rows, "after": None}


#: An indicator change smaller than this is no change (the sums are exact; this only absorbs float noise).
UNCHANGED_TOLERANCE = 1e-9


def _changed_sensors_first(frame: pl.DataFrame) -> tuple[pl.DataFrame, list[str]]:
    """The indicator-delta rows of the sensors the scenario changes, and the other sensors' ids (sorted).
    When the scenario changes none, every row is kept (the table then shows that nothing moves)."""
    # a value on one side only (null delta) is a change too
    changed = (pl.col("delta").abs() > UNCHANGED_TOLERANCE).fill_null(
        pl.col("baseline").is_null() != pl.col("scenario").is_null())
    moved = frame.filter(changed).get_column("sensor_id").unique()
    if moved.is_empty():
        return frame, []
    unchanged = sorted(set(frame.get_column("sensor_id").to_list()) - set(moved.to_list()))
    return frame.filter(pl.col("sensor_id").is_in(moved.implode())), unchanged


def indicator_frame(data: ReportData) -> pl.DataFrame:
    """The annual TMJA / TMJO shown per series: latest year, direction ``all`` where there is one, one
    estimator (the only one, else TMJA's default, else the first alphabetically)."""
    schema = {"site_name": pl.String, "sensor_id": pl.String, "mode": pl.String, "direction": pl.String,
              "period": pl.String, "tmja": pl.Float64, "tmjo": pl.Float64, "coverage": pl.Float64,
              "imputed_share": pl.Float64, "estimator": pl.String}
    if data.indicators.is_empty():
        return pl.DataFrame(schema=schema)
    ind = data.indicators.filter(
        pl.col("indicator").is_in(["tmja", "tmjo"]) & pl.col("period").str.contains(r"^\d{4}$"))
    preferred = pl.col("estimator").is_null() | (pl.col("estimator") == DEFAULT_TMJA_ESTIMATOR)
    ind = (ind.sort("sensor_id", "mode", "direction", "period", "indicator", ~preferred, "estimator", "value")
           .unique(["sensor_id", "mode", "direction", "period", "indicator"], keep="first", maintain_order=True))
    latest = ind.group_by("sensor_id", "mode", "direction").agg(period=pl.col("period").max())
    ind = ind.join(latest, on=["sensor_id", "mode", "direction", "period"], how="semi")
    # An urbanist reads both directions together ("all"); single directions stay in the warehouse.
    summed = ind.filter(pl.col("direction") == "all")
    ind = pl.concat([summed, ind.join(summed.select("sensor_id", "mode").unique(), on=["sensor_id", "mode"],
                                      how="anti")])
    names = _site_names(data)
    by_key = {(r["sensor_id"], r["mode"], r["direction"], r["period"], r["indicator"]): r
              for r in ind.iter_rows(named=True)}
    keys = sorted({k[:4] for k in by_key}, key=lambda k: (k[0], _mode_key(k[1]), k[2], k[3]))
    rows = []
    for k in keys:
        tmja, tmjo = by_key.get((*k, "tmja")), by_key.get((*k, "tmjo"))
        ref = tmja or tmjo
        rows.append({"site_name": names.get(k[0]), "sensor_id": k[0], "mode": k[1], "direction": k[2],
                     "period": k[3], "tmja": tmja and tmja["value"], "tmjo": tmjo and tmjo["value"],
                     "coverage": ref["coverage"], "imputed_share": ref["imputed_share"],
                     "estimator": ref["estimator"]})
    return pl.DataFrame(rows, schema=schema)


def _no_valid_day_quality(frame: pl.DataFrame, lang: str) -> str | None:
    """The note under the data-coverage table naming the sensors with no valid day (0 % coverage)."""
    if "valid_days" not in frame.columns:
        return None
    zero = frame.filter(pl.col("valid_days") == 0)
    if zero.is_empty():
        return None
    # a sensor with no valid day in any of its series is named alone; else the series at zero are named
    whole = set(frame.group_by("sensor_id").agg(pl.col("valid_days").max() == 0).filter(pl.col("valid_days"))
                ["sensor_id"].to_list())
    sensors = sorted(whole) + sorted({
        f"{r['sensor_id']} ({mode_label(r['mode'], lang)}"
        + (f", {direction_label(r['direction'], lang)})" if r.get("direction") not in (None, "all") else ")")
        for r in zero.filter(~pl.col("sensor_id").is_in(sorted(whole))).iter_rows(named=True)})
    verb = {"fr": ("a", "ont"), "en": ("has", "have")}[lang][len(sensors) > 1]
    return LABELS[lang]["no_valid_day_quality"].format(sensors=", ".join(sensors), verb=verb,
                                                      hours=24 - MAX_MISSING_HOURS)


def _no_valid_day(frame: pl.DataFrame, lang: str) -> str | None:
    """The note under the indicator table naming the sensors shown without TMJA or TMJO, if any."""
    # estimator A (or none): a null TMJA of estimator B or C has other reasons (no complete month, an
    # empty dow × month cell)
    empty = frame.filter(pl.col("tmja").is_null() & pl.col("tmjo").is_null()
                         & (pl.col("estimator").is_null() | (pl.col("estimator") == "mean_valid_days")))
    if empty.is_empty():
        return None
    sensors = sorted(set(empty["sensor_id"].to_list()))
    return LABELS[lang]["no_valid_day"].format(sensors=", ".join(sensors), hours=24 - MAX_MISSING_HOURS)


def _indicator_rows(frame: pl.DataFrame, lang: str) -> list[dict]:
    rows = []
    for r in frame.iter_rows(named=True):
        cells = {k: None if r[k] is None else {"text": format_number(r[k], lang), "raw": raw_value(r[k])}
                 for k in ("tmja", "tmjo")}
        rows.append({
            "site": r["site_name"] or "", "sensor_id": r["sensor_id"], "mode": mode_label(r["mode"], lang),
            "direction": direction_label(r["direction"], lang), "period": r["period"], "tmja": cells["tmja"], "tmjo": cells["tmjo"],
            "coverage": {"text": format_pct(r["coverage"], lang), "raw": raw_value(r["coverage"])},
            "imputed": {"text": format_pct(r["imputed_share"], lang), "raw": raw_value(r["imputed_share"])},
            "estimator": ESTIMATOR_NAMES[lang].get(r["estimator"], r["estimator"]) if r["estimator"] else "",
        })
    return rows


def _is_naive(model: str) -> bool:
    return model == MODEL_SNAIVE or model.startswith("seasonal_naive")


def _model_order(model: str) -> tuple[bool, str]:
    return (not _is_naive(model), model)


def score_frame(data: ReportData) -> pl.DataFrame:
    """The forecast scoreboard, one row per series: the model used, its MASE, interval coverage (80 %, and
    95 % when the scores have it) and hours tested, then the MASE of every candidate (``mase_<model>``)."""
    s = data.scores
    extra = ["coverage95"] if "coverage95" in s.columns else []
    key = ["sensor_id", "mode", "direction"]
    schema = {"sensor_id": pl.String, "mode": pl.String, "direction": pl.String, "model": pl.String,
              "mase": pl.Float64, "coverage80": pl.Float64, **{c: pl.Float64 for c in extra}, "n_hours": pl.Int64}
    if s.is_empty():
        return pl.DataFrame(schema=schema)
    chosen = (s.filter(pl.col("chosen")).select(list(schema)).cast(schema)
              .sort(*key, "model").unique(key, keep="first", maintain_order=True))
    for m in sorted(s.get_column("model").drop_nulls().unique().to_list(), key=_model_order):
        per = (s.filter(pl.col("model") == m).select(*key, pl.col("mase").cast(pl.Float64).alias(f"mase_{m}"))
               .sort(*key, f"mase_{m}").unique(key, keep="first", maintain_order=True))
        chosen = chosen.join(per, on=key, how="left")
    return _sorted(chosen, key)


def _score_table(frame: pl.DataFrame, lang: str) -> dict[str, Any]:
    """Scoreboard headers, rows (chosen model's MASE cell marked) and the candidates' descriptions."""
    t = LABELS[lang]
    models = [c.removeprefix("mase_") for c in frame.columns if c.startswith("mase_")]
    covs = [c for c in ("coverage80", "coverage95") if c in frame.columns]
    headers = [*(_head(t[k]) for k in ("sensor", "mode", "direction", "model_chosen")),
               *(_head(t[c], "share") for c in covs), _head(t["n_hours"], "count"),
               # a model's name may break after its underscores (a zero-width space), never inside a word
               *({"text": f"MASE {m.replace('_', '_' + ZWSP)}", "cls": "num model"} for m in models)]
    rows, naive = [], []
    for r in frame.iter_rows(named=True):
        cells = [_cell(r["sensor_id"], "text", lang), _cell(r["mode"], "mode", lang),
                 _cell(r["direction"], "direction", lang), {**_cell(r["model"], "text", lang), "code": True}]
        cells += [_cell(r[c], "share", lang) for c in covs]
        cells.append(_cell(r["n_hours"], "count", lang))
        for m in models:
            c = {**_cell(r[f"mase_{m}"], "dec2", lang), "cls": "chosen" if m == r["model"] else None}
            cells.append(c)
        ships_naive = _is_naive(r["model"] or "")
        if ships_naive:
            naive.append(r)
        rows.append({"sensor": r["sensor_id"], "cls": "naive" if ships_naive else "model", "cells": cells})
    described = MODEL_DESCRIPTIONS[lang]
    # Issue #4: a series whose best model does not beat seasonal-naive ships seasonal-naive, and the
    # report says so in words, not only by the row's tint (the template shows it only when there are rows).
    if naive:
        shown = ", ".join(f"{r['sensor_id']} ({mode_label(r['mode'], lang)}, {direction_label(r['direction'], lang)})"
                          for r in naive[:10]) + (" …" if len(naive) > 10 else "")
        key = "naive_kept_one" if len(naive) == 1 else "naive_kept"
        summary = t[key].format(n=len(naive), total=frame.height, series=shown)
    else:
        summary = t["naive_none_one" if frame.height == 1 else "naive_none"].format(total=frame.height)
    return {"id": "scoreboard", "headers": headers, "rows": rows, "naive_summary": summary,
            "models": [{"name": m, "text": described.get(m, "")} for m in models]}


def effect_frame(daily: pl.DataFrame) -> pl.DataFrame:
    """Per mode: baseline and scenario totals over the period and the change (share, ``None`` from 0)."""
    schema = {"mode": pl.String, "baseline_total": pl.Float64, "scenario_total": pl.Float64, "change": pl.Float64}
    if daily.is_empty():
        return pl.DataFrame(schema=schema)
    tot = daily.group_by("mode").agg(b=exact_sum(pl.col("baseline_yhat")), s=exact_sum(pl.col("scenario_yhat")))
    rows = [{"mode": m, "baseline_total": b, "scenario_total": s,
             "change": (s / b - 1) if b and s is not None else None}
            for m, b, s in sorted(tot.rows(), key=lambda r: _mode_key(r[0]))]
    return pl.DataFrame(rows, schema=schema)


def _effect_rows(frame: pl.DataFrame, lang: str) -> list[dict]:
    return [{
        "mode": mode_label(r["mode"], lang),
        "baseline": {"text": format_number(r["baseline_total"], lang), "raw": raw_value(r["baseline_total"])},
        "scenario": {"text": format_number(r["scenario_total"], lang), "raw": raw_value(r["scenario_total"])},
        "change": {"text": format_pct(r["change"], lang, 1, signed=True), "raw": raw_value(r["change"])},
    } for r in frame.iter_rows(named=True)]


#: What each forecast candidate is, for the scoreboard (names from :mod:`scenarios.models`).
MODEL_DESCRIPTIONS = {
    "fr": {
        MODEL_SNAIVE: "naïf saisonnier hebdomadaire : la même heure la semaine précédente (la référence des MASE)",
        "seasonal_naive_24h": "naïf journalier : la même heure la veille",
        MODEL_HGB: "gradient boosting (Poisson) sur le calendrier, le niveau et le profil de chaque série",
        "hgb_lag": "gradient boosting (Poisson) qui lit aussi les comptages des semaines précédentes "
                   "(7 jours d'horizon au plus)",
        "mstl_ets": "décomposition MSTL (jour, semaine) et lissage exponentiel",
        "unobserved_components": "modèle à composantes inobservées (niveau local et harmoniques)",
        "ensemble_mean": "moyenne du gradient boosting et de la médiane des 5 dernières semaines (lundi–jeudi regroupés)",
        "weekday_median_5w": "médiane des 5 dernières semaines à la même heure, du lundi au jeudi regroupés "
                             "(jours fériés, ponts et événements ponctuels exclus ; ces jours-là, le gradient boosting)",
        "weekday_median_3w": "médiane des 3 dernières semaines à la même heure, du lundi au jeudi regroupés "
                             "(suit plus vite un niveau qui change)",
        "weekday_median_8w": "médiane des 8 dernières semaines à la même heure, du lundi au jeudi regroupés "
                             "(plus stable sur les petits comptages)",
        "seasonal_median_5w": "médiane des 5 dernières semaines à la même heure (jours fériés, ponts et "
                              "événements ponctuels exclus ; ces jours-là, le gradient boosting)",
        "seasonal_mean_8w": "moyenne des 8 dernières semaines à la même heure (jours fériés exclus)",
    },
    "en": {
        MODEL_SNAIVE: "weekly seasonal-naive: the same hour the week before (the MASE reference)",
        "seasonal_naive_24h": "daily naive: the same hour the day before",
        MODEL_HGB: "gradient boosting (Poisson) on the calendar and each series' level and profile",
        "hgb_lag": "gradient boosting (Poisson) that also reads the counts of the previous weeks (7-day "
                   "horizon at most)",
        "mstl_ets": "MSTL decomposition (day, week) and exponential smoothing",
        "unobserved_components": "unobserved-components model (local level and harmonics)",
        "ensemble_mean": "mean of the gradient-boosting forecast and the 5-week median (Monday–Thursday pooled)",
        "weekday_median_5w": "median of the last 5 weeks at the same hour, Monday to Thursday pooled (public "
                             "holidays, bridge days and one-off events left out; on those days, the gradient "
                             "boosting)",
        "weekday_median_3w": "median of the last 3 weeks at the same hour, Monday to Thursday pooled (follows a "
                             "changing level sooner)",
        "weekday_median_8w": "median of the last 8 weeks at the same hour, Monday to Thursday pooled (steadier on "
                             "small counts)",
        "seasonal_median_5w": "median of the last 5 weeks at the same hour (public holidays, bridge days and "
                              "one-off events left out; on those days, the gradient boosting)",
        "seasonal_mean_8w": "mean of the last 8 weeks at the same hour (public holidays left out)",
    },
}

OPTIONAL_SECTIONS = ("mass_balance", "indicator_deltas", "saturation", "impact", "impact_placebos", "quality")


def report_frames(data: ReportData, tz: str | None = None) -> dict[str, pl.DataFrame]:
    """The numbers behind every chart and table of the report, by CSV name: ``daily_totals``,
    ``daily_profile``, ``effect``, ``sites`` (the map), ``indicators``, ``scores``, and each optional
    section that is present. Same inputs in any row order → same frames."""
    frames = chart_frames(data, tz)
    frames["effect"] = effect_frame(frames["daily_totals"])
    frames["sites"] = site_frame(data)
    frames["indicators"] = indicator_frame(data)
    frames["scores"] = score_frame(data)
    for name in OPTIONAL_SECTIONS:
        f = section_frame(data, name)
        if f is not None:
            frames[name] = f
    return frames


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
    """Write each frame as ``<dir>/<name>.csv`` (atomically); returns the paths, sorted."""
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
    # Drawn here; the only data strings (mode names) are drawn as paths, never as text.
    return Markup(svg.strip())  # noqa: S704


#: Short month names for chart axes.
MONTHS_SHORT = {
    "fr": ["janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."],
    "en": ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"],
}


def short_date(d: dt.date, lang: str = "fr") -> str:
    """``3 juil.`` / ``3 Jul``: a chart's day tick."""
    return f"{d.day} {MONTHS_SHORT[lang][d.month - 1]}"


class _LocalNumbers(Formatter):
    """Tick labels as the tables write numbers (``80 000`` / ``80,000``), with as many decimals as the tick
    step needs (0.05 → 2, 0.25 → 2, 0.5 → 1, 500 → 0), the same for every tick of the axis."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.ticks: list[float] = []

    def set_locs(self, locs: Any) -> None:  # the axis gives every tick first (Formatter.locs is deprecated)
        self.ticks = [float(v) for v in locs]

    def __call__(self, x: float, pos: int | None = None) -> str:
        locs = sorted(self.ticks)
        steps = [b - a for a, b in zip(locs, locs[1:], strict=False) if b > a]
        step = min(steps) if steps else abs(x)
        decimals = next((d for d in range(5) if abs(step * 10**d - round(step * 10**d)) < 1e-6 * max(1.0, step * 10**d)),
                        4)
        return format_number(x, self.lang, decimals)


def _axis_numbers(ax: Any, lang: str) -> None:
    """The y axis' numbers as the tables write them (:class:`_LocalNumbers`)."""
    ax.yaxis.set_major_formatter(_LocalNumbers(lang))


def _day_ticks(ax: Any, n_days: int, lang: str) -> None:
    """One tick per day up to 10 days, else about 10 (whole days only, never hours), in the reader's words."""
    ax.xaxis.set_major_locator(mdates.DayLocator(interval=max(1, math.ceil(n_days / 10))))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: short_date(mdates.num2date(v).date(), lang)))


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
            ax.set_title(mode_label(mode, lang), loc="left", fontsize=9, parse_math=False)
            ax.set_ylabel(t["per_day"])
            ax.set_ylim(bottom=0)
            ax.grid(axis="y", linewidth=0.3)
            _axis_numbers(ax, lang)
            _day_ticks(ax, len(x), lang)
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
            ax.set_title(mode_label(mode, lang), loc="left", fontsize=9, parse_math=False)
            ax.set_xticks(range(0, 24, 3))
            ax.set_xlabel(t["hour"])
            ax.set_ylabel(t["per_hour"])
            ax.set_ylim(bottom=0)
            ax.grid(axis="y", linewidth=0.3)
            _axis_numbers(ax, lang)
        axes[0, 0].legend(loc="upper left", frameon=False)
        fig.tight_layout()
        return _svg(fig, "chart-profile")


def _no_chart_reason(daily: pl.DataFrame) -> str | None:
    """Why the baseline-and-scenario charts cannot be drawn (a LABELS key), ``None`` when they can."""
    has = {who: daily.height > 0 and daily.get_column(f"{who}_yhat").drop_nulls().len() > 0
           for who in ("baseline", "scenario")}
    if not has["baseline"]:
        return "no_hourly"
    if not has["scenario"]:
        return "no_scenario_rows"
    return None


# --------------------------------------------------------------------------------------------------
# rendering
# --------------------------------------------------------------------------------------------------
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined,
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
    )


def _index_href(lang: str) -> str:
    return "index.html" if lang == "fr" else f"index.{lang}.html"


def render_scenario_report(data: ReportData, lang: str = "fr") -> str:
    """The report as one HTML string (``<html lang="fr">`` or ``"en"``), every data string escaped.

    Pure and deterministic: same ``data`` (in any row order) → same string, except the one line holding
    ``<time datetime=…>`` (the generation date).
    """
    if lang not in LABELS:
        raise ValueError(f"unsupported report language {lang!r}; expected one of {sorted(LABELS)}")
    t = LABELS[lang]
    spec = data.spec
    frames = report_frames(data)
    baseline = _forecasts(data.baseline)
    cutoffs = baseline.get_column("cutoff_utc").drop_nulls() if "cutoff_utc" in baseline.columns else None
    cutoff = cutoffs.max() if cutoffs is not None and cutoffs.len() else None
    reason = _no_chart_reason(frames["daily_totals"])
    names = _site_names(data)
    shown = dict(frames)
    unchanged: list[str] = []
    if "indicator_deltas" in frames:  # an urbanist reads what moves; the CSV keeps every row
        shown["indicator_deltas"], unchanged = _changed_sensors_first(frames["indicator_deltas"])
    sections = {name: _table(name, shown[name], lang, names) for name in OPTIONAL_SECTIONS if name in frames}
    if unchanged:
        sensors = (f"{t['sensor_one']} {unchanged[0]}" if len(unchanged) == 1
                   else t["sensor_many"].format(n=len(unchanged)) + " " + ", ".join(unchanged))
        key = "unchanged_sensor" if len(unchanged) == 1 else "unchanged_sensors"
        sections["indicator_deltas"]["after"] = t[key].format(sensors=sensors, scenario=spec.name)
    if "quality" in frames:
        sections["quality"]["after"] = _no_valid_day_quality(frames["quality"], lang)
    method_items = t["method_items"].split("\n")
    if "mass_balance" in frames:
        method_items.append(t["method_mass_balance"])
    if "impact" in frames:
        method_items.append(t["method_impact"])
    sites = frames["sites"]
    ctx = {
        "lang": lang, "t": t, "title": spec.title(lang), "description": spec.description(lang),
        "scenario_name": spec.name, "index_href": _index_href(lang),
        "period_text": f"{format_date(spec.period.start, lang)} – {format_date(spec.period.end, lang)}",
        "hypotheses": [{"text": with_street_names(h.describe(lang, spec.sensor_groups), names), "note": h.note(lang)}
                       for h in spec.hypotheses],
        "synthetic": data.synthetic,
        "effect_rows": _effect_rows(frames["effect"], lang),
        "indicator_rows": _indicator_rows(frames["indicators"], lang),
        "no_valid_day": _no_valid_day(frames["indicators"], lang),
        "scores": _score_table(frames["scores"], lang),
        "chart_reason": t[reason] if reason else None,
        "daily_chart": None if reason else _daily_chart(frames["daily_totals"], lang),
        "profile_chart": None if reason else _profile_chart(frames["daily_profile"], lang),
        "map": _site_map(sites), "has_sites": sites.height > 0,
        "sites_missing": [{"site_id": r["site_id"], "name": r["site_name"] or r["site_id"], "sensors": r["sensors"]}
                          for r in sites.filter(pl.col("marker").is_null()).iter_rows(named=True)],
        "sections": sections, "has_quality": "quality" in frames,
        "method_items": method_items,
        "cutoff_text": format_instant(cutoff, lang, data.tz) if cutoff is not None else "—",
        "input_hash": data.input_hash, "generated_at": format_instant(data.generated_at, lang, data.tz),
        "generated_at_iso": data.generated_at.isoformat(),
    }
    return _environment().get_template("scenario_report.html.j2").render(**ctx)


INDEX_LABELS = {
    "fr": {"title": "Scénarios de mobilité", "scenario": "Scénario", "period": "Période", "report": "Rapport", "open_report": "Lire le rapport",
           "hypotheses": "Hypothèses",
           "intro": "Chaque scénario applique des hypothèses d'aménagement à la prévision de référence.",
           "empty": "Aucun scénario dans le catalogue.",
           "input_hash": "Empreinte des données d'entrée", "generated_at": "Généré le"},
    "en": {"title": "Mobility scenarios", "scenario": "Scenario", "period": "Period", "report": "Report", "open_report": "Read the report",
           "hypotheses": "Hypotheses",
           "intro": "Each scenario applies planning hypotheses to the baseline forecast.",
           "empty": "No scenario in the catalogue.",
           "input_hash": "Input data hash", "generated_at": "Generated on"},
}


def render_index(specs: list[ScenarioSpec], lang: str, *, input_hash: str, generated_at: dt.datetime,
                 synthetic: bool = False, tz: str = TZ) -> str:
    """The reports' index page: one line per scenario (sorted by name), linking ``<name>.<lang>.html``."""
    if lang not in INDEX_LABELS:
        raise ValueError(f"unsupported report language {lang!r}; expected one of {sorted(INDEX_LABELS)}")
    t = {**INDEX_LABELS[lang], "synthetic": LABELS[lang]["synthetic"], "synthetic_note": LABELS[lang]["synthetic_note"]}
    entries = [{"title": s.title(lang), "href": f"{s.name}.{lang}.html", "description": s.description(lang),
                "hypotheses": [h.describe(lang, s.sensor_groups) for h in s.hypotheses],
                "period": f"{format_date(s.period.start, lang)} – {format_date(s.period.end, lang)}"}
               for s in sorted(specs, key=lambda s: s.name)]
    return _environment().get_template("index.html.j2").render(
        lang=lang, t=t, entries=entries, synthetic=synthetic, input_hash=input_hash,
        generated_at=format_instant(generated_at, lang, tz), generated_at_iso=generated_at.isoformat())
