"""Keeping the as-of checkpoints current, in the projection worker, so past-time reports stay fast.

``gpureg report checkpoints`` (:func:`registry.reports.builders.checkpoints.make_checkpoints`) adds
checkpoints of the as-of replay up to the log head; a report as of a past time then replays only the
events after the latest checkpoint before it. Run by hand, they are only as current as the last run.
A :class:`CheckpointKeeper` runs in ``gpureg projections run`` (the worker ``gpureg serve`` starts,
and the separate workers of a PostgreSQL deployment): a background thread that, every ``interval``
seconds, adds checkpoints once the log has grown by ``every`` positions past the latest one and is
quiet (no new event since the previous look, or the checkpoints far behind), and only while this
worker is the active one for some projection (a hot standby keeps none), so one worker of a
deployment does the work. It is off the command path (its own process), and a round is incremental:
it resumes from the latest checkpoint, so after the first round it replays about ``every`` events.

Two active workers (each holding some projections) may race to the same position: the loser's insert
is refused by the table's key, logged, and its next round finds the winner's checkpoints.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from registry.application.service import Registry
from registry.reports.builders.checkpoints import EVERY, INDEX_KEY, CheckpointStore, Made, make_checkpoints

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 60.0
BEHIND_ROUNDS = 20


class CheckpointKeeper:
    """A background thread adding as-of checkpoints as the log grows (see the module docstring)."""

    def __init__(self, registry: Registry, engine: Engine, active: Callable[[], bool], *,
                 interval: float = DEFAULT_INTERVAL, every: int = EVERY) -> None:
        if interval <= 0:
            raise ValueError("interval must be a positive number of seconds")
        if every <= 0:
            raise ValueError("every must be a positive number of log positions")
        self.registry = registry
        self.engine = engine
        self.active = active
        self.interval = interval
        self.every = every
        self._last_head: int | None = None
        self.rounds = 0  # rounds that added checkpoints (for tests and the curious)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def due(self) -> bool:
        """Whether the log has grown by ``every`` positions past the latest checkpoint, and is quiet.

        Quiet: the head has not moved since the previous look (a round costs CPU the projections and a
        loading client would rather have), unless the checkpoints are ``BEHIND_ROUNDS`` rounds behind,
        so a log that never rests still gets them."""
        head = self.registry.head()
        moving, self._last_head = head != self._last_head, head
        latest = CheckpointStore(self.engine).nearest(INDEX_KEY, head)
        behind = head - (latest.position if latest is not None else 0)
        return behind >= self.every and (not moving or behind >= BEHIND_ROUNDS * self.every)

    def run_once(self) -> Made | None:
        """One round: checkpoints up to the log head if this worker is active and they are due."""
        if not self.active() or not self.due():
            return None
        made = make_checkpoints(self.registry, self.engine, self.every)
        if made.positions:
            self.rounds += 1
            log.info("as-of checkpoints added at %d positions up to %d (%.1f MB)",
                     len(made.positions), made.positions[-1], made.bytes / 1e6)
        return made

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="asof-checkpoints", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.run_once()
            except IntegrityError:
                log.info("as-of checkpoints: another worker added them first; looking again next round")
            except Exception:  # a failed round must not stop the worker's projections
                log.exception("as-of checkpoints: the round failed; trying again in %.0f s", self.interval)
