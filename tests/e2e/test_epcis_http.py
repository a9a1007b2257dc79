"""The EPCIS 2.0 REST binding on a real uvicorn server (port 0), called with httpx."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import httpx
import pytest

from registry.bootstrap import build_epcis_http
from registry.epcis.export import document
from registry.epcis.http import EpcisHttpServer
from registry.epcis.sources import batch_events
from tests.builders import make_world
from tests.e2e.conftest import RunningServer
from tests.epcis_support.gs1 import example, schema_errors
from tests.integration.test_epcis import NOW, batch_state, copy_reference_data, full_history


@pytest.fixture
def http_on(start_server: Callable[..., RunningServer]) -> Iterator[Callable[[RunningServer], str]]:
    started: list[tuple[RunningServer, EpcisHttpServer]] = []

    def start(server: RunningServer) -> str:
        http = build_epcis_http(server.server, 0)
        port = asyncio.run_coroutine_threadsafe(http.start(), server.loop).result(timeout=30)
        started.append((server, http))
        return f"http://127.0.0.1:{port}"

    yield start
    for server, http in started:
        asyncio.run_coroutine_threadsafe(http.stop(), server.loop).result(timeout=30)


def test_a_partners_document_posted_to_capture_is_written_under_the_callers_identity(
    start_server: Callable[..., RunningServer], http_on: Callable[[RunningServer], str], tmp_path
) -> None:
    source = start_server(f"sqlite:///{tmp_path}/a.db")
    target = start_server(f"sqlite:///{tmp_path}/b.db")
    a, _ = full_history(make_world(source.registry))
    copy_reference_data(source.registry, target.registry)
    base = http_on(target)
    doc = document(list(batch_events(source.registry, a)), NOW)

    with httpx.Client(base_url=base, timeout=60) as client:
        answer = client.post("/capture", json=doc, headers={"x-gpureg-actor": "wms@samsung"})
        assert answer.status_code == 202, answer.text
        job = client.get(answer.headers["Location"]).json()
        assert job["success"] and not job["running"] and job["errors"] == []
        assert {e["status"] for e in job["events"]} == {"written"}
        assert batch_state(target.registry.get_batch(a)) == batch_state(source.registry.get_batch(a))
        assert target.registry.history(a, limit=1)[0].actor == "wms@samsung"

        events = client.get("/events", params={"batchID": str(a), "EQ_bizStep": "shipping",
                                                "EQ_disposition": "in_transit"})
        assert events.status_code == 200 and events.headers["content-type"].startswith("application/ld+json")
        query_doc = events.json()
        assert query_doc["type"] == "EPCISQueryDocument" and schema_errors(query_doc) == []
        listed = query_doc["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        assert [e["bizStep"] for e in listed] == ["shipping"]
        shipped = next(e for e in doc["epcisBody"]["eventList"] if e.get("bizStep") == "shipping")
        assert listed[0]["epcList"] == shipped["epcList"]

        first = client.get("/events", params={"perPage": "3"})
        assert len(first.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]) == 3
        assert 'rel="next"' in first.headers["Link"]
        assert client.get("/context/gpureg.jsonld").json()["@context"]["gpureg"] == "https://ns.gpureg.example/epcis/"


def test_a_refused_document_is_a_finished_job_naming_each_event_and_writes_nothing(
    start_server: Callable[..., RunningServer], http_on: Callable[[RunningServer], str], tmp_path
) -> None:
    server = start_server(f"sqlite:///{tmp_path}/a.db")
    base = http_on(server)
    head = server.head()
    doc = example("Example_9.6.4-TransformationEvent.jsonld")

    with httpx.Client(base_url=base, timeout=60) as client:
        answer = client.post("/capture", content=httpx.Request("POST", "/", json=doc).content,
                             headers={"content-type": "application/ld+json"})
        assert answer.status_code == 202
        job = client.get(answer.headers["Location"]).json()
        assert job["success"] is False and job["captureErrorBehaviour"] == "rollback"
        [error] = job["errors"]
        assert error["index"] == 0 and error["field"] == "type" and "supported-event" in error["rule"]
        # GS1's CaptureJob: each error is an RFC 7807 problem with the REST binding's exception type
        assert error["type"] == "epcisException:ValidationException" and error["title"]
        assert server.head() == head

        garbage = client.post("/capture", content=b"{oops", headers={"content-type": "application/json"})
        assert garbage.status_code == 400 and garbage.json()["type"] == "epcisException:ValidationException"
        no_version = {k: val for k, val in doc.items() if k != "schemaVersion"}
        headless = client.post("/capture", json=no_version)
        assert headless.status_code == 400 and headless.json()["type"] == "epcisException:ValidationException"
        assert headless.json()["violations"] == [{"field": "schemaVersion", "rule": headless.json()["violations"][0]["rule"]}]
        assert server.head() == head
        media = client.post("/capture", content=b"x", headers={"content-type": "text/plain"})
        assert media.status_code == 415 and media.json()["type"] == "epcisException:UnsupportedMediaTypeException"
        bad = client.get("/events", params={"GE_eventTime": "yesterday"})
        assert bad.status_code == 400 and bad.json()["violations"][0]["field"] == "GE_eventTime"
        assert bad.json()["type"] == "epcisException:QueryParameterException"
        assert client.get("/events", params={"EQ_nonsense": "1"}).status_code == 400
        missing = client.get("/capture/does-not-exist")
        assert missing.status_code == 404 and missing.json()["type"] == "epcisException:NoSuchNameException"
