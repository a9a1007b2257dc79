"""A row cache told that a key (or a group) has no stored row answers without a query and inserts
what is then put; a row it already holds is not forgotten (``RowCache.absent``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import BigInteger, Column, Connection, MetaData, String, Table, create_engine, event, select

from projections.row_cache import RowCache


@pytest.fixture
def conn() -> Iterator[tuple[Connection, Table, list[str]]]:
    engine = create_engine("sqlite://")
    statements: list[str] = []
    event.listen(engine, "connect", lambda dbapi, _r: dbapi.set_trace_callback(statements.append))
    table = Table("t", MetaData(), Column("g", String(8), primary_key=True), Column("k", String(8), primary_key=True),
                  Column("units", BigInteger, nullable=False))
    with engine.begin() as c:
        table.create(c)
        c.execute(table.insert(), [{"g": "old", "k": "a", "units": 1}])
        statements.clear()
        yield c, table, statements
    engine.dispose()


def test_an_absent_key_is_answered_without_a_query_and_inserted_when_put(conn: tuple[Connection, Table, list[str]]) -> None:
    c, table, statements = conn
    cache = RowCache(c, table)
    cache.absent("new", "a")
    assert cache.get("new", "a") is None
    cache.add(("new", "a"), "units", 3)
    assert not statements  # no lookup
    cache.flush()
    assert [s.split()[0] for s in statements] == ["INSERT"]
    assert c.execute(select(table).where(table.c.g == "new")).all() == [("new", "a", 3)]


def test_an_absent_group_is_not_loaded_and_a_cached_row_stays(conn: tuple[Connection, Table, list[str]]) -> None:
    c, table, statements = conn
    cache = RowCache(c, table, group="g")
    assert cache.get("old", "a") == {"g": "old", "k": "a", "units": 1}  # one query: the group
    cache.absent("old", "a")  # already cached: kept
    assert cache.get("old", "a") == {"g": "old", "k": "a", "units": 1}
    cache.absent_group("new")
    assert cache.members("new") == [] and cache.get("new", "b") is None
    assert len(statements) == 1
