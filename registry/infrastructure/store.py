"""Maps one database URL to the eventsourcing library's persistence settings.

We use the library's own SQLite and PostgreSQL recorders (see docs/decisions.md for the
measurements against eventsourcing-sqlalchemy): they are the fastest option, PostgreSQL's
supports LISTEN/NOTIFY subscriptions, and neither limits application names to 32 characters.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit
from uuid import UUID, uuid4

from eventsourcing.persistence import ApplicationRecorder
from sqlalchemy import Connection, Engine, event

from registry.domain.errors import InvalidField


def event_store_env(url: str) -> dict[str, str]:
    """Translate ``sqlite:///...`` or ``postgresql://...`` into eventsourcing environment keys."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0]
    if scheme == "sqlite":
        path = unquote(parts.path[1:]) if parts.path.startswith("/") else unquote(parts.path)
        if path in ("", ":memory:"):
            # A shared in-memory database, private to this process and this URL's user.
            dbname = f"file:gpureg-{uuid4().hex}?mode=memory&cache=shared"
        else:
            directory = Path(path).parent
            if not directory.is_absolute():
                # A relative path lives under the working directory: its folders are made
                # (``var/`` of the default store). An absolute path's directory must exist, so a
                # typo is an error rather than a new empty store somewhere unexpected.
                directory.mkdir(parents=True, exist_ok=True)
            elif not directory.is_dir():
                raise InvalidField.one(
                    "database_url",
                    f"the directory {directory} does not exist (create it first, or name another file)",
                )
            dbname = path
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "APPLICATION_RECORDER_TOPIC": "registry.infrastructure.recorders:RegistrySQLiteRecorder",
            "SQLITE_DBNAME": dbname,
            "SQLITE_LOCK_TIMEOUT": "30",
        }
    if scheme in ("postgresql", "postgres"):
        query = parse_qs(parts.query)
        env = {
            "PERSISTENCE_MODULE": "registry.infrastructure.postgres_recorder:RegistryPostgresFactory",
            "APPLICATION_RECORDER_TOPIC": "registry.infrastructure.postgres_recorder:RegistryPostgresRecorder",
            "POSTGRES_ENABLE_DB_FUNCTIONS": "n",  # the serial index needs the plain insert path
            "POSTGRES_DBNAME": unquote(parts.path.lstrip("/")) or "postgres",
            "POSTGRES_HOST": parts.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(parts.port or 5432),
            "POSTGRES_USER": unquote(parts.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(parts.password or ""),
            "POSTGRES_POOL_SIZE": query.get("pool_size", ["10"])[0],
            "POSTGRES_MAX_OVERFLOW": query.get("max_overflow", ["10"])[0],
            # also how long a call waits for a pooled connection: a database that is down is answered
            # UNAVAILABLE within it, before a client's usual deadline
            "POSTGRES_CONNECT_TIMEOUT": "5",
            "POSTGRES_LOCK_TIMEOUT": "10",
        }
        if "schema" in query:
            env["POSTGRES_SCHEMA"] = query["schema"][0]
        return env
    raise InvalidField.one(
        "database_url", "must start with sqlite:/// or postgresql:// (for example sqlite:///var/registry.db)"
    )


class StoreUnavailable(Exception):
    """The event store named by a URL cannot be opened (unreachable, refused, missing database)."""


def describe_store(url: str) -> str:
    """Where a store URL points, for an error message: never the password."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0]
    if scheme == "sqlite":
        path = unquote(parts.path[1:]) if parts.path.startswith("/") else unquote(parts.path)
        return f"SQLite file {path or ':memory:'}"
    env = event_store_env(url)
    where = (f"PostgreSQL at host {env['POSTGRES_HOST']}, port {env['POSTGRES_PORT']}, "
             f"database {env['POSTGRES_DBNAME']}, user {env['POSTGRES_USER']}")
    if "POSTGRES_SCHEMA" in env:
        where += f", schema {env['POSTGRES_SCHEMA']}"
    return where


def store_unavailable(url: str, error: BaseException) -> StoreUnavailable:
    """A short, clear StoreUnavailable for ``error`` raised while opening the store at ``url``:
    where the store is and the cause's first line (never a traceback, never the password)."""
    cause = error
    while cause.__cause__ is not None and str(cause.__cause__):
        cause = cause.__cause__
    first = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
    password = urlsplit(url).password
    if password:
        first = first.replace(password, "***")
    return StoreUnavailable(f"cannot open the event store ({describe_store(url)}): {first}")


def sqlalchemy_url(url: str) -> tuple[str, dict[str, Any]]:
    """The same database as a SQLAlchemy URL (psycopg 3 driver) and engine options."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0]
    if scheme == "sqlite":
        return url, {}
    query = parse_qs(parts.query)
    base = url.split("?", 1)[0].replace(parts.scheme + "://", "postgresql+psycopg://", 1)
    options: dict[str, Any] = {}
    if "schema" in query:
        options["connect_args"] = {"options": f"-csearch_path={query['schema'][0]}"}
    return base, options


def position_of(recorder: ApplicationRecorder, aggregate_id: UUID, version: int) -> int:
    """The notification id (log position) of one stored event, by recorder kind."""
    from eventsourcing.postgres import PostgresApplicationRecorder
    from eventsourcing.sqlite import SQLiteApplicationRecorder

    if isinstance(recorder, SQLiteApplicationRecorder):
        with recorder.datastore.transaction(commit=False) as cur:
            cur.execute(
                f"SELECT rowid FROM {recorder.events_table_name} "  # noqa: S608 - our table name
                "WHERE originator_id=? AND originator_version=?",
                (aggregate_id.hex, version),
            )
            row = cur.fetchone()
            return int(row[0]) if row else 0
    if isinstance(recorder, PostgresApplicationRecorder):
        schema = recorder.datastore.schema or "public"
        with recorder.datastore.get_connection() as conn, conn.cursor() as cur:
            cur.execute(
                f'SELECT notification_id FROM "{schema}"."{recorder.events_table_name}" '  # noqa: S608
                "WHERE originator_id=%s AND originator_version=%s",
                (aggregate_id, version),
            )
            found = cur.fetchone()
            return int(found["notification_id"]) if found else 0
    # Any other recorder (eventsourcing-sqlalchemy in the recorder benchmark): scan the log.
    for n in recorder.select_notifications(start=None, limit=10**9):
        if n.originator_id == aggregate_id and n.originator_version == version:
            return n.id
    return 0


def ensure_postgres_schema(url: str) -> None:
    """On PostgreSQL: connect once (so an unreachable server or a missing database fails here,
    with the driver's own reason, not after the pool's timeout) and create the ``?schema=`` the
    URL names if it does not exist yet."""
    parts = urlsplit(url)
    if not parts.scheme.startswith("postgres"):
        return
    schema = parse_qs(parts.query).get("schema", [""])[0]
    import psycopg
    from psycopg import sql

    env = event_store_env(url)
    with psycopg.connect(
        host=env["POSTGRES_HOST"], port=int(env["POSTGRES_PORT"]), user=env["POSTGRES_USER"],
        password=env["POSTGRES_PASSWORD"] or None, dbname=env["POSTGRES_DBNAME"], autocommit=True,
        connect_timeout=int(env["POSTGRES_CONNECT_TIMEOUT"]),
    ) as conn:
        if schema:
            # one process at a time (processes starting together race in the catalog otherwise:
            # a duplicate key in pg_namespace); the lock ends with the connection at the latest
            conn.execute("SELECT pg_advisory_lock(hashtext('gpureg create schema'))")
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
            conn.execute("SELECT pg_advisory_unlock(hashtext('gpureg create schema'))")


def begin_explicitly(engine: Engine) -> None:
    """A SQLite engine whose transactions the caller begins: the driver's own transaction handling
    off, and each transaction started as ``BEGIN IMMEDIATE`` on a connection with the execution
    option ``gpureg_write`` (a writer takes the write lock first, so it never fails half-way on a
    lock upgrade) and as a plain ``BEGIN`` otherwise (a reader never takes the write lock)."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: object) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get("gpureg_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
