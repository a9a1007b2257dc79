"""Row caches: what a projection's handlers read and write during a chunk, written in bulk.

One concept: the row cache a chunk is applied through (statements, bulk writes, the cache and the
handler's ``Work`` are one mechanism).

:class:`RowCache` keeps the rows a chunk touched (read once, written once per chunk, grouped
reads, memory builds); :class:`Work` is what a handler sees (the generation's tables, its caches,
the event's position). The engine (``projections/engine.py``) applies chunks with them.
"""

from __future__ import annotations

import contextlib
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import (
    Connection,
    Table,
    and_,
    bindparam,
    delete,
    insert,
    select,
    update,
)

from projections.pg_rows import MultiRow, numbered, raw_cursor
from projections.pg_rows import supported as multi_row_supported

Row = dict[str, Any]
Key = tuple[Any, ...]

_LOAD_BATCH = 500
_OWNER = "<the projection>"  # a scratch value that is the projection itself, in a checkpoint


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
                # A chunk's rows often repeat a value (a registration's hundreds of serial rows
                # share one batch UUID): each column's last value and its conversion are kept, and
                # the same object again is not converted again (the processors are pure).
                params = []
                last: list[Any] = [_NOT_CACHED] * len(converted)
                done: list[Any] = [None] * len(converted)
                for r in rows:
                    row = list(values(r))
                    for j, (i, p) in enumerate(converted):
                        v = row[i]
                        if v is not last[j]:
                            last[j] = v
                            done[j] = p(v)
                        row[i] = done[j]
                    params.append(row)
        else:
            keyed = list(zip(self.keys, self.names, self.procs, strict=True))
            params = [{k: p(r[n]) if p is not None else r[n] for k, n, p in keyed} for r in rows]
        cursor = conn.connection.cursor()
        cursor.executemany(self.sql, params)
        cursor.close()


def _statement(conn: Connection, table: Table, kind: str) -> _Statement | MultiRow:
    """The table's compiled ``insert``, ``update`` (by primary key ``k_<col>``) or ``delete``
    (on PostgreSQL through psycopg, its multi-row statements: :mod:`projections.pg_rows`)."""
    dialect = conn.dialect
    key = ("gpureg-statement", dialect.name, dialect.driver, dialect.paramstyle, kind)
    found = table.info.get(key)
    if found is None:
        found = table.info[key] = (
            MultiRow(table, kind, dialect) if multi_row_supported(dialect) else _core_statement(table, kind, dialect)
        )
    assert isinstance(found, (_Statement, MultiRow))
    return found


def _core_statement(table: Table, kind: str, dialect: Any) -> _Statement:
    """The row-at-a-time statement (``executemany``) of :func:`_statement`."""
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
    return _Statement(stmt, dialect)


_NOT_CACHED = object()  # RowCache.get: a key the cache holds nothing for (not even "no row")


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
        # PostgreSQL through psycopg: each statement's text with ``$n`` placeholders (see run)
        self._raw: dict[str, str] | None = {} if multi_row_supported(dialect) else None

    def value(self, column: str, value: Any) -> Any:
        process = self.binds[column]
        return process(value) if process is not None else value

    def equal(self, columns: Sequence[str]) -> str:
        return " AND ".join(f"{self.quoted[c]} = {self.mark}" for c in columns)

    def among(self, column: str, n: int) -> str:
        return f"{self.quoted[column]} IN ({', '.join([self.mark] * n)})"

    def run(self, conn: Connection, sql: str, params: Sequence[Any], fetch: bool = False) -> list[Any]:
        """Run ``sql`` (``mark`` placeholders); its rows if ``fetch``. On PostgreSQL through psycopg
        the statement goes with ``$n`` placeholders on the connection's kept ``RawCursor``
        (:func:`projections.pg_rows.raw_cursor`): psycopg parses a ``%s`` statement of more than 50
        parameters (a prefetch's ``IN`` list) on every execute, and a cursor costs its set-up."""
        if self._raw is not None:
            text = self._raw.get(sql)
            if text is None:
                text = self._raw[sql] = numbered(sql)
            cursor = raw_cursor(conn)
            cursor.execute(text, list(params))
            return list(cursor.fetchall()) if fetch else []
        cursor = conn.connection.cursor()
        cursor.execute(sql, tuple(params))
        rows = list(cursor.fetchall()) if fetch else []
        cursor.close()
        return rows

    def select(self, conn: Connection, where: str, params: Sequence[Any]) -> list[Row]:
        rows = self.run(conn, f"SELECT {self.all} FROM {self.table} WHERE {where}", params, fetch=True)  # noqa: S608
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
        self._key_of = _getter(self.pk)
        self.group = group
        self._group_index = self.pk.index(group) if group else -1
        self.memory = memory
        self.rows: dict[Key, Row | None] = {}
        self.stored: dict[Key, bool] = {}
        self.dirty: set[Key] = set()
        self._groups: set[Any] = set()
        self._complete = memory
        self.bulk = False  # used for many keys at a time (serials): not kept warm between chunks
        # group value -> keys (insertion ordered; for members()), and secondary indexes (memory mode)
        self._members: dict[Any, dict[Key, None]] = {}
        self._indexes: dict[str, dict[Any, dict[Key, None]]] = {}

    @property
    def conn(self) -> Connection:
        assert self._conn is not None, "this cache is in memory mode and has no connection"
        return self._conn

    def key_of(self, row: Mapping[str, Any]) -> Key:
        # the primary key's values as a tuple, taken in C (``_getter``: itemgetter, which gives a
        # tuple for two or more columns); every put computes one
        return self._key_of(row)

    def _remember(self, row: Row) -> None:
        key = self.key_of(row)
        if key not in self.rows:
            self.rows[key] = row
            self.stored[key] = True
            if self.group is not None:
                self._members.setdefault(key[self._group_index], {})[key] = None

    def _load_group(self, value: Any) -> None:
        assert self.group is not None
        self._groups.add(value)
        sql = _sql(self.conn, self.table)
        for r in sql.select(self.conn, sql.equal([self.group]), [sql.value(self.group, value)]):
            self._remember(r)

    def get(self, *key: Any) -> Row | None:
        # one dict lookup for a cached key (a key of UUIDs hashes each UUID in Python, per lookup)
        found = self.rows.get(key, _NOT_CACHED)
        if found is not _NOT_CACHED:
            return found  # type: ignore[return-value]
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

    def absent(self, *key: Any) -> None:
        """The caller knows that no row of ``key`` is stored (a batch's first event: nothing is keyed
        by the new batch yet), so a later :meth:`get` answers from the cache instead of a query that
        finds nothing; the row it puts is then inserted. A row already cached stays as it is."""
        if self.memory or key in self.rows:
            return
        self.rows[key] = None
        self.stored[key] = False

    def absent_group(self, value: Any) -> None:
        """As :meth:`absent` for a whole group: no stored row has ``value`` in the group column."""
        assert self.group is not None, "absent_group needs a cache with a group column"
        if not self.memory:
            self._groups.add(value)

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

    def members(self, value: Any) -> list[Row]:
        """Every row of one group, as :meth:`group_rows` (loaded once), found through the group's keys
        rather than by scanning every cached row (so a cache that holds many groups answers in the
        time of this one), in the order they were first loaded or put."""
        assert self.group is not None, "members needs a cache with a group column"
        if not self.memory and value not in self._groups and not self._complete:
            self._load_group(value)
        rows = self.rows
        return [r for k in self._members.get(value, ()) if (r := rows.get(k)) is not None]

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

    def put_new(self, rows: Iterable[Row]) -> None:
        """:meth:`put_many` of rows the caller knows are not stored (:meth:`absent` of each key,
        then the put): a registration's hundreds of serial rows, per row one dict step each
        instead of two method calls."""
        if self.memory or self.group is not None or len(self.pk) != 1:
            listed = list(rows)
            for r in listed:
                self.absent(*self.key_of(r))
            self.put_many(listed)
            return
        self.bulk = True
        column = self.pk[0]
        cached, stored, dirty = self.rows, self.stored, self.dirty
        for r in rows:
            key = (r[column],)
            if key not in cached:  # else known already: stored says whether it is (absent keeps it)
                stored[key] = False
            cached[key] = r
            dirty.add(key)

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
                for r in sql.run(
                    self.conn,
                    f"SELECT {listed}, COUNT(*) FROM {sql.table} WHERE {sql.among(column, len(part))} "  # noqa: S608
                    f"GROUP BY {listed}",
                    [sql.value(column, v) for v in part],
                    fetch=True,
                ):
                    values = tuple(r[:-1])
                    counts[values] = counts.get(values, 0) + int(r[-1])
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
                )

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
        if self.group is not None:
            self._members.setdefault(key[self._group_index], {})[key] = None
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

    def memory_state(self) -> tuple[Any, ...]:
        """Memory mode: what the cache holds (rows, group members, indexes), for a checkpoint."""
        assert self.memory
        return (self.group, self.bulk, self.rows, self._members, self._indexes)

    @classmethod
    def from_memory_state(cls, table: Table, state: tuple[Any, ...]) -> RowCache:
        """Memory mode: a cache holding what :meth:`memory_state` gave (the same rows, in the same order)."""
        group, bulk, rows, members, indexes = state
        cache = cls(None, table, group, memory=True)
        cache.bulk = bulk
        cache.rows = rows
        cache._members = members
        cache._indexes = indexes
        return cache

    def write_all(self, conn: Connection, keep: Callable[[Row], bool] | None = None) -> None:
        """Memory mode: insert every row (that ``keep`` keeps) into the (empty) table, in primary-key order."""
        assert self.memory
        live = [(k, r) for k, r in self.rows.items() if r is not None and (keep is None or keep(r))]
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

    def memory_state(self, owner: object, derived: frozenset[str] = frozenset()) -> dict[str, Any]:
        """Memory mode: everything a build holds between chunks (every cache, the appended rows, the
        scratch state), to be pickled as a checkpoint; a scratch value that is ``owner`` (the
        projection object) is recorded as a marker and put back by :meth:`from_memory_state`; the
        ``derived`` entries (rebuilt from the rows when absent) are left out."""
        assert self.memory
        return {
            "caches": {name: c.memory_state() for name, c in self._caches.items()},
            "appends": self._appends,
            "scratch": {k: (_OWNER if v is owner else v) for k, v in self.scratch.items() if k not in derived},
        }

    @classmethod
    def from_memory_state(cls, tables: dict[str, Table], state: Mapping[str, Any], owner: object) -> Work:
        """Memory mode: a work holding what :meth:`memory_state` gave."""
        work = cls(None, tables, memory=True)
        work._caches = {name: RowCache.from_memory_state(tables[name], s) for name, s in state["caches"].items()}
        work._appends = state["appends"]
        work.scratch = {k: (owner if isinstance(v, str) and v == _OWNER else v) for k, v in state["scratch"].items()}
        return work

    def write_all(self, conn: Connection, keep: Mapping[str, Callable[[Row], bool]] | None = None) -> None:
        """Memory mode: write every row into the generation's (empty) tables (of a table named in
        ``keep``, only the rows its predicate keeps)."""
        assert self.memory
        for name, cache in self._caches.items():
            cache.write_all(conn, (keep or {}).get(name))
        for name, rows in self._appends.items():
            bulk_insert(conn, self.tables[name], rows)
        self._appends.clear()
