"""Undecodable request bytes are bad input: INVALID_ARGUMENT, never UNKNOWN.

grpc.aio reports a request its deserializer cannot parse as UNKNOWN ("Unexpected DecodeError",
with the parser's exception text). :class:`RequestDecodingInterceptor` wraps every method
handler of the server (the registry's services, health, reflection) so a parse failure reaches
the handler as a marker, which ends the call with INVALID_ARGUMENT through the error table. It
covers each handler shape grpc.aio accepts: coroutine, async generator, a coroutine writing with
``context.write``, and plain functions (the generated base classes' UNIMPLEMENTED stubs), for
unary and streamed requests (a streamed request is refused at its first undecodable message).
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
from google.protobuf.message import DecodeError

from registry.domain.errors import InvalidField
from registry.observability.handler_cache import WrappingInterceptor
from registry.server.errors import status_for


class _Undecodable:
    def __init__(self, error: InvalidField) -> None:
        self.error = error


def _safe(deserialize: Callable[[bytes], Any], method: str) -> Callable[[bytes], Any]:
    def deserializer(raw: bytes) -> Any:
        try:
            return deserialize(raw)
        except (DecodeError, ValueError, TypeError, RuntimeError):  # no parser text reaches the client
            return _Undecodable(InvalidField.one(
                "(request)", f"not a valid {method} request: the bytes are not a protobuf message of its type"))

    return deserializer


async def _refuse(request: _Undecodable, context: Any) -> None:
    await context.abort_with_status(status_for(request.error))


async def _result(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


async def _unimplemented(context: Any) -> None:
    await context.abort(grpc.StatusCode.UNIMPLEMENTED, "this server does not implement the method")


async def _messages(produced: Any) -> AsyncIterator[Any]:
    """What a streaming handler produced, as one async iterator (async or sync generator; a
    coroutine that wrote with ``context.write`` yields nothing here)."""
    if inspect.isawaitable(produced):
        produced = await produced
    if produced is None:
        return
    if hasattr(produced, "__aiter__"):
        async for message in produced:
            yield message
    else:
        for message in produced:
            yield message


async def _checked(requests: Any, context: Any) -> AsyncIterator[Any]:
    async for request in requests:
        if isinstance(request, _Undecodable):
            await _refuse(request, context)
        yield request


def _wrap(handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
    deserializer = _safe(handler.request_deserializer, method)
    serializer = handler.response_serializer
    if handler.unary_unary is not None:
        unary = handler.unary_unary

        if inspect.iscoroutinefunction(unary):  # the servicers' methods: awaited without a helper
            async def unary_unary(request: Any, context: Any) -> Any:
                if isinstance(request, _Undecodable):
                    await _refuse(request, context)
                try:
                    return await unary(request, context)
                except NotImplementedError:
                    await _unimplemented(context)
        else:
            async def unary_unary(request: Any, context: Any) -> Any:
                if isinstance(request, _Undecodable):
                    await _refuse(request, context)
                try:
                    return await _result(unary(request, context))
                except NotImplementedError:  # a generated base class's stub
                    await _unimplemented(context)

        return grpc.unary_unary_rpc_method_handler(
            unary_unary, request_deserializer=deserializer, response_serializer=serializer)
    if handler.unary_stream is not None and inspect.iscoroutinefunction(handler.unary_stream):
        writer = handler.unary_stream  # writes with context.write (health Watch)

        async def unary_stream_writer(request: Any, context: Any) -> Any:
            if isinstance(request, _Undecodable):
                await _refuse(request, context)
            return await writer(request, context)

        return grpc.unary_stream_rpc_method_handler(
            unary_stream_writer, request_deserializer=deserializer, response_serializer=serializer)
    if handler.unary_stream is not None:
        streaming = handler.unary_stream

        async def unary_stream(request: Any, context: Any) -> AsyncIterator[Any]:
            if isinstance(request, _Undecodable):
                await _refuse(request, context)
            async for message in _messages(streaming(request, context)):
                yield message

        return grpc.unary_stream_rpc_method_handler(
            unary_stream, request_deserializer=deserializer, response_serializer=serializer)
    if handler.stream_unary is not None:
        collecting = handler.stream_unary

        async def stream_unary(requests: Any, context: Any) -> Any:
            return await _result(collecting(_checked(requests, context), context))

        return grpc.stream_unary_rpc_method_handler(
            stream_unary, request_deserializer=deserializer, response_serializer=serializer)
    if handler.stream_stream is not None:
        both = handler.stream_stream

        async def stream_stream(requests: Any, context: Any) -> AsyncIterator[Any]:
            async for message in _messages(both(_checked(requests, context), context)):
                yield message

        return grpc.stream_stream_rpc_method_handler(
            stream_stream, request_deserializer=deserializer, response_serializer=serializer)
    return handler


class RequestDecodingInterceptor(WrappingInterceptor):
    """Turns an unparseable request into INVALID_ARGUMENT (see the module docstring); methods
    whose requests are not deserialized are left as they are."""

    def _wraps(self, handler: grpc.RpcMethodHandler) -> bool:
        return handler.request_deserializer is not None

    def _wrap(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        return _wrap(handler, method)
