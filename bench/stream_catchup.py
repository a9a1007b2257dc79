"""A SubscribeEvents client catching up on a whole store, end to end, side by side.

    python -m bench.stream_catchup (--db PATH | --postgres) [--scale 0.5] [--rounds 3]
                                   [--baseline-tree DIR] [--compact-serials] [--nothing-kept]

Loads the demo at ``--scale`` into ``--db`` unless that SQLite store exists (with ``--postgres``:
into a fresh schema of the bench's PostgreSQL, dropped after), starts ``gpureg serve`` on it (and,
with ``--baseline-tree``, a second server running the source tree in DIR, for example ``git archive
<commit> | tar -x -C DIR``, on the same store), then, alternating between the servers for
``--rounds`` rounds, subscribes from position 0 until caught up (:func:`bench.client.stream_all`)
and records the wall time, the server process's CPU time (``/proc/<pid>/stat``; on PostgreSQL the
database's own CPU is not in it) and this client process's CPU time. With ``--compact-serials``
the current server is also asked for serial runs instead of expanded serials; with
``--nothing-kept`` a third server of this tree keeps no renderings (every catch-up renders the log). The raw scan and
decode of the same store is measured in between. Prints, per contender, the best events/s by
wall time and the least CPU per event (milliseconds per thousand events) of server and client,
and the same for the first round alone (a server's first catch-up: later ones may be served from
the renderings it kept, ``EventRenderer``'s ``keep_bytes``).

Before the first round every server's projections have applied the whole log (the current tree's
include the event stream read model, the renderings its projection worker keeps: a first catch-up
after the demo load is sent from them, as in ``make bench``); the seconds that took are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench import baselines, client, run
from registry.demo.server_process import ServerProcess, serve_in_subprocess

TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float:
    """User plus system CPU seconds of process ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def ensure_store(url: str, scale: float) -> None:
    if url.startswith("sqlite:///") and Path(url.removeprefix("sqlite:///")).exists():
        return
    from registry.bootstrap import build_registry
    from registry.demo.load import load_in_process
    from registry.demo.scenario import korea_deployment
    from registry.demo.server_process import planned_settings

    registry = build_registry(planned_settings(url))
    try:
        load_in_process(registry, korea_deployment(scale=scale))
    finally:
        registry.close()


@contextlib.contextmanager
def servers(url: str, baseline: Path | None, nothing_kept: bool = False) -> Iterator[dict[str, ServerProcess]]:
    with contextlib.ExitStack() as stack:
        running = {"current": stack.enter_context(serve_in_subprocess(url))}
        if nothing_kept:  # every catch-up renders every event, as a server's first one does
            running["current, nothing kept"] = stack.enter_context(
                serve_in_subprocess(url, extra_env={"GPUREG_SUBSCRIPTION_KEPT_MIB": "0"}))
        if baseline is not None:
            # PYTHONSAFEPATH: not the working directory (this tree) first on the path, as -m puts it
            env = {"PYTHONPATH": str(baseline.resolve()), "PYTHONSAFEPATH": "1"}
            running["baseline"] = stack.enter_context(serve_in_subprocess(url, extra_env=env))
        yield running


def catch_up(server: ServerProcess, compact: bool) -> dict[str, Any]:
    pid = server.process.pid
    server_cpu, client_cpu = process_cpu(pid), time.process_time()
    result = asyncio.run(client.stream_all(server.address, compact_serials=compact))
    return {"events": result.events, "seconds": result.seconds,
            "server_cpu": process_cpu(pid) - server_cpu, "client_cpu": time.process_time() - client_cpu}


def log_head(url: str) -> int:
    from registry.bootstrap import build_registry
    from registry.demo.server_process import planned_settings

    registry = build_registry(planned_settings(url))
    try:
        return registry.head()
    finally:
        registry.close()


def measure(url: str, scan: Callable[[], Any], rounds: int, baseline: Path | None,
            compact_serials: bool, nothing_kept: bool = False) -> dict[str, list[dict[str, Any]]]:
    runs: dict[str, list[dict[str, Any]]] = {}
    head = log_head(url)
    with servers(url, baseline, nothing_kept) as running:
        for name, server in running.items():  # the projections caught up, as after the demo load
            started = time.perf_counter()
            asyncio.run(client.wait_caught_up(server.address, head, timeout=1800))
            print(f"{name}: projections caught up with position {head:,} after {time.perf_counter() - started:.1f} s")
        contenders = [(name, False) for name in running]
        if compact_serials:
            contenders.append(("current", True))
        for _ in range(rounds):
            raw = scan()
            runs.setdefault("raw scan+decode", []).append(
                {"events": raw.events, "seconds": raw.seconds, "server_cpu": 0.0, "client_cpu": 0.0})
            for name, compact in contenders:
                label = f"{name}{', compact serials' if compact else ''}"
                runs.setdefault(label, []).append(catch_up(running[name], compact))
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.stream_catchup")
    store = parser.add_mutually_exclusive_group(required=True)
    store.add_argument("--db", type=Path)
    store.add_argument("--postgres", action="store_true")
    parser.add_argument("--scale", type=float, default=0.5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline-tree", type=Path)
    parser.add_argument("--compact-serials", action="store_true")
    parser.add_argument("--nothing-kept", action="store_true",
                        help="also a server of this tree that keeps no renderings (subscription_kept_mib=0)")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        if args.postgres:
            url, info = stack.enter_context(run.store_url("postgres", Path()))
            scan = functools.partial(baselines.raw_postgres_scan_decode, run.POSTGRES_URL, info["schema"])
        else:
            url = f"sqlite:///{args.db}"
            scan = functools.partial(baselines.raw_scan_decode, url)
        ensure_store(url, args.scale)
        runs = measure(url, scan, args.rounds, args.baseline_tree, args.compact_serials, args.nothing_kept)
    raw = max(r["events"] / r["seconds"] for r in runs["raw scan+decode"])
    events = runs["raw scan+decode"][0]["events"]
    print(f"{events:,} events in the store, best of {args.rounds}:")
    print(f"  {'':28s} {'events/s':>10s} {'x raw':>6s} {'server ms/1k':>13s} {'client ms/1k':>13s}"
          f" {'1st events/s':>13s} {'1st x raw':>10s} {'1st server':>11s}")
    first_raw = runs["raw scan+decode"][0]["events"] / runs["raw scan+decode"][0]["seconds"]
    for label, rs in runs.items():
        rate = max(r["events"] / r["seconds"] for r in rs)
        server_ms = min(1e6 * r["server_cpu"] / r["events"] for r in rs)
        client_ms = min(1e6 * r["client_cpu"] / r["events"] for r in rs)
        # the first round: the server's first catch-up (nothing rendered before; later rounds may
        # use renderings it kept), against the raw scan of the same round
        first = rs[0]["events"] / rs[0]["seconds"]
        print(f"  {label:28s} {rate:10,.0f} {rate / raw:6.3f} {server_ms:13.1f} {client_ms:13.1f}"
              f" {first:13,.0f} {first / first_raw:10.3f} {1e6 * rs[0]['server_cpu'] / rs[0]['events']:11.1f}")


if __name__ == "__main__":
    main()
