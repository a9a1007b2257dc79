"""Checkpoints of the as-of views' replay: each projection's in-memory build state every N log positions.

A report as of a past time replays the log into the projections it reads (``asof.py``). At the full
demo that replay is most of the report's time: the compliance projection moves every serial of a
batch at each shipment, receipt and installation, so a replay of half the log moves about 600,000
per-serial rows (profile: docs/reports.md). A checkpoint is what the view's in-memory build of one
projection (:class:`projections.engine.MemoryBuild`, the view's variant of the projection:
``view_projections.for_view``) holds after applying the log up to a position: its rows, appended
rows and scratch state, pickled and compressed. A view whose replay would pass a checkpoint's
position starts its build from the checkpoint and applies only the events after it; nothing else
changes (the index, the counts, the write boundaries still come from reading the whole prefix), so
the report's bytes are those of a replay from empty (tests compare them).

Checkpoints live in the read-model database (table ``asof_checkpoint``), made by
``gpureg report checkpoints`` (:func:`make_checkpoints`): incremental, it resumes from each
projection's latest checkpoint and adds one every ``every`` positions up to the log head. A
checkpoint is used only when it can be exactly what the view would build:

* it is of the same projection, code version and view variant (its key, :func:`key_of`);
* the event at its position is still the one recorded when it was made (originator id and version:
  a store replaced under its read models does not match);
* no event at or before its position is left out of the view (an occurred-by time leaves events out:
  then only checkpoints before the first one left out qualify).

Pickled, but never unpickled blindly: the read-model database may be shared (PostgreSQL), and a
pickle can name any callable, so loading resolves only the classes a build state holds (datetimes,
``Decimal``, ``UUID``, SQLAlchemy's ``quoted_name`` column names, and classes of ``registry.domain``:
:class:`_StateUnpickler`); anything else refuses the checkpoint, which a view then ignores (it logs why
and replays from empty). :data:`STATE_FORMAT` is in every checkpoint's key: bump it when what a build
state holds changes (``RowCache.memory_state``), and old checkpoints are no longer found.
"""

from __future__ import annotations

import importlib
import io
import pickle
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    delete,
    func,
    insert,
    select,
)

from projections.catalog import default_projections
from projections.db import ACTIVE, reading, writing
from projections.engine import Generation, MemoryBuild, Projection
from registry.application.service import Registry
from registry.reports.builders.view_projections import for_view

CHECKPOINTED = frozenset(p.name for p in default_projections())
"""The projections a checkpoint is kept of (a view replays any other from empty in its index pass): all of
them. Measured on the full demo, loading a projection's state costs less than replaying it: the
compliance projection's handlers move every serial of a batch at each shipment, receipt and installation
(at 90 % of the log, 2.7 s of handlers against 1 s to unpickle its serial rows); the custody trail's
handlers convert each event's details (1.1 s against 0.3-0.5 s); the batch inventory's 0.7 s against
almost nothing."""
STATE_FORMAT = 1
EVERY = 1000
"""Log positions between two checkpoints: a view replays at most this many events (about 1 s of the
compliance projection's handlers on the full demo) after loading the checkpoint before its position."""
PAGE_BYTES = 4 << 20  # a checkpoint's compressed pickle is stored in pages of at most 4 MiB
CHUNK = 2000
WORKER = "as-of checkpoints"

METADATA = MetaData()
CHECKPOINTS = Table(
    "asof_checkpoint", METADATA,
    Column("projection", String(200), primary_key=True),  # key_of(projection)
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    Column("seq", Integer, primary_key=True, autoincrement=False),  # a page of the compressed pickle
    Column("event", String(80), nullable=False),  # originator id and version of the event at position
    Column("data", LargeBinary, nullable=False),
)


def key_of(projection: Projection) -> str:
    """What a checkpoint is of: the view's variant of the projection, by name, class and version."""
    variant = for_view([projection])[0]
    return f"{variant.name}:{type(variant).__name__}:v{variant.version}:s{STATE_FORMAT}"


_ALLOWED = frozenset({
    ("datetime", "datetime"), ("datetime", "date"), ("datetime", "time"), ("datetime", "timedelta"),
    ("datetime", "timezone"), ("decimal", "Decimal"), ("uuid", "UUID"), ("uuid", "SafeUUID"),
    ("sqlalchemy.sql.elements", "quoted_name"), ("builtins", "set"), ("builtins", "frozenset"),
})


class _StateUnpickler(pickle.Unpickler):
    """Resolves only the classes a build state is made of; any other global (a function, ``os.system``,
    ``builtins.eval``, ...) is refused."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        if module.startswith("registry.domain.") and "." not in name:
            found = getattr(importlib.import_module(module), name, None)
            if isinstance(found, type) and found.__module__.startswith("registry.domain."):
                return found  # a class the domain defines (not one a domain module imported)
        raise pickle.UnpicklingError(f"a checkpoint may not name {module}.{name}")


def loads(data: bytes) -> Any:
    """A build state from a checkpoint's pickle (:class:`_StateUnpickler`)."""
    return _StateUnpickler(io.BytesIO(data)).load()


def event_key(notification: Any) -> str:
    return f"{notification.originator_id}:{notification.originator_version}"


def ensure_table(engine: Engine) -> None:
    with writing(engine) as conn:
        METADATA.create_all(conn)


def _has_table(engine: Engine) -> bool:
    from projections.db import table_exists

    with reading(engine) as conn:
        return bool(table_exists(conn, CHECKPOINTS.name))


@dataclass(frozen=True)
class Checkpoint:
    key: str
    position: int
    event: str


class CheckpointStore:
    """The checkpoints of one read-model database (absent table: none)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def available(self) -> bool:
        return _has_table(self.engine)

    def positions(self, key: str) -> list[Checkpoint]:
        """The checkpoints of one projection, by position."""
        if not self.available():
            return []
        t = CHECKPOINTS
        with reading(self.engine) as conn:
            rows = conn.execute(
                select(t.c.position, t.c.event).where(t.c.projection == key, t.c.seq == 0).order_by(t.c.position)
            ).all()
        return [Checkpoint(key, int(p), str(e)) for p, e in rows]

    def nearest(self, key: str, at_most: int) -> Checkpoint | None:
        """The latest checkpoint of ``key`` at or before position ``at_most``."""
        if at_most <= 0 or not self.available():
            return None
        t = CHECKPOINTS
        with reading(self.engine) as conn:
            row = conn.execute(
                select(t.c.position, t.c.event)
                .where(t.c.projection == key, t.c.seq == 0, t.c.position <= at_most)
                .order_by(t.c.position.desc()).limit(1)
            ).first()
        return None if row is None else Checkpoint(key, int(row[0]), str(row[1]))

    def load(self, checkpoint: Checkpoint) -> dict[str, Any]:
        t = CHECKPOINTS
        with reading(self.engine) as conn:
            pages = conn.execute(
                select(t.c.data).where(t.c.projection == checkpoint.key, t.c.position == checkpoint.position)
                .order_by(t.c.seq)
            ).scalars().all()
        state: dict[str, Any] = loads(zlib.decompress(b"".join(pages)))
        return state

    def save(self, key: str, position: int, event: str, state: Mapping[str, Any]) -> int:
        """Store one checkpoint (replacing one at the same position); returns its size in bytes."""
        data = zlib.compress(pickle.dumps(state, 5), 1)
        pages = [data[i: i + PAGE_BYTES] for i in range(0, len(data), PAGE_BYTES)] or [b""]
        t = CHECKPOINTS
        with writing(self.engine) as conn:
            conn.execute(delete(t).where(t.c.projection == key, t.c.position == position))
            conn.execute(insert(t), [
                {"projection": key, "position": position, "seq": i, "event": event, "data": page}
                for i, page in enumerate(pages)
            ])
        return len(data)

    def size(self) -> tuple[int, int]:
        """(checkpoints, bytes) stored."""
        if not self.available():
            return 0, 0
        t = CHECKPOINTS
        with reading(self.engine) as conn:
            row = conn.execute(select(func.count().filter(t.c.seq == 0), func.sum(func.length(t.c.data)))).one()
        return int(row[0] or 0), int(row[1] or 0)


def matches_log(registry: Registry, checkpoint: Checkpoint) -> bool:
    """Whether the event at the checkpoint's position is still the one it was made after."""
    found = registry.read_log(checkpoint.position - 1, 1)
    return bool(found) and found[0].id == checkpoint.position and event_key(found[0]) == checkpoint.event


@dataclass
class Made:
    """What :func:`make_checkpoints` did."""

    positions: list[int]
    bytes: int
    head: int


def make_checkpoints(
    registry: Registry,
    engine: Engine,
    every: int = EVERY,
    projections: Sequence[Projection] | None = None,
    progress: Callable[[int, int], object] | None = None,
) -> Made:
    """Add checkpoints every ``every`` log positions up to the log head, for each projection of the
    catalog in :data:`CHECKPOINTED` (or ``projections``), resuming from each one's latest checkpoint that
    still matches the log. ``progress(position, head)`` is called after each chunk."""
    if every <= 0:
        raise ValueError("every must be a positive number of log positions")
    ensure_table(engine)
    store = CheckpointStore(engine)
    targets = list(projections or [p for p in default_projections() if p.name in CHECKPOINTED])
    head = registry.head()
    builds: list[tuple[str, MemoryBuild]] = []
    last: dict[str, int] = {}
    for p in targets:
        variant = for_view([p])[0]
        key = key_of(p)
        gen = Generation(name=variant.name, generation=1, status=ACTIVE, position=0, version=variant.version,
                         worker=WORKER)
        build = MemoryBuild(variant, gen)
        found = store.nearest(key, head)
        while found is not None and not matches_log(registry, found):
            found = store.nearest(key, found.position - 1)
        if found is not None:
            build = MemoryBuild.resume(variant, gen, store.load(found))
        builds.append((key, build))
        last[key] = build.position
    after = min((b.position for _, b in builds), default=head)
    made: list[int] = []
    size = 0
    while after < head:
        due_at = min(last.values(), default=after) + every
        notes = registry.read_log(after, max(min(CHUNK, head - after, due_at - after), 1))
        if not notes:
            break
        notes = [n for n in notes if n.id <= head]
        decoded = {n.id: registry.decode(n) for n in notes}
        for _, build in builds:
            build.apply(notes, lambda n, d=decoded: d[n.id])  # type: ignore[misc]
        after = notes[-1].id
        due = [(k, b) for k, b in builds if b.position - last[k] >= every]
        for key, build in due:
            size += store.save(key, build.position, event_key(notes[-1]), build.state())
            last[key] = build.position
        if due:
            made.append(after)
        if progress is not None:
            progress(after, head)
    return Made(made, size, head)


def drop_checkpoints(engine: Engine, keys: Iterable[str] | None = None) -> None:
    """Remove the checkpoints (of ``keys``; all by default)."""
    if not _has_table(engine):
        return
    with writing(engine) as conn:
        stmt = delete(CHECKPOINTS)
        if keys is not None:
            stmt = stmt.where(CHECKPOINTS.c.projection.in_(list(keys)))
        conn.execute(stmt)
