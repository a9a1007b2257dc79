"""PostgreSQL: a chunk's rows of one table and kind written with a few multi-row statements.

A row sent through psycopg's ``executemany`` costs the worker a parameter dump, a prepared-statement
lookup, a Bind/Execute and a socket poll and write of its own, and the backend an executor start and
end: the bench workload's step wrote ~80 rows that way, more than half of them one batch's 144
serials (``bench.worker_statements``). Here the rows go as ``INSERT ... VALUES (...), (...)``,
``UPDATE ... FROM (VALUES ...)`` and ``DELETE ... USING (VALUES ...)``, in chunks of a power of two
rows (at most :data:`MAX_ROWS`), so that each table and kind has a few statement shapes that
psycopg prepares once. The statements use PostgreSQL's own ``$n`` placeholders (psycopg's
``RawCursor``: no query parsing per call; psycopg parses a ``%s`` query of more than 50 parameters
on every execute) on one cursor kept per connection, whose Python ints are sent as ``int8`` (a
statement's parameter types are part of its prepared key: by value they would be int2, int4 or
int8, one prepared statement per combination). Every value is cast to its column's type, as
SQLAlchemy's statements cast them.

The keys of a chunk's rows are distinct (a row cache writes each dirty key once), so an ``UPDATE``
or ``DELETE`` over a ``VALUES`` list changes each row at most once, as one statement per row did.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table, bindparam, select

MAX_ROWS = 64  # rows per statement at most (a rebuild's bulk inserts go 64 rows at a time)
_CURSOR = "gpureg-raw-cursor"  # the connection's kept cursor, in the pool record's info


def supported(dialect: Any) -> bool:
    """Multi-row statements are used on PostgreSQL through psycopg 3 (RawCursor: psycopg >= 3.2)."""
    if dialect.name != "postgresql" or dialect.driver != "psycopg":
        return False
    import psycopg

    return hasattr(psycopg, "RawCursor")


def chunk_sizes(n: int) -> list[int]:
    """``n`` rows as statement sizes: :data:`MAX_ROWS` while more remain, then the powers of two of
    the rest, largest first (7 -> 4, 2, 1): a few shapes per table and kind, each prepared once."""
    sizes = [MAX_ROWS] * (n // MAX_ROWS)
    rest = n % MAX_ROWS
    bit = MAX_ROWS
    while rest:
        bit //= 2
        if rest >= bit:
            sizes.append(bit)
            rest -= bit
    return sizes


def _cast(column: Any, dialect: Any) -> str:
    """The ``::TYPE`` SQLAlchemy renders after a bound value of ``column`` (a type it renders none
    for, such as BOOLEAN, is cast to its compiled type: a ``VALUES`` column needs one)."""
    text = str(select(bindparam("p", type_=column.type)).compile(dialect=dialect))
    marker = "%(p)s"
    start = text.index(marker) + len(marker)
    end = text.index(" AS ", start)
    cast = text[start:end]
    if not cast:
        cast = "::" + column.type.compile(dialect=dialect)
    return cast


class MultiRow:
    """One table's ``insert``, ``update`` (by primary key, every other column) or ``delete`` for
    many rows at once. Rows are mappings: an insert's hold every column, an update's every column
    and ``k_<pk column>`` for each key column, a delete's the ``k_`` keys."""

    def __init__(self, table: Table, kind: str, dialect: Any) -> None:
        quote = dialect.identifier_preparer
        self.kind = kind
        self.table = quote.format_table(table)
        pk = [c.name for c in table.primary_key.columns]
        columns = {c.name: c for c in table.columns}
        if kind == "insert":
            self.names = list(columns)
            targets = self.names
        elif kind == "update":
            rest = [c for c in columns if c not in pk]
            self.names = [f"k_{c}" for c in pk] + rest
            targets = pk + rest
        elif kind == "delete":
            self.names = [f"k_{c}" for c in pk]
            targets = pk
        else:
            raise ValueError(kind)
        self.casts = [_cast(columns[c], dialect) for c in targets]
        self.procs = [columns[c].type._cached_bind_processor(dialect) for c in targets]
        q = quote.quote
        listed = ", ".join(q(n) for n in self.names)
        on = " AND ".join(f"t.{q(c)} = v.{q(f'k_{c}')}" for c in pk)
        if kind == "insert":
            self._head = f"INSERT INTO {self.table} ({listed}) VALUES "  # noqa: S608
            self._tail = ""
        elif kind == "update":
            sets = ", ".join(f"{q(c)} = v.{q(c)}" for c in rest)
            self._head = f"UPDATE {self.table} AS t SET {sets} FROM (VALUES "  # noqa: S608
            self._tail = f") AS v ({listed}) WHERE {on}"
        else:
            self._head = f"DELETE FROM {self.table} AS t USING (VALUES "  # noqa: S608
            self._tail = f") AS v ({listed}) WHERE {on}"
        self._texts: dict[int, str] = {}

    def text(self, rows: int) -> str:
        """The statement for ``rows`` rows (built once per size)."""
        found = self._texts.get(rows)
        if found is None:
            width = len(self.casts)
            values = ", ".join(
                "(" + ", ".join(f"${i * width + j + 1}{cast}" for j, cast in enumerate(self.casts)) + ")"
                for i in range(rows)
            )
            found = self._texts[rows] = self._head + values + self._tail
        return found

    def params(self, rows: Sequence[Mapping[str, Any]]) -> list[Any]:
        """Every row's values, converted by the columns' bind processors, one flat list."""
        names = self.names
        converted = [(i, p) for i, p in enumerate(self.procs) if p is not None]
        flat: list[Any] = []
        if not converted:
            for r in rows:
                flat.extend([r[n] for n in names])
            return flat
        for r in rows:
            values = [r[n] for n in names]
            for i, p in converted:
                values[i] = p(values[i])
            flat.extend(values)
        return flat

    def run(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> int:
        """Write ``rows``; returns how many rows the statements changed."""
        if not rows:
            return 0
        flat = self.params(rows)
        width = len(self.names)
        cursor = raw_cursor(conn)
        changed = 0
        at = 0
        for size in chunk_sizes(len(rows)):
            cursor.execute(self.text(size), flat[at * width : (at + size) * width])
            at += size
            changed += max(cursor.rowcount, 0)
        return changed


def raw_cursor(conn: Connection) -> Any:
    """The connection's ``RawCursor``, kept in its pool record (a cursor costs an adapters map and
    its dumpers to set up), with Python ints dumped as ``int8``."""
    import psycopg
    from psycopg.types.numeric import Int8BinaryDumper

    raw: Any = conn.connection.dbapi_connection
    info = conn.connection.info
    cursor = info.get(_CURSOR)
    if cursor is None or cursor.connection is not raw or cursor.closed:
        cursor = psycopg.RawCursor(raw)
        cursor.adapters.register_dumper(int, Int8BinaryDumper)
        info[_CURSOR] = cursor
    return cursor


def numbered(sql: str) -> str:
    """A statement written with psycopg's ``%s`` placeholders, with PostgreSQL's ``$1``, ``$2``, ...
    (the projections' statements hold no other ``%``)."""
    parts = sql.split("%s")
    out = [parts[0]]
    for i, part in enumerate(parts[1:], start=1):
        out.append(f"${i}{part}")
    return "".join(out)
