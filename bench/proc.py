"""Process measurements: resident memory from /proc, and a child's wall time and peak memory."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


def _own_memory_mb(pid: int) -> dict[str, float]:
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


def descendants(pid: int) -> list[int]:
    """``pid``'s children, their children, and so on (Linux /proc)."""
    found: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return found
    for task in tasks:
        try:
            children = [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
        for child in children:
            found += [child, *descendants(child)]
    return found


def memory_mb(pid: int) -> dict[str, float]:
    """VmRSS (resident now) and VmHWM (peak resident) in MiB of ``pid`` and every process it
    started, summed (``gpureg serve`` runs its projections in a child process), from
    /proc/<pid>/status; ``processes`` counts them and ``own_*`` is ``pid`` alone. The summed
    peak is an upper bound: the processes need not peak at the same time."""
    own = _own_memory_mb(pid)
    if not own:
        return own
    out = dict(own)
    out["own_VmRSS"], out["own_VmHWM"] = own.get("VmRSS", 0.0), own.get("VmHWM", 0.0)
    n = 1
    for child in descendants(pid):
        theirs = _own_memory_mb(child)
        if theirs:
            n += 1
            for key in ("VmRSS", "VmHWM"):
                out[key] = out.get(key, 0.0) + theirs.get(key, 0.0)
    out["processes"] = float(n)
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
