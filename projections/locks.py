"""Who may run a projection: one worker per projection per store.

* PostgreSQL: session advisory locks on one dedicated connection. When the worker dies, its
  connection closes and the locks are released; a standby worker polling
  ``pg_try_advisory_lock`` takes over. The keys include the schema, so stores in different
  schemas of one database do not block each other.
* SQLite (a file): ``flock`` on a small file next to the database, released by the kernel when
  the process dies. Not available on Windows.
  (An in-memory store keeps its read models in a scratch file, so this applies too.)

The locks are for efficiency and hot standby; correctness does not depend on them (a chunk
only commits if the position it started from is still current, see ``apply_chunk``).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from pathlib import Path
from typing import IO, Any, Protocol

from sqlalchemy import Connection, Engine, text

from projections.db import is_sqlite

log = logging.getLogger(__name__)


class Locks(Protocol):
    def try_acquire(self, key: str) -> bool: ...

    def release(self, key: str) -> None: ...

    def held(self) -> set[str]: ...

    def healthy(self) -> bool: ...

    def close(self) -> None: ...


def open_locks(engine: Engine) -> Locks:
    if is_sqlite(engine):
        database = engine.url.database
        if not database or database == ":memory:":
            raise ValueError("projection locks need a SQLite file (see create_readmodel_engine)")
        return FileLocks(Path(database))
    return AdvisoryLocks(engine)


def _advisory_key(namespace: str, key: str) -> int:
    digest = hashlib.sha256(f"gpureg-projection:{namespace}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class AdvisoryLocks:
    """PostgreSQL session-level advisory locks held on one connection."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._conn: Connection | None = None
        self._namespace = ""
        self._held: set[str] = set()
        self._mutex = threading.Lock()

    def _connection(self) -> Connection:
        if self._conn is None:
            conn = self.engine.connect()
            conn.execution_options(isolation_level="AUTOCOMMIT")
            self._namespace = str(conn.execute(text("SELECT current_schema()")).scalar() or "")
            self._conn = conn
        return self._conn

    def try_acquire(self, key: str) -> bool:
        with self._mutex:
            if key in self._held:
                return True
            conn = self._connection()
            got = bool(
                conn.execute(
                    text("SELECT pg_try_advisory_lock(:k)"),
                    {"k": _advisory_key(self._namespace, key)},
                ).scalar()
            )
            if got:
                self._held.add(key)
            return got

    def release(self, key: str) -> None:
        with self._mutex:
            if key not in self._held or self._conn is None:
                return
            self._held.discard(key)
            try:
                self._conn.execute(
                    text("SELECT pg_advisory_unlock(:k)"), {"k": _advisory_key(self._namespace, key)}
                )
            except Exception:
                log.warning("could not release advisory lock %s", key, exc_info=True)

    def held(self) -> set[str]:
        return set(self._held)

    def healthy(self) -> bool:
        """False (and every lock dropped) when the lock connection is gone."""
        with self._mutex:
            if self._conn is None:
                return True
            try:
                self._conn.execute(text("SELECT 1"))
                return True
            except Exception:
                log.warning("advisory lock connection lost; giving up %s", sorted(self._held))
                self._drop()
                return False

    def _drop(self) -> None:
        self._held.clear()
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.invalidate()
                conn.close()
            except Exception:
                log.debug("closing a dead lock connection failed", exc_info=True)

    def close(self) -> None:
        with self._mutex:
            conn, self._conn = self._conn, None
            self._held.clear()
            if conn is not None:
                try:
                    conn.execute(text("SELECT pg_advisory_unlock_all()"))
                finally:
                    conn.close()


class FileLocks:
    """``flock`` on ``<database>.<key>.lock`` files."""

    def __init__(self, database: Path) -> None:
        self.database = database
        self._files: dict[str, IO[Any]] = {}
        self._mutex = threading.Lock()

    def _path(self, key: str) -> Path:
        safe = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in key)
        return self.database.with_name(f"{self.database.name}.{safe}.lock")

    def try_acquire(self, key: str) -> bool:
        import fcntl

        with self._mutex:
            if key in self._files:
                return True
            handle = open(self._path(key), "a+")  # noqa: SIM115 - held open while locked
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                return False
            self._files[key] = handle
            return True

    def release(self, key: str) -> None:
        import fcntl

        with self._mutex:
            handle = self._files.pop(key, None)
            if handle is not None:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
                handle.close()

    def held(self) -> set[str]:
        return set(self._files)

    def healthy(self) -> bool:
        return True

    def close(self) -> None:
        for key in list(self._files):
            self.release(key)
