"""Daily partitions: one local day of the town (Europe/Paris by default).

The start date is configuration (``MOBILITY_PARTITIONS_START``) so that history going back years
(the UCI file starts in 2012) ingests without code changes; the last key is yesterday.
"""

from __future__ import annotations

import dagster as dg

from pipelines.settings import load_settings

_settings = load_settings()

daily_partitions = dg.DailyPartitionsDefinition(
    start_date=_settings.partitions_start, timezone=_settings.tz
)
