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
  event the query selects, within the subscriber's reach (the party a partner or site operator
  subscribed for: that party's batches as the log says at delivery; every batch for a role that is
  not confined), as an
  ``EPCISQueryDocument`` (``queryName``, ``subscriptionID``) to the subscriber's ``dest`` by
  ``POST``, signed with ``GS1-Signature: sha256=<HMAC-SHA256 of the body with signatureToken>``
  when a ``signatureToken`` was given. ``initialRecordTime`` sends the events recorded since then
  first; without it, only events recorded after the subscription. A **scheduled** subscription
  (``schedule``: ``second``, ``minute``, ``hour``, ``dayOfMonth``, ``month``, ``dayOfWeek``, each
  ``Element ("," Element)*`` with an Element a number or ``[low-high]``, an omitted field any
  value; EPCIS 1.2 section 8.2.5.3, times in UTC) runs at each matching second and posts the
  events recorded since its last run, or an empty document with ``reportIfEmpty``. ``dest`` is
  ``https://``, or ``http://`` on a loopback address only (no plain text across a network).

Both are kept in the event store's database (:mod:`registry.epcis.subscription_store`): they
survive a restart, every server process on that database serves them, and one process at a time
delivers a subscription (a lease in its row). Delivery is at-least-once: progress is recorded after
the destination acknowledged a document.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import ipaddress
import json
import logging
import re
import socket
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
from registry.epcis.captured import batch_of
from registry.epcis.export import Event
from registry.epcis.query import check_params, matcher
from registry.epcis.sources import log_events, partner_log_events
from registry.epcis.subscription_store import Duplicate, SecretUnavailable, SubscriptionRow, SubscriptionStore
from registry.security.grants import Reach
from registry.security.scope import Scope, ScopeIndex

log = logging.getLogger(__name__)

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
    secret: str  # the client's signatureToken as stored (usable after the claim): never answered or logged
    party: UUID | None  # the subscriber's reach: a confined party's batches (None: every batch)
    created_at: str
    position: int  # the log position the next delivery starts after
    since: datetime | None = None  # initialRecordTime: recorded at or after it (first delivery)
    last_notified_at: str | None = None
    failures: int = 0
    schedule: dict[str, frozenset[int]] | None = None  # None: a stream
    report_if_empty: bool = False
    checked: int = 0  # the last second (epoch) a schedule was run for

    @classmethod
    def of(cls, row: SubscriptionRow) -> Subscription:
        return cls(
            row.id, row.owner, row.query_name, row.params, row.dest, row.secret,
            UUID(row.party) if row.party else None, row.created_at, row.position,
            datetime.fromisoformat(row.since) if row.since else None, row.last_notified_at, row.failures,
            {k: frozenset(v) for k, v in row.schedule.items()} if row.schedule is not None else None,
            row.report_if_empty, row.checked)

    def row(self) -> SubscriptionRow:
        return SubscriptionRow(
            self.id, self.owner, self.query_name, self.params, self.dest, self.secret,
            str(self.party) if self.party else None, self.created_at, self.position,
            self.since.isoformat() if self.since else None, self.last_notified_at, self.failures,
            {k: sorted(v) for k, v in self.schedule.items()} if self.schedule is not None else None,
            self.report_if_empty, self.checked)

    def due(self, second: int, checked: int) -> bool:
        """A stream always; a schedule when a second after ``checked`` up to ``second`` matches it
        (a late round, or a restart, catches up to an hour)."""
        if self.schedule is None:
            return True
        start = max(checked + 1, second - 3600)
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


SEALED_AT_REST = (
    "rule sealed-at-rest: this server stores a signatureToken only encrypted, and has no key to "
    "encrypt it with (the operator sets GPUREG_EPCIS_SECRET_KEY, a file of 64 hex digits: openssl rand "
    "-hex 32); subscribe without signatureToken, or ask the operator to set the key")


class NamedQueries:
    """Every principal's named queries and subscriptions, kept in ``store`` (the event store's
    database: :mod:`registry.epcis.subscription_store`). ``post(url, body, headers)`` sends one
    delivery and returns the HTTP status (default: urllib)."""

    def __init__(self, registry: Registry, store: SubscriptionStore | None = None,
                 post: Callable[[str, bytes, dict[str, str]], int] | None = None) -> None:
        self.registry = registry
        self.store = store or SubscriptionStore.open("sqlite://")
        plain = self.store.seal_plain_tokens()  # an earlier version's tokens stored as given
        if plain and not self.store.seals:
            log.warning("%d EPCIS subscription signature token(s) are stored unencrypted (by an earlier "
                        "version); start with epcis_secret_key to seal them", plain)
        self.post = post or _post
        self.holder = f"{socket.gethostname()[:40]}-{uuid4().hex[:16]}"  # this process's lease name
        self._checked: dict[str, int] = {}  # subscription -> last second a schedule was looked at here
        self._index: ScopeIndex | None = None
        self._task: asyncio.Task[None] | None = None

    # ---------------------------------------------------------------------------- queries
    def create(self, owner: str, name: str, params: dict[str, str]) -> None:
        try:
            added = self.store.add_query(owner, name, dict(params), _now(), MAX_QUERIES)
        except Duplicate:
            raise AlreadyExists("query", name) from None
        if not added:
            raise InvalidField.one("name", f"at most {MAX_QUERIES} named queries per principal")

    def get(self, owner: str, name: str) -> dict[str, str]:
        found = self.store.query(owner, name)
        if found is None:
            raise NotFound("query", name)
        return found

    def names(self, owner: str) -> list[tuple[str, dict[str, str]]]:
        return self.store.queries(owner)

    def delete(self, owner: str, name: str) -> None:
        """The query and every subscription to it (EPCIS: deleting a query unsubscribes all)."""
        if not self.store.delete_query(owner, name):
            raise NotFound("query", name)

    # ---------------------------------------------------------------------- subscriptions
    def subscribe(self, owner: str, name: str, body: Any, party: UUID | None) -> Subscription:
        """A new subscription of ``owner`` to its query ``name``; ``party``: the subscriber's
        reach (the party a confined caller acts for; None for one that sees every batch)."""
        params = self.get(owner, name)
        if not isinstance(body, Mapping):
            raise InvalidField.one("(body)", "a subscription is a JSON object with dest and stream")
        dest = body.get("dest")
        _check_dest(dest)
        secret = body.get("signatureToken", "")
        if not isinstance(secret, str):
            raise InvalidField.one("signatureToken", "a string")
        if secret and not self.store.seals:
            raise InvalidField.one("signatureToken", SEALED_AT_REST)
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
            str(uuid4()), owner, name, params, str(dest), secret, party, _now(),
            0 if since is not None else self.registry.head(), since,
            schedule=schedule, report_if_empty=report_if_empty, checked=int(datetime.now(UTC).timestamp()),
        )
        if not self.store.add_subscription(subscription.row(), MAX_SUBSCRIPTIONS):
            self.get(owner, name)  # deleted meanwhile: NotFound
            raise InvalidField.one("dest", f"at most {MAX_SUBSCRIPTIONS} subscriptions per principal")
        return subscription

    def subscriptions(self, owner: str, name: str) -> list[Subscription]:
        self.get(owner, name)
        return [Subscription.of(r) for r in self.store.subscriptions(owner, name)]

    def subscription(self, owner: str, name: str, subscription_id: str) -> Subscription:
        found = [s for s in self.store.subscriptions(owner, name) if s.id == subscription_id]
        if not found:
            raise NotFound("subscription", subscription_id)
        return Subscription.of(found[0])

    def unsubscribe(self, owner: str, name: str, subscription_id: str) -> None:
        if not self.store.delete_subscription(owner, name, subscription_id):
            raise NotFound("subscription", subscription_id)

    # --------------------------------------------------------------------------- delivery
    def start(self) -> None:
        """Deliver in the running event loop (the REST server starts it), until :meth:`stop`."""
        if self._task is None or self._task.done():
            with contextlib.suppress(RuntimeError):  # no running loop: deliver() is called directly
                self._task = asyncio.get_running_loop().create_task(self._run())

    def stop(self) -> None:
        """Stop delivering (the serving process stops) and give up this process's leases, so
        another process (or this one restarted) takes the subscriptions over at once."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        with contextlib.suppress(Exception):  # the database may be gone already: the leases expire
            self.store.release(self.holder)
        self.store.close()

    async def _run(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self.deliver)
            except Exception as exc:  # a store outage: try again next round (never the secret)
                log.warning("EPCIS webhook round failed: %s", type(exc).__name__)
            await asyncio.sleep(POLL_SECONDS)

    def deliver(self, now: datetime | None = None) -> int:
        """One round: each due subscription whose lease this process holds (or takes) gets its
        new matching events posted to its ``dest`` (a stream's at every round, a schedule's at
        its query times); returns the number of documents posted. Progress is written after the
        destination acknowledged a delivery, so a failed one is tried again in the next round from
        the same position, and a process that stops between a post and its record posts that
        document again when it (or another) resumes: at-least-once."""
        second = int((now or datetime.now(UTC)).timestamp())
        sent = 0
        for row in self.store.subscriptions():
            s = Subscription.of(row)
            checked = max(s.checked, self._checked.get(s.id, 0))
            if not s.due(second, checked):
                self._checked[s.id] = second
                continue
            head = self.registry.head()
            if head <= s.position and not (s.schedule is not None and s.report_if_empty):
                self._checked[s.id] = second
                continue
            try:
                secret = self.store.secret(row)
            except SecretUnavailable:  # left to a process that has the key (never claimed here)
                log.warning("EPCIS subscription %s not delivered by this process: its signature token is "
                            "sealed with a key it does not have (epcis_secret_key)", s.id)
                continue
            claimed = self.store.claim(s.id, self.holder)
            if claimed is None:
                continue  # another process delivers it
            s = Subscription.of(claimed)  # its progress as of the claim (another may have moved it)
            s.secret = secret
            if s.schedule is not None and not s.due(second, max(s.checked, self._checked.get(s.id, 0))):
                continue
            sent += self._deliver_one(s, head, second)
        return sent

    def _deliver_one(self, s: Subscription, head: int, second: int) -> int:
        matches = matcher(s.params)
        events = [e for _, e in self._source(s, head) if matches(e) and _recorded_since(e, s.since)]
        notified = None
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
                self.store.progress(s.id, self.holder, position=s.position, checked=s.checked,
                                    notified_at=None, failed=True)
                return 0
            notified = _now()
        self.store.progress(s.id, self.holder, position=max(head, s.position), checked=second,
                            notified_at=notified, failed=False)
        self._checked[s.id] = second
        return 1 if notified else 0

    def _visible(self, party: UUID | None, owner: str) -> Callable[[UUID], bool] | None:
        """The subscriber's reach now: its party's batches as the log says (None: every batch);
        the events it captured itself (``owner``, its subject) as captured, others' as recorded."""
        if party is None:
            return None
        if self._index is None:
            self._index = ScopeIndex(self.registry)
        self._index.refresh()
        scope = Scope.of(party, self._index)
        return Reach(scope.sees_batch, owner, scope.sees_party)

    def _source(self, s: Subscription, head: int) -> Iterator[tuple[int, Event]]:
        """The log after the subscription's position up to ``head``, within its reach; a query's
        ``batchID`` or ``partnerID`` narrows it as ``GET /events`` does."""
        batch, partner = s.params.get("batchID"), s.params.get("partnerID")
        visible = self._visible(s.party, s.owner)
        if partner is not None:
            return ((p, e) for p, e in partner_log_events(self.registry, UUID(partner), s.position, visible)
                    if p <= head)
        events = log_events(self.registry, after=s.position, stop=head, visible=visible)
        return events if batch is None else ((p, e) for p, e in events if batch_of(e) == batch)


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
