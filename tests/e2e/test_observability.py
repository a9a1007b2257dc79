"""What an operator sees of a real server: Prometheus metrics on the side port (scraped over HTTP
and parsed with prometheus_client's own parser), one JSON access-log line per RPC, and
OpenTelemetry traces from the gRPC call through the application to the stores (in-memory exporter)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families

from registry.api.v1 import commands_pb2 as c
from registry.api.v1 import commands_pb2_grpc, events_pb2, events_pb2_grpc, queries_pb2, queries_pb2_grpc
from registry.bootstrap import build_server
from registry.config import Settings


class Served:
    def __init__(self, settings: Settings, provider: TracerProvider | None = None) -> None:
        self.server = build_server(settings, tracer_provider=provider)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(timeout=60)
        self.channel = grpc.insecure_channel(self.server.address)
        self.commands = commands_pb2_grpc.CommandServiceStub(self.channel)
        self.queries = queries_pb2_grpc.QueryServiceStub(self.channel)
        self.events = events_pb2_grpc.EventServiceStub(self.channel)

    def scrape(self) -> dict[str, Any]:
        address = self.server.observability.metrics_address
        assert address is not None
        with urllib.request.urlopen(f"http://{address}/metrics", timeout=10) as r:
            text = r.read().decode()
        return {f.name: f for f in text_string_to_metric_families(text)}

    def stop(self) -> None:
        self.channel.close()
        try:
            asyncio.run_coroutine_threadsafe(self.server.stop(0), self.loop).result(timeout=60)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=30)
            self.server.registry.close()


@pytest.fixture
def spans() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def served(store_url: str, spans: InMemorySpanExporter) -> Iterator[Served]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    s = Served(Settings(database_url=store_url, listen="127.0.0.1:0", metrics_listen="127.0.0.1:0",
                        access_log=True, projection_process=False, subscription_poll_seconds=0.2), provider)
    yield s
    s.stop()


def party(n: int, request_id: str = "") -> c.RegisterPartyRequest:
    return c.RegisterPartyRequest(name=f"Operator {n}", country="KR", roles=["operator"],
                                  headquarters_country="KR", request_id=request_id or str(uuid.uuid4()))


def _sample(families: dict[str, Any], family: str, name: str, **labels: str) -> float:
    for s in families[family].samples:
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
            return float(s.value)
    raise AssertionError(f"no sample {name}{labels} in {family}")


def test_metrics_count_rpcs_by_method_and_code_and_report_appends_projections_and_journal(served: Served) -> None:
    for n in range(3):
        served.commands.RegisterParty(party(n), timeout=30)
    with pytest.raises(grpc.RpcError) as bad:
        served.commands.RegisterParty(c.RegisterPartyRequest(request_id=str(uuid.uuid4()), name="", country="KR"), timeout=30)
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    head = int(served.server.registry.head())
    served.queries.GetProjectionStatus(queries_pb2.GetProjectionStatusRequest(), timeout=30)

    deadline = time.monotonic() + 30  # a worker takes its projections a moment after the server starts
    m = served.scrape()
    while not list(m["gpureg_projection_position"].samples) and time.monotonic() < deadline:
        time.sleep(0.2)
        m = served.scrape()
    method = "/registry.api.v1.CommandService/RegisterParty"
    assert _sample(m, "gpureg_rpc_requests", "gpureg_rpc_requests_total", method=method, code="OK") == 3
    assert _sample(m, "gpureg_rpc_requests", "gpureg_rpc_requests_total", method=method,
                   code="INVALID_ARGUMENT") == 1
    assert _sample(m, "gpureg_rpc_duration_seconds", "gpureg_rpc_duration_seconds_count", method=method) == 4
    assert _sample(m, "gpureg_rpc_duration_seconds", "gpureg_rpc_duration_seconds_bucket", method=method,
                   le="+Inf") == 4
    assert _sample(m, "gpureg_appends", "gpureg_appends_total") == 3
    assert _sample(m, "gpureg_events_appended", "gpureg_events_appended_total") == head
    assert _sample(m, "gpureg_events_per_command", "gpureg_events_per_command_count") == 3
    assert _sample(m, "gpureg_journal_size", "gpureg_journal_size") == head
    assert _sample(m, "gpureg_log_head", "gpureg_log_head") == head
    positions = list(m["gpureg_projection_position"].samples)
    lags = list(m["gpureg_projection_lag_events"].samples)
    assert positions and all(0 <= s.value <= head for s in positions)
    assert {s.labels["projection"] for s in lags} == {s.labels["projection"] for s in positions}


def test_open_subscriptions_are_a_gauge_that_falls_back_when_they_end(served: Served) -> None:
    served.commands.RegisterParty(party(1), timeout=30)
    stream = served.events.SubscribeEvents(events_pb2.SubscribeEventsRequest(), timeout=30)
    next(iter(stream))
    method = "/registry.api.v1.EventService/SubscribeEvents"
    assert _sample(served.scrape(), "gpureg_subscriptions_open", "gpureg_subscriptions_open", method=method) == 1
    stream.cancel()
    for _ in range(100):
        if _sample(served.scrape(), "gpureg_subscriptions_open", "gpureg_subscriptions_open", method=method) == 0:
            break
        threading.Event().wait(0.05)
    assert _sample(served.scrape(), "gpureg_subscriptions_open", "gpureg_subscriptions_open", method=method) == 0


def test_each_rpc_writes_one_json_access_line_with_method_principal_status_duration_request_id_and_position(
    served: Served, capsys: pytest.CaptureFixture[str],
) -> None:
    ok = served.commands.RegisterParty(party(7, request_id="req-obs-1"), timeout=30,
                                       metadata=[("x-gpureg-actor", "officer@ministry")])
    with pytest.raises(grpc.RpcError):
        served.commands.RegisterParty(c.RegisterPartyRequest(name="", country="KR", request_id="req-obs-2"),
                                      timeout=30)
    lines: list[dict[str, Any]] = []
    rpcs: list[dict[str, Any]] = []
    for _ in range(100):  # an aborted call's status reaches the client before the server's line is written
        lines += [json.loads(x) for x in capsys.readouterr().err.splitlines() if x.startswith("{")]
        rpcs = [x for x in lines if x.get("event") == "rpc" and x.get("method", "").endswith("/RegisterParty")]
        if len(rpcs) >= 2:
            break
        threading.Event().wait(0.05)
    assert len(rpcs) == 2, lines
    first, second = rpcs
    assert first["principal"] == "officer@ministry"
    assert first["status"] == "OK" and first["request_id"] == "req-obs-1" and first["position"] == ok.position
    assert first["duration_ms"] > 0
    assert second["status"] == "INVALID_ARGUMENT" and second["request_id"] == "req-obs-2"
    assert second["principal"] == "anonymous" and "position" not in second


def test_a_trace_runs_from_the_grpc_call_through_the_application_to_both_stores(
    served: Served, spans: InMemorySpanExporter,
) -> None:
    done = served.commands.RegisterParty(party(3), timeout=30)
    served.queries.ListBatches(queries_pb2.ListBatchesRequest(min_position=done.position), timeout=30)
    finished = spans.get_finished_spans()
    rpc = next(s for s in finished if s.name == "/registry.api.v1.CommandService/RegisterParty")
    app = next(s for s in finished if s.name == "gpureg.app register_party")
    store = next(s for s in finished if s.name == "gpureg.store.append")
    assert app.context.trace_id == rpc.context.trace_id and app.parent.span_id == rpc.context.span_id
    assert store.context.trace_id == rpc.context.trace_id and store.parent.span_id == app.context.span_id
    assert store.attributes["gpureg.position"] == done.position
    query = next(s for s in finished if s.name == "/registry.api.v1.QueryService/ListBatches")
    sql = [s for s in finished if s.context.trace_id == query.context.trace_id
           and (s.attributes.get("db.statement") or s.attributes.get("db.query.text"))]
    assert sql, "no SQLAlchemy span in the query's trace"
