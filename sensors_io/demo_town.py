"""A seeded, synthetic Fécamp-like sensor network, written in real export formats.

:func:`generate_demo_town` writes two years of hourly counts for twelve sensors in Fécamp (Normandy) so
that the demo goes through the same readers as real data:

- eight permanent counters (loops on roads, a bike loop, a pedestrian infrared counter) as the national
  schema « comptage des mobilités » v0.2.4: ``comptage/comptagemobilites_{site,channel,measure}_fecamp-demo.csv``
  with the exact columns of the v0.2.4 Eco-Counter example files (hourly, ``time_step`` 3600,
  ``start_datetime``/``end_datetime`` in local Europe/Paris time with the offset of each instant, so the
  autumn repeated hour appears twice, ``+02:00`` then ``+01:00``);
- four Telraam V1 citizen cameras as the Telraam API hourly JSON (``telraam/device_<id>/hourly/YYYY-MM.json``,
  one file per UTC month, 25 keys per item, plus ``telraam/devices.json``).

Everything is synthetic and says so where the format has room: site names end with
``" (données synthétiques)"``, channels carry ``data_provider_name = "DEMO SYNTHÉTIQUE"`` and a comment, the
Telraam devices are named likewise in ``devices.json`` and use ids ``9000076001…`` (76 = Seine-Maritime), and
``README.txt`` and ``truth.json`` sit in the output folder. The measure CSV and the Telraam month files keep
their real shapes exactly (no room for a comment there).

The model (all numbers are recorded in :attr:`DemoTown.truth`)::

    expected(series, hour) = base_daily(sensor, mode) × direction_share(hour)
                             × day_type_ratio(class, mode, working|saturday|sunday-or-holiday)
                             × hourly_profile(mode, day_type)[local hour]
                             × month_factor(mode) × (summer | school-holiday multiplier)
                             × bridge-day factor × growth × weather^elasticity × sensor-day noise
                             × festival multiplier (day / evening)
    then the seafront closure (residual share kept, a share of the removed traffic diverted to the quay),
    counts ~ Poisson(expected); then the injected faults (outage = empty count, stuck run, zero run).

Telraam cameras count only in daylight (V1): ``uptime`` is 0 at night (all counts 0 = not measured) and
0.6–0.95 by day; each direction's counted vehicles ~ Poisson(expected × uptime) and the value written is
counted / uptime (Telraam's extrapolation), a decimal.

Directions: road loops have one channel per mode and direction with the schema's compass value
(``N``/``S`` or ``E``/``W``) and ``provider_direction_code`` ``IN`` (towards the town centre) / ``OUT``;
the pedestrian street has one channel per walking direction (``N`` and ``S``), never a "both" channel.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from scenarios.calendars import calendar_frame

__all__ = ["DemoSensor", "DemoTown", "SENSORS", "generate_demo_town"]

TZ = "Europe/Paris"
SYNTHETIC_SUFFIX = " (données synthétiques)"
DATA_PROVIDER = "DEMO SYNTHÉTIQUE"
#: Channel comment (the schema allows 50 characters).
CHANNEL_COMMENT = "Données synthétiques - démo Fécamp"
DATASET = "fecamp-demo"
FECAMP_INSEE = "76259"
#: Growth and other slow trends are anchored here, not on ``start``, so a date's level does not depend
#: on the span asked for.
REFERENCE_DATE = dt.date(2024, 1, 1)

#: Exact v0.2.4 headers (asserted against the real example files in the tests).
SITE_COLUMNS = ("site_id", "parent_site_id", "site_name", "fr_insee_code", "xlong", "ylat", "external_ids",
                "infrastructure_type")
CHANNEL_COLUMNS = ("channel_id", "channel_provider_id", "site_provider_id", "site_id", "mobility_type", "comment",
                   "counter_transmission_type", "publication_transmission_type", "counter_type", "direction",
                   "provider_direction_code", "provider_direction_name", "data_provider_name", "temporality",
                   "started_at", "ended_at", "last_updated_at", "time_step", "provider_portal_url")
MEASURE_COLUMNS = ("channel_id", "counter_id", "start_datetime", "end_datetime", "count")
#: Telraam API item keys, in the API's order.
TELRAAM_KEYS = ("instance_id", "segment_id", "date", "interval", "uptime", "heavy", "car", "bike", "pedestrian",
                "night", "heavy_lft", "heavy_rgt", "car_lft", "car_rgt", "bike_lft", "bike_rgt", "pedestrian_lft",
                "pedestrian_rgt", "night_lft", "night_rgt", "direction", "car_speed_hist_0to70plus",
                "car_speed_hist_0to120plus", "timezone", "v85")

MOBILITY_TYPE = {"car": "CAR", "heavy": "TRUCK", "bike": "BIKE", "pedestrian": "PEDESTRIAN"}
MODES = ("car", "heavy", "bike", "pedestrian")
DAY_TYPES = ("working", "saturday", "sunday_or_holiday")


@dataclass(frozen=True)
class DemoSensor:
    """One synthetic sensor (a counter with its site, or a Telraam camera)."""

    sensor_id: str
    site_id: str
    street: str
    kind: str  # "national" or "telraam"
    klass: str  # behaviour class: seafront, port, entrance, centre, pedestrian_street, bike_route, residential
    lat: float
    lon: float
    #: Daily total of both directions on a reference working day (April, no holiday), per mode.
    base_daily: dict[str, float]
    #: (direction into town / first Telraam direction, the other one).
    directions: tuple[str, str]
    #: Names of the two directions, for the channel file.
    direction_names: tuple[str, str] = ("", "")
    #: Average share of the first direction.
    share_first: float = 0.5
    #: Tidal amplitude on working days: more inbound in the morning, outbound in the evening.
    tidal: float = 0.0
    counter_type: str = "INDUCTIVE LOOP"
    infrastructure_type: str = "MUNICIPAL ROAD"
    external_ids: str = ""
    segment_id: int = 0
    #: Telraam: mean car speed in km/h (speed histograms and v85).
    speed_mean: float = 30.0

    @property
    def name(self) -> str:
        return self.street + SYNTHETIC_SUFFIX

    @property
    def modes(self) -> tuple[str, ...]:
        return tuple(m for m in MODES if m in self.base_daily)


SENSORS: tuple[DemoSensor, ...] = (
    DemoSensor("CPT-ALBERT-1ER", "fecamp-bd-albert-1er", "Boulevard Albert Ier (front de mer)", "national",
               "seafront", 49.762250, 0.370080, {"car": 7400.0, "heavy": 150.0}, ("S", "N"),
               ("Vers le port et le centre-ville", "Vers la chapelle Notre-Dame-de-Salut"), 0.5, 0.0),
    DemoSensor("CPT-QUAI-BERIGNY", "fecamp-quai-berigny", "Quai Bérigny (port)", "national",
               "port", 49.759420, 0.374510, {"car": 5200.0, "heavy": 330.0}, ("E", "W"),
               ("Vers le centre-ville", "Vers la plage"), 0.5, 0.06),
    DemoSensor("CPT-ROUTE-ETRETAT", "fecamp-route-etretat-d940", "Route d'Étretat (D940)", "national",
               "entrance", 49.753870, 0.356120, {"car": 11300.0, "heavy": 700.0}, ("E", "W"),
               ("Vers Fécamp centre", "Vers Étretat"), 0.5, 0.14, infrastructure_type="DEPARTEMENTAL ROAD",
               external_ids="D940"),
    DemoSensor("CPT-ROUTE-VALMONT", "fecamp-route-valmont-d150", "Route de Valmont (D150)", "national",
               "entrance", 49.752640, 0.399180, {"car": 9400.0, "heavy": 480.0}, ("W", "E"),
               ("Vers Fécamp centre", "Vers Valmont"), 0.5, 0.14, infrastructure_type="DEPARTEMENTAL ROAD",
               external_ids="D150"),
    DemoSensor("CPT-ALEXANDRE-LE-GRAND", "fecamp-rue-alexandre-le-grand", "Rue Alexandre Le Grand", "national",
               "centre", 49.757690, 0.378540, {"car": 3900.0, "heavy": 80.0}, ("W", "E"),
               ("Vers le port", "Vers la gare"), 0.52, 0.05),
    DemoSensor("CPT-GAMBETTA", "fecamp-av-gambetta", "Avenue Gambetta", "national",
               "centre", 49.755930, 0.381620, {"car": 3700.0, "heavy": 95.0}, ("N", "S"),
               ("Vers le centre-ville", "Vers la gare"), 0.5, 0.06),
    DemoSensor("CPT-JACQUES-HUET", "fecamp-rue-jacques-huet", "Rue Jacques Huet (piétonne)", "national",
               "pedestrian_street", 49.758230, 0.376040, {"pedestrian": 3000.0}, ("N", "S"),
               ("Piétons vers le port", "Piétons vers le centre"), 0.5, 0.0,
               counter_type="PASSIVE INFRARED", infrastructure_type="OTHER"),
    DemoSensor("CPT-VELOMARITIME", "fecamp-velomaritime-quai", "La Vélomaritime EV4 (quai de la Vicomté)", "national",
               "bike_route", 49.758840, 0.376820, {"bike": 330.0}, ("E", "W"),
               ("Vélos vers Saint-Pierre-en-Port", "Vélos vers Yport et Étretat"), 0.5, 0.0,
               infrastructure_type="CYCLE TRACK", external_ids="EV4"),
    DemoSensor("telraam-9000076001", "telraam-9000076001", "Rue Arquaise", "telraam", "residential",
               49.756510, 0.378960, {"car": 1700.0, "heavy": 40.0, "bike": 110.0, "pedestrian": 420.0},
               ("lft", "rgt"), share_first=0.53, segment_id=9000076001, speed_mean=31.0),
    DemoSensor("telraam-9000076002", "telraam-9000076002", "Rue Georges Cuvier", "telraam", "residential",
               49.754980, 0.373920, {"car": 900.0, "heavy": 18.0, "bike": 75.0, "pedestrian": 260.0},
               ("lft", "rgt"), share_first=0.48, segment_id=9000076002, speed_mean=27.0),
    DemoSensor("telraam-9000076003", "telraam-9000076003", "Rue Théagène Boufart", "telraam", "residential",
               49.761540, 0.377880, {"car": 1200.0, "heavy": 30.0, "bike": 60.0, "pedestrian": 300.0},
               ("lft", "rgt"), share_first=0.5, segment_id=9000076003, speed_mean=35.0),
    DemoSensor("telraam-9000076004", "telraam-9000076004", "Rue Jules Ferry", "telraam", "residential",
               49.753150, 0.383270, {"car": 620.0, "heavy": 12.0, "bike": 90.0, "pedestrian": 380.0},
               ("lft", "rgt"), share_first=0.51, segment_id=9000076004, speed_mean=29.0),
)

# --- hourly profiles: relative weights by local hour 0..23, normalised to sum 1 -----------------------------
_PROFILES_RAW: dict[str, tuple[list[float], list[float], list[float]]] = {
    "car": (
        [0.6, 0.35, 0.25, 0.25, 0.4, 1.0, 2.6, 5.6, 7.4, 5.4, 4.8, 5.1, 5.6, 5.4, 5.3, 5.8, 6.9, 7.6, 7.0, 5.0, 3.5,
         2.6, 1.9, 1.2],
        [1.2, 0.8, 0.6, 0.4, 0.4, 0.6, 1.2, 2.4, 3.8, 5.2, 6.4, 6.8, 6.4, 6.0, 6.3, 6.7, 6.9, 6.8, 6.2, 4.8, 3.6,
         2.8, 2.3, 1.8],
        [1.6, 1.1, 0.8, 0.6, 0.4, 0.5, 0.8, 1.3, 2.2, 3.6, 5.2, 6.4, 6.2, 5.8, 6.6, 7.4, 7.6, 7.2, 6.3, 4.9, 3.6,
         2.6, 1.9, 1.3],
    ),
    "heavy": (
        [0.4, 0.3, 0.3, 0.5, 1.2, 3.0, 5.5, 7.0, 7.6, 7.8, 7.8, 7.2, 6.0, 6.6, 7.0, 6.8, 6.0, 4.8, 3.2, 2.0, 1.4,
         1.0, 0.7, 0.5],
        [0.5, 0.4, 0.4, 0.5, 0.8, 1.5, 3.0, 4.5, 6.0, 7.0, 7.2, 7.0, 5.5, 4.0, 3.5, 3.2, 3.0, 2.6, 2.0, 1.5, 1.1,
         0.9, 0.7, 0.6],
        [1.0, 0.8, 0.7, 0.7, 0.8, 1.0, 1.3, 1.8, 2.5, 3.2, 3.8, 4.0, 3.8, 3.6, 3.8, 4.0, 4.2, 4.4, 4.5, 4.2, 3.6,
         3.0, 2.2, 1.5],
    ),
    "bike": (
        [0.1, 0.05, 0.03, 0.03, 0.05, 0.3, 1.5, 5.5, 8.0, 4.0, 3.2, 3.6, 4.5, 4.2, 3.8, 4.2, 6.0, 8.5, 7.2, 4.5,
         2.6, 1.4, 0.7, 0.3],
        [0.2, 0.1, 0.05, 0.03, 0.03, 0.1, 0.4, 1.2, 2.8, 5.2, 7.4, 8.2, 7.6, 7.0, 8.0, 8.6, 8.4, 7.6, 6.0, 4.2,
         2.4, 1.2, 0.6, 0.3],
        [0.2, 0.1, 0.05, 0.03, 0.03, 0.1, 0.3, 0.9, 2.2, 4.8, 7.4, 8.4, 7.8, 7.2, 8.2, 8.8, 8.6, 7.6, 6.0, 4.0,
         2.2, 1.1, 0.5, 0.3],
    ),
    "pedestrian": (
        [0.3, 0.15, 0.1, 0.05, 0.05, 0.2, 0.8, 2.2, 3.6, 5.0, 6.6, 8.2, 8.0, 6.8, 6.9, 7.6, 8.0, 7.8, 6.5, 4.2,
         2.6, 1.6, 1.0, 0.6],
        [0.6, 0.3, 0.15, 0.1, 0.05, 0.1, 0.4, 1.2, 2.6, 4.8, 7.4, 8.8, 8.4, 7.4, 7.8, 8.6, 8.8, 8.0, 6.6, 4.6,
         3.0, 2.0, 1.4, 0.9],
        [0.8, 0.5, 0.3, 0.15, 0.08, 0.1, 0.3, 0.8, 1.8, 3.6, 6.0, 7.6, 7.6, 6.6, 7.0, 8.0, 8.2, 7.4, 6.0, 4.4,
         3.0, 2.0, 1.4, 1.0],
    ),
}

#: Daily total relative to a working day: (working, Saturday, Sunday or public holiday), per mode, with
#: class overrides (the seafront is a weekend destination; a pedestrian shopping street peaks on Saturday).
DAY_TYPE_RATIO: dict[str, tuple[float, float, float]] = {
    "car": (1.0, 0.90, 0.72),
    "heavy": (1.0, 0.45, 0.15),
    "bike": (1.0, 1.15, 1.30),
    "pedestrian": (1.0, 1.35, 0.70),
}
DAY_TYPE_RATIO_CLASS: dict[str, dict[str, tuple[float, float, float]]] = {
    "seafront": {"car": (1.0, 1.05, 1.00)},
    "residential": {"car": (1.0, 0.85, 0.70), "pedestrian": (1.0, 1.10, 0.95)},
}
#: Bridge days (a working day between a holiday and the weekend): fewer commuters and lorries.
BRIDGE_FACTOR: dict[str, float] = {"car": 0.88, "heavy": 0.60, "bike": 1.05, "pedestrian": 1.0}

#: Month factors by mode group (motor = car, heavy; active = bike, pedestrian), January..December.
MONTH_FACTOR: dict[str, list[float]] = {
    "motor": [0.90, 0.92, 0.96, 1.00, 1.03, 1.06, 1.03, 1.03, 1.03, 0.99, 0.95, 0.96],
    "active": [0.70, 0.75, 0.86, 1.00, 1.08, 1.14, 1.15, 1.15, 1.06, 0.92, 0.78, 0.75],
}

#: July–August multiplier on top of the month factor, by class and mode (1.0 when absent).
SUMMER_MULTIPLIER: dict[str, dict[str, float]] = {
    "seafront": {"car": 1.5, "heavy": 1.1},
    "port": {"car": 1.3, "heavy": 1.0},
    "entrance": {"car": 1.2, "heavy": 0.95},
    "centre": {"car": 1.1, "heavy": 1.0},
    "pedestrian_street": {"pedestrian": 2.0},
    "bike_route": {"bike": 1.8},
    "residential": {"car": 1.05, "heavy": 1.0, "bike": 1.3, "pedestrian": 1.3},
}
#: Zone B school holidays outside July–August: fewer commuters, more leisure (by class and mode).
SCHOOL_HOLIDAY_MULTIPLIER: dict[str, dict[str, float]] = {
    "seafront": {"car": 1.08, "heavy": 0.97},
    "port": {"car": 0.96, "heavy": 0.97},
    "entrance": {"car": 0.93, "heavy": 0.97},
    "centre": {"car": 0.93, "heavy": 0.97},
    "pedestrian_street": {"pedestrian": 1.15},
    "bike_route": {"bike": 1.25},
    "residential": {"car": 0.92, "heavy": 0.97, "bike": 1.1, "pedestrian": 1.1},
}
#: Annual growth rate by mode (compounded from REFERENCE_DATE).
ANNUAL_GROWTH: dict[str, float] = {"car": 0.01, "heavy": 0.0, "bike": 0.05, "pedestrian": 0.01}

#: Town-wide daily weather factor exp(N(0, sigma)) and each mode's elasticity to it.
WEATHER_SIGMA = 0.18
WEATHER_ELASTICITY: dict[str, float] = {"car": 0.1, "heavy": 0.0, "bike": 1.0, "pedestrian": 0.6}
#: Per sensor-day and per series-day log-normal noise.
SENSOR_DAY_SIGMA = 0.04
SERIES_DAY_SIGMA = 0.03

#: Festivals: local dates, evening hours and (day, evening) multipliers per sensor and mode.
FESTIVAL_EVENING_HOURS = (18, 19, 20, 21, 22, 23)
FESTIVAL_MULTIPLIERS: dict[str, dict[str, tuple[float, float]]] = {
    "CPT-ALBERT-1ER": {"car": (1.2, 1.9)},
    "CPT-QUAI-BERIGNY": {"car": (1.3, 2.0), "heavy": (0.8, 1.0)},
    "CPT-ROUTE-ETRETAT": {"car": (1.1, 1.3)},
    "CPT-ROUTE-VALMONT": {"car": (1.1, 1.3)},
    "CPT-ALEXANDRE-LE-GRAND": {"car": (1.15, 1.6)},
    "CPT-GAMBETTA": {"car": (1.15, 1.6)},
    "CPT-JACQUES-HUET": {"pedestrian": (1.6, 3.0)},
    "CPT-VELOMARITIME": {"bike": (1.4, 2.2)},
    "telraam-9000076001": {"car": (1.1, 1.4), "pedestrian": (1.5, 2.5)},
}
FESTIVALS: tuple[tuple[str, tuple[dt.date, ...]], ...] = (
    ("Fécamp Grand'Escale (fête maritime)", (dt.date(2024, 7, 5), dt.date(2024, 7, 6), dt.date(2024, 7, 7))),
    ("Fête du Hareng", (dt.date(2025, 11, 22), dt.date(2025, 11, 23))),
)

#: Roadworks closure of the seafront road (local dates, inclusive).
CLOSURE = {
    "name": "Travaux boulevard Albert Ier (fermeture, accès riverains)",
    "sensor_id": "CPT-ALBERT-1ER",
    "start": dt.date(2025, 3, 3),
    "end": dt.date(2025, 3, 23),
    "modes": ("car", "heavy"),
    "residual_share": 0.10,
    "diverted_share": 0.70,
    "diverted_to": "CPT-QUAI-BERIGNY",
    "direction_map": {"S": "E", "N": "W"},
}
#: Faults: (sensor, modes or None = all, directions or None = all, local start, local end exclusive).
OUTAGE = ("CPT-GAMBETTA", dt.datetime(2024, 10, 7, 0), dt.datetime(2024, 10, 17, 0))
STUCK_RUN = ("CPT-ROUTE-VALMONT", "car", "W", dt.datetime(2025, 4, 8, 10), dt.datetime(2025, 4, 8, 17))
ZERO_RUN = ("CPT-VELOMARITIME", "bike", "E", dt.datetime(2024, 6, 12, 9), dt.datetime(2024, 6, 12, 17))

#: Telraam V1: counting window inside daylight (hours after sunrise / before sunset) and uptime range.
TELRAAM_DAYLIGHT_MARGIN_H = 0.25
TELRAAM_UPTIME_RANGE = (0.6, 0.95)
TELRAAM_DIP_PROBABILITY = 0.03
FECAMP_LAT, FECAMP_LON = 49.757, 0.375


@dataclass
class DemoTown:
    """What :func:`generate_demo_town` wrote: the folder, the injected truth and the canonical counts.

    ``expected`` has the canonical columns ``site_id, sensor_id, mode, direction, start_utc, count``
    (``count`` Float64, null where not measured: the outage, and Telraam hours with ``uptime == 0``), with the
    values exactly as written to the files.
    """

    out_dir: Path
    truth: dict
    expected: pl.DataFrame
    sensors: tuple[DemoSensor, ...] = field(default=SENSORS, repr=False)

    @property
    def comptage_dir(self) -> Path:
        return self.out_dir / "comptage"

    @property
    def measure_csv(self) -> Path:
        return self.comptage_dir / f"comptagemobilites_measure_{DATASET}.csv"

    @property
    def channel_csv(self) -> Path:
        return self.comptage_dir / f"comptagemobilites_channel_{DATASET}.csv"

    @property
    def site_csv(self) -> Path:
        return self.comptage_dir / f"comptagemobilites_site_{DATASET}.csv"

    @property
    def telraam_dir(self) -> Path:
        return self.out_dir / "telraam"

    def files(self) -> list[Path]:
        """Every file written, sorted."""
        return sorted(p for p in self.out_dir.rglob("*") if p.is_file())


# ---------------------------------------------------------------------------------------------------------
# time axis
# ---------------------------------------------------------------------------------------------------------

def _local_midnight_utc(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=ZoneInfo(TZ)).astimezone(dt.timezone.utc)


def _hours_frame(start: dt.date, end: dt.date) -> pl.DataFrame:
    """One row per UTC hour covering the local days [start, end], with local labels."""
    t0, t1 = _local_midnight_utc(start), _local_midnight_utc(end + dt.timedelta(days=1))
    hours = pl.datetime_range(t0, t1, "1h", closed="left", time_unit="us", time_zone="UTC", eager=True)
    local = hours.dt.convert_time_zone(TZ)
    return pl.DataFrame({"start_utc": hours}).with_columns(
        local=local,
    ).with_columns(
        local_date=pl.col("local").dt.date(),
        local_hour=pl.col("local").dt.hour().cast(pl.Int64),
        start_local=pl.col("local").dt.to_string("%Y-%m-%dT%H:%M:%S%:z"),
        end_local=(pl.col("start_utc") + pl.duration(hours=1)).dt.convert_time_zone(TZ)
        .dt.to_string("%Y-%m-%dT%H:%M:%S%:z"),
        telraam_date=pl.col("start_utc").dt.to_string("%Y-%m-%dT%H:00:00.000Z"),
        utc_month=pl.col("start_utc").dt.to_string("%Y-%m"),
    )


def _local_iso(value: dt.datetime) -> str:
    return value.replace(tzinfo=ZoneInfo(TZ)).isoformat()


def _local_mask(local_naive: np.ndarray, begin: dt.datetime, end: dt.datetime) -> np.ndarray:
    return (local_naive >= np.datetime64(begin)) & (local_naive < np.datetime64(end))


def _daylight_fraction(utc: np.ndarray) -> np.ndarray:
    """Fraction of each UTC hour inside Telraam's counting window (sunrise+margin .. sunset-margin) at Fécamp.

    Sunrise/sunset from the solar declination and the equation of time (NOAA's approximation, a few
    minutes' accuracy, enough for a camera that needs light).
    """
    days = utc.astype("datetime64[D]")
    hour = (utc - days).astype("timedelta64[m]").astype(np.float64) / 60.0
    doy = (days - days.astype("datetime64[Y]")).astype(np.int64) + 1
    gamma = 2 * np.pi / 365.0 * (doy - 1 + 0.5)
    decl = (0.006918 - 0.399912 * np.cos(gamma) + 0.070257 * np.sin(gamma) - 0.006758 * np.cos(2 * gamma)
            + 0.000907 * np.sin(2 * gamma) - 0.002697 * np.cos(3 * gamma) + 0.00148 * np.sin(3 * gamma))
    eqtime = 229.18 * (0.000075 + 0.001868 * np.cos(gamma) - 0.032077 * np.sin(gamma)
                       - 0.014615 * np.cos(2 * gamma) - 0.040849 * np.sin(2 * gamma))
    lat = np.radians(FECAMP_LAT)
    cos_ha = (np.cos(np.radians(90.833)) - np.sin(lat) * np.sin(decl)) / (np.cos(lat) * np.cos(decl))
    ha = np.degrees(np.arccos(np.clip(cos_ha, -1, 1)))
    noon = (720 - 4 * FECAMP_LON - eqtime) / 60.0
    rise = noon - ha / 15.0 + TELRAAM_DAYLIGHT_MARGIN_H
    sett = noon + ha / 15.0 - TELRAAM_DAYLIGHT_MARGIN_H
    return np.clip(np.minimum(hour + 1, sett) - np.maximum(hour, rise), 0.0, 1.0)


# ---------------------------------------------------------------------------------------------------------
# the model
# ---------------------------------------------------------------------------------------------------------

@dataclass
class _Series:
    sensor: DemoSensor
    mode: str
    direction: str
    first: bool  # first direction of the sensor


def _series_of(sensors: tuple[DemoSensor, ...]) -> list[_Series]:
    out = []
    for s in sensors:
        for m in s.modes:
            for i, d in enumerate(s.directions):
                out.append(_Series(s, m, d, i == 0))
    return out


def _profiles() -> dict[str, np.ndarray]:
    out = {}
    for mode, rows in _PROFILES_RAW.items():
        arr = np.asarray(rows, dtype=np.float64)
        out[mode] = arr / arr.sum(axis=1, keepdims=True)
    return out


def _rates(series: list[_Series], hours: pl.DataFrame, cal: pl.DataFrame, rng: np.random.Generator,
           start: dt.date, festivals: list[dict]) -> np.ndarray:
    """Expected hourly counts, shape (series, hours), before the closure and the Poisson draw."""
    n_t = hours.height
    day_idx = hours.select((pl.col("local_date") - pl.lit(start)).dt.total_days()).to_series().to_numpy()
    hour = hours["local_hour"].to_numpy()
    dow = cal["dow"].to_numpy()
    holiday = cal["is_public_holiday"].to_numpy()
    day_type = np.where(holiday | (dow == 7), 2, np.where(dow == 6, 1, 0))
    bridge = cal["is_bridge_day"].to_numpy()
    summer = cal["is_summer"].to_numpy()
    school = cal["is_school_holiday"].to_numpy() & ~summer
    month = np.array([d.month for d in cal["date"].to_list()]) - 1
    years = np.array([(d - REFERENCE_DATE).days for d in cal["date"].to_list()], dtype=np.float64) / 365.25
    n_d = cal.height

    weather = np.exp(rng.normal(0.0, WEATHER_SIGMA, n_d) - WEATHER_SIGMA**2 / 2)
    sensor_noise = {s.sensor_id: np.exp(rng.normal(0.0, SENSOR_DAY_SIGMA, n_d) - SENSOR_DAY_SIGMA**2 / 2)
                    for s in SENSORS}
    profiles = _profiles()
    morning = np.exp(-(((np.arange(24) - 7.8) / 1.5) ** 2))
    evening = np.exp(-(((np.arange(24) - 17.5) / 1.8) ** 2))

    fest_day = np.zeros(n_d, dtype=bool)
    for f in festivals:
        for d in f["days"]:
            fest_day[(dt.date.fromisoformat(d) - start).days] = True
    fest_hour = fest_day[day_idx]
    fest_evening = fest_hour & np.isin(hour, FESTIVAL_EVENING_HOURS)

    out = np.empty((len(series), n_t), dtype=np.float64)
    for i, se in enumerate(series):
        s, m = se.sensor, se.mode
        ratio = np.asarray(DAY_TYPE_RATIO_CLASS.get(s.klass, {}).get(m, DAY_TYPE_RATIO[m]))
        group = "motor" if m in ("car", "heavy") else "active"
        daily = (
            s.base_daily[m]
            * ratio[day_type]
            * np.where(bridge, BRIDGE_FACTOR[m], 1.0)
            * np.asarray(MONTH_FACTOR[group])[month]
            * np.where(summer, SUMMER_MULTIPLIER.get(s.klass, {}).get(m, 1.0), 1.0)
            * np.where(school, SCHOOL_HOLIDAY_MULTIPLIER.get(s.klass, {}).get(m, 1.0), 1.0)
            * (1.0 + ANNUAL_GROWTH[m]) ** years
            * weather ** WEATHER_ELASTICITY[m]
            * sensor_noise[s.sensor_id]
            * np.exp(rng.normal(0.0, SERIES_DAY_SIGMA, n_d) - SERIES_DAY_SIGMA**2 / 2)
        )
        # Directional share by hour: constant bias, plus a tidal swing on working days for motor traffic.
        tide = (morning - evening) * (s.tidal if m in ("car", "heavy") else 0.0)
        share_first = s.share_first + np.where(day_type[day_idx] == 0, 1.0, 0.3) * tide[hour]
        share = share_first if se.first else 1.0 - share_first
        rate = daily[day_idx] * profiles[m][day_type[day_idx], hour] * share
        mult = FESTIVAL_MULTIPLIERS.get(s.sensor_id, {}).get(m)
        if mult is not None:
            rate = rate * np.where(fest_evening, mult[1], np.where(fest_hour, mult[0], 1.0))
        out[i] = rate
    return out


def _apply_closure(rates: np.ndarray, series: list[_Series], local_naive: np.ndarray, closure: dict) -> None:
    """Seafront closed: keep the residual share, divert part of the removed traffic, the rest evaporates."""
    mask = _local_mask(local_naive, dt.datetime.fromisoformat(closure["start_local"]),
                       dt.datetime.fromisoformat(closure["end_local_exclusive"]))
    index = {(se.sensor.sensor_id, se.mode, se.direction): i for i, se in enumerate(series)}
    for mode in closure["modes"]:
        for d_from, d_to in closure["direction_map"].items():
            i = index[(closure["sensor_id"], mode, d_from)]
            j = index[(closure["diverted_to"], mode, d_to)]
            removed = rates[i, mask] * (1.0 - closure["residual_share"])
            rates[i, mask] -= removed
            rates[j, mask] += removed * closure["diverted_share"]


def _build_truth(start: dt.date, end: dt.date, seed: int) -> dict:
    in_span = lambda d: start <= d <= end  # noqa: E731
    festivals = []
    for name, days in FESTIVALS:
        kept = [d.isoformat() for d in days if in_span(d)]
        if kept:
            festivals.append({
                "name": name,
                "days": kept,
                "evening_hours_local": list(FESTIVAL_EVENING_HOURS),
                "multipliers": {sid: {m: {"day": v[0], "evening": v[1]} for m, v in mm.items()}
                                for sid, mm in FESTIVAL_MULTIPLIERS.items()},
            })
    closure = None
    c_start, c_end = max(CLOSURE["start"], start), min(CLOSURE["end"], end)
    if c_start <= c_end:
        closure = {
            "name": CLOSURE["name"],
            "sensor_id": CLOSURE["sensor_id"],
            "modes": list(CLOSURE["modes"]),
            "start": c_start.isoformat(),
            "end": c_end.isoformat(),
            "start_local": dt.datetime.combine(c_start, dt.time()).isoformat(),
            "end_local_exclusive": dt.datetime.combine(c_end + dt.timedelta(days=1), dt.time()).isoformat(),
            "residual_share": CLOSURE["residual_share"],
            "removed_share": round(1 - CLOSURE["residual_share"], 10),
            "diverted_share": CLOSURE["diverted_share"],
            "evaporated_share": round(1 - CLOSURE["diverted_share"], 10),
            "diverted_to": CLOSURE["diverted_to"],
            "direction_map": dict(CLOSURE["direction_map"]),
            "explanation": (
                "During the closure the seafront keeps residual_share of its expected car/heavy traffic (local "
                "access). Of the removed traffic, diverted_share is added hour by hour to diverted_to (direction "
                "mapped by direction_map) and evaporated_share disappears."
            ),
        }

    def fault(sensor_id: str, mode: str | None, direction: str | None, a: dt.datetime, b: dt.datetime,
              **extra: object) -> dict | None:
        lo = max(a, dt.datetime.combine(start, dt.time()))
        hi = min(b, dt.datetime.combine(end + dt.timedelta(days=1), dt.time()))
        if lo >= hi:
            return None
        return {"sensor_id": sensor_id, "mode": mode, "direction": direction,
                "start_local": lo.isoformat(), "end_local_exclusive": hi.isoformat(),
                "start_local_iso": _local_iso(lo), "end_local_iso": _local_iso(hi),
                "hours": int((hi - lo).total_seconds() // 3600), **extra}

    outage = fault(OUTAGE[0], None, None, OUTAGE[1], OUTAGE[2],
                   meaning="all channels written with an empty count (not measured)")
    stuck = fault(*STUCK_RUN, meaning="the first hour's non-zero count repeated for every hour of the run")
    zero = fault(*ZERO_RUN, meaning="daytime hours written as 0 although traffic passed (sensor fault)")

    sensors = [
        {
            "sensor_id": s.sensor_id, "site_id": s.site_id, "name": s.name, "street": s.street,
            "format": "national_schema_v0.2.4" if s.kind == "national" else "telraam_api_hourly_json",
            "class": s.klass, "lat": s.lat, "lon": s.lon, "modes": list(s.modes), "directions": list(s.directions),
            "base_daily": dict(s.base_daily), "share_first_direction": s.share_first, "tidal_amplitude": s.tidal,
            **({"segment_id": s.segment_id, "speed_mean_kmh": s.speed_mean} if s.kind == "telraam" else
               {"counter_type": s.counter_type, "infrastructure_type": s.infrastructure_type,
                "direction_names": list(s.direction_names)}),
        }
        for s in SENSORS
    ]
    return {
        "synthetic": True,
        "generator": "sensors_io.demo_town.generate_demo_town",
        "seed": seed,
        "span": {"start": start.isoformat(), "end": end.isoformat(), "timezone": TZ},
        "town": {"name": "Fécamp (démo synthétique)", "insee": FECAMP_INSEE, "lat": FECAMP_LAT, "lon": FECAMP_LON},
        "sensors": sensors,
        "model": {
            "formula": "base_daily x direction_share x day_type_ratio x hourly_profile x month_factor x "
                       "(summer | school_holiday) x bridge x growth x weather^elasticity x noise x festival; "
                       "closure; Poisson; faults",
            "base_daily_meaning": "both directions, reference working day in April outside holidays",
            "day_types": list(DAY_TYPES),
            "public_holidays": "behave like Sundays (day type sunday_or_holiday)",
            "day_type_ratio": {m: list(v) for m, v in DAY_TYPE_RATIO.items()},
            "day_type_ratio_by_class": {k: {m: list(v) for m, v in d.items()} for k, d in DAY_TYPE_RATIO_CLASS.items()},
            "hourly_profiles": {m: {DAY_TYPES[i]: [round(x, 6) for x in row] for i, row in enumerate(p.tolist())}
                                for m, p in _profiles().items()},
            "bridge_day_factor": dict(BRIDGE_FACTOR),
            "month_factor": {k: list(v) for k, v in MONTH_FACTOR.items()},
            "month_factor_groups": {"motor": ["car", "heavy"], "active": ["bike", "pedestrian"]},
            "annual_growth": dict(ANNUAL_GROWTH),
            "growth_reference_date": REFERENCE_DATE.isoformat(),
            "noise": {"weather_sigma": WEATHER_SIGMA, "weather_elasticity": dict(WEATHER_ELASTICITY),
                      "sensor_day_sigma": SENSOR_DAY_SIGMA, "series_day_sigma": SERIES_DAY_SIGMA,
                      "counts": "Poisson around the expected value (national); Telraam: Poisson(expected x uptime)"
                                " / uptime"},
        },
        "summer": {"months": [7, 8], "multipliers_by_class": SUMMER_MULTIPLIER,
                   "multipliers": {s.sensor_id: {m: SUMMER_MULTIPLIER.get(s.klass, {}).get(m, 1.0) for m in s.modes}
                                   for s in SENSORS}},
        "school_holidays": {"zone": "B", "applies": "school-holiday days outside July-August",
                            "multipliers_by_class": SCHOOL_HOLIDAY_MULTIPLIER},
        "festivals": festivals,
        "closure": closure,
        "outages": [outage] if outage else [],
        "stuck_runs": [stuck] if stuck else [],
        "zero_runs": [zero] if zero else [],
        "telraam": {
            "device_generation": "V1 (daylight only)",
            "daylight_margin_hours": TELRAAM_DAYLIGHT_MARGIN_H,
            "daytime_uptime_range": list(TELRAAM_UPTIME_RANGE),
            "dip_probability": TELRAAM_DIP_PROBABILITY,
            "uptime_zero_means": "not measured: all counts 0 in the file, null in expected",
        },
        "expected_columns": ["site_id", "sensor_id", "mode", "direction", "start_utc", "count"],
    }


# ---------------------------------------------------------------------------------------------------------
# writers
# ---------------------------------------------------------------------------------------------------------

def _quote(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def _plain(value: str) -> str:
    return _quote(value) if any(c in value for c in ',"\n\r') else value


def _write_text(path: Path, text: str) -> None:
    """Write UTF-8 (no BOM) atomically: a crash never leaves half a file behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(text.encode("utf-8"))
    tmp.replace(path)


def _write_sites(path: Path, sensors: list[DemoSensor]) -> None:
    # Quoting as in the Eco-Counter example: site_name always quoted, the rest only when needed.
    lines = [",".join(SITE_COLUMNS)]
    for s in sensors:
        lines.append(",".join([
            _plain(s.site_id), "", _quote(s.name), FECAMP_INSEE, f"{s.lon:.6f}", f"{s.lat:.6f}",
            _plain(s.external_ids), _plain(s.infrastructure_type),
        ]))
    _write_text(path, "\n".join(lines) + "\n")


def _channel_id(s: DemoSensor, mode: str, direction: str) -> str:
    return f"{s.sensor_id.replace('CPT-', 'CH-')}-{mode.upper()}-{direction}"


def _write_channels(path: Path, series: list[_Series], start: dt.date, end: dt.date) -> None:
    started = _local_iso(dt.datetime.combine(start, dt.time()))
    updated = _local_iso(dt.datetime.combine(end + dt.timedelta(days=1), dt.time()))
    lines = [",".join(CHANNEL_COLUMNS)]
    for se in series:
        s = se.sensor
        k = 0 if se.first else 1
        lines.append(",".join([
            _channel_id(s, se.mode, se.direction), "", "", s.site_id, _plain(MOBILITY_TYPE[se.mode]),
            _quote(CHANNEL_COMMENT), "REMOTE TRANSMISSION", "API", _plain(s.counter_type), se.direction,
            "IN" if se.first else "OUT", _quote(s.direction_names[k]), _quote(DATA_PROVIDER), "PERMANENT",
            started, "", updated, "3600", "",
        ]))
    _write_text(path, "\n".join(lines) + "\n")


def _write_measures(path: Path, series: list[_Series], hours: pl.DataFrame, counts: np.ndarray) -> None:
    frames = []
    base = hours.select(start_datetime="start_local", end_datetime="end_local")
    for i, se in enumerate(series):
        frames.append(base.select(
            channel_id=pl.lit(_channel_id(se.sensor, se.mode, se.direction)),
            counter_id=pl.lit(se.sensor.sensor_id),
            start_datetime="start_datetime",
            end_datetime="end_datetime",
            count=pl.Series(counts[i]).fill_nan(None).cast(pl.Int64),
        ))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    pl.concat(frames).write_csv(tmp, line_terminator="\n", null_value="")
    tmp.replace(path)


def _js_strs(values: np.ndarray) -> list[str]:
    """JSON text of numbers as the Telraam API (JavaScript) writes them: integral values without ``.0``.

    Non-integral values use Python's shortest round-trip ``repr``, as :func:`json.dumps` does.
    """
    flat = np.ascontiguousarray(values, dtype=np.float64).ravel()
    out = np.full(flat.shape, "0", dtype=object)  # most hours are dark or empty: 0
    integral = np.flatnonzero((flat != 0) & (flat == np.floor(flat)))
    fractional = np.flatnonzero(flat != np.floor(flat))
    out[integral] = list(map(str, flat[integral].astype(np.int64).tolist()))
    out[fractional] = list(map(repr, flat[fractional].tolist()))
    return out.tolist()


_LIST_KEYS = ("car_speed_hist_0to70plus", "car_speed_hist_0to120plus")
#: One API item as ``json.dumps(..., indent=2)`` lays it out at depth 2 (inside ``data``): the monthly files
#: are assembled from this template because the pure-Python indenting encoder is ~10x slower. A test
#: checks that ``json.dumps(json.loads(file), indent=2)`` gives the file's bytes back.
_ITEM_TEMPLATE = "    {\n" + ",\n".join(
    f'      "{k}": [\n        %s\n      ]' if k in _LIST_KEYS else f'      "{k}": %s' for k in TELRAAM_KEYS
) + "\n    }"


def _telraam_month_text(device_id: str, month: str, items: list[str], last_updated: str) -> str:
    return (
        "{\n"
        f'  "device_id": {json.dumps(device_id)},\n'
        f'  "month": {json.dumps(month)},\n'
        '  "data": [\n' + ",\n".join(items) + "\n  ],\n"
        f'  "lastUpdated": {json.dumps(last_updated)}\n'
        "}"
    )


def _telraam_device(sensor: DemoSensor, hours: pl.DataFrame, uptime: np.ndarray, values: dict[str, np.ndarray],
                    totals: dict[str, np.ndarray], hist120: np.ndarray, hist70: np.ndarray, v85: np.ndarray,
                    out: Path) -> dict:
    """Write one device's monthly files; return its devices.json entry."""
    n_t = hours.height
    dates = hours["telraam_date"].to_list()
    months = hours["utc_month"].to_list()

    def rows(matrix: np.ndarray) -> list[str]:
        flat, width, sep = _js_strs(matrix), matrix.shape[1], ",\n        "
        return [sep.join(flat[i * width:(i + 1) * width]) for i in range(n_t)]

    null = ["null"] * n_t
    column = {
        "instance_id": ["-1"] * n_t,
        "segment_id": [str(sensor.segment_id)] * n_t,
        "date": [f'"{d}"' for d in dates],
        "interval": ['"hourly"'] * n_t,
        "uptime": _js_strs(uptime),
        **{mode: _js_strs(totals[mode]) for mode in ("heavy", "car", "bike", "pedestrian")},
        "night": null,
        **{k: _js_strs(v) for k, v in values.items()},
        "night_lft": null,
        "night_rgt": null,
        "direction": ["1"] * n_t,
        "car_speed_hist_0to70plus": rows(hist70),
        "car_speed_hist_0to120plus": rows(hist120),
        "timezone": [json.dumps(TZ)] * n_t,
        "v85": ["null" if np.isnan(v) else s for v, s in zip(v85.tolist(), _js_strs(np.nan_to_num(v85)))],
    }
    items = [_ITEM_TEMPLATE % vals for vals in zip(*(column[k] for k in TELRAAM_KEYS))]
    by_month: dict[str, list[str]] = {}
    for month, item in zip(months, items):
        by_month.setdefault(month, []).append(item)
    folder = out / f"device_{sensor.segment_id}" / "hourly"
    folder.mkdir(parents=True, exist_ok=True)
    # A previous run over another span may have left other months: remove them so the folder is exactly
    # this run's output.
    for stale in folder.glob("*.json"):
        if stale.stem not in by_month:
            stale.unlink()
    for month, month_items in by_month.items():
        y, m = (int(x) for x in month.split("-"))
        nxt = dt.date(y + (m == 12), m % 12 + 1, 3)
        text = _telraam_month_text(str(sensor.segment_id), month, month_items, f"{nxt.isoformat()}T04:31:03.021Z")
        _write_text(folder / f"{month}.json", text)
    # lat / lon: not in Telraam's device list; the town adds them so that the reports' map shows its segments
    return {"id": str(sensor.segment_id), "name": sensor.name, "location": "Fécamp, France",
            "lastUpdated": dates[-1], "totalDataPoints": n_t, "lat": round(sensor.lat, 6), "lon": round(sensor.lon, 6)}


def _telraam(series_idx: dict[tuple[str, str, str], int], rates: np.ndarray, hours: pl.DataFrame,
             rng: np.random.Generator, out: Path) -> tuple[list[dict], list[pl.DataFrame]]:
    utc = hours["start_utc"].dt.replace_time_zone(None).to_numpy()
    daylight = _daylight_fraction(utc)
    n_t = hours.height
    n_days = n_t // 24 + 2
    bins = np.arange(0, 125, 5, dtype=np.float64)  # lower edges of the 25 bins; the last is 120+
    devices, frames = [], []
    lo, hi = TELRAAM_UPTIME_RANGE
    for s in (x for x in SENSORS if x.kind == "telraam"):
        # Uptime: a device level, a daily drift, hourly jitter, rare dips; zero outside the counting window.
        day_of_t = np.arange(n_t) // 24
        level = np.clip(rng.normal(0.80, 0.05) + rng.normal(0.0, 0.05, n_days)[day_of_t]
                        + rng.normal(0.0, 0.04, n_t), lo, hi)
        dips = rng.random(n_t) < TELRAAM_DIP_PROBABILITY
        level = np.where(dips, level * rng.uniform(0.3, 0.7, n_t), level)
        seconds = np.floor(daylight * level * 3600.0)
        seconds = np.where(seconds < 60, 0.0, seconds)
        uptime = np.round(seconds / 3600.0, 10)
        measured = uptime > 0
        safe = np.where(measured, uptime, 1.0)
        values, totals, counted = {}, {}, {}
        for mode in MODES:
            pair = []
            for d in ("lft", "rgt"):
                n = rng.poisson(rates[series_idx[(s.sensor_id, mode, d)]] * uptime)
                counted[(mode, d)] = n
                values[f"{mode}_{d}"] = np.round(np.where(measured, n / safe, 0.0), 10)
                pair.append(n)
            totals[mode] = np.round(np.where(measured, (pair[0] + pair[1]) / safe, 0.0), 10)
        # Speed histogram of the cars actually counted: 5 km/h bins, percentages; v85 interpolated in the bins.
        n_cars = counted[("car", "lft")] + counted[("car", "rgt")]
        edges = np.append(bins, np.inf)
        cdf = 0.5 * (1 + _erf((edges - s.speed_mean) / (7.0 * np.sqrt(2))))
        cdf[0] = 0.0
        pvals = np.diff(cdf)
        pvals = pvals / pvals.sum()
        hist = rng.multinomial(n_cars, pvals).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            pct = np.where(n_cars[:, None] > 0, hist / np.maximum(n_cars, 1)[:, None] * 100.0, 0.0)
            cum = np.cumsum(hist, axis=1)
            target = 0.85 * n_cars
            k = np.argmax(cum >= target[:, None], axis=1)
            below = np.take_along_axis(cum, k[:, None], axis=1)[:, 0] - hist[np.arange(n_t), k]
            frac = (target - below) / np.maximum(hist[np.arange(n_t), k], 1)
            v85 = np.round((bins[k] + 5.0 * frac) * 2) / 2
        v85 = np.where(n_cars > 0, v85, np.nan)
        # 10 km/h bins (0-10 … 60-70, 70+) from the same counted cars.
        hist10 = np.concatenate([hist[:, 0:14].reshape(-1, 7, 2).sum(axis=2), hist[:, 14:].sum(axis=1)[:, None]],
                                axis=1)
        pct10 = np.where(n_cars[:, None] > 0, hist10 / np.maximum(n_cars, 1)[:, None] * 100.0, 0.0)
        devices.append(_telraam_device(s, hours, uptime, values, totals, np.round(pct, 10), np.round(pct10, 10),
                                       v85, out))
        for mode in MODES:
            for d in ("lft", "rgt"):
                frames.append(pl.DataFrame({
                    "site_id": s.site_id, "sensor_id": s.sensor_id, "mode": mode, "direction": d,
                    "start_utc": hours["start_utc"],
                    "count": pl.Series(np.where(measured, values[f"{mode}_{d}"], np.nan)).fill_nan(None),
                }))
    return devices, frames


def _erf(x: np.ndarray) -> np.ndarray:
    """Error function (Abramowitz–Stegun 7.1.26, |error| < 1.5e-7), vectorised; numpy has none."""
    sign = np.sign(x)
    x = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * x)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-x * x))


README_TEXT = """\
DONNÉES SYNTHÉTIQUES — ville de démonstration « Fécamp »
=========================================================

Ces fichiers sont ENTIÈREMENT SYNTHÉTIQUES. Ils ne proviennent d'aucun capteur réel et ne décrivent pas
le trafic réel de Fécamp. Ils sont générés par sensors_io.demo_town.generate_demo_town (graine {seed},
du {start} au {end}, heure locale Europe/Paris) pour faire tourner la chaîne de traitement de bout en bout
avec les mêmes lecteurs que les vraies données.

SYNTHETIC DATA — nothing here was measured. Generated by sensors_io.demo_town (seed {seed}, {start} to {end}).

Contenu / contents
- comptage/comptagemobilites_{{site,channel,measure}}_fecamp-demo.csv : schéma national « comptage des
  mobilités » v0.2.4 (mêmes colonnes que les exemples Eco-Compteur), pas horaire (time_step 3600),
  start_datetime/end_datetime en heure locale avec le décalage de chaque instant (+01:00/+02:00).
  count vide = non mesuré (panne) ; 0 = mesuré, personne n'est passé.
  data_provider_name = "DEMO SYNTHÉTIQUE" ; les noms de sites finissent par "(données synthétiques)".
  Sens : une voie par mode et par sens (N/S ou E/W) ; provider_direction_code IN = vers le centre-ville
  (routes), premier sens listé pour la Vélomaritime et la rue piétonne.
  La rue piétonne a deux voies, une par sens de marche (N, S), pas de voie « deux sens ».
- telraam/devices.json et telraam/device_<id>/hourly/AAAA-MM.json : format de l'API Telraam (réponse horaire,
  un fichier par appareil et par mois UTC, dates en UTC). Appareils V1 : uptime 0 la nuit (non mesuré),
  comptes extrapolés par l'uptime (décimaux). devices.json porte en plus lat / lon (WGS 84), absents de la
  liste de Telraam, pour placer les segments sur la carte des rapports.
- truth.json : tous les effets injectés (saison, vacances, festivals, travaux, pannes…) avec leurs dates
  et paramètres, pour vérifier ce que la chaîne retrouve.

Capteurs / sensors
{sensors}
"""


def generate_demo_town(out_dir: Path, *, start: dt.date = dt.date(2024, 1, 1), end: dt.date = dt.date(2025, 12, 31),
                       seed: int = 76400) -> DemoTown:
    """Write a synthetic Fécamp sensor network for the local days ``[start, end]`` into ``out_dir``.

    Deterministic: the same arguments give byte-identical files. Returns the truth (every injected effect)
    and the canonical counts exactly as written (see :class:`DemoTown`).

    Examples
    --------
    >>> import tempfile, datetime as dt
    >>> town = generate_demo_town(Path(tempfile.mkdtemp()), start=dt.date(2025, 3, 30), end=dt.date(2025, 3, 30))
    >>> town.expected.filter(pl.col("sensor_id") == "CPT-ALBERT-1ER", pl.col("mode") == "car",
    ...                      pl.col("direction") == "N").height  # the spring DST day has 23 hours
    23
    """
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)

    hours = _hours_frame(start, end)
    cal = calendar_frame(start, end, zone="B")
    truth = _build_truth(start, end, seed)
    series = _series_of(SENSORS)
    series_idx = {(se.sensor.sensor_id, se.mode, se.direction): i for i, se in enumerate(series)}

    rates = _rates(series, hours, cal, rng, start, truth["festivals"])
    local_naive = hours["local"].dt.replace_time_zone(None).to_numpy()
    if truth["closure"] is not None:
        _apply_closure(rates, series, local_naive, truth["closure"])

    national = [i for i, se in enumerate(series) if se.sensor.kind == "national"]
    counts = rng.poisson(rates[national]).astype(np.float64)
    nat_series = [series[i] for i in national]
    nat_idx = {(se.sensor.sensor_id, se.mode, se.direction): k for k, se in enumerate(nat_series)}

    # Faults, on the drawn counts.
    for o in truth["outages"]:
        mask = _local_mask(local_naive, dt.datetime.fromisoformat(o["start_local"]),
                           dt.datetime.fromisoformat(o["end_local_exclusive"]))
        for k, se in enumerate(nat_series):
            if se.sensor.sensor_id == o["sensor_id"]:
                counts[k, mask] = np.nan
    for run in truth["stuck_runs"]:
        k = nat_idx[(run["sensor_id"], run["mode"], run["direction"])]
        where = np.flatnonzero(_local_mask(local_naive, dt.datetime.fromisoformat(run["start_local"]),
                                           dt.datetime.fromisoformat(run["end_local_exclusive"])))
        value = max(counts[k, where[0]], 1.0, float(np.round(rates[national[k], where[0]])))
        counts[k, where] = value
        run["value"] = int(value)
    for run in truth["zero_runs"]:
        k = nat_idx[(run["sensor_id"], run["mode"], run["direction"])]
        mask = _local_mask(local_naive, dt.datetime.fromisoformat(run["start_local"]),
                           dt.datetime.fromisoformat(run["end_local_exclusive"]))
        counts[k, mask] = 0.0

    # National schema files.
    comptage = out_dir / "comptage"
    nat_sensors = [s for s in SENSORS if s.kind == "national"]
    _write_sites(comptage / f"comptagemobilites_site_{DATASET}.csv", nat_sensors)
    _write_channels(comptage / f"comptagemobilites_channel_{DATASET}.csv", nat_series, start, end)
    _write_measures(comptage / f"comptagemobilites_measure_{DATASET}.csv", nat_series, hours, counts)

    frames = [
        pl.DataFrame({
            "site_id": se.sensor.site_id, "sensor_id": se.sensor.sensor_id, "mode": se.mode,
            "direction": se.direction, "start_utc": hours["start_utc"],
            "count": pl.Series(counts[k]).fill_nan(None),
        })
        for k, se in enumerate(nat_series)
    ]

    # Telraam files.
    telraam = out_dir / "telraam"
    devices, tel_frames = _telraam(series_idx, rates, hours, rng, telraam)
    _write_text(telraam / "devices.json", json.dumps(devices, indent=2, ensure_ascii=False))

    expected = pl.concat(frames + tel_frames).with_columns(
        pl.col("start_utc").cast(pl.Datetime("us", "UTC")), pl.col("count").cast(pl.Float64),
    ).sort("sensor_id", "mode", "direction", "start_utc")

    truth["files"] = sorted(
        str(p.relative_to(out_dir)) for p in (comptage.rglob("*.csv")) if p.is_file()
    ) + ["telraam/devices.json"] + sorted(
        str(p.relative_to(out_dir)) for p in telraam.rglob("device_*/hourly/*.json")
    )
    _write_text(out_dir / "truth.json", json.dumps(truth, sort_keys=True, indent=2, ensure_ascii=False) + "\n")
    listing = "\n".join(
        f"- {s.sensor_id:<24} {s.name} — {', '.join(s.modes)} — "
        f"{'schéma national' if s.kind == 'national' else 'Telraam'} ({s.lat:.5f} N, {s.lon:.5f} E)"
        for s in SENSORS
    )
    _write_text(out_dir / "README.txt", README_TEXT.format(seed=seed, start=start, end=end, sensors=listing))
    return DemoTown(out_dir=out_dir, truth=truth, expected=expected)
