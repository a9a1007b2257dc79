"""The read-model database: engines, the bookkeeping tables and transaction helpers.

Read models live in ``Settings.readmodel_url`` or, when that is unset, next to the event store:
a sibling SQLite file (``registry.db`` -> ``registry.readmodels.db``, see :func:`readmodel_url`),
or the same PostgreSQL schema through ``search_path``.

One bookkeeping table is shared by every projection; everything else in the read-model database
is derived from the log (partners' allocations too: ``PartnerAllocation`` events, derived by the
ownership projection), so deleting it is always safe:

* ``projection_positions``: one row per projection *generation* (a full set of its tables):
  its code version, status (``building``, ``active``), the log position it has processed and
  which worker last wrote it. A projection's rows and its position are written in ONE
  transaction, so a crash neither loses nor double-counts an event.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote, urlsplit

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    exc,
)

from registry.config import Settings
from registry.infrastructure.store import begin_explicitly, ensure_postgres_schema, sqlalchemy_url

SQLITE_BUSY_TIMEOUT_MS = 30_000

BOOKKEEPING = MetaData()

POSITIONS = Table(
    "projection_positions",
    BOOKKEEPING,
    Column("name", String(64), primary_key=True),
    Column("generation", Integer, primary_key=True, autoincrement=False),
    Column("version", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("position", BigInteger, nullable=False),
    Column("worker", String(200), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

BUILDING = "building"
ACTIVE = "active"


def readmodel_url(settings: Settings) -> str:
    """Where the read models live: ``settings.readmodel_url``, else a default by store.

    A SQLite event store file gets its read models in a sibling file (``registry.db`` ->
    ``registry.readmodels.db``). SQLite has one write lock per file: projections that write
    thousands of rows per chunk into the event store's own file make every append wait for
    them (and SQLite's busy handler sleeps in steps of up to 100 ms), which cut command
    throughput by a factor of two to six in the benchmarks (docs/performance.md). PostgreSQL
    and in-memory SQLite keep the read models in the event store's database.
    """
    if settings.readmodel_url:
        return settings.readmodel_url
    url = settings.database_url
    if urlsplit(url).scheme.split("+", 1)[0] == "sqlite":
        path = sqlite_path(url)
        if path is not None and "?" not in url:
            p = Path(path)
            return "sqlite:///" + str(p.with_name(f"{p.stem}.readmodels{p.suffix or '.db'}"))
    return url


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def sqlite_path(url: str) -> str | None:
    """The file of a ``sqlite:///`` URL, or None for an in-memory database."""
    parts = urlsplit(url)
    path = unquote(parts.path[1:]) if parts.path.startswith("/") else unquote(parts.path)
    return None if path in ("", ":memory:") else path


def create_readmodel_engine(url: str) -> Engine:
    """A SQLAlchemy engine for the read-model database named by ``url``.

    SQLite gets WAL mode, a busy timeout, and explicit ``BEGIN`` (``BEGIN IMMEDIATE`` for
    writers, see :func:`writing`) so a writer never fails half-way with "database is locked".
    """
    sa_url, options = sqlalchemy_url(url)
    if sa_url.startswith("sqlite"):
        path = sqlite_path(url)
        scratch = None
        if path is None:
            # An in-memory store (tests, demos): the read models go to a scratch file, so the
            # runner's thread and the query threads each get their own connection.
            scratch = tempfile.mkdtemp(prefix="gpureg-readmodels-")
            path = str(Path(scratch) / "readmodels.db")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            f"sqlite:///{path}",
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        )
        if scratch is not None:
            weakref.finalize(engine, shutil.rmtree, scratch, True)
        _configure_sqlite(engine)
        return engine
    ensure_postgres_schema(url)
    return create_engine(sa_url, pool_pre_ping=True, **options)


def _configure_sqlite(engine: Engine) -> None:
    begin_explicitly(engine)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def open_engine(settings: Settings) -> Engine:
    engine = create_readmodel_engine(readmodel_url(settings))
    ensure_bookkeeping(engine)
    return engine


def ensure_bookkeeping(engine: Engine) -> None:
    """Create the bookkeeping tables if missing (safe when several processes race)."""
    for attempt in range(3):
        try:
            with writing(engine) as conn:
                BOOKKEEPING.create_all(conn, checkfirst=True)
            return
        except exc.DBAPIError:
            if attempt == 2:
                raise


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """One write transaction (``BEGIN IMMEDIATE`` on SQLite): commits on success."""
    with engine.connect() as conn:
        conn.execution_options(gpureg_write=True)
        with conn.begin():
            yield conn


def writing_connection(engine: Engine) -> Connection:
    """A connection whose transactions (``with conn.begin():``) are write transactions, as
    :func:`writing`'s, for a caller that keeps it for many of them (and closes it)."""
    conn = engine.connect()
    conn.execution_options(gpureg_write=True)
    return conn


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """One read transaction with a consistent snapshot (REPEATABLE READ on PostgreSQL)."""
    with engine.connect() as conn:
        if not is_sqlite(engine):
            conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            yield conn


def table_exists(conn: Connection, name: str) -> bool:
    return bool(conn.dialect.has_table(conn, name))
