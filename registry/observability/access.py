"""One interceptor for what every RPC tells an operator: metrics, a JSON access log, a trace span.

Outermost of the server's interceptors, so it also sees the calls the decoding interceptor refuses.
Per RPC it records the method, status code and duration (Prometheus), and when the access log is on
writes one JSON record with method, principal, status, duration, request_id and the log position
a command returned. It logs no request bodies and no metadata (tokens travel there).
"""

from __future__ import annotations

import inspect
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import grpc
import structlog

from registry.observability.metrics import Metrics
from registry.observability.principal import current_principal


class _Stderr:
    """Whatever sys.stderr is at the time of writing (a redirect after start-up is followed)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def access_logger() -> Any:
    """A structlog logger writing one JSON object per line to stderr (independent of stdlib logging)."""
    return structlog.wrap_logger(
        structlog.PrintLogger(_Stderr()),  # type: ignore[arg-type]
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.JSONRenderer(sort_keys=True),
        ],
        cache_logger_on_first_use=True,
    ).bind(logger="gpureg.access")


def _code_of(context: Any, error: BaseException | None) -> grpc.StatusCode:
    code = None
    try:
        code = context.code()
    except Exception:  # an older grpc without ServicerContext.code()
        code = None
    if isinstance(code, grpc.StatusCode):
        return code
    if isinstance(code, int):
        return next((c for c in grpc.StatusCode if c.value[0] == code), grpc.StatusCode.UNKNOWN)
    if error is None:
        return grpc.StatusCode.OK
    if isinstance(error, BaseException) and type(error).__name__ in ("AbortError", "CancelledError"):
        return grpc.StatusCode.CANCELLED if type(error).__name__ == "CancelledError" else grpc.StatusCode.UNKNOWN
    return grpc.StatusCode.UNKNOWN


def _request_id(request: Any) -> str:
    rid = getattr(request, "request_id", "")
    return rid if isinstance(rid, str) else ""


def _position(response: Any) -> int | None:
    for name in ("position", "log_position"):
        value = getattr(response, name, None)
        if isinstance(value, int) and value:
            return value
    return None


class ObservingInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]  # grpc ships no types
    def __init__(self, metrics: Metrics | None, access_log: bool) -> None:
        self._metrics = metrics
        self._log = access_logger() if access_log else None

    def _done(self, method: str, context: Any, started: float, request: Any, response: Any,
              error: BaseException | None) -> None:
        took = time.perf_counter() - started
        code = _code_of(context, error)
        if self._metrics is not None:
            self._metrics.rpcs.labels(method, code.name).inc()
            self._metrics.rpc_seconds.labels(method).observe(took)
        if self._log is not None:
            record: dict[str, Any] = {
                "method": method, "principal": current_principal(), "status": code.name,
                "duration_ms": round(took * 1000, 3), "request_id": _request_id(request),
            }
            position = _position(response)
            if position is not None:
                record["position"] = position
            self._log.info("rpc", **record)

    @contextmanager
    def _stream_open(self, method: str, context: Any, request: Any) -> Iterator[None]:
        """One server stream, either shape (an async generator, or context.write): counted open
        while it runs, then logged and measured like any call."""
        started = time.perf_counter()
        error: BaseException | None = None
        if self._metrics is not None:
            self._metrics.subscriptions.labels(method).inc()
        try:
            yield
        except BaseException as e:
            error = e
            raise
        finally:
            if self._metrics is not None:
                self._metrics.subscriptions.labels(method).dec()
            self._done(method, context, started, request, None, error)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        method = handler_call_details.method
        if handler.unary_unary is not None:
            inner = handler.unary_unary

            async def unary(request: Any, context: Any) -> Any:
                started = time.perf_counter()
                response = error = None
                try:
                    response = await inner(request, context)
                    return response
                except BaseException as e:
                    error = e
                    raise
                finally:
                    self._done(method, context, started, request, response, error)

            return grpc.unary_unary_rpc_method_handler(
                unary, request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer)
        if handler.unary_stream is not None and not inspect.isasyncgenfunction(handler.unary_stream):
            writer = handler.unary_stream  # writes with context.write (health Watch; subscriptions under auth)

            async def write(request: Any, context: Any) -> Any:
                with self._stream_open(method, context, request):
                    return await writer(request, context)

            return grpc.unary_stream_rpc_method_handler(
                write, request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer)
        if handler.unary_stream is not None:
            inner_stream = handler.unary_stream

            async def stream(request: Any, context: Any) -> AsyncIterator[Any]:
                with self._stream_open(method, context, request):
                    async for item in inner_stream(request, context):
                        yield item

            return grpc.unary_stream_rpc_method_handler(
                stream, request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer)
        return handler  # client- and bidi-streaming: none in this API
