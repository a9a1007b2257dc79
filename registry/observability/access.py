"""One interceptor for what every RPC tells an operator: metrics, a JSON access log, a trace span.

Outermost of the server's interceptors, so it also sees the calls the decoding interceptor refuses.
Per RPC it records the method, status code and duration (Prometheus), and when the access log is on
writes one JSON record with method, principal, status, duration, request_id and the log position
a command returned. It logs no request bodies and no metadata (tokens travel there).

The wrapped handler is built once per method (:mod:`registry.observability.handler_cache`), and
the metrics' label children once per label values (:class:`RpcMetrics`), so a call pays for
neither (prometheus_client's ``labels()`` takes a lock and validates the labels each time).
"""

from __future__ import annotations

import inspect
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import grpc
import structlog

from registry.observability.handler_cache import WrappingInterceptor
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


#: a status code's number (grpc.aio's ``context.code()`` answers with cygrpc's int enum) -> its StatusCode
_CODES: dict[int, grpc.StatusCode] = {c.value[0]: c for c in grpc.StatusCode}


def _code_of(context: Any, error: BaseException | None) -> grpc.StatusCode:
    code = None
    try:
        code = context.code()
    except Exception:  # an older grpc without ServicerContext.code()
        code = None
    if isinstance(code, grpc.StatusCode):
        return code
    if isinstance(code, int):
        return _CODES.get(int(code), grpc.StatusCode.UNKNOWN)
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


class RpcMetrics:
    """The per-RPC metric children of one :class:`Metrics`, looked up once per label values.
    Label values come from methods the server has a handler for and the status codes, so the
    caches are as bounded as prometheus_client's own children."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        self._counts: dict[tuple[str, str], Any] = {}
        self._seconds: dict[str, Any] = {}

    def finished(self, method: str, code: str, seconds: float) -> None:
        """One RPC ended with ``code`` after ``seconds``."""
        count = self._counts.get((method, code))
        if count is None:
            count = self._counts[(method, code)] = self.metrics.rpcs.labels(method, code)
        count.inc()
        latency = self._seconds.get(method)
        if latency is None:
            latency = self._seconds[method] = self.metrics.rpc_seconds.labels(method)
        latency.observe(seconds)


class ObservingInterceptor(WrappingInterceptor):
    def __init__(self, metrics: Metrics | None, access_log: bool) -> None:
        super().__init__()
        self._metrics = metrics
        self._rpc = RpcMetrics(metrics) if metrics is not None else None
        self._log = access_logger() if access_log else None

    def _done(self, method: str, context: Any, started: float, request: Any, response: Any,
              error: BaseException | None) -> None:
        took = time.perf_counter() - started
        code = _code_of(context, error)
        if self._rpc is not None:
            self._rpc.finished(method, code.name, took)
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

    def _wrap(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
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
