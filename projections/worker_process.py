"""The projections of ``gpureg serve`` in a child worker process, woken on every write.

Python runs one thread at a time per process (the GIL). With the projections in a thread of
the server, every chunk they apply is time the command path waits for; on two cores the second
core stays idle. ``gpureg serve`` therefore starts ``gpureg projections run --wake-on-stdin``
as a child process by default (``GPUREG_PROJECTION_PROCESS=false`` keeps the thread), which
halved the demo load time in the benchmarks (docs/performance.md).

The child is an ordinary projection worker (the same locks, positions and standby rules as
any ``gpureg projections run``). What the parent adds:

* a wake-up: after each append the server writes one byte to the child's stdin, so a polling
  worker (SQLite) reads the log at once instead of at its next poll;
* a lifeline: the child stops when its stdin closes (the server stops it), and dies at once when
  the server dies (killed, crashed): on Linux the kernel sends it SIGKILL when the server's
  supervising thread ends (``PR_SET_PDEATHSIG``), and everywhere it checks its parent's pid
  every 0.2 s (:func:`exit_with_parent`). Its chunk's transaction rolls back; the next worker
  resumes from the position it recorded;
* supervision: a child that dies is started again (after a pause that grows while it keeps
  dying); its log goes to the server's stderr.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from types import FrameType

log = logging.getLogger(__name__)


PARENT_ENV = "GPUREG_PROJECTION_PARENT_PID"  # set for the child: the pid of the server that runs it
PARENT_POLL_SECONDS = 0.2
_PR_SET_PDEATHSIG = 1  # linux/prctl.h
_watching: list[bool] = []  # non-empty once this process watches its parent


def exit_with_parent() -> None:
    """In a child worker (``PARENT_ENV`` set): end this process as soon as its parent is gone.

    Linux: ``prctl(PR_SET_PDEATHSIG, SIGKILL)``, so the kernel kills it when the parent's thread
    that started it ends. Then (the parent may have died before that call, and other systems
    have no prctl) a thread compares ``os.getppid()`` with the parent's pid every 0.2 s."""
    raw = os.environ.get(PARENT_ENV)
    if not raw or _watching:
        return
    _watching.append(True)
    parent = int(raw)
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_SECONDS)
        log.warning("the server (pid %d) is gone: projection worker exiting", parent)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def worker_command(poll_interval: float) -> list[str]:
    """The child's command line: the same interpreter and package as this process."""
    return [sys.executable, "-m", "projections.child", "projections", "run", "--wake-on-stdin",
            "--poll-interval", str(poll_interval)]


#: How long :meth:`ProjectionProcess.stop` waits for the child to end by its closed stdin (a
#: running worker takes a few hundredths of a second) before it sends SIGTERM.
STDIN_STOP_SECONDS = 0.2


class ProjectionProcess:
    """Run, wake and supervise one child projection worker."""

    def __init__(self, env: Mapping[str, str], poll_interval: float = 0.1, stop_timeout: float = 30.0) -> None:
        self._env = {**os.environ, **env, PARENT_ENV: str(os.getpid())}
        self._command = worker_command(poll_interval)
        self._stop_timeout = stop_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._spawned_at = 0.0
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._supervisor: threading.Thread | None = None
        self.starts = 0

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None else None

    def start(self) -> None:
        with self._lock:
            if self._supervisor is not None:
                return
            self._stopping.clear()
            # The supervisor thread starts every child, the first included: the kernel's
            # parent-death signal (exit_with_parent) follows the thread that forked the child,
            # and this one lives until stop().
            spawned = threading.Event()
            self._supervisor = threading.Thread(
                target=self._supervise, args=(spawned,), name="projection-process", daemon=True)
            self._supervisor.start()
        spawned.wait()
        if self._proc is None:
            raise RuntimeError("the projection worker process could not be started (see the log)")

    def _spawn(self) -> None:
        # stdout stays quiet (the server's own stdout announces its address); logs go to stderr.
        proc = subprocess.Popen(  # noqa: S603 (our own interpreter and module, no shell)
            self._command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, env=self._env)
        assert proc.stdin is not None
        os.set_blocking(proc.stdin.fileno(), False)
        self._proc = proc
        self._spawned_at = time.monotonic()
        self.starts += 1
        log.info("projection worker process %d started", proc.pid)

    def _supervise(self, spawned: threading.Event) -> None:
        try:
            with self._lock:
                self._spawn()
        except Exception:
            log.exception("cannot start the projection worker process")
            return
        finally:
            spawned.set()
        pause = 0.5
        while not self._stopping.is_set():
            proc = self._proc
            assert proc is not None
            code = proc.wait()
            if self._stopping.is_set():
                return
            if time.monotonic() - self._spawned_at > 60:  # it ran a while: not a crash loop
                pause = 0.5
            log.error("projection worker process %d exited with %s; starting another in %.1f s",
                      proc.pid, code, pause)
            if self._stopping.wait(pause):
                return
            with self._lock:
                if self._stopping.is_set():
                    return
                self._close_stdin(proc)
                self._spawn()
            pause = min(pause * 2, 30.0)

    def wake(self) -> None:
        """The server appended to the log: let the worker read it now (never blocks)."""
        proc = self._proc
        if proc is None or proc.stdin is None:
            return
        # A full pipe means the worker has wake-ups pending; a dead one is being restarted.
        with contextlib.suppress(ValueError, OSError):
            os.write(proc.stdin.fileno(), b"w")

    def stop(self) -> None:
        """Close the lifeline (the worker finishes its chunk and exits), then wait for it."""
        with self._lock:
            self._stopping.set()
            proc = self._proc
        if proc is not None:
            self._close_stdin(proc)
            try:
                proc.wait(STDIN_STOP_SECONDS)
            except subprocess.TimeoutExpired:
                # Not stopped by the closed lifeline: it is still starting (importing, opening its
                # tables: it reads stdin only once it runs, which is most of a second after a
                # spawn) or finishing a chunk. SIGTERM stops a running worker the way the closed
                # lifeline does (after its chunk: ``stop_on_signals``) and one still starting at
                # once, as a crash would, which its stores survive (nothing of it is committed).
                with contextlib.suppress(ProcessLookupError):
                    proc.terminate()
            try:
                proc.wait(self._stop_timeout)
            except subprocess.TimeoutExpired:
                log.warning("projection worker process %d did not stop; killing it", proc.pid)
                proc.kill()
                proc.wait()
        if self._supervisor is not None:
            self._supervisor.join(5)
            self._supervisor = None

    @staticmethod
    def _close_stdin(proc: subprocess.Popen[bytes]) -> None:
        with contextlib.suppress(OSError):
            if proc.stdin is not None:
                proc.stdin.close()


def follow_stdin(wake: Callable[[], None], stop: Callable[[], None]) -> threading.Thread:
    """In the worker: call ``wake()`` for every byte on stdin and ``stop()`` at its end."""

    def read() -> None:
        fd = sys.stdin.fileno()
        while True:
            try:
                data = os.read(fd, 4096)
            except OSError:
                data = b""
            if not data:
                stop()
                return
            wake()

    thread = threading.Thread(target=read, name="wake-on-stdin", daemon=True)
    thread.start()
    return thread


def stop_on_signals(stop: Callable[[], None], signals: tuple[int, ...] | None = None) -> None:
    """Call ``stop()`` when one of ``signals`` (SIGTERM, SIGINT) arrives.

    Python runs a signal handler in the main thread between two bytecodes, possibly while that
    thread holds the internal lock of a ``threading.Event`` it is waiting on (``Event.wait``
    takes it before it sleeps and again after). ``stop()`` sets such events; called in the
    handler it would try to take a lock its own thread holds, and the worker would hang for
    ever instead of stopping (it did, once in a few hundred CI runs). So the handler only
    starts a thread that calls ``stop()``: that thread waits for the lock, which the main
    thread releases as soon as the handler returns.
    """
    def on_signal(signum: int, _frame: FrameType | None) -> None:
        threading.Thread(target=_stop_after_signal, args=(stop, signum), name="stop-on-signal",
                         daemon=True).start()

    for sig in signals if signals is not None else (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)


def _stop_after_signal(stop: Callable[[], None], signum: int) -> None:
    log.info("signal %d: stopping", signum)
    stop()
