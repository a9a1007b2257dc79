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


def test_new_rows_are_inserted_without_a_lookup_and_a_cached_row_is_updated() -> None:
    """``put_new``: rows known not to be stored go in as ``absent`` + ``put`` would put them, with
    no query; a key the cache already holds as stored is updated, not inserted again."""
    from uuid import UUID

    from sqlalchemy import Uuid

    engine = create_engine("sqlite://")
    statements: list[str] = []
    event.listen(engine, "connect", lambda dbapi, _r: dbapi.set_trace_callback(statements.append))
    table = Table("s", MetaData(), Column("serial", String(16), primary_key=True),
                  Column("batch_id", Uuid, nullable=False))
    one, two = UUID(int=1), UUID(int=2)
    with engine.begin() as c:
        table.create(c)
        c.execute(table.insert(), [{"serial": "S0", "batch_id": one}])
        cache = RowCache(c, table)
        assert cache.get("S0") == {"serial": "S0", "batch_id": one}
        statements.clear()
        cache.put_new([{"serial": f"S{i}", "batch_id": two if i else one} for i in range(1, 4)])
        cache.put_new([{"serial": "S0", "batch_id": two}])
        assert not statements  # no lookup
        cache.flush()
        assert sorted(s.split()[0] for s in statements) == ["INSERT"] * 3 + ["UPDATE"]  # one per row
        # the batch UUID shared by the inserted rows converted once, each row still its own value
        assert c.execute(select(table).order_by(table.c.serial)).all() == [
            ("S0", two), ("S1", two), ("S2", two), ("S3", two)]
    engine.dispose()
