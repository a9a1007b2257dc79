"""Running projections: catch up, follow the log, take over, rebuild.

One concept: the life cycle of running projections (catch up, follow, take over, rebuild); the steps
share the runner's locks, leases and positions.

:class:`ProjectionRunner` runs a set of projections against one store. For each projection it
first takes that projection's lock (see :mod:`projections.locks`); a runner that cannot is a
hot standby and tries again every ``standby_interval`` seconds. For each projection it holds it

* creates the first generation if there is none;
* rebuilds into a fresh generation when the active one was built by another code version
  (queries keep reading the old one until the new one has caught up, then it switches over);
* catches an empty generation up in memory and writes it once (see :class:`MemoryBuild`), or
  chunk by chunk for a projection that asks for it (``Projection.chunked_build``: the event stream);
* applies the log in chunks (all projections' chunks in one transaction per step, rows and
  positions together), then follows: on PostgreSQL through the library's LISTEN/NOTIFY
  subscription with a bounded wait and a re-poll of the log in case a notification was lost,
  elsewhere by polling the log (a server wakes it on every append; it then waits ``coalesce``
  seconds so that a burst of writes lands in one step).

``gpureg projections run`` runs one in the foreground; ``gpureg serve`` can run one in a
background thread (:meth:`ProjectionRunner.start` / :meth:`ProjectionRunner.stop`).
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import Notification
from sqlalchemy import Connection, Engine

from projections.catalog import default_projections
from projections.db import ACTIVE, BUILDING, reading, writing_connection
from projections.engine import (
    Generation,
    MemoryBuild,
    PositionMoved,
    Projection,
    Warm,
    apply_chunk,
    apply_chunks,
    create_generation,
    default_worker_id,
    drop_generation,
    generations,
    switch_over,
)
from projections.feed import Feed, LogSource, PollingFeed, SubscriptionFeed
from projections.locks import Locks, open_locks
from projections.statistics import analyze_stale
from registry.application.ports import EventLog
from registry.domain.errors import RegistryError

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]

COALESCE = 0.01  # seconds a following runner waits after news before it reads the log
STATISTICS_INTERVAL = 5.0  # seconds between looks for read-model tables to ANALYZE (PostgreSQL)
REBUILD_CHUNK = 5000  # events read per page while rebuilding (it writes once, at the end, unless chunked_build)


class RebuildBusy(RegistryError):
    """Another rebuild of the same projection is running."""

    def __init__(self, name: str) -> None:
        super().__init__(f"a rebuild of {name} is already running on this store")
        self.name = name


@dataclass
class _Target:
    projection: Projection
    gen: Generation


def _rebuild_key(name: str) -> str:
    return f"rebuild-{name}"


class ProjectionRunner:
    """Runs projections against one event store and one read-model database."""

    def __init__(
        self,
        registry: EventLog,
        engine: Engine,
        projections: Sequence[Projection] | None = None,
        *,
        chunk_size: int = 500,
        poll_interval: float = 0.1,
        repoll_interval: float = 1.0,
        standby_interval: float = 1.0,
        worker_id: str | None = None,
        use_subscription: bool = True,
        coalesce: float = COALESCE,
    ) -> None:
        if chunk_size < 1:
            raise ValueError("chunk_size must be >= 1")
        if coalesce < 0:
            raise ValueError("coalesce must be >= 0")
        self.source = LogSource(registry)
        self.engine = engine
        self.projections = list(projections) if projections is not None else default_projections()
        for projection in self.projections:
            projection.bind(registry)
        self.chunk_size = chunk_size
        self.poll_interval = poll_interval
        self.repoll_interval = repoll_interval
        self.standby_interval = standby_interval
        self.worker_id = worker_id or default_worker_id()
        self.use_subscription = use_subscription and self.source.can_subscribe
        self.coalesce = coalesce
        self._warm: Warm = {}  # row caches kept between steps, per generation
        self.locks: Locks = open_locks(engine)
        self.last_error: BaseException | None = None
        self._targets: list[_Target] | None = None
        self._incomplete = False  # a held projection has no target yet: look again soon
        self._feed: Feed | None = None
        self._next_standby_try = 0.0
        self._next_health_check = 0.0
        self._next_statistics = 0.0  # when to look for read-model tables with stale statistics
        self._behind = False  # the last step read a whole chunk for some projection: more is waiting
        self._connection: Connection | None = None  # the steps' connection (see _writer)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Run in a background thread (for ``gpureg serve``)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self.run_forever, name="projections", daemon=True)
        self._thread.start()

    def request_stop(self) -> None:
        """Ask :meth:`run_forever` to return soon (safe from a signal handler)."""
        self._stop.set()
        if self._feed is not None:
            self._feed.interrupt()

    def wake(self) -> None:
        """This process just appended to the log: stop waiting and read it now.

        Without it a polling runner (SQLite) notices a write up to ``poll_interval`` later; a
        wake that lands while the runner is busy keeps the next wait from sleeping at all.
        """
        feed = self._feed
        if isinstance(feed, PollingFeed):
            feed.interrupt()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop following, release the locks, close the subscription."""
        self._stop.set()
        if self._feed is not None:
            self._feed.interrupt()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._close()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def held(self) -> list[str]:
        """Names of the projections this runner currently runs."""
        held = self.locks.held()
        return [p.name for p in self.projections if p.name in held]

    def run_forever(self) -> None:
        """Catch up, then follow the log until :meth:`stop`. Errors are logged and retried."""
        fresh = True
        failures = 0
        try:
            while not self._stop.is_set():
                try:
                    done = self.step(fresh=fresh)
                    failures = 0
                except Exception as e:
                    failures += 1
                    self.last_error = e
                    log.exception("projection step failed (attempt %d); retrying", failures)
                    self._reset()
                    self._stop.wait(min(0.1 * 2**failures, 5.0))
                    fresh = True
                    continue
                if done:
                    fresh = False
                    if self.coalesce and not self._behind:
                        # Caught up: let the next writes land before the next step, as after a
                        # wait. A step costs a transaction, the positions, one write per table
                        # touched, whatever its size: stepping again at once applied ever
                        # smaller batches as steps got faster, for more CPU per event.
                        self._stop.wait(self.coalesce)
                    continue
                fresh = not self._idle()
                if self.coalesce and self._targets:
                    # News (or a poll) after a wait: let the writes that come with it land,
                    # and apply them in one step instead of one step per event.
                    self._stop.wait(self.coalesce)
        finally:
            self._close()

    def catch_up(self, max_steps: int | None = None) -> int:
        """Apply everything in the log now (in this thread); errors propagate."""
        total = 0
        steps = 0
        while max_steps is None or steps < max_steps:
            done = self.step(fresh=True)
            steps += 1
            total += done
            if not done:
                break
        return total

    # ----------------------------------------------------------------------- one step
    def step(self, fresh: bool = True) -> int:
        """Apply at most one chunk to each projection held. Returns notifications consumed."""
        now = time.monotonic()
        if now >= self._next_health_check:
            # The lock connection is checked as often as a standby tries to take over (a round
            # trip and a SQLAlchemy execute cost about as much CPU as a small step's writes).
            # Between checks a lost lock costs nothing but wasted work: each write is conditional
            # on the position this runner read, so a new holder's writes refuse ours.
            self._next_health_check = now + self.standby_interval
            if not self.locks.healthy():
                self._targets = None
        self._try_standby()
        if self._targets is None:
            self._warm.clear()  # cached rows are only known good while we keep our targets
            self._targets = self._load_targets()
        feed = self._feed_for_reading()
        reads: dict[int, list[Notification]] = {}
        decoded: dict[int, Any] = {}

        def event_of(n: Notification) -> Any:
            if n.id not in decoded:
                decoded[n.id] = self.source.decode(n)
            return decoded[n.id]

        built = 0
        for target in self._targets:
            if target.gen.position == 0 and self.source.head() > 0:
                try:
                    built += self._build_in_memory(target)
                except PositionMoved as moved:
                    log.info("reloading projections: %s", moved)
                    self._targets = None
                    return built
                if self._stop.is_set():
                    return built
        targets = list(self._targets)
        for target in targets:
            position = target.gen.position
            if position not in reads:
                reads[position] = feed.read(position, self.chunk_size, fresh)
        given = [reads[t.gen.position] for t in targets]
        self._behind = any(len(notes) >= self.chunk_size for notes in given)
        applied: list[int] | None
        try:
            # All projections' chunks in one transaction (one BEGIN/COMMIT per step, not one
            # per projection). If that fails, nothing moved: apply them one by one below, so
            # the others still progress and the failing one raises as it would alone.
            applied = apply_chunks(
                self.engine, [(t.projection, t.gen, notes) for t, notes in zip(targets, given, strict=True)],
                event_of, self.worker_id, self._warm, self._writer(),
            )
        except PositionMoved as moved:
            log.info("reloading projections: %s", moved)
            self._targets = None
            self._warm.clear()
            return 0
        except Exception:
            log.debug("applying the projections together failed; one by one now", exc_info=True)
            self._warm.clear()
            self._drop_writer()
            applied = None
        total = 0
        for i, (target, notes) in enumerate(zip(targets, given, strict=True)):
            try:
                if applied is not None:
                    total += applied[i]
                else:
                    total += apply_chunk(
                        self.engine, target.projection, target.gen, notes, event_of, self.worker_id
                    )
                if target.gen.status == BUILDING and len(notes) < self.chunk_size:
                    self._try_switch(target)
            except PositionMoved as moved:
                log.info("reloading projections: %s", moved)
                self._targets = None
                break
        if self._targets and self._feed is not None:
            self._trim(self._feed)
        if total and time.monotonic() >= self._next_statistics:
            self._next_statistics = time.monotonic() + STATISTICS_INTERVAL
            try:
                analyzed = analyze_stale(self.engine)
            except Exception:  # the statistics are an optimisation: never fail a step over them
                log.debug("analyzing the read-model tables failed", exc_info=True)
            else:
                if analyzed:
                    log.debug("analyzed read-model tables with stale statistics: %s", ", ".join(analyzed))
        return built + total

    def _build_in_memory(self, target: _Target) -> int:
        """Catch an empty generation up to the log head in memory, then write it at once (as
        :func:`rebuild` does): a first start on a long log, or a rebuild at start. Returns
        how many notifications it consumed."""
        if target.projection.chunked_build:
            return self._build_chunked(target)
        build = MemoryBuild(target.projection, target.gen)
        consumed = 0
        paused = _pause_gc()
        try:
            while not self._stop.is_set():
                notes = self.source.read(build.position, REBUILD_CHUNK)
                consumed += build.apply(notes, self.source.decode)  # one projection: each event decoded once
                if len(notes) < REBUILD_CHUNK:
                    log.info("projection %s: built generation %d up to %d in memory; writing it",
                             target.projection.name, target.gen.generation, build.position)
                    build.write(self.engine, self.worker_id)
                    return consumed
            return 0  # stopping: nothing was written
        finally:
            paused.close()

    def _build_chunked(self, target: _Target) -> int:
        """A projection built chunk by chunk (:attr:`Projection.chunked_build`): the log in pages of
        ``REBUILD_CHUNK`` events, each page's rows written with its position in one transaction (a
        stop or a crash between pages loses nothing: the next start goes on from the position).
        Returns how many notifications it consumed."""
        consumed = 0
        while not self._stop.is_set():
            notes = self.source.read(target.gen.position, REBUILD_CHUNK)
            consumed += apply_chunk(self.engine, target.projection, target.gen, notes, self.source.decode,
                                    self.worker_id)
            if len(notes) < REBUILD_CHUNK:
                break
        return consumed

    def _feed_for_reading(self) -> Feed:
        if self._feed is not None and self._feed.broken:
            self._feed.close()
            self._feed = None
        return self._feed or PollingFeed(self.source)

    def _trim(self, feed: Feed) -> None:
        if isinstance(feed, SubscriptionFeed) and self._targets:
            covered = [t.gen.position for t in self._targets if t.gen.position >= feed.floor]
            if covered:
                feed.trim(min(covered))

    def _idle(self) -> bool:
        """Wait for news. True if the subscription delivered some; False after a bounded wait
        (the next step then reads the log itself, so a lost notification costs one wait)."""
        if not self._targets:
            self._stop.wait(self.standby_interval)
            return False
        lowest = min(t.gen.position for t in self._targets)
        if not self.use_subscription:
            if self._feed is None:
                self._feed = PollingFeed(self.source)
            self._feed.wait(lowest, self.poll_interval)
            return False
        if self._feed is None or self._feed.broken:
            if self._feed is not None:
                self._feed.close()
            self._feed = self._subscribe(lowest)
        return self._feed.wait(lowest, self.repoll_interval)

    def _subscribe(self, after: int) -> Feed:
        """The live feed after ``after`` (tests override it to lose notifications)."""
        return SubscriptionFeed(self.source, gt=after)

    # ------------------------------------------------------------------ locks, targets
    def _try_standby(self) -> None:
        now = time.monotonic()
        if now < self._next_standby_try:
            return
        self._next_standby_try = now + self.standby_interval
        if self._incomplete:
            self._targets = None
        held = self.locks.held()
        for p in self.projections:
            if p.name not in held and self.locks.try_acquire(p.name):
                log.info("worker %s now runs projection %s", self.worker_id, p.name)
                self._targets = None

    def _load_targets(self) -> list[_Target]:
        held = self.locks.held()
        targets: list[_Target] = []
        for p in self.projections:
            if p.name not in held:
                continue
            with reading(self.engine) as conn:
                gens = generations(conn, p.name)
            active = next((g for g in gens if g.status == ACTIVE), None)
            if active is None:
                try:
                    active = create_generation(self.engine, p, ACTIVE, self.worker_id)
                except PositionMoved:
                    continue  # a rebuild just switched one in: pick it up next time
            if active.version == p.version:
                targets.append(_Target(p, active))
                self._drop_abandoned(p, [g for g in gens if g.status == BUILDING])
                continue
            # The active generation was built by other code: rebuild beside it.
            if not self.locks.try_acquire(_rebuild_key(p.name)):
                continue  # someone is rebuilding it; their switch-over ends the wait
            with reading(self.engine) as conn:  # again, now that no other rebuild can run
                gens = generations(conn, p.name)
            active = next((g for g in gens if g.status == ACTIVE), None)
            if active is None or active.version == p.version:
                self.locks.release(_rebuild_key(p.name))
                continue  # a rebuild finished meanwhile: pick it up next time
            resumable = [g for g in gens if g.status == BUILDING and g.version == p.version]
            for g in gens:
                if g.status == BUILDING and g not in resumable[-1:]:
                    drop_generation(self.engine, p, g.generation)
            building = resumable[-1] if resumable else create_generation(
                self.engine, p, BUILDING, self.worker_id
            )
            log.info(
                "projection %s: code version %d, active generation %d has version %d: rebuilding "
                "into generation %d", p.name, p.version, active.generation, active.version,
                building.generation,
            )
            targets.append(_Target(p, building))
        self._incomplete = len(targets) < len([p for p in self.projections if p.name in held])
        return targets

    def _drop_abandoned(self, projection: Projection, building: list[Generation]) -> None:
        """Drop generations a rebuild left behind when it died (none while one is running)."""
        key = _rebuild_key(projection.name)
        if not building or key in self.locks.held() or not self.locks.try_acquire(key):
            return
        try:
            with reading(self.engine) as conn:  # again, now that no rebuild can be running
                building = [g for g in generations(conn, projection.name) if g.status == BUILDING]
            for g in building:
                log.info("projection %s: dropping abandoned generation %d", projection.name, g.generation)
                drop_generation(self.engine, projection, g.generation)
        finally:
            self.locks.release(key)

    def _try_switch(self, target: _Target) -> None:
        if target.gen.position < self.source.head():
            return
        switched, old = switch_over(self.engine, target.gen)
        if not switched:
            return
        log.info("projection %s: generation %d is now active", target.projection.name, target.gen.generation)
        if old is not None:
            drop_generation(self.engine, target.projection, old.generation)
        self.locks.release(_rebuild_key(target.projection.name))

    def _writer(self) -> Connection:
        """The connection the steps write on, kept from step to step (a pool checkout pings)."""
        if self._connection is None:
            self._connection = writing_connection(self.engine)
        return self._connection

    def _drop_writer(self, invalidate: bool = True) -> None:
        """Close the steps' connection; ``invalidate`` (after an error) keeps it out of the pool."""
        conn, self._connection = self._connection, None
        if conn is not None:
            try:
                if invalidate:
                    conn.invalidate()
                conn.close()
            except Exception:
                log.debug("closing the projections' connection failed", exc_info=True)

    def _reset(self) -> None:
        self._drop_writer()
        self._targets = None
        self._warm.clear()
        if self._feed is not None:
            self._feed.close()
            self._feed = None

    def _close(self) -> None:
        self._drop_writer(invalidate=False)
        if self._feed is not None:
            self._feed.close()
            self._feed = None
        self._targets = None
        try:
            self.locks.close()
        except Exception:
            log.debug("releasing locks failed", exc_info=True)


class _GcPause:
    """Keeps the cyclic garbage collector off while a memory build holds its rows.

    A build creates millions of small acyclic dicts that stay alive until it writes them; the
    collector would scan them over and over without freeing anything (refcounting frees the
    rest). ``close`` turns it back on, once."""

    def __init__(self, paused: bool) -> None:
        self._paused = paused

    def close(self) -> None:
        if self._paused:
            self._paused = False
            gc.enable()


def _pause_gc() -> _GcPause:
    if not gc.isenabled():
        return _GcPause(False)
    gc.disable()
    return _GcPause(True)


def rebuild(
    registry: EventLog,
    engine: Engine,
    projection: Projection,
    *,
    chunk_size: int = REBUILD_CHUNK,
    progress: Progress | None = None,
    worker_id: str | None = None,
) -> Generation:
    """Build ``projection`` from the whole log into a fresh generation, then switch over.

    Queries keep answering from the active generation until the new one has caught up with
    the log head (and with the active one, which a running worker may still be advancing);
    the switch is one transaction. The old generation's tables are then dropped, and a worker
    that was running the old generation picks up the new one.

    A log whose journal does not verify (registry/journal) is refused with JournalBroken before
    anything is built: read models are never rebuilt from a rewritten history.
    """
    from registry.journal.service import refuse_broken_chain

    refuse_broken_chain(registry.recorder)
    projection.bind(registry)
    worker = worker_id or default_worker_id()
    source = LogSource(registry)
    locks = open_locks(engine)
    key = _rebuild_key(projection.name)
    if not locks.try_acquire(key):
        locks.close()
        raise RebuildBusy(projection.name)
    gen: Generation | None = None
    switched = False
    paused = _GcPause(False)
    try:
        with reading(engine) as conn:
            stale = [g for g in generations(conn, projection.name) if g.status == BUILDING]
        for g in stale:
            drop_generation(engine, projection, g.generation)
        gen = create_generation(engine, projection, BUILDING, worker)
        event_of = source.decode  # one projection: each event is decoded once anyway

        # The fresh generation is built in memory up to the log head, then written at once;
        # if a running worker keeps the active generation ahead of it, it catches up further
        # chunk by chunk, as a worker would.
        # A projection built chunk by chunk (Projection.chunked_build) writes each chunk as it goes.
        build: MemoryBuild | None = None if projection.chunked_build else MemoryBuild(projection, gen)
        if build is not None:
            paused = _pause_gc()
        while True:
            position = build.position if build is not None else gen.position
            notes = source.read(position, chunk_size)
            if build is not None:
                build.apply(notes, event_of)
                position = build.position
            else:
                apply_chunk(engine, projection, gen, notes, event_of, worker)
                position = gen.position
            head = source.head()
            if progress is not None:
                progress(position, head)
            if len(notes) < chunk_size and position >= head:
                if build is not None:
                    build.write(engine, worker)
                    build = None
                    paused.close()
                switched, old = switch_over(engine, gen)
                if switched:
                    if old is not None:
                        drop_generation(engine, projection, old.generation)
                    return gen
    finally:
        paused.close()
        if gen is not None and not switched:
            try:
                drop_generation(engine, projection, gen.generation)
            except Exception:
                log.warning("could not drop unfinished generation %s", gen.generation, exc_info=True)
        locks.release(key)
        locks.close()
