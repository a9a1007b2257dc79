"""A store written in the event shape of December 2026 (moves as lists of pipe-joined position
keys, movement events listing every serial) still loads, verifies and rebuilds, with the current
code, to exactly the read models that code of that time built from it (issue #18).

The store and the dump are committed fixtures written by ``tests/fixtures/make_store_v_today.py``.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from registry.bootstrap import build_registry
from registry.demo.server_process import planned_settings
from registry.journal.service import Journal
from registry.server.event_messages import EventRenderer
from tests.fixtures.make_store_v_today import STORE, read_dump, rebuild_and_dump


def _copy(tmp_path: Path) -> str:
    path = tmp_path / STORE.name
    shutil.copyfile(STORE, path)
    return f"sqlite:///{path}"


def _copy_to_postgres(url: str) -> str:
    """The fixture's stored events, byte for byte and in log order, in a fresh PostgreSQL store."""
    with closing(sqlite3.connect(STORE)) as conn:
        rows = conn.execute(
            "SELECT originator_id, originator_version, topic, state FROM stored_events ORDER BY rowid"
        ).fetchall()
    registry = build_registry(planned_settings(url))
    try:
        for i in range(0, len(rows), 100):
            registry.recorder.insert_events([
                StoredEvent(originator_id=UUID(o), originator_version=v, topic=t, state=bytes(s))
                for o, v, t, s in rows[i:i + 100]
            ])
    finally:
        registry.close()
    return url


def test_a_store_of_todays_event_shape_rebuilds_to_the_read_models_it_gave_then(tmp_path: Path) -> None:
    _assert_rebuilds_as_dumped(_copy(tmp_path))


def test_the_same_events_in_postgresql_rebuild_to_the_same_read_models(postgres_url: str) -> None:
    _assert_rebuilds_as_dumped(_copy_to_postgres(postgres_url))


def _assert_rebuilds_as_dumped(url: str) -> None:
    expected = read_dump()
    got = json.loads(json.dumps(rebuild_and_dump(url), sort_keys=True))
    assert sorted(got) == sorted(expected)
    for name, tables in expected.items():
        assert sorted(got[name]) == sorted(tables), name
        for table, rows in tables.items():
            assert got[name][table] == rows, f"{name}.{table} differs after the rebuild"


def test_a_store_of_todays_event_shape_verifies_and_its_batches_replay(tmp_path: Path) -> None:
    url = _copy(tmp_path)
    registry = build_registry(planned_settings(url))
    try:
        report = Journal(registry.recorder).verify_store(allow_unsigned_tail=True)
        assert report.ok, str(report)
        serials = {r["serial"]: r for r in read_dump()["batch_inventory"]["serial"]}
        batches = {UUID(r["batch_id"]) for r in read_dump()["batch_inventory"]["batch"]}
        seen = 0
        for batch_id in batches:
            batch = registry.get_batch(batch_id)
            for serial, unit in batch.units.items():
                row = serials[serial]
                assert (unit.stage, unit.site, unit.owner, unit.assignee) == (
                    row["stage"], row["site"], row["owner"], row["assignee"]
                ), serial
                seen += 1
        assert seen == len(serials)
    finally:
        registry.close()


def test_subscribers_see_the_moves_and_serials_of_todays_events_as_they_were_stored(tmp_path: Path) -> None:
    """Upcast events render, for SubscribeEvents, the ``moves`` rows and serial lists they stored."""
    registry = build_registry(planned_settings(_copy(tmp_path)))
    try:
        renderer = EventRenderer(registry)
        movements = 0
        for n in registry.read_log(0, 100_000):
            stored = json.loads(n.state)
            if "moves" not in stored:
                continue
            payload = json.loads(renderer.message(n).payload_json)
            for name in ("moves", "serials", "missing_serials", "unexpected_serials", "relocated_serials"):
                if name in stored:
                    assert payload[name] == stored[name], (n.topic, name)
            movements += 1
        assert movements == 186  # every movement event of the fixture
    finally:
        registry.close()
