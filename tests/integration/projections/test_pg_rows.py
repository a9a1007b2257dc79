"""PostgreSQL's multi-row statements (``projections/pg_rows.py``) write what one statement per row
wrote: the same rows through both, compared table against table, for row counts around every chunk
size and every column type the projections use (composite keys, NULLs, JSON, booleans, times)."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    Uuid,
    create_engine,
    select,
)

from projections.pg_rows import MultiRow, chunk_sizes
from projections.row_cache import _core_statement, _statement
from registry.infrastructure.store import sqlalchemy_url

SIZES = [1, 2, 3, 7, 31, 64, 65, 150]


def _table(metadata: MetaData, name: str) -> Table:
    return Table(
        name, metadata,
        Column("batch_id", Uuid, primary_key=True),
        Column("stage", String(16), primary_key=True),
        Column("position", BigInteger, nullable=False),
        Column("width", Integer, nullable=False),
        Column("note", Text, nullable=True),
        Column("current", Boolean, nullable=True),
        Column("at", DateTime(timezone=True), nullable=True),
        Column("data", JSON, nullable=False),
        Column("parent_id", Uuid, nullable=True),
    )


@pytest.fixture
def engine(postgres_url: str) -> Iterator[Engine]:
    url, options = sqlalchemy_url(postgres_url)
    engine = create_engine(url, **options)
    try:
        yield engine
    finally:
        engine.dispose()


def _rows(rng: random.Random, n: int) -> list[dict[str, Any]]:
    t0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    return [{
        "batch_id": uuid.UUID(int=rng.getrandbits(128)),
        "stage": rng.choice(["pending", "shipped", "", "x" * 16]),
        "position": rng.choice([0, 1, 2**15, 2**31, 2**62]),
        "width": rng.randrange(-3, 2**31 - 1),
        "note": rng.choice([None, "", "a'b", "%s $1 ?"]),
        "current": rng.choice([None, True, False]),
        "at": rng.choice([None, t0 + timedelta(microseconds=rng.randrange(10**12))]),
        "data": rng.choice([{}, [1, "two"], {"k": [None, 1.5]}, "text"]),
        "parent_id": rng.choice([None, uuid.UUID(int=rng.getrandbits(128))]),
    } for _ in range(n)]


def _keyed(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**r, "k_batch_id": r["batch_id"], "k_stage": r["stage"]} for r in rows]


def _dump(engine: Engine, table: Table) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(table).order_by(table.c.batch_id, table.c.stage))]


@pytest.mark.parametrize("n", SIZES)
def test_multi_row_statements_write_what_one_statement_per_row_wrote(engine: Engine, n: int) -> None:
    metadata = MetaData()
    ours, theirs = _table(metadata, "pg_rows_multi"), _table(metadata, "pg_rows_single")
    metadata.create_all(engine)
    rng = random.Random(n)
    rows = list({(r["batch_id"], r["stage"]): r for r in _rows(rng, n)}.values())
    changed = [{**r, **_rows(rng, 1)[0], "batch_id": r["batch_id"], "stage": r["stage"]} for r in rows[::2]]
    gone = rows[1::3]
    with engine.begin() as conn:
        multi = {kind: _statement(conn, ours, kind) for kind in ("insert", "update", "delete")}
        assert all(isinstance(s, MultiRow) for s in multi.values())
        single = {kind: _core_statement(theirs, kind, conn.dialect) for kind in ("insert", "update", "delete")}
        multi["insert"].run(conn, rows)
        single["insert"].run(conn, rows)
    assert _dump(engine, ours) == _dump(engine, theirs) and len(_dump(engine, ours)) == len(rows)
    with engine.begin() as conn:
        multi["update"].run(conn, _keyed(changed))
        single["update"].run(conn, _keyed(changed))
        multi["delete"].run(conn, [{"k_batch_id": r["batch_id"], "k_stage": r["stage"]} for r in gone])
        single["delete"].run(conn, [{"k_batch_id": r["batch_id"], "k_stage": r["stage"]} for r in gone])
    after = _dump(engine, ours)
    assert after == _dump(engine, theirs)
    assert len(after) == len(rows) - len(gone)
    metadata.drop_all(engine)


def test_chunk_sizes_cover_every_row_with_powers_of_two_at_most_the_limit() -> None:
    for n in range(0, 300):
        sizes = chunk_sizes(n)
        assert sum(sizes) == n
        assert all(s & (s - 1) == 0 and 0 < s <= 64 for s in sizes)
        assert sizes == sorted(sizes, reverse=True)
        assert len(set(sizes[sizes.count(64):])) == len(sizes) - sizes.count(64)  # each smaller size once
