"""EPCIS 2.0 capture: a document's events turned into registry commands (docs/epcis.md).

A document is handled in two passes:

1. **Check.** Every event is mapped to one command (by its type, action, bizStep, disposition and
   business transactions; :data:`SUPPORTED` lists the kinds; an order's error declaration and
   its corrective event are one ``correct_order``, :class:`_Corrections`) and the command is parsed; batches,
   serials, sites and parties it names are resolved; then the batch commands are decided in
   order on in-memory copies of the batches (the domain's own rules, so the third event of a
   document sees what the first two did). Every event's problem is collected as a
   :class:`EventError` naming the event's index and eventID, the field and the rule.
2. **Write.** Only when no event was refused (or in per-event mode, for the events that passed)
   the commands run one by one under the caller's identity. Each command's ``request_id`` is
   ``epcis:`` + the eventID (the GS1 event hash when the event has none), so capturing the same
   document again writes nothing and answers each event as ``replayed``.

The registry's own export-control decisions (authorization coverage, screening, headquarters
rule) are taken in pass 2 only, by the application; a refusal there stops a whole-document
capture at that event and reports the events already written (capturing the document again
after a fix resumes where it stopped, idempotently).

One concept: the mapping from EPCIS events to registry commands; the two passes share every
mapping rule, so splitting them would state each rule twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import UUID, uuid4

from registry.application import commands as c
from registry.application.service import Registry
from registry.domain.base import Context
from registry.domain.batch import GpuBatch
from registry.domain.claims import RequestRecord
from registry.domain.errors import (
    AlreadyExists,
    ComplianceRefusal,
    IllegalTransition,
    InvalidField,
    InvariantViolation,
    NotFound,
    RegistryError,
)
from registry.epcis import vocabulary as v
from registry.epcis.captured import canonical
from registry.epcis.event_hash import event_id as hash_event_id
from registry.epcis.event_rules import Refused as _Refused
from registry.epcis.event_rules import check_error_declaration as _check_error_declaration
from registry.epcis.event_rules import check_event as _check_common
from registry.epcis.event_rules import date_time as _date_time
from registry.epcis.event_rules import header_violations as _header_violations
from registry.epcis.export import CORRECTABLE, order_events
from registry.epcis.sources import batch_events
from registry.security.grants import Authorize, allow_all, rpc_name

#: The event kinds capture turns into commands: (type, action, bizStep, disposition) -> command.
SUPPORTED = (
    "TransactionEvent ADD bizStep=accepting with a po and gpureg order fields -> place_order",
    "TransactionEvent with gpureg:clearance requested/granted (ADD) or denied/revoked (DELETE) "
    "-> request/grant/deny/revoke clearance",
    "ObjectEvent ADD bizStep=commissioning -> register_serials",
    "ObjectEvent OBSERVE bizStep=shipping (disposition in_transit) -> ship",
    "ObjectEvent OBSERVE bizStep=receiving -> receive",
    "ObjectEvent OBSERVE bizStep=installing -> install",
    "TransactionEvent ADD with an assignment transaction -> assign",
    "TransactionEvent ADD with a transfer transaction -> transfer",
    "ObjectEvent OBSERVE bizStep=shipping disposition=returned with an rma transaction -> return_for_rma",
    "ObjectEvent OBSERVE disposition=stolen, or disposition=unknown without bizStep -> report_lost",
    "ObjectEvent DELETE bizStep=decommissioning -> decommission",
    "ObjectEvent OBSERVE bizStep=repairing (gpureg:repair returned: back from an RMA, received at the "
    "bizLocation; on_site: repaired in place) -> repair",
    "ObjectEvent OBSERVE bizStep=departing with gpureg:onwardMovement (reexport, transshipment, diversion) "
    "-> record_onward_movement",
    "an order TransactionEvent with errorDeclaration (incorrect_data) and its one corrective order event "
    "-> correct_order",
    "TransactionEvent ADD bizStep=accepting with a po and gpureg:splitFrom (the parent batch) -> split_batch",
    "any event captured before (or exported by the registry) repeated with errorDeclaration (did_not_occur, "
    "incorrect_data of an event that is no order, or no reason) -> declare_error",
)
MAX_EVENTS = 10_000


@dataclass(frozen=True)
class EventError:
    """Why one event of a document was refused."""

    index: int
    event_id: str
    field: str
    rule: str

    def __str__(self) -> str:
        return f"eventList[{self.index}] ({self.event_id or 'no eventID'}): {self.field}: {self.rule}"


@dataclass
class EventOutcome:
    index: int
    event_id: str
    command: str
    status: str  # "written", "replayed", "refused", "not_written"
    batch_id: UUID | None = None
    position: int = 0
    error: EventError | None = None


@dataclass
class CaptureResult:
    """``accepted``: every event was written (or had been before). ``errors`` name each refusal."""

    outcomes: list[EventOutcome] = field(default_factory=list)

    @property
    def errors(self) -> list[EventError]:
        return [o.error for o in self.outcomes if o.error is not None]

    @property
    def accepted(self) -> bool:
        return all(o.status in ("written", "replayed") for o in self.outcomes)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for o in self.outcomes:
            out[o.status] = out.get(o.status, 0) + 1
        return out


@dataclass
class _Plan:
    index: int
    event_id: str
    method: str
    command: c.Command
    batch_id: UUID | None
    same_as: int | None = None  # the other event of a correction pair, planned first: one command
    done: bool = False  # captured before (nothing to run): answered "replayed"
    authorize_as: str = ""  # the command the caller's reach is judged by (default: ``method``)


def _error_of(exc: Exception, command: str) -> tuple[str, str]:
    """(field, rule) of a refusal raised by the registry."""
    if isinstance(exc, _Refused):
        return exc.field, exc.rule
    if isinstance(exc, InvalidField):
        field_, rule = exc.violations[0]
        rest = "; ".join(f"{f}: {r}" for f, r in exc.violations[1:])
        return f"{command}.{field_}", f"rule valid-field: {rule}" + (f" (also {rest})" if rest else "")
    if isinstance(exc, InvariantViolation | ComplianceRefusal):
        return command, f"rule {exc.rule}: {exc.detail}"
    if isinstance(exc, IllegalTransition):
        return command, f"rule state-transition: {exc}"
    if isinstance(exc, NotFound):
        return command, f"rule reference-exists: {exc}"
    return command, f"rule {type(exc).__name__}: {exc}"


class Capture:
    """Capture EPCIS documents into one registry, under the caller's identity."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry
        self._planned: dict[str, tuple[UUID, str]] = {}

    @property
    def registry(self) -> Registry:
        return self._registry

    def capture(
        self, actor: str, document: Mapping[str, Any], per_event: bool = False, *, authorize: Authorize = allow_all
    ) -> CaptureResult:
        """Check every event (mapping, authorization, the registry's rules on the document's
        batches as its earlier events leave them), then write: nothing unless all pass, or in
        ``per_event`` mode each event that passes. ``authorize(command, batch_id, site_id)`` is
        the caller's reach (:func:`registry.security.grants.command_authorizer`, built by the
        auth layer from the principal); the default allows every command (the store's owner)."""
        events = self._event_list(document)
        prefixes = _prefixes(document.get("@context"))
        aliases = _aliases(prefixes)
        if aliases:  # the registry's extensions under another prefix or as full IRIs: read as gpureg:
            events = [_own_prefix(e, aliases) if _spells(e, aliases) else e for e in events]
            prefixes = {**prefixes, v.PREFIX: v.NAMESPACE}
        result = CaptureResult()
        plans: list[_Plan | None] = []
        shadow = _Shadow(self._registry, actor)
        seen: dict[str, tuple[int, str]] = {}  # eventID -> (first index, its command's fingerprint)
        corrections = _Corrections(self, events, prefixes, shadow)
        self._planned = {}  # eventID -> (batch, method) of this document's events
        self._exported: dict[UUID, set[str]] = {}  # batch -> the eventIDs the registry exports it under
        for index, event in enumerate(events):
            eid = str(event.get("eventID", "")) if isinstance(event, Mapping) else ""
            method = "event"
            try:
                if not isinstance(event, Mapping):
                    raise _Refused("(event)", "rule event-object: an event is a JSON object")
                if not isinstance(event.get("type"), str):
                    raise _Refused("type", "rule required: every event names its type")
                _check_common(event)
                if not eid:
                    try:
                        eid = hash_event_id(event, prefixes)
                    except (KeyError, TypeError, ValueError, AttributeError):
                        raise _Refused(
                            "(event)", "rule event-hash: the event is too malformed to hash (and has no eventID)"
                        ) from None
                plan = corrections.plan(index, eid, event) or self._plan(index, eid, event, shadow)
                if plan.method != "correct_order" and plan.same_as is None:  # kept as captured (8.2)
                    plan.command = plan.command.model_copy(update={"epcis_event": canonical(event, eid, prefixes)})
                method = plan.method
                if plan.same_as is not None and plans[plan.same_as] is None:  # its pair was refused
                    refused = result.outcomes[plan.same_as].error
                    raise _Refused(refused.field, refused.rule) if refused else _Refused(method, "refused")
                content = _fingerprint(plan.command)
                # a declaration has the eventID of the event it declares in error, by design
                first = seen.setdefault(eid, (index, content)) if "errorDeclaration" not in event else (index, "")
                if first[1] != content and "errorDeclaration" not in event:
                    raise _Refused(
                        "eventID",
                        f"rule idempotency-key: eventList[{first[0]}] has this eventID with another content; "
                        "each event needs its own eventID",
                    )
                refusal = authorize(plan.authorize_as or plan.method, plan.batch_id,
                                    getattr(plan.command, "site_id", None))
                if refusal is not None:  # before anything about the batch is read or told
                    raise _Refused(*refusal)
                if (not plan.done and "errorDeclaration" not in event
                        and self._exported_here(eid, event, plan, prefixes)):
                    plan.done = True  # the registry's own event again: answered replayed, not decided again
                repeat = first[0] != index or plan.same_as is not None  # written once, answered twice
                if not repeat and not plan.done and not self._handled(plan):  # a repeat: its request record
                    shadow.decide(plan)
                corrections.planned(plan, eid)
                if plan.batch_id is not None and "errorDeclaration" not in event:
                    self._planned.setdefault(eid, (plan.batch_id, plan.method))
                plans.append(plan)
                result.outcomes.append(EventOutcome(index, eid, plan.method, "not_written", plan.batch_id))
            except (_Refused, RegistryError, ValueError, KeyError, TypeError) as exc:
                field_, rule = _error_of(exc, method)
                if isinstance(exc, KeyError | TypeError | ValueError):
                    field_, rule = "(event)", f"malformed event: {type(exc).__name__} {exc}"
                plans.append(None)
                result.outcomes.append(
                    EventOutcome(
                        index,
                        eid,
                        method if method != "event" else "",
                        "refused",
                        None,
                        0,
                        EventError(index, eid, field_, rule),
                    )
                )
        if result.errors and not per_event:
            return result
        for planned, outcome in zip(plans, result.outcomes, strict=True):
            if planned is None:
                continue
            if planned.same_as is not None:  # the pair's other event: the one command's outcome
                other = result.outcomes[planned.same_as]
                outcome.status, outcome.batch_id, outcome.position = other.status, other.batch_id, other.position
                if other.error is not None:
                    outcome.error = EventError(planned.index, planned.event_id, other.error.field, other.error.rule)
                continue
            if planned.done:
                outcome.status = "replayed"
                continue
            try:
                done = getattr(self._registry, planned.method)(actor, planned.command)
            except RegistryError as exc:
                field_, rule = _error_of(exc, planned.method)
                outcome.status = "refused"
                outcome.error = EventError(planned.index, planned.event_id, field_, rule)
                if not per_event:
                    break
                continue
            outcome.status = "replayed" if done.replayed else "written"
            outcome.batch_id = done.aggregate_id
            outcome.position = done.position
        return result

    def record(self, request_id: str) -> Any:
        """The request record of ``request_id`` (None: never handled)."""
        record_id = RequestRecord.id_for(request_id)
        if not self._registry.recorder.select_events(record_id, limit=1):
            return None
        return self._registry.repository.get(record_id)

    def _exported_here(self, eid: str, event: Mapping[str, Any], plan: _Plan, prefixes: Mapping[str, str]) -> bool:
        """EPCIS 2.0 section 7.4.1: an eventID names one event. An event the registry recorded from
        its own API is exported under the GS1 hash of its rendition (with ``gpureg:registryEvent``);
        that event captured back (its batch's export holds the eventID, and the event hashes to it:
        the same content) is the same event, answered ``replayed`` and never decided as a second
        fact. The same eventID with another content is refused (idempotency-key)."""
        if not eid.startswith("ni:///") or v.ext("registryEvent") not in event or plan.batch_id is None:
            return False
        ids = self._exported.get(plan.batch_id)
        if ids is None:
            try:
                ids = {str(e.get("eventID")) for e in batch_events(self._registry, plan.batch_id)
                       if "errorDeclaration" not in e}
            except NotFound:
                ids = set()
            self._exported[plan.batch_id] = ids
        if eid not in ids:
            return False
        if hash_event_id(event, prefixes) != eid:
            raise _Refused("eventID", "rule idempotency-key: the registry holds this eventID with another content; "
                                      "a changed event needs a new eventID")
        return True

    def _handled(self, plan: _Plan) -> bool:
        """Whether the event was captured before (its request record is stored); refused when that
        eventID was captured with another content (the command's fingerprint, as the registry
        computes it for every request id, differs)."""
        record = self.record(plan.command.request_id)
        if record is None:
            return False
        if plan.method == "place_order" and getattr(record, "command", None) == "CorrectOrder":
            # a corrective order event captured before with its error declaration: not a new order
            plan.method, plan.batch_id, plan.done = "correct_order", record.aggregate_id, True
            return True
        command = type(plan.command).__name__  # the registry names each command by its model
        fingerprint = _fingerprint(plan.command)
        if getattr(record, "command", None) != command or getattr(record, "fingerprint", None) != fingerprint:
            raise _Refused(
                "eventID",
                "rule idempotency-key: this eventID was captured before with another content; "
                "a changed event needs a new eventID",
            )
        plan.done = True  # answered "replayed" from its request record, not run again
        return True

    # ------------------------------------------------------------------------------ mapping
    @staticmethod
    def _event_list(document: Mapping[str, Any]) -> list[Any]:
        if document.get("type") not in ("EPCISDocument", "EPCISQueryDocument"):
            raise InvalidField.one("type", "rule document-type: must be EPCISDocument (or EPCISQueryDocument)")
        header = _header_violations(document)
        if header:  # EPCIS 2.0 section 9.1 / GS1's JSON schema: the document's required fields
            raise InvalidField(header)
        body = document.get("epcisBody")
        if not isinstance(body, Mapping):
            raise InvalidField.one("epcisBody", "rule required: an EPCISDocument has an epcisBody object")
        if document["type"] == "EPCISQueryDocument":  # GS1's openapi.yaml: capture takes query results too
            results = body.get("queryResults")
            found = results.get("resultsBody") if isinstance(results, Mapping) else None
            if not isinstance(found, Mapping):
                raise InvalidField.one("epcisBody.queryResults.resultsBody", "rule required: the events to capture")
            body = found
        if "eventList" in body:
            events = body["eventList"]
        elif "event" in body:
            events = [body["event"]]
        else:
            raise InvalidField.one("epcisBody.eventList", "rule required: the events to capture")
        if not isinstance(events, list):
            raise InvalidField.one("epcisBody.eventList", "rule array: must be an array")
        if len(events) > MAX_EVENTS:
            raise InvalidField.one("epcisBody.eventList", f"at most {MAX_EVENTS} events per document")
        return events

    def _plan(self, index: int, eid: str, e: Mapping[str, Any], shadow: _Shadow) -> _Plan:
        kind = e.get("type")
        action = e.get("action")
        occurred = _date_time(e.get("eventTime"))
        if occurred is None:  # checked by _check_common before
            raise _Refused("eventTime", "rule date-time: an ISO 8601 date-time with offset")
        step = v.cbv_term("bizStep", str(e.get("bizStep", "")))
        disposition = v.cbv_term("disposition", str(e.get("disposition", "")))
        transactions = _transactions(e)
        base: dict[str, Any] = {"request_id": f"epcis:{eid}"[:200], "occurred_at": occurred}
        if "errorDeclaration" in e:
            return self._declaration(index, eid, e, shadow)
        if kind == "ObjectEvent":
            if action == "ADD" and step == "commissioning":
                return self._commissioning(index, eid, e, base, shadow)
            if action == "OBSERVE" and step == "shipping" and disposition == "returned":
                return self._movement(
                    index,
                    eid,
                    e,
                    base,
                    shadow,
                    "return_for_rma",
                    c.ReturnForRma,
                    {"rma_number": _rma(e, transactions), "reason": _text(e, "reason")},
                )
            if action == "OBSERVE" and step == "shipping":
                return self._shipping(index, eid, e, base, shadow, transactions)
            if action == "OBSERVE" and step == "receiving":
                return self._receiving(index, eid, e, base, shadow, transactions)
            if action == "OBSERVE" and step == "installing":
                site = _site(e.get("bizLocation") or e.get("readPoint"), "bizLocation.id")
                return self._movement(
                    index,
                    eid,
                    e,
                    base,
                    shadow,
                    "install",
                    c.Install,
                    {"site_id": site, "rack": _text(e, "rack"), "host": _text(e, "host")},
                )
            if action == "OBSERVE" and (disposition == "stolen" or (disposition == "unknown" and not step)):
                return self._movement(
                    index,
                    eid,
                    e,
                    base,
                    shadow,
                    "report_lost",
                    c.ReportLost,
                    {"kind": "stolen" if disposition == "stolen" else "lost", "note": _text(e, "note")},
                )
            if action == "OBSERVE" and step == "departing" and v.ext("onwardMovement") in e:
                recipients = _parties(e.get("destinationList"), "destinationList", "destination", "possessing_party")
                if len(recipients) > 1:
                    raise _Refused("destinationList",
                                   "rule recipient-named: an onward movement names at most one possessing_party")
                return self._movement(
                    index, eid, e, base, shadow, "record_onward_movement", c.RecordOnwardMovement,
                    {"kind": _text(e, "onwardMovement"), "country": _text(e, "destinationCountry"),
                     "place": _text(e, "place"), "note": _text(e, "note"),
                     "recipient_id": recipients[0] if recipients else None},
                )
            if action == "OBSERVE" and step == "repairing":
                return self._repairing(index, eid, e, base, shadow, transactions)
            if action == "DELETE" and step == "decommissioning":
                return self._movement(
                    index, eid, e, base, shadow, "decommission", c.Decommission, {"method": _text(e, "method")}
                )
        if kind == "TransactionEvent":
            clearance = e.get(v.ext("clearance"))
            types = {t for t, _ in transactions}
            if clearance is not None:
                return self._clearance(index, eid, e, base, shadow, str(clearance), action)
            if action == "ADD" and v.BTT_ASSIGNMENT in types:
                return self._movement(
                    index,
                    eid,
                    e,
                    base,
                    shadow,
                    "assign",
                    c.Assign,
                    {"assignee_id": _uuid_ext(e, "assigneeID"), "purpose": _text(e, "purpose")},
                )
            if action == "ADD" and v.BTT_TRANSFER in types:
                owners = _parties(e.get("destinationList"), "destinationList", "destination", "owning_party")
                if len(owners) != 1:
                    raise _Refused(
                        "destinationList", "rule new-owner-named: a transfer names exactly one new owning_party"
                    )
                sites = _locations(e.get("destinationList"), "destinationList", "destination")
                return self._movement(
                    index,
                    eid,
                    e,
                    base,
                    shadow,
                    "transfer",
                    c.Transfer,
                    {
                        "to_owner_id": owners[0],
                        "to_site_id": sites[0] if sites else None,
                        "reason": _text(e, "reason") or "transfer",
                    },
                )
            if action == "ADD" and step in ("accepting", "") and "po" in types and v.ext("splitFrom") in e:
                return self._split(index, eid, e, base, shadow, transactions)
            if action == "ADD" and step in ("accepting", "") and "po" in types and v.ext("modelID") in e:
                return self._order(index, eid, e, base, transactions)
        described = " ".join(
            str(x) for x in (kind, action, f"bizStep={step or '-'}", f"disposition={disposition or '-'}")
        )
        raise _Refused(
            "type", f"rule supported-event: {described} maps to no registry command; supported: {'; '.join(SUPPORTED)}"
        )

    def _declaration(self, index: int, eid: str, e: Mapping[str, Any], shadow: _Shadow) -> _Plan:
        """EPCIS 2.0 section 7.4.1.2: an event declared in error (``did_not_occur``,
        ``incorrect_data`` of an event that is not an order, or no reason), recorded as
        ``declare_error`` on the batch of the event it names: one captured before under that
        eventID, or one the registry exports under it (the declaration's ``gpureg:batchID`` names
        the batch to look in). Authorized as the declared event's own command (who may record a
        receipt may declare it did not occur). ``request_id`` ``error:{eventID}``: declaring it
        again is answered as replayed; another declaration of it is refused (idempotency-key)."""
        declaration = e["errorDeclaration"]
        occurred = _date_time(declaration["declarationTime"])
        record = self.record(f"epcis:{eid}"[:200])
        command = getattr(record, "command", None)
        batch: UUID | None = record.aggregate_id if command is not None else None
        if command is None and eid in self._planned:  # declared earlier in this document
            batch, method = self._planned[eid]
            command = rpc_name(method)
        if command is not None and command not in _COMMAND_OF.values():
            raise _Refused("eventID", f"rule error-declaration-unknown-event: {eid} was captured as {command}, "
                                      "which records no batch event")
        if batch is None:
            named = _batch_from_ext(e)
            if named is not None and shadow.exists(named):
                for found in batch_events(self._registry, named):
                    if found.get("eventID") == eid and "errorDeclaration" not in found:
                        batch = named
                        kind = str(found.get(v.ext("registryEvent"), "")).split("@")[0]
                        command = _COMMAND_OF.get(kind)
                        break
        if batch is None or command is None:
            raise _Refused("eventID", f"rule error-declaration-unknown-event: no event {eid} was captured by this "
                                      "registry or is exported by it (for an event the registry recorded from its "
                                      "own API, name its batch in gpureg:batchID)")
        reason = declaration.get("reason")
        cmd = _parse(c.DeclareError, {
            "request_id": f"error:{eid}"[:200], "occurred_at": occurred, "batch_id": batch,
            "event_id": eid, "reason": v.cbv_term("er", str(reason)) if reason is not None else "",
            "corrective_event_ids": list(declaration.get("correctiveEventIDs") or []),
        })
        return _Plan(index, eid, "declare_error", cmd, batch, authorize_as=command)

    def _order(
        self, index: int, eid: str, e: Mapping[str, Any], base: dict[str, Any], transactions: list[tuple[str, str]]
    ) -> _Plan:
        batch = _batch_from_ext(e)
        if batch is None:
            batch = uuid4()
        suppliers = _parties(e.get("sourceList"), "sourceList", "source", "owning_party")
        buyers = _parties(e.get("destinationList"), "destinationList", "destination", "owning_party")
        if len(suppliers) != 1 or len(buyers) != 1:
            raise _Refused(
                "sourceList/destinationList", "rule order-parties: an order names one owning_party on each side"
            )
        quantities = e.get("quantityList") or []
        if len(quantities) != 1:
            raise _Refused("quantityList", "rule order-quantity: an order has one quantityElement (the batch quantity)")
        po = str(
            e.get(v.ext("poNumber")) or v.parse_private("po", next((u for t, u in transactions if t == "po"), "")) or ""
        )
        cmd = _parse(
            c.PlaceOrder,
            {
                **base,
                "batch_id": batch,
                "po_number": po,
                "supplier_id": suppliers[0],
                "buyer_id": buyers[0],
                "model_id": _uuid_ext(e, "modelID"),
                "quantity": _quantity(quantities[0], "quantityList[0]", "place_order"),
                "unit_price": _decimal(e, "unitPrice"),
                "currency": _text(e, "currency"),
                "allocation_program": _text(e, "allocationProgram"),
            },
        )
        return _Plan(index, eid, "place_order", cmd, batch)

    def _split(
        self, index: int, eid: str, e: Mapping[str, Any], base: dict[str, Any], shadow: _Shadow,
        transactions: list[tuple[str, str]],
    ) -> _Plan:
        """A batch split off another (``gpureg:splitFrom`` the parent, ``gpureg:batchID`` the
        child): the units that move (``epcList``, else the quantity of the child's class) leave
        the parent with their share of its clearance. The child's order line is the parent's:
        the PO, parties, model and price the event names are the parent's, or it is refused."""
        parent_id = _uuid_ext(e, "splitFrom")
        child = _batch_from_ext(e)
        if child is None:
            raise _Refused(v.ext("batchID"), "rule batch-named: a split names the child batch it creates")
        parent = shadow.batch(parent_id) if shadow.exists(parent_id) else None
        if parent is None:
            raise _Refused(v.ext("splitFrom"), f"rule reference-exists: batch {parent_id} not found")
        named: dict[str, Any] = {
            "po_number": str(e.get(v.ext("poNumber"))
                             or v.parse_private("po", next((u for t, u in transactions if t == "po"), "")) or ""),
            "model_id": _uuid_ext(e, "modelID") if v.ext("modelID") in e else parent.model_id,
        }
        suppliers = _parties(e.get("sourceList"), "sourceList", "source", "owning_party")
        buyers = _parties(e.get("destinationList"), "destinationList", "destination", "owning_party")
        named["supplier_id"] = suppliers[0] if suppliers else parent.supplier_id
        named["buyer_id"] = buyers[0] if buyers else parent.buyer_id
        differ = sorted(k for k, val in named.items() if val != getattr(parent, k))
        if differ:
            raise _Refused(v.ext("splitFrom"), f"rule split-inherits: a batch split off {parent_id} keeps its order "
                                               f"line; the event names another {differ}")
        serials = _serials(e.get("epcList"), "epcList") if e.get("epcList") else []
        data: dict[str, Any] = {**base, "batch_id": parent_id, "child_batch_id": child}
        if serials:
            data["serials"] = serials
        else:
            quantities = [q for q in e.get("quantityList") or []
                          if isinstance(q, Mapping) and v.parse_uuid("batch", str(q.get("epcClass", ""))) == child]
            if len(quantities) != 1:
                raise _Refused("quantityList", "rule what-moves: a split names the GPUs (epcList) or one "
                                               "quantityElement of the child batch's class")
            data["quantity"] = _quantity(quantities[0], "quantityList[0]", "split_batch")
        return _Plan(index, eid, "split_batch", _parse(c.SplitBatch, data), parent_id)

    def _clearance(
        self,
        index: int,
        eid: str,
        e: Mapping[str, Any],
        base: dict[str, Any],
        shadow: _Shadow,
        status: str,
        action: Any,
    ) -> _Plan:
        batch = self._batch(e, shadow)
        data: dict[str, Any] = {**base, "batch_id": batch}
        if status == "requested" and action == "ADD":
            quantities = e.get("quantityList") or []
            data.update(
                {
                    "authorization_id": _uuid_ext(e, "authorizationID") if v.ext("authorizationID") in e else None,
                    "eccn": _text(e, "eccn"),
                    "destination_country": _text(e, "destinationCountry"),
                    "consignee_id": _uuid_ext(e, "consigneeID"),
                    "end_user_id": _uuid_ext(e, "endUserID"),
                    "quantity": (_quantity(quantities[0], "quantityList[0]", "request_clearance")
                                 if quantities else None),
                    "end_use": _text(e, "endUse"),
                }
            )
            return _Plan(index, eid, "request_clearance", _parse(c.RequestClearance, data), batch)
        if status == "granted" and action == "ADD":
            quantities = e.get("quantityList") or []
            data.update(
                {
                    "authorization_id": _uuid_ext(e, "authorizationID"),
                    "cleared_quantity": _stated_quantity(quantities, "quantityList[0]"),
                }
            )
            return _Plan(index, eid, "grant_clearance", _parse(c.GrantClearance, data), batch)
        if status == "denied" and action == "DELETE":
            data.update({"rule": _text(e, "rule") or "officer-decision", "reason": _text(e, "reason")})
            return _Plan(index, eid, "deny_clearance", _parse(c.DenyClearance, data), batch)
        if status == "revoked" and action == "DELETE":
            data.update({"reason": _text(e, "reason")})
            return _Plan(index, eid, "revoke_clearance", _parse(c.RevokeClearance, data), batch)
        raise _Refused(
            v.ext("clearance"),
            "rule clearance-status: requested or granted (action ADD), denied or revoked (action DELETE)",
        )

    def _commissioning(
        self, index: int, eid: str, e: Mapping[str, Any], base: dict[str, Any], shadow: _Shadow
    ) -> _Plan:
        batch = _batch_from_ext(e)
        if batch is None:
            raise _Refused(
                v.ext("batchID"), "rule batch-named: a commissioning event names the batch its serials belong to"
            )
        serials = _serials(e.get("epcList"), "epcList")
        if not serials:
            raise _Refused("epcList", "rule serials-named: commissioning names the GPUs (serials) it registers")
        uuids: dict[str, str] = {}
        units = (e.get("ilmd") or {}).get(v.ext("units")) or []
        for i, unit in enumerate(units if isinstance(units, list) else []):
            serial = v.parse_private("gpu", str(unit.get(v.ext("gpu"), ""))) if isinstance(unit, Mapping) else None
            if serial is not None:
                uuids[serial] = str(unit.get(v.ext("gpuUUID"), ""))
            else:
                raise _Refused(
                    f"ilmd.{v.ext('units')}[{i}]",
                    "rule unit-identity: an object with gpureg:gpu (a GPU URI of this registry) and gpureg:gpuUUID",
                )
        cmd = _parse(
            c.RegisterSerials,
            {**base, "batch_id": batch, "units": [{"serial": s, "gpu_uuid": uuids.get(s, "")} for s in serials]},
        )
        return _Plan(index, eid, "register_serials", cmd, batch)

    def _shipping(
        self,
        index: int,
        eid: str,
        e: Mapping[str, Any],
        base: dict[str, Any],
        shadow: _Shadow,
        transactions: list[tuple[str, str]],
    ) -> _Plan:
        sites = _locations(e.get("destinationList"), "destinationList", "destination")
        country = _text(e, "destinationCountry")
        if not country and sites:  # the destination site's country
            country = str(getattr(shadow.site(sites[0]), "country", ""))
        extra = {
            "shipment_id": _shipment(e, transactions),
            "carrier_id": _uuid_ext(e, "carrierID") if v.ext("carrierID") in e else None,
            "intermediate_consignee_ids": _uuid_list_ext(e, "intermediateConsigneeIDs"),
            "forwarder_id": _uuid_ext(e, "forwarderID") if v.ext("forwarderID") in e else None,
            "exporter_id": _uuid_ext(e, "exporterID") if v.ext("exporterID") in e else None,
            "origin": _text(e, "origin"),
            "destination_country": country,
            "destination_site_id": sites[0] if sites else None,
            "itn": _text(e, "itn"),
        }
        return self._movement(index, eid, e, base, shadow, "ship", c.Ship, extra)

    def _repairing(
        self, index: int, eid: str, e: Mapping[str, Any], base: dict[str, Any], shadow: _Shadow,
        transactions: list[tuple[str, str]],
    ) -> _Plan:
        """A repair: ``gpureg:repair`` says which (``from_rma`` from an RMA or ``on_site``); without
        it, a repair naming an rma business transaction is the units' return from that RMA, any
        other one a repair in place. The site: bizLocation (or readPoint)."""
        rma = next((v.parse_private("rma", u) or u for t, u in transactions if t == "rma"), "")
        rma = str(e.get(v.ext("rmaNumber")) or rma)
        kind = _text(e, "repair") or ("from_rma" if rma else "on_site")
        location = e.get("bizLocation") or e.get("readPoint")
        extra = {
            "kind": kind,
            "rma_number": rma,
            "site_id": _site(location, "bizLocation.id") if location else None,
            "note": _text(e, "note"),
        }
        return self._movement(index, eid, e, base, shadow, "repair", c.Repair, extra)

    def _receiving(
        self,
        index: int,
        eid: str,
        e: Mapping[str, Any],
        base: dict[str, Any],
        shadow: _Shadow,
        transactions: list[tuple[str, str]],
    ) -> _Plan:
        receivers = _parties(e.get("destinationList"), "destinationList", "destination", "possessing_party")
        location = e.get("bizLocation") or e.get("readPoint")
        if not receivers and location:  # received by the operator of the site it was received at
            operator = getattr(shadow.site(_site(location, "bizLocation.id")), "operator_id", None)
            receivers = [operator] if isinstance(operator, UUID) else []
        if len(receivers) != 1:
            raise _Refused(
                "destinationList",
                "rule receiver-named: a receipt names one possessing_party (who received), "
                "or a bizLocation site whose operator received",
            )
        extra = {
            "shipment_id": _shipment(e, transactions),
            "receiving_party_id": receivers[0],
            "site_id": _site(location, "bizLocation.id") if location else None,
            "discrepancy_note": _text(e, "discrepancyNote"),
        }
        return self._movement(index, eid, e, base, shadow, "receive", c.Receive, extra, unknown_ok=True)

    def _movement(
        self,
        index: int,
        eid: str,
        e: Mapping[str, Any],
        base: dict[str, Any],
        shadow: _Shadow,
        method: str,
        model: type[c.Command],
        extra: dict[str, Any],
        unknown_ok: bool = False,
    ) -> _Plan:
        serials = _serials(e.get("epcList"), "epcList") if e.get("epcList") else []
        batch = self._batch(e, shadow, serials, unknown_ok)
        data: dict[str, Any] = {**base, **extra, "batch_id": batch}
        if serials:
            data["serials"] = serials
        else:
            quantities = e.get("quantityList") or []
            if len(quantities) != 1:
                raise _Refused(
                    "epcList", "rule what-moves: name the GPUs (epcList) or one quantityElement of the batch's class"
                )
            data["quantity"] = _quantity(quantities[0], "quantityList[0]", method)
        return _Plan(index, eid, method, _parse(model, data), batch)

    def _batch(
        self, e: Mapping[str, Any], shadow: _Shadow, serials: Sequence[str] = (), unknown_ok: bool = False
    ) -> UUID:
        """The batch an event is about: ``gpureg:batchID``, the class of its quantityList, or the
        batch its serials are registered to (in the registry or earlier in this document)."""
        named = _batch_from_ext(e)
        if named is None:
            for q in e.get("quantityList") or []:
                if isinstance(q, Mapping):
                    named = v.parse_uuid("batch", str(q.get("epcClass", "")))
        if named is not None:
            if not shadow.exists(named):
                raise _Refused(v.ext("batchID"), f"rule reference-exists: batch {named} not found")
            return named
        owners = shadow.owners(serials)
        unknown = [s for s in serials if s not in owners]
        found = set(owners.values())
        if len(found) > 1:
            raise _Refused("epcList", f"rule one-batch: the GPUs belong to {len(found)} batches; one event per batch")
        if not found:
            raise _Refused("epcList", f"rule serial-known: no batch has the serial(s) {unknown[:5]}")
        if unknown and not unknown_ok:
            raise _Refused("epcList", f"rule serial-known: serial(s) registered to no batch: {unknown[:5]}")
        return found.pop()


class _Shadow:
    """Batches as the document's commands leave them, decided in memory (nothing is saved)."""

    def __init__(self, registry: Registry, actor: str) -> None:
        self._registry = registry
        self._actor = actor
        self._batches: dict[UUID, GpuBatch | None] = {}
        self._serials: dict[str, UUID] = {}
        self._known: set[tuple[str, UUID]] = set()  # references found (loaded once per document)

    def exists(self, batch_id: UUID) -> bool:
        return self._get(batch_id) is not None

    def batch(self, batch_id: UUID) -> GpuBatch:
        found = self._get(batch_id)
        if found is None:
            raise _Refused(v.ext("batchID"), f"rule reference-exists: batch {batch_id} not found")
        return found

    def _get(self, batch_id: UUID) -> GpuBatch | None:
        if batch_id not in self._batches:
            try:
                self._batches[batch_id] = self._registry.get_batch(batch_id)
            except NotFound:
                self._batches[batch_id] = None
        return self._batches[batch_id]

    def site(self, site_id: UUID) -> Any:
        """The site (NotFound: refused naming the reference)."""
        try:
            return self._registry.get("site", site_id)
        except NotFound:
            raise _Refused("bizLocation.id", f"rule reference-exists: site {site_id} not found") from None

    def owners(self, serials: Sequence[str]) -> dict[str, UUID]:
        found = {s: self._serials[s] for s in serials if s in self._serials}
        rest = [s for s in serials if s not in found]
        if rest:
            found.update(self._registry.claimed(rest))
        return found

    def decide(self, plan: _Plan) -> None:
        """Run the command's domain decision on the in-memory batch (raises what the domain would)."""
        cmd: Any = plan.command
        ctx = Context(self._actor, cmd.request_id, cmd.occurred_at)
        if plan.method == "place_order":
            if self._get(cmd.batch_id) is not None:
                raise AlreadyExists("batch", cmd.batch_id)
            for field_, kind, ident in (
                ("supplier_id", "party", cmd.supplier_id),
                ("buyer_id", "party", cmd.buyer_id),
                ("model_id", "gpu_model", cmd.model_id),
            ):
                self._reference(kind, ident, field_)
            self._batches[cmd.batch_id] = GpuBatch.order(
                ctx,
                cmd.batch_id,
                cmd.po_number,
                cmd.supplier_id,
                cmd.buyer_id,
                cmd.model_id,
                cmd.quantity,
                cmd.unit_price,
                cmd.currency,
                cmd.allocation_program,
            )
            return
        batch = self._get(cmd.batch_id)
        if batch is None:
            raise _Refused(v.ext("batchID"), f"rule reference-exists: batch {cmd.batch_id} not found")
        if plan.method == "split_batch":
            if cmd.child_batch_id is None or self._get(cmd.child_batch_id) is not None:
                raise AlreadyExists("batch", cmd.child_batch_id)
            child = batch.split(ctx, cmd.child_batch_id, cmd.quantity, cmd.serials)
            batch.collect_events()
            child.collect_events()
            self._batches[child.id] = child
            self._serials.update(dict.fromkeys(child.units, child.id))
            return
        act: Callable[[], None] | None = {
            "request_clearance": lambda: batch.request_clearance(
                ctx,
                cmd.authorization_id,
                cmd.eccn,
                cmd.destination_country,
                cmd.consignee_id,
                cmd.end_user_id,
                cmd.quantity,
                cmd.end_use,
            ),
            "grant_clearance": lambda: batch.grant_clearance(
                ctx,
                cmd.authorization_id,
                "",
                str(batch.clearance.get("eccn", "")),
                cmd.cleared_quantity
                or min(int(batch.clearance.get("requested_quantity", batch.quantity)), batch.quantity),
            ),
            "correct_order": lambda: batch.correct_order(ctx, cmd.changes(), cmd.reason),
            "deny_clearance": lambda: batch.deny_clearance(ctx, cmd.rule, cmd.reason),
            "revoke_clearance": lambda: batch.revoke_clearance(ctx, cmd.reason),
            "register_serials": lambda: self._register(batch, ctx, cmd),
            "ship": lambda: batch.ship(
                ctx,
                cmd.shipment_id,
                cmd.carrier_id,
                cmd.origin,
                cmd.destination_country,
                cmd.destination_site_id,
                cmd.itn,
                cmd.quantity,
                cmd.serials,
                cmd.intermediate_consignee_ids,
                cmd.forwarder_id,
                cmd.exporter_id,
            ),
            "receive": lambda: batch.receive(
                ctx,
                cmd.shipment_id,
                cmd.receiving_party_id,
                cmd.site_id,
                cmd.quantity,
                cmd.serials,
                cmd.discrepancy_note,
            ),
            "install": lambda: batch.install(ctx, cmd.site_id, cmd.rack, cmd.host, cmd.quantity, cmd.serials),
            "assign": lambda: batch.assign(ctx, cmd.assignee_id, cmd.purpose, cmd.quantity, cmd.serials),
            "transfer": lambda: batch.transfer(
                ctx, cmd.to_owner_id, cmd.to_site_id, None, cmd.reason, cmd.quantity, cmd.serials
            ),
            "return_for_rma": lambda: batch.return_for_rma(ctx, cmd.rma_number, cmd.reason, cmd.quantity, cmd.serials),
            "report_lost": lambda: batch.report_lost(ctx, cmd.kind, cmd.note, cmd.quantity, cmd.serials),
            "decommission": lambda: batch.decommission(ctx, cmd.method, cmd.quantity, cmd.serials),
            "declare_error": lambda: batch.declare_error(ctx, cmd.event_id, cmd.reason, cmd.corrective_event_ids),
            "repair": lambda: batch.repair(
                ctx, cmd.kind, cmd.rma_number, cmd.site_id, cmd.note, cmd.quantity, cmd.serials
            ),
            "record_onward_movement": lambda: batch.record_onward_movement(
                ctx, cmd.kind, cmd.country, cmd.place, cmd.note, cmd.quantity, cmd.serials
            ),
        }.get(plan.method)
        for name, kind in (
            ("carrier_id", "party"),
            ("forwarder_id", "party"),
            ("exporter_id", "party"),
            ("destination_site_id", "site"),
            ("receiving_party_id", "party"),
            ("site_id", "site"),
            ("assignee_id", "party"),
            ("to_owner_id", "party"),
            ("to_site_id", "site"),
            ("consignee_id", "party"),
            ("end_user_id", "party"),
            ("authorization_id", "authorization"),
        ):
            ident = getattr(cmd, name, None)
            if ident is not None:
                self._reference(kind, ident, name)
        for i, ident in enumerate(getattr(cmd, "intermediate_consignee_ids", ())):
            self._reference("party", ident, f"intermediate_consignee_ids[{i}]")
        if act is not None:
            act()
            batch.collect_events()  # decided in memory only: nothing of this is saved

    def _register(self, batch: GpuBatch, ctx: Context, cmd: Any) -> None:
        serials = [u.serial for u in cmd.units]
        taken = {s: b for s, b in self.owners(serials).items() if b != batch.id}
        if taken:
            raise InvariantViolation("serial-unique", f"already registered to another batch: {sorted(taken)[:5]}")
        batch.register_serials(ctx, serials, [u.gpu_uuid for u in cmd.units])
        for s in serials:
            self._serials[s] = batch.id

    def _reference(self, kind: str, ident: UUID, field_: str) -> None:
        if (kind, ident) in self._known:
            return
        try:
            self._registry.get(kind, ident)
        except NotFound:
            raise _Refused(field_, f"rule reference-exists: {kind} {ident} not found") from None
        self._known.add((kind, ident))


#: correct_order's fields by the names the corrective event gives them (``poNumber``: ``po_number``)
_ORDER_FIELDS = {ext.split(":", 1)[1]: name for name, ext in CORRECTABLE.items()}
_UNCORRECTABLE = ("supplier_id", "buyer_id", "model_id", "quantity")


class _Corrections:
    """EPCIS 2.0 section 7.4.1.2: an order's error declaration and its corrective event, one
    ``correct_order`` command.

    The declaration (an event with ``errorDeclaration``, reason ``incorrect_data``) repeats the
    order event in force with its eventID: the ``Ordered`` TransactionEvent or an earlier
    correction's corrective event, found earlier in this document, captured before under that
    eventID (its request record ``epcis:{eventID}``), or as the registry exports the batch. Its
    one ``correctiveEventIDs`` member names the corrective event: the order as corrected, in the
    same document, or captured before. The pair is one command, ``request_id`` ``epcis:`` + the
    corrective eventID, at the ``declarationTime``; whichever of the two comes first carries it.
    Anything else with an ``errorDeclaration`` is refused naming the field and rule."""

    def __init__(self, capture: Capture, events: Sequence[Any], prefixes: dict[str, str], shadow: _Shadow) -> None:
        self._capture = capture
        self._shadow = shadow
        self._events = events
        self._prefixes = prefixes
        self._by_id: dict[str, int] = {}  # eventID -> index, of the document's events
        self._declared_by: dict[str, int] = {}  # corrective eventID -> the declaration's index
        self._pairs: dict[str, int] = {}  # corrective eventID -> the index that carries the command
        self._orders: dict[str, UUID] = {}  # order events planned in this document: eventID -> batch
        self._plans: dict[int, _Plan] = {}
        for i, e in enumerate(events):
            if not isinstance(e, Mapping):
                continue
            eid = e.get("eventID")
            if not isinstance(eid, str) and e.get("type") == "TransactionEvent":
                try:  # a corrective event may go without its eventID: its hash
                    eid = hash_event_id(e, prefixes)
                except (KeyError, TypeError, ValueError, AttributeError):
                    eid = None
            if isinstance(eid, str):
                self._by_id.setdefault(eid, i)
            declaration = e.get("errorDeclaration")
            corrective = declaration.get("correctiveEventIDs") if isinstance(declaration, Mapping) else None
            if (isinstance(corrective, list) and len(corrective) == 1 and isinstance(corrective[0], str)
                    and is_order_correction(e)):
                self._declared_by.setdefault(corrective[0], i)

    def plan(self, index: int, eid: str, e: Mapping[str, Any]) -> _Plan | None:
        """The plan of a declaration or a corrective event (None: any other event)."""
        if "errorDeclaration" in e:
            if not is_order_correction(e):
                return None  # any other declaration: recorded as declared (Capture._declaration)
            corrective = self._corrective_id(e, e["errorDeclaration"])
            return self._pair(index, eid, e, corrective)
        if eid in self._declared_by:
            declaration = self._declared_by[eid]
            d = self._events[declaration]
            if d.get("eventID") == eid:
                return None  # names itself: refused at the declaration
            try:  # the declaration comes later in the document: checked here first
                _check_error_declaration(d["errorDeclaration"])
                self._corrective_id(d, d["errorDeclaration"])
            except _Refused as exc:
                raise _Refused(f"eventList[{declaration}].{exc.field}", exc.rule) from None
            return self._pair(index, eid, d, eid)
        return None

    def planned(self, plan: _Plan, eid: str) -> None:
        """Remember an order event this document has placed or corrected, for later declarations."""
        if plan.method == "place_order" and plan.batch_id is not None:
            self._orders[eid] = plan.batch_id
        elif isinstance(plan.command, c.SplitBatch) and plan.command.child_batch_id is not None:
            self._orders[eid] = plan.command.child_batch_id
        elif plan.method == "correct_order" and plan.batch_id is not None:
            self._orders[plan.command.request_id.removeprefix("epcis:")] = plan.batch_id

    @staticmethod
    def _corrective_id(e: Mapping[str, Any], declaration: Mapping[str, Any]) -> str:
        where = "errorDeclaration"
        kind, action = e.get("type"), e.get("action")
        step = v.cbv_term("bizStep", str(e.get("bizStep", "")))
        if not (kind == "TransactionEvent" and action == "ADD" and step in ("accepting", "")
                and any(t == "po" for t, _ in _transactions(e))):
            raise _Refused(
                where,
                f"rule error-declaration-unsupported: a {kind} {action} bizStep={step or '-'} cannot be declared in "
                "error; the registry corrects only an order (the accepting TransactionEvent with a po, by "
                "correct_order) and records any other correction as a new event (e.g. a new receipt)",
            )
        reason = declaration.get("reason")
        if reason is not None and v.cbv_term("er", str(reason)) != "incorrect_data":
            raise _Refused(
                f"{where}.reason",
                f"rule error-declaration-unsupported: {reason} would withdraw a recorded fact, which the registry "
                "never does; only incorrect_data with its corrective event (an order's correction) is applied",
            )
        corrective = declaration.get("correctiveEventIDs") or []
        if len(corrective) != 1:
            raise _Refused(
                f"{where}.correctiveEventIDs",
                "rule error-declaration-corrective: exactly one corrective event, the order as corrected",
            )
        return str(corrective[0])

    def _pair(self, index: int, eid: str, d: Mapping[str, Any], corrective: str) -> _Plan:
        first = self._pairs.get(corrective)
        if first is not None and first != index:
            return _Plan(index, eid, "correct_order", self._plans[first].command, self._plans[first].batch_id, first)
        plan = self._correction(index, eid, d, corrective)
        self._pairs[corrective] = index
        self._plans[index] = plan
        return plan

    def _correction(self, index: int, eid: str, d: Mapping[str, Any], corrective: str) -> _Plan:
        declaration = d["errorDeclaration"]
        batch = self._declared_batch(d)
        where = self._by_id.get(corrective)
        if where is None:  # the corrective event was captured before (with this declaration)?
            record = self._capture.record(f"epcis:{corrective}"[:200])
            if getattr(record, "command", None) == "CorrectOrder" and record.aggregate_id == batch:
                # done: answered from that record, this placeholder command is never run
                return _Plan(index, eid, "correct_order", _parse(c.CorrectOrder, {
                    "request_id": f"epcis:{corrective}"[:200], "batch_id": batch, "reason": "captured before",
                    "po_number": "-"}), batch, done=True)
            raise _Refused(
                "errorDeclaration.correctiveEventIDs[0]",
                f"rule error-declaration-corrective: the corrective event {corrective} is neither in this document "
                "nor captured before",
            )
        ce = self._events[where]
        at = f"eventList[{where}]"
        step = v.cbv_term("bizStep", str(ce.get("bizStep", "")))
        transactions = _transactions(ce)
        if not (ce.get("type") == "TransactionEvent" and ce.get("action") == "ADD" and step in ("accepting", "")
                and any(t == "po" for t, _ in transactions)) or "errorDeclaration" in ce:
            raise _Refused(at, "rule error-declaration-corrective: the corrective event is an order "
                               "(TransactionEvent ADD, bizStep accepting, a po), as the event declared in error")
        named = _batch_from_ext(ce)
        for q in ce.get("quantityList") or []:
            if named is None and isinstance(q, Mapping):
                named = v.parse_uuid("batch", str(q.get("epcClass", "")))
        if named is not None and named != batch:
            raise _Refused(f"{at}.{v.ext('batchID')}",
                           f"rule error-declaration-corrective: corrects batch {named}, the declared order is {batch}")
        current: Any = self._shadow.batch(batch)
        values: dict[str, Any] = {
            "po_number": str(ce.get(v.ext("poNumber"))
                             or v.parse_private("po", next((u for t, u in transactions if t == "po"), "")) or ""),
        }
        for local, name in _ORDER_FIELDS.items():
            if name != "po_number" and v.ext(local) in ce:
                values[name] = _decimal(ce, local) if name == "unit_price" else _text(ce, local)
        self._uncorrectable(ce, at, current)
        listed = ce.get(v.ext("correctedFields"))
        if listed is not None:
            if not isinstance(listed, list) or not listed or any(f not in _ORDER_FIELDS for f in listed):
                raise _Refused(f"{at}.{v.ext('correctedFields')}",
                               f"rule correctable-fields: a non-empty list of {sorted(_ORDER_FIELDS)}")
            fields = {_ORDER_FIELDS[f]: values.get(_ORDER_FIELDS[f]) for f in listed}
        else:
            fields = {k: val for k, val in values.items() if val != getattr(current, k)}
        if not fields or any(val is None for val in fields.values()):
            raise _Refused(at, "rule correctable-fields: the corrective event changes none of "
                               f"{sorted(_ORDER_FIELDS)} of the order (or lacks one it lists as corrected)")
        occurred = _date_time(declaration["declarationTime"])
        cmd = _parse(c.CorrectOrder, {
            "request_id": f"epcis:{corrective}"[:200], "occurred_at": occurred, "batch_id": batch,
            "reason": _text(ce, "reason") or "EPCIS error declaration: incorrect_data", **fields,
            "epcis_event": canonical(ce, corrective, self._prefixes),
        })
        return _Plan(index, eid, "correct_order", cmd, batch)

    def _uncorrectable(self, ce: Mapping[str, Any], at: str, current: Any) -> None:
        """Supplier, buyer, model and quantity are not correctable (CorrectOrder): the corrective
        event, naming them, names them as they are."""
        seen: dict[str, Any] = {}
        suppliers = _parties(ce.get("sourceList"), f"{at}.sourceList", "source", "owning_party")
        buyers = _parties(ce.get("destinationList"), f"{at}.destinationList", "destination", "owning_party")
        if suppliers:
            seen["supplier_id"] = suppliers[0]
        if buyers:
            seen["buyer_id"] = buyers[0]
        if v.ext("modelID") in ce:
            seen["model_id"] = _uuid_ext(ce, "modelID")
        quantities = ce.get("quantityList") or []
        stated = _stated_quantity(quantities, f"{at}.quantityList[0]")
        if stated is not None:  # an unknown quantity names no other quantity
            seen["quantity"] = stated
        changed = sorted(k for k in _UNCORRECTABLE if k in seen and seen[k] != getattr(current, k))
        if changed:
            raise _Refused(at, f"rule correctable-fields: a correction changes only {sorted(_ORDER_FIELDS)} "
                               f"(correct_order); the corrective event changes {changed}")

    def _declared_batch(self, d: Mapping[str, Any]) -> UUID:
        """The batch of the order event declared in error, found by the declaration's eventID."""
        declared = d.get("eventID") or hash_event_id(d, self._prefixes)  # the hash leaves errorDeclaration out
        if not isinstance(declared, str):
            raise _Refused("eventID", "rule uri: the eventID of the event declared in error")
        named = _batch_from_ext(d)
        for q in d.get("quantityList") or []:
            if named is None and isinstance(q, Mapping):
                named = v.parse_uuid("batch", str(q.get("epcClass", "")))
        found = self._orders.get(declared)
        if found is None:
            record = self._capture.record(f"epcis:{declared}"[:200])
            command = getattr(record, "command", None)
            if command in ("PlaceOrder", "SplitBatch", "CorrectOrder"):
                found = record.aggregate_id
            elif command is not None:
                raise _Refused("errorDeclaration", f"rule error-declaration-unsupported: {declared} was captured "
                                                   f"as {command}; the registry corrects only orders")
        if (found is None and named is not None and self._shadow.exists(named)
                and any(o["eventID"] == declared for o in order_events(self._capture.registry, named))):
            found = named
        if found is None:
            raise _Refused("eventID", f"rule error-declaration-unknown-event: no order event {declared} is in the "
                                      "registry (as it exports it, or captured under that eventID) or earlier in "
                                      "this document")
        if named is not None and named != found:
            raise _Refused(v.ext("batchID"), f"rule error-declaration-unknown-event: {declared} is batch {found}'s")
        return found


def is_order_correction(e: Mapping[str, Any]) -> bool:
    """Whether an event with an errorDeclaration is an order's correction (``correct_order``): an
    order event (TransactionEvent ADD, bizStep accepting or none, a po) declared ``incorrect_data``
    (or without a reason) with one corrective event. Any other declaration is recorded as made."""
    declaration = e.get("errorDeclaration")
    if not isinstance(declaration, Mapping):
        return False
    step = v.cbv_term("bizStep", str(e.get("bizStep", "")))
    reason = declaration.get("reason")
    corrective = declaration.get("correctiveEventIDs") or []
    return (e.get("type") == "TransactionEvent" and e.get("action") == "ADD" and step in ("accepting", "")
            and any(t == "po" for t, _ in _transactions(e))
            and (reason is None or v.cbv_term("er", str(reason)) == "incorrect_data")
            and isinstance(corrective, list) and len(corrective) == 1)


#: The command each registry-originated event type was recorded by (who may declare it in error).
_COMMAND_OF = {
    "Ordered": "PlaceOrder", "SplitFrom": "SplitBatch", "OrderCorrected": "CorrectOrder",
    "ClearanceRequested": "RequestClearance", "ClearanceGranted": "GrantClearance",
    "ClearanceDenied": "DenyClearance", "ClearanceRevoked": "RevokeClearance",
    "SerialsRegistered": "RegisterSerials", "Shipped": "Ship", "Received": "Receive", "Installed": "Install",
    "Assigned": "Assign", "Transferred": "Transfer", "ReturnedForRma": "ReturnForRma", "Repaired": "Repair",
    "ReportedLost": "ReportLost", "Decommissioned": "Decommission",
    "OnwardMovementRecorded": "RecordOnwardMovement",
}


def _fingerprint(command: c.Command) -> str:
    """The command's fingerprint as the registry computes it for every request id."""
    return hashlib.sha256(f"{type(command).__name__}\n{command.fingerprint_payload()}".encode()).hexdigest()


# ------------------------------------------------------------------------------- field readers
def _prefixes(context: Any) -> dict[str, str]:
    items = context if isinstance(context, list) else [context]
    out: dict[str, str] = {}
    for item in items:
        if isinstance(item, Mapping):
            out.update({k: val for k, val in item.items() if isinstance(val, str)})
    return out


def _aliases(prefixes: Mapping[str, str]) -> tuple[str, ...]:
    """How a document may spell the registry's extension names other than ``gpureg:``: its
    full IRI, and each prefix its ``@context`` binds to the namespace (JSON-LD: a compact IRI's
    prefix is the document's choice, the IRI is the name)."""
    if prefixes.get(v.PREFIX, v.NAMESPACE) != v.NAMESPACE:
        return ()
    return (v.NAMESPACE, *(f"{p}:" for p, iri in prefixes.items() if iri == v.NAMESPACE and p != v.PREFIX))


def _spells(event: Any, aliases: tuple[str, ...]) -> bool:
    """Whether an event names an extension (at its top level or in its ILMD) by an alias."""
    if not isinstance(event, Mapping):
        return False
    ilmd = event.get("ilmd")
    keys = [*event, *(ilmd if isinstance(ilmd, Mapping) else ())]
    return any(str(k).startswith(aliases) for k in keys)


def _own_prefix(value: Any, aliases: tuple[str, ...]) -> Any:
    """``value`` with every key spelled by one of ``aliases`` renamed to ``gpureg:`` (nested
    objects too: the ILMD's units)."""
    if isinstance(value, list):
        return [_own_prefix(x, aliases) for x in value]
    if not isinstance(value, Mapping):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        name = str(key)
        for alias in aliases:
            if name.startswith(alias) and len(name) > len(alias):
                name = v.ext(name[len(alias):])
                break
        out[name] = _own_prefix(item, aliases)
    return out


def _parse(model: type[c.T], data: dict[str, Any]) -> c.T:
    """The command, or a refusal naming the command field and its rule."""
    try:
        return c.parse(model, data)
    except InvalidField as exc:
        field_, rule = exc.violations[0]
        raise _Refused(f"{model.__name__}.{field_}", f"rule valid-field: {rule}") from None


def _text(e: Mapping[str, Any], name: str) -> str:
    value = e.get(v.ext(name), "")
    if not isinstance(value, str | int | float):
        raise _Refused(v.ext(name), "rule string: must be a string")
    return str(value)


def _uuid_ext(e: Mapping[str, Any], name: str) -> UUID:
    value = e.get(v.ext(name))
    if value is None:
        raise _Refused(v.ext(name), "rule required: this event kind needs it")
    try:
        return UUID(str(value))
    except ValueError:
        raise _Refused(v.ext(name), "rule uuid: must be a UUID") from None


def _uuid_list_ext(e: Mapping[str, Any], name: str) -> list[UUID]:
    """An optional extension holding a list of UUIDs (absent: none)."""
    values = e.get(v.ext(name), [])
    if not isinstance(values, list):
        raise _Refused(v.ext(name), "rule list: must be a list of UUIDs")
    try:
        return [UUID(str(value)) for value in values]
    except ValueError:
        raise _Refused(v.ext(name), "rule uuid: each must be a UUID") from None


def _batch_from_ext(e: Mapping[str, Any]) -> UUID | None:
    return _uuid_ext(e, "batchID") if v.ext("batchID") in e else None


def _decimal(e: Mapping[str, Any], name: str) -> Decimal:
    try:
        return Decimal(str(e.get(v.ext(name))))
    except InvalidOperation:
        raise _Refused(v.ext(name), "rule decimal: must be a decimal number") from None


#: Why each command that moves or orders units needs the quantity EPCIS lets a capturer omit.
_COUNTED = {
    "place_order": "an order line is for a counted number of GPUs (the batch's quantity)",
    "split_batch": "a split moves a counted number of GPUs into the new batch",
    "request_clearance": "a clearance request names the number of GPUs the licence must cover",
}


def _quantity(element: Any, where: str, command: str = "") -> int:
    """The whole number of GPUs a quantity element states. EPCIS 2.0 section 7.3.3.3 lets
    ``quantity`` be omitted (an unknown quantity); a command that changes how many units are
    where cannot record an unknown number, so it is refused here naming the command's need
    (:func:`_stated_quantity` where the command may go without one)."""
    if not isinstance(element, Mapping) or "quantity" not in element:
        why = _COUNTED.get(command, f"{command or 'this command'} changes the stage of a counted number of GPUs "
                                    "(the registry keeps per-unit counts)")
        raise _Refused(f"{where}.quantity", f"rule quantity-known: EPCIS allows an unknown quantity, but {why}; "
                                            "state the quantity or name the GPUs (epcList)")
    quantity = element["quantity"]
    if isinstance(quantity, bool) or not isinstance(quantity, int | float) or int(quantity) != quantity:
        raise _Refused(f"{where}.quantity", "rule quantity: a whole number of GPUs")
    if element.get("uom"):
        raise _Refused(f"{where}.uom", "rule quantity: GPUs are counted, without a unit of measure")
    return int(quantity)


def _stated_quantity(quantities: Any, where: str) -> int | None:
    """The quantity of the first element when one is stated; None when the list is empty or its
    element has no quantity (EPCIS's unknown quantity: for a command where it is optional)."""
    if not quantities or not isinstance(quantities, list):
        return None
    element = quantities[0]
    if isinstance(element, Mapping) and "quantity" not in element:
        return None
    return _quantity(element, where)


def _serials(epcs: Any, where: str) -> list[str]:
    if not isinstance(epcs, list):
        raise _Refused(where, "rule array: must be an array of GPU identifiers")
    out = []
    for i, uri in enumerate(epcs):
        serial = v.parse_private("gpu", str(uri))
        if serial is None:
            raise _Refused(
                f"{where}[{i}]",
                f"rule gpu-identifier: {uri} is not a GPU of this registry "
                f"({v.ID_BASE}gpu/<serial>); GS1 keys (SGTIN) are not mapped to serials yet",
            )
        out.append(serial)
    return out


def _site(location: Any, where: str) -> UUID:
    ident = str(location.get("id", "")) if isinstance(location, Mapping) else ""
    site = v.parse_uuid("site", ident)
    if site is None:
        raise _Refused(
            where, f"rule site-identifier: {ident or '(none)'} is not a site of this registry ({v.ID_BASE}site/<uuid>)"
        )
    return site


def _entries(value: Any, where: str, member: str) -> list[tuple[str, str, int]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _Refused(where, "rule array: must be an array")
    out = []
    for i, entry in enumerate(value):
        if not isinstance(entry, Mapping) or member not in entry:
            raise _Refused(f"{where}[{i}]", f"rule list-entry: an object with type and {member}")
        out.append((v.cbv_term("sdt", str(entry.get("type", ""))), str(entry[member]), i))
    return out


def _parties(value: Any, where: str, member: str, role: str) -> list[UUID]:
    out = []
    for kind, uri, i in _entries(value, where, member):
        if kind != role:
            continue
        party = v.parse_uuid("party", uri)
        if party is None:
            raise _Refused(
                f"{where}[{i}].{member}",
                f"rule party-identifier: {uri} is not a party of this registry ({v.ID_BASE}party/<uuid>)",
            )
        out.append(party)
    return out


def _locations(value: Any, where: str, member: str) -> list[UUID]:
    out = []
    for kind, uri, i in _entries(value, where, member):
        if kind == "location":
            out.append(_site({"id": uri}, f"{where}[{i}].{member}"))
    return out


def _transactions(e: Mapping[str, Any]) -> list[tuple[str, str]]:
    value = e.get("bizTransactionList") or []
    if not isinstance(value, list):
        raise _Refused("bizTransactionList", "rule array: must be an array")
    out = []
    for i, entry in enumerate(value):
        if not isinstance(entry, Mapping) or "bizTransaction" not in entry:
            raise _Refused(f"bizTransactionList[{i}]", "rule list-entry: an object with bizTransaction")
        out.append((v.cbv_term("btt", str(entry.get("type", ""))), str(entry["bizTransaction"])))
    return out


def _shipment(e: Mapping[str, Any], transactions: list[tuple[str, str]]) -> str:
    named = e.get(v.ext("shipmentID"))
    if named:
        return str(named)
    for kind, uri in transactions:
        if kind == "desadv":
            return v.parse_private("shipment", uri) or uri
    raise _Refused(
        "bizTransactionList",
        "rule shipment-named: a shipment or receipt names its despatch advice "
        "(a desadv business transaction) or gpureg:shipmentID",
    )


def _rma(e: Mapping[str, Any], transactions: list[tuple[str, str]]) -> str:
    named = e.get(v.ext("rmaNumber"))
    if named:
        return str(named)
    for kind, uri in transactions:
        if kind == "rma":
            return v.parse_private("rma", uri) or uri
    raise _Refused("bizTransactionList", "rule rma-named: a return names its rma business transaction")
