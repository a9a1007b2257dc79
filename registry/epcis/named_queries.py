"""EPCIS 2.0 named queries and their webhook subscriptions, as the REST binding serves them
(GS1's openapi.yaml, ``/queries``; :mod:`registry.epcis.http` has the routes).

* A **named query** is a name and a query definition: the parameters of ``GET /events``
  (:data:`registry.epcis.query.SUPPORTED_PARAMS`) as a JSON object, a list value standing for the
  pipe-delimited values (``{"eventType": ["ObjectEvent"], "EQ_bizStep": ["shipping", "receiving"]}``).
  It is checked when it is created, exactly as ``GET /events`` checks its parameters
  (:func:`registry.epcis.query.check_params`). Each principal has its own queries: another's
  query is answered as a missing one, and two principals may use one name. Its events are
  always read with the caller's reach.
* A **subscription** (``POST /queries/{name}/subscriptions``, ``stream: true``) sends each new
  event the query selects, within the subscriber's reach at the time it subscribed, as an
  ``EPCISQueryDocument`` (``queryName``, ``subscriptionID``) to the subscriber's ``dest`` by
  ``POST``, signed with ``GS1-Signature: sha256=<HMAC-SHA256 of the body with signatureToken>``
  when a ``signatureToken`` was given. ``initialRecordTime`` sends the events recorded since then
  first; without it, only events recorded after the subscription. A **scheduled** subscription
  (``schedule``: ``second``, ``minute``, ``hour``, ``dayOfMonth``, ``month``, ``dayOfWeek``, each
  ``Element ("," Element)*`` with an Element a number or ``[low-high]``, an omitted field any
  value; EPCIS 1.2 section 8.2.5.3, times in UTC) runs at each matching second and posts the
  events recorded since its last run, or an empty document with ``reportIfEmpty``. ``dest`` is
  ``https://``, or ``http://`` on a loopback address only (no plain text across a network).

Both are kept in memory by the serving process (as capture jobs are): a restart forgets them.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import ipaddress
import json
import re
import threading
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID, uuid4

from registry.application.service import Registry
from registry.domain.errors import AlreadyExists, InvalidField, NotFound
from registry.epcis import vocabulary as v
from registry.epcis.export import Event
from registry.epcis.query import check_params, matcher
from registry.epcis.sources import log_events, partner_log_events

MAX_QUERIES = 1000  # per principal
MAX_SUBSCRIPTIONS = 100  # per principal
POLL_SECONDS = 0.5
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._~-]{0,199}$")
#: Paging belongs to the request that reads a query, not to its definition.
_NOT_IN_DEFINITION = frozenset({"perPage", "nextPageToken"})


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_definition(body: Any) -> tuple[str, dict[str, str]]:
    """The name and the ``GET /events`` parameters of a query definition (``{"name", "query"}``);
    InvalidField naming the member and its rule."""
    if not isinstance(body, Mapping):
        raise InvalidField.one("(body)", "a query definition is a JSON object with name and query")
    name = body.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidField.one("name", "required: letters, digits and . _ ~ - (at most 200), starting with a "
                                       "letter or digit")
    query = body.get("query")
    if not isinstance(query, Mapping):
        raise InvalidField.one("query", "required: an object of EPCIS query parameters")
    params: dict[str, str] = {}
    for key, value in query.items():
        where = f"query.{key}"
        if key in _NOT_IN_DEFINITION:
            raise InvalidField.one(where, "paging is a parameter of GET /queries/{queryName}/events")
        if isinstance(value, list) and value and all(isinstance(x, str) and x for x in value):
            params[key] = "|".join(value)
        elif isinstance(value, str) and value:
            params[key] = value
        elif isinstance(value, int) and not isinstance(value, bool):
            params[key] = str(value)
        else:
            raise InvalidField.one(where, "a non-empty string, a non-empty array of strings or a whole number")
    try:
        check_params(params)
    except InvalidField as exc:
        raise InvalidField([(f"query.{f}", r) for f, r in exc.violations]) from None
    return name, params


def definition(name: str, params: Mapping[str, str]) -> dict[str, Any]:
    """A query as GS1's ``QueryDefinition`` (list values for the pipe-delimited parameters)."""
    single = {"orderBy", "orderDirection", "eventCountLimit", "maxEventCount", "batchID", "partnerID"}
    query: dict[str, Any] = {}
    for key, value in params.items():
        if key in single or key.startswith(("GE_", "LT_")):
            query[key] = int(value) if key in ("eventCountLimit", "maxEventCount") else value
        else:
            query[key] = value.split("|")
    return {"name": name, "query": query}


@dataclass
class Subscription:
    id: str
    owner: str
    query_name: str
    params: dict[str, str]
    dest: str
    secret: str  # the client's signatureToken: never answered, never logged
    visible: Callable[[UUID], bool] | None  # the subscriber's reach (None: every batch)
    created_at: str
    position: int  # the log position the next delivery starts after
    since: datetime | None = None  # initialRecordTime: recorded at or after it (first delivery)
    last_notified_at: str | None = None
    failures: int = 0
    schedule: dict[str, frozenset[int]] | None = None  # None: a stream
    report_if_empty: bool = False
    checked: int = 0  # the last second (epoch) a schedule was checked at

    def due(self, now: datetime) -> bool:
        """A stream always; a schedule when a second since the last check matches it."""
        if self.schedule is None:
            return True
        second = int(now.timestamp())
        start = max(self.checked + 1, second - 3600)  # a late round catches up to an hour
        self.checked = second
        return any(schedule_matches(self.schedule, datetime.fromtimestamp(t, UTC)) for t in range(start, second + 1))

    def public(self) -> dict[str, Any]:
        """As GS1's ``AbstractQuerySubscriptionResponse`` (without the secret)."""
        out: dict[str, Any] = {"subscriptionID": self.id, "dest": self.dest, "createdAt": self.created_at}
        if self.schedule is None:
            out["stream"] = True
        else:
            out["schedule"] = {k: ",".join(str(n) for n in sorted(vals)) for k, vals in self.schedule.items()}
            out["reportIfEmpty"] = self.report_if_empty
        if self.since is not None:
            out["initialRecordTime"] = self.since.isoformat().replace("+00:00", "Z")
        if self.last_notified_at is not None:
            out["lastNotifiedAt"] = self.last_notified_at
        return out


class NamedQueries:
    """Every principal's named queries and subscriptions (in memory). ``post(url, body,
    headers)`` sends one delivery and returns the HTTP status (default: urllib)."""

    def __init__(self, registry: Registry, post: Callable[[str, bytes, dict[str, str]], int] | None = None) -> None:
        self.registry = registry
        self.post = post or _post
        self._queries: dict[str, dict[str, dict[str, str]]] = {}  # owner -> name -> params
        self._subscriptions: dict[str, Subscription] = {}
        self._lock = threading.Lock()
        self._task: asyncio.Task[None] | None = None

    # ---------------------------------------------------------------------------- queries
    def create(self, owner: str, name: str, params: dict[str, str]) -> None:
        with self._lock:
            mine = self._queries.setdefault(owner, {})
            if name in mine:
                raise AlreadyExists("query", name)
            if len(mine) >= MAX_QUERIES:
                raise InvalidField.one("name", f"at most {MAX_QUERIES} named queries per principal")
            mine[name] = dict(params)

    def get(self, owner: str, name: str) -> dict[str, str]:
        with self._lock:
            found = self._queries.get(owner, {}).get(name)
        if found is None:
            raise NotFound("query", name)
        return dict(found)

    def names(self, owner: str) -> list[tuple[str, dict[str, str]]]:
        with self._lock:
            return sorted((n, dict(p)) for n, p in self._queries.get(owner, {}).items())

    def delete(self, owner: str, name: str) -> None:
        """The query and every subscription to it (EPCIS: deleting a query unsubscribes all)."""
        with self._lock:
            if self._queries.get(owner, {}).pop(name, None) is None:
                raise NotFound("query", name)
            for key in [k for k, s in self._subscriptions.items() if s.owner == owner and s.query_name == name]:
                del self._subscriptions[key]

    # ---------------------------------------------------------------------- subscriptions
    def subscribe(
        self, owner: str, name: str, body: Any, visible: Callable[[UUID], bool] | None
    ) -> Subscription:
        params = self.get(owner, name)
        if not isinstance(body, Mapping):
            raise InvalidField.one("(body)", "a subscription is a JSON object with dest and stream")
        dest = body.get("dest")
        _check_dest(dest)
        secret = body.get("signatureToken", "")
        if not isinstance(secret, str):
            raise InvalidField.one("signatureToken", "a string")
        schedule = None
        if "schedule" in body:
            if "stream" in body:
                raise InvalidField.one("stream", "a subscription has a schedule or stream: true, not both")
            schedule = parse_schedule(body["schedule"])
        elif body.get("stream") is not True:
            raise InvalidField.one("stream", "required: true, or a schedule (the standard's guard against "
                                             "subscribing by accident)")
        report_if_empty = body.get("reportIfEmpty", False)
        if not isinstance(report_if_empty, bool):
            raise InvalidField.one("reportIfEmpty", "true or false")
        since = None
        if "initialRecordTime" in body:
            raw = body["initialRecordTime"]
            try:
                since = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
            except ValueError:
                since = None
            if since is None or since.tzinfo is None:
                raise InvalidField.one("initialRecordTime", "an ISO 8601 date-time with offset")
        subscription = Subscription(
            str(uuid4()), owner, name, params, str(dest), secret, visible, _now(),
            0 if since is not None else self.registry.head(), since,
            schedule=schedule, report_if_empty=report_if_empty, checked=int(datetime.now(UTC).timestamp()),
        )
        with self._lock:
            if sum(1 for s in self._subscriptions.values() if s.owner == owner) >= MAX_SUBSCRIPTIONS:
                raise InvalidField.one("dest", f"at most {MAX_SUBSCRIPTIONS} subscriptions per principal")
            self._subscriptions[subscription.id] = subscription
        self._start()
        return subscription

    def subscriptions(self, owner: str, name: str) -> list[Subscription]:
        self.get(owner, name)
        with self._lock:
            return [s for s in self._subscriptions.values() if s.owner == owner and s.query_name == name]

    def subscription(self, owner: str, name: str, subscription_id: str) -> Subscription:
        with self._lock:
            found = self._subscriptions.get(subscription_id)
        if found is None or found.owner != owner or found.query_name != name:
            raise NotFound("subscription", subscription_id)
        return found

    def unsubscribe(self, owner: str, name: str, subscription_id: str) -> None:
        self.subscription(owner, name, subscription_id)
        with self._lock:
            self._subscriptions.pop(subscription_id, None)

    # --------------------------------------------------------------------------- delivery
    def _start(self) -> None:
        if self._task is None or self._task.done():
            with contextlib.suppress(RuntimeError):  # no running loop: deliver() is called directly
                self._task = asyncio.get_running_loop().create_task(self._run())

    def stop(self) -> None:
        """Stop delivering (the serving process stops; subscriptions end with it)."""
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _run(self) -> None:
        while True:
            with self._lock:
                active = bool(self._subscriptions)
            if not active:
                self._task = None
                return
            await asyncio.to_thread(self.deliver)
            await asyncio.sleep(POLL_SECONDS)

    def deliver(self, now: datetime | None = None) -> int:
        """One round: each due subscription's new matching events posted to its ``dest`` (a
        stream's at every round, a schedule's at its query times); returns the number of
        documents posted. A delivery that fails is tried again in the next round (from the same
        position)."""
        now = now or datetime.now(UTC)
        with self._lock:
            due = [s for s in self._subscriptions.values() if s.due(now)]
        sent = 0
        for s in due:
            head = self.registry.head()
            if head <= s.position and not (s.schedule is not None and s.report_if_empty):
                continue
            matches = matcher(s.params)
            events = [e for _, e in self._source(s, head) if matches(e) and _recorded_since(e, s.since)]
            if events or (s.schedule is not None and s.report_if_empty):
                body = json.dumps(result_document(events, s.query_name, s.id)).encode()
                headers = {"Content-Type": "application/ld+json", "GS1-EPCIS-Version": "2.0.0"}
                if s.secret:
                    digest = hmac.new(s.secret.encode(), body, hashlib.sha256).hexdigest()
                    headers["GS1-Signature"] = f"sha256={digest}"
                try:
                    status = self.post(s.dest, body, headers)
                except OSError:
                    status = 0
                if not 200 <= status < 300:
                    s.failures += 1
                    continue
                s.last_notified_at = _now()
                sent += 1
            s.position, s.since = head, None
        return sent

    def _source(self, s: Subscription, head: int) -> Iterator[tuple[int, Event]]:
        """The log after the subscription's position up to ``head``, within its reach; a query's
        ``batchID`` or ``partnerID`` narrows it as ``GET /events`` does."""
        batch, partner = s.params.get("batchID"), s.params.get("partnerID")
        if partner is not None:
            return ((p, e) for p, e in partner_log_events(self.registry, UUID(partner), s.position, s.visible)
                    if p <= head)
        events = log_events(self.registry, after=s.position, stop=head, visible=s.visible)
        return events if batch is None else ((p, e) for p, e in events if e.get(v.ext("batchID")) == batch)


#: A schedule's fields and their legal ranges (EPCIS 1.2 section 8.2.5.3; dayOfWeek 1 is Monday).
_SCHEDULE = {"second": (0, 59), "minute": (0, 59), "hour": (0, 23), "dayOfMonth": (1, 31), "month": (1, 12),
             "dayOfWeek": (1, 7)}
_ELEMENT = re.compile(r"^(\d+)$|^\[(\d+)-(\d+)\]$")


def parse_schedule(schedule: Any) -> dict[str, frozenset[int]]:
    """A query schedule: each given field's set of values (InvalidField naming ``schedule.<field>``
    for a value off the grammar, out of range, or a range whose first number is the greater)."""
    if not isinstance(schedule, Mapping) or not schedule:
        raise InvalidField.one("schedule", f"an object with one or more of {list(_SCHEDULE)}")
    out: dict[str, frozenset[int]] = {}
    for name, value in schedule.items():
        where = f"schedule.{name}"
        if name not in _SCHEDULE:
            raise InvalidField.one(where, f"not a schedule field; the fields: {list(_SCHEDULE)}")
        low, high = _SCHEDULE[name]
        values: set[int] = set()
        for element in (str(value).split(",") if isinstance(value, str | int) and not isinstance(value, bool)
                        else [""]):
            found = _ELEMENT.match(element.strip())
            if found is None:
                raise InvalidField.one(where, 'Element ("," Element)*, an Element a number or [low-high]')
            first = int(found.group(1) or found.group(2))
            last = int(found.group(1) or found.group(3))
            if not low <= first <= last <= high:
                raise InvalidField.one(where, f"numbers from {low} to {high}, a range's first not the greater")
            values.update(range(first, last + 1))
        out[name] = frozenset(values)
    return out


def schedule_matches(schedule: Mapping[str, frozenset[int]], at: datetime) -> bool:
    parts = {"second": at.second, "minute": at.minute, "hour": at.hour, "dayOfMonth": at.day,
             "month": at.month, "dayOfWeek": at.isoweekday()}
    return all(parts[name] in values for name, values in schedule.items())


def _recorded_since(e: Event, since: datetime | None) -> bool:
    if since is None:
        return True
    raw = e.get("recordTime")
    return isinstance(raw, str) and datetime.fromisoformat(raw.replace("Z", "+00:00")) >= since


def result_document(events: list[Event], query_name: str, subscription_id: str | None = None) -> dict[str, Any]:
    """An ``EPCISQueryDocument`` of a query's results."""
    results: dict[str, Any] = {"queryName": query_name}
    if subscription_id is not None:
        results["subscriptionID"] = subscription_id
    results["resultsBody"] = {"eventList": events}
    return {"@context": v.DOCUMENT_CONTEXT, "type": "EPCISQueryDocument", "schemaVersion": "2.0",
            "creationDate": _now(), "epcisBody": {"queryResults": results}}


def _check_dest(dest: Any) -> None:
    """``https://`` anywhere, ``http://`` only to a loopback address."""
    if not isinstance(dest, str) or not dest:
        raise InvalidField.one("dest", "required: the callback URL that receives the events")
    parts = urlsplit(dest)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname:
        host = parts.hostname
        try:
            loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if loopback:
            return
    raise InvalidField.one("dest", "an https:// URL (http:// only to a loopback address)")


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - https or loopback
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - dest checked: https or loopback
        return int(answer.status)
