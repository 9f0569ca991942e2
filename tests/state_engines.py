"""Fixtures for tests that run on both ledger engines.

PostgreSQL comes from ``COSTOPT_TEST_PG_URL`` (``.ci/run`` starts a server and sets it;
``scripts/start_test_postgres.sh`` does the same by hand). Without it the PostgreSQL cases
skip - except in CI (``CI`` set), where they fail: CI must run them. Each test gets a fresh
database (``CREATE DATABASE`` with a random name), dropped after.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from costopt.orchestrate.ledger import StateLocation
from costopt.orchestrate.ledger.location import parse_state_url

PG_URL_ENV = "COSTOPT_TEST_PG_URL"
ENGINES = ["sqlite", "postgresql"]


def server_url() -> str:
    """The test server's URL; skips (fails in CI) when there is none."""
    url = os.environ.get(PG_URL_ENV)
    if not url:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but {PG_URL_ENV} is not: CI must run the PostgreSQL "
                        "tests (.ci/run starts the server)")
        pytest.skip(f"no PostgreSQL server ({PG_URL_ENV} unset)")
    return url


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty database on the test server: its URL (with the password)."""
    import psycopg

    url = server_url()
    name = f"costopt_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    yield urlunsplit(urlsplit(url)._replace(path=f"/{name}"))
    drop_database(url, name)


def drop_database(url: str, name: str, *, tries: int = 50) -> None:
    """``DROP DATABASE name WITH (FORCE)``, tried again 0.2 s later while PostgreSQL refuses
    it with InsufficientPrivilege: an autovacuum worker at work in the database is a process
    the test role may not end (PostgreSQL 15), and it is gone within a few seconds."""
    import psycopg

    for attempt in range(tries):
        try:
            with psycopg.connect(url, autocommit=True) as admin:
                admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            return
        except psycopg.errors.InsufficientPrivilege:
            if attempt == tries - 1:
                raise
            time.sleep(0.2)


@pytest.fixture(params=ENGINES)
def location(request: pytest.FixtureRequest, tmp_path: Path) -> StateLocation:
    """A new ledger's place on each engine."""
    if request.param == "sqlite":
        return StateLocation.sqlite_in(tmp_path)
    return parse_state_url(request.getfixturevalue("pg_url"))
