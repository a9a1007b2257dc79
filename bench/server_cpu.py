"""The server's CPU per command, by thread, side by side for two checkouts of the code.

    python -m bench.server_cpu [--batches 8] [--rounds 3] [--base /path/to/other/checkout]

Starts ``gpureg serve`` (SQLite, projections off, metrics on as the bench runs it) from each
checkout in turn (``--base`` and this one, alternating, ``--rounds`` times each; without
``--base`` only this one), sends the reference data and a warm-up batch life per client, then has
16 clients (``--clients``) send ``--batches`` batch lives each (``bench.workload.batch_life``: 11 commands) and
reads the server's CPU seconds from /proc before and after: the whole process, the event loop's
thread (the main thread: gRPC, asyncio, interceptors, servicers, request conversion and
validation) and the command lane's thread (the use case, the store). Reported per command, the
median over the rounds. A count of commands, not a time window: every command sent is counted.

CPU time, not wall time: other jobs on a shared machine disturb it far less.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from uuid import uuid4

from bench import client
from bench.workload import batch_life, reference_steps
from registry.api.v1 import commands_pb2_grpc
from registry.demo.server_process import LISTENING, PLANNED_TIMELINE_SECONDS

TICKS = os.sysconf("SC_CLK_TCK")
CLIENTS = 16


def thread_cpu(pid: int) -> dict[int, float]:
    """CPU seconds of each thread of ``pid``, by thread id."""
    out: dict[int, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[int(task.name)] = (int(fields[11]) + int(fields[12])) / TICKS
    return out


def by_kind(pid: int, before: dict[int, float], after: dict[int, float]) -> dict[str, float]:
    """The CPU seconds between two readings: ``loop`` (the main thread, which runs the event
    loop), ``command`` (the busiest other thread: the SQLite command lane's one thread; Python
    3.11 names no OS thread, so it is found by its use), ``other`` and ``total``."""
    spent = {tid: seconds - before.get(tid, 0.0) for tid, seconds in after.items()}
    loop = spent.pop(pid, 0.0)
    command = max(spent.values(), default=0.0)
    total = loop + sum(spent.values())
    return {"loop": loop, "command": command, "other": total - loop - command, "total": total}


@contextmanager
def server(code: Path, url: str, extra: dict[str, str] | None = None) -> Iterator[tuple[int, str]]:
    env = {**os.environ, "GPUREG_DATABASE_URL": url, "GPUREG_LISTEN": "127.0.0.1:0",
           "GPUREG_METRICS_LISTEN": "127.0.0.1:0", "GPUREG_LOG_LEVEL": "WARNING", "GPUREG_RUN_PROJECTIONS": "false",
           "GPUREG_MAX_OCCURRED_AHEAD_SECONDS": str(PLANNED_TIMELINE_SECONDS), "PYTHONPATH": str(code),
           **(extra or {})}
    proc = subprocess.Popen([sys.executable, "-m", "registry.cli", "serve"], env=env, cwd=code,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    assert proc.stdout is not None
    address = ""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not address:
        line = proc.stdout.readline()
        if not line:
            break
        m = LISTENING.search(line)
        address = m.group(1) if m else ""
    if not address:
        proc.kill()
        raise RuntimeError("gpureg serve did not start")
    threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()  # type: ignore[union-attr]
    try:
        yield proc.pid, address
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


async def drive(address: str, tag: str, batches: int, first: int = 0, clients: int = CLIENTS) -> int:
    """``clients`` clients, each sending ``batches`` batch lives in order; returns the commands
    answered."""
    done = 0
    async with client.channel(address) as ch:
        stub = commands_pb2_grpc.CommandServiceStub(ch)

        async def one(c: int) -> None:
            nonlocal done
            for n in range(first, first + batches):
                for p in client.prepare(batch_life(tag, c, n)):
                    await getattr(stub, p.rpc)(p.request, metadata=client.METADATA, timeout=120)
                    done += 1

        await asyncio.gather(*(one(c) for c in range(clients)))
    return done


def one_round(code: Path, workdir: Path, batches: int, extra: dict[str, str] | None = None,
              clients: int = CLIENTS) -> dict[str, float]:
    tag = uuid4().hex[:6]
    url = f"sqlite:///{workdir / f'{tag}.db'}"
    with server(code, url, extra) as (pid, address):
        asyncio.run(client.send_all(address, reference_steps(), concurrency=1))
        asyncio.run(drive(address, tag, 1, clients=clients))  # warm-up: one batch life per client
        before = thread_cpu(pid)
        commands = asyncio.run(drive(address, tag, batches, first=1, clients=clients))
        after = thread_cpu(pid)
    return {k: 1000 * v / commands for k, v in by_kind(pid, before, after).items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=8, help="batch lives per client per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=CLIENTS, help="concurrent clients")
    parser.add_argument("--base", type=Path, default=None, help="another checkout to compare with")
    args = parser.parse_args(argv)
    here = Path(__file__).resolve().parent.parent
    codes: list[tuple[str, Path]] = ([("base", args.base.resolve())] if args.base else []) + [("this", here)]
    rows: dict[str, list[dict[str, float]]] = {name: [] for name, _ in codes}
    with tempfile.TemporaryDirectory(prefix="gpureg-server-cpu-") as d:
        for r in range(args.rounds):
            for name, code in codes:
                row = one_round(code, Path(d), args.batches, clients=args.clients)
                rows[name].append(row)
                print(f"round {r + 1} {name:5s} " + "  ".join(f"{k} {v:.3f}" for k, v in row.items()), flush=True)
    print("median ms of CPU per command:")
    for name, got in rows.items():
        med: dict[str, Any] = {k: statistics.median(x[k] for x in got) for k in got[0]}
        print(f"  {name:5s} " + "  ".join(f"{k} {v:.3f}" for k, v in med.items()))


if __name__ == "__main__":
    main()
