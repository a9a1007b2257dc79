"""The demo load alone (``make bench``'s "demo load incl. projections"), side by side for two
checkouts of the code, with the CPU of each process and thread.

    python -m bench.demo_load [--scale 1.0] [--rounds 2] [--base /path/to/other/checkout] [--spy DIR]

Each round starts ``gpureg serve`` on a fresh SQLite file (``serve_in_subprocess``'s settings:
projections in the server's child process) from a checkout, and a client process of the same
checkout that does what ``bench.run.measure_demo`` does: ``load_over_grpc`` of
``korea_deployment(scale)`` with 16 calls in flight, then polls ``GetProjectionStatus`` until
every projection has caught up. Reported: the seconds to the last command answered and to the
projections caught up, and the CPU seconds of the client, the server's event-loop thread, its
command thread, its other threads and its projection child. With ``--base`` the two checkouts
alternate (base, this, this, base, ...), which on a shared machine is the only fair comparison;
CPU is disturbed by other jobs far less than wall time. ``--spy DIR`` records the server and its
child with py-spy (``pip install py-spy``; collapsed stacks by thread, ``--gil`` for the thread
holding the GIL only) into DIR; ``bench.profile.top_frames`` summarises such a file.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.proc import descendants
from bench.server_cpu import thread_cpu
from registry.demo.server_process import LISTENING, PLANNED_TIMELINE_SECONDS

TICKS = os.sysconf("SC_CLK_TCK")
HERE = Path(__file__).resolve().parent.parent

# The client's side: run with PYTHONPATH at the checkout measured, so its own demo driver is used.
CLIENT = r"""
import asyncio, json, sys, time
from registry.demo.grpc_load import load_over_grpc, wait_for_projections
from registry.demo.scenario import korea_deployment
target, scale = sys.argv[1], float(sys.argv[2])
scenario = korea_deployment(scale=scale)
print("READY", flush=True)
sys.stdin.readline()
async def go():
    t0 = time.perf_counter()
    stats = await load_over_grpc(target, scenario, concurrency=16)
    loaded = time.perf_counter() - t0
    await wait_for_projections(target, stats.last_position, interval=0.05, timeout=1800)
    return stats, loaded, time.perf_counter() - t0
stats, loaded, caught = asyncio.run(go())
print(json.dumps({"commands": stats.steps, "position": stats.last_position, "loaded": loaded,
                  "caught": caught}), flush=True)
"""


def process_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def one_round(code: Path, workdir: Path, scale: float, spy: Path | None, name: str,
              gil: bool = False) -> dict[str, float]:
    url = f"sqlite:///{workdir / f'{name}-{time.monotonic_ns()}.db'}"
    env = {**os.environ, "GPUREG_DATABASE_URL": url, "GPUREG_LISTEN": "127.0.0.1:0",
           "GPUREG_MAX_OCCURRED_AHEAD_SECONDS": str(PLANNED_TIMELINE_SECONDS), "PYTHONPATH": str(code)}
    server = subprocess.Popen([sys.executable, "-m", "registry.cli", "serve"], env=env, cwd=code,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    assert server.stdout is not None
    address = ""
    while not address:
        line = server.stdout.readline()
        if not line:
            raise RuntimeError("gpureg serve did not start")
        m = LISTENING.search(line)
        address = m.group(1) if m else ""
    threading.Thread(target=lambda: [None for _ in server.stdout], daemon=True).start()  # type: ignore[union-attr]
    spies: list[subprocess.Popen[bytes]] = []
    try:
        time.sleep(1.0)  # the projection child starts
        children = descendants(server.pid)
        client = subprocess.Popen([sys.executable, "-c", CLIENT, address, str(scale)], env=env, cwd=code,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert client.stdin is not None and client.stdout is not None
        client.stdout.readline()  # READY: the scenario is planned
        if spy is not None:
            for pid, what in [(server.pid, "server"), *((c, "child") for c in children)]:
                out = spy / f"{name}-{what}-{pid}.txt"
                spies.append(subprocess.Popen(
                    [str(Path(sys.executable).parent / "py-spy"), "record", "-p", str(pid), "-r", "100",
                     "--nonblocking", "--threads", *(["--gil"] if gil else []), "-f", "raw", "-o", str(out)],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        before = thread_cpu(server.pid)
        child_before = sum(process_cpu(c) for c in children)
        client_before = process_cpu(client.pid)
        client.stdin.write("go\n")
        client.stdin.flush()
        result = json.loads(client.stdout.readline())
        after = thread_cpu(server.pid)
        child_after = sum(process_cpu(c) for c in children)
        client_cpu = process_cpu(client.pid) - client_before
        client.wait()
    finally:
        for s in spies:
            s.send_signal(2)
        for s in spies:
            s.wait()
        server.terminate()
        server.wait(60)
    spent = {tid: after[tid] - before.get(tid, 0.0) for tid in after}
    loop = spent.pop(server.pid, 0.0)
    command = max(spent.values(), default=0.0)
    total = loop + sum(spent.values())
    return {"loaded_s": result["loaded"], "caught_s": result["caught"], "client_cpu": client_cpu,
            "loop_cpu": loop, "command_cpu": command, "other_cpu": total - loop - command,
            "child_cpu": child_after - child_before,
            "all_cpu": client_cpu + total + child_after - child_before, "commands": result["commands"]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--base", type=Path, default=None, help="another checkout to compare with")
    parser.add_argument("--spy", type=Path, default=None, help="record py-spy profiles into this directory")
    parser.add_argument("--gil", action="store_true", help="with --spy: sample only the thread holding the GIL")
    args = parser.parse_args(argv)
    codes: list[tuple[str, Path]] = ([("base", args.base.resolve())] if args.base else []) + [("this", HERE)]
    if args.spy is not None:
        args.spy.mkdir(parents=True, exist_ok=True)
    rows: dict[str, list[dict[str, float]]] = {name: [] for name, _ in codes}
    with tempfile.TemporaryDirectory(prefix="gpureg-demo-load-") as d:
        for r in range(args.rounds):
            order = codes if r % 2 == 0 else codes[::-1]
            for name, code in order:
                load = os.getloadavg()[0]
                row = one_round(code, Path(d), args.scale, args.spy, f"{name}{r + 1}", args.gil)
                rows[name].append(row)
                for f in Path(d).iterdir():
                    f.unlink() if f.is_file() else shutil.rmtree(f)
                print(f"round {r + 1} {name:5s} load {load:4.1f}  "
                      + "  ".join(f"{k} {v:.2f}" for k, v in row.items() if k != "commands"), flush=True)
    print("median:")
    for name, got in rows.items():
        med: dict[str, Any] = {k: statistics.median(x[k] for x in got) for k in got[0]}
        print(f"  {name:5s} " + "  ".join(f"{k} {v:.2f}" for k, v in med.items() if k != "commands"))


if __name__ == "__main__":
    main()
