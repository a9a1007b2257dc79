"""Who is calling: the actor recorded on the events an RPC writes.

:class:`registry.server.auth.AuthInterceptor` sets it for each call from the authenticated
principal (its subject). Only in development mode (plaintext on a loopback address, no
credentials configured; ``gpureg serve`` says so loudly) may a caller name itself in the
``x-gpureg-actor`` header, falling back to ``Settings.default_actor``; anywhere else the header
is ignored. Servicers call :func:`current_actor`.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

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
        raise RuntimeError("current_actor() called outside an RPC served through AuthInterceptor")
    return actor


def set_actor(actor: str | InvalidField) -> None:
    """Record the caller of the RPC being served (grpc.aio runs interceptors and the handler of
    one RPC in the same ``contextvars`` context)."""
    _actor.set(actor)


def actor_from_metadata(metadata: Any, default: str) -> str | InvalidField:
    """Development mode only: the actor named by the request header, or ``default``; an
    InvalidField if malformed."""
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
