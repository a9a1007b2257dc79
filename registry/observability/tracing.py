"""OpenTelemetry traces through gRPC, the application and the stores.

- gRPC: ``opentelemetry-instrumentation-grpc``'s aio server interceptor (one server span per RPC,
  continuing a caller's ``traceparent``).
- Application: a span per blocking registry call (``gpureg.app <function>``), started on the
  worker thread in the RPC's context (registry/server/concurrency.py copies the context over).
- Stores: the read models' SQLAlchemy engine through ``opentelemetry-instrumentation-sqlalchemy``
  (a span per statement), and the event store's appends as ``gpureg.store.append`` spans (the
  PostgreSQL group commit's leader records the group size).

Export: OTLP over gRPC (``opentelemetry-exporter-otlp-proto-grpc``) when
``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``GPUREG_OTLP_ENDPOINT``) is set; the exporter's standard
``OTEL_EXPORTER_OTLP_*`` variables apply. Without it, no provider is installed and every span is a
no-op. Tests pass their own provider (an in-memory exporter).
"""

from __future__ import annotations

import os
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Tracer


def otlp_provider(endpoint: str | None, service_name: str = "gpureg") -> TracerProvider | None:
    """A provider exporting over OTLP to ``endpoint`` (or the OTEL_EXPORTER_OTLP_ENDPOINT), else None."""
    endpoint = endpoint or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    if not endpoint:
        return None
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    name = os.environ.get("OTEL_SERVICE_NAME", service_name)
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    return provider


def tracer_of(provider: TracerProvider) -> Tracer:
    return provider.get_tracer("gpureg")


def grpc_server_interceptor(provider: TracerProvider) -> Any:
    """OpenTelemetry's aio server interceptor, passing by the server-streaming handlers that write
    with ``context.write`` (health Watch): it would iterate them as async generators."""
    import inspect

    import grpc
    from opentelemetry.instrumentation.grpc import aio_server_interceptor

    traced = aio_server_interceptor(tracer_provider=provider)  # type: ignore[no-untyped-call]

    class _Tracing(grpc.aio.ServerInterceptor):  # type: ignore[misc]  # grpc ships no types
        async def intercept_service(self, continuation: Any, details: Any) -> Any:
            handler = await continuation(details)
            stream = getattr(handler, "unary_stream", None)
            if stream is not None and not inspect.isasyncgenfunction(stream):
                return handler

            async def same(_: Any) -> Any:
                return handler

            return await traced.intercept_service(same, details)

    return _Tracing()


def instrument_engine(engine: Any, provider: TracerProvider) -> None:
    """Spans for every statement of one SQLAlchemy engine (the read models')."""
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    from opentelemetry.instrumentation.sqlalchemy.version import __version__
    from opentelemetry.metrics import get_meter

    tracer = provider.get_tracer("opentelemetry.instrumentation.sqlalchemy", __version__)
    usage = get_meter("opentelemetry.instrumentation.sqlalchemy").create_up_down_counter(
        name="db.client.connections.usage", unit="connections",
        description="connections in the state given by the state attribute")
    EngineTracer(tracer, engine, usage)  # type: ignore[no-untyped-call]
