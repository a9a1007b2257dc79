"""``python -m bench`` / ``make bench``: the registry measured against baselines, in one run.

Against a ``gpureg serve`` in a separate process (``serve_in_subprocess``), on the SQLite default
and on PostgreSQL (127.0.0.1:5432, database ``test``, a fresh schema dropped after) when reachable:

1. the whole demo (``korea_deployment``) loaded through the gRPC API, until the projections have
   caught up; serials registered per second; the server's resident memory once loaded;
2. a subscriber catching up on the whole log (``SubscribeEvents`` from 0; the server's first, after
   the demo load with every projection caught up, the event stream read model included), then
   again asking for compact serials (serial sets as runs), then a second subscriber;
3. the full compliance report (``gpureg report compliance``; a proxy while it does not exist);
4. rebuilding every projection from the whole log (its own process); then the EPCIS 2.0 export of
   the whole log and its capture into a fresh store with the same reference data (events/s, its
   own process: bench/epcis_worker.py);
5. command throughput and latency at 1, 16 and 64 concurrent clients (each on its own batches);
6. a dedicated serial-registration rate (2,048 serials per command, as the demo sends them);
7. append-to-projection lag at a steady 1,000 commands/s offered (open loop), and at half the
   16-client throughput;
8. identity (``bench/auth.py``): 16-client command throughput and p99 in plaintext, with mutual
   TLS, and with bearer tokens, each on a fresh SQLite store, against plaintext in the same run.

Baselines, same run, same machine: a no-op grpc.aio server (separate process) driven by the same
client code at the same concurrency; raw ``sqlite3`` batched inserts of the demo's own event and
serial-claim rows; a raw scan-and-decode of the log. Results: a table on stdout,
``bench/results/latest.json``, ``bench/results/latest.md`` and PNG charts beside them.

    python -m bench                  # full run (about 13 minutes on 2 shared cores, most of it the demo load)
    python -m bench --quick          # smoke run (a few seconds per measurement)
    python -m bench --no-postgres    # SQLite only
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.metadata
import itertools
import json
import math
import os
import platform
import sqlite3
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import grpc
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bench import baselines, charts, client, scaleout
from bench import journal as bench_journal
from bench.compliance_report import report_command_exists, run_proxy, run_report_command
from bench.proc import memory_mb, run_measured
from bench.reports import measure_reports
from bench.stats import fmt, lag_after, ratio, summarize
from bench.workload import batch_life, reference_steps, serial_batches

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
POSTGRES_URL = os.environ.get("GPUREG_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
LEVELS = (1, 16, 64)

console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)


@dataclass(frozen=True)
class Params:
    name: str
    duration: float  # measured seconds per concurrency level
    warmup: float
    demo_scale: float
    pg_demo_scale: float
    serial_clients: int
    serial_batches_per_client: int
    serials_per_command: int
    lag_duration: float
    lag_rate: float
    lag_lanes: int
    noop_pool_batches: int  # pre-built batches per client the no-op baseline cycles through


FULL = Params("full", duration=10, warmup=2, demo_scale=1.0, pg_demo_scale=0.1, serial_clients=4,
              serial_batches_per_client=4, serials_per_command=2048, lag_duration=10, lag_rate=1000,
              lag_lanes=256, noop_pool_batches=30)
QUICK = Params("quick", duration=3, warmup=0.5, demo_scale=0.01, pg_demo_scale=0.01, serial_clients=2,
               serial_batches_per_client=1, serials_per_command=2048, lag_duration=3, lag_rate=1000,
               lag_lanes=128, noop_pool_batches=20)


def say(message: str) -> None:
    console.print(f"[dim]{time.strftime('%H:%M:%S')}[/dim] {message}")


# --------------------------------------------------------------------------- command plans
def lazy_plan(run_tag: str, client_no: int) -> Iterator[client.Prepared]:
    """Fresh batches for one client, prepared as they are needed (the registry)."""
    n = 0
    while True:
        yield from client.prepare(batch_life(run_tag, client_no, n))
        n += 1


def noop_pool(run_tag: str, batches: int) -> list[client.Prepared]:
    """The no-op baseline's commands: a pool of prepared batches, built once before timing."""
    return [p for n in range(batches) for p in client.prepare(batch_life(run_tag, 0, n))]


def pooled_plan(pool: list[client.Prepared], client_no: int) -> Iterator[client.Prepared]:
    """Cycle through the pool from a different place per client (the no-op server keeps no state)."""
    offset = (client_no * 37) % len(pool)
    return itertools.cycle(pool[offset:] + pool[:offset])


def timed_bar(label: str, seconds: float) -> tuple[Progress, Callable[[float], None]]:
    bar = Progress(TextColumn(f"  {label}"), BarColumn(), TextColumn("{task.completed:.0f}/{task.total:.0f} s"),
                   console=console, transient=True)
    task = bar.add_task(label, total=seconds)
    return bar, lambda t: bar.update(task, completed=t)


def command_levels(target: str, params: Params, run_tag: str, noop: bool) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    pool = noop_pool(f"{run_tag}n", params.noop_pool_batches) if noop else []
    for clients in LEVELS:
        tag = f"{run_tag}{'n' if noop else 'r'}{clients}"
        plans = [pooled_plan(pool, c) for c in range(clients)] if noop else [lazy_plan(tag, c) for c in range(clients)]
        bar, tick = timed_bar(f"{clients:>2} clients", params.warmup + params.duration)
        with bar:
            r = asyncio.run(client.closed_loop(target, plans, duration=params.duration, warmup=params.warmup,
                                               tick=tick))
        lat = summarize(r.latencies)
        row = {"clients": clients, "throughput": r.throughput, "completed": r.completed, "errors": r.errors,
               "seconds": r.seconds, "latency": lat.as_dict(), "error_samples": r.error_samples}
        out.append(row)
        say(f"  {clients:>2} clients: {fmt(r.throughput)} commands/s, p50 {fmt(lat.p50_ms)} ms, "
            f"p99 {fmt(lat.p99_ms)} ms, {r.errors} errors")
        if r.error_samples:
            say(f"     e.g. {r.error_samples[0]}")
    return out


# --------------------------------------------------------------------------- measurements
def measure_demo(target: str, scale: float, pid: int) -> dict[str, Any]:
    from registry.demo.grpc_load import load_over_grpc
    from registry.demo.scenario import korea_deployment

    scenario = korea_deployment(scale=scale)
    say(f"  demo at scale {scale:g}: {scenario.gpu_count:,} GPUs, {scenario.batch_count:,} batches, "
        f"{len(scenario):,} commands")
    commands: list[tuple[float, int]] = []
    watch = client.ProjectionWatch(target, interval=0.5)
    memory: list[tuple[float, float]] = []

    async def go() -> tuple[Any, float, float]:
        t0 = time.perf_counter()
        done = [0]

        def progress(n: int) -> None:
            done[0] += n
            commands.append((time.perf_counter() - t0, done[0]))
            bar.advance(task, n)

        async def sample_memory() -> None:
            while True:
                memory.append((time.perf_counter() - t0, memory_mb(pid).get("VmRSS", math.nan)))
                await asyncio.sleep(1.0)

        watcher = asyncio.create_task(watch.run())
        sampler = asyncio.create_task(sample_memory())
        stats = await load_over_grpc(target, scenario, concurrency=16, progress=progress)
        loaded = time.perf_counter()
        caught = await client.wait_caught_up(target, stats.last_position, timeout=1800)
        watch.stop()
        await watcher
        sampler.cancel()
        return stats, loaded - t0, caught - t0

    with Progress(TextColumn("  loading"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task("demo", total=len(scenario))
        stats, loaded_s, caught_s = asyncio.run(go())
    lat = summarize(stats.latencies)
    result = {
        "scale": scale, "gpus": scenario.gpu_count, "serials": scenario.serial_count,
        "batches": scenario.batch_count, "commands": stats.steps, "retries": stats.retries,
        "log_position": stats.last_position, "seconds_commands": loaded_s, "seconds_with_projections": caught_s,
        "commands_per_s": stats.steps / loaded_s if loaded_s else 0.0,
        "events_per_s": stats.last_position / caught_s if caught_s else 0.0,
        "serials_per_s": scenario.serial_count / caught_s if caught_s else 0.0,
        "latency": lat.as_dict(),
        "timeline": {
            "commands": commands[:: max(len(commands) // 400, 1)] + commands[-1:],
            "projections": [(t - _first(watch), p, h) for t, p, h in watch.observed],
            "server_rss_mb": memory,
        },
    }
    say(f"  loaded {stats.steps:,} commands in {loaded_s:.1f} s, projections caught up at {caught_s:.1f} s "
        f"({fmt(result['events_per_s'])} events/s, {fmt(result['serials_per_s'])} serials/s)")
    return result


def _first(watch: client.ProjectionWatch) -> float:
    # the watch starts with the load: its first observation is ~0 s into it
    return watch.observed[0][0] if watch.observed else 0.0


def measure_serials(target: str, params: Params, run_tag: str) -> dict[str, Any]:
    setups = [serial_batches(run_tag, c, n, params.serials_per_command)
              for c in range(params.serial_clients) for n in range(params.serial_batches_per_client)]
    asyncio.run(client.send_all(target, [s for steps in setups for s in steps[:3]]))
    per_client: list[list[client.Prepared]] = [[] for _ in range(params.serial_clients)]
    for i, steps in enumerate(setups):
        per_client[i // params.serial_batches_per_client].extend(client.prepare(steps[3:]))

    async def go() -> tuple[float, list[float]]:
        latencies: list[float] = []
        async with client.channel(target) as ch:
            from registry.api.v1 import commands_pb2_grpc

            stub = commands_pb2_grpc.CommandServiceStub(ch)

            async def one(items: list[client.Prepared]) -> None:
                for p in items:
                    t = time.perf_counter()
                    await stub.RegisterSerials(p.request, metadata=client.METADATA, timeout=300)
                    latencies.append(time.perf_counter() - t)

            t0 = time.perf_counter()
            await asyncio.gather(*(one(items) for items in per_client))
            return time.perf_counter() - t0, latencies

    seconds, latencies = asyncio.run(go())
    serials = len(setups) * params.serials_per_command
    lat = summarize(latencies)
    say(f"  {serials:,} serials in {len(setups)} commands of {params.serials_per_command:,} "
        f"({params.serial_clients} clients): {fmt(serials / seconds)} serials/s, p50 {fmt(lat.p50_ms)} ms")
    return {"serials": serials, "commands": len(setups), "clients": params.serial_clients, "seconds": seconds,
            "serials_per_s": serials / seconds, "latency": lat.as_dict()}


def measure_lag(target: str, params: Params, run_tag: str, rate: float, duration: float) -> dict[str, Any]:
    lanes = [lazy_plan(f"{run_tag}l{int(rate)}", c) for c in range(params.lag_lanes)]
    watch = client.ProjectionWatch(target, interval=0.01)

    async def go() -> tuple[client.PacedResult, float]:
        watcher = asyncio.create_task(watch.run())
        bar, tick = timed_bar(f"{fmt(rate)} commands/s offered", duration)
        with bar:
            r = await client.paced(target, lanes, rate=rate, duration=duration, tick=tick)
        top = max((p for _, p in r.responses), default=0)
        caught = await client.wait_caught_up(target, top, timeout=600, interval=0.01)
        watch.stop()
        await watcher
        return r, caught

    r, _caught = asyncio.run(go())
    lags = lag_after(r.responses, watch.positions())
    lag = summarize(lags)
    cmd = summarize(r.latencies)
    polls = len(watch.observed)
    span = (watch.observed[-1][0] - watch.observed[0][0]) if polls > 1 else 0.0
    result = {"offered_rate": rate, "duration": duration, "sent": r.sent, "completed": r.completed,
              "errors": r.errors, "not_sent": r.not_sent, "achieved_rate": r.achieved_rate, "lag": lag.as_dict(),
              "unobserved": r.completed - lag.count, "command_latency": cmd.as_dict(),
              "poll_interval_ms": 1000 * span / max(polls - 1, 1), "lanes": params.lag_lanes,
              "poll_gap_max_ms": 1000 * max((b[0] - a[0] for a, b in itertools.pairwise(watch.observed)),
                                            default=0.0)}
    say(f"  offered {fmt(rate)}/s -> achieved {fmt(r.achieved_rate)}/s ({r.completed:,} commands); "
        f"lag p50 {fmt(lag.p50_ms)} ms, p99 {fmt(lag.p99_ms)} ms (poll every ~{result['poll_interval_ms']:.0f} ms, "
        f"longest gap {result['poll_gap_max_ms']:.0f} ms)")
    return result


def measure_rebuild(url: str) -> dict[str, Any]:
    run = run_measured([sys.executable, "-m", "bench.rebuild_worker", url], cwd=REPO)
    line = next((ln for ln in run.output.splitlines() if ln.startswith("RESULT ")), None)
    if run.returncode != 0 or line is None:
        raise RuntimeError(f"rebuild failed ({run.returncode}):\n{run.output[-2000:]}")
    data = json.loads(line[len("RESULT "):])
    head = data["events"]  # events in the log (PostgreSQL positions can have gaps)
    per = data["per_projection_seconds"]
    result = {
        "events": head, "seconds": data["seconds"], "events_per_s": head / data["seconds"],
        "per_projection": {k: {"seconds": v, "events_per_s": head / v if v else None} for k, v in per.items()},
        "peak_rss_mb": run.peak_rss_mb, "process_seconds": run.seconds,
    }
    say(f"  rebuilt all {len(per)} projections over {head:,} events in {data['seconds']:.1f} s: "
        f"{fmt(result['events_per_s'])} events/s ("
        + ", ".join(f"{k} {fmt(v['events_per_s'])}/s" for k, v in result["per_projection"].items()) + ")")
    return result


def measure_epcis(url: str, scale: float, workdir: Path) -> dict[str, Any]:
    """EPCIS 2.0 export of the whole log and its capture into a fresh store (bench/epcis_worker.py)."""
    work = workdir / f"epcis-{uuid4().hex[:8]}"
    work.mkdir()
    run = run_measured([sys.executable, "-m", "bench.epcis_worker", url, str(scale), str(work)], cwd=REPO)
    line = next((ln for ln in run.output.splitlines() if ln.startswith("RESULT ")), None)
    if run.returncode != 0 or line is None:
        raise RuntimeError(f"EPCIS worker failed ({run.returncode}):\n{run.output[-2000:]}")
    data: dict[str, Any] = json.loads(line[len("RESULT "):])
    data["peak_rss_mb"] = run.peak_rss_mb
    say(f"  exported {data['events']:,} events ({data['bytes'] / 2**20:.1f} MiB, {data['units']:,} GPUs named) in "
        f"{data['export_seconds']:.2f} s: {fmt(data['export_events_per_s'])} events/s; captured them into a fresh "
        f"store in {data['capture_seconds']:.2f} s: {fmt(data['capture_events_per_s'])} events/s")
    return data


def measure_report(url: str, target: str, pid: int, workdir: Path) -> dict[str, Any]:
    r = run_report_command(url, workdir / "compliance.html") if report_command_exists() else run_proxy(target, pid)
    say(f"  compliance report \\[{r.kind}]: {r.seconds:.2f} s, peak {fmt(r.peak_mb)} MiB"
        + (f"  ({r.note})" if r.note else ""))
    return asdict(r)


# --------------------------------------------------------------------------- stores
@contextlib.contextmanager
def store_url(kind: str, workdir: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    if kind == "sqlite":
        path = workdir / f"registry-{uuid4().hex[:8]}.db"
        yield f"sqlite:///{path}", {"kind": "sqlite", "path": str(path)}
        return
    import psycopg

    schema = f"bench_{uuid4().hex[:12]}"
    sep = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{sep}schema={schema}", {"kind": "postgres", "schema": schema}
    finally:
        with contextlib.suppress(Exception), psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def postgres_unavailable() -> str | None:
    try:
        import psycopg

        with psycopg.connect(POSTGRES_URL, connect_timeout=3):
            return None
    except Exception as e:
        return f"PostgreSQL not reachable at {POSTGRES_URL}: {e}".strip()


def run_store(kind: str, params: Params, workdir: Path, run_tag: str, out: dict[str, Any]) -> None:
    from registry.demo.server_process import serve_in_subprocess

    scale = params.demo_scale if kind == "sqlite" else params.pg_demo_scale
    with store_url(kind, workdir) as (url, info):
        out["store"] = info
        with serve_in_subprocess(url) as server:
            pid = server.process.pid
            out["server_pid_memory_at_start"] = memory_mb(pid)
            say(f"[bold]{kind}[/bold]: gpureg serve on {server.address} (pid {pid})")
            say("demo load through the gRPC API")
            out["demo"] = measure_demo(server.address, scale, pid)
            out["memory_demo_loaded"] = memory_mb(pid)
            say(f"  server memory with the demo loaded: RSS {fmt(out['memory_demo_loaded'].get('VmRSS'))} MiB, "
                f"peak {fmt(out['memory_demo_loaded'].get('VmHWM'))} MiB")
            say("subscription catching up on the whole log")
            s = asyncio.run(client.stream_all(server.address))
            out["stream"] = {"events": s.events, "seconds": s.seconds, "messages": s.messages,
                             "events_per_s": s.events / s.seconds if s.seconds else 0.0}
            say(f"  {s.events:,} events in {s.seconds:.2f} s: {fmt(out['stream']['events_per_s'])} events/s")
            say("the same catch-up asking for compact serials (serial sets as runs)")
            s = asyncio.run(client.stream_all(server.address, compact_serials=True))
            out["stream_compact"] = {"events": s.events, "seconds": s.seconds, "messages": s.messages,
                                     "events_per_s": s.events / s.seconds if s.seconds else 0.0}
            say(f"  {s.events:,} events in {s.seconds:.2f} s: {fmt(out['stream_compact']['events_per_s'])} events/s")
            say("a second subscriber catching up (the server kept the first one's renderings)")
            s = asyncio.run(client.stream_all(server.address))
            out["stream_again"] = {"events": s.events, "seconds": s.seconds, "messages": s.messages,
                                   "events_per_s": s.events / s.seconds if s.seconds else 0.0}
            say(f"  {s.events:,} events in {s.seconds:.2f} s: {fmt(out['stream_again']['events_per_s'])} events/s")
            say("full compliance report")
            try:
                out["report"] = measure_report(url, server.address, pid, workdir)
            except Exception as e:
                out["report"] = {"error": f"{type(e).__name__}: {e}"}
                say(f"  [red]report failed[/red]: {e}")
            if kind == "sqlite":
                say("reports: every kind and format, and as of a past time (each in its own process)")
                try:
                    out["reports"] = measure_reports(url, workdir, say, quick=params.name == "quick")
                except Exception as e:
                    out["reports"] = {"error": f"{type(e).__name__}: {e}"}
                    say(f"  [red]reports failed[/red]: {e}")
            say("projection rebuild (own process, the server idle)")
            out["rebuild"] = measure_rebuild(url)
            say("EPCIS 2.0 export of the whole log, and its capture into a fresh store (own process)")
            try:
                out["epcis"] = measure_epcis(url, scale, workdir)
            except Exception as e:
                out["epcis"] = {"error": f"{type(e).__name__}: {e}"}
                say(f"  [red]EPCIS phase failed[/red]: {e}")
            if kind == "sqlite":
                say("gpureg journal verify over the whole demo store")
                out["journal_verify"] = bench_journal.measure_verify(url)
                out["journal_verify"]["scale"] = scale
                say(f"  {fmt(out['journal_verify'].get('events_per_s'))} events/s")
            if kind == "sqlite":
                say("raw scan-and-decode of the log (baseline)")
                scan = baselines.raw_scan_decode(url)
            else:
                say("raw scan-and-decode of the log with psycopg (baseline)")
                scan = baselines.raw_postgres_scan_decode(POSTGRES_URL, info["schema"])
            out["raw_scan"] = {"events": scan.events, "seconds": scan.seconds, "events_per_s": scan.rate}
            say(f"  {scan.events:,} events in {scan.seconds:.2f} s: {fmt(scan.rate)} events/s")
            if kind == "sqlite":  # the demo's own rows, before the command measurements add more
                measure_raw_inserts(url, workdir, out)
            say("commands, closed loop (each client on its own batches)")
            try:  # the demo registered them: this writes nothing
                asyncio.run(client.send_all(server.address, reference_steps()))
            except grpc.aio.AioRpcError as e:  # see "idempotency fingerprints" in docs/performance.md
                # the demo's reference commands hold request ids the workload's reuse with other
                # values: refused, nothing written; the workload runs on the demo's reference data
                say(f"  reference data: the demo's (the workload's own was refused, nothing written: "
                    f"{e.code().name}: {e.details()})")
            out["commands"] = command_levels(server.address, params, run_tag, noop=False)
            say("serial registration")
            out["serials"] = measure_serials(server.address, params, run_tag)
            say("append-to-projection lag, open loop")
            lag = [measure_lag(server.address, params, run_tag, params.lag_rate, params.lag_duration)]
            sixteen = next((c for c in out["commands"] if c["clients"] == 16), None)
            if sixteen and sixteen["throughput"] > 0:
                sustainable = max(round(sixteen["throughput"] * 0.5), 1)
                if sustainable < params.lag_rate:
                    lag.append(measure_lag(server.address, params, run_tag, sustainable, params.lag_duration))
            out["lag"] = lag
            out["memory_end"] = memory_mb(pid)
            say(f"  server memory at the end: RSS {fmt(out['memory_end'].get('VmRSS'))} MiB, "
                f"peak {fmt(out['memory_end'].get('VmHWM'))} MiB")


def measure_raw_inserts(url: str, workdir: Path, out: dict[str, Any]) -> None:
    say("raw sqlite3 batched inserts of the demo's rows (baseline)")
    rows = baselines.read_event_rows(url)
    ev = baselines.raw_sqlite_inserts(rows, workdir / "raw-events.db")
    claims = baselines.read_claim_rows(url)
    cl = baselines.raw_claim_inserts(claims, workdir / "raw-claims.db")
    out["raw_insert_events"] = {"rows": ev.rows, "seconds": ev.seconds, "rows_per_s": ev.rate, "batch": ev.batch,
                                "mib": ev.bytes / 2**20}
    out["raw_insert_claims"] = {"rows": cl.rows, "seconds": cl.seconds, "rows_per_s": cl.rate, "batch": cl.batch}
    say(f"  {ev.rows:,} event rows ({ev.bytes / 2**20:.1f} MiB) in {ev.seconds:.2f} s: {fmt(ev.rate)} rows/s; "
        f"{cl.rows:,} serial claims in {cl.seconds:.2f} s: {fmt(cl.rate)} rows/s")


# --------------------------------------------------------------------------- figures, targets
def figures(results: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per figure: value, its baseline, the ratio, the target and whether it is met."""
    rows: list[dict[str, Any]] = []
    noop = {r["clients"]: r for r in results.get("noop", {}).get("commands", [])}
    sq = results.get("stores", {}).get("sqlite", {})
    raw_events = sq.get("raw_insert_events", {}).get("rows_per_s")
    raw_claims = sq.get("raw_insert_claims", {}).get("rows_per_s")
    quick = results["meta"]["quick"]

    def add(store: str, metric: str, value: Any, unit: str, baseline: str = "", base: Any = None,
            target: str = "", met: bool | None = None, note: str = "") -> None:
        rows.append({"store": store, "metric": metric, "value": value, "unit": unit, "baseline": baseline,
                     "baseline_value": base, "ratio": ratio(value, base), "target": target, "met": met, "note": note})

    for store, data in results.get("stores", {}).items():
        if "skipped" in data or ("error" in data and "demo" not in data):
            continue
        for c in data.get("commands", []):
            n = c["clients"]
            base = noop.get(n, {})
            r = ratio(c["throughput"], base.get("throughput"))
            target = met = None
            if n == 16 and store == "sqlite":
                target, met = ">= 0.5 x no-op", (r is not None and r >= 0.5)  # issue 18's ratio
            who = f"{n} client" + ("s" if n != 1 else "")
            add(store, f"commands/s, {who}", c["throughput"], "cmd/s", "no-op gRPC", base.get("throughput"),
                target or "", met)
            p99 = c["latency"]["p99_ms"]
            add(store, f"p50 latency, {who}", c["latency"]["p50_ms"], "ms", "no-op gRPC",
                base.get("latency", {}).get("p50_ms"))
            t99 = m99 = None
            if n == 16 and store == "sqlite":
                t99, m99 = "<= 30 ms", p99 <= 30
            add(store, f"p99 latency, {who}", p99, "ms", "no-op gRPC", base.get("latency", {}).get("p99_ms"),
                t99 or "", m99)
        demo = data.get("demo")
        if demo:
            full = demo["scale"] >= 1.0
            note = "" if full else f"scale {demo['scale']:g} (target is for the full demo: not evaluated)"
            add(store, "demo load incl. projections", demo["seconds_with_projections"], "s", "", None,
                "<= 15 s (full demo)", (demo["seconds_with_projections"] <= 15) if full else None, note)
            add(store, "demo: events written/s", demo["events_per_s"], "events/s", "raw sqlite3 inserts", raw_events)
            add(store, "demo: serials registered/s", demo["serials_per_s"], "serials/s", "raw sqlite3 inserts",
                raw_claims)
        ser = data.get("serials")
        if ser:
            add(store, "RegisterSerials, 2,048 per command", ser["serials_per_s"], "serials/s",
                "raw sqlite3 inserts", raw_claims)
        rb = data.get("rebuild")
        scan = data.get("raw_scan", {}).get("events_per_s")
        if rb:
            n = len(rb.get("per_projection") or {})
            add(store, f"rebuild, all {n} projections", rb["events_per_s"], "events/s", "raw scan+decode", scan,
                ">= 0.5 x raw scan", (ratio(rb["events_per_s"], scan) or 0) >= 0.5)
            for name, p in rb["per_projection"].items():
                add(store, f"rebuild {name}", p["events_per_s"], "events/s", "raw scan+decode", scan)
        for lag in data.get("lag", []):
            offered = lag["offered_rate"]
            at_target = offered >= 1000
            note = f"achieved {fmt(lag['achieved_rate'])}/s of {fmt(offered)}/s offered"
            add(store, f"lag p50 @ {fmt(offered)}/s offered", lag["lag"]["p50_ms"], "ms", "", None, "", None, note)
            add(store, f"lag p99 @ {fmt(offered)}/s offered", lag["lag"]["p99_ms"], "ms", "", None,
                "<= 50 ms @ 1,000/s" if at_target else "",
                (lag["lag"]["p99_ms"] <= 50 and lag["achieved_rate"] >= 0.95 * offered) if at_target else None, note)
        ep = data.get("epcis")
        if ep and "export_events_per_s" in ep:
            add(store, "EPCIS export, whole log", ep["export_events_per_s"], "events/s", "raw scan+decode", scan,
                "", None, f"{ep['events']:,} events, {ep['units']:,} GPUs named, {ep['bytes'] / 2**20:.1f} MiB")
            add(store, "EPCIS capture into a fresh store", ep["capture_events_per_s"], "events/s",
                "demo: events written/s", (demo or {}).get("events_per_s"), "", None,
                "SQLite target; checked whole, then one command per event")
        st = data.get("stream")
        if st:
            add(store, "subscription catch-up", st["events_per_s"], "events/s", "raw scan+decode", scan,
                ">= 0.8 x raw scan", (ratio(st["events_per_s"], scan) or 0) >= 0.8,
                "a server's first catch-up, the projections caught up (the event stream read model's renderings)")
        st = data.get("stream_compact")
        if st:
            add(store, "subscription catch-up, compact serials", st["events_per_s"], "events/s", "raw scan+decode",
                scan, "", None, "opt-in: serial sets as runs (SubscribeEventsRequest.compact_serials)")
        st = data.get("stream_again")
        if st:
            add(store, "subscription catch-up, second subscriber", st["events_per_s"], "events/s",
                "raw scan+decode", scan, "", None, "the same catch-up again (also from the read model's renderings)")
        rep = data.get("report")
        if rep and "seconds" in rep:
            real = rep["kind"].startswith("gpureg")
            whole = (demo or {}).get("scale", 0) >= 1.0
            add(store, f"compliance report [{rep['kind']}]", rep["seconds"], "s", "", None, "<= 5 s",
                (rep["seconds"] <= 5) if real and whole else None,
                ("" if whole else "not the full demo: not evaluated") if real
                else "a proxy, not the report: not evaluated; see the note below")
            add(store, "compliance report peak memory", rep["peak_mb"], "MiB", "", None, "", None,
                "the report process" if rep["kind"].startswith("gpureg") else "the server's peak RSS")
        reports = data.get("reports") or {}
        whole = (demo or {}).get("scale", 0) >= 1.0
        base_pdf = (reports.get("baseline") or {}).get("compliance/pdf (WeasyPrint)") or {}
        for name, r in (reports.get("head") or {}).items():
            if "seconds" not in r:
                continue
            pdf = name.endswith("/pdf")
            limit = 60 if pdf else 5
            base = base_pdf.get("seconds") if name == "compliance/pdf" and "error" not in base_pdf else None
            add(store, f"report {name} (log head)", r["seconds"], "s", "WeasyPrint PDF" if base else "", base,
                f"<= {limit} s" + (", <= 500 MB" if pdf else ""),
                (r["seconds"] <= limit and (not pdf or r["peak_mb"] * 2**20 / 1e6 <= 500) and "error" not in r)
                if whole else None,
                f"peak {fmt(r['peak_mb'])} MiB" + (f"; WeasyPrint peak {fmt(base_pdf.get('peak_mb'))} MiB" if base
                                                   else "") + ("" if whole else "; not the full demo"))
        for name, r in (reports.get("past") or {}).items():
            if not isinstance(r, dict) or "seconds" not in r:
                continue
            if name == "checkpoints":  # made once before the past-time reports; no target of its own
                add(store, "report as-of checkpoints (gpureg report checkpoints, once)", r["seconds"], "s", "", None,
                    "", None, f"peak {fmt(r['peak_mb'])} MiB")
                continue
            add(store, f"report {name} {reports['past'].get('as_of', '')} (past)", r["seconds"], "s", "", None,
                "<= 5 s", (r["seconds"] <= 5 and "error" not in r) if whole else None,
                f"peak {fmt(r['peak_mb'])} MiB" + ("" if whole else "; not the full demo"))
        mem = data.get("memory_demo_loaded")
        if mem:
            full = (demo or {}).get("scale", 0) >= 1.0
            add(store, "server RSS, demo loaded", mem.get("VmRSS"), "MiB", "", None, "<= 400 MB",
                (mem.get("VmRSS", math.inf) * 2**20 / 1e6 <= 400) if full else None,
                f"peak {fmt(mem.get('VmHWM'))} MiB"
                + (f"; {int(mem['processes'])} processes (server {fmt(mem.get('own_VmRSS'))} MiB)"
                   if mem.get("processes", 1) > 1 else "")
                + ("" if full else "; not the full demo: not evaluated"))
    pg16 = next((c for c in results.get("stores", {}).get("postgres", {}).get("commands", []) if c["clients"] == 16),
                None)
    sq16 = next((c for c in sq.get("commands", []) if c["clients"] == 16), None)
    if pg16 and sq16:
        r = ratio(pg16["throughput"], sq16["throughput"])
        add("postgres", "commands/s, 16 clients, vs SQLite", pg16["throughput"], "cmd/s", "SQLite, same run",
            sq16["throughput"], ">= 1.0 x SQLite", r is not None and r >= 1.0)
    so = results.get("scaleout", {})
    so_sqlite = (so.get("sqlite") or {}).get("throughput")
    for row in so.get("postgres", []):
        n = row["servers"]
        if "error" in row:
            add("postgres", f"scale-out: {n} server processes, 16 clients", None, "cmd/s", "", None, "", None,
                row["error"])
            continue
        add("postgres", f"scale-out: {n} server process{'es' if n > 1 else ''}, 16 clients", row["throughput"],
            "cmd/s", "1 SQLite server, same run", so_sqlite, ">= 1.0 x SQLite" if n == 1 else "",
            (ratio(row["throughput"], so_sqlite) or 0) >= 1.0 if n == 1 and so_sqlite else None,
            f"p99 {fmt(row['latency']['p99_ms'])} ms; group {fmt(row.get('mean_group'))}; server CPU "
            f"{fmt(row.get('server_cpu_ms_per_command'))} ms/cmd; projection worker CPU "
            f"{fmt(row.get('worker_cpu_ms_per_command'))} ms/cmd; PostgreSQL CPU "
            f"{fmt(row.get('postgres_cpu_ms_per_command'))} ms/cmd; lock hold "
            f"{fmt(row.get('lock_hold_ms_per_command'))} ms/cmd; {fmt(row['bytes']['store_bytes_per_event'])} B/event")
        two = so.get("postgres_two_round_trips") or {}
        if n == 1 and "throughput" in two:
            add("postgres", "scale-out: 1 server process, 16 clients, one-round-trip group write", row["throughput"],
                "cmd/s", "two-round-trip group write, same run", two["throughput"], "", None,
                f"p99 {fmt(row['latency']['p99_ms'])} vs {fmt(two['latency']['p99_ms'])} ms; lock hold seen by "
                f"the server {fmt(row.get('lock_hold_ms_per_group'))} vs {fmt(two.get('lock_hold_ms_per_group'))} "
                f"ms/group; server CPU {fmt(row.get('server_cpu_ms_per_command'))} vs "
                f"{fmt(two.get('server_cpu_ms_per_command'))} ms/cmd")
        if n == 1 and row.get("deployment_cpu_ms_per_command") is not None:
            sq_cpu = (so.get("sqlite") or {}).get("deployment_cpu_ms_per_command")
            add("postgres", "scale-out: CPU per command, whole deployment (servers, projection worker, "
                "PostgreSQL)", row["deployment_cpu_ms_per_command"], "ms", "1 SQLite server with its "
                "projections, same run", sq_cpu, "", None,
                f"{fmt(row.get('deployment_cpu_cores_used'))} of the machine's {os.cpu_count()} cores in use")
    journal = results.get("journal", {})
    for kind, label in (("sqlite", "sqlite"), ("memory", "sqlite :memory:"), ("postgres", "postgres")):
        a = journal.get(f"append_{kind}")
        if a:
            add(label, "journal: commands/s with the tree", a["with_tree_per_s"], "cmd/s", "same run without the tree",
                a["without_tree_per_s"], ">= 0.95 x without" if kind != "memory" else "",
                a["ratio"] >= 0.95 if kind != "memory" else None,
                f"{a['commands']} demo commands in {a['rounds']} alternating rounds; median round ratio "
                f"{a['median_round_ratio']:.3f}" + ("; no fsync: the CPU cost alone" if kind == "memory" else ""))
    jv = results.get("stores", {}).get("sqlite", {}).get("journal_verify")
    if jv and "events_per_s" in jv:
        full = jv.get("scale", 0) >= 1.0
        add("sqlite", "gpureg journal verify, whole store", jv["events_per_s"], "events/s", "", None,
            ">= 100,000 events/s (full demo)", (jv["events_per_s"] >= 100_000) if full else None,
            f"{jv['events']:,} events, best of {jv['repeats']}"
            + ("" if full else "; not the full demo: not evaluated"))
    auth = [a for a in results.get("auth", []) if "throughput" in a]
    plain = next((a for a in auth if a["mode"] == "plaintext"), None)
    for a in auth:
        base = plain["throughput"] if plain and a is not plain else None
        r = ratio(a["throughput"], base)
        checked = a["mode"] in ("mutual TLS", "token over TLS")
        add("sqlite", f"commands/s, 16 clients, {a['mode']}", a["throughput"], "cmd/s",
            "plaintext" if base else "", base, ">= 0.9 x plaintext" if checked else "",
            (r is not None and r >= 0.9) if checked else None)
        add("sqlite", f"p99 latency, 16 clients, {a['mode']}", a["latency"]["p99_ms"], "ms",
            "plaintext" if base else "", plain["latency"]["p99_ms"] if base and plain else None)
    if quick:
        for r in rows:
            if r["met"] is not None:
                r["note"] = (r["note"] + "; " if r["note"] else "") + "quick run: indicative only"
    return rows


def markdown(results: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    meta = results["meta"]
    lines = [
        f"# Benchmark results ({meta['mode']} run, {meta['started']})",
        "",
        f"Machine: {meta['machine']['cpu_model']}, {meta['machine']['cores']} cores (shared), "
        f"{meta['machine']['memory_gib']:.1f} GiB RAM, load average {meta['machine']['loadavg_before']} before / "
        f"{meta['machine'].get('loadavg_after', '?')} after. Python {meta['python']}, SQLite {meta['sqlite']}, "
        f"PostgreSQL {meta.get('postgres_version') or 'not measured'}; "
        + ", ".join(f"{k} {v}" for k, v in meta["packages"].items()) + f". Run took {meta.get('seconds', 0):.0f} s.",
        "",
        "| store | metric | value | baseline | baseline value | ratio | target | met |",
        "|---|---|--:|---|--:|--:|---|---|",
    ]
    for r in rows:
        met = "" if r["met"] is None else ("**met**" if r["met"] else "**missed**")
        note = f" ({r['note']})" if r["note"] else ""
        lines.append(
            f"| {r['store']} | {r['metric']}{note} | {fmt(r['value'])} {r['unit']} | {r['baseline']} | "
            f"{fmt(r['baseline_value'])} | {fmt(r['ratio'])} | {r['target']} | {met} |"
        )
    skipped = [f"- {k}: {v['skipped']}" for k, v in results.get("stores", {}).items() if "skipped" in v]
    if skipped:
        lines += ["", "Skipped:", *skipped]
    errors = [f"- {k}: {v['error']}" for k, v in results.get("stores", {}).items() if "error" in v]
    if errors:
        lines += ["", "Errors:", *errors]
    notes = {v["report"]["note"] for v in results.get("stores", {}).values()
             if isinstance(v.get("report"), dict) and v["report"].get("note")}
    if notes:
        lines += ["", "Compliance report: " + " ".join(sorted(notes)) + "."]
    lines += ["", "Charts: `latency.png` (latency and throughput per concurrency), `demo_load.png` (load progress).",
              ""]
    return "\n".join(lines)


def print_table(rows: list[dict[str, Any]]) -> None:
    from rich.table import Table

    table = Table(title="gpureg benchmark (ratio = value / baseline)")
    for col in ("store", "metric", "value", "baseline", "ratio", "target", "met"):
        table.add_column(col, justify="right" if col in ("value", "ratio") else "left")
    for r in rows:
        met = "" if r["met"] is None else ("[green]met[/green]" if r["met"] else "[red]missed[/red]")
        base = f"{r['baseline']} {fmt(r['baseline_value'])}" if r["baseline"] else ""
        table.add_row(r["store"], r["metric"], f"{fmt(r['value'])} {r['unit']}", base, fmt(r["ratio"]),
                      r["target"], met)
    console.print(table)


# --------------------------------------------------------------------------- meta
def machine() -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = 0.0
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = int(line.split()[1]) / 2**20
    return {"cpu_model": cpu, "cores": os.cpu_count(), "memory_gib": mem, "kernel": platform.release(),
            "loadavg_before": " ".join(f"{x:.2f}" for x in os.getloadavg())}


def postgres_version() -> str | None:
    try:
        import psycopg

        with psycopg.connect(POSTGRES_URL, connect_timeout=3) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            return str(row[0]) if row else None
    except Exception:
        return None


def packages() -> dict[str, str]:
    out = {}
    for name in ("eventsourcing", "grpcio", "protobuf", "SQLAlchemy", "psycopg"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            out[name] = importlib.metadata.version(name)
    return out


# --------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: a few seconds per measurement")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--demo-scale", type=float, help="override the SQLite demo's scale")
    parser.add_argument("--pg-demo-scale", type=float, help="override the PostgreSQL demo's scale")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results directory (default bench/results)")
    parser.add_argument("--from-json", type=Path, help="re-render the table and charts of a results JSON, run nothing")
    args = parser.parse_args(argv)
    if args.from_json:
        return render(json.loads(args.from_json.read_text()), args.out, "quick" if "quick" in args.from_json.name
                      else "latest")
    params = QUICK if args.quick else FULL
    if args.demo_scale or args.pg_demo_scale:
        from dataclasses import replace

        params = replace(params, demo_scale=args.demo_scale or params.demo_scale,
                         pg_demo_scale=args.pg_demo_scale or params.pg_demo_scale)
    started = time.perf_counter()
    run_tag = uuid4().hex[:6]
    results: dict[str, Any] = {
        "meta": {"mode": params.name, "quick": args.quick, "params": asdict(params),
                 "started": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine(),
                 "python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
                 "postgres_version": None, "packages": packages(), "run_tag": run_tag},
        "noop": {}, "stores": {},
    }
    say(f"gpureg benchmark, {params.name} run (tag {run_tag}); results go to {args.out}")
    stores = ["sqlite"]
    if args.no_postgres:
        results["stores"]["postgres"] = {"skipped": "--no-postgres"}
    else:
        why = postgres_unavailable()
        if why:
            results["stores"]["postgres"] = {"skipped": why}
            say(f"[yellow]PostgreSQL skipped[/yellow]: {why}")
        else:
            stores.append("postgres")
            results["meta"]["postgres_version"] = postgres_version()
    with tempfile.TemporaryDirectory(prefix="gpureg-bench-") as tmp:
        workdir = Path(tmp)
        from bench.noop_server import noop_in_subprocess

        say("[bold]baseline[/bold]: no-op grpc.aio CommandService in its own process, same client")
        with noop_in_subprocess() as (address, _process):
            results["noop"]["commands"] = command_levels(address, params, run_tag, noop=True)
        for kind in stores:
            out: dict[str, Any] = {}
            results["stores"][kind] = out
            try:
                run_store(kind, params, workdir, run_tag, out)
            except Exception as e:
                out["error"] = f"{type(e).__name__}: {e}"
                say(f"[red]{kind} failed[/red]: {e}")
                traceback.print_exc()
        if "postgres" in stores:
            say("[bold]scale-out[/bold]: 1, 2 and 4 gpureg serve processes on one PostgreSQL (16 clients, one "
                "round-robin address), and one SQLite server in the same run")
            try:
                results["scaleout"] = scaleout.measure(processes=(1, 2, 4), clients=16, duration=params.duration,
                                                       warmup=params.warmup, sqlite_dir=workdir, say=say)
            except Exception as e:
                results["scaleout"] = {"error": f"{type(e).__name__}: {e}"}
                say(f"[red]scale-out phase failed[/red]: {e}")
        try:
            results["journal"] = bench_journal.run(
                workdir, quick=args.quick, postgres_url=POSTGRES_URL if "postgres" in stores else None,
                verify=False, say=say)
        except Exception as e:
            results["journal"] = {"error": f"{type(e).__name__}: {e}"}
            say(f"[red]journal phase failed[/red]: {e}")
        say("[bold]identity[/bold]: 16 clients in plaintext, with mutual TLS and with bearer tokens (SQLite)")
        from bench.auth import measure_auth

        try:
            results["auth"] = measure_auth(
                workdir, params.duration, params.warmup, lambda tag, c: lazy_plan(run_tag + tag, c),
                reference_steps(), say)
        except Exception as e:
            results["auth"] = [{"error": f"{type(e).__name__}: {e}"}]
            say(f"[red]identity phase failed[/red]: {e}")
            traceback.print_exc()
    results["meta"]["seconds"] = time.perf_counter() - started
    results["meta"]["machine"]["loadavg_after"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return render(results, args.out, "quick" if args.quick else "latest")


def render(results: dict[str, Any], out: Path, stem: str) -> int:
    """Write ``<stem>.json``, ``<stem>.md`` and the charts; print the table."""
    rows = figures(results)
    results["figures"] = rows
    out.mkdir(parents=True, exist_ok=True)
    prefix = "" if stem == "latest" else f"{stem}-"
    (out / f"{stem}.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    (out / f"{stem}.md").write_text(markdown(results, rows))
    try:
        charts.latency_chart(results, out / f"{prefix}latency.png")
        charts.load_chart(results, out / f"{prefix}demo_load.png")
    except Exception as e:
        say(f"[yellow]charts not drawn[/yellow]: {e}")
    print_table(rows)
    if stem == "latest" and not results["meta"].get("quick"):
        from bench.readme import update

        update(results)  # the README's figures come from this run
    missed = [r for r in rows if r["met"] is False]
    say(f"done in {results['meta'].get('seconds', 0):.0f} s; {len(missed)} target(s) missed; "
        f"wrote {out / (stem + '.json')} and {out / (stem + '.md')}")
    failed = [k for k, v in results["stores"].items() if "error" in v]
    return 1 if failed else 0
