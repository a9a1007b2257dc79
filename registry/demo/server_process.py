"""Run ``gpureg serve`` as a separate process on a free port (demo, benchmarks, e2e tests)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from registry.config import Settings

LISTENING = re.compile(r"listening on (\S+:\d+)")


@dataclass
class ServerProcess:
    address: str
    process: subprocess.Popen[str]
    output: list[str]

    def stop(self, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


# The demo and the benchmark replay a planned deployment (2026 to 2030): the server they start
# accepts occurred_at up to ten years ahead instead of the default five minutes of clock skew.
PLANNED_TIMELINE_SECONDS = 10 * 366 * 24 * 3600


def planned_settings(database_url: str) -> Settings:
    """Settings for an in-process registry that loads the planned deployment (occurred_at up to
    :data:`PLANNED_TIMELINE_SECONDS` ahead), as the server :func:`serve_in_subprocess` starts does."""
    return Settings(database_url=database_url, max_occurred_ahead_seconds=PLANNED_TIMELINE_SECONDS)


@contextmanager
def serve_in_subprocess(
    database_url: str, *, extra_env: dict[str, str] | None = None, startup_timeout: float = 60
) -> Iterator[ServerProcess]:
    """Start a server on 127.0.0.1:0, wait until it says where it listens, stop it on exit."""
    env = {**os.environ, "GPUREG_DATABASE_URL": database_url, "GPUREG_LISTEN": "127.0.0.1:0",
           "GPUREG_MAX_OCCURRED_AHEAD_SECONDS": str(PLANNED_TIMELINE_SECONDS), **(extra_env or {})}
    process = subprocess.Popen(
        [sys.executable, "-m", "registry.cli", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    output: list[str] = []
    found = threading.Event()
    address: list[str] = []

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
        raise RuntimeError("gpureg serve did not start:\n" + "\n".join(output[-30:]))
    server = ServerProcess(address[0], process, output)
    try:
        yield server
    finally:
        server.stop()
