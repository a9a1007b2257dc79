"""The journal's tables, on SQLite and PostgreSQL, and the in-transaction append.

``journal_leaves``   one row per event: leaf index (0, 1, ...), the event's position (notification
                     id) and its leaf hash. Positions may have gaps (a PostgreSQL sequence skips the
                     ids of rolled-back inserts); leaf indexes never do.
``journal_head``     one row: the tree size, its frontier (the perfect subtrees' hashes, largest
                     first, concatenated) and its root hash: what the next insert extends.
``journal_checkpoints``   signed checkpoints (C2SP signed notes), by tree size.
``journal_cosignatures``  witnesses' cosignature lines, by tree size and witness key name.

:meth:`JournalTables.append` runs inside the recorder's insert transaction, after the events got
their positions and before the commit, so an event and its leaf commit or roll back together.
Writers are serialised by the store (SQLite's single writer; the library's EXCLUSIVE lock on the
events table on PostgreSQL), so the head row read here is the one this insert extends.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from registry.journal.leaf import event_leaf_hash
from registry.journal.merkle import Frontier

PAGE = 5000
BEFORE_ALL = -(2**63)  # a position before any (SQLite rowids may be 0 or negative)


class EventRow(NamedTuple):
    position: int
    originator_id: bytes
    version: int
    topic: str
    state: bytes
    leaf: bytes | None = None  # its leaf hash, when already computed (by verify's reader thread)


def _as_bytes(value: object) -> bytes:
    """A state SQLite hands back as another type (its columns are dynamically typed: a tampered
    row may hold TEXT): its bytes, so the leaf check fails on it rather than the reader."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    return str(value).encode("utf-8", "surrogatepass")


def _id16(value: UUID | str) -> bytes:
    if isinstance(value, UUID):
        return value.bytes
    return bytes.fromhex(value) if len(value) == 32 else UUID(value).bytes


def _pg_extend_function(fn: str, events: str, leaves: str, head: str) -> str:
    """PL/pgSQL that does in the database what :meth:`JournalTables.append_after_head` does in
    Python: a leaf for every event after the last leaf's position (the events this transaction
    inserted: the caller holds the events table's EXCLUSIVE lock, and every committed event has its
    leaf), then the new frontier and root. It raises when the store has no head yet (a store from
    before the journal: the Python path backfills it) so that nothing commits without its leaves.

    Why in the database: the PostgreSQL group write can then queue its lock, inserts, this call,
    NOTIFY and COMMIT in one pipeline, one round trip, and the table lock is held only while the
    database works, not while a server thread waits for the GIL between round trips. The bytes are
    those of registry/journal/leaf.py and merkle.py (tests compare them with the Python code)."""
    return f"""CREATE OR REPLACE FUNCTION {fn}() RETURNS bigint LANGUAGE plpgsql AS $fn$
DECLARE
    n bigint;
    blob bytea;
    last_position bigint := -9223372036854775808;
    hashes bytea[];
    added bytea[];
    node bytea;
    k bigint;
    r bytea;
    top int;
    i int;
BEGIN
    SELECT size, frontier INTO n, blob FROM {head} WHERE id = 1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'journal head missing' USING ERRCODE = 'no_data_found';
    END IF;
    IF n > 0 THEN
        SELECT position INTO STRICT last_position FROM {leaves} WHERE leaf_index = n - 1;
    END IF;
    -- every new event's leaf in one statement, numbered in position order
    WITH inserted AS (
        INSERT INTO {leaves} (leaf_index, position, leaf_hash)
        SELECT n - 1 + row_number() OVER (ORDER BY e.notification_id), e.notification_id,
               sha256('\\x0001'::bytea || int8send(e.notification_id) || uuid_send(e.originator_id::uuid)
                      || int8send(e.originator_version::bigint) || int4send(length(t.b)) || t.b
                      || int4send(length(e.state)) || e.state)
        FROM {events} AS e CROSS JOIN LATERAL (SELECT convert_to(e.topic, 'UTF8') AS b) AS t
        WHERE e.notification_id > last_position
        RETURNING leaf_index, leaf_hash)
    SELECT array_agg(leaf_hash ORDER BY leaf_index) INTO added FROM inserted;
    IF added IS NULL THEN
        RETURN n;
    END IF;
    -- the frontier, a stack of perfect subtrees' hashes (hashes[1 .. top]), extended leaf by leaf
    hashes := ARRAY(SELECT substring(blob FROM 1 + 32 * g FOR 32)
                    FROM generate_series(0, length(blob) / 32 - 1) AS g ORDER BY g);
    top := cardinality(hashes);
    FOREACH node IN ARRAY added LOOP
        k := n;
        WHILE k & 1 = 1 LOOP
            node := sha256('\\x01'::bytea || hashes[top] || node);
            top := top - 1;
            k := k >> 1;
        END LOOP;
        top := top + 1;
        hashes[top] := node;
        n := n + 1;
    END LOOP;
    blob := ''::bytea;
    FOR i IN 1 .. top LOOP
        blob := blob || hashes[i];
    END LOOP;
    r := hashes[top];
    FOR i IN REVERSE top - 1 .. 1 LOOP
        r := sha256('\\x01'::bytea || hashes[i] || r);
    END LOOP;
    UPDATE {head} SET size = n, frontier = blob, root = r WHERE id = 1;
    RETURN n;
END
$fn$"""  # noqa: S608


class JournalTables:
    """SQL for one store. ``dialect`` is ``sqlite`` or ``postgres``; ``prefix`` qualifies names."""

    def __init__(self, dialect: str, *, events_table: str, schema: str | None = None, prefix: str = "") -> None:
        self.dialect = dialect
        q = (lambda n: f'"{schema}"."{n}"') if schema else (lambda n: n)
        self.events = q(events_table)
        self.leaves = q(prefix + "journal_leaves")
        self.head = q(prefix + "journal_head")
        self.checkpoints = q(prefix + "journal_checkpoints")
        self.cosignatures = q(prefix + "journal_cosignatures")
        self.p = "?" if dialect == "sqlite" else "%s"
        self.pos = "rowid" if dialect == "sqlite" else "notification_id"
        blob = "BLOB" if dialect == "sqlite" else "bytea"
        integer = "INTEGER" if dialect == "sqlite" else "bigint"
        self.create_statements = [
            f"CREATE TABLE IF NOT EXISTS {self.leaves} (leaf_index {integer} PRIMARY KEY, "
            f"position {integer} NOT NULL, leaf_hash {blob} NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {self.head} (id {integer} PRIMARY KEY CHECK (id = 1), "
            f"size {integer} NOT NULL, frontier {blob} NOT NULL, root {blob} NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {self.checkpoints} (size {integer} PRIMARY KEY, "
            f"root {blob} NOT NULL, note TEXT NOT NULL, key_id TEXT NOT NULL, created_at TEXT NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {self.cosignatures} (size {integer} NOT NULL, "
            f"witness TEXT NOT NULL, line TEXT NOT NULL, created_at TEXT NOT NULL, PRIMARY KEY (size, witness))",
        ]
        p = self.p
        self.sql_head = f"SELECT size, frontier, root FROM {self.head} WHERE id = 1"  # noqa: S608
        self.sql_insert_leaves = (
            f"INSERT INTO {self.leaves} (leaf_index, position, leaf_hash) VALUES ({p}, {p}, {p})"  # noqa: S608
        )
        self.sql_update_head = f"UPDATE {self.head} SET size = {p}, frontier = {p}, root = {p} WHERE id = 1"  # noqa: S608
        self.sql_insert_head = (
            f"INSERT INTO {self.head} (id, size, frontier, root) VALUES (1, {p}, {p}, {p})"  # noqa: S608
        )
        if dialect == "postgres":
            fn = q(prefix + "journal_extend")
            self.create_statements.append(_pg_extend_function(fn, self.events, self.leaves, self.head))
            self.sql_extend = f"SELECT {fn}()"
            # an empty store's empty tree, so that its first write goes in one round trip too
            # (the caller holds the events table's lock: "empty" stays true until it commits)
            self.sql_empty_head = (
                f"INSERT INTO {self.head} (id, size, frontier, root) "  # noqa: S608
                f"SELECT 1, 0, ''::bytea, sha256(''::bytea) WHERE NOT EXISTS (SELECT 1 FROM {self.events}) "
                "ON CONFLICT (id) DO NOTHING"
            )

    # --- the insert hook ------------------------------------------------------------------------

    def append(self, cur: Any, ids: Sequence[int], stored_events: Sequence[StoredEvent]) -> None:
        """Add one leaf per newly inserted event and move the head, in the caller's transaction."""
        if not stored_events:
            return
        cur.execute(self.sql_head)
        self.append_after_head(cur, cur.fetchone(), ids, stored_events)

    def append_after_head(
        self, cur: Any, row: Any, ids: Sequence[int], stored_events: Sequence[StoredEvent]
    ) -> None:
        """:meth:`append` with the head row (``sql_head``'s answer) already read in this
        transaction: the PostgreSQL group write reads it in the same round trip as its inserts."""
        if not stored_events:
            return
        first = min(ids)
        if row is None:  # a store from before the journal: its events become leaves first
            frontier = self._backfill_in(cur, below=first)
        else:
            frontier = Frontier.from_bytes(int(row[0] if self.dialect == "sqlite" else row["size"]),
                                           bytes(row[1] if self.dialect == "sqlite" else row["frontier"]))
        rows = []
        index = frontier.size
        for nid, e in sorted(zip(ids, stored_events, strict=True), key=lambda pair: pair[0]):
            h = event_leaf_hash(nid, _id16(e.originator_id), e.originator_version, e.topic, e.state)
            frontier.append(h)
            rows.append((index, nid, h))
            index += 1
        cur.executemany(self.sql_insert_leaves, rows)
        cur.execute(self.sql_update_head, (frontier.size, frontier.to_bytes(), frontier.root()))

    def _backfill_in(self, cur: Any, below: int | None) -> Frontier:
        """Leaves for every event below position ``below`` (all if None), and the head row."""
        frontier = Frontier()
        after = BEFORE_ALL
        while True:
            page = self.read_events(cur, after, PAGE, below=below)
            if not page:
                break
            rows = []
            for e in page:
                h = event_leaf_hash(e.position, e.originator_id, e.version, e.topic, e.state)
                rows.append((frontier.size, e.position, h))
                frontier.append(h)
            cur.executemany(self.sql_insert_leaves, rows)
            after = page[-1].position
        cur.execute(self.sql_insert_head, (frontier.size, frontier.to_bytes(), frontier.root()))
        return frontier

    # --- reads ----------------------------------------------------------------------------------

    def read_events(self, cur: Any, after: int, limit: int, below: int | None = None) -> list[EventRow]:
        p = self.p
        sql = (f"SELECT {self.pos} AS pos, originator_id, originator_version, topic, state "  # noqa: S608
               f"FROM {self.events} WHERE {self.pos} > {p}")
        params: list[int] = [after]
        if below is not None:
            sql += f" AND {self.pos} < {p}"
            params.append(below)
        sql += f" ORDER BY {self.pos} LIMIT {p}"
        params.append(limit)
        if self.dialect == "sqlite":
            raw = cur.sqlite_cursor  # plain tuples, not the pool's sqlite3.Row: a third faster
            raw.row_factory = None
            raw.execute(sql, params)
            rows = raw.fetchall()
        else:
            cur.execute(sql, params)
            rows = cur.fetchall()
        if self.dialect == "sqlite":
            fromhex = bytes.fromhex
            return [EventRow(r[0], fromhex(r[1]) if len(r[1]) == 32 else _id16(r[1]), r[2], r[3],
                             r[4] if type(r[4]) is bytes else _as_bytes(r[4]))
                    for r in rows]
        return [EventRow(r["pos"], _id16(r["originator_id"]), r["originator_version"], r["topic"],
                         bytes(r["state"])) for r in rows]

    def read_leaves(self, cur: Any, from_index: int, limit: int) -> list[tuple[int, int, bytes]]:
        p = self.p
        cur.execute(
            f"SELECT leaf_index, position, leaf_hash FROM {self.leaves} "  # noqa: S608
            f"WHERE leaf_index >= {p} ORDER BY leaf_index LIMIT {p}", (from_index, limit),
        )
        rows = cur.fetchall()
        if self.dialect == "sqlite":
            return [(r[0], r[1], bytes(r[2])) for r in rows]
        return [(r["leaf_index"], r["position"], bytes(r["leaf_hash"])) for r in rows]

    def iter_leaves(self, cur: Any, from_index: int = 0) -> Iterator[tuple[int, int, bytes]]:
        while True:
            page = self.read_leaves(cur, from_index, PAGE * 4)
            yield from page
            if len(page) < PAGE * 4:
                return
            from_index = page[-1][0] + 1

    def iter_events(self, cur: Any, after: int = BEFORE_ALL) -> Iterator[EventRow]:
        while True:
            page = self.read_events(cur, after, PAGE)
            yield from page
            if len(page) < PAGE:
                return
            after = page[-1].position

    def read_head(self, cur: Any) -> Frontier | None:
        cur.execute(self.sql_head)
        row = cur.fetchone()
        if row is None:
            return None
        if self.dialect == "sqlite":
            return Frontier.from_bytes(int(row[0]), bytes(row[1]))
        return Frontier.from_bytes(int(row["size"]), bytes(row["frontier"]))

    def read_checkpoints(self, cur: Any) -> list[tuple[int, bytes, str]]:
        cur.execute(f"SELECT size, root, note FROM {self.checkpoints} ORDER BY size")  # noqa: S608
        rows = cur.fetchall()
        if self.dialect == "sqlite":
            return [(r[0], bytes(r[1]), r[2]) for r in rows]
        return [(r["size"], bytes(r["root"]), r["note"]) for r in rows]

    def read_cosignatures(self, cur: Any, size: int) -> list[str]:
        cur.execute(f"SELECT line FROM {self.cosignatures} WHERE size = {self.p} ORDER BY witness",  # noqa: S608
                    (size,))
        return [r[0] if self.dialect == "sqlite" else r["line"] for r in cur.fetchall()]

    def insert_checkpoint(self, cur: Any, size: int, root: bytes, note: str, key_id: str, created_at: str) -> None:
        p = self.p
        cur.execute(
            f"INSERT INTO {self.checkpoints} (size, root, note, key_id, created_at) "  # noqa: S608
            f"VALUES ({p}, {p}, {p}, {p}, {p}) ON CONFLICT (size) DO NOTHING",
            (size, root, note, key_id, created_at),
        )

    def insert_cosignature(self, cur: Any, size: int, witness: str, line: str, created_at: str) -> None:
        p = self.p
        cur.execute(
            f"INSERT INTO {self.cosignatures} (size, witness, line, created_at) "  # noqa: S608
            f"VALUES ({p}, {p}, {p}, {p}) ON CONFLICT (size, witness) DO UPDATE SET line = excluded.line, "
            "created_at = excluded.created_at",
            (size, witness, line, created_at),
        )
