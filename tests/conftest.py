"""Shared fixtures: stores on SQLite and PostgreSQL, each test in its own database or schema.

PostgreSQL tests run against GPUREG_TEST_POSTGRES_URL (default: the local server on
127.0.0.1:5432, database ``test``). When it is unreachable they are skipped with the reason,
unless GPUREG_REQUIRE_POSTGRES=1 (as in CI), where they fail instead.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

POSTGRES_URL = os.environ.get("GPUREG_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRE_POSTGRES = os.environ.get("GPUREG_REQUIRE_POSTGRES") == "1"


def _postgres_reason() -> str | None:
    try:
        import psycopg

        with psycopg.connect(POSTGRES_URL, connect_timeout=3):
            return None
    except Exception as e:
        return f"PostgreSQL not reachable at {POSTGRES_URL}: {e}"


_PG_REASON: str | None = None
_PG_CHECKED = False


def postgres_unavailable() -> str | None:
    global _PG_REASON, _PG_CHECKED
    if not _PG_CHECKED:
        _PG_REASON = _postgres_reason()
        _PG_CHECKED = True
    return _PG_REASON


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL with a fresh schema, dropped after the test."""
    reason = postgres_unavailable()
    if reason:
        if REQUIRE_POSTGRES:
            pytest.fail(f"GPUREG_REQUIRE_POSTGRES=1 but {reason}")
        pytest.skip(reason)
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{sep}schema={schema}"
    finally:
        # A server the test started may still be running projections in the schema (fixtures
        # named after postgres_url are torn down after it): a deadlock with them is retried.
        for attempt in range(10):
            try:
                with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
                    conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
                break
            except psycopg.errors.DeadlockDetected:
                if attempt == 9:
                    raise
                time.sleep(0.2 * (attempt + 1))


@pytest.fixture
def sqlite_url(tmp_path) -> str:  # type: ignore[no-untyped-def]
    return f"sqlite:///{tmp_path}/registry.db"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request) -> str:  # type: ignore[no-untyped-def]
    """The same test on the SQLite file store and on PostgreSQL."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def t0() -> datetime:
    return datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
