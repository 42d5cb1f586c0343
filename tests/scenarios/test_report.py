"""Scenario report: self-contained, escaped, language-declared, exact data-values, deterministic, with
every optional section; the builders here also feed the headless-Chromium test (test_report_browser.py)."""

from __future__ import annotations

import datetime as dt
import math
import random
import re
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import polars as pl
import pytest

from scenarios.forecast import FORECAST_SCHEMA, MODEL_HGB, MODEL_SNAIVE, SCORES_SCHEMA
from scenarios.report import (
    NNBSP,
    ReportData,
    affected_sensors,
    chart_frames,
    format_number,
    format_pct,
    render_index,
    render_scenario_report,
    report_frames,
    write_chart_csv,
    write_report,
)
from scenarios.spec import ScenarioSpec, apply_scenario, load_scenario

CATALOG = Path(__file__).resolve().parents[2] / "scenarios" / "catalog"
EVIL = "<script>alert(1)</script>"
EVIL_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
EVIL_ATTR = '"><img src=x onerror=alert(1)>'
EVIL_ATTR_ESCAPED = "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;"
UTC = dt.UTC
GENERATED = dt.datetime(2026, 1, 5, 9, 30, tzinfo=UTC)

SERIES = [("C01", "car", "all"), (EVIL, "pedestrian", "both"), ("B01", "bike", "both")]
KEY = ["sensor_id", "mode", "direction"]


# --------------------------------------------------------------------------------------------------
# builders (also used by the browser test)
# --------------------------------------------------------------------------------------------------
def make_spec() -> ScenarioSpec:
    """The catalog's summer peak, with a hostile description (it comes from a file people edit)."""
    spec = load_scenario(CATALOG / "summer_peak.yaml")
    return spec.model_copy(update={"description_fr": f"Saison forte {EVIL_ATTR} fin.",
                                   "description_en": f"Busy season {EVIL_ATTR} end."})


def make_baseline() -> pl.DataFrame:
    """A hand-made hourly baseline over July–August 2026 (a simple daily shape per series)."""
    times = pl.datetime_range(dt.datetime(2026, 6, 30, 22, tzinfo=UTC), dt.datetime(2026, 8, 31, 22, tzinfo=UTC),
                              "1h", closed="left", time_unit="us", time_zone="UTC", eager=True)
    frames = []
    for i, (sensor, mode, direction) in enumerate(SERIES):
        hour = times.dt.convert_time_zone("Europe/Paris").dt.hour().cast(pl.Float64)
        yhat = (10.0 * (i + 1)) * (1.2 + ((hour - 14.0) / 6.0).cos())
        frames.append(pl.DataFrame({
            "sensor_id": sensor, "mode": mode, "direction": direction, "start_utc": times, "yhat": yhat,
            "yhat_lower": yhat * 0.8, "yhat_upper": yhat * 1.25, "yhat_lower_95": yhat * 0.6,
            "yhat_upper_95": yhat * 1.5, "model": MODEL_HGB,
            "cutoff_utc": dt.datetime(2025, 12, 31, 23, tzinfo=UTC), "scenario": "baseline",
        }))
    return pl.concat(frames).select(list(FORECAST_SCHEMA)).cast(FORECAST_SCHEMA)


def make_indicators() -> pl.DataFrame:
    rows = [
        ("C01", "car", "all", "2025", "tmja", None, 8123.456789, "veh/day", 0.02, 0.97),
        ("C01", "car", "all", "2025", "tmjo", None, 9001.5, "veh/day", 0.02, 0.97),
        ("C01", "car", "all", "2024", "tmja", None, 7000.0, "veh/day", 0.0, 0.5),  # older year: not shown
        ("C01", "car", "all", "2025-07", "tmja", None, 1.0, "veh/day", 0.0, 1.0),  # monthly: not shown
        (EVIL, "pedestrian", "both", "2025", "tmja", None, 1234.0, "ped/day", 0.1, 0.8),
        ("B01", "bike", "both", "2025", "tmja", None, 312.25, "bike/day", 0.0, 1.0),
    ]
    cols = ["sensor_id", "mode", "direction", "period", "indicator", "estimator", "value", "unit",
            "imputed_share", "coverage"]
    return pl.DataFrame(rows, schema={c: (pl.Float64 if c in ("value", "imputed_share", "coverage") else pl.String)
                                      for c in cols}, orient="row")


def make_scores() -> pl.DataFrame:
    rows = []
    for sensor, mode, direction in SERIES:
        wins = sensor != "B01"
        rows += [
            {"sensor_id": sensor, "mode": mode, "direction": direction, "model": MODEL_HGB,
             "mase": 0.62 if wins else 1.07, "coverage80": 0.81, "coverage95": 0.94, "n_hours": 336, "chosen": wins},
            {"sensor_id": sensor, "mode": mode, "direction": direction, "model": MODEL_SNAIVE,
             "mase": 1.0, "coverage80": 0.78, "coverage95": 0.93, "n_hours": 336, "chosen": not wins},
        ]
    return pl.DataFrame(rows).select(list(SCORES_SCHEMA)).cast(SCORES_SCHEMA)


def make_sites() -> tuple[pl.DataFrame, pl.DataFrame]:
    """Four sites: two placed, one without coordinates, one at the (0, 0) placeholder; and the links."""
    sites = pl.DataFrame({
        "site_id": ["S1", "S2", "S3", "S4"],
        "site_name": ["Quai Bérigny", "Plage & <b>digue</b>", EVIL, "Rue sans position"],
        "lat": [49.75, 49.77, None, 0.0], "lon": [0.35, 0.39, 0.37, 0.0], "source": "demo",
    })
    links = pl.DataFrame({"sensor_id": ["C01", EVIL, "B01"], "site_id": ["S1", "S3", "S2"]})
    return sites, links


def make_sections() -> dict[str, pl.DataFrame]:
    """Every optional section, with values whose derived columns are computed by hand in the tests."""
    return {
        "mass_balance": pl.DataFrame({
            "target": ["C01", EVIL], "closed_volume": [10_000.0, 2_000.0], "diverted": [7_000.0, 1_500.0],
            "evaporated": [2_995.0, 400.0], "induced": [0.0, 0.0], "residual": [5.0, 100.0],
            "residual_pct": [0.05, 5.0],  # 100 × 5 / 10 000 = 0.05 % ≤ 0.1 % ✓ ; 100 × 100 / 2 000 = 5 % ✗
        }),
        "indicator_deltas": pl.DataFrame({
            "sensor_id": ["C01", "C01", "C01", EVIL], "mode": ["car", "car", "car", "pedestrian"],
            "direction": ["all", "all", "all", "both"],
            "indicator": ["tmja", "hpm", "hpm_hour", "tmja"], "unit": ["veh/day", "veh/h", "h", "ped/day"],
            "baseline": [8000.0, 650.0, 8.0, 1200.0], "scenario": [9600.0, 702.0, 7.0, 1380.0],
            "delta": [1600.0, 52.0, -1.0, 180.0], "delta_pct": [20.0, 8.0, None, 15.0],
        }),
        "saturation": pl.DataFrame({
            "sensor_id": ["C01"], "mode": ["car"], "direction": ["all"], "threshold": [900.0],
            "hours_baseline": [5.0], "hours_scenario": [12.0],  # change 12 − 5 = +7
        }),
        "impact": pl.DataFrame({
            "sensor_id": ["C01"], "mode": ["car"], "direction": ["all"], "effect": [-1200.0],
            "lower": [-1500.0], "upper": [-900.0], "effect_pct": [-60.0],
        }),
        "impact_placebos": pl.DataFrame({
            "sensor_id": ["C01"] * 4, "mode": ["car"] * 4, "direction": ["all"] * 4,
            "placebo": ["2025-02-03", "2025-02-10", "2025-02-17", EVIL],
            "effect": [-300.0, 1500.0, -100.0, 1250.0],  # |1500|, |1250| ≥ |−1200|: 2 of 4
        }),
        "quality": pl.DataFrame({
            "sensor_id": ["C01", EVIL, "B01"], "mode": ["car", "pedestrian", "bike"],
            "direction": ["all", "both", "both"], "days": [365.0, 365.0, 365.0],
            "valid_days": [354.0, 292.0, 365.0], "coverage": [354 / 365, 292 / 365, 1.0],
            "imputed_share": [0.02, 0.1, 0.0],
        }),
    }


def make_data(**overrides) -> ReportData:
    spec = make_spec()
    base = make_baseline()
    sites, links = make_sites()
    kw = dict(spec=spec, indicators=make_indicators(), baseline=base, scenario=apply_scenario(base, spec),
              sites=sites, scores=make_scores(), input_hash="sha256:0123abcd", generated_at=GENERATED,
              synthetic=True, sensor_sites=links, **make_sections())
    return ReportData(**{**kw, **overrides})


def shuffled(data: ReportData, seed: int) -> ReportData:
    """The same data with the rows of every frame in another order."""
    out = {}
    for k, v in data.__dict__.items():
        if isinstance(v, pl.DataFrame):
            rng = random.Random(f"{seed}-{k}")
            idx = list(range(v.height))
            rng.shuffle(idx)
            v = v[idx]
        out[k] = v
    return ReportData(**out)


# --------------------------------------------------------------------------------------------------
# fixtures and parsing
# --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def data() -> ReportData:
    return make_data()


@pytest.fixture(scope="module")
def html_fr(data: ReportData) -> str:
    return render_scenario_report(data)


@pytest.fixture(scope="module")
def html_en(data: ReportData) -> str:
    return render_scenario_report(data, lang="en")


class _Cells(HTMLParser):
    """(class, data-value, text) of every <td>, with the id of its table; attributes of every tag."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[tuple[str | None, str | None, str]] = []
        self.by_table: dict[str, list[list[tuple[str | None, str | None, str]]]] = {}
        self.tags: list[tuple[str, dict]] = []
        self._open: list | None = None
        self._table: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "table":
            self._table = a.get("id") or ""
            self.by_table.setdefault(self._table, [])
        if tag == "tr" and self._table is not None:
            self.by_table[self._table].append([])
        if tag == "td":
            self._open = [a.get("class"), a.get("data-value"), ""]

    def handle_data(self, d):
        if self._open is not None:
            self._open[2] += d

    def handle_endtag(self, tag):
        if tag == "td" and self._open is not None:
            self.cells.append(tuple(self._open))
            self.by_table[self._table][-1].append(tuple(self._open))
            self._open = None
        if tag == "table":
            self._table = None


def _parse(html: str) -> _Cells:
    p = _Cells()
    p.feed(html)
    return p


def _rows(html: str, table: str) -> list[list[tuple[str | None, str | None, str]]]:
    return [r for r in _parse(html).by_table[table] if r]


def _without_date(html: str) -> str:
    return re.sub(r"<time datetime=\"[^\"]*\">[^<]*</time>", "", html)


# --------------------------------------------------------------------------------------------------
# tests
# --------------------------------------------------------------------------------------------------
def test_language_declared(html_fr: str, html_en: str, data: ReportData) -> None:
    assert html_fr.startswith("<!DOCTYPE html>\n<html lang=\"fr\">")
    assert html_en.startswith("<!DOCTYPE html>\n<html lang=\"en\">")
    assert "5 January 2026, 10:30 (Europe/Paris)" in html_en  # generated at 09:30 UTC, in the town's time
    with pytest.raises(ValueError, match="unsupported report language"):
        render_scenario_report(data, lang="de")


def test_self_contained_no_external_resources(html_fr: str) -> None:
    low = html_fr.lower()
    assert "<script" not in low  # no scripts at all (the evil names are escaped)
    assert not re.search(r"<link\b", low)
    assert not re.search(r"@import|@font-face|url\(\s*['\"]?(https?:)?//", low)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", low)
    assert "<?xml" not in low and "<!doctype svg" not in low and "<metadata" not in low
    assert html_fr.count("<svg") == 3  # daily totals, profile, map: inline
    assert [a["data-chart"] for t, a in _parse(html_fr).tags if t == "figure"] == ["daily", "profile", "map"]
    ids = re.findall(r'\bid="([^"]+)"', html_fr)
    assert len(ids) == len(set(ids))  # two inline SVGs never share an id
    refs = set(re.findall(r'(?:href="#|url\(#)([^")]+)', html_fr))
    assert refs <= set(ids)


def test_data_strings_are_escaped(html_fr: str, html_en: str) -> None:
    for html in (html_fr, html_en):
        assert EVIL not in html and "<img" not in html and "onerror=alert(1)>" not in html
        assert EVIL_ESCAPED in html
        assert EVIL_ATTR_ESCAPED in html  # the description, as text
    assert "Plage &amp; &lt;b&gt;digue&lt;/b&gt;" in html_fr and "<b>digue" not in html_fr
    p = _parse(html_fr)
    texts = [c[2] for c in p.cells]
    assert texts.count(EVIL) >= 5  # indicators, mass balance, deltas, placebo label, quality: shown as text
    # An attribute keeps the name whole: the parser gives back exactly the sensor id.
    assert EVIL in {a.get("data-sensor") for t, a in p.tags if t == "tr"}
    # The map lists the site without coordinates named EVIL as text, and tooltips are escaped.
    assert f"<li>{EVIL_ESCAPED} <span" in html_fr


def test_synthetic_banner_and_sections(html_fr: str) -> None:
    assert "Données synthétiques — ville de démonstration" in html_fr
    for section in ("hypotheses", "mass-balance", "charts", "map", "indicators", "indicator-deltas", "saturation",
                    "impact", "quality", "scores", "method"):
        assert f'<section id="{section}">' in html_fr, section
    assert "Été 2026 : pic touristique" in html_fr
    assert "juillet ×1,15, août ×1,25" in html_fr
    assert "1er juillet 2026 – 31 août 2026" in html_fr
    # the footer's instants in the town's time and in words (GENERATED = 09:30 UTC = 10:30 in Paris in January)
    assert "sha256:0123abcd" in html_fr and f"5 janvier 2026 à 10{NNBSP}h{NNBSP}30 (Europe/Paris)" in html_fr
    assert f"1er janvier 2026 à 0{NNBSP}h{NNBSP}00 (Europe/Paris)" in html_fr  # cutoff 2025-12-31 23:00 UTC
    assert "Quai Bérigny" in html_fr  # site name joined through sensor_sites
    assert '<a href="index.html">Tous les scénarios</a>' in html_fr


def test_tmja_cell_data_value_is_exact_and_french_formatted(html_fr: str) -> None:
    cells = [c for c in _parse(html_fr).cells if c[0] == "tmja"]
    by_value = {float(c[1]): c[2] for c in cells if c[1]}
    assert 8123.456789 in by_value and float(repr(8123.456789)) == 8123.456789
    assert by_value[8123.456789] == f"8{NNBSP}123"
    assert by_value[1234.0] == f"1{NNBSP}234"
    assert 7000.0 not in by_value and 1.0 not in by_value  # latest annual period only
    tmjo = [c for c in _parse(html_fr).cells if c[0] == "tmjo"]
    assert ("tmjo", "9001.5", f"9{NNBSP}002") in tmjo


def test_scoreboard_has_both_coverages_and_every_candidate(html_fr: str) -> None:
    rows = _rows(html_fr, "scoreboard")
    by_sensor = {r[0][2]: r for r in rows}
    assert set(by_sensor) == {"B01", "C01", EVIL}
    # sensor, mode, direction, model, coverage 80, coverage 95, hours, MASE seasonal-naive, MASE hgb
    b01 = by_sensor["B01"]
    assert b01[3][2] == MODEL_SNAIVE  # B01's model loses (1.07 ≥ 1): it ships seasonal-naive
    assert (b01[4][1], b01[4][2]) == ("0.78", f"78{NNBSP}%")  # the chosen model's coverages
    assert (b01[5][1], b01[5][2]) == ("0.93", f"93{NNBSP}%")
    assert b01[7] == ("chosen", "1.0", "1,00") and b01[8] == (None, "1.07", "1,07")
    c01 = by_sensor["C01"]
    assert c01[3][2] == MODEL_HGB and c01[8] == ("chosen", "0.62", "0,62") and c01[5][1] == "0.94"
    # "Couverture" is the quality section's word (share of valid days); the scoreboard says what it counts
    assert "Dans l'intervalle à 95" in unescape(html_fr) and "Couverture 95" not in html_fr
    # a model's name breaks after an underscore when the column is narrow, never letter by letter
    assert f'<th class="num model">MASE {MODEL_HGB.replace("_", "_" + chr(0x200B))}</th>' in html_fr
    assert "overflow-wrap: anywhere" not in html_fr
    # ... and it says so in words, not only by the row's tint (issue #4)
    summary = unescape(re.search(r'<p id="naive-summary">([^<]*)</p>', html_fr).group(1))
    assert summary.startswith("1 série sur 3 garde la prévision naïve : aucun modèle ne l'a battue au test "
                              "rétrospectif")
    assert "(B01 (" in summary and "C01" not in summary


def test_scoreboard_summary_in_english_and_when_every_model_wins(data: ReportData, html_en: str) -> None:
    summary = re.search(r'<p id="naive-summary">([^<]*)</p>', html_en).group(1)
    assert summary.startswith("1 of 3 series keeps the naive forecast: no model beat it in the backtest (B01 (")
    scores = data.scores.filter(pl.col("sensor_id") != "B01")
    html = render_scenario_report(ReportData(**{**data.__dict__, "scores": scores}))
    assert re.search(r'<p id="naive-summary">([^<]*)</p>', html).group(1) == (
        "Les 2 séries utilisent un modèle qui bat la prévision naïve au test rétrospectif.")
    one = render_scenario_report(ReportData(**{**data.__dict__, "scores": scores.filter(pl.col("sensor_id") == "C01")}))
    assert re.search(r'<p id="naive-summary">([^<]*)</p>', one).group(1) == (
        "La série utilise un modèle qui bat la prévision naïve au test rétrospectif.")


def test_sensors_without_a_valid_day_are_named_under_the_indicator_table(data: ReportData, html_fr: str) -> None:
    # A daylight-only Telraam sensor: the year holds no day with 19 measured hours, so no TMJA nor TMJO.
    assert 'id="no-valid-day"' not in html_fr  # every sensor of the fixture has a TMJA
    extra = pl.DataFrame([("T01", "bike", "all", "2025", "tmja", "mean_valid_days", None, "bikes/day", 0.0, 0.0)],
                         schema=data.indicators.schema, orient="row")
    html = render_scenario_report(ReportData(**{**data.__dict__, "indicators": pl.concat([data.indicators, extra])}))
    assert [c for c in _parse(html).cells if c[0] == "tmja" and not c[1]] == [("tmja", "", "—")]  # T01's row
    other = extra.with_columns(estimator=pl.lit("complete_months"))  # null for another reason: no note
    html_b = render_scenario_report(ReportData(**{**data.__dict__, "indicators": pl.concat([data.indicators, other])}))
    assert 'id="no-valid-day"' not in html_b
    note = re.search(r'<p class="note" id="no-valid-day">([^<]*)</p>', html).group(1)
    assert unescape(note) == (
        "« — » : aucun jour valide dans l'année pour T01. Un jour est valide avec au moins 19 heures sur 24 "
        "ayant une valeur (mesurée ou imputée) ; un capteur qui ne compte que de jour (Telraam V1 : la nuit n'est pas mesurée) n'en a aucun, "
        "et ses totaux de jour ne sont pas un TMJA.")


def test_indicator_deltas_show_the_sensors_the_scenario_changes(data: ReportData) -> None:
    # B01 is outside the scenario: zero change on each of its indicators. Its rows leave the table (a
    # sentence names it) but stay in the CSV; a scenario that changes nothing keeps every row.
    still = pl.DataFrame({"sensor_id": ["B01", "B01"], "mode": ["bike", "bike"], "direction": ["both", "both"],
                          "indicator": ["tmja", "hpm"], "unit": ["bikes/day", "bikes/h"], "baseline": [300.0, 40.0],
                          "scenario": [300.0, 40.0], "delta": [0.0, 0.0], "delta_pct": [0.0, 0.0]})
    # D01's share of heavy vehicles exists only in the scenario (null delta): a change, shown
    appears = pl.DataFrame({"sensor_id": ["D01"], "mode": ["heavy"], "direction": ["all"], "indicator": ["pct_heavy"],
                            "unit": ["%"], "baseline": [None], "scenario": [4.0], "delta": [None], "delta_pct": [None]},
                           schema_overrides={"baseline": pl.Float64, "delta": pl.Float64, "delta_pct": pl.Float64})
    deltas = pl.concat([data.indicator_deltas, still, appears], how="diagonal_relaxed")
    with_b01 = ReportData(**{**data.__dict__, "indicator_deltas": deltas})
    html = render_scenario_report(with_b01)
    assert sorted({r[1][2] for r in _rows(html, "indicator-deltas-table")}) == sorted(["C01", "D01", EVIL])
    note = re.search(r'<p class="note" id="indicator-deltas-after">([^<]*)</p>', html).group(1)
    assert unescape(note) == ("Le scénario ne change pas le capteur B01 (écart nul sur chaque indicateur) : absent "
                              f"du tableau, il est dans data/{data.spec.name}/indicator_deltas.csv.")  # one: singular
    assert report_frames(with_b01)["indicator_deltas"].filter(sensor_id="B01").height == 2
    for seed in (1, 2):  # the same report whatever the rows' order
        assert render_scenario_report(shuffled(with_b01, seed)) == html
    en = render_scenario_report(ReportData(**{**with_b01.__dict__,
                                              "indicator_deltas": pl.concat([deltas, still.with_columns(sensor_id=pl.lit("A01"))])}),
                                lang="en")
    assert unescape(re.search(r'id="indicator-deltas-after">([^<]*)</p>', en).group(1)) == (
        "The scenario does not change the 2 sensors A01, B01 (zero change on every indicator): left out of the "
        f"table, they are in data/{data.spec.name}/indicator_deltas.csv.")
    nothing = ReportData(**{**data.__dict__, "indicator_deltas": still})
    html = render_scenario_report(nothing)
    assert [r[4][1] for r in _rows(html, "indicator-deltas-table")] == ["hpm", "tmja"]
    assert 'id="indicator-deltas-after"' not in html


def test_optional_section_values(html_fr: str) -> None:
    mb = {r[0][2]: r for r in _rows(html_fr, "mass-balance-table")}  # target first: no site column
    # residual_pct 0.05 ≤ 0.1 → ✓ ; 5.0 > 0.1 → ✗ (hand values in make_sections)
    assert mb["C01"][-1] == ("check ok", "true", "✓") and mb["C01"][-2][2] == f"+0,05{NNBSP}%"
    assert mb[EVIL][-1] == ("check bad", "false", "✗")
    sat = _rows(html_fr, "saturation-table")[0]
    assert sat[-1] == (None, "7.0", "+7")  # 12 − 5 hours
    # the threshold is a capacity in UVP (passenger-car units) per hour, not a count of vehicles
    head = unescape(html_fr.split('id="saturation-table"')[1].split("</thead>")[0])
    assert "Seuil (UVP / heure)" in head and "passages" not in head
    imp = _rows(html_fr, "impact-table")[0]
    assert imp[-1] == (None, "2/4", f"2{NNBSP}/{NNBSP}4")  # |1500| and |1250| ≥ |−1200|
    assert imp[-2] == (None, "-60.0", f"-60,0{NNBSP}%")
    deltas = {(r[1][2], r[4][1]): r for r in _rows(html_fr, "indicator-deltas-table")}  # keyed by code
    assert deltas[("C01", "tmja")][-2] == (None, "1600.0", f"+1{NNBSP}600")
    assert deltas[("C01", "hpm")][-3] == (None, "702.0", "702")
    # indicators and units by their French names, the codes kept in data-value; the peak's hour as an hour
    assert deltas[("C01", "hpm")][4:6] == [("txt", "hpm", "HPM (heure de pointe du matin)"), ("txt", "veh/h", "véh/h")]
    assert deltas[("C01", "hpm_hour")][4:] == [
        ("txt", "hpm_hour", "Début de la HPM"), ("txt", "h", "h"), (None, "8.0", f"8{NNBSP}h"),
        (None, "7.0", f"7{NNBSP}h"), (None, "-1.0", f"-1{NNBSP}h"), (None, "", "—")]
    quality = {r[1][2]: r for r in _rows(html_fr, "quality-table")}
    assert quality["C01"][-2] == (None, repr(354 / 365), f"97{NNBSP}%")  # 354 / 365 = 0.9699
    # the pipeline's own direction codes in words (data-value keeps the code); a source's own names as is
    assert deltas[("C01", "tmja")][3] == ("txt", "all", "tous sens")
    assert quality["B01"][3] == ("txt", "both", "deux sens confondus")
    indicators = html_fr[html_fr.index('<section id="indicators">'):]
    indicators = indicators[:indicators.index("</section>")]
    assert '<td class="txt">tous sens</td>' in indicators and ">all<" not in indicators
    assert "(B01 (vélo, deux sens confondus))" in html_fr  # the naive-summary sentence


def test_csv_holds_the_numbers_of_every_chart_and_table(data: ReportData, tmp_path: Path) -> None:
    frames = report_frames(data)
    assert sorted(frames) == ["daily_profile", "daily_totals", "effect", "impact", "impact_placebos",
                              "indicator_deltas", "indicators", "mass_balance", "quality", "saturation",
                              "scores", "sites"]
    paths = write_chart_csv(frames, tmp_path / "csv")
    assert [p.name for p in paths] == sorted(f"{k}.csv" for k in frames)
    mb = pl.read_csv(tmp_path / "csv" / "mass_balance.csv")
    assert mb.select("target", "balanced").rows() == [(EVIL, False), ("C01", True)]  # "<" sorts before "C"
    imp = pl.read_csv(tmp_path / "csv" / "impact.csv")
    assert imp.select("placebo_n", "placebo_as_large").row(0) == (4, 2)
    sites = pl.read_csv(tmp_path / "csv" / "sites.csv")
    assert sites.select("site_id", "marker", "affected").rows() == [
        ("S1", 1, True), ("S2", 2, False), ("S3", None, True), ("S4", None, False)]
    scores = pl.read_csv(tmp_path / "csv" / "scores.csv")
    assert {"coverage80", "coverage95", f"mase_{MODEL_HGB}", f"mase_{MODEL_SNAIVE}"} <= set(scores.columns)
    ind = pl.read_csv(tmp_path / "csv" / "indicators.csv")
    assert ind.filter(sensor_id="C01")["tmja"].item() == 8123.456789


def test_map_projection_computed_by_hand(html_fr: str) -> None:
    # S1 (49.75 N, 0.35 E) and S2 (49.77 N, 0.39 E): k = cos(49.76°) = 0.645991, x spans 0.04·k = 0.025840,
    # y spans 0.02; scale = min(640 / 0.025840, 360 / 0.02) = 18 000 px per degree; height 0.02·18 000 + 80
    # = 440. S1: x = 360 − 0.012920·18 000 = 127.44, y = 220 + 0.01·18 000 = 400; S2: x = 592.56, y = 40.
    assert 'viewBox="0 0 720.0 440.0"' in html_fr
    assert '<circle cx="127.4" cy="400.0" r="7"' in html_fr  # S1 holds C01, changed by the scenario: big, red
    assert '<circle cx="592.6" cy="40.0" r="5"' in html_fr  # S2 holds B01 (bikes): no hypothesis, grey
    # Scale bar: 111 320 / 18 000 = 6.184 m per px; a fifth of 720 px = 890 m → 500 m = 80.85 px from x = 20.
    assert 'd="M20.0 415.0V420.0H100.8V415.0"' in html_fr and f">500{NNBSP}m<" in html_fr
    # S3 has no coordinates and S4 sits at (0, 0), the placeholder of exports without positions: listed.
    missing = html_fr.split('<ul class="map-missing">')[1].split("</ul>")[0]
    assert EVIL_ESCAPED in missing and "Rue sans position" in missing and "Quai" not in missing


def test_affected_sensors_derived_or_given(data: ReportData) -> None:
    # summer_peak changes cars and pedestrians; B01 counts bikes.
    assert affected_sensors(data) == sorted(["C01", EVIL])
    given = ReportData(**{**data.__dict__, "affected_sensors": frozenset({"B01"})})
    assert affected_sensors(given) == ["B01"]
    assert report_frames(given)["sites"].filter(affected=True)["site_id"].to_list() == ["S2"]


def test_render_is_deterministic_whatever_the_row_order(data: ReportData, html_fr: str, tmp_path: Path) -> None:
    assert render_scenario_report(data) == html_fr
    for seed in (1, 2):
        assert render_scenario_report(shuffled(data, seed)) == html_fr, seed
    a = write_chart_csv(report_frames(data), tmp_path / "a")
    b = write_chart_csv(report_frames(shuffled(data, 3)), tmp_path / "b")
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
    later = render_scenario_report(ReportData(**{**data.__dict__, "generated_at": GENERATED + dt.timedelta(days=3)}))
    assert later != html_fr and _without_date(later) == _without_date(html_fr)
    changed = [x for x, y in zip(html_fr.splitlines(), later.splitlines(), strict=True) if x != y]
    assert len(changed) == 1 and "<time datetime=" in changed[0]


def test_english_labels(html_en: str) -> None:
    from scenarios.report import ESTIMATOR_NAMES, INDEX_LABELS, INDICATOR_NAMES, LABELS, MODEL_DESCRIPTIONS

    for table in (LABELS, INDEX_LABELS, MODEL_DESCRIPTIONS, INDICATOR_NAMES, ESTIMATOR_NAMES):  # both languages
        assert set(table["fr"]) == set(table["en"])
    # every indicator code the pipeline writes has a reader's name: sensors_io.indicators (the units table and
    # the volumes) and scenarios.deltas (tmj, peaks, share of heavy vehicles, saturation)
    from sensors_io.indicators import HOURLY_VOLUMES, INDICATOR_UNITS

    codes = {*INDICATOR_UNITS, *HOURLY_VOLUMES, "tmja", "tmjo", "tmjm", "weekend", "uvp", "tmj", "pct_heavy",
             "hours_above_saturation", "vc_max"}
    assert codes <= set(INDICATOR_NAMES["fr"])
    # every mode a table can show has a name in both languages: the canonical modes, the deltas' "uvp" and
    # the mass balance's "all" (its modes summed)
    from scenarios.report import mode_label
    from scenarios.spec import MODE_NAMES
    from sensors_io.schema import MODES

    assert {*MODES, "uvp", "all"} <= set(MODE_NAMES["fr"]) and set(MODE_NAMES["fr"]) == set(MODE_NAMES["en"])
    assert mode_label("uvp", "fr") == "tous véhicules (UVP)" and mode_label("uvp", "en") == "all vehicles (PCU)"
    assert mode_label("all", "fr") == "modes additionnés" and mode_label("car,heavy", "fr") == "voiture, poids lourd"
    from scenarios import models as m

    every_model = {v for k, v in vars(m).items() if k.startswith("MODEL_") and isinstance(v, str)}
    assert every_model == set(MODEL_DESCRIPTIONS["fr"])  # every candidate is described, no stale entry
    html = html_en
    assert "Synthetic data — demonstration town" in html
    assert "Scenario hypotheses" in html and "Traffic indicators by sensor" in html and "Sensor map" in html
    assert "Traffic mass balance" in html and "Inside the 95% interval" in html
    assert "Summer 2026: tourist peak" in html and "July ×1.15, August ×1.25" in html
    assert "Hypothèses du scénario" not in html and "Couverture" not in html
    tmja = {float(c[1]): c[2] for c in _parse(html).cells if c[0] == "tmja" and c[1]}
    assert tmja[8123.456789] == "8,123"
    assert ('<a href="index.en.html">All scenarios</a>') in html
    deltas = {(r[1][2], r[4][1]): r for r in _rows(html, "indicator-deltas-table")}
    assert deltas[("C01", "tmja")][3] == ("txt", "all", "all directions")
    assert deltas[("C01", "tmja")][-2] == (None, "1600.0", "+1,600")
    assert deltas[("C01", "tmja")][4] == ("txt", "tmja", "AADT (TMJA)")
    assert deltas[("C01", "hpm_hour")][6] == (None, "8.0", "8:00")


def test_no_banner_for_real_data(data: ReportData) -> None:
    html = render_scenario_report(ReportData(**{**data.__dict__, "synthetic": False}))
    assert "Données synthétiques" not in html


def test_missing_optional_sections_are_left_out_or_explained() -> None:
    html = render_scenario_report(make_data(mass_balance=None, indicator_deltas=None, saturation=None, impact=None,
                                            impact_placebos=None, quality=None))
    for section in ("mass-balance", "indicator-deltas", "saturation", "impact"):
        assert f'<section id="{section}">' not in html
    assert "voir les colonnes du tableau des indicateurs" in html  # quality falls back to the indicator table
    empty = render_scenario_report(make_data(saturation=make_sections()["saturation"].clear()))
    assert "Aucun capteur n'a de seuil de saturation renseigné." in unescape(empty)


def test_daily_only_data_explains_why_there_is_no_chart(data: ReportData) -> None:
    no_forecast = pl.DataFrame(schema=FORECAST_SCHEMA)
    html = render_scenario_report(make_data(baseline=no_forecast, scenario=no_forecast,
                                            scores=make_scores().clear()))
    assert "aucune prévision horaire ne couvre la période du scénario" in html
    assert "aucune série horaire n'a été prévue" in unescape(html)
    assert 'data-chart="daily"' not in html and 'data-chart="profile"' not in html
    assert html.count("<svg") == 1  # the map still draws
    no_scenario = render_scenario_report(make_data(scenario=no_forecast), lang="en")
    assert "the scenario produced no rows" in no_scenario and 'data-chart="daily"' not in no_scenario
    no_sites = render_scenario_report(make_data(sites=make_sites()[0].clear(), sensor_sites=None))
    assert "aucun site n'est décrit dans les données" in unescape(no_sites) and "<svg" in no_sites  # charts still draw


def test_a_missing_section_column_is_named() -> None:
    bad = make_sections()["mass_balance"].drop("residual_pct")
    with pytest.raises(ValueError, match=r"mass_balance.*missing column\(s\) residual_pct"):
        render_scenario_report(make_data(mass_balance=bad))


def test_chart_numbers(data: ReportData) -> None:
    frames = chart_frames(data)
    daily = frames["daily_totals"]
    assert daily.height == 3 * 62  # 3 modes × 62 days of July–August
    b = data.baseline.filter(sensor_id="C01").with_columns(
        d=pl.col("start_utc").dt.convert_time_zone("Europe/Paris").dt.date()).filter(d=dt.date(2026, 8, 10))
    row = daily.filter(mode="car", date=dt.date(2026, 8, 10))
    # Chart sums are exact in micro-units (order-independent): each of the 24 hours rounds by ≤ 0.5e-6.
    micro = 24 * 0.5e-6
    assert row["baseline_yhat"].item() == pytest.approx(b["yhat"].sum(), abs=micro)
    assert row["scenario_yhat"].item() == pytest.approx(b["yhat"].sum() * 1.25, abs=micro * 1.25 + 1e-9)
    assert row["baseline_lower"].item() <= row["baseline_yhat"].item() <= row["baseline_upper"].item()
    assert frames["daily_profile"].height == 3 * 24
    bikes = daily.filter(mode="bike")
    assert bikes["baseline_yhat"].to_list() == bikes["scenario_yhat"].to_list()  # no bike hypothesis
    effect = report_frames(data)["effect"]
    # bikes: no hypothesis, change 0; cars: July 31 days × 1.15 and August 31 days × 1.25 of the same daily
    # total (plus the 14 July evening), so the change lies between +15 % and +25 %.
    change = dict(effect.select("mode", "change").rows())
    assert change["bike"] == 0.0 and 0.15 < change["car"] < 0.25


def test_index_lists_scenarios_escaped_and_sorted() -> None:
    spec = make_spec()
    other = spec.model_copy(update={"name": "autumn", "title_fr": f"Automne {EVIL}"})
    html = render_index([spec, other], "fr", input_hash="sha256:0123abcd", generated_at=GENERATED, synthetic=True)
    assert html.startswith("<!DOCTYPE html>\n<html lang=\"fr\">")
    assert EVIL not in html and f"Automne {EVIL_ESCAPED}" in html and EVIL_ATTR_ESCAPED in html
    assert html.index('href="autumn.fr.html"') < html.index('href="summer_peak.fr.html"')
    assert "juillet ×1,15" in html  # the hypotheses in plain words
    # the title and a "read the report" link lead to the report; the file name is shown, not as the link
    assert f'<a href="autumn.fr.html">Automne {EVIL_ESCAPED}</a>' in html
    assert '<a href="autumn.fr.html">Lire le rapport</a>' in html and '>autumn.fr.html</a>' not in html
    en = render_index([spec], "en", input_hash="x", generated_at=GENERATED)
    assert '<html lang="en">' in en and 'href="summer_peak.en.html"' in en and "Mobility scenarios" in en
    assert sum("<time datetime=" in line for line in html.splitlines()) == 1


def test_write_report_atomic(html_fr: str, tmp_path: Path) -> None:
    out = write_report(html_fr, tmp_path / "reports" / "summer_peak.fr.html")
    assert out.read_text(encoding="utf-8") == html_fr
    assert [p.name for p in out.parent.iterdir()] == ["summer_peak.fr.html"]


def test_format_number() -> None:
    assert format_number(8123.0) == f"8{NNBSP}123"
    assert format_number(1234567.891, "fr", 1) == f"1{NNBSP}234{NNBSP}567,9"
    assert format_number(None) == "—" and format_number(float("nan")) == "—"
    assert format_number(-1234.0, "en", signed=True) == "-1,234" and format_number(52.0, "fr", signed=True) == "+52"
    # a residual of -0.2 vehicles or -0.00002 % rounds to zero: shown without a sign (was "-0", then "+0",
    # which reads as a gain: the demo's mass balance showed "+0" and "+0,00 %")
    assert format_number(-0.2, "fr", signed=True) == "0" and format_number(-0.4, "fr") == "0"
    assert format_number(0.6, "fr", signed=True) == "+1" and format_number(-0.004, "en", 2, signed=True) == "0.00"
    assert format_pct(-0.0000002, "fr", 2, signed=True) == f"0,00{NNBSP}%"
    # no change at all reads 0, without sign or decimals (a delta of exactly zero showed "+0,00")
    assert format_number(0.0, "fr", 2, signed=True) == "0" and format_pct(0.0, "fr", 1, signed=True) == f"0{NNBSP}%"
    assert format_pct(0.0, "en", 2, signed=True) == "0%" and format_number(0.0, "fr", 2) == "0,00"
    from scenarios.report import format_hour
    assert format_hour(0.0, "fr", signed=True) == f"0{NNBSP}h" and format_hour(-1.0, "fr", signed=True) == f"-1{NNBSP}h"
    assert math.isclose(354 / 365, 0.9698630136986301)


def test_map_numbers_do_not_sit_on_a_neighbour() -> None:
    from scenarios.report import _place_labels

    # Two markers 10 px apart (radius 5, +1 px margin). The first one's usual spot, up-right (box x 108–115,
    # y 84–95), comes within 5 px of the second marker's centre (110, 100), and so does down-right; up-left
    # (box x 85–92) is free. The second marker keeps its usual spot, up-right of itself.
    pts = [{"marker": 1, "x": 100.0, "y": 100.0, "r": "5"}, {"marker": 2, "x": 110.0, "y": 100.0, "r": "5"}]
    _place_labels(pts)
    assert [(p["tx"], p["ty"], p["anchor"]) for p in pts] == [("92.0", "94.0", "end"), ("118.0", "94.0", "start")]


def test_impact_rows_name_their_study_dates_modes_and_placebos() -> None:
    # Two studies on one scenario; each effect is ranked against its own study's placebos (date and
    # control placebos are on the treated street's scale), whatever sensor a control placebo is on.
    impact = pl.DataFrame({
        "study": ["works_2025", "detour_2025"], "title_fr": ["Travaux 2025 : front de mer", "Travaux 2025 : report"],
        "title_en": ["Works 2025: seafront", "Works 2025: detour"],
        "start": [dt.date(2025, 3, 3)] * 2, "end": [dt.date(2025, 3, 23)] * 2,
        "sensor_id": ["C01", "D01"], "mode": ["car,heavy"] * 2, "direction": ["all"] * 2, "unit": ["veh"] * 2,
        "effect": [-1000.0, 600.0], "lower": [-1100.0, 500.0], "upper": [-900.0, 700.0], "effect_pct": [-90.0, 80.0],
    })
    placebos = pl.DataFrame({
        "study": ["works_2025", "works_2025", "detour_2025"],
        "title_fr": ["Travaux 2025 : front de mer", "Travaux 2025 : front de mer", "Travaux 2025 : report"],
        "title_en": ["Works 2025: seafront", "Works 2025: seafront", "Works 2025: detour"],
        "sensor_id": ["C01", "E01", "E01"], "mode": ["car,heavy"] * 3, "direction": ["all"] * 3,
        "placebo": ["date 2024-11-11", "control E01", "control E01"],
        "effect": [-50.0, 1200.0, 100.0],  # works: |1200| ≥ |−1000| → 1 of 2; detour: |100| < 600 → 0 of 1
        "lower": [-300.0, 900.0, -50.0], "upper": [200.0, 1500.0, 250.0],
    })
    data = make_data(impact=impact, impact_placebos=placebos)
    html = render_scenario_report(data)
    rows = {r[1][1]: r for r in _rows(html, "impact-table")}  # keyed by the study's name (data-value)
    works = rows["works_2025"]
    assert works[1:6] == [("txt", "works_2025", "Travaux 2025 : front de mer"),
                          ("txt", "2025-03-03/2025-03-23", "3 mars 2025 – 23 mars 2025"),
                          ("txt", None, "C01"), ("txt", None, "voiture, poids lourd"), ("txt", "all", "tous sens")]
    assert works[6] == ("txt", "veh", "véhicules")
    assert works[-1] == (None, "1/2", f"1{NNBSP}/{NNBSP}2") and rows["detour_2025"][-1][1] == "0/1"
    plac = _rows(html, "impact-placebos-table")
    assert [(r[1][2], r[5][1], r[5][2]) for r in plac] == [  # grouped by study (by name), then sensor
        ("Travaux 2025 : report", "control E01",
         "capteur témoin (comme s'il avait eu l'intervention)"),
        ("Travaux 2025 : front de mer", "date 2024-11-11", "fausse date de début : 11 novembre 2024"),
        ("Travaux 2025 : front de mer", "control E01",
         "capteur témoin (comme s'il avait eu l'intervention)")]
    en = render_scenario_report(data, lang="en")
    works_en = {r[1][1]: r for r in _rows(en, "impact-table")}["works_2025"]
    assert [c[2] for c in works_en[1:7]][:2] == ["Works 2025: seafront", "3 March 2025 – 23 March 2025"]
    assert works_en[4][2] == "car, heavy vehicle" and works_en[6][2] == "vehicles"
    assert _rows(en, "impact-placebos-table")[1][5][2] == "fake start date: 11 November 2024"


def test_hours_above_saturation_read_as_whole_hours() -> None:
    deltas = pl.DataFrame({
        "sensor_id": ["R01"], "mode": ["uvp"], "direction": ["E"], "indicator": ["hours_above_saturation"],
        "unit": ["h"], "baseline": [0.0], "scenario": [18.0], "delta": [18.0], "delta_pct": [None]})
    row = _rows(render_scenario_report(make_data(indicator_deltas=deltas)), "indicator-deltas-table")[0]
    assert [c[2] for c in row[-4:]] == ["0", "18", "+18", "—"]


def test_a_share_changes_in_points_and_no_change_reads_zero() -> None:
    deltas = pl.DataFrame({
        "sensor_id": ["C01", "C01"], "mode": ["heavy", "heavy"], "direction": ["all", "all"],
        "indicator": ["pct_heavy", "tmj"], "unit": ["%", "veh/day"], "baseline": [1.32, 101.0],
        "scenario": [1.10, 101.0], "delta": [1.10 - 1.32, 0.0], "delta_pct": [None, 0.0]})
    for lang, point, zero_pct in (("fr", f"-0,22{NNBSP}pt", f"0{NNBSP}%"), ("en", "-0.22 pp", "0%")):
        rows = {r[4][1]: r for r in _rows(render_scenario_report(make_data(indicator_deltas=deltas), lang=lang),
                                          "indicator-deltas-table")}
        assert rows["pct_heavy"][-2][2] == point and rows["pct_heavy"][-1][2] == "—"
        assert rows["tmj"][-2][2] == "0" and rows["tmj"][-1][2] == zero_pct


def test_a_sensor_with_no_valid_day_is_explained_under_the_coverage_table(html_fr: str) -> None:
    assert 'id="quality-after"' not in html_fr  # every sensor of the fixture has valid days
    quality = pl.DataFrame({
        "sensor_id": ["C01", "T01", "T01"], "mode": ["car", "car", "bike"], "direction": ["all"] * 3,
        "days": [365.0] * 3, "valid_days": [354.0, 0.0, 0.0], "coverage": [354 / 365, 0.0, 0.0],
        "imputed_share": [0.02, 0.0, 0.0]})
    html = render_scenario_report(make_data(quality=quality))
    note = unescape(re.search(r'<p class="note" id="quality-after">([^<]*)</p>', html).group(1))
    assert note.startswith(f"Couverture de 0{NNBSP}% : T01 n'a aucun jour valide (au moins 19 heures sur 24")
    two = quality.with_columns(valid_days=pl.Series([0.0, 0.0, 0.0]))
    en = unescape(render_scenario_report(make_data(quality=two), lang="en"))
    assert "0% coverage: C01, T01 have no valid day (at least 19 hours out of 24" in en
    # a counter with valid days for its cars but none for its bikes: the series is named, not the sensor
    partly = quality.with_columns(sensor_id=pl.Series(["T01", "T01", "T01"]), mode=pl.Series(["car", "bike", "pedestrian"]),
                                  valid_days=pl.Series([354.0, 0.0, 0.0]))
    note = unescape(re.search(r'id="quality-after">([^<]*)</p>', render_scenario_report(make_data(quality=partly))).group(1))
    assert note.startswith(f"Couverture de 0{NNBSP}% : T01 (piéton), T01 (vélo) n'ont aucun jour valide")


def test_chart_axes_read_like_the_tables() -> None:
    import matplotlib.pyplot as plt

    from scenarios.report import _axis_numbers, _day_ticks, short_date

    assert short_date(dt.date(2026, 7, 3), "fr") == "3 juil." and short_date(dt.date(2026, 8, 15), "en") == "15 Aug"
    # a 3-day festival: one tick per day, no hourly ticks; thousands as in the tables
    fig, ax = plt.subplots()
    days = [dt.date(2026, 7, 3), dt.date(2026, 7, 4), dt.date(2026, 7, 5)]
    ax.plot(days, [62_000.0, 80_500.0, 71_000.0])
    _axis_numbers(ax, "fr")
    _day_ticks(ax, len(days), "fr")
    fig.canvas.draw()
    assert [x.get_text() for x in ax.get_xticklabels()] == ["3 juil.", "4 juil.", "5 juil."]
    assert f"80{NNBSP}000" in [y.get_text() for y in ax.get_yticklabels()]
    # small values: as many decimals as the tick step needs, the same on every tick
    small_fig, small = plt.subplots()
    small.plot([0, 1], [0.0, 0.3])
    small.set_ylim(0, 0.3)
    small.set_yticks([0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3])
    _axis_numbers(small, "en")
    small_fig.canvas.draw()
    assert [y.get_text() for y in small.get_yticklabels()] == ["0.00", "0.05", "0.10", "0.15", "0.20", "0.25", "0.30"]
    plt.close(small_fig)
    # three weeks: a tick every 3 days at most 10 of them, still whole days
    ax.set_xlim(dt.date(2026, 3, 2), dt.date(2026, 3, 22))
    _day_ticks(ax, 21, "en")
    fig.canvas.draw()
    labels = [x.get_text() for x in ax.get_xticklabels()]
    assert 5 <= len(labels) <= 10 and all(lab.endswith(" Mar") for lab in labels)
    plt.close(fig)


def test_source_directions_read_in_words_with_their_code() -> None:
    from scenarios.report import direction_label

    assert direction_label("E", "fr") == "vers l'est (E)" and direction_label("W", "en") == "westbound (W)"
    assert direction_label("lft", "fr") == "vers la gauche de la caméra (lft)"
    assert direction_label("IN", "fr") == "entrant (IN)" and direction_label("all", "fr") == "tous sens"
    assert direction_label("Vers Nantes", "fr") == "Vers Nantes"  # a source's own name stays as it is
    deltas = pl.DataFrame({
        "sensor_id": ["C01"], "mode": ["car"], "direction": ["E"], "indicator": ["tmj"], "unit": ["veh/day"],
        "baseline": [100.0], "scenario": [120.0], "delta": [20.0], "delta_pct": [20.0]})
    row = _rows(render_scenario_report(make_data(indicator_deltas=deltas)), "indicator-deltas-table")[0]
    assert row[3] == ("txt", "E", "vers l'est (E)")  # data-value keeps the code


def test_hypotheses_name_the_streets_of_the_sensors_they_cite() -> None:
    from scenarios.report import with_street_names

    names = {"CPT-QUAI": "Quai Bérigny (port) (données synthétiques)", "telraam-9003": "Rue Théagène Boufart",
             "CPT-ALBERT": "Boulevard Albert Ier", "CPT-X": "Rue X", "CPT-ETRETAT": "Route d'Étretat"}
    closure = ("Fermeture : Boulevard Albert Ier (CPT-ALBERT), voiture, sur toute la période : 10 % du trafic "
               "maintenu ; report : CPT-QUAI 60 %, telraam-9003 10 % ; évaporation 30 %.")
    # the demo's "(données synthétiques)" mark is left to the banner; an id after its street stays alone
    assert with_street_names(closure, names) == (
        "Fermeture : Boulevard Albert Ier (CPT-ALBERT), voiture, sur toute la période : 10 % du trafic maintenu ; "
        "report : Quai Bérigny (port) (CPT-QUAI) 60 %, Rue Théagène Boufart (telraam-9003) 10 % ; évaporation 30 %.")
    # no street in the file: "CPT-X (CPT-X, …)" becomes the name; ids in a group's bracketed list stay ids
    assert with_street_names("Capacité : CPT-X (CPT-X, vers l'est (E)) — 1 voie", names) == (
        "Capacité : Rue X (CPT-X, vers l'est (E)) — 1 voie")
    scope = "modes : voiture ; capteurs : CPT-ALBERT, groupe « g » (CPT-ETRETAT, CPT-QUAI)."
    assert with_street_names(scope, names) == (
        "modes : voiture ; capteurs : Boulevard Albert Ier (CPT-ALBERT), groupe « g » (CPT-ETRETAT, CPT-QUAI).")
    assert with_street_names("report : CPT-QUAIS 5 %, xCPT-X", names) == "report : CPT-QUAIS 5 %, xCPT-X"  # whole ids only
    assert with_street_names(closure, {}) == closure
