"""Scale-out on PostgreSQL: 1, 2 and 4 ``gpureg serve`` processes on one database, side by side,
against one SQLite server in the same run, and the inputs of the capacity model.

    python -m bench.scaleout [--quick] [--processes 1,2,4] [--clients 16] [--no-sqlite]

With one server, the group write of before (``GPUREG_PG_GROUP_WRITE=two``) runs too, side by side.
For each configuration: N servers (projections off) plus one projection worker on a fresh schema,
16 closed-loop clients over ONE client address (``ipv4:a,b,...`` with gRPC's round_robin policy).
Measured per run: commands/s, p50/p99, the CPU seconds per command of the servers (/proc, their
own processes and children) and of PostgreSQL's processes (all of them: other sessions on a shared
server count too, and one that exits during the run takes its whole CPU time off the sum), apart
from that the CPU of the backends of the servers' and of the worker's connections (started with
``PGAPPNAME`` set, found in ``pg_stat_activity``), the append groups' size and hold time from the
servers' own metrics, and the bytes per event the store keeps (events, journal leaves, claims:
table + index sizes / events).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

from prometheus_client.parser import text_string_to_metric_families

from bench import client
from bench.proc import descendants
from bench.stats import summarize
from bench.workload import batch_life, reference_steps
from registry.demo.server_process import PLANNED_TIMELINE_SECONDS

POSTGRES_URL = os.environ.get("GPUREG_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
METRICS = re.compile(r"metrics \(Prometheus\) at http://(\S+)/metrics")
TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def tree_cpu(pids: list[int]) -> float:
    return sum(_cpu_seconds(p) for pid in pids for p in (pid, *descendants(pid)))


def postgres_cpu() -> float:
    """CPU seconds of every process named postgres on this machine (the database server)."""
    total = 0.0
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if (d / "comm").read_text().strip() == "postgres":
                    total += _cpu_seconds(int(d.name))
            except OSError:
                continue
    return total


def backend_cpu(url: str) -> dict[int, tuple[str, float]]:
    """CPU seconds of each client backend of the PostgreSQL server at ``url``, by pid, with its
    ``application_name`` (the bench starts servers and the worker with ``PGAPPNAME`` set, so the
    database's CPU splits into what the servers' connections and the worker's cost)."""
    import psycopg

    with psycopg.connect(url.partition("?")[0], autocommit=True) as conn:
        rows = conn.execute("SELECT pid, application_name FROM pg_stat_activity "
                            "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()").fetchall()
    return {int(pid): (app or "", _cpu_seconds(int(pid))) for pid, app in rows}


def backend_cpu_delta(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]) -> dict[str, float]:
    """CPU seconds per application name spent between two :func:`backend_cpu` readings (a backend
    started in between counts whole; one that ended in between is lost)."""
    out: dict[str, float] = {}
    for pid, (app, cpu) in after.items():
        out[app] = out.get(app, 0.0) + cpu - (before[pid][1] if pid in before else 0.0)
    return out


def scrape(address: str) -> dict[str, float]:
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=10) as r:
        text = r.read().decode()
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name in ("gpureg_appends_total", "gpureg_events_appended_total", "gpureg_append_group_size_sum",
                          "gpureg_append_group_size_count", "gpureg_append_group_seconds_sum"):
                out[s.name] = out.get(s.name, 0.0) + float(s.value)
    return out


def lazy_plan(tag: str, client_no: int) -> Iterator[client.Prepared]:
    n = 0
    while True:
        yield from client.prepare(batch_life(tag, client_no, n))
        n += 1


@contextlib.contextmanager
def pg_schema() -> Iterator[tuple[str, str]]:
    import psycopg

    schema = f"bench_{uuid4().hex[:12]}"
    sep = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{sep}schema={schema}", schema
    finally:
        with contextlib.suppress(Exception), psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def bytes_per_event(schema: str) -> dict[str, float]:
    import psycopg

    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        events = conn.execute(f'SELECT count(*) FROM "{schema}".gpureg_events').fetchone()[0]  # type: ignore[index]
        rows = conn.execute(
            "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = "
            "c.relnamespace WHERE n.nspname = %s AND c.relkind = 'r'", (schema,)).fetchall()
        state = conn.execute(f'SELECT avg(octet_length(state)) FROM "{schema}".gpureg_events').fetchone()[0]  # type: ignore[index]
    sizes = {name: int(size) for name, size in rows}
    per = {k: v / events for k, v in sizes.items() if events}
    log_tables = ("gpureg_events", "gpureg_serial_claims", "gpureg_journal_leaves", "gpureg_journal_head")
    return {"events": events, "state_bytes_avg": float(state or 0),
            "store_bytes_per_event": sum(v for k, v in per.items() if k.startswith(log_tables)),
            "all_tables_bytes_per_event": sum(per.values()),
            "by_table": {k: round(v, 1) for k, v in sorted(per.items())}}


def start_server(url: str, extra: dict[str, str]) -> tuple[subprocess.Popen[str], str, str]:
    env = {**os.environ, "GPUREG_DATABASE_URL": url, "GPUREG_LISTEN": "127.0.0.1:0",
           "GPUREG_METRICS_LISTEN": "127.0.0.1:0", "GPUREG_LOG_LEVEL": "WARNING",
           # the workload's batch lives run on the demo's planned timeline (up to 2030)
           "GPUREG_MAX_OCCURRED_AHEAD_SECONDS": str(PLANNED_TIMELINE_SECONDS), **extra}
    proc = subprocess.Popen([sys.executable, "-m", "registry.cli", "serve"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, bufsize=1)
    address = metrics = ""
    deadline = time.monotonic() + 240  # a loaded machine starts a server slowly
    assert proc.stdout is not None
    while time.monotonic() < deadline and not (address and metrics):
        line = proc.stdout.readline()
        if not line:
            break
        m = re.search(r"listening on (\S+:\d+)", line)
        address = m.group(1) if m else address
        m = METRICS.search(line)
        metrics = m.group(1) if m else metrics
    if not (address and metrics):
        proc.kill()
        raise RuntimeError("gpureg serve did not start")
    log = Path(os.environ.get("GPUREG_BENCH_LOG_DIR", "/tmp")) / f"gpureg-scaleout-{proc.pid}.log"

    def drain() -> None:  # keep reading, or a full pipe would block the server's logging
        with log.open("w") as f:
            for line in proc.stdout:  # type: ignore[union-attr]
                f.write(line)

    threading.Thread(target=drain, daemon=True).start()
    return proc, address, metrics


def stop(procs: list[subprocess.Popen[Any]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()


def run_config(url: str, servers: int, clients: int, duration: float, warmup: float, tag: str,
               extra: dict[str, str] | None = None, worker: bool = True) -> dict[str, Any]:
    procs: list[subprocess.Popen[Any]] = []
    on_pg = url.startswith("postgresql")
    try:
        started = [start_server(url, {"GPUREG_RUN_PROJECTIONS": "false" if worker else "true",
                                      "PGAPPNAME": "gpureg-serve", **(extra or {})})
                   for _ in range(servers)]
        procs += [p for p, _, _ in started]
        if worker:
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "registry.cli", "projections", "run", "--log-level", "WARNING"],
                env={**os.environ, "GPUREG_DATABASE_URL": url, "PGAPPNAME": "gpureg-worker"},
                stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT))
        addresses = [a for _, a, _ in started]
        asyncio.run(client.send_all(addresses[0], reference_steps(), concurrency=1))  # in order: parents first
        target = addresses[0] if servers == 1 else "ipv4:" + ",".join(addresses)
        server_pids = [p.pid for p, _, _ in started]
        worker_pids = [p.pid for p in procs[len(started):]]
        before = [scrape(m) for _, _, m in started]
        cpu0, pg0, t0 = tree_cpu(server_pids), postgres_cpu(), time.perf_counter()
        worker0 = tree_cpu(worker_pids)
        backends0 = backend_cpu(url) if on_pg else {}
        plans = [lazy_plan(f"{tag}c{c}", c) for c in range(clients)]
        r = asyncio.run(client.closed_loop(target, plans, duration=duration, warmup=warmup))
        wall = time.perf_counter() - t0
        cpu, pg = tree_cpu(server_pids) - cpu0, postgres_cpu() - pg0
        worker_cpu = tree_cpu(worker_pids) - worker0  # SQLite: 0, its projections are the server's child
        backends = backend_cpu_delta(backends0, backend_cpu(url)) if on_pg else {}
        after = [scrape(m) for _, _, m in started]
        delta = {k: sum(a.get(k, 0.0) - b.get(k, 0.0) for a, b in zip(after, before, strict=True))
                 for k in after[0]}
        appends = delta.get("gpureg_appends_total", 0.0)
        groups = delta.get("gpureg_append_group_size_count", 0.0)
        if r.errors and not r.completed:  # a figure of 0 commands/s would measure nothing
            raise RuntimeError(f"every command failed: {r.error_samples[:2]}")
        lat = summarize(r.latencies)
        # Every command of the window and the warm-up ran in [t0, t0 + wall]: CPU per append.
        return {
            "servers": servers, "clients": clients, "throughput": r.throughput, "completed": r.completed,
            "errors": r.errors, "error_samples": r.error_samples, "latency": lat.as_dict(),
            "server_cpu_ms_per_command": cpu / appends * 1000 if appends else None,
            "postgres_cpu_ms_per_command": pg / appends * 1000 if appends else None,
            "worker_cpu_ms_per_command": worker_cpu / appends * 1000 if appends else None,
            # the database's CPU in the backends of the servers' and of the worker's connections
            # (the rest of postgres_cpu: WAL writer, checkpointer, other sessions on the machine)
            "postgres_backends_cpu_ms_per_command": {app: v / appends * 1000 for app, v in backends.items()}
            if appends else None,
            # what the whole deployment (servers, projections, database) spends per command
            "deployment_cpu_ms_per_command": (cpu + worker_cpu + pg) / appends * 1000 if appends else None,
            "server_cpu_cores_used": cpu / wall, "postgres_cpu_cores_used": pg / wall,
            "deployment_cpu_cores_used": (cpu + worker_cpu + pg) / wall,
            "events_per_command": delta.get("gpureg_events_appended_total", 0.0) / appends if appends else None,
            "mean_group": appends / groups if groups else None,
            "lock_hold_ms_per_group": delta.get("gpureg_append_group_seconds_sum", 0.0) / groups * 1000
            if groups else None,
            "lock_hold_ms_per_command": delta.get("gpureg_append_group_seconds_sum", 0.0) / appends * 1000
            if appends else None,
        }
    finally:
        stop(procs)


def measure(*, processes: tuple[int, ...] = (1, 2, 4), clients: int = 16, duration: float = 10, warmup: float = 2,
            sqlite_dir: Path | None = None, say: Any = print) -> dict[str, Any]:
    tag = uuid4().hex[:6]
    out: dict[str, Any] = {"clients": clients, "duration": duration, "postgres": []}
    if sqlite_dir is not None:
        say(f"  SQLite, 1 server, {clients} clients (same run)")
        url = f"sqlite:///{sqlite_dir}/scaleout-{tag}.db"
        out["sqlite"] = run_config(url, 1, clients, duration, warmup, f"{tag}s", worker=False)
        say(f"    {out['sqlite']['throughput']:.0f} commands/s")
    if 1 in processes:
        # the group write of before (two round trips, leaves made by the server) side by side
        with pg_schema() as (url, schema):
            say(f"  PostgreSQL, 1 server process + 1 projection worker, {clients} clients, two-round-trip group write")
            try:
                out["postgres_two_round_trips"] = run_config(url, 1, clients, duration, warmup, f"{tag}t",
                                                             extra={"GPUREG_PG_GROUP_WRITE": "two"})
                say(f"    {out['postgres_two_round_trips']['throughput']:.0f} commands/s")
            except Exception as e:
                out["postgres_two_round_trips"] = {"error": f"{type(e).__name__}: {e}"}
    for n in processes:
        with pg_schema() as (url, schema):
            say(f"  PostgreSQL, {n} server process(es) + 1 projection worker, {clients} clients")
            try:
                row = run_config(url, n, clients, duration, warmup, f"{tag}p{n}")
            except Exception as e:  # one configuration failing (a server not starting) is reported, not fatal
                out["postgres"].append({"servers": n, "error": f"{type(e).__name__}: {e}"})
                say(f"    failed: {e}")
                continue
            row["bytes"] = bytes_per_event(schema)
            out["postgres"].append(row)
            backends = row["postgres_backends_cpu_ms_per_command"] or {}
            say(f"    {row['throughput']:.0f} commands/s, p99 {row['latency']['p99_ms']:.0f} ms, "
                f"group {row['mean_group'] or 0:.1f}, hold {row['lock_hold_ms_per_command'] or 0:.2f} ms/command; "
                f"CPU ms/command: server {row['server_cpu_ms_per_command'] or 0:.2f}, "
                f"worker {row['worker_cpu_ms_per_command'] or 0:.2f}, PostgreSQL backends of the server "
                f"{backends.get('gpureg-serve', 0):.2f} and of the worker {backends.get('gpureg-worker', 0):.2f}")
    return out


def main() -> None:
    import tempfile

    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--processes", default="1,2,4")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seconds", type=float)
    ap.add_argument("--no-sqlite", action="store_true")
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()
    duration = a.seconds or (3.0 if a.quick else 10.0)
    with tempfile.TemporaryDirectory(prefix="gpureg-scaleout-") as tmp:
        result = measure(processes=tuple(int(x) for x in a.processes.split(",")), clients=a.clients,
                         duration=duration, warmup=0.5 if a.quick else 2.0,
                         sqlite_dir=None if a.no_sqlite else Path(tmp))
    text = json.dumps(result, indent=2, default=str)
    if a.out:
        a.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
