"""Resources: the lake folders, the lake IO manager and the warehouse, bound in one place."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import Field

from pipelines.io import LakeIOManager
from pipelines.settings import Settings, load_settings


class LakeResource(dg.ConfigurableResource):
    """The home folder: ``landing/`` for files to ingest, ``lake/`` for Parquet, ``reports/`` for HTML."""

    home: str = Field(description="MOBILITY_HOME: everything the pipeline writes lives under it.")
    tz: str = Field(default="Europe/Paris", description="The town's time zone for local days and calendars.")
    school_zone: str = Field(default="B", description="French school-holiday zone of the town (Fécamp: B).")

    @property
    def home_path(self) -> Path:
        """The home folder as a Path."""
        return Path(self.home)

    @property
    def lake(self) -> Path:
        return Path(self.home) / "lake"

    @property
    def landing(self) -> Path:
        return Path(self.home) / "landing"

    @property
    def reports(self) -> Path:
        return Path(self.home) / "reports"

    def dataset(self, name: str) -> Path:
        """``lake/<name>``."""
        return self.lake / name


def build_resources(settings: Settings | None = None) -> dict[str, object]:
    """Every resource the assets need, from the settings (the environment by default)."""
    from warehouse.engine import default_url
    from warehouse.resource import WarehouseResource

    s = settings or load_settings()
    return {
        "lake": LakeResource(home=str(s.home), tz=s.tz, school_zone=s.school_zone),
        "lake_io": LakeIOManager(base_dir=str(s.lake), timezone=s.tz),
        "warehouse": WarehouseResource(url=s.warehouse_url or default_url(s.home)),
    }
