"""Scenario report: self-contained, escaped, language-declared, exact data-values, deterministic."""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser
from pathlib import Path

import polars as pl
import pytest

from scenarios.forecast import FORECAST_SCHEMA, MODEL_HGB, MODEL_SNAIVE, SCORES_SCHEMA
from scenarios.report import (
    NNBSP,
    ReportData,
    chart_frames,
    format_number,
    render_scenario_report,
    write_chart_csv,
    write_report,
)
from scenarios.spec import apply_scenario, load_scenario

CATALOG = Path(__file__).resolve().parents[2] / "scenarios" / "catalog"
EVIL = "<script>alert(1)</script>"
UTC = dt.UTC
GENERATED = dt.datetime(2026, 1, 5, 9, 30, tzinfo=UTC)

SERIES = [("C01", "car", "all"), (EVIL, "pedestrian", "both"), ("B01", "bike", "both")]


def _baseline() -> pl.DataFrame:
    """A hand-made hourly baseline over July–August 2026 (a simple daily shape per series)."""
    times = pl.datetime_range(dt.datetime(2026, 6, 30, 22, tzinfo=UTC), dt.datetime(2026, 8, 31, 22, tzinfo=UTC),
                              "1h", closed="left", time_unit="us", time_zone="UTC", eager=True)
    frames = []
    for i, (sensor, mode, direction) in enumerate(SERIES):
        hour = times.dt.convert_time_zone("Europe/Paris").dt.hour().cast(pl.Float64)
        yhat = (10.0 * (i + 1)) * (1.2 + ((hour - 14.0) / 6.0).cos())
        frames.append(pl.DataFrame({
            "sensor_id": sensor, "mode": mode, "direction": direction, "start_utc": times, "yhat": yhat,
            "yhat_lower": yhat * 0.8, "yhat_upper": yhat * 1.25, "model": MODEL_HGB,
            "cutoff_utc": dt.datetime(2025, 12, 31, 23, tzinfo=UTC), "scenario": "baseline",
        }))
    return pl.concat(frames).cast(FORECAST_SCHEMA)


def _indicators() -> pl.DataFrame:
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


def _scores() -> pl.DataFrame:
    rows = []
    for sensor, mode, direction in SERIES:
        wins = sensor != "B01"
        rows += [
            (sensor, mode, direction, MODEL_HGB, 0.62 if wins else 1.07, 0.81, 336, wins),
            (sensor, mode, direction, MODEL_SNAIVE, 1.0, 0.78, 336, not wins),
        ]
    return pl.DataFrame(rows, schema=SCORES_SCHEMA, orient="row")


@pytest.fixture(scope="module")
def data() -> ReportData:
    spec = load_scenario(CATALOG / "summer_peak.yaml")
    base = _baseline()
    sites = pl.DataFrame({"site_id": ["S1", "S2"], "site_name": ["Quai Bérigny", "Plage & <b>digue</b>"],
                          "lat": [49.76, 49.77], "lon": [0.37, 0.36], "source": ["demo", "demo"]})
    links = pl.DataFrame({"sensor_id": ["C01", EVIL], "site_id": ["S1", "S2"]})
    return ReportData(spec=spec, indicators=_indicators(), baseline=base, scenario=apply_scenario(base, spec),
                      sites=sites, scores=_scores(), input_hash="sha256:0123abcd", generated_at=GENERATED,
                      synthetic=True, sensor_sites=links)


@pytest.fixture(scope="module")
def html_fr(data: ReportData) -> str:
    return render_scenario_report(data)


@pytest.fixture(scope="module")
def html_en(data: ReportData) -> str:
    return render_scenario_report(data, lang="en")


class _Cells(HTMLParser):
    """Collect (class, data-value, text) of every <td>, and attributes of every tag."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[tuple[str | None, str | None, str]] = []
        self.tags: list[tuple[str, dict]] = []
        self._open: list | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "td":
            self._open = [a.get("class"), a.get("data-value"), ""]

    def handle_data(self, d):
        if self._open is not None:
            self._open[2] += d

    def handle_endtag(self, tag):
        if tag == "td" and self._open is not None:
            self.cells.append(tuple(self._open))
            self._open = None


def _parse(html: str) -> _Cells:
    p = _Cells()
    p.feed(html)
    return p


def test_language_declared(html_fr: str, html_en: str, data: ReportData) -> None:
    assert html_fr.startswith("<!DOCTYPE html>\n<html lang=\"fr\">")
    assert html_en.startswith("<!DOCTYPE html>\n<html lang=\"en\">")
    with pytest.raises(ValueError, match="unsupported report language"):
        render_scenario_report(data, lang="de")


def test_self_contained_no_external_resources(html_fr: str) -> None:
    low = html_fr.lower()
    assert "<script" not in low  # no scripts at all (the evil name is escaped)
    assert not re.search(r"<link\b", low)
    assert not re.search(r"@import", low)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", low)
    assert "<?xml" not in low and "<!doctype svg" not in low and "<metadata" not in low
    assert html_fr.count("<svg") == 2  # daily totals + profile, inline
    ids = re.findall(r'\bid="([^"]+)"', html_fr)
    assert len(ids) == len(set(ids))  # two inline SVGs never share an id
    refs = set(re.findall(r'(?:href="#|url\(#)([^")]+)', html_fr))
    assert refs <= set(ids)


def test_data_strings_are_escaped(html_fr: str) -> None:
    assert EVIL not in html_fr
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html_fr
    assert "Plage &amp; &lt;b&gt;digue&lt;/b&gt;" in html_fr and "<b>digue" not in html_fr
    p = _parse(html_fr)
    assert EVIL in [c[2] for c in p.cells]  # shown as text


def test_synthetic_banner_and_sections(html_fr: str) -> None:
    assert "Données synthétiques — ville de démonstration" in html_fr
    for section in ("hypotheses", "indicators", "charts", "scores", "method"):
        assert f'<section id="{section}">' in html_fr
    assert "Été 2026 : pic touristique" in html_fr
    assert "juillet ×1,15, août ×1,25" in html_fr
    assert "1er juillet 2026 – 31 août 2026" in html_fr
    assert "sha256:0123abcd" in html_fr and "2026-01-05 09:30 UTC" in html_fr
    assert "Quai Bérigny" in html_fr  # site name joined through sensor_sites


def test_tmja_cell_data_value_is_exact_and_french_formatted(html_fr: str) -> None:
    cells = [c for c in _parse(html_fr).cells if c[0] == "tmja"]
    by_value = {float(c[1]): c[2] for c in cells if c[1]}
    assert 8123.456789 in by_value and float(repr(8123.456789)) == 8123.456789
    assert by_value[8123.456789] == f"8{NNBSP}123"
    assert by_value[1234.0] == f"1{NNBSP}234"
    assert 7000.0 not in by_value and 1.0 not in by_value  # latest annual period only
    tmjo = [c for c in _parse(html_fr).cells if c[0] == "tmjo"]
    assert ("tmjo", "9001.5", f"9{NNBSP}002") in tmjo


def test_scoreboard(html_fr: str) -> None:
    assert f"<code>{MODEL_SNAIVE}</code>" in html_fr  # B01 ships seasonal-naive
    cells = _parse(html_fr).cells
    assert (None, "1.07", "1,07") in cells and (None, "0.62", "0,62") in cells


def test_render_is_deterministic(data: ReportData, html_fr: str) -> None:
    a = html_fr
    b = render_scenario_report(data)
    assert a == b
    later = ReportData(**{**data.__dict__, "generated_at": GENERATED + dt.timedelta(days=3)})
    c = render_scenario_report(later)
    strip = lambda s: re.sub(r"<time datetime=\"[^\"]*\">[^<]*</time>", "", s)  # noqa: E731
    assert a != c and strip(a) == strip(c)


def test_english_labels(html_en: str) -> None:
    html = html_en
    assert "Synthetic data — demonstration town" in html
    assert "Scenario hypotheses" in html and "Traffic indicators by sensor" in html
    assert "Summer 2026: tourist peak" in html and "July ×1.15, August ×1.25" in html
    assert "Hypothèses du scénario" not in html
    tmja = {float(c[1]): c[2] for c in _parse(html).cells if c[0] == "tmja" and c[1]}
    assert tmja[8123.456789] == "8,123"


def test_no_banner_for_real_data(data: ReportData) -> None:
    html = render_scenario_report(ReportData(**{**data.__dict__, "synthetic": False}))
    assert "Données synthétiques" not in html


def test_chart_numbers_and_csv(data: ReportData, tmp_path: Path) -> None:
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
    prof = frames["daily_profile"]
    assert prof.height == 3 * 24
    bikes = daily.filter(mode="bike")
    assert bikes["baseline_yhat"].to_list() == bikes["scenario_yhat"].to_list()  # no bike hypothesis
    paths = write_chart_csv(frames, tmp_path / "charts")
    assert [p.name for p in paths] == ["daily_profile.csv", "daily_totals.csv"]
    assert pl.read_csv(paths[1], try_parse_dates=True).height == daily.height
    assert sorted(p.name for p in (tmp_path / "charts").iterdir()) == ["daily_profile.csv", "daily_totals.csv"]


def test_write_report_atomic(html_fr: str, tmp_path: Path) -> None:
    out = write_report(html_fr, tmp_path / "reports" / "summer_peak.fr.html")
    assert out.read_text(encoding="utf-8") == html_fr
    assert [p.name for p in out.parent.iterdir()] == ["summer_peak.fr.html"]


def test_format_number() -> None:
    assert format_number(8123.0) == f"8{NNBSP}123"
    assert format_number(1234567.891, "fr", 1) == f"1{NNBSP}234{NNBSP}567,9"
    assert format_number(None) == "—" and format_number(float("nan")) == "—"
