"""Profile the server during one benchmark phase with py-spy (``pip install py-spy``).

    python -m bench.profile commands --store sqlite:///var/demo.db [--clients 16] [--seconds 20]
    python -m bench.profile stream   --store sqlite:///var/demo.db
    python -m bench.profile rebuild  --store sqlite:///var/demo.db     (the rebuild process itself)

Starts ``gpureg serve`` on the store (``serve_in_subprocess``; extra ``--env K=V`` are passed to
it, e.g. ``GPUREG_RUN_PROJECTIONS=false``), attaches ``py-spy record`` to it while the phase runs,
and prints the top frames (own time and inclusive). The raw samples go to ``--out``.
Use a copy of a store: the commands phase writes to it.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import shutil
import subprocess
import sys
import time
from pathlib import Path
from uuid import uuid4

import grpc

from bench import client
from bench.workload import batch_life, reference_steps


def top_frames(raw: Path, n: int = 25) -> str:
    own: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        k = int(count)
        frames = stack.split(";")
        total += k
        own[frames[-1]] += k
        for f in set(frames):
            incl[f] += k
    out = [f"{total} samples", "own time:"]
    out += [f"  {100 * k / total:5.1f}%  {f[:150]}" for f, k in own.most_common(n)]
    out.append("inclusive:")
    out += [f"  {100 * k / total:5.1f}%  {f[:150]}" for f, k in incl.most_common(2 * n)]
    return "\n".join(out)


def pyspy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(found).exists():
        raise SystemExit("py-spy is not installed: pip install py-spy")
    return found


def record(pid: int, out: Path, seconds: float, gil: bool = False) -> subprocess.Popen[bytes]:
    return subprocess.Popen([pyspy(), "record", "-p", str(pid), "-o", str(out), "-f", "raw", "-r", "100",
                             "-d", str(int(seconds)), "--nonblocking", *(["--gil"] if gil else [])],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile")
    parser.add_argument("phase", choices=["commands", "stream", "rebuild"])
    parser.add_argument("--store", required=True, help="database URL (use a copy: commands write to it)")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--env", action="append", default=[], help="K=V for the server process")
    parser.add_argument("--out", type=Path, default=Path("/tmp/gpureg-profile.txt"))
    parser.add_argument("--gil", action="store_true",
                        help="sample only the thread holding the GIL (where the CPU goes, not who waits)")
    args = parser.parse_args()
    if args.phase == "rebuild":
        subprocess.run([pyspy(), "record", "-o", str(args.out), "-f", "raw", "-r", "100", "--",
                        sys.executable, "-m", "bench.rebuild_worker", args.store], check=True)
        print(top_frames(args.out))
        return
    from registry.demo.server_process import serve_in_subprocess

    extra = dict(kv.split("=", 1) for kv in args.env)
    with serve_in_subprocess(args.store, extra_env=extra) as server:
        pid = server.process.pid
        if args.phase == "commands":
            try:
                asyncio.run(client.send_all(server.address, reference_steps()))
            except grpc.aio.AioRpcError as e:  # a demo store has them already (see docs/performance.md)
                print(f"reference data: {e.code().name}: {e.details()}")
            tag = uuid4().hex[:6]

            def plan(c: int) -> object:
                n = 0
                while True:
                    yield from client.prepare(batch_life(tag, c, n))
                    n += 1

            spy = record(pid, args.out, args.seconds, args.gil)
            time.sleep(0.5)
            r = asyncio.run(client.closed_loop(server.address, [plan(c) for c in range(args.clients)],  # type: ignore[misc]
                                               duration=args.seconds - 1, warmup=0.5))
            print(f"{r.throughput:.1f} commands/s at {args.clients} clients, {r.errors} errors")
        else:
            spy = record(pid, args.out, args.seconds, args.gil)
            time.sleep(0.5)
            s = asyncio.run(client.stream_all(server.address))
            print(f"{s.events} events in {s.seconds:.2f} s: {s.events / s.seconds:.0f} events/s")
        spy.wait()
    print(top_frames(args.out))


if __name__ == "__main__":
    main()
