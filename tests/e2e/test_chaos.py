"""A short round of the fault suite (``make chaos`` runs the full one): kill -9 of the server and its
projection worker under load, and racing writers on hot batches, on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from pathlib import Path

from tests.chaos import kill_rounds, racing_writers


def test_kill_9_of_server_and_projection_worker_under_load_loses_no_acknowledged_command(
    store_url: str, tmp_path: Path
) -> None:
    seed = random.randrange(2**32)

    report = kill_rounds(store_url, tmp_path, rounds=3, clients=4, seed=seed)

    assert report.server_kills + report.worker_kills == 3, f"seed {seed}"
    assert report.acked > 0 and report.lost == 0 and report.duplicated == 0, f"seed {seed}: {report}"
    assert report.replay_failures == 0, f"seed {seed}: {report}"
    assert report.read_models_equal_rebuild, f"seed {seed}: {report}"
    assert set(report.codes) <= {"OK", "UNAVAILABLE", "DEADLINE_EXCEEDED", "CANCELLED", "ABORTED"}, report.codes


def test_32_racing_writers_on_hot_batches_lose_no_update(store_url: str) -> None:
    report = racing_writers(store_url, writers=32, per_writer=15, hot_batches=4, seed=random.randrange(2**32))

    assert report.acked == report.commands == 32 * 15
    assert report.lost_updates == 0 and report.invariant_breaks == [], report
