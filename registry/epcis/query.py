"""The EPCIS 2.0 query language over the registry's log, as the REST binding serves it
(:mod:`registry.epcis.http`): the query parameters of ``GET /events`` and its resource paths
(:data:`SUPPORTED_PARAMS`: ``eventType``, ``EQ_``/``GE_``/``LT_``/``MATCH_`` filters, ``orderBy``,
``eventCountLimit``, ``maxEventCount``), their paging (``perPage``, ``nextPageToken``) and the
lookup of one event by its eventID. Bad parameters are InvalidField naming the parameter (the
binding answers ``QueryParameterException``)."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from registry.application.service import Registry
from registry.domain.errors import InvalidField, NotFound
from registry.epcis import vocabulary as v
from registry.epcis.epc_patterns import compile_values
from registry.epcis.export import Event
from registry.epcis.sources import batch_events, log_events, partner_log_events

MAX_PER_PAGE = 1000
#: GS1's openapi.yaml (REST Bindings, ``components.schemas.PerPage``): ``default: 30``.
DEFAULT_PER_PAGE = 30


def _time_param(params: Mapping[str, str], name: str) -> datetime | None:
    raw = params.get(name)
    if raw is None:
        return None
    # a '+hh:mm' offset not percent-encoded in a hand-written URL arrives as ' hh:mm' (form decoding)
    raw = raw.replace(" ", "+")
    try:
        when = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidField.one(name, "an ISO 8601 date-time with offset") from None
    if when.tzinfo is None:
        raise InvalidField.one(name, "needs a time zone offset")
    return when


def uuid_param(params: Mapping[str, str], name: str) -> UUID | None:
    raw = params.get(name)
    if raw is None:
        return None
    try:
        return UUID(raw)
    except ValueError:
        raise InvalidField.one(name, "must be a UUID") from None


def _int_param(params: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise InvalidField.one(name, f"a whole number from {low} to {high}")
    return int(raw)


def page_size(params: Mapping[str, str]) -> int:
    """``perPage`` (:data:`DEFAULT_PER_PAGE`, openapi.yaml's default 30, when absent): a whole
    number from 1; more than :data:`MAX_PER_PAGE` is served as that many (openapi.yaml: a global
    upper limit the client cannot override, with the rest behind ``Link``)."""
    return min(_int_param(params, "perPage", DEFAULT_PER_PAGE, 1, 1 << 62), MAX_PER_PAGE)


SUPPORTED_PARAMS = frozenset({
    "batchID", "partnerID", "eventType", "EQ_bizStep", "EQ_disposition", "GE_eventTime", "LT_eventTime",
    "GE_recordTime", "LT_recordTime", "EQ_action", "EQ_bizLocation", "EQ_readPoint", "EQ_eventID",
    "MATCH_epc", "MATCH_anyEPC", "MATCH_parentID", "MATCH_inputEPC", "MATCH_outputEPC", "MATCH_epcClass",
    "MATCH_inputEPCClass", "MATCH_outputEPCClass", "MATCH_anyEPCClass", "orderBy", "orderDirection",
    "eventCountLimit", "maxEventCount", "perPage", "nextPageToken",
    "WD_bizLocation", "WD_readPoint", "EXISTS_errorDeclaration", "EQ_errorReason", "EQ_correctiveEventID",
    "GE_errorDeclarationTime", "LT_errorDeclarationTime", "EQ_persistentDisposition",
})
#: EPCIS 2.0 section 8.2.7.1's parameters named by a type: ``EQ_bizTransaction_po`` (a business
#: transaction of type po naming one of the values), ``EQ_source_owning_party``,
#: ``EQ_destination_location``; the type a CBV term (bare) or a URI.
_TYPED = {"EQ_bizTransaction_": ("bizTransactionList", "bizTransaction", "btt"),
          "EQ_source_": ("sourceList", "source", "sdt"), "EQ_destination_": ("destinationList", "destination", "sdt")}
_TYPED_PREFIXES = tuple(_TYPED)
#: The five EPCIS 2.0 event types (GS1's ``EPCISEventTypes``); the registry defines no others.


def _pipe(params: Mapping[str, str], name: str) -> set[str] | None:
    """A pipe-delimited parameter's values (GS1's ``style: pipeDelimited``), None when absent."""
    return set(params[name].split("|")) if name in params else None


def _match(params: Mapping[str, str], name: str, classes: bool = False) -> Callable[[Iterable[str]], bool] | None:
    """A ``MATCH_`` parameter's test of an event's identifiers (None when absent): its values are
    identifiers (an SGTIN in either GS1 spelling) or EPC patterns (:mod:`registry.epcis.epc_patterns`)."""
    wanted = _pipe(params, name)
    return None if wanted is None else compile_values(wanted, name, classes)


def _any_epcs(e: Event) -> set[str]:
    """Every EPC an event names in any role (MATCH_anyEPC: epcList, childEPCs, parentID,
    inputEPCList, outputEPCList)."""
    found = {str(x) for key in ("epcList", "childEPCs", "inputEPCList", "outputEPCList") for x in e.get(key, ())}
    if "parentID" in e:
        found.add(str(e["parentID"]))
    return found


def _classes(e: Event, *lists: str) -> set[str]:
    """The EPC classes of an event's quantity lists ``lists`` (``quantityList``, ...)."""
    return {str(q.get("epcClass")) for key in lists for q in e.get(key, ()) if isinstance(q, dict)}


#: MATCH_ parameters beyond epc and anyEPC (EPCIS 2.0 section 8.2.7.1): each, the event fields
#: whose EPCs (or EPC classes, of their quantity elements) it matches.
_MATCH_EPCS = {"MATCH_parentID": ("parentID",), "MATCH_inputEPC": ("inputEPCList",),
               "MATCH_outputEPC": ("outputEPCList",)}
_MATCH_CLASSES = {
    "MATCH_epcClass": ("quantityList", "childQuantityList"),
    "MATCH_inputEPCClass": ("inputQuantityList",),
    "MATCH_outputEPCClass": ("outputQuantityList",),
    "MATCH_anyEPCClass": ("quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList"),
}


def _epcs_in(e: Event, fields: tuple[str, ...]) -> set[str]:
    found: set[str] = set()
    for key in fields:
        value = e.get(key)
        if isinstance(value, list):
            found.update(str(x) for x in value)
        elif value is not None:
            found.add(str(value))
    return found


_VOCAB_OF = {"bizTransactionList": "btt", "sourceList": "sdt", "destinationList": "sdt"}


def _error_matcher(params: Mapping[str, str]) -> Callable[[Event], bool] | None:
    """EXISTS_errorDeclaration, EQ_errorReason, EQ_correctiveEventID, GE_/LT_errorDeclarationTime
    (EPCIS 2.0 section 8.2.7.1): each selects only events with an errorDeclaration that fits."""
    names = ("EXISTS_errorDeclaration", "EQ_errorReason", "EQ_correctiveEventID", "GE_errorDeclarationTime",
             "LT_errorDeclarationTime")
    if not any(n in params for n in names):
        return None
    reasons = {v.cbv_term("er", r) for r in params["EQ_errorReason"].split("|")} if "EQ_errorReason" in params else None
    corrective = _pipe(params, "EQ_correctiveEventID")
    since, until = _time_param(params, "GE_errorDeclarationTime"), _time_param(params, "LT_errorDeclarationTime")

    def fits(e: Event) -> bool:
        d = e.get("errorDeclaration")
        if not isinstance(d, dict):
            return False
        if reasons is not None and v.cbv_term("er", str(d.get("reason", ""))) not in reasons:
            return False
        if corrective is not None and not corrective & set(d.get("correctiveEventIDs") or ()):
            return False
        return _in_range(_when(d, "declarationTime"), since, until)

    return fits


def _persistent(e: Event) -> set[str]:
    """The dispositions an event's ``persistentDisposition`` sets or unsets (EQ_persistentDisposition
    selects an event naming one of its values in either list), as bare CBV terms."""
    found = e.get("persistentDisposition")
    if not isinstance(found, dict):
        return set()
    out: set[str] = set()
    for key in ("set", "unset"):
        listed = found.get(key)
        if isinstance(listed, list):
            out.update(v.cbv_term("disposition", str(d)) for d in listed)
    return out


def _when(e: Event, field: str) -> datetime | None:
    raw = e.get(field)
    return datetime.fromisoformat(raw.replace("Z", "+00:00")) if isinstance(raw, str) else None


def _in_range(when: datetime | None, since: datetime | None, until: datetime | None) -> bool:
    if since is None and until is None:
        return True
    if when is None:
        return False
    return (since is None or when >= since) and (until is None or when < until)


def _matcher(params: Mapping[str, str]) -> Callable[[Event], bool]:
    """The EPCIS query parameters (EPCIS 2.0 section 8.2.7.1) as a test of one event; an
    unsupported parameter is a QueryParameterException naming it."""
    unknown = sorted(n for n in set(params) - SUPPORTED_PARAMS if not n.startswith(_TYPED_PREFIXES))
    if unknown:
        raise InvalidField([(name, f"not a supported query parameter; supported: {sorted(SUPPORTED_PARAMS)}")
                            for name in unknown])
    types = _pipe(params, "eventType")
    steps = {v.cbv_term("bizStep", s) for s in params["EQ_bizStep"].split("|")} if "EQ_bizStep" in params else None
    dispositions = ({v.cbv_term("disposition", s) for s in params["EQ_disposition"].split("|")}
                    if "EQ_disposition" in params else None)
    since, until = _time_param(params, "GE_eventTime"), _time_param(params, "LT_eventTime")
    recorded_since, recorded_until = _time_param(params, "GE_recordTime"), _time_param(params, "LT_recordTime")
    persistent = ({v.cbv_term("disposition", s) for s in params["EQ_persistentDisposition"].split("|")}
                  if "EQ_persistentDisposition" in params else None)
    actions = _pipe(params, "EQ_action")
    if actions is not None and not actions <= v.ACTIONS:
        raise InvalidField.one("EQ_action", "each value ADD, OBSERVE or DELETE")
    locations, read_points = _pipe(params, "EQ_bizLocation"), _pipe(params, "EQ_readPoint")
    # WD_ (a value or its descendants in the master data hierarchy): the registry's sites have no
    # hierarchy, so each site's only descendant is itself and WD_ selects as EQ_ does
    within_locations, within_points = _pipe(params, "WD_bizLocation"), _pipe(params, "WD_readPoint")
    event_ids = _pipe(params, "EQ_eventID")
    epcs, any_epcs = _match(params, "MATCH_epc"), _match(params, "MATCH_anyEPC")
    typed = [(field, key, v.cbv_term(vocabulary, name[len(prefix):]), set(values.split("|")))
             for name, values in params.items()
             for prefix, (field, key, vocabulary) in _TYPED.items() if name.startswith(prefix) and name != prefix]
    errors = _error_matcher(params)
    by_epcs = [(wanted, fields) for name, fields in _MATCH_EPCS.items() if (wanted := _match(params, name))]
    by_classes = [(wanted, fields) for name, fields in _MATCH_CLASSES.items()
                  if (wanted := _match(params, name, classes=True))]

    def place(e: Event, field: str) -> Any:
        where = e.get(field)
        return where.get("id") if isinstance(where, dict) else None

    def matches(e: Event) -> bool:
        if types is not None and e["type"] not in types:
            return False
        # a captured event keeps a CBV term spelled as a web URI (captured.py): compared as its word
        if steps is not None and v.cbv_term("bizStep", str(e.get("bizStep", ""))) not in steps:
            return False
        if dispositions is not None and v.cbv_term("disposition", str(e.get("disposition", ""))) not in dispositions:
            return False
        if persistent is not None and not persistent & _persistent(e):
            return False
        if actions is not None and e.get("action") not in actions:
            return False
        if event_ids is not None and e.get("eventID") not in event_ids:
            return False
        if locations is not None and place(e, "bizLocation") not in locations:
            return False
        if read_points is not None and place(e, "readPoint") not in read_points:
            return False
        if within_locations is not None and place(e, "bizLocation") not in within_locations:
            return False
        if within_points is not None and place(e, "readPoint") not in within_points:
            return False
        if not _in_range(_when(e, "eventTime"), since, until):
            return False
        if not _in_range(_when(e, "recordTime"), recorded_since, recorded_until):
            return False
        if epcs is not None and not epcs(_epcs_in(e, ("epcList", "childEPCs"))):
            return False
        for field, key, kind, wanted in typed:
            entries = e.get(field) or ()
            if not any(isinstance(x, dict) and v.cbv_term(_VOCAB_OF[field], str(x.get("type", ""))) == kind
                       and x.get(key) in wanted for x in entries):
                return False
        if errors is not None and not errors(e):
            return False
        if any(not wanted(_epcs_in(e, fields)) for wanted, fields in by_epcs):
            return False
        if any(not wanted(_classes(e, *fields)) for wanted, fields in by_classes):
            return False
        return any_epcs is None or any_epcs(_any_epcs(e))

    return matches


def matcher(params: Mapping[str, str]) -> Callable[[Event], bool]:
    """The query parameters' test of one event (InvalidField naming a bad parameter)."""
    return _matcher(params)


def check_params(params: Mapping[str, str]) -> None:
    """Every rule ``GET /events`` holds its parameters to, without reading any event (a named
    query's definition is checked when it is created)."""
    _matcher(params)
    _order(params)
    if uuid_param(params, "batchID") is not None and uuid_param(params, "partnerID") is not None:
        raise InvalidField.one("batchID", "give batchID or partnerID, not both")
    page_size(params)
    _int_param(params, "maxEventCount", 0, 1, 1 << 31)
    _int_param(params, "eventCountLimit", 0, 1, MAX_ORDERED)


def query_page(
    registry: Registry, params: Mapping[str, str], visible: Callable[[UUID], bool] | None = None,
    fixed: Mapping[str, str] | None = None,
) -> tuple[list[Event], str]:
    """One page of ``GET /events``: the events and the next page token ('' on the last page),
    of the batches ``visible`` admits (the caller's reach; None: all). ``fixed``: the query
    parameters a resource path sets (``/bizSteps/{bizStep}/events`` is ``EQ_bizStep``), which
    the query string may not give again."""
    fixed = fixed or {}
    again = sorted(set(params) & set(fixed))
    if again:
        raise InvalidField([(name, "given by the resource path; not a query parameter here") for name in again])
    matches = _matcher({**params, **fixed})
    per_page = page_size(params)
    after = _int_param(params, "nextPageToken", 0, 0, 1 << 62)
    batch, partner = uuid_param(params, "batchID"), uuid_param(params, "partnerID")
    if batch is not None and partner is not None:
        raise InvalidField.one("batchID", "give batchID or partnerID, not both")
    order = _order(params)

    def source(after: int) -> Iterator[tuple[int, Event]]:
        if batch is not None:  # a batch's history: the token counts its events
            return ((i, e) for i, e in enumerate(batch_events(registry, batch, visible), start=1) if i > after)
        if partner is not None:
            return partner_log_events(registry, partner, after, visible)
        return log_events(registry, after=after, visible=visible)

    if order is not None:
        return _ordered_page((e for _, e in source(0) if matches(e)), order, params, per_page, after)
    limit = _int_param(params, "maxEventCount", 0, 1, 1 << 31)
    if limit and sum(1 for _, e in source(0) if matches(e)) > limit:
        raise QueryTooLarge(f"more than maxEventCount={limit} events match")
    page: list[Event] = []
    last = after
    more = False
    for position, event in source(after):
        # A full page ends before the next log position, never inside one: an order correction
        # is two events (its error declaration and corrective event) at one position, and the
        # token resumes after a position (so such a page may hold one event more than perPage).
        if len(page) >= per_page and position != last:
            more = True
            break
        last = position
        if matches(event):
            page.append(event)
    return page, str(last) if more else ""


class QueryTooLarge(Exception):
    """EPCIS ``QueryTooLargeException``: the query would return more events than allowed."""


#: An ordered query sorts its whole result in memory: at most this many events (more is
#: QueryTooLargeException; an extremal query with ``eventCountLimit`` keeps only that many).
MAX_ORDERED = 10_000
ORDER_FIELDS = ("eventTime", "recordTime")


def _order(params: Mapping[str, str]) -> tuple[str, bool] | None:
    """``orderBy`` and ``orderDirection`` (the field, descending?) with ``eventCountLimit`` and
    ``maxEventCount``'s rules (EPCIS 2.0 section 8.2.7.1); None: log order."""
    if "eventCountLimit" in params and "maxEventCount" in params:
        raise InvalidField.one("eventCountLimit", "eventCountLimit and maxEventCount are mutually exclusive")
    field = params.get("orderBy")
    if field is None:
        for name in ("orderDirection", "eventCountLimit"):
            if name in params:
                raise InvalidField.one(name, "only with orderBy")
        return None
    if field not in ORDER_FIELDS:
        raise InvalidField.one("orderBy", f"one of {list(ORDER_FIELDS)}")
    direction = params.get("orderDirection", "DESC")
    if direction not in ("ASC", "DESC"):
        raise InvalidField.one("orderDirection", "ASC or DESC")
    return field, direction == "DESC"


def _ordered_page(
    selected: Iterator[Event], order: tuple[str, bool], params: Mapping[str, str], per_page: int, offset: int
) -> tuple[list[Event], str]:
    """A page of an ordered query: the whole selection sorted by the field (ties in log order;
    an event without the field counts as the earliest), cut to ``eventCountLimit``, paged by
    offset (the token of an ordered query counts events)."""
    field, descending = order
    earliest = datetime.min.replace(tzinfo=UTC)

    def key(e: Event) -> datetime:
        return _when(e, field) or earliest

    count = _int_param(params, "eventCountLimit", 0, 1, MAX_ORDERED)
    if count:
        ranked = (heapq.nlargest if descending else heapq.nsmallest)(count, selected, key=key)
    else:
        limit = min(_int_param(params, "maxEventCount", MAX_ORDERED, 1, 1 << 31), MAX_ORDERED)
        gathered = list(itertools.islice(selected, limit + 1))
        if len(gathered) > limit:
            raise QueryTooLarge(f"more than {limit} events match an ordered query; narrow it or give eventCountLimit")
        ranked = sorted(gathered, key=key, reverse=descending)
    page = ranked[offset : offset + per_page]
    return page, str(offset + per_page) if offset + per_page < len(ranked) else ""


def find_event(registry: Registry, event_id: str, visible: Callable[[UUID], bool] | None = None) -> list[Event]:
    """``GET /events/{eventID}``: the event with that eventID and its error declarations (an
    order declared in error is exported again with its eventID and an ``errorDeclaration``), of
    the batches ``visible`` admits; NotFound when there is none (another partner's event is
    answered as a missing one). The log is scanned: eventIDs are content hashes, not indexed."""
    found = [e for _, e in log_events(registry, visible=visible) if e.get("eventID") == event_id]
    if not found:
        raise NotFound("event", event_id)
    return found
