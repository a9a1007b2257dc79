"""A small registry on SQLite or PostgreSQL, its journal signed, and raw access to its rows."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest

from registry.application.service import Registry
from registry.bootstrap import build_registry
from registry.config import Settings
from registry.journal.leaf import event_leaf_hash
from registry.journal.merkle import Frontier
from registry.journal.note import Signer
from registry.journal.service import Journal
from registry.journal.tables import JournalTables
from tests.builders import World, make_world


@dataclass
class Store:
    """Direct SQL on the event store, as someone holding the database file would do it."""

    url: str
    tables: JournalTables

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        self.dialect = self.tables.dialect
        self.events, self.pos, self.p = self.tables.events, self.tables.pos, self.tables.p
        self.leaves, self.head = self.tables.leaves, self.tables.head
        if self.dialect == "sqlite":
            self._path = parts.path
        else:
            self._dsn = self.url.split("?", 1)[0]

    def sql(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        statement = statement.replace("{events}", self.events).replace("{pos}", self.pos) \
            .replace("{leaves}", self.leaves).replace("{head}", self.head).replace("?", self.p)
        if self.dialect == "sqlite":
            with sqlite3.connect(self._path) as conn:
                return list(conn.execute(statement, params).fetchall())
        with psycopg.connect(self._dsn, autocommit=True) as conn:
            cur = conn.execute(statement, params)
            return list(cur.fetchall()) if cur.description else []

    def positions(self) -> list[int]:
        return [r[0] for r in self.sql("SELECT {pos} FROM {events} ORDER BY {pos}")]

    def event(self, position: int) -> tuple[Any, ...]:
        return self.sql("SELECT originator_id, originator_version, topic, state FROM {events} WHERE {pos} = ?",
                        (position,))[0]

    def insert_event(self, position: int, originator_id: Any, version: int, topic: str, state: bytes) -> None:
        self.sql("INSERT INTO {events} (" + ("rowid, " if self.dialect == "sqlite" else "notification_id, ")
                 + "originator_id, originator_version, topic, state) VALUES (?, ?, ?, ?, ?)",
                 (position, originator_id, version, topic, state))

    def rebuild_leaves(self) -> None:
        """What a careful forger does after editing events: recompute every leaf and the head."""
        rows = self.sql("SELECT {pos}, originator_id, originator_version, topic, state FROM {events} ORDER BY {pos}")
        self.sql("DELETE FROM {leaves}")
        frontier = Frontier()
        for index, (pos, oid, ver, topic, state) in enumerate(rows):
            oid16 = bytes.fromhex(oid) if isinstance(oid, str) else oid.bytes
            h = event_leaf_hash(pos, oid16, ver, topic, bytes(state))
            frontier.append(h)
            self.sql("INSERT INTO {leaves} (leaf_index, position, leaf_hash) VALUES (?, ?, ?)", (index, pos, h))
        self.sql("UPDATE {head} SET size = ?, frontier = ?, root = ? WHERE id = 1",
                 (frontier.size, frontier.to_bytes(), frontier.root()))


@dataclass
class Journaled:
    registry: Registry
    world: World
    journal: Journal
    signer: Signer
    store: Store


@pytest.fixture
def journaled(store_url: str) -> Iterator[Journaled]:
    registry = build_registry(Settings(database_url=store_url))
    world = make_world(registry)
    for n in range(3):
        world.order(quantity=8 + n, po_number=f"PO-J-{n}")
    signer = Signer.generate("registry.test/gpureg")
    journal = Journal(registry.recorder, signer=signer)
    journal.checkpoint()
    try:
        yield Journaled(registry, world, journal, signer, Store(store_url, journal.tables))
    finally:
        registry.close()
