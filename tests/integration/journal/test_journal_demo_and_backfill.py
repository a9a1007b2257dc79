"""A store built by the demo verifies clean (live and as an offline export, with only the public
key); a store from before the journal gets its leaves on first use."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from registry.bootstrap import build_registry
from registry.cli import app
from registry.config import Settings
from registry.demo.load import load_in_process
from registry.demo.scenario import korea_deployment
from registry.demo.server_process import planned_settings
from registry.journal.note import Signer
from registry.journal.service import Journal
from tests.builders import make_world
from tests.integration.journal.conftest import Store

runner = CliRunner()


def test_a_demo_store_verifies_clean_live_and_exported_offline(store_url: str, tmp_path: Path) -> None:
    # the demo plays a plan that runs to 2030 (its business times are ahead of the clock)
    registry = build_registry(planned_settings(store_url))
    try:
        load_in_process(registry, korea_deployment(0.01))
    finally:
        registry.close()
    key = Signer.generate("registry.test/gpureg")
    key_file = tmp_path / "log.key"
    key.save(key_file)
    env = {"GPUREG_DATABASE_URL": store_url, "GPUREG_JOURNAL_KEY_FILE": str(key_file)}
    result = runner.invoke(app, ["journal", "checkpoint"], env=env)
    assert result.exit_code == 0, result.output
    public = key.verifier.encode()
    result = runner.invoke(app, ["journal", "verify", "--public-key", public], env={"GPUREG_DATABASE_URL": store_url})
    assert result.exit_code == 0, result.output
    assert "journal OK" in result.output
    export = tmp_path / "journal.jsonl"
    result = runner.invoke(app, ["journal", "export", "--out", str(export)], env={"GPUREG_DATABASE_URL": store_url})
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["journal", "verify", "--file", str(export), "--public-key", public])
    assert result.exit_code == 0, result.output
    lines = export.read_text().splitlines()
    del lines[100]  # an event deleted from the export
    export.write_text("\n".join(lines) + "\n")
    result = runner.invoke(app, ["journal", "verify", "--file", str(export), "--public-key", public])
    assert result.exit_code == 1
    assert "BROKEN at position" in result.output


def test_a_store_from_before_the_journal_gets_its_leaves_and_verifies(store_url: str) -> None:
    registry = build_registry(Settings(database_url=store_url))
    try:
        world = make_world(registry)
        world.order(quantity=6, po_number="PO-OLD-1")
        journal = Journal(registry.recorder)
        store = Store(store_url, journal.tables)
        events = len(store.positions())
        store.sql("DELETE FROM {leaves}")  # the store as the registry wrote it before the journal existed
        store.sql("DELETE FROM {head}")
        assert journal.ensure() == events
        world.order(quantity=2, po_number="PO-NEW-1")  # and it goes on from there
        report = journal.verify_store(allow_unsigned_tail=True)
        assert report.ok, report.problem
        assert report.size == events + len(store.positions()) - events == len(store.positions())
    finally:
        registry.close()


def test_the_first_write_to_a_store_from_before_the_journal_backfills_it_in_the_same_transaction(
    store_url: str,
) -> None:
    registry = build_registry(Settings(database_url=store_url))
    try:
        world = make_world(registry)
        journal = Journal(registry.recorder)
        store = Store(store_url, journal.tables)
        store.sql("DELETE FROM {leaves}")
        store.sql("DELETE FROM {head}")
        world.order(quantity=2, po_number="PO-NEW-2")
        report = journal.verify_store(allow_unsigned_tail=True)
        assert report.ok, report.problem
        assert report.size == len(store.positions())
    finally:
        registry.close()
