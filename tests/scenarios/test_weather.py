"""Météo-France hourly weather reader, on a real excerpt (fixtures/README.md says where it comes from)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from scenarios.weather import WeatherError, read_meteofrance_hourly, require_coverage, weather_regressors

FIXTURES = Path(__file__).parent / "fixtures"
REAL = FIXTURES / "H_44_excerpt_2024010100-03.csv"
UTC = dt.UTC


def test_reads_the_real_department_file_excerpt() -> None:
    w = read_meteofrance_hourly(REAL)
    assert w.columns == ["station", "station_name", "start_utc", "rain_mm", "temp_c", "wind_ms", "humidity_pct"]
    assert w["station"].unique().to_list() == ["44015001"] and w["station_name"].unique().to_list() == ["BLAIN"]
    # AAAAMMJJHH 2024010100..03 (UTC) describe the hours ending then: starts 23:00 on 31 Dec .. 02:00
    assert w["start_utc"].to_list() == [dt.datetime(2023, 12, 31, 23, tzinfo=UTC)] + [
        dt.datetime(2024, 1, 1, h, tzinfo=UTC) for h in range(3)]
    assert w["rain_mm"].to_list() == [0.0, 0.8, 0.2, 0.0]  # RR1 column of the file, quality 1
    assert w["temp_c"].to_list() == [7.4, 6.8, 7.0, 6.5]  # T column, quality 1
    # this station has no wind or humidity sensor: empty fields are nulls, not zeros
    assert w["wind_ms"].null_count() == 4 and w["humidity_pct"].null_count() == 4


def test_doubtful_quality_is_dropped_and_stations_are_averaged(tmp_path: Path) -> None:
    # HAND-MADE file following the documented layout (not real data): two stations, one doubtful value (Q=2).
    p = tmp_path / "H_76_handmade.csv"
    p.write_text(
        "NUM_POSTE;NOM_USUEL;LAT;LON;ALTI;AAAAMMJJHH;RR1;QRR1;T;QT\n"
        "76259001;FECAMP;49.76;0.37;10;2025071412;1.0;1;18.0;1\n"
        "76116001;ROUEN;49.38;1.18;150;2025071412;3.0;1;20.0;2\n",
        encoding="utf-8")
    w = read_meteofrance_hourly(p)
    assert w.filter(station="76116001")["temp_c"].item() is None  # quality 2 = doubtful
    r = weather_regressors(w)
    # mean over stations: rain (1.0 + 3.0) / 2 = 2.0; temperature only Fécamp's 18.0
    assert r.row(0, named=True) == {"start_utc": dt.datetime(2025, 7, 14, 11, tzinfo=UTC), "rain_mm": 2.0,
                                    "temp_c": 18.0, "wind_ms": None, "humidity_pct": None}
    assert read_meteofrance_hourly(p, stations=["76259001"]).height == 1


def test_bad_files_and_coverage_guard(tmp_path: Path) -> None:
    p = tmp_path / "other.csv"
    p.write_text("date;rain\n2024-01-01;0\n", encoding="utf-8")
    with pytest.raises(WeatherError, match=r"other\.csv: header lacks"):
        read_meteofrance_hourly(p)
    with pytest.raises(WeatherError, match="no such weather file"):
        read_meteofrance_hourly(tmp_path / "missing.csv")
    r = weather_regressors(read_meteofrance_hourly(REAL))
    require_coverage(r, dt.datetime(2024, 1, 1, 0, tzinfo=UTC), dt.datetime(2024, 1, 1, 3, tzinfo=UTC))
    with pytest.raises(WeatherError, match="needs 1 more hours"):
        require_coverage(r, dt.datetime(2024, 1, 1, 0, tzinfo=UTC), dt.datetime(2024, 1, 1, 4, tzinfo=UTC))
