"""The server's side of the demo's commands, in process: CPU per command type.

    python -m bench.demo_command_cpu [--scale 0.2] [--profile]

Each step of the demo (``korea_deployment``) is made into its gRPC request by the client's code
(``registry.demo.grpc_load.to_request``) and serialized beforehand; then, on a fresh SQLite store
with the collector tuned as ``gpureg serve`` tunes it, every request goes through what the server
does with it: decode the bytes, ``parse_command`` (``request_data`` and validation), and the use
case (load, decide, encode, write). The command thread's CPU time (``time.thread_time``, which
other jobs on a shared machine disturb far less than wall time) is reported per command type. Not
included: gRPC's own work, the event loop, the projections. To compare two versions of the code,
run each alternately (e.g. from two ``git archive`` copies, with ``PYTHONPATH`` at each) and
compare the lowest figure per type. ``--profile`` prints a cProfile in CPU time.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from registry.bootstrap import build_registry
from registry.demo.grpc_load import to_request
from registry.demo.load import COMMANDS
from registry.demo.scenario import DEMO_ACTOR, korea_deployment
from registry.demo.server_process import planned_settings
from registry.runtime import tune_for_serving
from registry.server.calls import parse_command


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--scale", type=float, default=0.2)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    requests = []
    for step in korea_deployment(scale=args.scale).steps():
        message = to_request(step)
        requests.append((step.method, type(message), message.SerializeToString()))
    with tempfile.TemporaryDirectory() as work:
        registry = build_registry(planned_settings(f"sqlite:///{Path(work) / 'demo.db'}"))
        tune_for_serving()
        cpu: dict[str, float] = defaultdict(float)
        count: dict[str, int] = defaultdict(int)
        profile = cProfile.Profile(time.thread_time) if args.profile else None
        started = time.thread_time()
        try:
            for method, cls, raw in requests:
                t0 = time.thread_time()
                if profile is not None:
                    profile.enable()
                command = parse_command(COMMANDS[method], cls.FromString(raw))
                getattr(registry, method)(DEMO_ACTOR, command)
                if profile is not None:
                    profile.disable()
                cpu[method] += time.thread_time() - t0
                count[method] += 1
        finally:
            registry.close()
        total = time.thread_time() - started
    if profile is not None:
        pstats.Stats(profile).sort_stats("tottime").print_stats(40)
    print(f"scale {args.scale:g}: {len(requests):,} commands, command thread CPU {total:.2f} s")
    for method in sorted(cpu, key=lambda m: -cpu[m]):
        each = 1000 * cpu[method] / count[method]
        print(f"  {method:24s} {count[method]:6,d}  {cpu[method]:6.2f} s  {each:6.2f} ms each")


if __name__ == "__main__":
    main()
