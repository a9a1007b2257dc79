"""Reading the registry's event log: by polling, or through PostgreSQL LISTEN/NOTIFY.

Positions are notification ids. On PostgreSQL they can have gaps (a rolled-back insert burns
a sequence value), so a reader always asks for "everything after my last position", never
for "position + 1". The library's PostgreSQL recorder locks the events table while it
inserts, so ids become visible in order and a reader never skips a late commit.
"""

from __future__ import annotations

import bisect
import logging
import threading
from datetime import datetime
from typing import Any, Protocol

from eventsourcing.persistence import Notification
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder

from registry.application.ports import EventLog

log = logging.getLogger(__name__)


class LogSource:
    """The event log as the projections see it (a thin layer over the EventLog's queries)."""

    def __init__(self, registry: EventLog) -> None:
        self.registry = registry
        self.recorder: Any = registry.recorder

    def read(self, after: int, limit: int) -> list[Notification]:
        return self.registry.read_log(after, limit)

    def decode(self, notification: Notification) -> Any:
        return self.registry.decode(notification)

    def head(self) -> int:
        return self.registry.head()

    @property
    def can_subscribe(self) -> bool:
        return isinstance(self.recorder, PostgresApplicationRecorder)

    def subscribe(self, gt: int) -> Any:
        return self.recorder.subscribe(gt=gt)

    def count_after(self, position: int) -> int:
        """How many events the log holds after ``position`` (ids may have gaps)."""
        table = getattr(self.recorder, "events_table_name", None)
        datastore: Any = getattr(self.recorder, "datastore", None)
        if isinstance(self.recorder, SQLiteApplicationRecorder):
            with datastore.transaction(commit=False) as cur:
                cur.execute(f"SELECT COUNT(*) FROM {table} WHERE rowid > ?", (position,))  # noqa: S608
                return int(cur.fetchone()[0])
        if isinstance(self.recorder, PostgresApplicationRecorder):
            schema = datastore.schema or "public"
            with datastore.get_connection() as conn, conn.cursor() as cur:
                cur.execute(
                    f'SELECT COUNT(*) AS n FROM "{schema}"."{table}" WHERE notification_id > %s',  # noqa: S608
                    (position,),
                )
                row = cur.fetchone()
                return int(row["n"]) if row else 0
        return len(self.recorder.select_notifications(
            start=position, limit=10**9, inclusive_of_start=False))

    def recorded_at_after(self, position: int) -> datetime | None:
        """When the registry recorded the first event after ``position`` (None if none)."""
        first = self.read(position, 1)
        if not first:
            return None
        when: datetime = self.decode(first[0]).timestamp
        return when


class Feed(Protocol):
    """Where the runner gets notifications after a position, and how it waits for more."""

    def read(self, after: int, limit: int, fresh: bool) -> list[Notification]: ...

    def wait(self, after: int, timeout: float) -> bool: ...

    def trim(self, upto: int) -> None: ...

    def interrupt(self) -> None: ...

    def close(self) -> None: ...

    @property
    def broken(self) -> bool: ...


class PollingFeed:
    """Reads the log directly; waiting is a short sleep (SQLite has no subscriptions)."""

    def __init__(self, source: LogSource) -> None:
        self.source = source
        self._wake = threading.Event()

    def read(self, after: int, limit: int, fresh: bool) -> list[Notification]:
        return self.source.read(after, limit)

    def wait(self, after: int, timeout: float) -> bool:
        self._wake.wait(timeout)
        self._wake.clear()
        return False

    def trim(self, upto: int) -> None:
        return None

    def interrupt(self) -> None:
        self._wake.set()

    def close(self) -> None:
        self._wake.set()

    @property
    def broken(self) -> bool:
        return False


class SubscriptionFeed:
    """The library's LISTEN/NOTIFY subscription, buffered for several projections.

    The subscription yields every notification after ``gt`` in order, without gaps of its own;
    so the buffer holds every notification in ``(floor, last]`` and can answer a read after any
    position >= floor. Anything else (a projection further behind, or a ``fresh`` read after a
    bounded wait ran out because a notification may have been lost) goes to the log itself.
    """

    MAX_BUFFER = 5000

    def __init__(self, source: LogSource, gt: int) -> None:
        self.source = source
        self._floor = gt
        self._last = gt
        self._buf: list[Notification] = []
        self._ids: list[int] = []
        self._cond = threading.Condition()
        self._closed = False
        self._dead = False
        self.error: BaseException | None = None
        self._sub = source.subscribe(gt)
        self._sub.__enter__()
        self._thread = threading.Thread(target=self._consume, name="projections-subscription", daemon=True)
        self._thread.start()

    def _consume(self) -> None:
        try:
            for n in self._sub:
                with self._cond:
                    while len(self._buf) >= self.MAX_BUFFER and not self._closed:
                        self._cond.wait(0.5)
                    if self._closed:
                        return
                    self._buf.append(n)
                    self._ids.append(n.id)
                    self._last = n.id
                    self._cond.notify_all()
        except BaseException as e:
            self.error = e
            log.warning("subscription stopped: %s", e)
        finally:
            with self._cond:
                self._dead = True
                self._cond.notify_all()

    @property
    def broken(self) -> bool:
        return self._dead and not self._closed

    def read(self, after: int, limit: int, fresh: bool) -> list[Notification]:
        if not fresh:
            with self._cond:
                if after >= self._floor and not self._dead:
                    i = bisect.bisect_right(self._ids, after)
                    return self._buf[i : i + limit]
        return self.source.read(after, limit)

    def wait(self, after: int, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(
                lambda: self._last > after or self._dead or self._closed, timeout
            ) and self._last > after

    def trim(self, upto: int) -> None:
        with self._cond:
            if upto <= self._floor:
                return
            i = bisect.bisect_right(self._ids, upto)
            del self._buf[:i]
            del self._ids[:i]
            self._floor = upto
            self._cond.notify_all()

    @property
    def floor(self) -> int:
        return self._floor

    def interrupt(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        try:
            self._sub.__exit__(None, None, None)
        except BaseException:
            log.debug("closing the subscription failed", exc_info=True)
        self._thread.join(timeout=10)
