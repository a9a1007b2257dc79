"""Undecodable request bytes are bad input: INVALID_ARGUMENT, never UNKNOWN.

grpc.aio reports a request its deserializer cannot parse as UNKNOWN ("Unexpected DecodeError").
:class:`RequestDecodingInterceptor` wraps each unary-request handler so a parse failure reaches
the handler as a marker, which ends the call with INVALID_ARGUMENT through the error table.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from google.protobuf.message import DecodeError

from registry.domain.errors import InvalidField
from registry.server.errors import status_for


class _Undecodable:
    def __init__(self, error: InvalidField) -> None:
        self.error = error


def _safe(deserialize: Callable[[bytes], Any], method: str) -> Callable[[bytes], Any]:
    def deserializer(raw: bytes) -> Any:
        try:
            return deserialize(raw)
        except DecodeError as e:
            return _Undecodable(InvalidField.one("(request)", f"not a valid {method} request message: {e}"))

    return deserializer


async def _refuse(request: _Undecodable, context: Any) -> None:
    await context.abort_with_status(status_for(request.error))


class RequestDecodingInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]  # grpc ships no types
    """Turns an unparseable unary request into INVALID_ARGUMENT (see the module docstring)."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None or handler.request_streaming or handler.request_deserializer is None:
            return handler
        deserializer = _safe(handler.request_deserializer, handler_call_details.method)
        if handler.unary_unary is not None and inspect.iscoroutinefunction(handler.unary_unary):
            unary = handler.unary_unary

            async def unary_unary(request: Any, context: Any) -> Any:
                if isinstance(request, _Undecodable):
                    await _refuse(request, context)
                return await unary(request, context)

            return grpc.unary_unary_rpc_method_handler(
                unary_unary,
                request_deserializer=deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None and inspect.isasyncgenfunction(handler.unary_stream):
            streaming = handler.unary_stream

            async def unary_stream(request: Any, context: Any) -> AsyncIterator[Any]:
                if isinstance(request, _Undecodable):
                    await _refuse(request, context)
                async for message in streaming(request, context):
                    yield message

            return grpc.unary_stream_rpc_method_handler(
                unary_stream,
                request_deserializer=deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None and inspect.iscoroutinefunction(handler.unary_stream):
            writer = handler.unary_stream  # a handler that writes with context.write (health Watch)

            async def unary_stream_writer(request: Any, context: Any) -> Any:
                if isinstance(request, _Undecodable):
                    await _refuse(request, context)
                return await writer(request, context)

            return grpc.unary_stream_rpc_method_handler(
                unary_stream_writer,
                request_deserializer=deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler
