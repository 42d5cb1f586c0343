"""Held-out accuracy on the real public hourly series (slow: about 3–10 minutes on 2 shared cores).

Issue #4 asks for a mean MASE against weekly seasonal-naive <= 0.80 and 80 % coverage in [0.75, 0.85].
The methods were chosen on the development cutoffs (``DEV_DATASETS``), never on this table (scored once
per version, docs/forecasting.md says when; README table): mean MASE 0.820, cov80 0.783, cov95 0.944 over 25 (series, cutoff)
pairs — the coverage aim is met, the MASE aim is NOT met yet. This test guards what is reached (no
regression) and the rules that must always hold; tighten the bound marked TARGET when the model gets there.
"""

from __future__ import annotations

import polars as pl
import pytest

from scenarios.evaluation import DATASETS, DEV_DATASETS, HORIZON_H, evaluation_table, overall, to_markdown


def test_development_weeks_are_not_evaluation_weeks() -> None:
    # Methods were chosen on DEV_DATASETS; no held-out week of DATASETS may overlap a dev week.
    assert [d.name for d in DEV_DATASETS] == [d.name for d in DATASETS]
    for dev, ev in zip(DEV_DATASETS, DATASETS, strict=True):
        assert (dev.folder, dev.tz, dev.country, dev.subdiv, dev.zone, dev.caps) == (
            ev.folder, ev.tz, ev.country, ev.subdiv, ev.zone, ev.caps)
        days = HORIZON_H // 24
        for a in dev.cutoffs:
            for b in ev.cutoffs:
                assert abs((a - b).days) >= days, (dev.name, a, b)  # the 7 days after each cutoff are disjoint
    assert sum(len(d.cutoffs) for d in DEV_DATASETS) == 26


@pytest.mark.slow
def test_real_series_forecasts_against_seasonal_naive(shared_data) -> None:
    table, per = evaluation_table(shared_data, workers=2)  # the same table as one process, in half the time
    print("\n" + to_markdown(table, per))
    assert table.height == sum(len(d.cutoffs) for d in DATASETS) == 10
    assert (table["series"] >= 1).all()
    o = overall(table, per)
    assert o["mase"] <= 0.84, o  # TARGET 0.80 (issue #4); measured 0.820 (previous version 0.829)
    assert 0.75 <= o["cov80"] <= 0.85, o  # issue #4's aim; measured 0.783
    assert 0.90 <= o["cov95"] <= 0.99 and o["cov95"] > o["cov80"], o  # measured 0.944
    # a series that ships seasonal-naive scores exactly 1 against it (the same forecast)
    naive = per.filter(pl.col("model") == "seasonal_naive_168h")
    assert (naive["mase"] == 1.0).all()
    # UCI I-94 around 4 July 2016: the calendar-aware model beats last week's copy by a wide margin
    july = table.filter((pl.col("dataset") == "uci_i94") & (pl.col("cutoff").cast(pl.String) == "2016-06-30"))
    assert july["mase"].item() < 0.8
