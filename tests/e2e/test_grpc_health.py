"""grpc.health.v1: the server and each API service report SERVING."""

from __future__ import annotations

from grpc_health.v1 import health_pb2

from registry.server.app import API_SERVICES
from tests.e2e.conftest import Stubs


def test_the_server_and_each_api_service_report_serving(api: Stubs) -> None:
    for service in ("", *API_SERVICES):
        response = api.health.Check(health_pb2.HealthCheckRequest(service=service), timeout=30)
        assert response.status == health_pb2.HealthCheckResponse.SERVING, service


def test_a_health_watch_streams_the_current_status(api: Stubs) -> None:
    watch = api.health.Watch(health_pb2.HealthCheckRequest(service=API_SERVICES[0]), timeout=30)
    first = next(watch)
    watch.cancel()
    assert first.status == health_pb2.HealthCheckResponse.SERVING
