"""Serving one unary call: honour the deadline, run the work, map any error through the table."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc

from registry.application import commands as c
from registry.application.results import CommandResult
from registry.server.actor import current_actor
from registry.server.concurrency import Blocking, LogNotifier
from registry.server.convert import request_data
from registry.server.errors import status_for

T = TypeVar("T")
C = TypeVar("C", bound=c.Command)


async def refuse_if_expired(context: Any) -> None:
    """Abort with DEADLINE_EXCEEDED, before doing anything, when the caller's deadline passed."""
    remaining = context.time_remaining()
    if remaining is not None and remaining <= 0:
        await context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, "the deadline expired before the call started")


async def answer(
    context: Any, work: Callable[[], Awaitable[T]], passthrough: tuple[type[Exception], ...] = ()
) -> T:
    """Run ``work`` for a unary RPC; a refusal ends the RPC with the status the table gives.

    ``context`` is the grpc.aio servicer context (grpc ships no type hints); exceptions in
    ``passthrough`` are re-raised for the caller to handle.
    """
    await refuse_if_expired(context)
    try:
        return await work()
    except passthrough:
        raise
    except Exception as error:  # every error is mapped, INTERNAL for bugs
        status = status_for(error)
    await context.abort_with_status(status)
    raise AssertionError("abort_with_status returned")  # pragma: no cover


async def run_command(
    request: Any,
    context: Any,
    model: type[C],
    use_case: Callable[[str, C], CommandResult],
    response: Callable[..., T],
    blocking: Blocking,
    notifier: LogNotifier,
) -> T:
    """Serve one command RPC: validate the request as ``model`` (INVALID_ARGUMENT naming each bad
    field, before anything is read), run ``use_case`` with the caller as actor on the thread pool,
    wake live subscriptions after a write, and answer with id, version and log position."""

    async def work() -> T:
        command = c.parse(model, request_data(request))
        result = await blocking(use_case, current_actor(), command)
        if not result.replayed:
            notifier.notify()
        return response(
            aggregate_id=str(result.aggregate_id),
            version=result.version,
            position=result.position,
            replayed=result.replayed,
        )

    return await answer(context, work)
