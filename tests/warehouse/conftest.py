"""Warehouse fixtures: every test runs on SQLite (in tmp_path) and on a real PostgreSQL.

PostgreSQL tests share one throw-away schema per session (``wh_test_<random>``), selected through the
URL (``options=-csearch_path=…``) so the code under test needs no special casing; tables are truncated
before each test and the schema is dropped at the end. Set ``MOBILITY_TEST_PG_URL`` to use another server.
An unreachable server fails the run in CI (``CI=true``) and skips the PostgreSQL half elsewhere.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from warehouse.engine import create_schema, default_url, make_engine
from warehouse.models import metadata
from warehouse.resource import dispose_engines

PG_URL = os.environ.get("MOBILITY_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BACKENDS = ("sqlite", "postgresql")


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def pg_engine() -> Iterator[sa.Engine]:
    """An engine on a fresh PostgreSQL schema for this session, tables created (the schema is dropped afterwards)."""
    schema = f"wh_test_{uuid.uuid4().hex[:10]}"
    admin = make_engine(PG_URL, connect_args={"connect_timeout": 3}, poolclass=sa.NullPool)
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    except sa.exc.OperationalError as exc:
        msg = f"PostgreSQL not reachable at {sa.make_url(PG_URL).render_as_string(hide_password=True)}: {exc.orig}"
        if _in_ci():
            pytest.fail(msg)
        pytest.skip(msg)
    url = sa.make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    engine = make_engine(url)
    try:
        create_schema(engine)
        yield engine
    finally:
        engine.dispose()
        dispose_engines()
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A warehouse URL on each backend: an empty SQLite file, or the (emptied) session PostgreSQL schema."""
    if request.param == "sqlite":
        return default_url(tmp_path)
    pg: sa.Engine = request.getfixturevalue("pg_engine")
    with pg.begin() as conn:
        for t in reversed(metadata.sorted_tables):  # DELETE beats TRUNCATE on tiny tables
            conn.execute(t.delete())
    return pg.url.render_as_string(hide_password=False)


@pytest.fixture
def engine(url: str) -> Iterator[sa.Engine]:
    """An engine on the backend under test, with the schema created."""
    eng = make_engine(url)
    create_schema(eng)
    yield eng
    eng.dispose()
