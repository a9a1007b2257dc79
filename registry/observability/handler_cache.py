"""The one shape every interceptor of the server shares: wrap a method's handler, once per method.

grpc.aio asks each interceptor for a method's handler on every call; an interceptor that wrapped
it anew each time paid for building the wrapper (closures, a new ``RpcMethodHandler``) on every
call. :class:`WrappingInterceptor` keeps, per method, the inner handler it was given and the
wrapper it built, and builds again only when the inner handler is another object (as when a
tracing interceptor further in hands out its own).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import grpc


class WrappingInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]  # grpc ships no types
    """Subclasses say which handlers they wrap (:meth:`_wraps`) and how (:meth:`_wrap`)."""

    def __init__(self) -> None:
        #: method -> (the inner handler, the handler wrapping it)
        self._wrapped: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    def _wraps(self, handler: grpc.RpcMethodHandler) -> bool:
        return True

    def _wrap(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        raise NotImplementedError

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None or not self._wraps(handler):
            return handler
        method: str = handler_call_details.method
        cached = self._wrapped.get(method)
        if cached is not None and cached[0] is handler:
            return cached[1]
        wrapped = self._wrap(handler, method)
        self._wrapped[method] = (handler, wrapped)
        return wrapped
