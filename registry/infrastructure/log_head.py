"""Cheap questions about the head of the log, asked once per command by the command executor.

The executor keeps aggregates in a cache and, instead of one fast-forward ``SELECT`` per cached
aggregate, asks once per command how far the log goes (:func:`head_and_event`, which also reads
the request record of an idempotent command in the same round trip). Only when the head moved past
what this process wrote or already looked at does it ask which aggregates the new events belong to
(:func:`originators_between`) and drop those from its cache. Both stores hand out log positions in
commit order (SQLite has one writer at a time; the library's PostgreSQL recorder locks the events
table for each insert), so everything at or below a head read now is already visible.

Each question is ONE statement. On SQLite it runs in autocommit, where a statement is its own read
transaction (both sub-selects see one snapshot): the library's ``transaction(commit=False)`` would
wrap it in ``BEGIN`` and ``ROLLBACK``, three calls into SQLite instead of one. On PostgreSQL it is
prepared on its first use on a connection (``prepare=True``; psycopg would otherwise prepare it
only after five uses), so the backend parses and plans it once per connection.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any, NamedTuple
from uuid import UUID

from eventsourcing.persistence import (
    ApplicationRecorder,
    DatabaseError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    PersistenceError,
    ProgrammingError,
)
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder


class StoredRow(NamedTuple):
    """One stored event as the library's mapper takes it, plus its log position."""

    position: int
    topic: str
    state: bytes


def supported(recorder: ApplicationRecorder) -> bool:
    """Whether these queries know the recorder's tables (the library's SQLite and PostgreSQL)."""
    return isinstance(recorder, SQLiteApplicationRecorder | PostgresApplicationRecorder)


def _pg_table(recorder: PostgresApplicationRecorder) -> str:
    return f'"{recorder.datastore.schema or "public"}"."{recorder.events_table_name}"'


_SQLITE_ERRORS: tuple[tuple[type[sqlite3.Error], type[PersistenceError]], ...] = (
    (sqlite3.InterfaceError, InterfaceError),
    (sqlite3.OperationalError, OperationalError),
    (sqlite3.IntegrityError, IntegrityError),
    (sqlite3.ProgrammingError, ProgrammingError),
    (sqlite3.DatabaseError, DatabaseError),
)


def _sqlite_rows(recorder: SQLiteApplicationRecorder, sql: str, params: Sequence[Any] = ()) -> list[Any]:
    """Run one read statement in autocommit (no BEGIN/ROLLBACK), with the library's exceptions."""
    try:
        with recorder.datastore.get_connection(commit=False) as conn, conn.cursor() as cur:
            cur.execute(sql, params)
            return list(cur.fetchall())
    except sqlite3.Error as e:
        translated = next((ours for theirs, ours in _SQLITE_ERRORS if isinstance(e, theirs)), PersistenceError)
        raise translated(e) from e


def head_and_event(
    recorder: ApplicationRecorder, originator_id: UUID | None, version: int = 1
) -> tuple[int, StoredRow | None]:
    """The log head, and (if ``originator_id``) one stored event: ONE statement, one round trip."""
    if isinstance(recorder, SQLiteApplicationRecorder):
        table = recorder.events_table_name
        if originator_id is None:
            return int(_sqlite_rows(recorder, f"SELECT MAX(rowid) FROM {table}")[0][0] or 0), None  # noqa: S608
        head, position, topic, state = _sqlite_rows(
            recorder,
            f"SELECT (SELECT MAX(rowid) FROM {table}), e.rowid, e.topic, e.state "  # noqa: S608
            f"FROM (SELECT 1) LEFT JOIN {table} e "
            "ON e.originator_id=? AND e.originator_version=?",
            (originator_id.hex, version),
        )[0]
        row = None if position is None else StoredRow(int(position), topic, bytes(state))
        return int(head or 0), row
    assert isinstance(recorder, PostgresApplicationRecorder)
    table = _pg_table(recorder)
    with recorder.datastore.get_connection() as conn, conn.cursor() as cur:
        if originator_id is None:
            cur.execute(f"SELECT MAX(notification_id) AS head FROM {table}", prepare=True)  # noqa: S608
            found = cur.fetchone()
            return int((found or {}).get("head") or 0), None
        cur.execute(
            f"SELECT (SELECT MAX(notification_id) FROM {table}) AS head, "  # noqa: S608
            "e.notification_id, e.topic, e.state "
            f"FROM (SELECT 1) AS one LEFT JOIN {table} e "
            "ON e.originator_id=%s AND e.originator_version=%s",
            (originator_id, version),
            prepare=True,
        )
        got = cur.fetchone()
        assert got is not None
        pg_row = None if got["notification_id"] is None else StoredRow(
            int(got["notification_id"]), got["topic"], bytes(got["state"])
        )
        return int(got["head"] or 0), pg_row


def originators_between(recorder: ApplicationRecorder, after: int, upto: int) -> dict[UUID, int]:
    """The aggregates with an event at a log position in ``(after, upto]``, each with the highest
    version stored there."""
    if isinstance(recorder, SQLiteApplicationRecorder):
        rows = _sqlite_rows(
            recorder,
            f"SELECT originator_id, MAX(originator_version) FROM {recorder.events_table_name} "  # noqa: S608
            "WHERE rowid > ? AND rowid <= ? GROUP BY originator_id",
            (after, upto),
        )
        return {UUID(r[0]): int(r[1]) for r in rows}
    assert isinstance(recorder, PostgresApplicationRecorder)
    with recorder.datastore.get_connection() as conn, conn.cursor() as cur:
        cur.execute(
            f"SELECT originator_id, MAX(originator_version) AS version FROM {_pg_table(recorder)} "  # noqa: S608
            "WHERE notification_id > %s AND notification_id <= %s GROUP BY originator_id",
            (after, upto),
            prepare=True,
        )
        return {r["originator_id"]: int(r["version"]) for r in cur.fetchall()}
