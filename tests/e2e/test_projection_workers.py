"""Projection workers as real processes (``gpureg projections run``): killed at random points and
restarted they give exactly a rebuild's result; a standby takes over; the CLI reports and rebuilds."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import pytest

from projections.batch_inventory import BatchInventory
from projections.catalog import default_projections
from projections.db import open_engine
from projections.queries import ReadModels
from projections.runner import rebuild
from registry.application.service import Registry
from registry.bootstrap import build_registry
from registry.demo.load import load_in_process
from registry.demo.scenario import korea_deployment
from registry.demo.server_process import planned_settings
from tests.builders import make_world
from tests.projection_workload import KINDS, Driver, dump_active

GPUREG = [str(Path(sys.executable).with_name("gpureg"))]
if not Path(GPUREG[0]).exists():  # not installed as a script: run the module's entry point
    GPUREG = [sys.executable, "-c", "from registry.cli import main; main()"]


class Workers:
    """Starts ``gpureg projections run`` processes on one store and cleans up after the test."""

    def __init__(self, url: str, logs: Path) -> None:
        self.url = url
        self.logs = logs
        self.procs: list[subprocess.Popen[bytes]] = []

    def env(self) -> dict[str, str]:
        return {**os.environ, "GPUREG_DATABASE_URL": self.url}

    def start(self, *extra: str) -> subprocess.Popen[bytes]:
        log = (self.logs / f"worker-{len(self.procs)}.log").open("wb")
        proc = subprocess.Popen(
            [*GPUREG, "projections", "run", "--log-level", "WARNING", "--poll-interval", "0.02",
             "--repoll-interval", "0.2", "--standby-interval", "0.1", *extra],
            env=self.env(), stdout=log, stderr=subprocess.STDOUT,
        )
        self.procs.append(proc)
        return proc

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*GPUREG, "projections", *args], env=self.env(), capture_output=True, text=True, timeout=120,
            check=False,
        )

    def output(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.logs.glob("worker-*.log")))

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)


@pytest.fixture
def workers(store_url: str, tmp_path: Path) -> Iterator[Workers]:
    w = Workers(store_url, tmp_path)
    try:
        yield w
    finally:
        w.stop_all()


def worker_id(proc: subprocess.Popen[bytes]) -> str:
    return f"{socket.gethostname()}:{proc.pid}"


def wait_until(condition: object, timeout: float, what: str, workers: Workers) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}; worker output:\n{workers.output()}")
        time.sleep(0.01)


def open_store(url: str) -> tuple[Registry, ReadModels]:
    settings = planned_settings(url)
    registry = build_registry(settings)
    return registry, ReadModels(open_engine(settings), registry)


def test_a_worker_killed_at_random_points_and_restarted_gives_exactly_a_rebuilds_result(
    workers: Workers,
) -> None:
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    registry, read_models = open_store(workers.url)
    try:
        load_in_process(registry, korea_deployment(scale=0.01, seed=7))
        driver = Driver(make_world(registry))
        for kill in range(4):
            proc = workers.start("--chunk-size", str(rng.randint(1, 9)))
            start = min(read_models.positions().values(), default=0)
            target = rng.randint(min(start + 1, registry.head()), registry.head())
            wait_until(lambda t=target: min(read_models.positions().values(), default=0) >= t
                       and len(read_models.positions()) == len(default_projections()), 120,
                       f"position {target} (seed {seed})", workers)
            time.sleep(rng.random() * 0.05)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            for _ in range(rng.randint(5, 25)):  # the log grows while no worker runs
                driver.step(rng.randrange(KINDS), random.Random(rng.randrange(2**32)))
            assert proc.returncode == -signal.SIGKILL, f"kill {kill}: the worker had already exited"

        final = workers.start()
        assert read_models.wait_for_position(registry.head(), timeout=120), workers.output()
        final.send_signal(signal.SIGTERM)
        assert final.wait(timeout=60) == 0, workers.output()

        engine = read_models.engine
        for projection in default_projections():
            incremental = dump_active(engine, projection)
            rebuild(registry, engine, projection)
            assert dump_active(engine, projection) == incremental, f"{projection.name} (seed {seed})"
    finally:
        read_models.engine.dispose()
        registry.close()


def test_a_standby_worker_takes_over_when_the_running_one_dies(workers: Workers) -> None:
    registry, read_models = open_store(workers.url)
    try:
        world = make_world(registry)
        names = [p.name for p in default_projections()]
        first = workers.start()
        wait_until(lambda: read_models.positions().keys() == set(names), 120, "the first worker", workers)
        standby = workers.start()
        world.order(3)
        assert read_models.wait_for_position(registry.head(), timeout=120), workers.output()
        assert {s.worker for s in read_models.projection_status()} == {worker_id(first)}

        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
        world.order(4)

        assert read_models.wait_for_position(registry.head(), timeout=120), workers.output()
        assert {s.worker for s in read_models.projection_status()} == {worker_id(standby)}
        standby.send_signal(signal.SIGTERM)
        assert standby.wait(timeout=60) == 0, workers.output()
    finally:
        read_models.engine.dispose()
        registry.close()


def test_the_cli_reports_status_rebuilds_and_sets_allocations(workers: Workers) -> None:
    registry, read_models = open_store(workers.url)
    try:
        world = make_world(registry)
        world.order(5)
        head = registry.head()

        before = [json.loads(line) for line in workers.cli("status", "--json").stdout.splitlines()]
        assert {(s["state"], s["lag_events"]) for s in before} == {("not started", head)}

        rebuilt = workers.cli("rebuild")
        assert rebuilt.returncode == 0, rebuilt.stderr
        assert f"batch_inventory: generation 1 (version {BatchInventory.version}) is active at position" in rebuilt.stdout
        after = [json.loads(line) for line in workers.cli("status", "--json").stdout.splitlines()]
        assert {(s["state"], s["position"], s["head"], s["lag_events"]) for s in after} == {("active", head, head, 0)}
        assert workers.cli("status").returncode == 0

        again = workers.cli("rebuild", "ownership")
        assert again.returncode == 0, again.stderr
        assert "ownership: generation 2" in again.stdout

        unknown = workers.cli("rebuild", "no_such_model")
        assert unknown.returncode == 2
        assert "projection" in unknown.stderr
        assert "no_such_model" in unknown.stderr

        partner = str(world.samsung)
        done = workers.cli("allocations", "set", partner, "50000", "--actor", "ops@ministry", "--reason", "press",
                           "--effective-from", "2026-01-01")
        assert done.returncode == 0, done.stderr
        derived = workers.cli("rebuild", "ownership")  # allocations are events: the read model derives them
        assert derived.returncode == 0, derived.stderr
        listed = workers.cli("allocations", "list")
        assert listed.stdout.split("\t")[:4] == [partner, "50000", "press", "ops@ministry"], (
            derived.stdout, listed.stdout, listed.stderr)
        assert read_models.ownership_by_partner(world.samsung)[0].allocated_gpus == 50000
        bad = workers.cli("allocations", "set", str(uuid4()), "-5", "--actor", "ops", "--reason", "typo")
        assert bad.returncode != 0
        assert "GPUS" in bad.stderr or "gpus" in bad.stderr
    finally:
        read_models.engine.dispose()
        registry.close()
