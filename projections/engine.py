"""The projection engine: projections, their generations, and exactly-once chunk application.

A :class:`Projection` turns registry events into rows of its own tables. Its tables exist in
*generations* (``rm_<projection>_<table>_g<N>``): a rebuild fills a fresh generation while queries keep
reading the active one, then switches over in one transaction.

Exactly once: :func:`apply_chunk` first moves the generation's position from the value the
caller read to the chunk's last notification id with a conditional ``UPDATE ... WHERE
position = <old>``, then writes the chunk's rows, all in one transaction. A crash before the
commit loses nothing (the position did not move); a second writer that raced us finds the
position moved and rolls back (no double count), whatever the locks say. :func:`apply_chunks`
does the same for several projections in one transaction, and :class:`MemoryBuild` for a
generation built from empty in memory (its rows and final position in one transaction).
"""

from __future__ import annotations

import contextlib
import operator
import os
import socket
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from eventsourcing.persistence import Notification
from eventsourcing.utils import get_topic
from sqlalchemy import (
    Connection,
    Engine,
    MetaData,
    Table,
    and_,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)

from projections.db import ACTIVE, BUILDING, POSITIONS, reading, table_exists, writing

Row = dict[str, Any]
Key = tuple[Any, ...]
Handler = Callable[["Work", Any], None]

_LOAD_BATCH = 500
_BUILD_CACHE_KIB = -256 * 1024  # SQLite page cache while a memory build is written (negative: KiB)


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class PositionMoved(Exception):
    """The generation's position changed under us (another writer, a switch-over): reload."""


class Projection(ABC):
    """One read model: its tables and how each event changes them.

    Subclasses set ``name`` and ``version`` (bump the version whenever the tables or the
    handling change: the runner then rebuilds the projection at start), define their tables in
    :meth:`define` (named ``rm_<projection>_<table>_g<generation>``) and map event classes to
    handlers in :meth:`handlers`. Handlers work on :class:`Work`, which caches rows for the
    whole chunk and writes them once at its end.
    """

    name: ClassVar[str]
    version: ClassVar[int]

    def __init__(self) -> None:
        self._tables: dict[int, dict[str, Table]] = {}
        self._by_topic: dict[str, Handler] | None = None

    @abstractmethod
    def define(self, metadata: MetaData, name: Callable[[str], str]) -> dict[str, Table]:
        """Declare the tables; ``name("batch")`` gives this projection's and generation's table name."""

    @abstractmethod
    def handlers(self) -> Mapping[type[Any], Handler]:
        """Event class -> handler."""

    def tables(self, generation: int) -> dict[str, Table]:
        if generation not in self._tables:
            self._tables[generation] = self.define(
                MetaData(), lambda base: f"rm_{self.name}_{base}_g{generation}"
            )
        return self._tables[generation]

    def handler_for(self, topic: str) -> Handler | None:
        if self._by_topic is None:
            self._by_topic = {get_topic(cls): h for cls, h in self.handlers().items()}
        return self._by_topic.get(topic)


# ------------------------------------------------------------------------------ row caching
class _Statement:
    """One INSERT, UPDATE or DELETE of a table compiled for a dialect, run at the driver level.

    ``executemany`` through SQLAlchemy Core builds and processes every row's parameters in
    Python (``construct_params``); here each column's bind processor is looked up once, and rows
    go to the DB-API cursor as tuples (positional dialects) or plain dicts.
    """

    def __init__(self, stmt: Any, dialect: Any) -> None:
        compiled = stmt.compile(dialect=dialect)
        self.sql: str = compiled.string
        self.positional: bool = bool(compiled.positional)
        names: list[str] = list(compiled.positiontup or []) if self.positional else list(compiled.binds)
        escaped: Mapping[str, str] = getattr(compiled, "escaped_bind_names", None) or {}
        self.names = names
        self.keys = [escaped.get(n, n) for n in names]
        self.procs = [compiled.binds[n].type._cached_bind_processor(dialect) for n in names]

    def run(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        if self.positional:
            # The columns' values in C (itemgetter), then the few that need converting (UUIDs,
            # times) replaced in place: a rebuild writes 260,000 serial rows this way.
            values = _getter(self.names)
            converted = [(i, p) for i, p in enumerate(self.procs) if p is not None]
            params: list[Any]
            if not converted:
                params = list(map(values, rows))
            else:
                params = []
                for r in rows:
                    row = list(values(r))
                    for i, p in converted:
                        row[i] = p(row[i])
                    params.append(row)
        else:
            keyed = list(zip(self.keys, self.names, self.procs, strict=True))
            params = [{k: p(r[n]) if p is not None else r[n] for k, n, p in keyed} for r in rows]
        cursor = conn.connection.cursor()
        cursor.executemany(self.sql, params)
        cursor.close()


def _statement(conn: Connection, table: Table, kind: str) -> _Statement:
    """The table's compiled ``insert``, ``update`` (by primary key ``k_<col>``) or ``delete``."""
    dialect = conn.dialect
    key = ("gpureg-statement", dialect.name, dialect.paramstyle, kind)
    found = table.info.get(key)
    if found is None:
        pk = [c.name for c in table.primary_key.columns]
        cond = and_(*(table.c[c] == bindparam(f"k_{c}") for c in pk))
        if kind == "insert":
            stmt: Any = insert(table).values({c.name: bindparam(c.name) for c in table.columns})
        elif kind == "update":
            stmt = update(table).where(cond).values(
                {c.name: bindparam(c.name) for c in table.columns if c.name not in pk}
            )
        else:
            stmt = delete(table).where(cond)
        found = table.info[key] = _Statement(stmt, dialect)
    assert isinstance(found, _Statement)
    return found


def _getter(columns: Sequence[str]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """A row's values of ``columns``, as a tuple (also for one column)."""
    if len(columns) == 1:
        column = columns[0]
        return lambda row: (row[column],)
    return operator.itemgetter(*columns)


def bulk_insert(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert many rows (dicts with every column) with one driver-level ``executemany``."""
    _statement(conn, table, "insert").run(conn, rows)


class _Sql:
    """Driver-level reads and set-based updates of one table on one dialect (R4).

    Building a Core statement per call (and its cache key, with every value of an ``IN``
    list) costs more than running it; these statements are plain SQL strings with positional
    placeholders, their values and results converted with the columns' own processors, and
    run on the DB-API cursor of the caller's connection (so in its transaction).
    """

    def __init__(self, table: Table, dialect: Any) -> None:
        if dialect.paramstyle not in ("qmark", "format", "pyformat"):
            raise NotImplementedError(f"paramstyle {dialect.paramstyle}")
        quote = dialect.identifier_preparer
        self.mark = "?" if dialect.paramstyle == "qmark" else "%s"
        self.table = quote.format_table(table)
        self.columns = [c.name for c in table.columns]
        self.quoted = {c.name: quote.quote(c.name) for c in table.columns}
        self.all = ", ".join(self.quoted[c] for c in self.columns)
        self.binds = {c.name: c.type._cached_bind_processor(dialect) for c in table.columns}
        processors = [(i, c.type._cached_result_processor(dialect, None)) for i, c in enumerate(table.columns)]
        self.results = [(i, p) for i, p in processors if p is not None]
        self.plain = {
            c for i, c in enumerate(self.columns)
            if self.binds[c] is None and processors[i][1] is None
        }

    def value(self, column: str, value: Any) -> Any:
        process = self.binds[column]
        return process(value) if process is not None else value

    def equal(self, columns: Sequence[str]) -> str:
        return " AND ".join(f"{self.quoted[c]} = {self.mark}" for c in columns)

    def among(self, column: str, n: int) -> str:
        return f"{self.quoted[column]} IN ({', '.join([self.mark] * n)})"

    @staticmethod
    def run(conn: Connection, sql: str, params: Sequence[Any]) -> Any:
        cursor = conn.connection.cursor()
        cursor.execute(sql, tuple(params))
        return cursor

    def select(self, conn: Connection, where: str, params: Sequence[Any]) -> list[Row]:
        cursor = self.run(conn, f"SELECT {self.all} FROM {self.table} WHERE {where}", params)  # noqa: S608
        rows = cursor.fetchall()
        cursor.close()
        columns = self.columns
        if not self.results:
            return [dict(zip(columns, r, strict=True)) for r in rows]
        out: list[Row] = []
        for r in rows:
            values = list(r)
            for i, process in self.results:
                values[i] = process(values[i])
            out.append(dict(zip(columns, values, strict=True)))
        return out


def _sql(conn: Connection, table: Table) -> _Sql:
    dialect = conn.dialect
    key = ("gpureg-sql", dialect.name, dialect.paramstyle)
    found = table.info.get(key)
    if found is None:
        found = table.info[key] = _Sql(table, dialect)
    assert isinstance(found, _Sql)
    return found


class RowCache:
    """The rows of one table that a chunk touches, loaded once and written once.

    ``group`` names a leading primary-key column: the first access to a key loads every row
    of that key's group (for example all buckets of a batch), so misses cost no query.

    A cache in ``memory`` mode belongs to a generation being built from an empty start (see
    :class:`MemoryBuild`): it holds every row of the table, never reads the database, and is
    written once, by :meth:`write_all`.
    """

    def __init__(
        self, conn: Connection | None, table: Table, group: str | None = None, *, memory: bool = False
    ) -> None:
        self._conn = conn
        self.table = table
        self.pk = tuple(c.name for c in table.primary_key.columns)
        self.group = group
        self._group_index = self.pk.index(group) if group else -1
        self.memory = memory
        self.rows: dict[Key, Row | None] = {}
        self.stored: dict[Key, bool] = {}
        self.dirty: set[Key] = set()
        self._groups: set[Any] = set()
        self._complete = memory
        self.bulk = False  # used for many keys at a time (serials): not kept warm between chunks
        # memory mode: group value -> keys (insertion ordered), and secondary indexes
        self._members: dict[Any, dict[Key, None]] = {}
        self._indexes: dict[str, dict[Any, dict[Key, None]]] = {}

    @property
    def conn(self) -> Connection:
        assert self._conn is not None, "this cache is in memory mode and has no connection"
        return self._conn

    def key_of(self, row: Mapping[str, Any]) -> Key:
        if len(self.pk) == 1:
            return (row[self.pk[0]],)
        return tuple(row[c] for c in self.pk)

    def _remember(self, row: Row) -> None:
        key = self.key_of(row)
        if key not in self.rows:
            self.rows[key] = row
            self.stored[key] = True

    def _load_group(self, value: Any) -> None:
        assert self.group is not None
        self._groups.add(value)
        sql = _sql(self.conn, self.table)
        for r in sql.select(self.conn, sql.equal([self.group]), [sql.value(self.group, value)]):
            self._remember(r)

    def get(self, *key: Any) -> Row | None:
        if key in self.rows:
            return self.rows[key]
        if self.memory:
            return None
        if self._complete:
            pass  # the whole table is loaded: a key not seen does not exist
        elif self.group is not None:
            value = key[self._group_index]
            if value not in self._groups:
                self._load_group(value)
            if key in self.rows:
                return self.rows[key]
        else:
            sql = _sql(self.conn, self.table)
            params = [sql.value(c, v) for c, v in zip(self.pk, key, strict=True)]
            for found in sql.select(self.conn, sql.equal(self.pk), params):
                self._remember(found)
            if key in self.rows:
                return self.rows[key]
        self.rows[key] = None
        self.stored[key] = False
        return None

    def all_rows(self) -> list[Row]:
        """Every row of the table as this chunk sees it (loaded once; for small tables)."""
        if not self._complete:
            for r in self.conn.execute(select(self.table)).mappings():
                self._remember(dict(r))
            self._complete = True
        return [r for r in self.rows.values() if r is not None]

    def group_rows(self, value: Any) -> list[Row]:
        """Every row of one group (``group`` names the column), as this chunk sees it."""
        assert self.group is not None, "group_rows needs a cache with a group column"
        if self.memory:
            rows = self.rows
            return [r for k in self._members.get(value, ()) if (r := rows.get(k)) is not None]
        if value not in self._groups and not self._complete:
            self._load_group(value)
        i = self._group_index
        return [r for k, r in self.rows.items() if r is not None and k[i] == value]

    def indexed(self, column: str, value: Any) -> list[Row]:
        """Memory mode: the rows whose ``column`` equals ``value`` (an index kept from the first call)."""
        assert self.memory, "indexed() answers from memory; query the table otherwise"
        index = self._indexes.get(column)
        if index is None:
            index = self._indexes[column] = {}
            for k, r in self.rows.items():
                if r is not None:
                    index.setdefault(r[column], {})[k] = None
        rows = self.rows
        return [
            r for k in index.get(value, ()) if (r := rows.get(k)) is not None and r[column] == value
        ]

    def prefetch(self, values: Iterable[Any]) -> None:
        """Load many single-column keys in a few queries (for example a shipment's serials)."""
        self.bulk = True
        assert len(self.pk) == 1, "prefetch needs a single-column primary key"
        if self.memory:
            return
        column = self.pk[0]
        wanted = [v for v in dict.fromkeys(values) if (v,) not in self.rows]
        if not wanted:
            return
        sql = _sql(self.conn, self.table)
        for i in range(0, len(wanted), _LOAD_BATCH):
            part = wanted[i : i + _LOAD_BATCH]
            params = [sql.value(column, v) for v in part]
            for r in sql.select(self.conn, sql.among(column, len(part)), params):
                self._remember(r)
            for v in part:
                if (v,) not in self.rows:
                    self.rows[(v,)] = None
                    self.stored[(v,)] = False

    def get_many(self, keys: Sequence[Any]) -> list[Row | None]:
        """The rows of many single-column keys, in order (None where there is none)."""
        self.prefetch(keys)
        rows = self.rows
        if self.memory:
            return [rows.get((k,)) for k in keys]
        return [rows[(k,)] for k in keys]

    def put_many(self, rows: Iterable[Row]) -> None:
        self.bulk = True
        if self.memory and self.group is None and len(self.pk) == 1:
            column = self.pk[0]
            if not self._indexes:
                self.rows.update(((r[column],), r) for r in rows)
                return
            held = self.rows
            indexes = list(self._indexes.items())
            for r in rows:
                key = (r[column],)
                old = held.get(key)
                for c, index in indexes:
                    if old is None or old[c] != r[c]:
                        index.setdefault(r[c], {})[key] = None
                held[key] = r
            return
        for r in rows:
            self.put(r)

    def _split(self, keys: Sequence[Any]) -> tuple[list[Row], list[Any]]:
        """The cached rows of single-column ``keys``, and the keys the cache does not know
        (none when the whole generation is in memory: a key it lacks has no row)."""
        held = self.rows
        if self.memory:
            return [r for k in keys if (r := held.get((k,))) is not None], []
        cached: list[Row] = []
        uncached: list[Any] = []
        for k in keys:
            key = (k,)
            if key in held:
                row = held[key]
                if row is not None:
                    cached.append(row)
            else:
                uncached.append(k)
        return cached, uncached

    def tally(self, keys: Sequence[Any], columns: Sequence[str]) -> dict[tuple[Any, ...], int]:
        """How many rows of ``keys`` (a single-column primary key) hold each combination of
        ``columns``' values: cached rows from the cache, the others with one ``GROUP BY`` query
        (no row is loaded). Keys without a row are not counted."""
        self.bulk = True
        assert len(self.pk) == 1, "tally needs a single-column primary key"
        counts: dict[tuple[Any, ...], int] = {}
        values_of = _getter(columns)
        found, uncached = self._split(keys)
        for values in map(values_of, found):
            counts[values] = counts.get(values, 0) + 1
        if uncached:
            sql = _sql(self.conn, self.table)
            column = self.pk[0]
            listed = ", ".join(sql.quoted[c] for c in columns)
            # Values come back as stored: ``columns`` must be plain ones (no bind or result
            # processor: strings, numbers), so that they compare equal to the cached rows'.
            assert all(c in sql.plain for c in columns), columns
            for i in range(0, len(uncached), _LOAD_BATCH):
                part = uncached[i : i + _LOAD_BATCH]
                cursor = sql.run(
                    self.conn,
                    f"SELECT {listed}, COUNT(*) FROM {sql.table} WHERE {sql.among(column, len(part))} "  # noqa: S608
                    f"GROUP BY {listed}",
                    [sql.value(column, v) for v in part],
                )
                for r in cursor.fetchall():
                    values = tuple(r[:-1])
                    counts[values] = counts.get(values, 0) + int(r[-1])
                cursor.close()
        return counts

    def move(self, keys: Sequence[Any], by: Sequence[str], moves: Mapping[tuple[Any, ...], Mapping[str, Any]]) -> None:
        """Each row of ``keys`` (a single-column primary key) whose ``by`` columns hold a key of
        ``moves`` takes that move's values; the others stay as they are.

        Cached rows change in the cache; the others with one ``UPDATE ... WHERE key IN (...)
        AND <by> = <from>`` per move, without loading them (unless a move's target is another
        move's start: then row by row, so that no row moves twice)."""
        self.bulk = True
        assert len(self.pk) == 1, "move needs a single-column primary key"
        if not keys or not moves:
            return
        chained = False
        for start, to in moves.items():
            target = tuple(to.get(c, v) for c, v in zip(by, start, strict=True))
            if target != start and target in moves:
                chained = True
        if chained:
            self.prefetch(keys)
        cached, uncached = self._split(keys)
        position_of = _getter(by)
        changed: list[Row] = []
        for row in cached:
            found = moves.get(position_of(row))
            if found is not None:
                changed.append({**row, **found})
        self.put_many(changed)
        if not uncached:
            return
        sql = _sql(self.conn, self.table)
        column = self.pk[0]
        keys_params = [sql.value(column, v) for v in uncached]
        for start, to in moves.items():
            assignments = ", ".join(f"{sql.quoted[c]} = {sql.mark}" for c in to)
            values = [sql.value(c, v) for c, v in to.items()]
            where = [sql.value(c, v) for c, v in zip(by, start, strict=True)]
            for i in range(0, len(uncached), _LOAD_BATCH):
                part = keys_params[i : i + _LOAD_BATCH]
                sql.run(
                    self.conn,
                    f"UPDATE {sql.table} SET {assignments} WHERE {sql.among(column, len(part))} "  # noqa: S608
                    f"AND {sql.equal(by)}",
                    [*values, *part, *where],
                ).close()

    def put(self, row: Row) -> None:
        key = self.key_of(row)
        if self.memory:
            if key not in self.rows and self.group is not None:
                self._members.setdefault(key[self._group_index], {})[key] = None
            if self._indexes:
                old = self.rows.get(key)
                for column, index in self._indexes.items():
                    if old is None or old[column] != row[column]:
                        index.setdefault(row[column], {})[key] = None
            self.rows[key] = row
            return
        if key not in self.stored:
            self.get(*key)
        self.rows[key] = row
        self.dirty.add(key)

    def delete(self, *key: Any) -> None:
        if self.memory:
            if key in self.rows:
                self.rows[key] = None
            return
        if key not in self.stored:
            self.get(*key)
        self.rows[key] = None
        self.dirty.add(key)

    def add(self, key: Key, column: str, amount: int, defaults: Mapping[str, Any] | None = None) -> None:
        """Add ``amount`` to a counter column; a row whose counter reaches 0 is deleted."""
        row = self.get(*key)
        row = dict(row) if row is not None else {**dict(zip(self.pk, key, strict=True)), **(defaults or {}), column: 0}
        row[column] += amount
        if row[column] == 0:
            self.delete(*key)
        else:
            self.put(row)

    def flush(self) -> None:
        """Write the rows this chunk changed (nothing in memory mode: see :meth:`write_all`)."""
        if self.memory or not self.dirty:
            return
        inserts: list[Row] = []
        updates: list[Row] = []
        deletes: list[Row] = []
        for key in sorted(self.dirty, key=repr):
            row = self.rows[key]
            existed = self.stored.get(key, False)
            if row is None:
                if existed:
                    deletes.append({f"k_{c}": v for c, v in zip(self.pk, key, strict=True)})
            elif existed:
                updates.append({**row, **{f"k_{c}": v for c, v in zip(self.pk, key, strict=True)}})
            else:
                inserts.append(row)
            self.stored[key] = row is not None
        self.dirty.clear()
        conn = self.conn
        _statement(conn, self.table, "delete").run(conn, deletes)
        if len(self.pk) < len(self.table.columns):
            _statement(conn, self.table, "update").run(conn, updates)
        _statement(conn, self.table, "insert").run(conn, inserts)

    def write_all(self, conn: Connection) -> None:
        """Memory mode: insert every row into the (empty) table, in primary-key order."""
        assert self.memory
        live = [(k, r) for k, r in self.rows.items() if r is not None]
        with contextlib.suppress(TypeError):  # a key mixing None and values: any order will do
            live.sort(key=lambda kr: kr[0])
        bulk_insert(conn, self.table, [r for _, r in live])


class Work:
    """What a handler sees: this generation's tables, row caches, and the event's position.

    ``memory``: the generation is being built from empty, entirely in memory (no reads, no
    writes until :meth:`write_all`); handlers that would query a table ask the cache instead.
    """

    def __init__(
        self,
        conn: Connection | None,
        tables: dict[str, Table],
        *,
        memory: bool = False,
        caches: dict[str, RowCache] | None = None,
    ) -> None:
        self._conn = conn
        self.tables = tables
        self.memory = memory
        self.position = 0
        self.scratch: dict[str, Any] = {}  # per-chunk state a projection may keep between events
        # ``caches``: the row caches of this generation's previous chunk (see apply_chunks)
        self._caches: dict[str, RowCache] = caches if caches is not None else {}
        for cache in self._caches.values():
            cache._conn = conn
        self._appends: dict[str, list[Row]] = {}

    @property
    def conn(self) -> Connection:
        assert self._conn is not None, "this work is in memory mode and has no connection"
        return self._conn

    def cache(self, table: str, group: str | None = None) -> RowCache:
        if table not in self._caches:
            self._caches[table] = RowCache(self._conn, self.tables[table], group, memory=self.memory)
        return self._caches[table]

    def append(self, table: str, row: Row) -> None:
        """Insert a row at the end of the chunk (append-only tables)."""
        self._appends.setdefault(table, []).append(row)

    def flush(self) -> None:
        assert not self.memory
        for cache in self._caches.values():
            cache.flush()
        for name, rows in self._appends.items():
            bulk_insert(self.conn, self.tables[name], rows)
        self._appends.clear()

    def write_all(self, conn: Connection) -> None:
        """Memory mode: write every row into the generation's (empty) tables."""
        assert self.memory
        for cache in self._caches.values():
            cache.write_all(conn)
        for name, rows in self._appends.items():
            bulk_insert(conn, self.tables[name], rows)
        self._appends.clear()

# ------------------------------------------------------------------------------ generations
@dataclass
class Generation:
    """One row of ``projection_positions``."""

    name: str
    generation: int
    version: int
    status: str
    position: int
    worker: str = ""
    updated_at: datetime | None = None

    @classmethod
    def of(cls, row: Any) -> Generation:
        return cls(
            name=row["name"],
            generation=row["generation"],
            version=row["version"],
            status=row["status"],
            position=row["position"],
            worker=row["worker"],
            updated_at=_aware(row["updated_at"]),
        )


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def generations(conn: Connection, name: str | None = None) -> list[Generation]:
    stmt = select(POSITIONS).order_by(POSITIONS.c.name, POSITIONS.c.generation)
    if name is not None:
        stmt = stmt.where(POSITIONS.c.name == name)
    return [Generation.of(r) for r in conn.execute(stmt).mappings()]


def active_generation(conn: Connection, name: str) -> Generation | None:
    found = [g for g in generations(conn, name) if g.status == ACTIVE]
    return found[0] if found else None


def create_generation(engine: Engine, projection: Projection, status: str, worker: str) -> Generation:
    """Allocate the next generation number and create its (empty) tables, atomically."""
    with writing(engine) as conn:
        if status == ACTIVE and active_generation(conn, projection.name) is not None:
            raise PositionMoved(f"{projection.name} already has an active generation")
        top = conn.execute(
            select(func.max(POSITIONS.c.generation)).where(POSITIONS.c.name == projection.name)
        ).scalar()
        number = int(top or 0) + 1
        gen = Generation(projection.name, number, projection.version, status, 0, worker, _now())
        conn.execute(insert(POSITIONS).values(**_row(gen)))
        for table in projection.tables(number).values():
            table.create(conn, checkfirst=True)
        return gen


def drop_generation(engine: Engine, projection: Projection, number: int) -> None:
    with writing(engine) as conn:
        for table in reversed(list(projection.tables(number).values())):
            if table_exists(conn, table.name):
                table.drop(conn)
        conn.execute(
            delete(POSITIONS).where(
                POSITIONS.c.name == projection.name, POSITIONS.c.generation == number
            )
        )


def switch_over(engine: Engine, building: Generation) -> tuple[bool, Generation | None]:
    """Make a caught-up building generation the active one.

    Returns (switched, replaced): ``switched`` is False while ``building`` is still behind the
    active generation (the caller catches up further and tries again); ``replaced`` is the old
    active generation, whose tables the caller drops once the switch is committed. Raises
    PositionMoved if ``building`` is gone or was moved by someone else."""
    with writing(engine) as conn:
        rows = {
            g.generation: g
            for g in generations(conn, building.name)
        }
        mine = rows.get(building.generation)
        if mine is None or mine.status != BUILDING:
            raise PositionMoved(f"{building.name} generation {building.generation} is gone")
        if mine.position != building.position:
            raise PositionMoved(f"{building.name} generation {building.generation} moved")
        old = next((g for g in rows.values() if g.status == ACTIVE), None)
        if old is not None and old.position > mine.position:
            return False, None
        if old is not None:
            # The old generation is deleted from the bookkeeping now; its tables are dropped
            # by the caller, after the switch is committed.
            conn.execute(
                delete(POSITIONS).where(
                    POSITIONS.c.name == old.name, POSITIONS.c.generation == old.generation
                )
            )
        conn.execute(
            update(POSITIONS)
            .where(POSITIONS.c.name == mine.name, POSITIONS.c.generation == mine.generation)
            .values(status=ACTIVE, updated_at=_now())
        )
        building.status = ACTIVE
        return True, old


def _row(gen: Generation) -> Row:
    return {
        "name": gen.name,
        "generation": gen.generation,
        "version": gen.version,
        "status": gen.status,
        "position": gen.position,
        "worker": gen.worker,
        "updated_at": gen.updated_at or _now(),
    }


def _now() -> datetime:
    return datetime.now(UTC)


# ---------------------------------------------------------------------------- applying
def _move_position(conn: Connection, gen: Generation, new_position: int, worker: str) -> None:
    """Move ``gen`` from the position we read to ``new_position``, or raise PositionMoved."""
    sql = _sql(conn, POSITIONS)
    cursor = sql.run(
        conn,
        f"UPDATE {sql.table} SET {sql.quoted['position']} = {sql.mark}, {sql.quoted['worker']} = {sql.mark}, "  # noqa: S608
        f"{sql.quoted['updated_at']} = {sql.mark} "
        f"WHERE {sql.equal(['name', 'generation', 'position', 'status'])}",
        [new_position, worker, sql.value("updated_at", _now()), gen.name, gen.generation, gen.position, gen.status],
    )
    moved = cursor.rowcount
    cursor.close()
    if moved != 1:
        raise PositionMoved(f"{gen.name} generation {gen.generation} moved or was switched")


def _handle(
    projection: Projection, work: Work, fresh: Sequence[Notification], event_of: Callable[[Notification], Any]
) -> None:
    for n in fresh:
        handler = projection.handler_for(n.topic)
        if handler is not None:
            work.position = n.id
            handler(work, event_of(n))


def apply_chunk(
    engine: Engine,
    projection: Projection,
    gen: Generation,
    notifications: Sequence[Notification],
    event_of: Callable[[Notification], Any],
    worker: str,
) -> int:
    """Apply the notifications after ``gen.position`` and move the position, in ONE
    transaction. Returns how many notifications were consumed (0 if none were new)."""
    return apply_chunks(engine, [(projection, gen, notifications)], event_of, worker)[0]


Warm = dict[tuple[str, int], dict[str, RowCache]]
WARM_ROWS = 20_000  # rows a warm cache may keep between chunks before it is dropped


def apply_chunks(
    engine: Engine,
    chunks: Sequence[tuple[Projection, Generation, Sequence[Notification]]],
    event_of: Callable[[Notification], Any],
    worker: str,
    warm: Warm | None = None,
) -> list[int]:
    """:func:`apply_chunk` for several projections (each with its own generation), in ONE
    transaction: every position moves with its rows, or none does. Returns how many
    notifications each consumed.

    ``warm`` keeps each generation's row caches from one call to the next: the rows a chunk
    read and wrote are still the stored ones at the next chunk, because any other writer
    would have moved the position, and then our conditional position update fails. The
    caller must clear ``warm`` whenever a call raises (its caches may hold rolled-back rows)
    or a generation is written another way."""
    todo = [(p, g, [n for n in notes if n.id > g.position]) for p, g, notes in chunks]
    if not any(fresh for _, _, fresh in todo):
        return [0] * len(todo)
    with writing(engine) as conn:
        for projection, gen, fresh in todo:
            if fresh:
                _move_position(conn, gen, fresh[-1].id, worker)
                caches = warm.setdefault((gen.name, gen.generation), {}) if warm is not None else None
                work = Work(conn, projection.tables(gen.generation), caches=caches)
                _handle(projection, work, fresh, event_of)
                work.flush()
    if warm is not None:
        for caches in warm.values():
            for name in [n for n, c in caches.items() if c.bulk or len(c.rows) > WARM_ROWS]:
                del caches[name]
            for cache in caches.values():
                cache._conn = None
    for _, gen, fresh in todo:
        if fresh:
            gen.position = fresh[-1].id
            gen.worker = worker
    return [len(fresh) for _, _, fresh in todo]


class MemoryBuild:
    """Builds a generation from empty (position 0) entirely in memory, then writes it once.

    A fresh generation has no rows, so nothing needs to be read back: the rows of every chunk
    stay in memory, each row is written once, in bulk, by :meth:`write` (in ONE transaction
    with the position, as :func:`apply_chunk`). Until then the generation's position stays 0
    in ``projection_positions``; an unfinished build is dropped like any unfinished rebuild.
    """

    def __init__(self, projection: Projection, gen: Generation) -> None:
        if gen.position != 0:
            raise ValueError("a memory build starts from an empty generation")
        self.projection = projection
        self.gen = gen
        self.position = 0
        self.work = Work(None, projection.tables(gen.generation), memory=True)

    def apply(self, notifications: Sequence[Notification], event_of: Callable[[Notification], Any]) -> int:
        fresh = [n for n in notifications if n.id > self.position]
        if not fresh:
            return 0
        _handle(self.projection, self.work, fresh, event_of)
        self.position = fresh[-1].id
        return len(fresh)

    def write(self, engine: Engine, worker: str) -> None:
        """Write every row and move the generation's position, in one transaction."""
        if self.position == self.gen.position:
            return
        with writing(engine) as conn:
            _move_position(conn, self.gen, self.position, worker)
            sqlite = conn.dialect.name == "sqlite"
            if sqlite:  # room for the new tables' index pages while they are filled
                previous = conn.exec_driver_sql("PRAGMA cache_size").scalar()
                conn.exec_driver_sql(f"PRAGMA cache_size={_BUILD_CACHE_KIB}")
            try:
                self.work.write_all(conn)
            finally:
                if sqlite:
                    conn.exec_driver_sql(f"PRAGMA cache_size={int(previous or -2000)}")
        self.gen.position = self.position
        self.gen.worker = worker


def dump_generation(engine: Engine, projection: Projection, number: int) -> dict[str, list[Row]]:
    """Every row of a generation's tables, sorted by primary key (for comparisons and tests)."""
    out: dict[str, list[Row]] = {}
    with reading(engine) as conn:
        for key, table in projection.tables(number).items():
            order = list(table.primary_key.columns)
            out[key] = [dict(r) for r in conn.execute(select(table).order_by(*order)).mappings()]
    return out
