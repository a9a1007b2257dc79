"""The benchmark's phases run and measure something (a phase that fails on every command would
otherwise only show up as a 0 in the next full `make bench`). Small scale; no timing asserted."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import epcis_worker, scaleout

pytestmark = pytest.mark.slow


def test_the_scale_out_phase_completes_commands_on_a_server_it_starts(tmp_path: Path) -> None:
    row = scaleout.run_config(f"sqlite:///{tmp_path}/scaleout.db", 1, 2, duration=1.5, warmup=0.3,
                              tag="t", worker=False)
    assert row["completed"] > 0
    assert row["errors"] == 0, row["error_samples"]


def test_the_epcis_phase_exports_the_demo_and_captures_every_event_of_it(tmp_path: Path) -> None:
    result = epcis_worker.main("-", 0.005, tmp_path)
    assert result["events"] > 0
    assert result["captured"] == result["events"]


def test_the_journal_phase_runs_the_same_commands_with_and_without_the_tree(tmp_path: Path) -> None:
    from bench import journal

    result = journal.measure_append((f"sqlite:///{tmp_path}/a.db", f"sqlite:///{tmp_path}/b.db"), 0.002, 2)
    assert result["commands"] > 0
    assert result["leaves"] > 0


def test_the_stream_catchup_bench_catches_up_with_expanded_and_with_compact_serials(tmp_path: Path) -> None:
    import functools

    from bench import baselines, stream_catchup

    url = f"sqlite:///{tmp_path}/stream.db"
    stream_catchup.ensure_store(url, 0.002)
    runs = stream_catchup.measure(url, functools.partial(baselines.raw_scan_decode, url), 1, None, True)
    expanded, compact = runs["current"][0], runs["current, compact serials"][0]
    assert expanded["events"] == compact["events"] > 0
    assert runs["raw scan+decode"][0]["events"] >= expanded["events"]
