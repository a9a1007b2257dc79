"""The observability of one process, built by the composition root (registry/bootstrap.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Tracer

from registry.observability.metrics import JournalCollector, Metrics, ProjectionCollector


@dataclass
class Observability:
    """Metrics (None: no side port), the access log switch, and a tracer provider (None: no traces)."""

    metrics_listen: str | None = None
    access_log: bool = False
    tracer_provider: TracerProvider | None = None
    metrics: Metrics = field(default_factory=Metrics)
    metrics_address: str | None = None  # host:port bound, once serving

    @property
    def tracer(self) -> Tracer | None:
        return self.tracer_provider.get_tracer("gpureg") if self.tracer_provider is not None else None

    def server_interceptors(self) -> list[Any]:
        """The outer ones, before authentication: metrics and the access log see every call,
        refused ones included."""
        from registry.observability.access import ObservingInterceptor

        return [ObservingInterceptor(self.metrics, self.access_log)]

    def inner_interceptors(self) -> list[Any]:
        """The inner ones, after authentication: the trace span of an admitted call. Inside,
        because OpenTelemetry's aio interceptor iterates a server-streaming handler, so it must
        see the servicer's own async generators, not the context.write form the authentication
        interceptor gives subscriptions (per-message stall timeouts); such handlers pass through
        untraced."""
        if self.tracer_provider is None:
            return []
        from registry.observability.tracing import grpc_server_interceptor

        return [grpc_server_interceptor(self.tracer_provider)]

    def watch_registry(self, registry: Any) -> None:
        """Count appends and events per command; time PostgreSQL's append groups; trace appends."""
        recorder = registry.recorder
        group = getattr(recorder, "group_commit", None)
        if group is not None:
            group.observers.append(self.metrics.observe_group)
        insert = recorder.insert_events
        observe = self.metrics.observe_append
        tracer = self.tracer

        def observed_insert(stored_events: Any, **kwargs: Any) -> Any:
            if tracer is None:
                ids = insert(stored_events, **kwargs)
            else:
                with tracer.start_as_current_span("gpureg.store.append") as span:
                    span.set_attribute("gpureg.events", len(stored_events))
                    ids = insert(stored_events, **kwargs)
                    if ids:
                        span.set_attribute("gpureg.position", max(ids))
            if stored_events:
                observe(len(stored_events))
            return ids

        # The event store calls recorder.insert_events: this instance's wrapper sees every append.
        setattr(recorder, "insert_events", observed_insert)  # noqa: B010

    def watch_read_models(self, status: Any) -> None:
        """``status()``: the read models' projection_status (position, lag) at scrape time."""
        self.metrics.add_collector(ProjectionCollector(status))

    def watch_journal(self, journal: Any) -> None:
        def size() -> int:
            with journal.cursor() as cur:
                head = journal.tables.read_head(cur)
            return int(head.size) if head is not None else 0

        self.metrics.add_collector(JournalCollector(size))

    def instrument_engine(self, engine: Any) -> None:
        if self.tracer_provider is not None:
            from registry.observability.tracing import instrument_engine

            instrument_engine(engine, self.tracer_provider)

    def start(self) -> str | None:
        if self.metrics_listen is not None and self.metrics_address is None:
            self.metrics_address = self.metrics.serve(self.metrics_listen)
        return self.metrics_address

    def close(self) -> None:
        self.metrics.close()
        self.metrics_address = None
        if self.tracer_provider is not None:
            self.tracer_provider.force_flush()
