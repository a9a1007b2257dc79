"""Serving one unary call: honour the deadline, run the work, map any error through the table."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc

from registry.server.errors import status_for

T = TypeVar("T")


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
