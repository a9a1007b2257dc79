"""``gpureg report`` and ``gpureg report verify`` (the typer app, in process, on a real SQLite store)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from registry.cli import app
from tests.integration.report_world import ReportWorld, phase_one, phase_two

runner = CliRunner()


@pytest.fixture
def world(sqlite_url: str) -> Iterator[ReportWorld]:
    w = phase_one(sqlite_url)
    yield w
    w.close()


def gpureg(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def flip(path: Path, at: float = 0.5) -> None:
    data = bytearray(path.read_bytes())
    i = int(len(data) * at)
    data[i] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("fmt", ["html", "csv", "json"])
def test_report_verify_accepts_the_untouched_file_and_detects_a_one_byte_change(
    world: ReportWorld, tmp_path: Path, fmt: str
) -> None:
    out = tmp_path / f"custody.{fmt}"
    code, said = gpureg("report", "custody", "--database-url", world.url, "--format", fmt, "--out", str(out))
    assert code == 0, said
    assert "log position" in said and "sha256:" in said
    code, said = gpureg("report", "verify", str(out), "--database-url", world.url)
    assert code == 0, said
    assert "MATCHES" in said
    flip(out)
    code, said = gpureg("report", "verify", str(out), "--database-url", world.url)
    assert code == 1
    assert "DOES NOT MATCH" in said


def test_a_report_as_of_an_earlier_time_still_verifies_after_more_events(world: ReportWorld, tmp_path: Path) -> None:
    out = tmp_path / "ownership.json"
    code, said = gpureg(
        "report", "ownership", "--database-url", world.url, "--format", "json", "--out", str(out),
        "--as-of", world.recorded_by.isoformat(),
    )
    assert code == 0, said
    phase_two(world)
    code, said = gpureg("report", "verify", str(out), "--database-url", world.url)
    assert code == 0, said
    # the same request as of now gives another report
    now = tmp_path / "now.json"
    assert gpureg("report", "ownership", "--database-url", world.url, "--format", "json", "--out", str(now))[0] == 0
    assert now.read_bytes() != out.read_bytes()


def test_the_default_file_name_names_the_kind_and_the_as_of_time(
    world: ReportWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, said = gpureg("report", "custody", "--database-url", world.url, "--format", "csv")
    assert code == 0, said
    written = list(tmp_path.glob("custody-report-*.csv"))
    assert [p.name for p in written] == [f"custody-report-{world.recorded_by:%Y%m%dT%H%M%SZ}.csv"]


def test_bad_options_are_refused_with_the_field_and_exit_code_2(world: ReportWorld, tmp_path: Path) -> None:
    code, said = gpureg("report", "custody", "--database-url", world.url, "--partner", "Nobody", "--out", "-")
    assert code == 2
    assert "partner" in said
    code, said = gpureg("report", "custody", "--database-url", world.url, "--as-of", "2026-12-31T09:00:00")
    assert code == 2
    assert "as_of" in said and "time zone" in said
    code, said = gpureg("report", "custody", "--database-url", world.url, "--format", "docx")
    assert code == 2
    assert "--format" in said
    missing = f"sqlite:///{tmp_path}/nothing-here.db"
    code, said = gpureg("report", "custody", "--database-url", missing)
    assert code == 2
    assert "no event store" in said
    assert not (tmp_path / "nothing-here.db").exists()


def test_verify_says_when_a_file_is_not_a_report(world: ReportWorld, tmp_path: Path) -> None:
    other = tmp_path / "notes.txt"
    other.write_text("not a report\n")
    code, said = gpureg("report", "verify", str(other), "--database-url", world.url)
    assert code == 1
    assert "not a report file" in said


def test_verify_names_the_input_the_store_no_longer_gives(world: ReportWorld, tmp_path: Path) -> None:
    import sqlite3

    out = tmp_path / "custody.json"
    assert gpureg("report", "custody", "--database-url", world.url, "--format", "json", "--out", str(out))[0] == 0
    copy = tmp_path / "copy.db"
    with sqlite3.connect(world.url.removeprefix("sqlite:///")) as source, sqlite3.connect(copy) as target:
        source.backup(target)  # the same events in a store with another name
    code, said = gpureg("report", "verify", str(out), "--database-url", f"sqlite:///{copy}")
    assert code == 1
    assert "answers a different request" in said
    assert "input 'Generated from': the file says 'SQLite event store registry.db'" in said
    assert "'SQLite event store copy.db'" in said


def test_a_past_report_made_before_the_checkpoints_verifies_after_them_and_a_partners_own_report_verifies(
    world: ReportWorld, tmp_path: Path
) -> None:
    out = tmp_path / "compliance.csv"
    code, said = gpureg("report", "compliance", "--database-url", world.url, "--format", "csv", "--out", str(out),
                        "--as-of", world.recorded_by.isoformat(), "--quiet")
    assert code == 0, said
    phase_two(world)
    code, said = gpureg("report", "checkpoints", "--database-url", world.url, "--every", "3")
    assert code == 0, said
    assert "checkpoints stored" in said and "added checkpoints at 0 positions" not in said
    code, said = gpureg("report", "verify", str(out), "--database-url", world.url)
    assert code == 0 and "MATCHES" in said, said
    own = tmp_path / "own.json"
    code, said = gpureg("report", "compliance", "--database-url", world.url, "--format", "json", "--out", str(own),
                        "--partner-scope", str(world.w.naver), "--as-of", world.recorded_by.isoformat(), "--quiet")
    assert code == 0, said
    assert b"PO-B" in own.read_bytes() and b"PO-A" not in own.read_bytes()
    code, said = gpureg("report", "verify", str(own), "--database-url", world.url)
    assert code == 0 and "MATCHES" in said, said
    code, said = gpureg("report", "compliance", "--database-url", world.url, "--partner-scope", "NAVER")
    assert code == 2 and "--partner-scope" in said, said
    code, said = gpureg("report", "checkpoints", "--database-url", world.url, "--drop")
    assert code == 0 and "dropped" in said, said
