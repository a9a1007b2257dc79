"""Prometheus metrics of one server or projection worker, served on a side port.

Each process has its own :class:`~prometheus_client.CollectorRegistry` (several servers in one
test process do not share counters). Gauges that describe the store (projection position and lag,
journal size) are read when Prometheus scrapes, not kept up to date by the hot path.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger("gpureg.metrics")

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """The registry's metric families (names in docs/operations.md)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.rpcs = Counter("gpureg_rpc_requests", "RPCs finished, by method and status code",
                            ["method", "code"], registry=r)
        self.rpc_seconds = Histogram("gpureg_rpc_duration_seconds", "RPC latency, by method", ["method"],
                                     buckets=LATENCY_BUCKETS, registry=r)
        self.subscriptions = Gauge("gpureg_subscriptions_open", "server-streaming calls open now",
                                   ["method"], registry=r)
        self.appends = Counter("gpureg_appends", "appends (one per command that wrote) to the event log",
                               registry=r)
        self.events = Counter("gpureg_events_appended", "events appended to the log", registry=r)
        self.events_per_command = Histogram("gpureg_events_per_command", "events one command appended",
                                            buckets=(1, 2, 3, 5, 10, 20, 50, 100, 500, 1000), registry=r)
        self.group_size = Histogram("gpureg_append_group_size", "appends committed in one PostgreSQL transaction",
                                    buckets=(1, 2, 4, 8, 16, 32, 64), registry=r)
        self.group_seconds = Histogram("gpureg_append_group_seconds",
                                       "time one group held its connection and the table lock (PostgreSQL)",
                                       buckets=LATENCY_BUCKETS, registry=r)
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    def observe_group(self, size: int, seconds: float) -> None:
        self.group_size.observe(size)
        self.group_seconds.observe(seconds)

    def observe_append(self, events: int) -> None:
        self.appends.inc()
        self.events.inc(events)
        self.events_per_command.observe(events)

    def add_collector(self, collector: Collector) -> None:
        self.registry.register(collector)

    def serve(self, listen: str) -> str:
        """Serve ``/metrics`` on ``listen`` (host:port, port 0 picks one); return host:port bound."""
        host, _, port = listen.rpartition(":")
        server, thread = start_http_server(int(port), addr=host or "127.0.0.1", registry=self.registry)
        self._server, self._thread = server, thread
        return f"{host or '127.0.0.1'}:{server.server_port}"

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class ProjectionCollector(Collector):
    """Each active projection's position and lag, read from the read models at scrape time."""

    def __init__(self, status: Callable[[], Iterable[Any]]) -> None:
        self._status = status

    def collect(self) -> Iterator[GaugeMetricFamily]:
        position = GaugeMetricFamily("gpureg_projection_position", "log position a projection has applied",
                                     labels=["projection"])
        lag = GaugeMetricFamily("gpureg_projection_lag_events", "events in the log a projection has not applied",
                                labels=["projection"])
        lag_s = GaugeMetricFamily("gpureg_projection_lag_seconds",
                                  "how long the oldest event not applied has waited", labels=["projection"])
        head = GaugeMetricFamily("gpureg_log_head", "the event log's last position")
        try:
            every = list(self._status())
        except Exception as e:  # a scrape must not fail because the store is briefly away
            log.warning("projection status unavailable: %s", e)
            return
        for r in (r for r in every if r.state == "active"):
            position.add_metric([r.name], r.position)
            lag.add_metric([r.name], r.lag_events)
            lag_s.add_metric([r.name], r.lag_seconds)
        if every:  # the log's head, whether or not a worker has taken a projection yet (one row each)
            head.add_metric([], every[0].head)
        yield from (position, lag, lag_s, head)


class JournalCollector(Collector):
    """The verifiable journal's tree size (one leaf per event) at scrape time."""

    def __init__(self, size: Callable[[], int]) -> None:
        self._size = size

    def collect(self) -> Iterator[GaugeMetricFamily]:
        g = GaugeMetricFamily("gpureg_journal_size", "leaves in the journal's Merkle tree (events journaled)")
        try:
            g.add_metric([], self._size())
        except Exception as e:
            log.warning("journal size unavailable: %s", e)
            return
        yield g
