"""The no-op baseline: a grpc.aio server with the registry's CommandService contract whose every
method answers at once (no store, no validation), run as its own process.

    python -m bench.noop_server            # prints "listening on 127.0.0.1:PORT", serves until SIGTERM

It decodes the same request messages and returns the same response types as the registry, so the
same client code at the same concurrency measures what gRPC, protobuf and asyncio cost on this
machine, and nothing else. :func:`noop_in_subprocess` starts it on a free port.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

LISTENING = re.compile(r"listening on (\S+:\d+)")


def _servicer() -> Any:
    from registry.api.v1 import commands_pb2, commands_pb2_grpc

    counter = itertools.count(1)
    service = commands_pb2.DESCRIPTOR.services_by_name["CommandService"]

    def make(response_type: Any) -> Any:
        async def method(self: Any, request: Any, context: Any) -> Any:
            return response_type(aggregate_id="00000000-0000-0000-0000-000000000000", version=1,
                                 position=next(counter), replayed=False)

        return method

    namespace = {
        m.name: make(getattr(commands_pb2, m.output_type.name)) for m in service.methods
    }
    cls = type("NoopCommandService", (commands_pb2_grpc.CommandServiceServicer,), namespace)
    return cls()


async def serve(listen: str = "127.0.0.1:0") -> None:
    import grpc

    from registry.api.v1 import commands_pb2_grpc

    limit = 64 * 1024 * 1024
    server = grpc.aio.server(options=[("grpc.max_receive_message_length", limit),
                                      ("grpc.max_send_message_length", limit)])
    commands_pb2_grpc.add_CommandServiceServicer_to_server(_servicer(), server)
    port = server.add_insecure_port(listen)
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    host = listen.rsplit(":", 1)[0]
    print(f"no-op CommandService listening on {host}:{port}", flush=True)
    await stop.wait()
    await server.stop(1)


@contextmanager
def noop_in_subprocess(startup_timeout: float = 30) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    process = subprocess.Popen([sys.executable, "-m", "bench.noop_server"], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, bufsize=1,
                               cwd=Path(__file__).resolve().parent.parent)
    found = threading.Event()
    address: list[str] = []
    output: list[str] = []

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line.rstrip())
            match = LISTENING.search(line)
            if match and not found.is_set():
                address.append(match.group(1))
                found.set()
        found.set()

    threading.Thread(target=pump, daemon=True).start()
    if not found.wait(startup_timeout) or not address:
        process.kill()
        raise RuntimeError("no-op server did not start:\n" + "\n".join(output[-20:]))
    try:
        yield address[0], process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:0"))
