"""Held-out accuracy on the real public hourly series (slow: about 2–3 minutes on 2 cores).

Issue #4 asks for a mean MASE against weekly seasonal-naive <= 0.80 and 80 % coverage in [0.75, 0.85].
Measured on this code (docs/forecasting.md, README table): mean MASE 0.869, cov80 0.728, cov95 0.917 over
25 (series, cutoff) pairs — the target is NOT met yet. This test guards what is reached (no regression)
and the rules that must always hold; tighten the two bounds marked TARGET when the model gets there.
"""

from __future__ import annotations

import polars as pl
import pytest

from scenarios.evaluation import DATASETS, evaluation_table, overall, to_markdown


@pytest.mark.slow
def test_real_series_forecasts_against_seasonal_naive(shared_data) -> None:
    table, per = evaluation_table(shared_data)
    print("\n" + to_markdown(table, per))
    assert table.height == sum(len(d.cutoffs) for d in DATASETS) == 10
    assert (table["series"] >= 1).all()
    o = overall(table, per)
    assert o["mase"] <= 0.90, o  # TARGET 0.80 (issue #4); measured 0.869
    assert 0.70 <= o["cov80"] <= 0.85, o  # TARGET [0.75, 0.85]; measured 0.728
    assert 0.85 <= o["cov95"] <= 0.99 and o["cov95"] > o["cov80"], o
    # a series that ships seasonal-naive scores exactly 1 against it (the same forecast)
    naive = per.filter(pl.col("model") == "seasonal_naive_168h")
    assert (naive["mase"] == 1.0).all()
    # UCI I-94 around 4 July 2016: the calendar-aware model beats last week's copy by a wide margin
    july = table.filter((pl.col("dataset") == "uci_i94") & (pl.col("cutoff").cast(pl.String) == "2016-06-30"))
    assert july["mase"].item() < 0.8
