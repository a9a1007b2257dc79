"""``gpureg epcis export`` / ``capture`` and ``gpureg serve --epcis-port`` as an operator runs them."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from registry.bootstrap import build_registry
from registry.config import Settings
from tests.builders import make_world
from tests.epcis_support.gs1 import schema_errors
from tests.integration.test_epcis import batch_state, copy_reference_data, full_history

GPUREG = Path(sys.executable).with_name("gpureg")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(GPUREG), "epcis", *args], capture_output=True, text=True, timeout=120, check=False)


def test_a_batch_exported_to_a_file_is_captured_into_another_store_by_the_cli(tmp_path: Path) -> None:
    a_url, b_url = f"sqlite:///{tmp_path}/a.db", f"sqlite:///{tmp_path}/b.db"
    source, target = build_registry(Settings(database_url=a_url)), build_registry(Settings(database_url=b_url))
    try:
        batch, _ = full_history(make_world(source))
        copy_reference_data(source, target)
    finally:
        source.close()
        target.close()
    out = tmp_path / "batch.jsonld"

    exported = _run("export", "--database-url", a_url, "--batch", str(batch), "--out", str(out))
    assert exported.returncode == 0, exported.stderr
    assert schema_errors(json.loads(out.read_text())) == []

    captured = _run("capture", str(out), "--database-url", b_url, "--actor", "ops@naver")
    assert captured.returncode == 0, captured.stderr
    assert re.search(r"(\d+) event\(s\): \1 written", captured.stdout), captured.stdout
    again = _run("capture", str(out), "--database-url", b_url, "--actor", "ops@naver")
    assert again.returncode == 0 and "replayed" in again.stdout and "written" not in again.stdout

    source, target = build_registry(Settings(database_url=a_url)), build_registry(Settings(database_url=b_url))
    try:
        assert batch_state(target.get_batch(batch)) == batch_state(source.get_batch(batch))
    finally:
        source.close()
        target.close()

    refused = _run("capture", str(out), "--database-url", f"sqlite:///{tmp_path}/empty.db", "--actor", "x")
    assert refused.returncode == 1 and "refused eventList[0]" in refused.stderr


def test_gpureg_serve_with_an_epcis_port_serves_the_rest_binding_and_stops_on_sigterm(sqlite_url: str) -> None:
    process = subprocess.Popen(
        [str(GPUREG), "serve", "--listen", "127.0.0.1:0", "--database-url", sqlite_url, "--epcis-port", "0",
         "--grace-seconds", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        found = re.search(r"REST binding listening on (http://127\.0\.0\.1:\d+)", line)
        assert found, (line, process.stderr.read() if process.stderr else "")
        events = httpx.get(f"{found.group(1)}/events", timeout=30)
        assert events.status_code == 200
        assert events.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"] == []
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
