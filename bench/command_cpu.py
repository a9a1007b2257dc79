"""The command path alone, in process, side by side: CPU per command and queries of the events table.

    python -m bench.command_cpu [--batches 20] [--rounds 3] [--store sqlite|postgres]

No gRPC, no projections: the registry application on a fresh store runs the bench workload's batch
lives (``bench.workload.batch_life``: 11 commands each, every one with a request_id) once with the
lean command path (``LEAN_COMMANDS=on``, registry/application/lean_cache.py) and once with the
library's per-aggregate fast-forward and the old idempotency lookup (``LEAN_COMMANDS=off``),
alternating, ``--rounds`` times each. Reported per command: the command thread's CPU time
(``time.thread_time``, which other jobs on a shared machine disturb far less than wall time), the
wall time, and how many ``select_events`` calls (per-aggregate reads of the events table) it made.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.workload import batch_life, reference_steps
from registry.bootstrap import build_registry
from registry.demo.load import run_step
from registry.demo.server_process import planned_settings


def one_round(url: str, lean: bool, batches: int, tag: str) -> dict[str, float]:
    os.environ["LEAN_COMMANDS"] = "on" if lean else "off"
    app = build_registry(planned_settings(url))
    try:
        for step in reference_steps():
            run_step(app, step)
        for n in range(2):  # warm-up: caches, snapshots of the reference aggregates
            for step in batch_life(f"{tag}w", 0, n):
                run_step(app, step)
        reads = 0
        original = app.recorder.select_events

        def counting(*args: Any, **kwargs: Any) -> Any:
            nonlocal reads
            reads += 1
            return original(*args, **kwargs)

        app.recorder.select_events = counting  # type: ignore[method-assign]
        lives = [batch_life(tag, 1, n) for n in range(batches)]
        commands = sum(len(life) for life in lives)
        cpu0, wall0 = time.thread_time(), time.perf_counter()
        for life in lives:
            for step in life:
                run_step(app, step)
        cpu, wall = time.thread_time() - cpu0, time.perf_counter() - wall0
        return {"cpu_ms": 1000 * cpu / commands, "wall_ms": 1000 * wall / commands, "reads": reads / commands}
    finally:
        app.close()
        os.environ.pop("LEAN_COMMANDS", None)


def postgres_url() -> str:
    import uuid

    import psycopg

    base = os.environ.get("GPUREG_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return f"{base}?schema={schema}"


def drop_schema(url: str) -> None:
    import psycopg

    base, _, schema = url.partition("?schema=")
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.command_cpu")
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()
    results: dict[bool, list[dict[str, float]]] = {True: [], False: []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for lean in (False, True):
                url = f"sqlite:///{Path(tmp) / f'r{r}-{int(lean)}.db'}" if args.store == "sqlite" else postgres_url()
                try:
                    results[lean].append(one_round(url, lean, args.batches, f"r{r}{int(lean)}"))
                finally:
                    if args.store == "postgres":
                        drop_schema(url)
    for lean in (False, True):
        rows = results[lean]
        label = "lean (LEAN_COMMANDS=on)" if lean else "library fast-forward (off)"
        each = ", ".join(f"{x['cpu_ms']:.2f}" for x in rows)
        print(f"{args.store} {label:28s} CPU/command median {statistics.median(x['cpu_ms'] for x in rows):.2f} ms "
              f"(rounds {each}); wall median "
              f"{statistics.median(x['wall_ms'] for x in rows):.2f} ms; select_events per command "
              f"{rows[0]['reads']:.2f}")


if __name__ == "__main__":
    main()
