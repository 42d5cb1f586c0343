"""Shared fixtures: the real data in ../shared/data, and a temporary MOBILITY_HOME."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("MOBILITY_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real public exports beside the repo. Missing data fails in CI, skips elsewhere (and says why)."""
    if not SHARED_DATA.is_dir():
        msg = f"real sensor exports not found at {SHARED_DATA} (set MOBILITY_SHARED_DATA or put shared/ beside the repo)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(msg)
        pytest.skip(msg)
    return SHARED_DATA


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """An empty MOBILITY_HOME for one test."""
    h = tmp_path / "home"
    h.mkdir()
    return h
