"""The journal over gRPC on a real server: checkpoints, proofs and exports checked by a verifier that
shares no code with the registry; a witness that accepts growth and alarms on a fork."""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import shutil
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from registry.api.v1 import journal_pb2 as pb
from registry.api.v1 import journal_pb2_grpc
from registry.journal.note import ALG_COSIGNATURE_V1, Signer
from registry.journal.verify import verify_export
from registry.journal.witness import EXIT_ALARM, Witness, run
from registry.server.journal import export_record
from tests import independent_verifier as ind
from tests.builders import make_world
from tests.e2e.conftest import RunningServer

ORIGIN = "registry.test/gpureg"


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Signer, Signer, Path, Path]:
    log_key, witness_key = Signer.generate(ORIGIN), Signer.generate("witness.test/w1", ALG_COSIGNATURE_V1)
    log_file, witness_file = tmp_path / "log.key", tmp_path / "witness.key"
    log_key.save(log_file)
    witness_key.save(witness_file)
    return log_key, witness_key, log_file, witness_file


def journaled_server(start_server: Callable[..., RunningServer], url: str, keys: Any) -> RunningServer:
    _, witness_key, log_file, _ = keys
    return start_server(url, journal_key_file=str(log_file), journal_checkpoint_seconds=0.1,
                        journal_witness_keys=witness_key.verifier.encode())


def stub(server: RunningServer) -> Any:
    return journal_pb2_grpc.JournalServiceStub(server.channel())  # type: ignore[no-untyped-call]


def checkpoint_of(server: RunningServer, size: int) -> pb.GetCheckpointResponse:
    """Wait (up to 20 s) for the server's checkpointer to sign a tree of at least ``size``."""
    journal = stub(server)
    deadline = time.monotonic() + 20
    while True:
        try:
            cp = journal.GetCheckpoint(pb.GetCheckpointRequest(), timeout=10)
            if cp.tree_size >= size:
                return cp
        except Exception:
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise AssertionError(f"no checkpoint of size {size}")
        time.sleep(0.1)


def test_every_event_is_proven_included_and_the_log_consistent_by_an_independent_verifier(
    start_server: Callable[..., RunningServer], sqlite_url: str, keys: Any
) -> None:
    log_key = keys[0]
    server = journaled_server(start_server, sqlite_url, keys)
    world = make_world(server.registry)
    world.order(quantity=8, po_number="PO-G-1")
    first = checkpoint_of(server, server.head())
    text = ind.note_signed_by(first.note, log_key.verifier.encode())
    assert ind.parse_checkpoint(text) == (ORIGIN, first.tree_size, first.root_hash)

    for n in range(3):
        world.order(quantity=4 + n, po_number=f"PO-G-{n + 2}")
    second = checkpoint_of(server, server.head())
    journal = stub(server)
    messages = list(journal.ExportJournal(pb.ExportJournalRequest(), timeout=30))
    assert messages[0].HasField("header") and messages[0].header.start_index == 0
    entries = [m.entry for m in messages[1:]]
    assert len(entries) == second.tree_size
    for e in entries:
        data = ind.leaf_bytes(e.position, UUID(bytes=e.originator_id), e.originator_version, e.topic, e.state)
        assert ind.h_leaf(data) == e.leaf_hash
        proof = journal.GetInclusionProof(
            pb.GetInclusionProofRequest(position=e.position, tree_size=second.tree_size), timeout=10)
        assert proof.leaf_index == e.leaf_index
        assert ind.inclusion_ok(e.leaf_index, second.tree_size, e.leaf_hash, list(proof.hashes), second.root_hash)
    consistency = journal.GetConsistencyProof(
        pb.GetConsistencyProofRequest(first_size=first.tree_size, second_size=second.tree_size), timeout=10)
    assert ind.consistency_ok(first.tree_size, second.tree_size, list(consistency.hashes),
                              first.root_hash, second.root_hash)

    lines = [json.dumps(export_record(m)) for m in messages]
    assert verify_export(lines, [log_key.verifier]).ok
    tampered = json.loads(lines[3])
    state = bytearray(base64.b64decode(tampered["state"]))
    state[0] ^= 1
    tampered["state"] = base64.b64encode(bytes(state)).decode()
    report = verify_export([*lines[:3], json.dumps(tampered), *lines[4:]], [log_key.verifier])
    assert report.problem is not None and report.problem.position == tampered["position"]


def test_a_position_beyond_the_journal_is_an_invalid_argument_naming_the_field(
    start_server: Callable[..., RunningServer], sqlite_url: str, keys: Any
) -> None:
    import grpc

    server = journaled_server(start_server, sqlite_url, keys)
    make_world(server.registry)
    with pytest.raises(grpc.RpcError) as raised:
        stub(server).GetInclusionProof(pb.GetInclusionProofRequest(position=10**6), timeout=10)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "position" in (raised.value.details() or "")


def test_a_witness_cosigns_growth_and_alarms_when_the_registry_is_rolled_back_and_forked(
    start_server: Callable[..., RunningServer], sqlite_url: str, keys: Any, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    log_key, witness_key, _, _ = keys
    db_path = sqlite_url.removeprefix("sqlite:///")
    server = journaled_server(start_server, sqlite_url, keys)
    world = make_world(server.registry)
    checkpoint_of(server, server.head())
    backup = tmp_path / "backup.db"
    with sqlite3.connect(db_path) as src, sqlite3.connect(backup) as dst:
        src.backup(dst)  # what the operator will roll back to
    state = tmp_path / "witness.json"
    witness = Witness(stub(server), [log_key.verifier], witness_key, state)
    assert witness.check_once().accepted  # first sight: trusted
    world.order(quantity=8, po_number="PO-W-1")
    grown = checkpoint_of(server, server.head())
    outcome = witness.check_once()
    assert outcome.accepted and outcome.size == grown.tree_size  # a consistent extension
    served = checkpoint_of(server, grown.tree_size).note
    ind.note_signed_by(served, witness_key.verifier.encode())  # the cosignature is served with it

    server.stop()
    for suffix in ("", "-wal", "-shm"):
        Path(db_path + suffix).unlink(missing_ok=True)
    shutil.copyfile(backup, db_path)
    forked = journaled_server(start_server, sqlite_url, keys)
    other = dataclasses.replace(world, registry=forked.registry)
    other.order(quantity=9, po_number="PO-FORK-1")
    other.order(quantity=3, po_number="PO-FORK-2")
    assert forked.head() > grown.tree_size
    checkpoint_of(forked, forked.head())

    witness = Witness(stub(forked), [log_key.verifier], witness_key, state)
    with caplog.at_level(logging.CRITICAL, logger="gpureg.witness"):
        outcome = witness.check_once()
    assert outcome.alarm and not outcome.accepted
    assert "not an extension" in outcome.message
    assert any(r.levelno == logging.CRITICAL and "WITNESS ALARM" in r.getMessage() for r in caplog.records)
    assert run(forked.address, [log_key.verifier], witness_key, state, once=True, interval=0) == EXIT_ALARM


def test_a_server_started_on_a_tampered_store_serves_reads_but_refuses_writes_naming_the_position(
    start_server: Callable[..., RunningServer], sqlite_url: str, keys: Any
) -> None:
    import grpc
    from grpc_status import rpc_status

    from tests.e2e.world import build_world, place_order

    server = journaled_server(start_server, sqlite_url, keys)
    api = server.stubs()
    world = build_world(api)
    batch = place_order(api, world, quantity=8)
    checkpoint_of(server, server.head())
    server.stop()
    db_path = sqlite_url.removeprefix("sqlite:///")
    with sqlite3.connect(db_path) as conn:
        last = conn.execute("SELECT MAX(rowid) FROM stored_events").fetchone()[0]
        conn.execute("UPDATE stored_events SET state = CAST(state || x'20' AS BLOB) WHERE rowid = ?", (last,))
    broken = journaled_server(start_server, sqlite_url, keys)
    api = broken.stubs()
    from registry.api.v1 import queries_pb2

    assert api.queries.GetBatch(queries_pb2.GetBatchRequest(batch_id=batch), timeout=10).batch.batch_id == batch
    with pytest.raises(grpc.RpcError) as raised:
        place_order(api, world, quantity=3)
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert f"position {last}" in (raised.value.details() or "") and "read-only" in (raised.value.details() or "")
    status = rpc_status.from_call(raised.value)
    assert status is not None and b"JOURNAL_BROKEN" in status.details[0].value
