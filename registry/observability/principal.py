"""Who made the current RPC, for the access log.

The seam for authentication (issue #12): today the caller is the actor the ``x-gpureg-actor``
interceptor (registry/server/actor.py) puts in its context variable, or ``anonymous`` when no
interceptor set one. When authenticated principals exist, this function is the one place that
reads them; the access log and metrics need no other change. It never reads credentials.
"""

from __future__ import annotations


def current_principal() -> str:
    from registry.server.actor import current_actor

    try:
        actor = current_actor()
    except (RuntimeError, ValueError):  # outside an RPC, or a malformed header (refused anyway)
        return "anonymous"
    return actor or "anonymous"
