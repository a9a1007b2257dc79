"""The projection engine: projections, their generations, and exactly-once chunk application.

A :class:`Projection` turns registry events into rows of its own tables. Its tables exist in
*generations* (``rm_<projection>_<table>_g<N>``): a rebuild fills a fresh generation while queries keep
reading the active one, then switches over in one transaction.

Exactly once: :func:`apply_chunk` first moves the generation's position from the value the
caller read to the chunk's last notification id with a conditional ``UPDATE ... WHERE
position = <old>``, then writes the chunk's rows, all in one transaction. A crash before the
commit loses nothing (the position did not move); a second writer that raced us finds the
position moved and rolls back (no double count), whatever the locks say.
"""

from __future__ import annotations

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
class RowCache:
    """The rows of one table that a chunk touches, loaded once and written once.

    ``group`` names a leading primary-key column: the first access to a key loads every row
    of that key's group (for example all buckets of a batch), so misses cost no query.
    """

    def __init__(self, conn: Connection, table: Table, group: str | None = None) -> None:
        self.conn = conn
        self.table = table
        self.pk = tuple(c.name for c in table.primary_key.columns)
        self.group = group
        self._group_index = self.pk.index(group) if group else -1
        self.rows: dict[Key, Row | None] = {}
        self.stored: dict[Key, bool] = {}
        self.dirty: set[Key] = set()
        self._groups: set[Any] = set()
        self._complete = False

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
        stmt = select(self.table).where(self.table.c[self.group] == value)
        for r in self.conn.execute(stmt).mappings():
            self._remember(dict(r))

    def get(self, *key: Any) -> Row | None:
        if key in self.rows:
            return self.rows[key]
        if self._complete:
            pass  # the whole table is loaded: a key not seen does not exist
        elif self.group is not None:
            value = key[self._group_index]
            if value not in self._groups:
                self._load_group(value)
            if key in self.rows:
                return self.rows[key]
        else:
            cond = and_(*(self.table.c[c] == v for c, v in zip(self.pk, key, strict=True)))
            found = self.conn.execute(select(self.table).where(cond)).mappings().first()
            if found is not None:
                self._remember(dict(found))
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
        if value not in self._groups and not self._complete:
            self._load_group(value)
        i = self._group_index
        return [r for k, r in self.rows.items() if r is not None and k[i] == value]

    def prefetch(self, values: Iterable[Any]) -> None:
        """Load many single-column keys in a few queries (for example a shipment's serials)."""
        assert len(self.pk) == 1, "prefetch needs a single-column primary key"
        col = self.table.c[self.pk[0]]
        wanted = [v for v in dict.fromkeys(values) if (v,) not in self.rows]
        for i in range(0, len(wanted), _LOAD_BATCH):
            part = wanted[i : i + _LOAD_BATCH]
            for r in self.conn.execute(select(self.table).where(col.in_(part))).mappings():
                self._remember(dict(r))
            for v in part:
                if (v,) not in self.rows:
                    self.rows[(v,)] = None
                    self.stored[(v,)] = False

    def put(self, row: Row) -> None:
        key = self.key_of(row)
        if key not in self.stored:
            self.get(*key)
        self.rows[key] = row
        self.dirty.add(key)

    def delete(self, *key: Any) -> None:
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
        inserts: list[Row] = []
        updates: list[Row] = []
        deletes: list[Row] = []
        for key in sorted(self.dirty, key=repr):
            row = self.rows[key]
            existed = self.stored.get(key, False)
            where = {f"k_{c}": v for c, v in zip(self.pk, key, strict=True)}
            if row is None:
                if existed:
                    deletes.append(where)
            elif existed:
                updates.append({**{c: v for c, v in row.items() if c not in self.pk}, **where})
            else:
                inserts.append(row)
            self.stored[key] = row is not None
        self.dirty.clear()
        t = self.table
        cond = and_(*(t.c[c] == bindparam(f"k_{c}") for c in self.pk))
        if deletes:
            self.conn.execute(delete(t).where(cond), deletes)
        if updates:
            values: dict[str, Any] = {c.name: bindparam(c.name) for c in t.columns if c.name not in self.pk}
            if values:
                self.conn.execute(update(t).where(cond).values(values), updates)
        if inserts:
            self.conn.execute(insert(t), inserts)


class Work:
    """What a handler sees: this generation's tables, row caches, and the event's position."""

    def __init__(self, conn: Connection, tables: dict[str, Table]) -> None:
        self.conn = conn
        self.tables = tables
        self.position = 0
        self.scratch: dict[str, Any] = {}  # per-chunk state a projection may keep between events
        self._caches: dict[str, RowCache] = {}
        self._appends: dict[str, list[Row]] = {}

    def cache(self, table: str, group: str | None = None) -> RowCache:
        if table not in self._caches:
            self._caches[table] = RowCache(self.conn, self.tables[table], group)
        return self._caches[table]

    def append(self, table: str, row: Row) -> None:
        """Insert a row at the end of the chunk (append-only tables)."""
        self._appends.setdefault(table, []).append(row)

    def flush(self) -> None:
        for cache in self._caches.values():
            cache.flush()
        for name, rows in self._appends.items():
            if rows:
                self.conn.execute(insert(self.tables[name]), rows)
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
    fresh = [n for n in notifications if n.id > gen.position]
    if not fresh:
        return 0
    new_position = fresh[-1].id
    with writing(engine) as conn:
        moved = conn.execute(
            update(POSITIONS)
            .where(
                POSITIONS.c.name == gen.name,
                POSITIONS.c.generation == gen.generation,
                POSITIONS.c.position == gen.position,
                POSITIONS.c.status == gen.status,
            )
            .values(position=new_position, worker=worker, updated_at=_now())
        )
        if moved.rowcount != 1:
            raise PositionMoved(f"{gen.name} generation {gen.generation} moved or was switched")
        work = Work(conn, projection.tables(gen.generation))
        for n in fresh:
            handler = projection.handler_for(n.topic)
            if handler is not None:
                work.position = n.id
                handler(work, event_of(n))
        work.flush()
    gen.position = new_position
    gen.worker = worker
    return len(fresh)


def dump_generation(engine: Engine, projection: Projection, number: int) -> dict[str, list[Row]]:
    """Every row of a generation's tables, sorted by primary key (for comparisons and tests)."""
    out: dict[str, list[Row]] = {}
    with reading(engine) as conn:
        for key, table in projection.tables(number).items():
            order = list(table.primary_key.columns)
            out[key] = [dict(r) for r in conn.execute(select(table).order_by(*order)).mappings()]
    return out
