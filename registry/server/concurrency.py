"""How the asyncio server meets the blocking registry: a thread pool, and a wake-up signal.

The registry (eventsourcing, SQLite/PostgreSQL drivers) blocks; the gRPC server is asyncio.
Every registry call runs on a bounded thread pool (:class:`Blocking`) so the event loop keeps
serving; commands run on their own :class:`CommandLane`. :class:`LogNotifier` lets live
subscriptions wake as soon as this process has written events, instead of waiting for their
next poll of the log (writes by other processes are found by that poll).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, Protocol, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


class Durability(Protocol):
    """What makes a commit durable after the fact (registry/infrastructure/durability.py's
    :class:`~registry.infrastructure.durability.WalSync`): ``request(done)`` calls ``done(None)``
    once everything committed before the request is on disk, or ``done(error)``."""

    def request(self, done: Callable[[BaseException | None], None]) -> None: ...


class Blocking:
    """Runs blocking calls on a bounded thread pool and awaits them.

    The worker thread hands its result to the event loop itself (one ``call_soon_threadsafe``),
    rather than through ``run_in_executor``'s chained concurrent and asyncio futures: the same
    answer for less work on the loop, which serves every call of the process."""

    _durability: Durability | None = None

    def __init__(self, workers: int, name: str = "gpureg-io", tracer: Any = None) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        self._tracer = tracer  # an OpenTelemetry tracer: a span per call (registry/observability)

    async def __call__(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        loop = asyncio.get_running_loop()
        settled: asyncio.Future[R] = loop.create_future()
        call = functools.partial(fn, *args, **kwargs)
        if self._tracer is not None:
            call = functools.partial(self._traced, fn, call)
        # The call runs in a copy of the RPC's context: its trace (and any context variable) goes along.
        work = self._executor.submit(
            _run_and_post, loop, settled, contextvars.copy_context(), call, self._durability)
        try:
            return await settled
        except asyncio.CancelledError:
            work.cancel()  # not started yet: it never runs (as run_in_executor's future would)
            raise

    def _traced(self, fn: Callable[..., R], call: Callable[[], R]) -> R:
        name = getattr(fn, "__name__", type(fn).__name__)
        with self._tracer.start_as_current_span(f"gpureg.app {name}"):
            return call()

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


class CommandLane(Blocking):
    """The threads that run commands. With ``durability`` (a SQLite store's group fsync, see
    registry/infrastructure/durability.py), a call returns only once what it wrote is on disk;
    the lane's thread meanwhile runs the next command. The lane's thread asks for the fsync as
    soon as the command returns, and the sync thread's answer is the one wake-up of the event
    loop (not one for the result and another for the fsync)."""

    def __init__(self, workers: int, durability: Durability | None = None, tracer: Any = None) -> None:
        super().__init__(workers, name="gpureg-command", tracer=tracer)
        self._durability = durability


def _run_and_post(
    loop: asyncio.AbstractEventLoop, settled: asyncio.Future[R], context: contextvars.Context,
    call: Callable[[], R], durability: Durability | None,
) -> None:
    """On the worker thread: run ``call`` in ``context``; then (after ``durability``'s fsync,
    if any) settle ``settled`` on ``loop`` with its result or error."""
    try:
        result = context.run(call)
    except BaseException as error:  # the awaiting coroutine raises it
        _post(loop, settled, None, error)
        return
    if durability is None:
        _post(loop, settled, result, None)
        return
    try:
        durability.request(lambda error: _post(loop, settled, result, error))
    except BaseException as error:  # a closed WAL sync: not acknowledged
        _post(loop, settled, None, error)


def _post(loop: asyncio.AbstractEventLoop, settled: asyncio.Future[R], result: R | None,
          error: BaseException | None) -> None:
    if loop.is_closed():  # the server is gone: nobody awaits (as asyncio.wrap_future does)
        return
    loop.call_soon_threadsafe(_settle, settled, result, error)


def _settle(settled: asyncio.Future[R], result: R | None, error: BaseException | None) -> None:
    if settled.done():  # the awaiting call was cancelled
        return
    if error is None:
        settled.set_result(result)  # type: ignore[arg-type]
    else:
        settled.set_exception(error)


class LogNotifier:
    """Wakes every waiting subscription when this process has appended to the log.

    A waiter takes a :meth:`token` *before* it reads the log and then waits on that token, so a
    write that lands between its read and its wait still wakes it. Use it from the event loop only.
    """

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self._closed = False
        self._listeners: list[Callable[[], None]] = []

    def add_listener(self, listener: Callable[[], None]) -> None:
        """Also call ``listener`` (quick, thread-safe) on every write, e.g. to wake projections."""
        self._listeners.append(listener)

    @property
    def closed(self) -> bool:
        return self._closed

    def token(self) -> asyncio.Event:
        return self._event

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()
        for listener in self._listeners:
            listener()

    def close(self) -> None:
        """The server is stopping: wake everyone, and let them see :attr:`closed`."""
        self._closed = True
        self.notify()

    async def wait(self, token: asyncio.Event, timeout: float) -> bool:
        """True when woken by a write (or close), False after ``timeout`` seconds."""
        if self._closed:
            return True
        try:
            async with asyncio.timeout(max(timeout, 0.0)):
                await token.wait()
        except TimeoutError:
            return False
        return True
