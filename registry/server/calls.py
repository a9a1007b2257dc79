"""Serving one unary call: honour the deadline, run the work, map any error through the table."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc

from registry.application import commands as c
from registry.application.results import CommandResult
from registry.domain.errors import InvalidField
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


REQUEST_ID_RULE = (
    "required: a key unique to this request (e.g. a UUID), so a retry is answered with the first "
    "result instead of writing twice (AIP-155)"
)


def parse_command(model: type[C], request: Any) -> C:
    """The command a request carries, validated: every field's rules, and a ``request_id`` (every
    command over the API needs one; each violation is named, all in one refusal)."""
    data = request_data(request)
    missing = [] if str(data.get("request_id", "")).strip() else [("request_id", REQUEST_ID_RULE)]
    try:
        command = c.parse(model, data)
    except InvalidField as e:
        raise InvalidField([*missing, *e.violations]) from None
    if missing:
        raise InvalidField(missing)
    return command


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
        command = parse_command(model, request)
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
