"""Where the EPCIS REST binding keeps named queries and webhook subscriptions: two tables in the
event store's own database (the SQLite file, or the PostgreSQL schema of ``database_url``), so a
query or subscription acknowledged with ``201`` survives a restart and every server process on
that database serves it.

* ``epcis_named_queries``: one row per (owner, name); the definition as JSON.
* ``epcis_subscriptions``: one row per subscription: its owner, query name and definition (as it
  was when subscribing), ``dest``, the signature token, the subscriber's reach (``party``: the
  party a partner's or site operator's reach is confined to; NULL for a role that sees every
  batch), and its delivery progress (``position``, the log position delivered up to;
  ``checked``, the last second a schedule was run for; ``since``, initialRecordTime until the
  first delivery), written after each delivery the destination acknowledged.
* A **lease** (``lease_holder``, ``lease_until``) in the subscription's row: a process delivers a
  subscription only while it holds the lease, taken by one conditional ``UPDATE`` (free, expired
  or already its own), renewed each round and released when the process stops. So with several
  processes on one database one delivers each subscription at a time; another takes it over
  after :data:`LEASE_SECONDS` if the holder dies.

The signature token is the HMAC key each delivery is signed with, so it must stay usable, and is
stored only encrypted: with the key (``Settings.epcis_secret_key``), AES-256-GCM with the
subscription's id as associated data (``aesgcm:`` and base64 of nonce and ciphertext). A server
without the key refuses a subscription that carries a ``signatureToken`` (``signatureToken``, rule
sealed-at-rest), so none is stored readable; a token stored as given by an earlier version
(``plain:``) is sealed when a process with the key opens the store, and until then a keyless one
says at start how many there are (never which). No route answers a token and nothing logs it.

These tables are state, not derived data (unlike the read models): they are not rebuilt from the
log, so they live beside the events, not in the read-model database.
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    create_engine,
    delete,
    exc,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.pool import StaticPool

from registry.infrastructure.store import begin_explicitly, ensure_postgres_schema, sqlalchemy_url

#: How long a process's claim on a subscription lasts without renewal (rounds renew it).
LEASE_SECONDS = 30.0

METADATA = MetaData()

QUERIES = Table(
    "epcis_named_queries",
    METADATA,
    Column("owner", String(128), primary_key=True),
    Column("name", String(200), primary_key=True),
    Column("params", Text, nullable=False),
    Column("created_at", String(40), nullable=False),
)

SUBSCRIPTIONS = Table(
    "epcis_subscriptions",
    METADATA,
    Column("id", String(36), primary_key=True),
    Column("owner", String(128), nullable=False, index=True),
    Column("query_name", String(200), nullable=False),
    Column("params", Text, nullable=False),
    Column("dest", Text, nullable=False),
    Column("secret", Text, nullable=False),
    Column("party", String(36), nullable=True),
    Column("created_at", String(40), nullable=False),
    Column("position", BigInteger, nullable=False),
    Column("since", String(40), nullable=True),
    Column("last_notified_at", String(40), nullable=True),
    Column("failures", Integer, nullable=False, default=0),
    Column("schedule", Text, nullable=True),
    Column("report_if_empty", Boolean, nullable=False, default=False),
    Column("checked", BigInteger, nullable=False, default=0),
    Column("lease_holder", String(64), nullable=True),
    Column("lease_until", BigInteger, nullable=False, default=0),  # epoch milliseconds
)


@dataclass
class SubscriptionRow:
    """One stored subscription (the secret included: only the delivery reads it)."""

    id: str
    owner: str
    query_name: str
    params: dict[str, str]
    dest: str
    secret: str
    party: str | None
    created_at: str
    position: int
    since: str | None
    last_notified_at: str | None
    failures: int
    schedule: dict[str, list[int]] | None
    report_if_empty: bool
    checked: int


def _row(r: Any) -> SubscriptionRow:
    return SubscriptionRow(
        r.id, r.owner, r.query_name, json.loads(r.params), r.dest, r.secret, r.party, r.created_at,
        int(r.position), r.since, r.last_notified_at, int(r.failures or 0),
        json.loads(r.schedule) if r.schedule else None, bool(r.report_if_empty), int(r.checked or 0))


_SEALED = "aesgcm:"
_PLAIN = "plain:"


class SecretBox:
    """Seals and opens signature tokens with one AES-256-GCM key."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("the EPCIS secret key is 32 bytes (64 hex digits)")
        self._aead = AESGCM(key)

    @classmethod
    def from_file(cls, path: str) -> SecretBox:
        """A key file of 64 hex digits (``openssl rand -hex 32``)."""
        with open(path, encoding="ascii") as f:
            text = f.read().strip()
        try:
            return cls(bytes.fromhex(text))
        except ValueError:
            raise ValueError(f"{path}: the EPCIS secret key is 64 hex digits (openssl rand -hex 32)") from None

    def seal(self, secret: str, subscription_id: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, secret.encode(), subscription_id.encode())
        return _SEALED + base64.b64encode(nonce + sealed).decode()

    def open(self, stored: str, subscription_id: str) -> str:
        raw = base64.b64decode(stored[len(_SEALED):])
        return self._aead.decrypt(raw[:12], raw[12:], subscription_id.encode()).decode()


class SecretUnavailable(Exception):
    """A sealed token this process has no (or another) key for: its subscription is not delivered."""


def _millis() -> int:
    return int(time.time() * 1000)


class Duplicate(Exception):
    """A row with that key exists already."""


class SubscriptionStore:
    """The two tables on one engine; every method is one short transaction."""

    def __init__(self, engine: Engine, box: SecretBox | None = None) -> None:
        self.engine = engine
        self._box = box
        for attempt in range(3):  # processes starting together may race to create the tables
            try:
                METADATA.create_all(engine, checkfirst=True)
                break
            except exc.DBAPIError:
                if attempt == 2:
                    raise
                time.sleep(0.2)

    @property
    def seals(self) -> bool:
        """Whether this store has the key that seals signature tokens (else it takes none)."""
        return self._box is not None

    def seal_plain_tokens(self) -> int:
        """Seal every token an earlier version stored as given (with this store's key); how many.
        Without the key: how many there are, none changed."""
        with self._tx(write=self._box is not None) as conn:
            rows = conn.execute(select(SUBSCRIPTIONS.c.id, SUBSCRIPTIONS.c.secret).where(and_(
                SUBSCRIPTIONS.c.secret != "", SUBSCRIPTIONS.c.secret.not_like(f"{_SEALED}%")))).all()
            if self._box is not None:
                for r in rows:
                    conn.execute(update(SUBSCRIPTIONS).where(and_(
                        SUBSCRIPTIONS.c.id == r.id, SUBSCRIPTIONS.c.secret == r.secret)).values(
                        secret=self._box.seal(r.secret.removeprefix(_PLAIN), r.id)))
        return len(rows)

    @classmethod
    def open(cls, database_url: str, secret_key: str | None = None) -> SubscriptionStore:
        """The store in the event store's database (``Settings.database_url``); an in-memory
        SQLite store gets a private in-memory database (it ends with the process, as the events).
        ``secret_key``: the file of the key that seals signature tokens (None: stored as given)."""
        box = SecretBox.from_file(secret_key) if secret_key else None
        sa_url, options = sqlalchemy_url(database_url)
        if sa_url.startswith("sqlite"):
            path = sa_url.split("///", 1)[1].split("?", 1)[0] if "///" in sa_url else ""
            if path in ("", ":memory:"):
                engine = create_engine("sqlite://", poolclass=StaticPool,
                                       connect_args={"check_same_thread": False})
            else:
                engine = create_engine(f"sqlite:///{path}",
                                       connect_args={"timeout": 30, "check_same_thread": False})
                begin_explicitly(engine)
            return cls(engine, box)
        ensure_postgres_schema(database_url)
        return cls(create_engine(sa_url, pool_pre_ping=True, pool_size=2, max_overflow=2, **options), box)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _tx(self, write: bool = True) -> Iterator[Connection]:
        """One transaction; on SQLite a writer's is ``BEGIN IMMEDIATE`` (no lock upgrade to fail
        half-way), a reader's a plain ``BEGIN`` (the event store's writers are not kept waiting)."""
        with self.engine.connect().execution_options(gpureg_write=write) as conn, conn.begin():
            yield conn

    # ---------------------------------------------------------------------------- queries
    def add_query(self, owner: str, name: str, params: dict[str, str], created_at: str, limit: int) -> bool:
        """Add a query; False when the owner has ``limit`` already; :class:`Duplicate` for a name
        it has."""
        try:
            with self._tx() as conn:
                count = conn.execute(select(func.count()).select_from(QUERIES).where(QUERIES.c.owner == owner))
                if int(count.scalar_one()) >= limit:
                    return False
                conn.execute(insert(QUERIES).values(owner=owner, name=name, params=json.dumps(params),
                                                    created_at=created_at))
        except exc.IntegrityError:
            raise Duplicate(name) from None
        return True

    def query(self, owner: str, name: str) -> dict[str, str] | None:
        with self._tx(write=False) as conn:
            found = conn.execute(select(QUERIES.c.params).where(
                and_(QUERIES.c.owner == owner, QUERIES.c.name == name))).scalar_one_or_none()
        return None if found is None else dict(json.loads(found))

    def queries(self, owner: str) -> list[tuple[str, dict[str, str]]]:
        with self._tx(write=False) as conn:
            rows = conn.execute(select(QUERIES.c.name, QUERIES.c.params).where(QUERIES.c.owner == owner)
                                .order_by(QUERIES.c.name)).all()
        return [(r.name, dict(json.loads(r.params))) for r in rows]

    def delete_query(self, owner: str, name: str) -> bool:
        """The query and its subscriptions; False when there was none."""
        with self._tx() as conn:
            gone = conn.execute(delete(QUERIES).where(and_(QUERIES.c.owner == owner, QUERIES.c.name == name)))
            conn.execute(delete(SUBSCRIPTIONS).where(
                and_(SUBSCRIPTIONS.c.owner == owner, SUBSCRIPTIONS.c.query_name == name)))
        return bool(gone.rowcount)

    # ---------------------------------------------------------------------- subscriptions
    def add_subscription(self, row: SubscriptionRow, limit: int) -> bool:
        """Add a subscription (its query must still exist); False when the owner has ``limit``
        already or the query is gone."""
        with self._tx() as conn:
            count = conn.execute(select(func.count()).select_from(SUBSCRIPTIONS)
                                 .where(SUBSCRIPTIONS.c.owner == row.owner)).scalar_one()
            exists = conn.execute(select(QUERIES.c.name).where(
                and_(QUERIES.c.owner == row.owner, QUERIES.c.name == row.query_name))).first()
            if int(count) >= limit or exists is None:
                return False
            conn.execute(insert(SUBSCRIPTIONS).values(
                id=row.id, owner=row.owner, query_name=row.query_name, params=json.dumps(row.params),
                dest=row.dest, secret=self._seal(row.secret, row.id), party=row.party, created_at=row.created_at,
                position=row.position, since=row.since, last_notified_at=None, failures=0,
                schedule=json.dumps(row.schedule) if row.schedule is not None else None,
                report_if_empty=row.report_if_empty, checked=row.checked, lease_holder=None, lease_until=0))
        return True

    def subscriptions(self, owner: str | None = None, query_name: str | None = None) -> list[SubscriptionRow]:
        """An owner's subscriptions to one query (or every subscription, for the delivery)."""
        statement = select(SUBSCRIPTIONS)
        if owner is not None:
            statement = statement.where(SUBSCRIPTIONS.c.owner == owner)
        if query_name is not None:
            statement = statement.where(SUBSCRIPTIONS.c.query_name == query_name)
        with self._tx(write=False) as conn:
            return [_row(r) for r in conn.execute(statement.order_by(SUBSCRIPTIONS.c.created_at,
                                                                     SUBSCRIPTIONS.c.id)).all()]

    def delete_subscription(self, owner: str, query_name: str, subscription_id: str) -> bool:
        with self._tx() as conn:
            gone = conn.execute(delete(SUBSCRIPTIONS).where(and_(
                SUBSCRIPTIONS.c.id == subscription_id, SUBSCRIPTIONS.c.owner == owner,
                SUBSCRIPTIONS.c.query_name == query_name)))
        return bool(gone.rowcount)

    def _seal(self, secret: str, subscription_id: str) -> str:
        if not secret:
            return ""
        if self._box is None:  # NamedQueries.subscribe refuses a token without the key first
            raise ValueError("a signature token is stored only sealed (epcis_secret_key)")
        return self._box.seal(secret, subscription_id)

    def secret(self, row: SubscriptionRow) -> str:
        """The row's signature token, usable (opened with this store's key when sealed);
        :class:`SecretUnavailable` when sealed and this process has no key or another one."""
        if not row.secret.startswith(_SEALED):
            return row.secret.removeprefix(_PLAIN)
        if self._box is None:
            raise SecretUnavailable(row.id)
        try:
            return self._box.open(row.secret, row.id)
        except Exception:
            raise SecretUnavailable(row.id) from None

    # ---------------------------------------------------------------------------- leases
    def claim(self, subscription_id: str, holder: str) -> SubscriptionRow | None:
        """Take or renew the lease on one subscription: its row as of the claim when ``holder``
        now holds it, None when another process does (or the subscription is gone)."""
        now = _millis()
        with self._tx() as conn:
            done = conn.execute(update(SUBSCRIPTIONS).where(and_(
                SUBSCRIPTIONS.c.id == subscription_id,
                or_(SUBSCRIPTIONS.c.lease_holder.is_(None), SUBSCRIPTIONS.c.lease_holder == holder,
                    SUBSCRIPTIONS.c.lease_until < now),
            )).values(lease_holder=holder, lease_until=now + int(LEASE_SECONDS * 1000)))
            if not done.rowcount:
                return None
            found = conn.execute(select(SUBSCRIPTIONS).where(SUBSCRIPTIONS.c.id == subscription_id)).first()
        return None if found is None else _row(found)

    def release(self, holder: str) -> None:
        """Give up every lease ``holder`` has (its process stops)."""
        with self._tx() as conn:
            conn.execute(update(SUBSCRIPTIONS).where(SUBSCRIPTIONS.c.lease_holder == holder)
                         .values(lease_holder=None, lease_until=0))

    def progress(self, subscription_id: str, holder: str, *, position: int, checked: int,
                 notified_at: str | None, failed: bool) -> None:
        """Record a round's outcome, only while ``holder`` holds the lease (a process that lost it
        writes nothing): a delivered round moves ``position`` and ``checked`` and clears ``since``;
        a failed one counts the failure and moves nothing."""
        values: dict[str, Any]
        if failed:
            values = {"failures": SUBSCRIPTIONS.c.failures + 1}
        else:
            values = {"position": position, "checked": checked, "since": None}
            if notified_at is not None:
                values["last_notified_at"] = notified_at
        with self._tx() as conn:
            conn.execute(update(SUBSCRIPTIONS).where(and_(
                SUBSCRIPTIONS.c.id == subscription_id, SUBSCRIPTIONS.c.lease_holder == holder)).values(**values))
