"""The whole graph, in-process, on a small slice of the demo town: values, files and the report."""

import datetime as dt
import html
import html.parser
import re
import json
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from pipelines.cli import cli, demo_sources, install_demo_files
from assets.scenarios import install_catalog
from scenarios.spec import ScenarioFileError
from sensors_io.demo_town import generate_demo_town
from warehouse.engine import default_url, make_engine
from warehouse.io import read_frame

SCENARIOS = ["bike_lane_entrance", "festival_weekend", "pedestrian_centre", "roadworks_seafront", "summer_peak"]
START, END = dt.date(2025, 1, 6), dt.date(2025, 4, 27)  # 16 weeks, with the seafront roadworks in March

CANONICAL = {
    "site_id": pl.String, "sensor_id": pl.String, "mode": pl.String, "direction": pl.String,
    "start_utc": pl.Datetime("us", "UTC"), "interval_s": pl.Int32, "count": pl.Float64,
    "source": pl.String, "source_file": pl.String,
}
OPTIONAL = {"speed_v85_kmh": pl.Float64, "occupancy_pct": pl.Float64, "uptime": pl.Float64}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("e2e")
    home = base / "home"
    town = generate_demo_town(base / "town", start=START, end=END, seed=11)
    runner = CliRunner()
    # The demo town's anomaly register and event calendar, as `mobility demo` installs them.
    assert sorted(p.name for p in install_demo_files(home)) == ["anomalies.yaml", "events.yaml"]
    install_catalog(home)  # the demo town's scenarios, as `mobility demo` installs them
    ingest = runner.invoke(cli, ["ingest", *map(str, demo_sources(town.out_dir)), "--home", str(home)])
    assert ingest.exit_code == 0, ingest.output
    run = runner.invoke(cli, ["run", "--home", str(home)])
    assert run.exit_code == 0, run.output
    return {"home": home, "town": town, "ingest": ingest.output, "run": run.output}


def test_ingest_prints_an_accounting_that_holds(built) -> None:
    out = built["ingest"]
    assert "rows read = accepted + quarantined + duplicates: holds" in out
    assert f"{built['town'].expected.height}" in out
    # 4 Telraam devices × 4 monthly files = 16 sources: summarised per folder, not one line each.
    assert "telraam/ (16 sources)" in out and len(out.splitlines()) <= 8


def test_canonical_counts_have_exactly_the_design_columns_and_types(built) -> None:
    counts = pl.scan_parquet(built["home"] / "lake" / "counts" / "**" / "*.parquet")
    assert counts.collect_schema() == pl.Schema({**CANONICAL, **OPTIONAL})
    days = sorted(p.stem for p in (built["home"] / "lake" / "counts").glob("*.parquet"))
    assert days[0] == START.isoformat() and days[-1] == END.isoformat() and len(days) == (END - START).days + 1


def test_a_sensor_day_total_equals_what_the_generator_wrote(built) -> None:
    day = dt.date(2025, 2, 12)
    local = pl.col("start_utc").dt.convert_time_zone("Europe/Paris").dt.date()
    expected = built["town"].expected.filter((pl.col("sensor_id") == "CPT-ALBERT-1ER") & (pl.col("mode") == "car")
                                             & (local == day))["count"].sum()
    counts = pl.read_parquet(built["home"] / "lake" / "counts" / f"{day}.parquet")
    assert counts.filter((pl.col("sensor_id") == "CPT-ALBERT-1ER") & (pl.col("mode") == "car"))["count"].sum() == expected
    daily = read_frame(make_engine(default_url(built["home"])), "daily_counts",
                       where={"sensor_id": "CPT-ALBERT-1ER", "mode": "car", "day": day})
    assert daily["count"].sum() == expected
    assert daily["is_valid_day"].all()


def test_the_roadworks_show_in_the_daily_totals(built) -> None:
    truth = json.loads((built["town"].out_dir / "truth.json").read_text())
    assert "closure" in json.dumps(truth)
    daily = pl.read_parquet(built["home"] / "lake" / "daily" / "*.parquet").filter(
        (pl.col("sensor_id") == "CPT-ALBERT-1ER") & (pl.col("mode") == "car"))
    closed = daily.filter(pl.col("day").is_between(dt.date(2025, 3, 10), dt.date(2025, 3, 14)))["count"].sum()
    before = daily.filter(pl.col("day").is_between(dt.date(2025, 2, 10), dt.date(2025, 2, 14)))["count"].sum()
    assert 0.05 < closed / before < 0.2  # the generator keeps 10 % of the traffic


class _Cells(html.parser.HTMLParser):
    """TMJA cells of the report's indicator table: (sensor, data-value)."""

    def __init__(self) -> None:
        super().__init__()
        self.sensor: str | None = None
        self.cells: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tr" and "data-sensor" in a:
            self.sensor = a["data-sensor"]
        if tag == "td" and a.get("class") == "tmja" and self.sensor:
            self.cells.append((self.sensor, a["data-value"]))


def test_report_shows_the_tmja_of_the_warehouse(built) -> None:
    report = (built["home"] / "reports" / "summer_peak.fr.html").read_text()
    assert '<html lang="fr">' in report and "Données synthétiques" in report
    parser = _Cells()
    parser.feed(report)
    assert len(parser.cells) >= 10
    wh = read_frame(make_engine(default_url(built["home"])), "indicators",
                    where={"indicator": "tmja", "direction": "all", "period": "2025"})
    by_sensor = {}
    for r in wh.iter_rows(named=True):
        by_sensor.setdefault(r["sensor_id"], set()).add(r["value"])
    for sensor, raw in parser.cells:
        if raw:
            assert float(raw) in by_sensor[sensor], (sensor, raw)
    # Permanent counters have full coverage: their TMJA cells are never empty.
    permanent = [raw for sensor, raw in parser.cells if sensor.startswith("CPT-")]
    assert len(permanent) >= 8 and all(permanent)
    mean_valid = wh.filter(pl.col("estimator") == "mean_valid_days")
    shown = {s: float(r) for s, r in parser.cells if r}
    for sensor, value in shown.items():
        assert value in set(mean_valid.filter(pl.col("sensor_id") == sensor)["value"]), sensor
    assert (built["home"] / "reports" / "index.html").exists()
    for name in SCENARIOS:
        assert (built["home"] / "reports" / f"{name}.fr.html").exists(), name
        assert (built["home"] / "reports" / "data" / name / "daily_totals.csv").exists(), name


def test_forecasts_follow_the_contract_and_beat_seasonal_naive(built) -> None:
    lake = built["home"] / "lake" / "forecasts"
    f = pl.concat([pl.read_parquet(lake / "baseline.parquet"), *map(pl.read_parquet, sorted((lake / "scenarios").glob("*.parquet")))],
                  how="diagonal_relaxed")
    contract = ["sensor_id", "mode", "direction", "start_utc", "yhat", "yhat_lower", "yhat_upper", "model",
                "cutoff_utc", "scenario"]
    assert [c for c in f.columns if c in contract] == contract
    assert set(f.columns) - set(contract) <= {"yhat_lower_95", "yhat_upper_95"}
    assert set(f["scenario"]) == {"baseline", *SCENARIOS}
    # One partition (file) per scenario of the home's catalog.
    assert sorted(p.stem for p in (lake / "scenarios").glob("*.parquet")) == sorted(SCENARIOS)
    assert (f["yhat_lower"] >= 0).all() and (f["yhat_lower"] <= f["yhat"]).all() and (f["yhat"] <= f["yhat_upper"]).all()
    scores = pl.read_parquet(built["home"] / "lake" / "forecast_scores" / "*.parquet")
    n_series = scores["sensor_id", "mode", "direction"].n_unique()
    chosen = scores.filter(pl.col("chosen"))
    assert chosen.height == n_series
    # Over every series (not only where chosen, which needs MASE < 1 by construction) the GBM and its
    # ensemble with the pooled median beat weekly seasonal-naive on the backtest; which of them wins a
    # series moves with the history (the register's accepted roadworks hours are left out of it).
    for model in ("hgb_poisson", "ensemble_mean"):
        scored = scores.filter(pl.col("model") == model)
        assert scored.height == n_series and scored["mase"].mean() < 1.0, model
    # and a model, not the seasonal-naive fallback, carries most series
    assert chosen.filter(pl.col("model") != "seasonal_naive_168h").height > n_series / 2


def test_a_second_run_gives_the_same_numbers(built) -> None:
    engine = make_engine(default_url(built["home"]))
    tables = ("indicators", "daily_counts", "forecasts", "forecast_scores")
    before = {t: read_frame(engine, t) for t in tables}
    report = built["home"] / "reports" / "summer_peak.fr.html"

    def without_date(text: str) -> list[str]:
        return [line for line in text.splitlines() if "<time datetime=" not in line]

    report_before = report.read_text()
    run = CliRunner().invoke(cli, ["run", "--home", str(built["home"])])
    assert run.exit_code == 0, run.output
    engine = make_engine(default_url(built["home"]))
    for t in tables:
        assert read_frame(engine, t).equals(before[t]), t
    # Same inputs, same report, byte for byte, but for the generation date.
    assert without_date(report.read_text()) == without_date(report_before)
    assert len(without_date(report_before)) == len(report_before.splitlines()) - 1


@pytest.mark.parametrize("page", [*(f"{n}.fr.html" for n in SCENARIOS), "index.html"])
def test_reports_render_in_headless_chromium(built, page: str, tmp_path: Path) -> None:
    """Every demo report in Chromium (DevTools): no console error, dialog, script or network request; every
    chart drawn; a screenshot kept beside the reports."""
    from tests.scenarios.test_report_browser import _chromium as require_chromium
    from tests.scenarios.test_report_browser import open_page

    require_chromium()
    path = built["home"] / "reports" / page
    shot = built["home"] / "reports" / "screenshots" / f"{Path(page).stem}.png"
    found = open_page(path, shot, tmp_path / "profile")
    assert found["problems"] == [] and found["active"] == 0, found["problems"]
    assert found["lang"] == "fr"
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    if page != "index.html":
        figs = {f["chart"]: f for f in found["figs"]}
        assert sorted(figs) == ["daily", "map", "profile"], figs
        for chart in ("daily", "profile"):
            assert figs[chart]["svgs"] == 1 and figs[chart]["paths"] > 10, (chart, figs[chart])
        # One marker per site with coordinates in the warehouse: the 8 counters and the 4 Telraam segments
        # (the demo town added lat / lon to its devices.json), none listed under the map as unplaced.
        sites = read_frame(make_engine(default_url(built["home"])), "sites")
        located = sites.filter(pl.col("lat").is_not_null() & pl.col("lon").is_not_null()).height
        assert located == sites.height == 12 and figs["map"]["circles"] == located, figs["map"]
        assert '<ul class="map-missing">' not in path.read_text()


def test_reports_in_english_on_request(built) -> None:
    res = CliRunner().invoke(cli, ["report", "--lang", "en", "--home", str(built["home"])])
    assert res.exit_code == 0, res.output
    reports = built["home"] / "reports"
    for name in SCENARIOS:
        page = (reports / f"{name}.en.html").read_text()
        assert '<html lang="en">' in page, name
    index = (reports / "index.en.html").read_text()
    assert '<html lang="en">' in index and all(f"{n}.en.html" in index for n in SCENARIOS)
    # The French pages are still there, untouched by the English run.
    assert '<html lang="fr">' in (reports / "summer_peak.fr.html").read_text()


def test_impact_rows_name_the_study_and_rank_it_against_its_own_placebos(built) -> None:
    """The festival report shows the 2025 seafront works measured on its streets: each row says which study
    and when, and each effect is ranked against its study's placebos (the 4 control sensors, scaled)."""
    impact = pl.read_csv(built["home"] / "reports" / "data" / "festival_weekend" / "impact.csv", try_parse_dates=True)
    seafront = impact.filter(pl.col("study") == "roadworks_albert_1er_2025").row(0, named=True)
    assert seafront["title_fr"] == "Travaux boulevard Albert Ier (mars 2025) : effet sur le front de mer"
    assert (seafront["start"], seafront["end"]) == (dt.date(2025, 3, 3), dt.date(2025, 3, 23))
    placebos = pl.read_csv(built["home"] / "reports" / "data" / "festival_weekend" / "impact_placebos.csv")
    own = placebos.filter(pl.col("study") == "roadworks_albert_1er_2025")
    as_large = int((own["effect"].abs() >= abs(seafront["effect"])).sum())
    assert seafront["placebo_n"] == own.height >= 4 and seafront["placebo_as_large"] == as_large
    page = html.unescape((built["home"] / "reports" / "festival_weekend.fr.html").read_text())
    shown = re.sub(r"<[^>]+>", "|", page[page.index('<section id="impact">'):])
    shown = shown[:shown.index("Couverture des données")]
    assert "|3 mars 2025 – 23 mars 2025|" in shown and "|voiture, poids lourd|" in shown
    assert "|capteur témoin (comme s'il avait eu l'intervention)|" in shown
    assert "car,heavy" not in shown and "|control " not in shown and "|veh|" not in shown


def test_roadworks_report_shows_a_mass_balance_that_holds(built) -> None:
    """The roadworks scenario's ledger: closed volume = diverted + evaporated − induced within 0.1 %."""
    rows = pl.read_csv(built["home"] / "reports" / "data" / "roadworks_seafront" / "mass_balance.csv")
    closed = rows.filter(pl.col("residual_pct").is_not_null())
    assert closed.height >= 1
    assert (closed["residual_pct"].abs() <= 0.1).all(), closed


def test_scenario_run_adds_a_town_file_and_its_report(built, tmp_path: Path) -> None:
    """`mobility scenario run FILE`: an urbanist's edited copy of a scenario, validated, forecast and reported."""
    text = (built["home"] / "scenarios" / "summer_peak.yaml").read_text()
    mine = tmp_path / "summer_peak_plus.yaml"
    mine.write_text(text.replace("name: summer_peak", "name: summer_peak_plus"))
    bad = tmp_path / "broken.yaml"
    bad.write_text(text.replace("name: summer_peak", "name: Broken Name"))
    res = CliRunner().invoke(cli, ["scenario", "run", str(bad), "--home", str(built["home"])])
    # A user error (the installed `mobility` prints it in one line and exits 2): the file, the field, the rule.
    assert isinstance(res.exception, ScenarioFileError)
    assert str(bad) in str(res.exception) and "name: String should match pattern" in str(res.exception)
    assert not (built["home"] / "scenarios" / "broken.yaml").exists()
    res = CliRunner().invoke(cli, ["scenario", "run", str(mine), "--home", str(built["home"])])
    assert res.exit_code == 0, res.output
    home = built["home"]
    assert (home / "scenarios" / "summer_peak_plus.yaml").exists()
    part = pl.read_parquet(home / "lake" / "forecasts" / "scenarios" / "summer_peak_plus.parquet")
    original = pl.read_parquet(home / "lake" / "forecasts" / "scenarios" / "summer_peak.parquet")
    # The same hypotheses as summer_peak: the same numbers under another name.
    key = ["scenario", "sensor_id", "mode", "direction", "start_utc"]
    same = part.with_columns(pl.col("scenario").replace("summer_peak_plus", "summer_peak")).sort(key)
    assert same.drop("cutoff_utc").equals(original.sort(key).drop("cutoff_utc"))
    assert '<html lang="fr">' in (home / "reports" / "summer_peak_plus.fr.html").read_text()
    # Every scenario side by side: one column group per scenario in the comparison CSV.
    compared = pl.read_csv(home / "reports" / "data" / "scenarios_compared.csv")
    assert {f"{n}_delta_pct" for n in [*SCENARIOS, "summer_peak_plus"]} <= set(compared.columns)
