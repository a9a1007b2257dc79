"""Fail fast while PostgreSQL is down: a circuit breaker around the library's datastore.

Why: eventsourcing's PostgreSQL recorders retry an operation that failed with a connection error
10 times (0.2 s apart), and each attempt waits up to ``POSTGRES_CONNECT_TIMEOUT`` for a pooled
connection that a database which is down never gives. A call then takes tens of seconds, and a
client with a deadline of a few seconds sees ``DEADLINE_EXCEEDED`` where it should see
``UNAVAILABLE`` (retry with the same request_id).

The breaker wraps ``PostgresDatastore.get_connection``. When a call fails with a connection error
(no SQLSTATE, class 08, an administrator or crash shutdown, or the pool's timeout), it tries one
fresh connection at once (the probe, ``PROBE_TIMEOUT`` at most):

* the probe connects: the database is up and the failure was a stale pooled connection; the error
  goes on to the library's retry, as before;
* the probe fails: the breaker opens and the call raises :class:`StoreDown` (no retry by the
  library: it is not one of the errors it retries), which the server answers ``UNAVAILABLE``.

While it is open every call raises :class:`StoreDown` at once, except one call every
``PROBE_INTERVAL`` seconds that probes; the first probe that connects closes it. The pool is then
replaced by a fresh one: the old pool's reconnection attempts are spaced by exponential backoff
and would hold the first calls after the outage for seconds. The server is never restarted.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
from eventsourcing.persistence import InterfaceError, OperationalError, PersistenceError
from eventsourcing.postgres import ConnectionPool, PostgresDatastore
from psycopg.rows import DictRow

log = logging.getLogger(__name__)

PROBE_INTERVAL = 0.5  # seconds between probes while the database is down
PROBE_TIMEOUT = 2  # seconds one probe may take to connect (psycopg's connect_timeout, whole seconds)
# SQLSTATEs of a connection that the server ended: admin_shutdown, crash_shutdown, cannot_connect_now
_SHUTDOWN_STATES = frozenset({"57P01", "57P02", "57P03"})


class StoreDown(PersistenceError):
    """The database does not accept connections (the breaker is open): answered UNAVAILABLE."""


def connection_lost(error: BaseException) -> bool:
    """Whether ``error`` (the library's exception, or the driver's behind it) is about the
    connection rather than the statement: the connection broke, could not be made, or the pool
    gave none in time. A conflict, a lock timeout or a serialization failure is not."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, psycopg.InterfaceError):
            return True
        if isinstance(cause, psycopg.OperationalError):
            state = cause.sqlstate
            return state is None or state.startswith("08") or state in _SHUTDOWN_STATES
        cause = cause.__cause__
    return False


class Breaker:
    """The circuit breaker of one datastore (see the module docstring)."""

    def __init__(self, datastore: PostgresDatastore, probe_interval: float = PROBE_INTERVAL,
                 probe_timeout: int = PROBE_TIMEOUT) -> None:
        self.datastore = datastore
        self.probe_interval, self.probe_timeout = probe_interval, probe_timeout
        self._connect: Callable[[], contextlib.AbstractContextManager[psycopg.Connection[DictRow]]] = (
            datastore.get_connection)
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self._next_probe = 0.0
        self._probing = False
        self._reason = ""
        self.opened = 0  # how many times it opened (for tests and logs)

    @property
    def is_open(self) -> bool:
        return self._down_since is not None

    @contextlib.contextmanager
    def get_connection(self) -> Iterator[psycopg.Connection[DictRow]]:
        self._admit()
        try:
            with self._connect() as conn:
                yield conn
        except (OperationalError, InterfaceError) as e:
            if not connection_lost(e):
                raise
            down = self._failed(e)
            if down is None:
                raise
            raise down from e

    def _down(self) -> StoreDown:
        return StoreDown(f"PostgreSQL does not accept connections ({self._reason}); retry later")

    def _admit(self) -> None:
        """Return when the call may use the database; raise StoreDown while it is down."""
        with self._lock:
            if self._down_since is None:
                return
            if self._probing or time.monotonic() < self._next_probe:
                raise self._down()
            self._probing = True
        try:
            reason = self._probe()
            with self._lock:
                if reason is not None:
                    self._reason = reason
                    self._next_probe = time.monotonic() + self.probe_interval
                    raise self._down()
            down_for = time.monotonic() - (self._down_since or time.monotonic())
            self._refresh_pool()
            with self._lock:
                self._down_since = None
            log.warning("PostgreSQL accepts connections again (it was down for %.1f s)", down_for)
        finally:
            with self._lock:
                self._probing = False

    def _failed(self, error: BaseException) -> StoreDown | None:
        """After a connection error: StoreDown when the database does not answer a fresh
        connection (the breaker opens), None when it does (the error was one stale connection)."""
        if self._down_since is not None:
            return self._down()
        reason = self._probe()
        if reason is None:
            return None
        with self._lock:
            if self._down_since is None:
                self._down_since = time.monotonic()
                self.opened += 1
                log.warning("PostgreSQL does not accept connections (%s); calls are answered UNAVAILABLE "
                            "until it does", reason)
            self._reason = reason
            self._next_probe = time.monotonic() + self.probe_interval
        return self._down()

    def _probe(self) -> str | None:
        """None when a fresh connection can be made, else the driver's reason (its first line)."""
        given = self.datastore.pool.kwargs
        kwargs = {k: v for k, v in (given() if callable(given) else given or {}).items() if k != "row_factory"}
        try:
            with psycopg.connect(**kwargs, connect_timeout=self.probe_timeout, autocommit=True):
                return None
        except psycopg.Error as e:
            return (str(e).strip().splitlines() or [type(e).__name__])[0]

    def _refresh_pool(self) -> None:
        """A fresh pool with the old one's settings; the old one is closed (connections still in
        use are closed when they are returned)."""
        old = self.datastore.pool
        fresh: ConnectionPool[Any] = ConnectionPool(
            get_password_func=old.get_password_func, connection_class=old.connection_class,
            kwargs=old.kwargs, min_size=old.min_size, max_size=old.max_size, open=False,
            configure=old._configure, check=old._check, timeout=old.timeout,
            max_waiting=old.max_waiting, max_lifetime=old.max_lifetime,
        )
        self.datastore.pool = fresh
        with contextlib.suppress(Exception):
            old.close(timeout=0)


def install(datastore: PostgresDatastore) -> Breaker:
    """The datastore's breaker (installed once: every recorder of the datastore shares it)."""
    existing = getattr(datastore, "breaker", None)
    if isinstance(existing, Breaker):
        return existing
    breaker = Breaker(datastore)
    datastore.get_connection = breaker.get_connection  # type: ignore[method-assign]
    datastore.breaker = breaker  # type: ignore[attr-defined]
    return breaker
