"""Who is calling: the one seam between transport identity and the actor recorded on events.

Until authentication exists, the caller names itself in the ``x-gpureg-actor`` request header;
without it the configured default actor (``Settings.default_actor``, ``GPUREG_DEFAULT_ACTOR``,
"anonymous" unless set) is recorded. :class:`ActorInterceptor` is the only code that reads the
header: authentication replaces this interceptor, and the servicers keep calling
:func:`current_actor`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

import grpc

from registry.domain.errors import InvalidField

ACTOR_HEADER = "x-gpureg-actor"
MAX_ACTOR_LENGTH = 200

_actor: ContextVar[str | InvalidField | None] = ContextVar("gpureg_actor", default=None)


def current_actor() -> str:
    """The caller of the RPC being served; InvalidField when the header was malformed."""
    actor = _actor.get()
    if isinstance(actor, InvalidField):
        raise actor
    if actor is None:
        raise RuntimeError("current_actor() called outside an RPC served through ActorInterceptor")
    return actor


def actor_from_metadata(metadata: Any, default: str) -> str | InvalidField:
    """The actor named by the request header, or ``default``; an InvalidField if malformed."""
    value = ""
    for key, item in metadata or ():
        if key == ACTOR_HEADER:
            value = item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item)
    value = value.strip()
    if not value:
        return default
    if len(value) > MAX_ACTOR_LENGTH or not value.isprintable():
        return InvalidField.one(
            ACTOR_HEADER, f"an actor is 1 to {MAX_ACTOR_LENGTH} printable characters"
        )
    return value


class ActorInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]  # grpc ships no types
    """Puts the caller identity of each RPC into a context variable for the servicers.

    grpc.aio runs the interceptors and the handler of one RPC in the same ``contextvars``
    context, so a value set here is what the handler sees.
    """

    def __init__(self, default_actor: str) -> None:
        if not default_actor.strip():
            raise InvalidField.one("default_actor", "must not be empty")
        self._default = default_actor.strip()

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        _actor.set(actor_from_metadata(handler_call_details.invocation_metadata, self._default))
        return await continuation(handler_call_details)
