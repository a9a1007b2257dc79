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
from datetime import UTC, datetime
from typing import Any

from eventsourcing.persistence import Notification
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

from projections.catalog import report_projections
from projections.db import ACTIVE, reading, writing
from projections.engine import Generation, MemoryBuild, Projection
from registry.application.service import Registry
from registry.domain.screening import ScreeningLists
from registry.reports.builders.view_projections import for_view

CHECKPOINTED = frozenset(p.name for p in report_projections())
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
    # the view's index only: the latest recorded time of the events up to position (microseconds since
    # the epoch), so a view recorded by a time finds the latest index checkpoint it takes whole
    Column("recorded_us", BigInteger, nullable=True),
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

    def nearest(self, key: str, at_most: int, recorded_by: datetime | None = None) -> Checkpoint | None:
        """The latest checkpoint of ``key`` at or before position ``at_most`` (and, for the index's, whose
        events were all recorded by ``recorded_by``)."""
        if at_most <= 0 or not self.available():
            return None
        t = CHECKPOINTS
        stmt = select(t.c.position, t.c.event).where(t.c.projection == key, t.c.seq == 0, t.c.position <= at_most)
        if recorded_by is not None:
            stmt = stmt.where(t.c.recorded_us <= _micros(recorded_by))
        with reading(self.engine) as conn:
            row = conn.execute(stmt.order_by(t.c.position.desc()).limit(1)).first()
        return None if row is None else Checkpoint(key, int(row[0]), str(row[1]))

    def has(self, key: str, position: int, event: str | None = None) -> bool:
        """Whether ``key`` has a checkpoint at ``position`` (made after ``event``, when given)."""
        t = CHECKPOINTS
        with reading(self.engine) as conn:
            found = conn.execute(
                select(t.c.event).where(t.c.projection == key, t.c.position == position, t.c.seq == 0)
            ).first()
        return found is not None and (event is None or found[0] == event)

    def load(self, checkpoint: Checkpoint) -> dict[str, Any]:
        t = CHECKPOINTS
        with reading(self.engine) as conn:
            pages = conn.execute(
                select(t.c.data).where(t.c.projection == checkpoint.key, t.c.position == checkpoint.position)
                .order_by(t.c.seq)
            ).scalars().all()
        state: dict[str, Any] = loads(zlib.decompress(b"".join(pages)))
        return state

    def save(
        self, key: str, position: int, event: str, state: Mapping[str, Any], recorded: datetime | None = None,
    ) -> int:
        """Store one checkpoint (replacing one at the same position); returns its size in bytes."""
        data = zlib.compress(pickle.dumps(state, 5), 1)
        pages = [data[i: i + PAGE_BYTES] for i in range(0, len(data), PAGE_BYTES)] or [b""]
        t = CHECKPOINTS
        with writing(self.engine) as conn:
            conn.execute(delete(t).where(t.c.projection == key, t.c.position == position))
            conn.execute(insert(t), [
                {"projection": key, "position": position, "seq": i, "event": event, "data": page,
                 "recorded_us": None if recorded is None else _micros(recorded)}
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


def _micros(when: datetime) -> int:
    delta = when - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


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


def occurred_at(e: Any) -> datetime:
    """An event's business time (every registry event has one; the recorded time otherwise)."""
    value = getattr(e, "occurred_at", None)
    return value if isinstance(value, datetime) else e.timestamp


def write_of(e: Any) -> tuple[str, str, datetime]:
    """What the events of one command's write share: its actor, request id and business time."""
    return (str(getattr(e, "actor", "")), str(getattr(e, "request_id", "")), occurred_at(e))


def index_row(n: Notification, e: Any) -> dict[str, Any]:
    """An event's row in an as-of view's index (``asof.AsOfIndex``)."""
    return {"position": n.id, "aggregate_id": e.originator_id, "kind": type(e).__qualname__.split(".")[0],
            "version": e.originator_version}


def adopted_row(n: Notification, e: Any) -> dict[str, Any] | None:
    """The screening-list row an adopted snapshot sets in the index (None for any other event)."""
    if isinstance(e, ScreeningLists.Adopted):
        return {"source": e.source, "snapshot_id": e.snapshot_id, "sha256": e.sha256, "position": n.id}
    return None


INDEX_KEY = f"asof_index:v1:s{STATE_FORMAT}"
"""The checkpoints of the view's index: every event's row up to the position, the screening lists
adopted by then, how many events that is and the latest recorded time among them. Made only at the
end of a command's write (the next event is another write's), so that a view recorded by any time at
or after that latest recorded time takes the whole prefix (see ``AsOfView``)."""


def make_checkpoints(
    registry: Registry,
    engine: Engine,
    every: int = EVERY,
    projections: Sequence[Projection] | None = None,
    progress: Callable[[int, int], object] | None = None,
) -> Made:
    """Add checkpoints every ``every`` log positions up to the log head, each at the end of a command's
    write, of the view's index and of each projection of the catalog in :data:`CHECKPOINTED` (or
    ``projections``), all at the same positions; resuming from the latest position where all of them
    have a checkpoint that still matches the log. ``progress(position, head)`` is called after each chunk."""
    if every <= 0:
        raise ValueError("every must be a positive number of log positions")
    ensure_table(engine)
    store = CheckpointStore(engine)
    targets = list(projections or [p for p in report_projections() if p.name in CHECKPOINTED])
    head = registry.head()
    keys = [key_of(p) for p in targets]
    resume_at = _common_checkpoint(registry, store, keys, head)
    builds: list[tuple[str, MemoryBuild]] = []
    for p, key in zip(targets, keys, strict=True):
        variant = for_view([p])[0]
        gen = Generation(name=variant.name, generation=1, status=ACTIVE, position=0, version=variant.version,
                         worker=WORKER)
        build = MemoryBuild(variant, gen)
        if resume_at is not None:
            build = MemoryBuild.resume(variant, gen, store.load(Checkpoint(key, resume_at.position, resume_at.event)))
        builds.append((key, build))
    index: dict[str, Any] = {"position": 0, "events": [], "screening": {}, "applied": 0, "max_recorded": None}
    if resume_at is not None:
        index = store.load(resume_at)
    after = int(index["position"])
    due = after + every
    made: list[int] = []
    size = 0
    while after < head:
        notes = [n for n in registry.read_log(after, min(CHUNK, head - after)) if n.id <= head]
        if not notes:
            break
        decoded: dict[int, Any] = {n.id: registry.decode(n) for n in notes}
        begin = 0
        for i, n in enumerate(notes):
            e = decoded[n.id]
            index["events"].append(index_row(n, e))
            adopted = adopted_row(n, e)
            if adopted is not None:
                index["screening"][adopted["source"]] = adopted
            index["applied"] += 1
            index["max_recorded"] = max(index["max_recorded"] or e.timestamp, e.timestamp)
            boundary = i + 1 < len(notes) and write_of(e) != write_of(decoded[notes[i + 1].id])
            if n.id >= due and boundary:
                part = notes[begin: i + 1]
                for _, build in builds:
                    build.apply(part, lambda m, d=decoded: d[m.id])  # type: ignore[misc]
                begin = i + 1
                index["position"] = n.id
                for key, build in builds:
                    size += store.save(key, n.id, event_key(n), build.state())
                size += store.save(INDEX_KEY, n.id, event_key(n), index, index["max_recorded"])
                made.append(n.id)
                due = n.id + every
        for _, build in builds:
            build.apply(notes[begin:], lambda m, d=decoded: d[m.id])  # type: ignore[misc]
        after = notes[-1].id
        if progress is not None:
            progress(after, head)
    return Made(made, size, head)


def _common_checkpoint(
    registry: Registry, store: CheckpointStore, keys: Sequence[str], at_most: int,
) -> Checkpoint | None:
    """The latest index checkpoint at or before ``at_most`` that matches the log and at whose position
    every one of ``keys`` has a checkpoint too."""
    found = store.nearest(INDEX_KEY, at_most)
    while found is not None:
        if matches_log(registry, found) and all(store.has(k, found.position, found.event) for k in keys):
            return found
        found = store.nearest(INDEX_KEY, found.position - 1)
    return None


def drop_checkpoints(engine: Engine, keys: Iterable[str] | None = None) -> None:
    """Remove the checkpoints (of ``keys``; all by default)."""
    if not _has_table(engine):
        return
    with writing(engine) as conn:
        stmt = delete(CHECKPOINTS)
        if keys is not None:
            stmt = stmt.where(CHECKPOINTS.c.projection.in_(list(keys)))
        conn.execute(stmt)
