"""Where the pipeline writes and which town it serves, from the environment (documented in the README)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    """``MOBILITY_HOME``, ``MOBILITY_TZ``, ``MOBILITY_SCHOOL_ZONE``, ``MOBILITY_PARTITIONS_START``, ``MOBILITY_WAREHOUSE_URL``."""

    home: Path
    tz: str = "Europe/Paris"
    school_zone: str = "B"
    partitions_start: str = "2020-01-01"
    warehouse_url: str | None = None

    @property
    def lake(self) -> Path:
        return self.home / "lake"

    @property
    def landing(self) -> Path:
        return self.home / "landing"

    @property
    def reports(self) -> Path:
        return self.home / "reports"


def load_settings(home: str | Path | None = None) -> Settings:
    """Settings from the environment; ``home`` overrides ``MOBILITY_HOME`` (default ``./mobility_home``)."""
    env = os.environ
    return Settings(
        home=Path(home or env.get("MOBILITY_HOME") or "mobility_home").resolve(),
        tz=env.get("MOBILITY_TZ", "Europe/Paris"),
        school_zone=env.get("MOBILITY_SCHOOL_ZONE", "B"),
        partitions_start=env.get("MOBILITY_PARTITIONS_START", "2020-01-01"),
        warehouse_url=env.get("MOBILITY_WAREHOUSE_URL") or None,
    )
