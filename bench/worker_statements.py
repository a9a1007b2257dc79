"""Statements and round trips the projection worker sends per step and per event: counted, not timed.

    python -m bench.worker_statements [--store sqlite|postgres|both] [--every 4] [--batches 4] [--show]

The live path: a registry in process (projections off) on a fresh store runs the bench workload
(``bench.workload.batch_life``) after the demo's reference data and one warm-up life per program;
a :class:`~projections.runner.ProjectionRunner` with every default projection catches up first,
then follows: after every ``--every`` commands it takes one step (``step(fresh=False)`` on a feed
that holds the new notifications, as a following worker does after a wake), and the counter
records what that step sent (its read-model reads and writes, the positions and the transaction;
the log read is the feed's and is not counted: a following worker gets notifications from its
subscription). It also measures the steps' CPU: the thread's (``time.thread_time``) and, on a
local PostgreSQL, that of the read-model connections' backends (``/proc``, in clock ticks: use
``--batches 40`` or more).

Counting as in :mod:`bench.statements`: SQLite statements through ``set_trace_callback`` on the
read-model connections; psycopg statements (``executemany`` counts one per row) and round trips
(a pipeline's Sync included, which :mod:`bench.statements` leaves to the append).
``tests/integration/projections/test_worker_statements.py`` pins the counts.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sqlite3
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import event

from bench.scaleout import _cpu_seconds
from bench.statements import StatementCounter
from bench.workload import PROGRAMS, batch_life, reference_steps
from projections.db import open_engine
from projections.feed import LogSource
from projections.runner import ProjectionRunner
from registry.bootstrap import build_registry
from registry.demo.load import run_step
from registry.demo.server_process import planned_settings


class _HeldFeed:
    """A feed holding the notifications a following worker's subscription delivered."""

    def __init__(self, source: LogSource) -> None:
        self.source = source
        self.notes: list[Any] = []

    def fill(self, after: int) -> None:
        self.notes = self.source.read(after, 10_000)

    def read(self, after: int, limit: int, fresh: bool) -> list[Any]:
        return [n for n in self.notes if n.id > after][:limit]

    def wait(self, after: int, timeout: float) -> bool:
        return False

    def trim(self, upto: int) -> None:
        return None

    def interrupt(self) -> None:
        return None

    def close(self) -> None:
        return None

    @property
    def broken(self) -> bool:
        return False


def count_worker(url: str, every: int = 4, batches: int = 4, keep_texts: bool = False) -> dict[str, Any]:
    """Follow the bench workload with a runner taking one step per ``every`` commands; the
    read-model statements and round trips per step and per event, over ``batches`` batch lives
    (with ``keep_texts``, also each step's statements, shortened)."""
    settings = planned_settings(url)
    app = build_registry(settings)
    engine = open_engine(settings)
    counter = StatementCounter(keep_texts)
    if engine.dialect.name == "sqlite":
        @event.listens_for(engine, "connect")
        def _trace(dbapi: sqlite3.Connection, _record: object) -> None:
            dbapi.set_trace_callback(counter._traced_sqlite)
        engine.dispose()
    backends: set[int] = set()
    if engine.dialect.name == "postgresql":
        @event.listens_for(engine, "connect")
        def _backend(dbapi: Any, _record: object) -> None:
            backends.add(dbapi.info.backend_pid)
        engine.dispose()
    # standby_interval: the lock connection's health check and the standby's tries run once per
    # interval, by the clock; here only in the catch-up, so that the counts do not depend on time
    runner = ProjectionRunner(app, engine, use_subscription=False, coalesce=0, standby_interval=3600)
    try:
        for step in reference_steps():
            run_step(app, step)
        for n in range(len(PROGRAMS)):
            for step in batch_life("wsw", 0, n):
                run_step(app, step)
        runner.catch_up()
        for n in range(2):  # a few live steps first: the steady state
            for step in batch_life("wsx", 0, n):
                run_step(app, step)
            runner.catch_up()
        feed = _HeldFeed(runner.source)
        runner._feed = feed  # type: ignore[assignment]
        steps = 0
        events = 0
        texts: Counter[str] = Counter()
        step_texts: list[list[str]] = []
        cpu = 0.0
        backend_cpu = 0.0
        with counter.installed() if engine.dialect.name != "sqlite" else _Nothing(), _syncs_counted(counter):
            with counter.command() as tally:
                pass
            tally.statements = tally.round_trips = 0
            pending = 0
            lives = [s for n in range(batches) for s in batch_life("wsl", 1, n)]
            for i, step in enumerate(lives):
                counter._local.append = True  # the registry's own statements are not the worker's
                run_step(app, step)
                counter._local.append = False
                pending += 1
                if pending < every and i < len(lives) - 1:
                    continue
                pending = 0
                low = min(t.gen.position for t in runner._targets or [])
                counter._local.append = True
                feed.fill(low)
                counter._local.append = False
                with counter.command() as t:
                    before, backend_before = time.thread_time(), _backends_cpu(backends)
                    done = runner.step(fresh=False)
                    cpu += time.thread_time() - before
                    backend_cpu += _backends_cpu(backends) - backend_before
                assert done, "a step after new commands applies them"
                steps += 1
                events += len(feed.notes)
                tally.statements += t.statements
                tally.round_trips += t.round_trips
                texts.update(_shape(x) for x in t.texts)
                step_texts.append([_shape(x) for x in t.texts])
        return {
            "store": engine.dialect.name,
            "commands_per_step": every,
            "steps": steps,
            "events": events,
            "statements_per_step": tally.statements / steps,
            "round_trips_per_step": tally.round_trips / steps,
            "statements_per_event": tally.statements / events,
            "round_trips_per_event": tally.round_trips / events,
            "worker_cpu_ms_per_event": cpu / events * 1000,
            "postgres_cpu_ms_per_event": backend_cpu / events * 1000,
            "texts": dict(texts.most_common()) if keep_texts else {},
            "step_texts": step_texts if keep_texts else [],
        }
    finally:
        runner._feed = None
        runner._close()
        app.close()
        engine.dispose()


@contextlib.contextmanager
def _syncs_counted(counter: StatementCounter) -> Iterator[None]:
    """A pipeline's Sync is a round trip too (``executemany`` opens a pipeline and syncs it)."""
    from psycopg._pipeline_base import BasePipeline

    enqueue = BasePipeline._enqueue_sync

    def counted(pipeline: Any) -> None:
        counter.round_trip()
        enqueue(pipeline)

    BasePipeline._enqueue_sync = counted  # type: ignore[method-assign]
    try:
        yield
    finally:
        BasePipeline._enqueue_sync = enqueue  # type: ignore[method-assign]


def _backends_cpu(pids: set[int]) -> float:
    """CPU seconds of the read-model connections' PostgreSQL backends (a local server)."""
    return sum(_cpu_seconds(pid) for pid in pids)


class _Nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _shape(text: str) -> str:
    return " ".join(text.split())[:110]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.worker_statements")
    parser.add_argument("--store", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--every", type=int, default=4)
    parser.add_argument("--batches", type=int, default=4)
    parser.add_argument("--show", action="store_true")
    parser.add_argument("--out")
    args = parser.parse_args()
    from bench.command_cpu import drop_schema, postgres_url

    results = []
    if args.store in ("sqlite", "both"):
        with tempfile.TemporaryDirectory(prefix="gpureg-wstmts-") as tmp:
            results.append(count_worker(f"sqlite:///{Path(tmp) / 'registry.db'}", args.every, args.batches, args.show))
    if args.store in ("postgres", "both"):
        url = postgres_url()
        try:
            results.append(count_worker(url, args.every, args.batches, args.show))
        finally:
            drop_schema(url)
    for r in results:
        print(f"{r['store']}: {r['steps']} steps of {r['commands_per_step']} commands, {r['events']} events: "
              f"{r['statements_per_step']:.1f} statements / {r['round_trips_per_step']:.1f} round trips per step, "
              f"{r['statements_per_event']:.2f} / {r['round_trips_per_event']:.2f} per event; CPU per event: "
              f"step (thread) {r['worker_cpu_ms_per_event']:.3f} ms, PostgreSQL backends "
              f"{r['postgres_cpu_ms_per_event']:.3f} ms")
        for text, n in r.pop("texts").items():
            print(f"  {n:5d}  {text}")
    for r in results:
        r.pop("step_texts", None)
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
