"""The library's application recorders, plus a registry-wide serial index in the same transaction.

"A serial belongs to at most one batch in the whole registry" is a rule across aggregates. The
batch's ``SerialsRegistered`` event is the fact; the ``serial_claims`` table is an index of it with
the serial as primary key, written in the SAME database transaction as the event. Two batches
claiming one serial therefore cannot both commit, even from two server processes, and the losing
write raises the store's IntegrityError. Splits move claims (``serial_moves``) the same way.

Keyword arguments reach ``insert_events`` from ``Application.save(**kwargs)``.

The journal (registry/journal/tables.py) is written the same way: once the new events have their
positions, one leaf per event and the tree's new head go into the same transaction. A recorder
whose journal check failed (``refuse_writes``) raises :class:`JournalBroken` instead of writing.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any, cast
from uuid import UUID

from eventsourcing.persistence import (
    Notification,
    StoredEvent,
)
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteConnection, SQLiteCursor, SQLiteDatastore

from registry.infrastructure.durability import WalSync
from registry.journal.errors import JournalBroken
from registry.journal.tables import JournalTables

Claims = Sequence[tuple[str, UUID]]
#: an event as SubscribeEvents reads it: position, originator id as text (SQLite: as stored, the
#: UUID's hex; PostgreSQL: the uuid column as text), originator version, topic, state
LogRow = tuple[int, Any, int, str, bytes]


class RegistrySQLiteRecorder(SQLiteApplicationRecorder):
    def __init__(self, datastore: SQLiteDatastore, *, events_table_name: str = "stored_events") -> None:
        self.claims_table_name = "serial_claims"  # read by the create statements in __init__
        self.journal = JournalTables("sqlite", events_table=events_table_name)
        self.refuse_writes: str | None = None  # why the journal check failed, if it did
        self.wal_sync: WalSync | None = None
        self._normal_sync: weakref.WeakSet[SQLiteConnection] = weakref.WeakSet()  # connections told
        pool = datastore.pool
        self._log_sync = None if pool.is_sqlite_memory_mode else WalSync(pool.db_name)  # sync() only
        self._synced_head = 0  # the log was on disk up to here when this process last looked
        super().__init__(datastore, events_table_name=events_table_name)

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]:
        """The log as projections, subscribers and reports read it: only what is on disk.

        A server with group fsync (:meth:`defer_sync`) commits before it fsyncs, so for a
        millisecond or two a commit is visible but not durable. A reader that kept such an event
        (a read model, a subscriber's own database) would hold, after a power loss, an event the
        log no longer has, at a position the next event would take. So a read on a file store
        first notes the head, fsyncs the WAL (which makes everything up to that head durable),
        and reads no further than that head.
        """
        if self._log_sync is not None:
            head = self._durable_head()
            stop = head if stop is None else min(stop, head)
        return super().select_notifications(start, limit, stop, topics, inclusive_of_start=inclusive_of_start)

    def _durable_head(self) -> int:
        """The log head, after an fsync of the WAL if this process has not synced up to it."""
        assert self._log_sync is not None
        head = self.max_notification_id() or 0
        if head > self._synced_head:  # else: nothing new since this process last synced
            self._log_sync.sync()
            self._synced_head = max(self._synced_head, head)
        return head

    def select_log_rows(
        self, after: int, limit: int, topics: Sequence[str] = (), skip_topics: Sequence[str] = (),
        originator_id: UUID | None = None,
    ) -> list[LogRow]:
        """``(position, originator id as stored, version, topic, state)`` of the events after
        ``after`` in log order, read as :meth:`select_notifications` reads them (only what is on
        disk) but without a Notification per row; only ``topics`` (if given), not ``skip_topics``,
        only ``originator_id``'s (if given), all filtered by the store."""
        where = ["rowid>?"]
        params: list[Any] = [after]
        if self._log_sync is not None:
            where.append("rowid<=?")
            params.append(self._durable_head())
        if topics:
            where.append(f"topic IN ({','.join('?' * len(topics))})")
            params.extend(topics)
        if skip_topics:
            where.append(f"topic NOT IN ({','.join('?' * len(skip_topics))})")
            params.extend(skip_topics)
        if originator_id is not None:
            where.append("originator_id=?")
            params.append(originator_id.hex)  # as the library stores it
        params.append(limit)
        statement = (
            "SELECT rowid, originator_id, originator_version, topic, state "  # noqa: S608 - our names
            f"FROM {self.events_table_name} WHERE {' AND '.join(where)} ORDER BY rowid LIMIT ?"
        )
        with self.datastore.transaction(commit=False) as c:
            c.execute(statement, params)
            return cast(list[LogRow], c.fetchall())

    def defer_sync(self) -> WalSync | None:
        """Commit with ``synchronous=NORMAL`` from now on, and return the :class:`WalSync` that
        every caller must await before it acknowledges a write (registry/infrastructure/
        durability.py explains why this is as durable and faster). None for an in-memory store."""
        pool = self.datastore.pool
        if pool.is_sqlite_memory_mode:
            return None
        if self.wal_sync is None:
            self.wal_sync = WalSync(pool.db_name)
        return self.wal_sync

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        if self.refuse_writes is not None:
            raise JournalBroken(self.refuse_writes)
        if self.wal_sync is None:
            return super().insert_events(stored_events, **kwargs)
        with self.datastore.get_connection(commit=True) as connection:
            if connection not in self._normal_sync:
                connection.cursor().execute("PRAGMA synchronous=NORMAL")  # per connection; outside BEGIN
                self._normal_sync.add(connection)
            with connection.transaction(commit=True) as c:
                return self._insert_events(c, stored_events, **kwargs)

    def construct_create_table_statements(self) -> list[str]:
        statements = super().construct_create_table_statements()
        statements.append(
            f"CREATE TABLE IF NOT EXISTS {self.claims_table_name} "
            "(serial TEXT PRIMARY KEY, batch_id TEXT NOT NULL) WITHOUT ROWID"
        )
        statements.extend(self.journal.create_statements)
        return statements

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        claims: Claims = kwargs.get("serial_claims", ())
        if claims:
            c.executemany(
                f"INSERT INTO {self.claims_table_name} (serial, batch_id) VALUES (?, ?)",  # noqa: S608
                _claim_rows(claims),
            )
        moves: Claims = kwargs.get("serial_moves", ())
        if moves:
            c.executemany(
                f"UPDATE {self.claims_table_name} SET batch_id=? WHERE serial=?",  # noqa: S608
                [(b.hex, s) for s, b in moves],
            )
        ids = super()._insert_events(c, stored_events, **kwargs)
        if ids:
            self.journal.append(c, ids, stored_events)
        return ids

    def claimed(self, serials: Sequence[str]) -> dict[str, UUID]:
        """Which of these serials are claimed, and by which batch."""
        found: dict[str, UUID] = {}
        with self.datastore.transaction(commit=False) as c:
            for lo in range(0, len(serials), 500):
                chunk = list(serials[lo: lo + 500])
                c.execute(
                    f"SELECT serial, batch_id FROM {self.claims_table_name} "  # noqa: S608
                    f"WHERE serial IN ({','.join('?' * len(chunk))})",
                    chunk,
                )
                found.update({row[0]: UUID(row[1]) for row in c.fetchall()})
        return found


def _claim_rows(claims: Claims) -> list[tuple[str, str]]:
    """``(serial, batch id as hex)`` for each claim: a registration claims thousands of serials
    for one batch, so each batch's hex is made once (``UUID.hex`` is Python code)."""
    rows: list[tuple[str, str]] = []
    last: UUID | None = None
    hexed = ""
    for serial, batch_id in claims:
        if batch_id is not last:
            last, hexed = batch_id, batch_id.hex
        rows.append((serial, hexed))
    return rows
