"""A report's journal evidence: the checkpoint it was built on and an inclusion proof per cited
event, checked offline by `gpureg report verify --evidence` with only the public key."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from registry.cli import app
from registry.journal.note import Signer
from tests.integration.report_world import ReportWorld, phase_one

runner = CliRunner()


@pytest.fixture
def world(sqlite_url: str) -> Iterator[ReportWorld]:
    w = phase_one(sqlite_url)
    yield w
    w.close()


def gpureg(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env=env)
    return result.exit_code, result.output


def test_a_custody_report_carries_proofs_that_verify_offline_and_a_changed_event_fails(
    world: ReportWorld, tmp_path: Path
) -> None:
    key = Signer.generate("registry.test/gpureg")
    key_file = tmp_path / "log.key"
    key.save(key_file)
    env = {"GPUREG_JOURNAL_KEY_FILE": str(key_file)}
    report = tmp_path / "custody.json"
    code, said = gpureg("report", "custody", "--database-url", world.url, "--format", "json", "--out", str(report))
    assert code == 0, said
    code, said = gpureg("report", "evidence", str(report), "--database-url", world.url, env=env)
    assert code == 0, said
    evidence = Path(str(report) + ".journal.json")
    doc = json.loads(evidence.read_text())
    assert len(doc["events"]) > 3 and doc["checkpoint"].startswith("registry.test/gpureg\n")

    code, said = gpureg("report", "verify", str(report), "--evidence", str(evidence),
                        "--public-key", key.verifier.encode())
    assert code == 0, said
    assert "EVIDENCE HOLDS" in said

    state = bytearray(base64.b64decode(doc["events"][2]["state"]))
    state[-2] ^= 1
    doc["events"][2]["state"] = base64.b64encode(bytes(state)).decode()
    evidence.write_text(json.dumps(doc))
    code, said = gpureg("report", "verify", str(report), "--evidence", str(evidence),
                        "--public-key", key.verifier.encode())
    assert code == 1
    assert f"position {doc['events'][2]['position']}" in said

    other = Signer.generate("registry.test/gpureg")
    code, said = gpureg("report", "verify", str(report), "--evidence", str(evidence),
                        "--public-key", other.verifier.encode())
    assert code == 1 and "checkpoint" in said
