"""Process measurements: resident memory from /proc, and a child's wall time and peak memory."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


def memory_mb(pid: int) -> dict[str, float]:
    """VmRSS (resident now) and VmHWM (peak resident) of ``pid`` in MiB, from /proc/<pid>/status."""
    out: dict[str, float] = {}
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return out
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) / 1024.0  # kB -> MiB
    return out


@dataclass
class ChildRun:
    argv: list[str]
    returncode: int
    seconds: float
    peak_rss_mb: float  # ru_maxrss of the child (its own peak resident set)
    output: str


def run_measured(argv: Sequence[str], env: dict[str, str] | None = None, cwd: Path | None = None,
                 timeout: float = 1800) -> ChildRun:
    """Run a command to completion; its wall time and peak RSS (from wait4's rusage)."""
    t0 = time.perf_counter()
    process = subprocess.Popen(list(argv), env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    chunks: list[str] = []

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            chunks.append(line)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    deadline = t0 + timeout
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            process.kill()
        time.sleep(0.01)
    seconds = time.perf_counter() - t0
    process.returncode = os.waitstatus_to_exitcode(status)
    reader.join(5)
    return ChildRun(list(argv), process.returncode, seconds, usage.ru_maxrss / 1024.0, "".join(chunks))
