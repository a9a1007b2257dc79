"""Group commit for PostgreSQL: several commands' events in one transaction, each with its own outcome.

Measured on this machine (docs/performance.md, "PostgreSQL append path"): the library's recorder
takes ``LOCK TABLE ... IN EXCLUSIVE MODE`` for every append and holds it until its COMMIT has
been flushed to the WAL. Every append in every server process therefore queues on that lock, and
the time it is held (a handful of round trips plus one WAL flush) is the ceiling of the whole
deployment's write rate, however many cores and servers there are.

A :class:`GroupCommit` makes the threads that append at the same time share one transaction:
the first thread to arrive becomes the *leader* and writes everything queued; threads that arrive
while a leader writes queue up and the next leader takes them all. So one lock acquisition, one
journal head update, one NOTIFY and one WAL flush serve a whole group, and the lock is held about
as long as it was for one command.

What each command keeps (tests/integration/test_group_commit.py proves them on PostgreSQL):

- **Atomicity**: a command's events, serial claims and moves are written between a SAVEPOINT and
  its release; a command that fails (a version conflict, a serial already claimed) is rolled back
  to its savepoint and gets its own error, the others in the group commit.
- **Its own outcome**: a caller returns only once the group's COMMIT has returned, with its own
  positions or its own exception. A failure of the group as a whole (the connection, the commit)
  is every member's failure, and nobody was told "done" before it.
- **Ordering**: the group runs under the same EXCLUSIVE table lock, so positions are handed out
  and committed in one order across all processes: a reader never sees position N+1 committed
  before N. A rolled-back member burns the positions its failed insert drew (the log may have
  gaps, as with any rolled-back insert on PostgreSQL; readers already allow them).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from eventsourcing.persistence import StoredEvent


@dataclass(eq=False)
class Append:
    """One command's append, waiting for its group."""

    stored_events: Sequence[StoredEvent]
    kwargs: dict[str, Any]
    ids: Sequence[int] | None = None
    error: BaseException | None = None
    done: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def reset(self) -> None:
        self.ids = None
        self.error = None


class GroupCommit:
    """Leader/follower batching of appends (see the module docstring)."""

    def __init__(self, write_group: Callable[[list[Append]], None], max_group: int = 64) -> None:
        self._write_group = write_group
        self._max_group = max_group
        self._cond = threading.Condition()
        self._queue: list[Append] = []
        # One group at a time: measured with two in flight (the next group's statements queued
        # on the table lock behind the last), groups halved and commands/s fell (bench.pg_append,
        # bench.scaleout, 2026-12-03).
        self._leading = False
        self.groups = 0  # groups written (for tests, metrics and the curious)
        self.appends = 0  # appends written in them
        self.write_seconds = 0.0  # time spent writing groups (an upper bound of the table lock's hold)
        self.observers: list[Callable[[int, float], None]] = []  # (group size, seconds), e.g. metrics

    def append(self, stored_events: Sequence[StoredEvent], kwargs: dict[str, Any]) -> Sequence[int] | None:
        mine = Append(stored_events, kwargs)
        with self._cond:
            self._queue.append(mine)
        while True:
            with self._cond:
                while self._leading and not mine.done:
                    self._cond.wait()
                if mine.done:
                    break
                # lead: write what is queued (this append among it, unless more than a group's
                # worth queued before it: then lead again)
                self._leading = True
                group, self._queue = self._queue[: self._max_group], self._queue[self._max_group:]
            self._lead(group)
        if mine.error is not None:
            raise mine.error
        return mine.ids

    def _lead(self, group: list[Append]) -> None:
        started = time.perf_counter()
        try:
            self._write_group(group)
        except BaseException as e:  # the group as a whole failed: everyone in it did
            for a in group:
                if a.error is None:
                    a.error = e
                    a.ids = None
        finally:
            took = time.perf_counter() - started
            for observe in self.observers:
                observe(len(group), took)
            with self._cond:
                self.write_seconds += took
                for a in group:
                    a.done = True
                self.groups += 1
                self.appends += len(group)
                self._leading = False
                self._cond.notify_all()
