"""Baselines measured in the same run on the same machine, from the loaded demo store's own rows.

* :func:`raw_sqlite_inserts`: the demo's stored event rows (and its serial-claim rows) inserted
  with plain ``sqlite3`` into a fresh WAL file, ``batch`` rows per transaction: what writing the
  same bytes costs with no application around it.
* :func:`raw_scan_decode`: every stored event selected in log order and its state JSON-decoded:
  the least a rebuild or a catching-up subscriber has to do.
* :func:`raw_postgres_scan_decode`: the same scan on a PostgreSQL store (psycopg).
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class RawInsert:
    rows: int
    seconds: float
    bytes: int
    batch: int

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def _sqlite_path(url: str) -> str:
    assert url.startswith("sqlite:///"), url
    return url[len("sqlite:///"):]


def read_event_rows(url: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(f"file:{_sqlite_path(url)}?mode=ro", uri=True) as conn:
        return conn.execute(
            "SELECT originator_id, originator_version, topic, state FROM stored_events ORDER BY rowid"
        ).fetchall()


def read_claim_rows(url: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(f"file:{_sqlite_path(url)}?mode=ro", uri=True) as conn:
        return conn.execute("SELECT serial, batch_id FROM serial_claims").fetchall()


def raw_sqlite_inserts(rows: list[tuple[Any, ...]], path: Path, batch: int = 500) -> RawInsert:
    """Insert the event rows into a fresh file like the library's table, ``batch`` per commit."""
    path.unlink(missing_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(
        "CREATE TABLE stored_events (originator_id TEXT, originator_version INTEGER, topic TEXT, "
        "state BLOB, PRIMARY KEY (originator_id, originator_version))"
    )
    t0 = time.perf_counter()
    for lo in range(0, len(rows), batch):
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO stored_events VALUES (?, ?, ?, ?)", rows[lo:lo + batch])
        conn.execute("COMMIT")
    seconds = time.perf_counter() - t0
    conn.close()
    size = sum(len(r[3]) for r in rows)
    return RawInsert(rows=len(rows), seconds=seconds, bytes=size, batch=batch)


def raw_claim_inserts(rows: list[tuple[Any, ...]], path: Path, batch: int = 2048) -> RawInsert:
    """Insert serial-claim rows (serial primary key) into a fresh file, ``batch`` per commit
    (the demo registers up to 2,048 serials per command)."""
    path.unlink(missing_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE serial_claims (serial TEXT PRIMARY KEY, batch_id TEXT NOT NULL) WITHOUT ROWID")
    t0 = time.perf_counter()
    for lo in range(0, len(rows), batch):
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO serial_claims VALUES (?, ?)", rows[lo:lo + batch])
        conn.execute("COMMIT")
    seconds = time.perf_counter() - t0
    conn.close()
    return RawInsert(rows=len(rows), seconds=seconds, bytes=0, batch=batch)


@dataclass
class RawScan:
    events: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


def raw_scan_decode(url: str, page: int = 1000) -> RawScan:
    """Select every event in log order (pages of ``page``, as a reader would) and decode it."""
    conn = sqlite3.connect(f"file:{_sqlite_path(url)}?mode=ro", uri=True)
    t0 = time.perf_counter()
    after = 0
    n = 0
    while True:
        rows = conn.execute(
            "SELECT rowid, topic, state FROM stored_events WHERE rowid > ? ORDER BY rowid LIMIT ?", (after, page)
        ).fetchall()
        if not rows:
            break
        for _rowid, _topic, state in rows:
            json.loads(state)
        n += len(rows)
        after = rows[-1][0]
    seconds = time.perf_counter() - t0
    conn.close()
    return RawScan(events=n, seconds=seconds)


def raw_postgres_scan_decode(dsn: str, schema: str, page: int = 1000) -> RawScan:
    import psycopg

    with psycopg.connect(dsn) as conn:
        t0 = time.perf_counter()
        after = 0
        n = 0
        while True:
            rows = conn.execute(
                f'SELECT notification_id, topic, state FROM "{schema}".gpureg_events '
                "WHERE notification_id > %s ORDER BY notification_id LIMIT %s", (after, page)
            ).fetchall()
            if not rows:
                break
            for _nid, _topic, state in rows:
                json.loads(bytes(state))
            n += len(rows)
            after = rows[-1][0]
        seconds = time.perf_counter() - t0
    return RawScan(events=n, seconds=seconds)
