"""The registry's PostgreSQL application recorder: the library's, plus the serial index and the
journal in the same transaction (see :mod:`registry.infrastructure.recorders`), and group commit.

Appends of concurrent commands share one transaction (registry/infrastructure/group_commit.py):
written in one round trip, the journal's leaves made by the database (:meth:`_written_in_one`);
in two, the leaves made here, when that cannot be used (:meth:`_written_in_two`); and append by
append in savepoints when one of them fails (:meth:`_write_pipelined`), so it alone gets its error.
docs/performance.md ("PostgreSQL append path") has the measurements behind each.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple, cast
from uuid import UUID

import psycopg
from eventsourcing.persistence import (
    DatabaseError,
    DataError,
    IntegrityError,
    InterfaceError,
    InternalError,
    NotSupportedError,
    OperationalError,
    PersistenceError,
    ProgrammingError,
    StoredEvent,
)
from eventsourcing.postgres import (
    PostgresAggregateRecorder,
    PostgresApplicationRecorder,
    PostgresDatastore,
    PostgresFactory,
)
from eventsourcing.utils import retry
from psycopg import Cursor, Pipeline
from psycopg.rows import DictRow, tuple_row
from psycopg.sql import SQL, Identifier

from registry.infrastructure import breaker
from registry.infrastructure.group_commit import Append, GroupCommit
from registry.infrastructure.recorders import Claims, LogRow
from registry.journal.errors import JournalBroken
from registry.journal.tables import JournalTables


@contextlib.contextmanager
def one_creator_at_a_time(datastore: PostgresDatastore, table: str) -> Iterator[None]:
    """Hold a session advisory lock (on a connection of its own) while a recorder creates its
    tables: servers and workers starting together on one database otherwise fail on PostgreSQL's
    catalog races (``CREATE OR REPLACE FUNCTION`` at once: "tuple concurrently updated"; ``CREATE
    TYPE`` or ``CREATE TABLE IF NOT EXISTS`` at once on a fresh schema: a duplicate key in
    ``pg_type``)."""
    key = f"gpureg create tables {datastore.schema}.{table}"
    with datastore.get_connection() as conn:
        conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (key,), prepare=False)
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (key,), prepare=False)


class RegistryPostgresAggregateRecorder(PostgresAggregateRecorder):
    """The library's aggregate recorder (the snapshots' table), its tables created one process
    at a time like the application recorder's."""

    def create_table(self) -> None:
        with one_creator_at_a_time(self.datastore, self.events_table_name):
            super().create_table()


class RegistryPostgresFactory(PostgresFactory):
    """The library's PostgreSQL factory with the registry's aggregate recorder (the application
    recorder is named by ``APPLICATION_RECORDER_TOPIC``, :func:`~registry.infrastructure.store.
    event_store_env`)."""

    aggregate_recorder_class = RegistryPostgresAggregateRecorder


class RegistryPostgresRecorder(PostgresApplicationRecorder):
    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        # fail fast (UNAVAILABLE) while the database is down, not after the library's retries
        self.breaker = breaker.install(datastore)
        self.claims_table_name = events_table_name.replace("_events", "") + "_serial_claims"
        self.journal = JournalTables(
            "postgres", events_table=events_table_name, schema=datastore.schema,
            prefix=events_table_name.replace("_events", "") + "_",
        )
        self.refuse_writes: str | None = None
        self.sql_create_statements.extend(SQL(s).format() for s in self.journal.create_statements)
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {schema}.{table} "
                "(serial text PRIMARY KEY, batch_id uuid NOT NULL)"
            ).format(schema=Identifier(datastore.schema), table=Identifier(self.claims_table_name))
        )
        self._insert_claims = SQL("INSERT INTO {schema}.{table} (serial, batch_id) VALUES (%s, %s)").format(
            schema=Identifier(datastore.schema), table=Identifier(self.claims_table_name)
        )
        self._move_claims = SQL("UPDATE {schema}.{table} SET batch_id=%s WHERE serial=%s").format(
            schema=Identifier(datastore.schema), table=Identifier(self.claims_table_name)
        )
        self._select_claims = SQL("SELECT serial, batch_id FROM {schema}.{table} WHERE serial = ANY(%s)").format(
            schema=Identifier(datastore.schema), table=Identifier(self.claims_table_name)
        )
        self._insert_claims_unnest = SQL(
            "INSERT INTO {schema}.{table} (serial, batch_id) SELECT * FROM unnest(%s::text[], %s::uuid[])"
        ).format(schema=Identifier(datastore.schema), table=Identifier(self.claims_table_name))
        self._move_claims_unnest = SQL(
            "UPDATE {schema}.{table} AS c SET batch_id = m.batch_id "
            "FROM unnest(%s::text[], %s::uuid[]) AS m(serial, batch_id) WHERE c.serial = m.serial"
        ).format(schema=Identifier(datastore.schema), table=Identifier(self.claims_table_name))
        # Group commit (registry/infrastructure/group_commit.py): on by default; False gives the
        # library's one-transaction-per-append path (the benchmark's baseline).
        self.group_commit: GroupCommit | None = GroupCommit(self._write_group)
        # False: every group append by append in savepoints (the benchmark's side-by-side baseline)
        self.two_round_trips = True
        # True: the whole group in one round trip, the journal's leaves made by the database
        # (JournalTables' journal_extend function); False: the two-round-trip write, leaves made
        # here. Turned off for good when the function is missing (a store whose tables this
        # version did not create) and, for one group, when the store has no journal head yet.
        self.one_round_trip = True
        self.single_trip_groups = 0  # groups written in one round trip
        self.fast_groups = 0  # groups written in two round trips (for tests and the curious)
        self.separated_groups = 0  # groups written again append by append after a conflict
        self._lock_statements = [
            SQL("SET LOCAL lock_timeout = '{0}s'").format(datastore.lock_timeout),
            SQL("LOCK TABLE {0}.{1} IN EXCLUSIVE MODE").format(
                Identifier(datastore.schema), Identifier(events_table_name)),
        ]
        self._notify = SQL("NOTIFY {0}").format(Identifier(self.channel_name))
        # The group write's statements rendered once: psycopg renders a composed statement on
        # every execute (about 0.1 ms of a command's CPU at 16 clients, bench.statements).
        self._rendered_lock = [q.as_bytes(None) for q in self._lock_statements]
        # The group's arrays (events, claims, moves) are sent in binary (%b): psycopg dumps a text
        # array element by element, quoting and escaping each (a state's bytes as hex, twice: in
        # the composite, then in the array), and PostgreSQL parses it back; in binary the bytes go
        # as they are. Measured in one thread against PostgreSQL 15, client CPU per statement:
        # 3 events of ~600 bytes 0.17 -> 0.09-0.11 ms, 144 claims 0.35 -> 0.14-0.15 ms.
        self._rendered_claims = _binary(self._insert_claims_unnest.as_bytes(None))
        self._rendered_moves = _binary(self._move_claims_unnest.as_bytes(None))
        self._rendered_insert = _binary(self.insert_events_statement.as_bytes(None))
        self._rendered_notify = self._notify.as_bytes(None)
        self._rendered_head = self.journal.sql_head.encode()
        self._rendered_extend = self.journal.sql_extend.encode()

    def create_table(self) -> None:
        """The types, tables, indexes and the journal's function, one process at a time
        (:func:`one_creator_at_a_time`)."""
        with one_creator_at_a_time(self.datastore, self.events_table_name):
            super().create_table()
            # An empty store starts with an empty journal head: without one, the database
            # function refuses the first group, which is then written the two-round-trip way
            # (and its failed try has drawn, and skipped, the log's first positions).
            with self.datastore.transaction(commit=True) as curs:
                for statement in self._rendered_lock:
                    curs.execute(statement, prepare=False)
                curs.execute(self.journal.sql_empty_head.encode(), prepare=False)

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        if self.refuse_writes is not None:
            raise JournalBroken(self.refuse_writes)
        if self.group_commit is not None and stored_events:
            return self.group_commit.append(stored_events, kwargs)
        ids: Sequence[int] | None = super().insert_events(stored_events, **kwargs)
        return ids

    def _write_group(self, group: list[Append]) -> None:
        """One transaction for a group of appends: the table lock, then per append a savepoint,
        its claims, moves and events; one journal update, one NOTIFY, one COMMIT. Connection
        failures retry the whole group (nothing of it committed), as the library retries one append."""
        for attempt in range(5):
            for a in group:
                a.reset()
            try:
                self._write_group_once(group)
                return
            except (InterfaceError, OperationalError):
                if attempt == 4:
                    raise
                time.sleep(0.2)

    def _write_group_once(self, group: list[Append]) -> None:
        """One round trip, whatever the group's size (:meth:`_written_in_one`); two when that
        cannot be used (:meth:`_written_in_two`); only when one of its appends fails (a version or
        serial conflict: rare) is the group written again append by append, each in its own
        savepoint (:meth:`_write_pipelined`), so that append alone gets its error."""
        alone = len(group) == 1
        params = _GroupParams.of(group, self.construct_pg_stored_event)
        failed: BaseException | None = None
        with self.datastore.get_connection() as conn:
            # Nothing is prepared in this transaction: psycopg records a statement as prepared when
            # it queues it, and a pipeline segment that a conflict aborts never prepares it on the
            # server ("prepared statement _pg3_N does not exist" on its next use).
            threshold, conn.prepare_threshold = conn.prepare_threshold, None
            try:
                if self.two_round_trips and self.one_round_trip and self._written_in_one(conn, group, params):
                    return
                if not (self.two_round_trips and self._written_in_two(conn, group, params, alone)):
                    for a in group:
                        a.reset()
                    self.separated_groups += 1
                    self._write_pipelined(conn, group)
            except Exception as e:
                failed = e
            finally:
                conn.prepare_threshold = threshold
            if failed is not None:
                raise failed

    def _written_in_one(self, conn: Any, group: list[Append], params: _GroupParams) -> bool:
        """The group in ONE round trip: BEGIN, the lock, the claims, moves and events (one
        statement each), the journal's leaves and head (made in the database), NOTIFY and COMMIT,
        all queued in one pipeline and sent with one Sync. The table lock is held from the LOCK
        to the COMMIT's WAL flush inside PostgreSQL only: no client round trip and no Python
        (waiting for the GIL and a core on a busy server) in between, where the two-round-trip
        write held it across both trips and the leaves' hashing.

        False, with nothing written, when a statement failed: a version or serial conflict (the
        caller writes the group again the slower ways, which give each append its own error) or a
        store the database function cannot extend (no journal head yet, or no function)."""
        curs = conn.cursor()
        inserted = conn.cursor()
        try:
            with conn.pipeline() as pipe:
                curs.execute(b"BEGIN")
                for statement in self._rendered_lock:
                    curs.execute(statement)
                self._queue_group(curs, inserted, params)
                curs.execute(self._rendered_extend)
                curs.execute(self._rendered_notify)
                curs.execute(b"COMMIT")
                pipe.sync()  # the one round trip
        except psycopg.Error as e:
            # The failed statement left the transaction aborted (the COMMIT was skipped): end it
            # here, not in the pool (which would warn); a broken connection is the pool's.
            with contextlib.suppress(psycopg.Error):
                conn.rollback()
            if isinstance(e, psycopg.OperationalError | psycopg.InterfaceError):
                raise  # the connection or the server: the whole group is retried (_write_group)
            if isinstance(e, psycopg.errors.UndefinedFunction):
                self.one_round_trip = False
            return False
        _hand_out(group, inserted)
        self.single_trip_groups += 1
        return True

    def _queue_group(self, curs: Any, inserted: Any, params: _GroupParams) -> None:
        """The group's claims, moves and events, one statement each (``inserted`` gets the
        events' positions)."""
        if params.claims is not None:
            curs.execute(self._rendered_claims, params.claims)
        if params.moves is not None:
            curs.execute(self._rendered_moves, params.moves)
        inserted.execute(self._rendered_insert, params.events)

    def _written_in_two(self, conn: Any, group: list[Append], params: _GroupParams, alone: bool) -> bool:
        """:meth:`_write_in_two`; False when a statement failed and the group (of several) is to
        be written again append by append. A lone append's failure is its own, and is raised."""
        try:
            self._write_in_two(conn, group, params)
        except (psycopg.OperationalError, psycopg.InterfaceError):
            raise
        except psycopg.Error:
            if alone:
                raise
            return False
        self.fast_groups += 1
        return True

    def _write_in_two(self, conn: Any, group: list[Append], params: _GroupParams) -> None:
        """The group in two round trips: (1) BEGIN, the lock, the group's claims, moves and
        events (one statement each, whatever the group's size) and the journal's head; (2) the
        leaves, the new head, NOTIFY and COMMIT. Any failing statement aborts the whole
        transaction (nothing of the group is written) and is raised here.

        Everything Python has to build is built before the lock is asked for: measured in the
        server at 16 clients, the leader thread spent 1 ms of CPU but 6 ms of wall time queueing
        one statement set per append after the lock (waiting for the GIL and a core while holding
        the table lock), out of a 13.6 ms hold."""
        with conn.pipeline() as pipe, conn.transaction():
            curs = conn.cursor()
            for statement in self._rendered_lock:
                curs.execute(statement)
            inserted = conn.cursor()
            self._queue_group(curs, inserted, params)
            head = conn.cursor()
            head.execute(self._rendered_head)
            pipe.sync()  # round trip 1: a conflict in any append is raised here
            positions = _hand_out(group, inserted)
            self.journal.append_after_head(curs, head.fetchone(), positions, params.stored_events)
            curs.execute(self._rendered_notify)
        # leaving the transaction queued COMMIT; leaving the pipeline was round trip 2

    def _write_pipelined(self, conn: Any, group: list[Append]) -> None:
        """The group again, each append between a SAVEPOINT and its release: k + 2 round trips
        under the lock for k appends, and a failing append rolls back alone with its own error."""
        failed: BaseException | None = None
        with conn.pipeline() as pipe, conn.transaction(), conn.cursor() as curs:
            try:
                for statement in self._lock_statements:
                    curs.execute(statement)
                ids: list[int] = []
                events: list[StoredEvent] = []
                for a in group:
                    curs.execute("SAVEPOINT gc")
                    try:
                        a.ids = self._append_one(curs, a, pipe)
                    except (psycopg.OperationalError, psycopg.InterfaceError):
                        raise
                    except psycopg.Error as e:
                        # The conflict may surface before this append's sync was sent (psycopg
                        # reads results while it sends): the segment is then still aborted, and
                        # would abort the rollback too. Close it first; what it still holds are
                        # this append's skipped statements.
                        with contextlib.suppress(psycopg.Error):
                            pipe.sync()
                        curs.execute("ROLLBACK TO SAVEPOINT gc")
                        a.error = _persistence_error(e)
                        continue
                    curs.execute("RELEASE SAVEPOINT gc")
                    ids.extend(a.ids)
                    events.extend(a.stored_events)
                if ids:
                    self.journal.append(curs, ids, events)
                    curs.execute(self._notify)
            except Exception as e:  # raised once the pipeline has closed (as the library does)
                failed = e
        if failed is not None:
            raise failed

    def _append_one(self, curs: Cursor[DictRow], a: Append, pipe: Pipeline) -> list[int]:
        # Claims and moves as one statement each (not one per serial).
        claims: Claims = a.kwargs.get("serial_claims", ())
        if claims:
            curs.execute(self._insert_claims_unnest, ([s for s, _ in claims], [b for _, b in claims]))
        moves: Claims = a.kwargs.get("serial_moves", ())
        if moves:
            curs.execute(self._move_claims_unnest, ([s for s, _ in moves], [b for _, b in moves]))
        pg_events = [
            self.construct_pg_stored_event(e.originator_id, e.originator_version, e.topic, e.state)
            for e in a.stored_events
        ]
        curs.execute(self.insert_events_statement, (pg_events,))
        pipe.sync()  # this append's error (a conflict) is raised here, for its savepoint alone
        return [row["notification_id"] for row in curs.fetchall()]

    def _fetch_ids_after_insert_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """The events have their positions (under the table lock): add their leaves."""
        ids: Sequence[int] | None = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        if ids:
            self.journal.append(curs, ids, stored_events)
        return ids

    def _insert_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        """Runs first in the library's insert transaction (its own cursor, same pipeline)."""
        super()._insert_events(curs, stored_events, **kwargs)
        claims: Claims = kwargs.get("serial_claims", ())
        if claims:
            curs.executemany(self._insert_claims, list(claims))
        moves: Claims = kwargs.get("serial_moves", ())
        if moves:
            curs.executemany(self._move_claims, [(b, s) for s, b in moves])

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def select_log_rows(
        self, after: int, limit: int, topics: Sequence[str] = (), skip_topics: Sequence[str] = (),
        originator_id: UUID | None = None,
    ) -> list[LogRow]:
        """As :meth:`RegistrySQLiteRecorder.select_log_rows`: the rows as tuples, without a
        Notification (nor a dict) per row; binary, with the originator id as text (no UUID object
        per row: the renderer keeps each id's text)."""
        statement = SQL(
            "SELECT notification_id, originator_id::text, originator_version, topic, state FROM {schema}.{table} "
            "WHERE notification_id>%s"
        ).format(schema=Identifier(self.datastore.schema), table=Identifier(self.events_table_name))
        params: list[Any] = [after]
        if topics:
            statement += SQL(" AND topic = ANY(%s)")
            params.append(list(topics))
        if skip_topics:
            statement += SQL(" AND topic <> ALL(%s)")
            params.append(list(skip_topics))
        if originator_id is not None:
            statement += SQL(" AND originator_id = %s")
            params.append(originator_id)
        statement += SQL(" ORDER BY notification_id LIMIT %s")
        params.append(limit)
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row, binary=True) as curs:
            curs.execute(statement, params, prepare=True)
            return cast(list[LogRow], curs.fetchall())

    def claimed(self, serials: Sequence[str]) -> dict[str, UUID]:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._select_claims, (list(serials),))
            return {row["serial"]: row["batch_id"] for row in curs.fetchall()}


_ERRORS: tuple[tuple[type[psycopg.Error], type[PersistenceError]], ...] = (
    (psycopg.IntegrityError, IntegrityError),
    (psycopg.DataError, DataError),
    (psycopg.InternalError, InternalError),
    (psycopg.ProgrammingError, ProgrammingError),
    (psycopg.NotSupportedError, NotSupportedError),
    (psycopg.DatabaseError, DatabaseError),
)


def _persistence_error(e: psycopg.Error) -> PersistenceError:
    """The library's exception for a driver error, as its datastore translates them."""
    for driver, ours in _ERRORS:
        if isinstance(e, driver):
            return ours(str(e))
    return PersistenceError(str(e))


class _GroupParams(NamedTuple):
    """A group's statement parameters, built once (before the table lock is asked for) for
    whichever way the group is written."""

    claims: tuple[list[str], list[UUID]] | None  # (serials, batch ids), None when there are none
    moves: tuple[list[str], list[UUID]] | None
    events: tuple[list[Any]]  # the stored events as the insert statement's one array
    stored_events: list[StoredEvent]

    @classmethod
    def of(cls, group: list[Append], construct: Any) -> _GroupParams:
        claims: Claims = [c for a in group for c in a.kwargs.get("serial_claims", ())]
        moves: Claims = [m for a in group for m in a.kwargs.get("serial_moves", ())]
        stored = [e for a in group for e in a.stored_events]
        return cls(
            claims=([s for s, _ in claims], [b for _, b in claims]) if claims else None,
            moves=([s for s, _ in moves], [b for _, b in moves]) if moves else None,
            events=([construct(e.originator_id, e.originator_version, e.topic, e.state) for e in stored],),
            stored_events=stored,
        )


def _binary(statement: bytes) -> bytes:
    """``statement`` with every parameter sent in binary format (psycopg's ``%b``)."""
    assert statement.count(b"%s") >= 1 and b"%%" not in statement
    return statement.replace(b"%s", b"%b")


def _hand_out(group: list[Append], inserted: Any) -> list[int]:
    """The positions ``INSERT … RETURNING`` gave, each append its own: RETURNING gives them in the
    order of the unnest()ed array, as the library's own multi-event insert relies on."""
    positions = [row["notification_id"] for row in inserted.fetchall()]
    taken = 0
    for a in group:
        a.ids = positions[taken: taken + len(a.stored_events)]
        taken += len(a.stored_events)
    return positions
