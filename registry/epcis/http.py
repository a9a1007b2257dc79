"""The EPCIS 2.0 REST binding (the subset the registry serves), on Starlette + uvicorn.

* ``POST /capture``: an EPCISDocument (``application/ld+json`` or ``application/json``) captured
  under the caller's identity. The capture runs before the answer, so the job is finished when
  ``202 Accepted`` comes back with ``Location: /capture/{captureID}``; ``GET /capture/{captureID}``
  returns the job (``running``, ``success``, ``captureErrorBehaviour``, ``errors``: each refused
  event's index, eventID, field and rule). ``GS1-Capture-Error-Behaviour: proceed`` asks for
  per-event mode; the default ``rollback`` writes nothing for a refused document. A document
  that is not JSON or not an EPCISDocument is ``400`` (RFC 7807 problem details).
* ``POST /events``: one event captured synchronously (``201`` with ``Location: /events/{eventID}``,
  ``409`` when captured before).
* ``GET /events``: an EPCISQueryDocument of the events selected by ``batchID``, ``partnerID`` or
  neither (the whole log), and the EPCIS query parameters of :data:`SUPPORTED_PARAMS`; paged by
  ``perPage`` and ``nextPageToken`` (a log position, returned in the ``Link`` header and the body).
* ``GET /events/{eventID}``: the event (and its error declarations) as an EPCISQueryDocument.
* ``GET /eventTypes``, ``GET /eventTypes/{eventType}`` (its sub-resource ``events``) and the
  top-level resources ``/eventTypes/{eventType}/events``, ``/epcs/{epc}/events``,
  ``/bizSteps/{bizStep}/events``, ``/dispositions/{disposition}/events``,
  ``/bizLocations/{bizLocation}/events``, ``/readPoints/{readPoint}/events``: ``GET /events``
  with the path's parameter set.
* ``POST /queries``, ``GET /queries``, ``GET``/``DELETE /queries/{queryName}``,
  ``GET /queries/{queryName}/events``: named queries (each principal's own; their events read
  with the caller's reach), and ``POST``/``GET /queries/{queryName}/subscriptions``,
  ``GET``/``DELETE /queries/{queryName}/subscriptions/{subscriptionID}``: webhook subscriptions
  (:mod:`registry.epcis.named_queries`); every ``/queries`` route is ``ExportEpcis``.
* ``GET /context/gpureg.jsonld``: the JSON-LD context of the registry's extension fields.

Who is calling, and what they may do, is decided by the gRPC server's own gate
(:meth:`registry.server.auth.AuthInterceptor.admit_outside_grpc`, through :func:`gate_of`): the
same :class:`~registry.server.auth.Authenticator` (``Authorization: Bearer <token>`` checked by the
same token verifier, key directory, revocation list and audience; the ``x-gpureg-actor`` header
only in development mode), the same matrix rows (every ``GET`` query and every ``/queries`` route
is ``EpcisService/ExportEpcis``, ``POST /capture``, ``POST /events`` and the capture jobs are
``EpcisService/CaptureEpcis``), the same confinement (a partner's ``batchID`` of another partner,
or another partner's eventID, is ``404`` like a missing one, a log, partner or resource query
carries only its batches' events, each captured event is authorized as the command it becomes)
and the same structured denial log and counters. Refusals are RFC 9457 problem details
(``application/problem+json``): ``401`` with ``WWW-Authenticate: Bearer`` for a missing or bad
credential, ``403`` for a role the matrix does not allow, ``429`` for the rate limit.

One concept: the binding's routes, their admission and their answers; the query language they
share is :mod:`registry.epcis.query`, the mapping :mod:`registry.epcis.export` and ``capture``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import socket
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Generator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode
from uuid import UUID, uuid4

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from registry.application.service import Registry
from registry.domain.errors import AlreadyExists, InvalidField, NotFound, RegistryError
from registry.epcis import vocabulary as v
from registry.epcis.capture import MAX_EVENTS, Capture, CaptureResult, EventError
from registry.epcis.captured import batch_of
from registry.epcis.export import Event
from registry.epcis.named_queries import NamedQueries, definition, parse_definition, result_document
from registry.epcis.query import (
    QueryTooLarge,
    find_event,
    page_size,
    query_page,
    uuid_param,
)
from registry.epcis.resources import known, members
from registry.epcis.sources import log_events
from registry.security.grants import Grants

if TYPE_CHECKING:
    from registry.server.auth import AuthInterceptor



@dataclass(frozen=True)
class Caller:
    """An admitted request: who authenticated (``subject``), the actor recorded on what it
    writes, and its reach."""

    subject: str
    actor: str
    grants: Grants


#: ``admit(method, headers, peer, batch_id)``: the caller, or :class:`Refused` / NotFound /
#: InvalidField
Admit = Callable[[str, list[tuple[str, str]], str, UUID | None], Awaitable[Caller]]
EXPORT = "/registry.api.v1.EpcisService/ExportEpcis"
CAPTURE = "/registry.api.v1.EpcisService/CaptureEpcis"
MAX_JOBS = 1000
MAX_BODY_BYTES = 64 << 20
JSON_LD = "application/ld+json"


class Refused(Exception):
    """An HTTP refusal by the gate: status, the reason code (as gRPC's ErrorInfo.reason), why."""

    def __init__(self, status: int, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.reason = reason


_TITLES = {401: "Unauthorized", 403: "Forbidden", 429: "Too Many Requests", 503: "Service Unavailable"}
#: The REST binding's exception types (GS1's openapi.yaml, ``RFC7807ProblemResponseBody.type``).
VALIDATION = "epcisException:ValidationException"
QUERY_PARAMETER = "epcisException:QueryParameterException"
QUERY_TOO_LARGE = "epcisException:QueryTooLargeException"
SECURITY = "epcisException:SecurityException"
NO_SUCH_NAME = "epcisException:NoSuchNameException"
CAPTURE_LIMIT = "epcisException:CaptureLimitExceededException"
UNSUPPORTED_MEDIA = "epcisException:UnsupportedMediaTypeException"
IMPLEMENTATION = "epcisException:ImplementationException"
ALREADY_EXISTS = "epcisException:ResourceAlreadyExistsException"
SUBSCRIPTION_CONTROLS = "epcisException:SubscriptionControlsException"


def gate_of(interceptor: Callable[[], AuthInterceptor | None]) -> Admit:
    """The REST binding's gate: the gRPC server's :class:`AuthInterceptor` (looked up per request,
    as the HTTP server may start before it), so both interfaces share one identity, one matrix,
    one confinement, one denial log and one set of counters."""
    import grpc

    from registry.server.auth import Denied, NotYours

    codes = {grpc.StatusCode.UNAUTHENTICATED: 401, grpc.StatusCode.RESOURCE_EXHAUSTED: 429}

    async def admit(
        method: str, headers: list[tuple[str, str]], peer: str, batch_id: UUID | None
    ) -> Caller:
        auth = interceptor()
        if auth is None:
            raise Refused(503, "STARTING", "the registry is starting; retry shortly")
        request = SimpleNamespace(batch_id=str(batch_id) if batch_id is not None else "")
        try:
            principal, actor, grants = await auth.admit_outside_grpc(method, headers, peer, request)
        except Denied as denied:
            raise Refused(codes.get(denied.code, 403), denied.reason, str(denied)) from None
        except NotYours as hidden:  # another party's batch: exactly as a missing one
            raise hidden.error from None
        if isinstance(actor, InvalidField):
            raise actor
        return Caller(principal.subject, actor, grants)

    return admit


def _problem(status: int, title: str, detail: str, headers: Mapping[str, str] | None = None,
             kind: str = "about:blank", **extra: Any) -> JSONResponse:
    body = {"type": kind, "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type="application/problem+json", headers=headers)


def _error(exc: Exception, invalid: str = VALIDATION) -> JSONResponse:
    """A refusal as problem details with the REST binding's exception type (``invalid``: the type
    of a bad request, ValidationException for a capture, QueryParameterException for a query)."""
    if isinstance(exc, Refused):
        challenge = {"WWW-Authenticate": 'Bearer realm="gpureg"'} if exc.status == 401 else None
        kind = SECURITY if exc.status in (401, 403) else "about:blank"
        return _problem(exc.status, _TITLES.get(exc.status, "Forbidden"), str(exc), challenge, kind,
                        reason=exc.reason)
    if isinstance(exc, QueryTooLarge):
        return _problem(413, "Query Too Large", str(exc), None, QUERY_TOO_LARGE)
    if isinstance(exc, InvalidField):
        return _problem(400, "Bad Request", str(exc), None, invalid,
                        violations=[{"field": f, "rule": r} for f, r in exc.violations])
    if isinstance(exc, NotFound):
        return _problem(404, "Not Found", str(exc), None, NO_SUCH_NAME)
    if isinstance(exc, AlreadyExists):
        return _problem(409, "Conflict", str(exc), None, ALREADY_EXISTS)
    if isinstance(exc, RegistryError):
        return _problem(409, type(exc).__name__, str(exc))
    return _problem(500, type(exc).__name__, str(exc), None, IMPLEMENTATION)


EPCIS_VERSION = "2.0.0"
CBV_VERSION = "2.0.0"
NOT_ACCEPTABLE = "epcisException:NotAcceptableException"


class _Versions:
    """GS1's openapi.yaml versioning headers on every answer: ``GS1-EPCIS-Version`` and
    ``GS1-CBV-Version`` (2.0.0), and ``GS1-Extensions`` (the registry's extension namespace,
    ``gpureg=https://ns.gpureg.example/epcis/``); a request asking for another major version of either
    (``GS1-EPCIS-Version: 1.2.0``) is ``406`` ``NotAcceptableException``."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        asked = {k.decode("latin-1").lower(): val.decode("latin-1").strip() for k, val in scope["headers"]}
        for name, ours in (("gs1-epcis-version", EPCIS_VERSION), ("gs1-cbv-version", CBV_VERSION)):
            wanted = asked.get(name)
            if wanted and wanted.split(".")[0] != ours.split(".")[0]:
                answer = _problem(406, "Not Acceptable", f"{name} {wanted} is not served; this server speaks "
                                  f"{ours}", {"GS1-EPCIS-Version": EPCIS_VERSION, "GS1-CBV-Version": CBV_VERSION},
                                  NOT_ACCEPTABLE)
                await answer(scope, receive, send)
                return

        async def with_versions(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                for name, ours in ((b"gs1-epcis-version", EPCIS_VERSION), (b"gs1-cbv-version", CBV_VERSION),
                                   (b"gs1-extensions", f"{v.PREFIX}={v.NAMESPACE}")):
                    if name not in present:
                        headers.append((name, ours.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self._app(scope, receive, with_versions)


async def _http_problem(request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (no such path ``404``, a method the path does not take ``405``) as
    problem details too (openapi.yaml ``404ResourceNotFound``: NoSuchNameException)."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    headers = dict(exc.headers or {}) if isinstance(exc, HTTPException) else None
    if status == 405 and headers and headers.get("Allow") == "OPTIONS":  # only the discovery route matched
        status, headers = 404, None
    kind = NO_SUCH_NAME if status == 404 else "about:blank"
    return _problem(status, "Not Found" if status == 404 else "Method Not Allowed" if status == 405 else "Error",
                    f"{request.method} {request.url.path}: no such resource or method", headers, kind)


def _error_entry(e: EventError) -> dict[str, Any]:
    """One refused event in a capture job's ``errors``: an RFC 7807 problem (``type`` and
    ``title`` required by GS1's ``CaptureJob`` schema) with the event's index, eventID, field and
    rule as extension members."""
    return {"type": VALIDATION, "title": "Event refused", "status": 400,
            "detail": f"eventList[{e.index}].{e.field}: {e.rule}",
            "index": e.index, "eventID": e.event_id, "field": e.field, "rule": e.rule}


class _Jobs:
    """Finished capture jobs, the latest :data:`MAX_JOBS` kept in memory."""

    def __init__(self) -> None:
        self._jobs: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._owners: dict[str, str] = {}  # capture id -> the principal (subject) that captured it
        self._lock = threading.Lock()

    def add(self, owner: str, behaviour: str, result: CaptureResult) -> str:
        capture_id = str(uuid4())
        job = {
            "captureID": capture_id,
            "createdAt": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "finishedAt": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "running": False,
            "success": result.accepted,
            "captureErrorBehaviour": behaviour,
            "errors": [_error_entry(e) for e in result.errors],
            "events": [
                {"index": o.index, "eventID": o.event_id, "command": o.command, "status": o.status,
                 "batchID": str(o.batch_id) if o.batch_id else None, "position": o.position}
                for o in result.outcomes
            ],
        }
        with self._lock:
            self._jobs[capture_id] = job
            self._owners[capture_id] = owner
            while len(self._jobs) > MAX_JOBS:
                gone, _ = self._jobs.popitem(last=False)
                self._owners.pop(gone, None)
        return capture_id

    def get(self, capture_id: str, owner: str) -> dict[str, Any] | None:
        """A job, only for the principal that captured it (another's is as a missing one)."""
        with self._lock:
            return self._jobs.get(capture_id) if self._owners.get(capture_id) == owner else None

    def all(self, owner: str) -> list[dict[str, Any]]:
        with self._lock:
            return [job for key, job in self._jobs.items() if self._owners.get(key) == owner]


def _written(registry: Registry, position: int, batch_id: UUID | None) -> Event | None:
    """The event a single-event capture wrote, as the registry exports it: the last EPCIS event
    of its batch up to ``position`` (the command's last write, its request record; the batch's
    event is written in the same transaction just before it, so nothing of that batch follows)."""
    found = [e for _, e in log_events(registry, after=max(0, position - 8), stop=position)
             if batch_id is None or batch_of(e) == str(batch_id)]
    return found[-1] if found else None


def _query_document(events: list[Event]) -> dict[str, Any]:
    return {
        "@context": v.DOCUMENT_CONTEXT,
        "type": "EPCISQueryDocument",
        "schemaVersion": "2.0",
        "creationDate": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "epcisBody": {"queryResults": {"queryName": "SimpleEventQuery", "resultsBody": {"eventList": events}}},
    }


async def _json_body(request: Request, what: str) -> Any:
    """The request body as JSON, for ``POST /capture`` and ``POST /events`` (``what``: document or
    event, for the size limit's message); the refusal itself (``415`` for another media type,
    ``413`` over the size limit) as a Response; InvalidField on ``(body)`` when it is not JSON."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in (JSON_LD, "application/json"):
        return _problem(415, "Unsupported Media Type", f"send {JSON_LD} or application/json", None,
                        UNSUPPORTED_MEDIA)
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        return _problem(413, "Content Too Large", f"at most {MAX_BODY_BYTES} bytes per {what}",
                        {"GS1-EPCIS-Capture-File-Size-Limit": str(MAX_BODY_BYTES)}, CAPTURE_LIMIT)
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InvalidField.one("(body)", f"not JSON: {e}") from None


def _peer(request: Request) -> str:
    return f"{request.client.host}:{request.client.port}" if request.client else "unknown"


def build_app(registry: Registry, admit: Admit, run_command: Callable[..., Any] | None = None,
              named: NamedQueries | None = None) -> Starlette:
    """The ASGI app; ``admit`` is the gate (:func:`gate_of`). ``run_command(fn, *args)`` runs a
    capture (default: a worker thread); ``named``: the named queries and subscriptions."""
    capture = Capture(registry)
    jobs = _Jobs()
    queries = named or NamedQueries(registry)

    async def in_thread(fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.to_thread(fn, *args)

    run = run_command or in_thread

    async def post_capture(request: Request) -> Response:
        try:
            caller = await admit(CAPTURE, list(request.headers.items()), _peer(request), None)
            behaviour = request.headers.get("GS1-Capture-Error-Behaviour", "rollback").strip().lower()
            if behaviour not in ("rollback", "proceed"):
                raise InvalidField.one("GS1-Capture-Error-Behaviour", "rollback or proceed")
            document = await _json_body(request, "document")
            if isinstance(document, Response):
                return document
            if not isinstance(document, dict):
                raise InvalidField.one("(body)", "an EPCISDocument is a JSON object")
            body_ = document.get("epcisBody")
            listed = body_.get("eventList") if isinstance(body_, dict) else None
            if isinstance(listed, list) and len(listed) > MAX_EVENTS:
                return _problem(413, "Content Too Large", f"at most {MAX_EVENTS} events per document",
                                {"GS1-EPCIS-Capture-Limit": str(MAX_EVENTS)}, CAPTURE_LIMIT)
            result: CaptureResult = await run(
                functools.partial(capture.capture, authorize=caller.grants.authorize), caller.actor, document,
                behaviour == "proceed")
        except Exception as exc:  # every refusal is a problem document
            return _error(exc)
        capture_id = jobs.add(caller.subject, behaviour, result)
        return JSONResponse(jobs.get(capture_id, caller.subject), status_code=202,
                            headers={"Location": f"/capture/{capture_id}", "GS1-EPCIS-Version": "2.0.0"})

    async def post_event(request: Request) -> Response:
        """OpenAPI ``POST /events``: one event (not a document), captured synchronously as a
        document of that event; ``201`` with the event as the registry exports it and
        ``Location: /events/{eventID}`` (the event's own eventID: see docs/epcis.md), ``400``
        ValidationException naming the field and rule, ``409`` when it was captured before."""
        try:
            caller = await admit(CAPTURE, list(request.headers.items()), _peer(request), None)
            event = await _json_body(request, "event")
            if isinstance(event, Response):
                return event
            if not isinstance(event, dict) or event.get("type") in ("EPCISDocument", "EPCISQueryDocument"):
                raise InvalidField.one("(body)", "one EPCIS event as a JSON object; a document goes to POST /capture")
            context = event.pop("@context", v.DOCUMENT_CONTEXT)
            doc = {"@context": context, "type": "EPCISDocument", "schemaVersion": "2.0",
                   "creationDate": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                   "epcisBody": {"eventList": [event]}}
            result: CaptureResult = await run(
                functools.partial(capture.capture, authorize=caller.grants.authorize), caller.actor, doc, False)
            [outcome] = result.outcomes
            if outcome.error is not None:
                raise InvalidField.one(outcome.error.field, outcome.error.rule)
            if outcome.status == "replayed":
                return _problem(409, "Conflict", f"event {outcome.event_id} was captured before", None,
                                ALREADY_EXISTS)
            written = await asyncio.to_thread(_written, registry, outcome.position, outcome.batch_id)
        except Exception as exc:
            return _error(exc)
        headers = {"GS1-EPCIS-Version": "2.0.0"}
        if written is None:  # a command the export does not render as an event of its own
            return JSONResponse({"eventID": outcome.event_id}, status_code=201, headers=headers)
        headers["Location"] = "/events/" + quote(str(written["eventID"]), safe="")
        return JSONResponse(written, status_code=201, headers=headers, media_type=JSON_LD)

    async def get_capture(request: Request) -> Response:
        try:
            caller = await admit(CAPTURE, list(request.headers.items()), _peer(request), None)
        except Exception as exc:
            return _error(exc)
        job = jobs.get(request.path_params["capture_id"], caller.subject)
        if job is None:
            return _problem(404, "Not Found", "no such capture job", None, NO_SUCH_NAME)
        return JSONResponse(job)

    async def list_captures(request: Request) -> Response:
        try:
            caller = await admit(CAPTURE, list(request.headers.items()), _peer(request), None)
            per_page, start = _page_of(_paging_only(request))
        except Exception as exc:
            return _error(exc, QUERY_PARAMETER)
        mine = jobs.all(caller.subject)  # openapi.yaml: paged by perPage and nextPageToken (Link)
        token = str(start + per_page) if start + per_page < len(mine) else ""
        return JSONResponse(mine[start:start + per_page], headers=_link(request, token))

    async def query(request: Request, fixed: Mapping[str, str] | None = None) -> Response:
        """``GET /events`` and the resource paths onto it (``fixed``: the parameters the path sets)."""
        try:
            # a list parameter repeated (?EQ_bizStep=a&EQ_bizStep=b, form style) is its values
            # pipe-delimited, as openapi.yaml writes them (EQ_bizStep=a|b)
            params = {k: "|".join(request.query_params.getlist(k)) for k in request.query_params}
            batch = uuid_param(params, "batchID")
            caller = await admit(EXPORT, list(request.headers.items()), _peer(request), batch)
            page, token = await asyncio.to_thread(query_page, registry, params, caller.grants.visible, fixed)
        except Exception as exc:
            return _error(exc, QUERY_PARAMETER)
        headers = {"GS1-EPCIS-Version": "2.0.0"}
        if token:
            path = request.scope.get("raw_path", b"").decode("latin-1") or quote(request.url.path)
            link = path + "?" + urlencode(params | {"nextPageToken": token})
            headers["Link"] = f'<{link}>; rel="next"'
        return JSONResponse(_query_document(page), headers=headers, media_type=JSON_LD)

    async def get_events(request: Request) -> Response:
        return await query(request)

    async def get_event(request: Request) -> Response:
        try:
            caller = await admit(EXPORT, list(request.headers.items()), _peer(request), None)
            found = await asyncio.to_thread(find_event, registry, request.path_params["event_id"],
                                            caller.grants.visible)
        except Exception as exc:
            return _error(exc, QUERY_PARAMETER)
        return JSONResponse(_query_document(found), headers={"GS1-EPCIS-Version": "2.0.0"}, media_type=JSON_LD)

    async def event_types(request: Request) -> Response:
        try:
            await admit(EXPORT, list(request.headers.items()), _peer(request), None)
        except Exception as exc:
            return _error(exc, QUERY_PARAMETER)
        body = {"@context": v.DOCUMENT_CONTEXT, "type": "Collection", "member": list(v.EVENT_TYPES)}
        return JSONResponse(body, headers={"GS1-EPCIS-Version": "2.0.0"})

    async def unknown_type(request: Request) -> Response | None:
        """``404`` for a name that is not an EPCIS event type (after the gate: an unauthenticated
        caller learns nothing); None for a known one."""
        kind = request.path_params["event_type"]
        if kind in v.EVENT_TYPES:
            return None
        try:
            await admit(EXPORT, list(request.headers.items()), _peer(request), None)
        except Exception as exc:
            return _error(exc, QUERY_PARAMETER)
        return _problem(404, "Not Found", f"event type {kind} not found; the event types: {list(v.EVENT_TYPES)}",
                        None, NO_SUCH_NAME)

    async def event_type(request: Request) -> Response:
        """OpenAPI ``GET /eventTypes/{eventType}``: its sub-resources (HATEOAS), ``events``."""
        if (missing := await unknown_type(request)) is not None:
            return missing
        try:
            await admit(EXPORT, list(request.headers.items()), _peer(request), None)
        except Exception as exc:
            return _error(exc, QUERY_PARAMETER)
        body = {"@context": v.DOCUMENT_CONTEXT, "type": "Collection", "member": ["events"]}
        return JSONResponse(body, headers={"GS1-EPCIS-Version": "2.0.0"})

    async def by_event_type(request: Request) -> Response:
        if (missing := await unknown_type(request)) is not None:
            return missing
        return await query(request, {"eventType": request.path_params["event_type"]})

    def resource(parameter: str, path_key: str) -> Callable[[Request], Awaitable[Response]]:
        async def events_of(request: Request) -> Response:
            return await query(request, {parameter: request.path_params[path_key]})
        return events_of

    def listing(kind: str) -> Callable[[Request], Awaitable[Response]]:
        """OpenAPI ``GET /bizSteps``, ``/dispositions``, ``/epcs``, ``/bizLocations``,
        ``/readPoints``: a ``Collection`` of the values, paged by ``perPage`` and
        ``nextPageToken`` (``Link``)."""
        async def listed(request: Request) -> Response:
            try:
                caller = await admit(EXPORT, list(request.headers.items()), _peer(request), None)
                params = _paging_only(request)
                per_page, start = _page_of(params)
                found = await asyncio.to_thread(members, registry, kind, caller.grants.visible)
            except Exception as exc:
                return _error(exc, QUERY_PARAMETER)
            token = str(start + per_page) if start + per_page < len(found) else ""
            body = {"@context": v.DOCUMENT_CONTEXT, "type": "Collection", "member": found[start:start + per_page]}
            return JSONResponse(body, headers=_link(request, token))
        return listed

    def sub_resources(kind: str, path_key: str) -> Callable[[Request], Awaitable[Response]]:
        """OpenAPI ``GET /epcs/{epc}`` and the like: the value's sub-resources (``events``);
        ``404`` for a value the caller's events never name (or not a term of the vocabulary)."""
        async def one(request: Request) -> Response:
            try:
                caller = await admit(EXPORT, list(request.headers.items()), _peer(request), None)
                value = request.path_params[path_key]
                if not await asyncio.to_thread(known, registry, kind, value, caller.grants.visible):
                    raise NotFound(kind.removesuffix("s"), value)
            except Exception as exc:
                return _error(exc, QUERY_PARAMETER)
            body = {"@context": v.DOCUMENT_CONTEXT, "type": "Collection", "member": ["events"]}
            return JSONResponse(body)
        return one

    # ------------------------------------------------------------- named queries (/queries)
    def _link(request: Request, token: str) -> dict[str, str]:
        headers = {"GS1-EPCIS-Version": "2.0.0"}
        if token:
            path = request.scope.get("raw_path", b"").decode("latin-1") or quote(request.url.path)
            link = path + "?" + urlencode(dict(request.query_params) | {"nextPageToken": token})
            headers["Link"] = f'<{link}>; rel="next"'
        return headers

    def _paging_only(request: Request, also: tuple[str, ...] = ()) -> dict[str, str]:
        params = dict(request.query_params)
        other = sorted(set(params) - {"perPage", "nextPageToken", *also})
        if other:
            raise InvalidField([(name, "not a parameter of this resource (perPage and nextPageToken are); a "
                                       "named query's filters are its definition's, and a subscription is a "
                                       "webhook: POST /queries/{queryName}/subscriptions") for name in other])
        return params

    async def create_query(request: Request) -> Response:
        """OpenAPI ``POST /queries``: ``{"name", "query"}``, the query checked as ``GET /events``
        checks its parameters; ``201`` with ``Location: /queries/{name}``, ``409`` for a name the
        caller has."""
        try:
            await admit(EXPORT, list(request.headers.items()), _peer(request), None)
            body = await _json_body(request, "query")
            if isinstance(body, Response):
                return body
            name, params = parse_definition(body)
            batch = uuid_param(params, "batchID")
            caller = await admit(EXPORT, list(request.headers.items()), _peer(request), batch)
            await asyncio.to_thread(queries.create, caller.subject, name, params)
        except Exception as exc:
            return _error(exc, QUERY_PARAMETER)
        return JSONResponse(definition(name, params), status_code=201,
                            headers={"Location": "/queries/" + quote(name, safe=""), "GS1-EPCIS-Version": "2.0.0"})

    def _page_of(params: Mapping[str, str]) -> tuple[int, int]:
        """``perPage`` (default 30 as openapi.yaml states, at most 1,000) and the offset
        ``nextPageToken`` of a listing."""
        start = int(params.get("nextPageToken", "0")) if params.get("nextPageToken", "0").isdigit() else -1
        if start < 0:
            raise InvalidField.one("nextPageToken", "as given in Link")
        return page_size(params), start

    async def list_queries(request: Request) -> Response:
        try:
            caller = await admit(EXPORT, list(request.headers.items()), _peer(request), None)
            params = _paging_only(request)
            per_page, start = _page_of(params)
        except Exception as exc:
            return _error(exc, QUERY_PARAMETER)
        mine = await asyncio.to_thread(queries.names, caller.subject)
        page = [definition(n, p) for n, p in mine[start:start + per_page]]
        token = str(start + per_page) if start + per_page < len(mine) else ""
        return JSONResponse(page, headers=_link(request, token))

    async def get_query(request: Request) -> Response:
        try:
            caller = await admit(EXPORT, list(request.headers.items()), _peer(request), None)
            name = request.path_params["query_name"]
            params = await asyncio.to_thread(queries.get, caller.subject, name)
        except Exception as exc:
            return _error(exc, QUERY_PARAMETER)
        return JSONResponse(definition(name, params), headers={"GS1-EPCIS-Version": "2.0.0"})

    async def delete_query(request: Request) -> Response:
        """Removes the query and every subscription to it."""
        try:
            caller = await admit(EXPORT, list(request.headers.items()), _peer(request), None)
            await asyncio.to_thread(queries.delete, caller.subject, request.path_params["query_name"])
        except Exception as exc:
            return _error(exc, QUERY_PARAMETER)
        return Response(status_code=204)

    async def query_events(request: Request) -> Response:
        """OpenAPI ``GET /queries/{queryName}/events``: the query's events within the caller's
        reach, paged as ``GET /events``; ``queryName`` in the document's ``queryResults``."""
        try:
            caller = await admit(EXPORT, list(request.headers.items()), _peer(request), None)
            name = request.path_params["query_name"]
            params = await asyncio.to_thread(queries.get, caller.subject, name)
            paging = _paging_only(request)
            batch = uuid_param(params, "batchID")
            if batch is not None:  # as GET /events?batchID=: another partner's batch is not found
                caller = await admit(EXPORT, list(request.headers.items()), _peer(request), batch)
            page, token = await asyncio.to_thread(query_page, registry, {**params, **paging}, caller.grants.visible)
        except Exception as exc:
            return _error(exc, QUERY_PARAMETER)
        return JSONResponse(result_document(page, name), headers=_link(request, token), media_type=JSON_LD)

    async def subscribe(request: Request) -> Response:
        """OpenAPI ``POST /queries/{queryName}/subscriptions`` (webhook, ``stream: true``)."""
        try:
            caller = await admit(EXPORT, list(request.headers.items()), _peer(request), None)
            name = request.path_params["query_name"]
            await asyncio.to_thread(queries.get, caller.subject, name)
            body = await _json_body(request, "subscription")
            if isinstance(body, Response):
                return body
            made = await asyncio.to_thread(queries.subscribe, caller.subject, name, body, caller.grants.party)
            queries.start()
        except Exception as exc:
            return _error(exc, SUBSCRIPTION_CONTROLS)
        location = f"/queries/{quote(name, safe='')}/subscriptions/{made.id}"
        return JSONResponse(made.public(), status_code=201,
                            headers={"Location": location, "GS1-EPCIS-Version": "2.0.0"})

    async def list_subscriptions(request: Request) -> Response:
        try:
            caller = await admit(EXPORT, list(request.headers.items()), _peer(request), None)
            found = await asyncio.to_thread(queries.subscriptions, caller.subject, request.path_params["query_name"])
        except Exception as exc:
            return _error(exc, SUBSCRIPTION_CONTROLS)
        return JSONResponse([s.public() for s in found], headers={"GS1-EPCIS-Version": "2.0.0"})

    async def get_subscription(request: Request) -> Response:
        try:
            caller = await admit(EXPORT, list(request.headers.items()), _peer(request), None)
            found = await asyncio.to_thread(queries.subscription, caller.subject, request.path_params["query_name"],
                                            request.path_params["subscription_id"])
        except Exception as exc:
            return _error(exc, SUBSCRIPTION_CONTROLS)
        return JSONResponse(found.public(), headers={"GS1-EPCIS-Version": "2.0.0"})

    async def unsubscribe(request: Request) -> Response:
        try:
            caller = await admit(EXPORT, list(request.headers.items()), _peer(request), None)
            await asyncio.to_thread(queries.unsubscribe, caller.subject, request.path_params["query_name"],
                                    request.path_params["subscription_id"])
        except Exception as exc:
            return _error(exc, SUBSCRIPTION_CONTROLS)
        return Response(status_code=204)

    async def options(request: Request) -> Response:
        """OpenAPI ``OPTIONS`` (discovery, ``204DefaultDiscoveryResponse``): the methods the path
        allows and the versions the server speaks; on ``/capture`` its limits. No credential is
        asked: it tells nothing of any event."""
        allowed = sorted({m for route in app.routes if isinstance(route, Route) and route.methods
                          and route.matches(request.scope)[0] != Match.NONE for m in route.methods} - {"HEAD"})
        if allowed == ["OPTIONS"]:
            return _problem(404, "Not Found", f"no resource {request.url.path}", None, NO_SUCH_NAME)
        headers = {"Allow": ", ".join(allowed), "GS1-EPCIS-Min": EPCIS_VERSION, "GS1-EPCIS-Max": EPCIS_VERSION,
                   "GS1-CBV-Min": CBV_VERSION, "GS1-CBV-Max": CBV_VERSION, "GS1-EPC-Format": "Never_Translates"}
        if request.url.path.startswith("/capture"):
            headers["GS1-EPCIS-Capture-Limit"] = str(MAX_EVENTS)
            headers["GS1-EPCIS-Capture-File-Size-Limit"] = str(MAX_BODY_BYTES)
        return Response(status_code=204, headers=headers)

    async def context(request: Request) -> Response:
        return JSONResponse(v.project_context(), media_type=JSON_LD)

    app = Starlette(routes=[
        Route("/capture", post_capture, methods=["POST"]),
        Route("/capture", list_captures, methods=["GET"]),
        Route("/capture/{capture_id}", get_capture, methods=["GET"]),
        Route("/events", get_events, methods=["GET"]),
        Route("/events", post_event, methods=["POST"]),
        Route("/events/{event_id:path}", get_event, methods=["GET"]),
        Route("/eventTypes", event_types, methods=["GET"]),
        Route("/eventTypes/{event_type}", event_type, methods=["GET"]),
        Route("/eventTypes/{event_type}/events", by_event_type, methods=["GET"]),
        Route("/epcs/{epc:path}/events", resource("MATCH_anyEPC", "epc"), methods=["GET"]),
        Route("/bizSteps/{biz_step:path}/events", resource("EQ_bizStep", "biz_step"), methods=["GET"]),
        Route("/dispositions/{disposition:path}/events", resource("EQ_disposition", "disposition"), methods=["GET"]),
        Route("/bizLocations/{biz_location:path}/events", resource("EQ_bizLocation", "biz_location"),
              methods=["GET"]),
        Route("/readPoints/{read_point:path}/events", resource("EQ_readPoint", "read_point"), methods=["GET"]),
        *(Route(f"/{kind}", listing(kind), methods=["GET"])
          for kind in ("epcs", "bizSteps", "dispositions", "bizLocations", "readPoints")),
        *(Route(f"/{kind}/{{value:path}}", sub_resources(kind, "value"), methods=["GET"])
          for kind in ("epcs", "bizSteps", "dispositions", "bizLocations", "readPoints")),
        Route("/queries", create_query, methods=["POST"]),
        Route("/queries", list_queries, methods=["GET"]),
        Route("/queries/{query_name}", get_query, methods=["GET"]),
        Route("/queries/{query_name}", delete_query, methods=["DELETE"]),
        Route("/queries/{query_name}/events", query_events, methods=["GET"]),
        Route("/queries/{query_name}/subscriptions", subscribe, methods=["POST"]),
        Route("/queries/{query_name}/subscriptions", list_subscriptions, methods=["GET"]),
        Route("/queries/{query_name}/subscriptions/{subscription_id}", get_subscription, methods=["GET"]),
        Route("/queries/{query_name}/subscriptions/{subscription_id}", unsubscribe, methods=["DELETE"]),
        Route("/context/gpureg.jsonld", context, methods=["GET"]),
        Route("/{path:path}", options, methods=["OPTIONS"]),
    ], middleware=[Middleware(_Versions)], exception_handlers={HTTPException: _http_problem})
    app.state.named_queries = queries
    return app


class _QuietServer(uvicorn.Server):
    """uvicorn without its own signal handlers: the process's stop signal is handled by the
    gRPC server's loop (``run_until_signalled``), which stops this server too."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class EpcisHttpServer:
    """The REST binding on ``host:port`` (port 0 picks a free one), in the running event loop."""

    def __init__(self, app: Starlette, host: str, port: int, on_stop: Callable[[], None] | None = None,
                 tls: tuple[str, str] | None = None) -> None:
        self._app = app
        self._tls = tls  # (certificate file, key file): HTTPS
        self._on_stop = on_stop
        self._host = host
        self._port = port
        self._server: _QuietServer | None = None
        self._task: asyncio.Task[None] | None = None
        self.port: int | None = None

    @property
    def host(self) -> str:
        return self._host

    @property
    def scheme(self) -> str:
        return "https" if self._tls else "http"

    async def start(self) -> int:
        family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self._host, self._port))
        except OSError as e:
            sock.close()
            raise RuntimeError(f"cannot listen on {self._host}:{self._port}: {e}") from e
        self.port = int(sock.getsockname()[1])
        named = getattr(self._app.state, "named_queries", None)
        if isinstance(named, NamedQueries):
            named.start()  # deliver the stored subscriptions (a restart resumes them)
        tls: dict[str, Any] = {"ssl_certfile": self._tls[0], "ssl_keyfile": self._tls[1]} if self._tls else {}
        config = uvicorn.Config(self._app, log_level="warning", lifespan="off", access_log=False, **tls)
        self._server = _QuietServer(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._task.done():
                self._task.result()
                raise RuntimeError("the EPCIS HTTP server stopped while starting")
            await asyncio.sleep(0.01)
        return self.port

    async def stop(self) -> None:
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        named = getattr(self._app.state, "named_queries", None)
        if isinstance(named, NamedQueries):
            named.stop()  # this process's deliveries end with the server (its leases released)
        await self._task
        self._server = None
        if self._on_stop is not None:
            self._on_stop()


async def serve_with_grpc(grpc_server: Any, http: EpcisHttpServer, say: Callable[[str], None]) -> None:
    """``gpureg serve --epcis-port``: the REST binding next to the gRPC API, stopped with it."""
    from registry.server.app import run_until_signalled

    port = await http.start()
    say(f"gpureg EPCIS 2.0 REST binding listening on {http.scheme}://{http.host}:{port}"
        " (POST /capture, POST /events, GET /events and the resource paths)")
    try:
        await run_until_signalled(grpc_server, say)
    finally:
        await http.stop()
