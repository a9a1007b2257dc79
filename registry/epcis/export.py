"""The registry's history as EPCIS 2.0 events (docs/epcis.md has the mapping table).

Each stored batch event becomes at most one EPCIS event, in log order, except an order
correction, which becomes two (EPCIS 2.0 section 7.4.1.2): an error declaration of the order
event it corrects and the corrective event. An event captured from an EPCIS document keeps the
eventID it was captured under (:func:`captured_event_id`); every other eventID is the GS1 event
hash (:mod:`registry.epcis.event_hash`). The translation reads only the events (and, for an
export that starts in the middle of a batch's life, the batch as it was just before), never the
current state, so an export of the same history is the same document apart from ``creationDate``.

One concept: the mapping from registry events to EPCIS events, the inverse of
:mod:`registry.epcis.capture`; each event type's rule reads the facts the earlier ones gathered
(``_Facts``), so the rules stay together.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any
from uuid import UUID

from registry.application.service import Registry
from registry.domain.batch import GpuBatch
from registry.epcis import vocabulary as v
from registry.epcis.captured import CapturedEvent, CapturedEvents, as_captured
from registry.epcis.event_hash import event_id
from registry.epcis.event_rules import MAX_EVENT_ID, is_uri

Event = dict[str, Any]
_PREFIXES = {v.PREFIX: v.NAMESPACE}


@dataclass
class _Facts:
    """What the translation of a batch's later events needs from its earlier ones."""

    po_number: str = ""
    supplier_id: UUID | None = None
    buyer_id: UUID | None = None
    authorization_id: UUID | None = None
    authorization_number: str = ""
    eccn: str = ""
    consignee_id: UUID | None = None
    shipments: dict[str, UUID | None] = field(default_factory=dict)

    @classmethod
    def of(cls, batch: GpuBatch) -> _Facts:
        clearance = batch.clearance
        return cls(
            po_number=batch.po_number,
            supplier_id=batch.supplier_id,
            buyer_id=batch.buyer_id,
            authorization_id=clearance.get("authorization_id"),
            authorization_number=str(clearance.get("authorization_number", "")),
            eccn=str(clearance.get("eccn", "")),
            consignee_id=clearance.get("consignee_id"),
            shipments={s.shipment_id: s.destination_site_id for s in batch.shipments.values()},
        )


def _time(when: datetime) -> str:
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _offset(when: datetime) -> str:
    delta = when.utcoffset()
    minutes = int(delta.total_seconds() // 60) if delta is not None else 0
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


#: The request id of a command captured from an EPCIS event: this prefix and the event's eventID.
CAPTURED = "epcis:"


def captured_event_id(stored: Any) -> str | None:
    """The eventID a stored event was captured under (its request id ``epcis:{eventID}``), or
    None for an event the registry recorded from its own API: a captured event keeps the
    capturing partner's eventID wherever it is exported (EPCIS 2.0 section 7.4.1: the eventID
    identifies the event, it is not the exporter's to replace)."""
    request_id = getattr(stored, "request_id", "")
    if not isinstance(request_id, str) or not request_id.startswith(CAPTURED):
        return None
    captured = request_id[len(CAPTURED):]
    return captured if is_uri(captured) and len(captured) <= MAX_EVENT_ID else None


#: The order fields a correction may change, as the corrective event names them.
CORRECTABLE = {
    "po_number": v.ext("poNumber"),
    "unit_price": v.ext("unitPrice"),
    "currency": v.ext("currency"),
    "allocation_program": v.ext("allocationProgram"),
}


class Translator:
    """Turns a stream of stored batch events into EPCIS events (keeps per-batch facts)."""

    def __init__(self, registry: Registry, splits_at_parent: bool = False, captured_by: str | None = None,
                 sees_party: Callable[[UUID], bool] | None = None) -> None:
        """``splits_at_parent``: render a split at the parent's ``SplitOff`` too (a batch's own
        history); a log or partner export renders it once, at the child's ``SplitFrom``.
        ``captured_by``: a confined reader's subject (a partner): only the events it captured
        itself are rendered as captured; another party's captured event is rendered as the
        registry records it, under the eventID it was captured under (the text another party
        sent is not shown: docs/security.md). None: every captured event as captured.
        ``sees_party``: that reader's party view (its party and subsidiaries): an onward movement's
        recipient outside it is not exported. None: every recipient."""
        self._registry = registry
        self._facts: dict[UUID, _Facts] = {}
        self._orders: dict[UUID, Event | None] = {}  # each batch's order event now in force
        self._splits_at_parent = splits_at_parent
        self._captured = CapturedEvents(registry)
        self._captured_by = captured_by
        self._sees_party = sees_party

    def events(self, event: Any) -> list[Event]:
        """The EPCIS events for one stored event: none, one, or (an order correction) the error
        declaration of the order event in force and the corrective event."""
        if isinstance(event, GpuBatch.OrderCorrected):
            return self._correction(event)
        if isinstance(event, GpuBatch.ErrorDeclared):
            return self._declared(event)
        if isinstance(event, GpuBatch.SplitOff):
            return self._split_off(event) if self._splits_at_parent else []
        out = self.translate(event)
        if out is not None and isinstance(event, GpuBatch.Ordered | GpuBatch.SplitFrom):
            self._orders[event.originator_id] = out
        return [] if out is None else [out]

    @property
    def captured(self) -> CapturedEvents:
        """The captured events' source (a reader of the log hands it the request records it meets)."""
        return self._captured

    def awaits_record(self, stored: Any) -> bool:
        """Whether ``stored`` was captured and its request record (which keeps the event as
        captured, written just after it) has not been met in the log yet."""
        return captured_event_id(stored) is not None and not self._captured.met(stored.request_id)

    def _split_off(self, e: GpuBatch.SplitOff) -> list[Event]:
        """A split in the parent's history: the child's split event (one event, one eventID,
        wherever it is exported), rendered from the child's ``SplitFrom``."""
        [created] = self._registry.history(e.child_id, limit=1)
        return Translator(self._registry, captured_by=self._captured_by).events(created)

    def _kept(self, stored: Any) -> tuple[str | None, Event | None]:
        """The eventID ``stored`` was captured under (None: not captured) and the event as
        captured, when this reader may see it (else None: rendered as the registry records it)."""
        captured = captured_event_id(stored)
        if captured is None or (self._captured_by is not None and stored.actor != self._captured_by):
            return captured, None
        return captured, self._captured.of(stored.request_id)

    def _correction(self, e: GpuBatch.OrderCorrected) -> list[Event]:
        """EPCIS 2.0 section 7.4.1.2 and GS1's example 9.6.1: the order event in force (the
        ``Ordered`` TransactionEvent, or the previous correction's corrective event) declared in
        error, with the same content and eventID as it was exported with (the event hash leaves
        ``errorDeclaration`` and ``recordTime`` out), then the corrective event: the order as
        corrected, at the order's business time, with its own eventID. A batch split off another
        has its split event (``SplitFrom``) as its order event: that is declared in error."""
        batch_id: UUID = e.originator_id
        facts = self.facts(batch_id, e.originator_version)
        if "po_number" in e.fields:
            # later events name the corrected PO, as an export starting after the correction
            # does (the batch's state then): one event, one content, one eventID
            facts.po_number = str(e.fields["po_number"])
        if batch_id not in self._orders:  # an export starting after the order: as exported then
            before = order_events(self._registry, batch_id, before_version=e.originator_version,
                                  captured_by=self._captured_by)
            self._orders[batch_id] = before[-1] if before else None
        declared = self._orders[batch_id]
        if declared is None:
            return []
        recorded = _time(e.timestamp.astimezone(UTC))
        corrective: Event = {k: recorded if k == "recordTime" else val for k, val in declared.items() if k != "eventID"}
        fields = {name: value for name, value in e.fields.items() if name in CORRECTABLE}  # the domain's AMENDABLE
        for name, value in fields.items():
            corrective[CORRECTABLE[name]] = str(value)
        corrective["bizTransactionList"] = [
            {"type": "po", "bizTransaction": v.po_uri(str(corrective[v.ext("poNumber")]))}
        ]
        corrective[v.ext("registryEvent")] = f"OrderCorrected@{e.originator_version}"
        corrective[v.ext("reason")] = e.reason
        corrective[v.ext("correctedFields")] = sorted(CORRECTABLE[name].split(":", 1)[1] for name in fields)
        captured, kept = self._kept(e)
        if captured and kept is not None:  # EPCIS 2.0 section 8.2: as captured, plus recordTime
            corrective = as_captured(kept, captured, recorded, str(batch_id))
        else:
            corrective = {"eventID": captured or event_id(corrective, _PREFIXES), **corrective}
        declaration: Event = {
            **declared,
            "recordTime": recorded,
            "errorDeclaration": {
                "declarationTime": _time(e.occurred_at),
                "reason": "incorrect_data",
                "correctiveEventIDs": [corrective["eventID"]],
            },
        }
        if isinstance(declared, CapturedEvent):  # a captured order declared in error: still this batch's
            declaration = CapturedEvent(declaration)
            declaration.batch_id = declared.batch_id
        self._orders[batch_id] = corrective
        return [declaration, corrective]

    def _declared(self, e: GpuBatch.ErrorDeclared) -> list[Event]:
        """EPCIS 2.0 section 7.4.1.2: the event declared in error exactly as exported (same
        content, same eventID: the hash leaves ``errorDeclaration`` and ``recordTime`` out), with
        the declaration's ``recordTime`` and its ``errorDeclaration`` (``declarationTime`` the
        declaration's business time, ``reason`` and ``correctiveEventIDs`` when given). The
        declared event itself stays in the log where it was: a query selecting it returns both,
        ``EXISTS_errorDeclaration`` only the declaration."""
        batch_id: UUID = e.originator_id
        found: Event | None = None
        reader = Translator(self._registry, splits_at_parent=True)
        for stored in self._registry.history(batch_id, limit=max(e.originator_version - 1, 1)):
            if stored.originator_version >= e.originator_version:
                break
            found = next((x for x in reader.events(stored) if x.get("eventID") == e.event_id
                          and "errorDeclaration" not in x), None)
            if found is not None:
                break
        if found is None:
            return []
        declaration_of: Event = {"declarationTime": _time(e.occurred_at)}
        if e.reason:
            declaration_of["reason"] = e.reason
        if e.corrective_event_ids:
            declaration_of["correctiveEventIDs"] = list(e.corrective_event_ids)
        out: Event = {**found, "recordTime": _time(e.timestamp.astimezone(UTC)), "errorDeclaration": declaration_of}
        if isinstance(found, CapturedEvent):  # a captured event declared in error: still this batch's
            out = CapturedEvent(out)
            out.batch_id = found.batch_id
        return [out]

    def facts(self, batch_id: UUID, version: int) -> _Facts:
        facts = self._facts.get(batch_id)
        if facts is None:
            facts = _Facts.of(self._registry.get_batch(batch_id, version - 1)) if version > 1 else _Facts()
            self._facts[batch_id] = facts
        return facts

    def translate(self, event: Any) -> Event | None:
        """The EPCIS event for one stored event, or None for events EPCIS does not carry."""
        if not isinstance(event, GpuBatch.Event):
            return None
        batch_id: UUID = event.originator_id
        version: int = event.originator_version
        facts = self.facts(batch_id, version)
        method = getattr(self, "_" + type(event).__name__, None)
        if method is None:
            return None
        body: Event | None = method(event, facts, batch_id)
        if body is None:
            return None
        out: Event = {
            "type": body.pop("type"),
            "eventTime": _time(event.occurred_at),
            "eventTimeZoneOffset": _offset(event.occurred_at),
            "recordTime": _time(event.timestamp.astimezone(UTC)),
        }
        out.update(body)
        out[v.ext("batchID")] = str(batch_id)
        out[v.ext("registryEvent")] = f"{type(event).__name__}@{version}"
        captured, kept = self._kept(event)
        if captured and kept is not None:  # EPCIS 2.0 section 8.2: as captured, plus recordTime
            return as_captured(kept, captured, out["recordTime"], str(batch_id))
        out = {"eventID": captured or event_id(out, _PREFIXES), **out}
        return out

    # ----------------------------------------------------------------------------- helpers
    @staticmethod
    def _what(batch_id: UUID, serials: Sequence[str], quantity: int) -> Event:
        if serials:
            return {"epcList": [v.gpu_uri(s) for s in serials]}
        return {"quantityList": [{"epcClass": v.batch_class_uri(batch_id), "quantity": quantity}]}

    @staticmethod
    def _po(facts: _Facts) -> list[dict[str, str]]:
        return [{"type": "po", "bizTransaction": v.po_uri(facts.po_number)}] if facts.po_number else []

    @staticmethod
    def _authorization(facts: _Facts) -> list[dict[str, str]]:
        if facts.authorization_id is None:
            return []
        return [{"type": v.BTT_EXPORT_AUTHORIZATION, "bizTransaction": v.authorization_uri(facts.authorization_id)}]

    # ------------------------------------------------------------------------------ events
    def _Ordered(self, e: GpuBatch.Ordered, facts: _Facts, batch_id: UUID) -> Event:  # noqa: N802
        self._facts[batch_id] = _Facts(e.po_number, e.supplier_id, e.buyer_id)
        return {
            "type": "TransactionEvent",
            "action": "ADD",
            "bizStep": "accepting",
            "bizTransactionList": [{"type": "po", "bizTransaction": v.po_uri(e.po_number)}],
            **_order_line(e, batch_id),
        }

    def _SplitFrom(self, e: GpuBatch.SplitFrom, facts: _Facts, batch_id: UUID) -> Event:  # noqa: N802
        """A batch split off another (its pending units, with its share of the clearance): the
        child's order line, a TransactionEvent ADD ``accepting`` of the same PO as the parent's,
        naming the units that moved (``epcList`` when serialized) and its quantity of the child's
        class, ``gpureg:splitFrom`` the parent. It is the child's order event: a correction of
        the child declares it in error, as an ``Ordered`` event."""
        clearance = e.clearance or {}
        self._facts[batch_id] = _Facts(
            e.po_number, e.supplier_id, e.buyer_id, clearance.get("authorization_id"),
            str(clearance.get("authorization_number", "")), str(clearance.get("eccn", "")),
            clearance.get("consignee_id"),
        )
        out: Event = {
            "type": "TransactionEvent",
            "action": "ADD",
            "bizStep": "accepting",
            "bizTransactionList": [{"type": "po", "bizTransaction": v.po_uri(e.po_number)}],
        }
        if e.serials:
            out["epcList"] = [v.gpu_uri(s) for s in e.serials]
        out.update(_order_line(e, batch_id))
        out[v.ext("splitFrom")] = str(e.parent_id)
        return out

    def _ClearanceRequested(self, e: GpuBatch.ClearanceRequested, facts: _Facts, batch_id: UUID) -> Event:  # noqa: N802
        facts.authorization_id = e.authorization_id
        facts.eccn = e.eccn
        facts.consignee_id = e.consignee_id
        out: Event = {
            "type": "TransactionEvent",
            "action": "ADD",
            "bizTransactionList": self._po(facts) + self._authorization(facts),
            "quantityList": [{"epcClass": v.batch_class_uri(batch_id), "quantity": e.quantity}],
            v.ext("clearance"): "requested",
            v.ext("eccn"): e.eccn,
            v.ext("destinationCountry"): e.destination_country,
            v.ext("consigneeID"): str(e.consignee_id),
            v.ext("endUserID"): str(e.end_user_id),
            v.ext("endUse"): e.end_use,
        }
        if e.authorization_id is not None:
            out[v.ext("authorizationID")] = str(e.authorization_id)
        return out

    def _ClearanceGranted(self, e: GpuBatch.ClearanceGranted, facts: _Facts, batch_id: UUID) -> Event:  # noqa: N802
        facts.authorization_id = e.authorization_id
        facts.authorization_number = e.authorization_number
        facts.eccn = e.eccn
        facts.consignee_id = e.consignee_id
        return {
            "type": "TransactionEvent",
            "action": "ADD",
            "bizTransactionList": self._po(facts) + self._authorization(facts),
            "quantityList": [{"epcClass": v.batch_class_uri(batch_id), "quantity": e.cleared_quantity}],
            v.ext("clearance"): "granted",
            v.ext("authorizationID"): str(e.authorization_id),
            v.ext("authorizationNumber"): e.authorization_number,
            v.ext("eccn"): e.eccn,
            v.ext("destinationCountry"): e.destination_country,
            v.ext("consigneeID"): str(e.consignee_id),
            v.ext("endUserID"): str(e.end_user_id),
        }

    def _ClearanceDenied(self, e: GpuBatch.ClearanceDenied, facts: _Facts, batch_id: UUID) -> Event:  # noqa: N802
        return {
            "type": "TransactionEvent",
            "action": "DELETE",
            "bizTransactionList": self._po(facts) + self._authorization(facts),
            v.ext("clearance"): "denied",
            v.ext("rule"): e.rule,
            v.ext("reason"): e.reason,
        }

    def _ClearanceRevoked(self, e: GpuBatch.ClearanceRevoked, facts: _Facts, batch_id: UUID) -> Event:  # noqa: N802
        out: Event = {
            "type": "TransactionEvent",
            "action": "DELETE",
            "bizTransactionList": self._po(facts) + self._authorization(facts),
            v.ext("clearance"): "revoked",
            v.ext("reason"): e.reason,
        }
        facts.authorization_id = None
        return out

    def _SerialsRegistered(self, e: GpuBatch.SerialsRegistered, facts: _Facts, batch_id: UUID) -> Event:  # noqa: N802
        return {
            "type": "ObjectEvent",
            "action": "ADD",
            "bizStep": "commissioning",
            "disposition": "active",
            "epcList": [v.gpu_uri(s) for s in e.serials],
            "bizTransactionList": self._po(facts),
            "ilmd": {
                v.ext("units"): [
                    {v.ext("gpu"): v.gpu_uri(s), v.ext("gpuUUID"): u}
                    for s, u in zip(e.serials, e.gpu_uuids, strict=True)
                ]
            },
        }

    def _Shipped(self, e: GpuBatch.Shipped, facts: _Facts, batch_id: UUID) -> Event:  # noqa: N802
        facts.shipments[e.shipment_id] = e.destination_site_id
        destinations = []
        if facts.buyer_id is not None:
            destinations.append({"type": "owning_party", "destination": v.party_uri(facts.buyer_id)})
        if facts.consignee_id is not None:
            destinations.append({"type": "possessing_party", "destination": v.party_uri(facts.consignee_id)})
        if e.destination_site_id is not None:
            destinations.append({"type": "location", "destination": v.site_uri(e.destination_site_id)})
        out: Event = {
            "type": "ObjectEvent",
            "action": "OBSERVE",
            "bizStep": "shipping",
            "disposition": "in_transit",
            **self._what(batch_id, e.serials, e.quantity),
            "bizTransactionList": [
                *self._po(facts),
                {"type": "desadv", "bizTransaction": v.shipment_uri(e.shipment_id)},
                *self._authorization(facts),
            ],
            "sourceList": [{"type": "possessing_party", "source": v.party_uri(facts.supplier_id)}]
            if facts.supplier_id is not None
            else [],
            "destinationList": destinations,
            v.ext("shipmentID"): e.shipment_id,
            v.ext("destinationCountry"): e.destination_country,
            v.ext("origin"): e.origin,
            v.ext("itn"): e.itn,
            v.ext("eccn"): facts.eccn,
            v.ext("authorizationNumber"): facts.authorization_number,
        }
        if e.carrier_id is not None:
            out[v.ext("carrierID")] = str(e.carrier_id)
        # CBV has no forwarder type, and its possessing_party destination is the consignee: the
        # intermediate consignees (in order) and the forwarder go in the registry's extension.
        if e.intermediate_consignee_ids:
            out[v.ext("intermediateConsigneeIDs")] = [str(p) for p in e.intermediate_consignee_ids]
        if e.forwarder_id is not None:
            out[v.ext("forwarderID")] = str(e.forwarder_id)
        # The exporter of record, when the shipment named one other than the batch's supplier
        # (the source possessing_party above).
        exporter = getattr(e, "exporter_id", None)
        if exporter is not None and exporter != facts.supplier_id:
            out[v.ext("exporterID")] = str(exporter)
        if not out["sourceList"]:
            del out["sourceList"]
        return out

    def _Received(self, e: GpuBatch.Received, facts: _Facts, batch_id: UUID) -> Event:  # noqa: N802
        out: Event = {
            "type": "ObjectEvent",
            "action": "OBSERVE",
            "bizStep": "receiving",
            "disposition": "in_progress",
        }
        serials = [*e.serials, *e.unexpected_serials]
        out.update(self._what(batch_id, serials, e.quantity))
        if e.site_id is not None:
            out["readPoint"] = {"id": v.site_uri(e.site_id)}
            out["bizLocation"] = {"id": v.site_uri(e.site_id)}
        out["bizTransactionList"] = [
            *self._po(facts),
            {"type": "desadv", "bizTransaction": v.shipment_uri(e.shipment_id)},
        ]
        destinations = [{"type": "possessing_party", "destination": v.party_uri(e.receiving_party_id)}]
        if e.site_id is not None:
            destinations.append({"type": "location", "destination": v.site_uri(e.site_id)})
        out["destinationList"] = destinations
        out[v.ext("shipmentID")] = e.shipment_id
        if e.missing_serials:
            out[v.ext("missing")] = [v.gpu_uri(s) for s in e.missing_serials]
        if e.unexpected_serials:
            out[v.ext("unexpected")] = [v.gpu_uri(s) for s in e.unexpected_serials]
        if e.discrepancy_note:
            out[v.ext("discrepancyNote")] = e.discrepancy_note
        return out

    def _Installed(self, e: GpuBatch.Installed, facts: _Facts, batch_id: UUID) -> Event:  # noqa: N802
        out: Event = {
            "type": "ObjectEvent",
            "action": "OBSERVE",
            "bizStep": "installing",
            "disposition": "active",
            **self._what(batch_id, e.serials, e.quantity),
            "readPoint": {"id": v.site_uri(e.site_id)},
            "bizLocation": {"id": v.site_uri(e.site_id)},
        }
        if e.rack:
            out[v.ext("rack")] = e.rack
        if e.host:
            out[v.ext("host")] = e.host
        if e.relocated_serials:
            out[v.ext("relocated")] = [v.gpu_uri(s) for s in e.relocated_serials]
        return out

    def _Assigned(self, e: GpuBatch.Assigned, facts: _Facts, batch_id: UUID) -> Event:  # noqa: N802
        return {
            "type": "TransactionEvent",
            "action": "ADD",
            **self._what(batch_id, e.serials, e.quantity),
            "bizTransactionList": [
                *self._po(facts),
                {
                    "type": v.BTT_ASSIGNMENT,
                    "bizTransaction": f"{v.ID_BASE}assignment/{batch_id}/{e.originator_version}",
                },
            ],
            v.ext("assigneeID"): str(e.assignee_id),
            v.ext("purpose"): e.purpose,
        }

    def _Transferred(self, e: GpuBatch.Transferred, facts: _Facts, batch_id: UUID) -> Event:  # noqa: N802
        owners = sorted({m.source.owner for m in e.moves} - {""})
        out: Event = {
            "type": "TransactionEvent",
            "action": "ADD",
            **self._what(batch_id, e.serials, e.quantity),
            "bizTransactionList": [
                *self._po(facts),
                {"type": v.BTT_TRANSFER, "bizTransaction": f"{v.ID_BASE}transfer/{batch_id}/{e.originator_version}"},
            ],
            "sourceList": [{"type": "owning_party", "source": v.party_uri(UUID(o))} for o in owners],
            "destinationList": [{"type": "owning_party", "destination": v.party_uri(e.to_owner_id)}],
            v.ext("reason"): e.reason,
        }
        if e.to_site_id is not None:
            out["destinationList"].append({"type": "location", "destination": v.site_uri(e.to_site_id)})
        if not out["sourceList"]:
            del out["sourceList"]
        return out

    def _ReturnedForRma(self, e: GpuBatch.ReturnedForRma, facts: _Facts, batch_id: UUID) -> Event:  # noqa: N802
        out: Event = {
            "type": "ObjectEvent",
            "action": "OBSERVE",
            "bizStep": "shipping",
            "disposition": "returned",
            **self._what(batch_id, e.serials, e.quantity),
            "bizTransactionList": [*self._po(facts), {"type": "rma", "bizTransaction": v.rma_uri(e.rma_number)}],
            v.ext("rmaNumber"): e.rma_number,
        }
        if e.reason:
            out[v.ext("reason")] = e.reason
        return out

    def _Repaired(self, e: GpuBatch.Repaired, facts: _Facts, batch_id: UUID) -> Event:  # noqa: N802
        """CBV ``repairing``: ``gpureg:repair`` ``from_rma`` (units back from an RMA, received at
        the site: disposition ``in_progress`` as a receipt) or ``on_site`` (repaired where they
        are, back in service: ``active``); the site as read point and business location; the RMA
        as a business transaction when the repair names one."""
        out: Event = {
            "type": "ObjectEvent",
            "action": "OBSERVE",
            "bizStep": "repairing",
            "disposition": "in_progress" if e.kind == "from_rma" else "active",
            **self._what(batch_id, e.serials, e.quantity),
        }
        if e.site_id is not None:
            out["readPoint"] = {"id": v.site_uri(e.site_id)}
            out["bizLocation"] = {"id": v.site_uri(e.site_id)}
        transactions = [*self._po(facts)]
        if e.rma_number:
            transactions.append({"type": "rma", "bizTransaction": v.rma_uri(e.rma_number)})
            out[v.ext("rmaNumber")] = e.rma_number
        if transactions:
            out["bizTransactionList"] = transactions
        out[v.ext("repair")] = e.kind
        if e.note:
            out[v.ext("note")] = e.note
        return out

    def _ReportedLost(self, e: GpuBatch.ReportedLost, facts: _Facts, batch_id: UUID) -> Event:  # noqa: N802
        out: Event = {
            "type": "ObjectEvent",
            "action": "OBSERVE",
            "disposition": "stolen" if e.kind == "stolen" else "unknown",
            **self._what(batch_id, e.serials, e.quantity),
        }
        if e.note:
            out[v.ext("note")] = e.note
        return out

    def _OnwardMovementRecorded(  # noqa: N802
        self, e: GpuBatch.OnwardMovementRecorded, facts: _Facts, batch_id: UUID
    ) -> Event:
        """A known reexport, transshipment or diversion: the units observed departing for (or
        through) ``country``; which of the three is ``gpureg:onwardMovement``; the recipient, when
        recorded, as the destinationList's ``possessing_party``."""
        out: Event = {
            "type": "ObjectEvent",
            "action": "OBSERVE",
            "bizStep": "departing",
            **self._what(batch_id, e.serials, e.quantity),
            v.ext("onwardMovement"): e.kind,
            v.ext("destinationCountry"): e.country,
        }
        recipient = getattr(e, "recipient_id", None)
        if recipient is not None and (self._sees_party is None or self._sees_party(recipient)):
            # the party the units went to (event version 2): who took possession, as a receipt's
            # possessing_party; a confined reader's export names it only when it is its own or a
            # subsidiary's (docs/security.md)
            out["destinationList"] = [{"type": "possessing_party", "destination": v.party_uri(recipient)}]
        if e.place:
            out[v.ext("place")] = e.place
        if e.note:
            out[v.ext("note")] = e.note
        return out

    def _Decommissioned(self, e: GpuBatch.Decommissioned, facts: _Facts, batch_id: UUID) -> Event:  # noqa: N802
        out: Event = {
            "type": "ObjectEvent",
            "action": "DELETE",
            "bizStep": "decommissioning",
            "disposition": "inactive",
            **self._what(batch_id, e.serials, e.quantity),
        }
        if e.method:
            out[v.ext("method")] = e.method
        return out


def order_events(
    registry: Registry, batch_id: UUID, before_version: int | None = None, captured_by: str | None = None
) -> list[Event]:
    """The batch's order events as the registry exports them, oldest first: its ``Ordered``
    TransactionEvent (for a batch split off another, its split event) and each correction's
    corrective event (each correction's error declaration has the eventID of the one before
    it); only events before ``before_version`` when given (``captured_by``: as :class:`Translator`)."""
    translator = Translator(registry, captured_by=captured_by)
    out: list[Event] = []
    after = 0
    while True:
        page = registry.history(batch_id, after_version=after, limit=500)
        for stored in page:
            if before_version is not None and stored.originator_version >= before_version:
                return out
            if isinstance(stored, GpuBatch.Ordered | GpuBatch.SplitFrom | GpuBatch.OrderCorrected):
                out.extend(e for e in translator.events(stored) if "errorDeclaration" not in e)
        if len(page) < 500:
            return out
        after = page[-1].originator_version


# -------------------------------------------------------------------------------- documents
def document(events: Iterable[Event], created: datetime) -> dict[str, Any]:
    return {
        "@context": v.DOCUMENT_CONTEXT,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": _time(created),
        "epcisBody": {"eventList": list(events)},
    }


def write_document(events: Iterable[Event], created: datetime, out: IO[str]) -> int:
    """Stream an EPCISDocument to ``out`` event by event; returns the number of events."""
    head = json.dumps(document([], created))
    opening, closing = head.rsplit("[]", 1)
    out.write(opening + "[")
    n = 0
    for event in events:
        out.write(("," if n else "") + "\n" + json.dumps(event))
        n += 1
    out.write("\n]" + closing + "\n")
    return n


def _order_line(e: GpuBatch.Ordered | GpuBatch.SplitFrom, batch_id: UUID) -> Event:
    """What an order line and a split's order line both say: the batch's quantity of its class,
    the supplier and buyer as owning parties, and the order's terms."""
    return {
            "quantityList": [{"epcClass": v.batch_class_uri(batch_id), "quantity": e.quantity}],
            "sourceList": [{"type": "owning_party", "source": v.party_uri(e.supplier_id)}],
            "destinationList": [{"type": "owning_party", "destination": v.party_uri(e.buyer_id)}],
            v.ext("poNumber"): e.po_number,
            v.ext("modelID"): str(e.model_id),
            v.ext("unitPrice"): str(e.unit_price),
            v.ext("currency"): e.currency,
            v.ext("allocationProgram"): e.allocation_program,
    }
