"""The GPU batch aggregate: one purchase-order line of GPUs, from order to end of life.

One concept: the ``GpuBatch`` aggregate, its events and the value types of its units (positions,
moves), which change together.

Decisions and facts
-------------------
The registry *owns* some decisions and *records* other facts, and treats them differently:

* Decisions (ordering, export clearance, shipment against a clearance, assignment, in-country
  transfer, split) are refused when a rule says no: the command raises and writes nothing.
* Facts reported from the field (a receipt, an installation, a loss, a return) describe what
  already happened. They are recorded even when they are bad news: units missing in transit,
  serials nobody shipped, a serial reported installed at a second site. The compliance
  projection flags them later; refusing them would only hide them. A fact is refused only when
  it cannot be counted at all (more units received against a shipment than it carried, a serial
  this batch never had installed as if received).

Accounting
----------
Every unit is in exactly one *position*: (stage, site, owner, assignee). ``buckets`` counts units
per position, so quantity-only batches and serialized batches share one accounting. Serialized
batches also keep one :class:`Unit` per serial. Every movement event carries the exact ``moves``
(:class:`Move` values: from position, to position, count) that the public method computed, so
``apply`` only assigns and replay never re-runs a rule. ``buckets`` stays keyed by
:attr:`Position.key` (a plain string), so snapshots keep the shape they were stored in.

Stored shapes
-------------
Movement events of class version 1 stored ``moves`` as ``[from_key, to_key, count]`` lists of
pipe-joined keys; their upcaster turns them into :class:`Move` values, which the application's
transcoding stores compactly (registry/application/transcodings.py).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any, overload
from uuid import UUID

from registry.domain.base import Amendable, Context, RegistryAggregate
from registry.domain.errors import (
    ComplianceRefusal,
    IllegalTransition,
    InvalidField,
    InvariantViolation,
)
from registry.domain.reference_codes import country_code
from registry.domain.serials import SerialSet


class Stage(StrEnum):
    """Where a unit is in its life. The first five are the forward path."""

    PENDING = "pending"  # ordered, not yet shipped
    IN_TRANSIT = "in_transit"
    RECEIVED = "received"
    INSTALLED = "installed"
    ASSIGNED = "assigned"
    RMA = "rma"  # returned to the vendor for repair or replacement
    LOST = "lost"  # reported lost or stolen
    DECOMMISSIONED = "decommissioned"


TERMINAL = frozenset({Stage.LOST, Stage.DECOMMISSIONED, Stage.RMA})
AT_SITE = frozenset({Stage.RECEIVED, Stage.INSTALLED, Stage.ASSIGNED})
# A unit moving to one of these stages is in no rack and on no host (received at a site, or with
# the vendor under an RMA): its rack and host are cleared by the move.
OUT_OF_RACK = frozenset({Stage.RECEIVED, Stage.RMA})
#: CBV 2.0 error reasons (section 7.5): an error declaration's ``reason`` (or a URI of one's own).
ERROR_REASONS = frozenset({"did_not_occur", "incorrect_data"})
#: What a repair is (:meth:`GpuBatch.repair`): units back from an RMA, or repaired where they are.
REPAIR_KINDS = frozenset({"from_rma", "on_site"})
#: What a recorded onward movement of exported units may be (15 CFR 762.6's "any known reexport,
#: transshipment or diversion"); a diversion is the units going where the authorization did not allow.
ONWARD_KINDS = frozenset({"reexport", "transshipment", "diversion"})


class Clearance(StrEnum):
    NONE = "none"
    REQUESTED = "requested"
    GRANTED = "granted"
    DENIED = "denied"
    REVOKED = "revoked"


@dataclass(frozen=True)
class Position:
    """A unit's place in the accounting. Ids are hex strings ('' when not applicable)."""

    stage: str
    site: str = ""
    owner: str = ""
    assignee: str = ""

    def __post_init__(self) -> None:
        if type(self.stage) is not str:  # a Stage member: kept as its plain value
            object.__setattr__(self, "stage", str(self.stage))

    @property
    def key(self) -> str:
        return f"{self.stage}|{self.site}|{self.owner}|{self.assignee}"

    @classmethod
    def parse(cls, key: str) -> Position:
        stage, site, owner, assignee = key.split("|")
        return cls(stage, site, owner, assignee)

    @property
    def is_unit_stage(self) -> bool:
        """False for the pseudo position of units leaving the batch in a split."""
        return self.stage in _STAGES


_STAGES = frozenset(s.value for s in Stage)
SPLIT_OUT = Position("split")  # pseudo position of units leaving the batch in a split


@dataclass(frozen=True)
class Move:
    """``count`` units going from one position to another: what a movement event carries."""

    source: Position
    target: Position
    count: int

    @classmethod
    def of_row(cls, row: Sequence[Any]) -> Move:
        """A move from its plain form ``[from_key, to_key, count]`` (stored events of class
        version 1, the custody read model, and what subscribers and reports show)."""
        from_key, to_key, count = row
        return cls(Position.parse(from_key), Position.parse(to_key), int(count))

    def as_row(self) -> list[Any]:
        """The plain form ``[from_key, to_key, count]`` (the inverse of :meth:`of_row`)."""
        return [self.source.key, self.target.key, self.count]


_SERIAL_FIELDS = ("serials", "missing_serials", "unexpected_serials", "relocated_serials")


class _CarriesMoves:
    """The stored shapes of every movement event. Version 2: ``moves`` are :class:`Move` values
    (version 1 stored ``[from_key, to_key, count]`` lists). Version 3: the serials it names are
    :class:`SerialSet` values, runs where they are consecutive (version 2 listed every one)."""

    class_version = 3

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["moves"] = [Move.of_row(m) for m in state["moves"]]

    @staticmethod
    def upcast_v2_v3(state: dict[str, Any]) -> None:
        for name in _SERIAL_FIELDS:
            if name in state:
                state[name] = SerialSet(state[name])


class _UnitKey:
    """``Unit.key``: the unit's position key (``position.key``, without building a Position),
    computed on first use and kept in the unit's ``__dict__``, where later reads find it directly
    (a non-data descriptor, as ``functools.cached_property`` but without its lock). The key is not
    a dataclass field: equality, ``replace``, ``asdict`` and the snapshot's form ignore it, and a
    frozen unit's fields never change under it."""

    @overload
    def __get__(self, unit: None, owner: type[Any] | None = None) -> _UnitKey: ...

    @overload
    def __get__(self, unit: Unit, owner: type[Any] | None = None) -> str: ...

    def __get__(self, unit: Unit | None, owner: type[Any] | None = None) -> str | _UnitKey:
        if unit is None:
            return self
        key: str = f"{unit.stage}|{unit.site}|{unit.owner}|{unit.assignee}"
        unit.__dict__["key"] = key
        return key


_new_object = object.__new__
_set_state = object.__setattr__  # a frozen dataclass's own __setattr__ refuses every write


@dataclass(frozen=True)
class Unit:
    """One GPU of a serialized batch, with the identifiers nvidia-smi reports."""

    serial: str
    gpu_uuid: str
    stage: str
    site: str = ""
    owner: str = ""
    assignee: str = ""
    shipment_id: str = ""
    rack: str = ""
    host: str = ""

    @property
    def position(self) -> Position:
        return Position(self.stage, self.site, self.owner, self.assignee)

    key = _UnitKey()


@dataclass(frozen=True)
class Shipment:
    shipment_id: str
    quantity: int
    serials: list[str]
    carrier_id: UUID | None
    origin: str
    destination_country: str
    destination_site_id: UUID | None
    itn: str
    received: int = 0
    # Version 4 of ``Shipped``: the other parties of the shipment (absent on older shipments).
    intermediate_consignee_ids: list[UUID] = field(default_factory=list)
    forwarder_id: UUID | None = None
    # Version 5: the exporter named on the shipment (None on older shipments: not recorded).
    exporter_id: UUID | None = None
    # When it left (the Shipped event's business time); None in a snapshot taken before this was kept.
    shipped_at: datetime | None = None


def _hex(ident: UUID | None) -> str:
    return ident.hex if ident is not None else ""


def _apply_moves(batch: GpuBatch, moves: Iterable[Move]) -> None:
    for move in moves:
        from_key, to_key, count = move.source.key, move.target.key, move.count
        left = batch.buckets.get(from_key, 0) - count
        if left:
            batch.buckets[from_key] = left
        else:
            batch.buckets.pop(from_key, None)
        batch.buckets[to_key] = batch.buckets.get(to_key, 0) + count


def _pending_units(serials: Sequence[str], gpu_uuids: Sequence[str], owner: str) -> Iterator[tuple[str, Unit]]:
    """``(serial, Unit(serial, gpu_uuid, Stage.PENDING, owner=owner))`` for each pair, built as
    :func:`_move_units` builds units (a registration names thousands): the same attributes, in the
    same order, as the constructor would set."""
    rest = {"stage": Stage.PENDING, "site": "", "owner": owner, "assignee": "", "shipment_id": "",
            "rack": "", "host": ""}
    for serial, gpu_uuid in zip(serials, gpu_uuids, strict=True):
        unit = _new_object(Unit)
        _set_state(unit, "__dict__", {"serial": serial, "gpu_uuid": gpu_uuid, **rest})
        yield serial, unit


def _move_units(
    batch: GpuBatch, serials: Iterable[str], to: Position, **changes: str
) -> None:
    """Put serials at the position ``to`` (frozen units are rebuilt, never mutated).

    A movement rebuilds hundreds of units, and the frozen dataclass's ``__init__`` (nine guarded
    attribute writes each) was most of its cost: each unit is built as a copy of the old one's
    attributes with what changes laid over them, the same for the whole group and with the new
    position's key already known (see ``Unit.key``)."""
    new: dict[str, str] = {"stage": to.stage, "site": to.site, "owner": to.owner, "assignee": to.assignee,
           **{k: changes[k] for k in ("shipment_id", "rack", "host") if k in changes},
           "key": to.key}
    if len(new) != 5 + len(changes):
        raise TypeError(f"a unit's movement changes only shipment_id, rack and host: {sorted(changes)}")
    units = batch.units
    for serial in serials:
        unit = _new_object(Unit)
        state = units[serial].__dict__.copy()
        state.update(new)
        _set_state(unit, "__dict__", state)
        units[serial] = unit


class _Movement(_CarriesMoves):
    """``apply`` for events that only move units: the moves, the serials, and one counter."""

    COUNTER = ""

    def apply(self, aggregate: Any) -> None:
        event: Any = self
        _apply_moves(aggregate, event.moves)
        aggregate._move_by_moves(event.serials, event.moves)
        aggregate._count(self.COUNTER, event.quantity)


class GpuBatch(RegistryAggregate):
    """A batch of GPUs of one model bought on one purchase order."""

    # ----------------------------------------------------------------------------- events
    class Ordered(RegistryAggregate.Created):
        """Version 2 added ``allocation_program`` (the deal's programme the order counts to)."""

        class_version = 2

        po_number: str
        supplier_id: UUID
        buyer_id: UUID
        model_id: UUID
        quantity: int
        unit_price: Decimal
        currency: str
        allocation_program: str

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["allocation_program"] = "unspecified"

        def apply(self, aggregate: Any) -> None:
            aggregate._init_order(
                po_number=self.po_number,
                supplier_id=self.supplier_id,
                buyer_id=self.buyer_id,
                model_id=self.model_id,
                quantity=self.quantity,
                unit_price=self.unit_price,
                currency=self.currency,
                allocation_program=self.allocation_program,
                parent_id=None,
            )

    class SplitFrom(RegistryAggregate.Created):
        """A child batch created from pending units of a parent batch."""

        parent_id: UUID
        po_number: str
        supplier_id: UUID
        buyer_id: UUID
        model_id: UUID
        quantity: int
        unit_price: Decimal
        currency: str
        allocation_program: str
        clearance_status: str
        clearance: dict[str, Any]
        serials: list[str]
        gpu_uuids: list[str]

        def apply(self, aggregate: Any) -> None:
            aggregate._init_order(
                po_number=self.po_number,
                supplier_id=self.supplier_id,
                buyer_id=self.buyer_id,
                model_id=self.model_id,
                quantity=self.quantity,
                unit_price=self.unit_price,
                currency=self.currency,
                allocation_program=self.allocation_program,
                parent_id=self.parent_id,
            )
            aggregate.clearance_status = self.clearance_status
            aggregate.clearance = dict(self.clearance)
            aggregate.units.update(_pending_units(self.serials, self.gpu_uuids, self.buyer_id.hex))

    class OrderCorrected(Amendable.Amended):
        """A correction to the order's commercial data (never an edit)."""

    class ClearanceRequested(RegistryAggregate.Event):
        authorization_id: UUID | None
        eccn: str
        destination_country: str
        consignee_id: UUID
        end_user_id: UUID
        quantity: int
        end_use: str

        def apply(self, aggregate: Any) -> None:
            aggregate.clearance_status = Clearance.REQUESTED
            aggregate.clearance = {
                "authorization_id": self.authorization_id,
                "eccn": self.eccn,
                "destination_country": self.destination_country,
                "consignee_id": self.consignee_id,
                "end_user_id": self.end_user_id,
                "requested_quantity": self.quantity,
                "end_use": self.end_use,
                "cleared_quantity": 0,
            }

    class ClearanceGranted(RegistryAggregate.Event):
        authorization_id: UUID
        authorization_number: str
        eccn: str
        destination_country: str
        consignee_id: UUID
        end_user_id: UUID
        cleared_quantity: int
        evidence: dict[str, Any]

        def apply(self, aggregate: Any) -> None:
            aggregate.clearance_status = Clearance.GRANTED
            aggregate.clearance = {
                **aggregate.clearance,
                "authorization_id": self.authorization_id,
                "authorization_number": self.authorization_number,
                "eccn": self.eccn,
                "destination_country": self.destination_country,
                "consignee_id": self.consignee_id,
                "end_user_id": self.end_user_id,
                "cleared_quantity": self.cleared_quantity,
            }

    class ClearanceDenied(RegistryAggregate.Event):
        rule: str
        reason: str

        def apply(self, aggregate: Any) -> None:
            aggregate.clearance_status = Clearance.DENIED
            aggregate.clearance = {**aggregate.clearance, "cleared_quantity": 0}

    class ClearanceRevoked(RegistryAggregate.Event):
        reason: str

        def apply(self, aggregate: Any) -> None:
            aggregate.clearance_status = Clearance.REVOKED

    class SerialsRegistered(RegistryAggregate.Event):
        serials: list[str]
        gpu_uuids: list[str]

        def apply(self, aggregate: Any) -> None:
            aggregate.units.update(_pending_units(self.serials, self.gpu_uuids, aggregate.buyer_id.hex))

    class Shipped(_CarriesMoves, RegistryAggregate.Event):
        """Version 4 added the shipment's other parties: ``intermediate_consignee_ids`` (who takes
        possession on the way, in order) and ``forwarder_id`` (the freight forwarder); a stored
        version 3 event had neither and loads with none. Version 5 added ``exporter_id`` (the
        exporter of record, the batch's supplier unless the shipment names another); a stored
        version 4 event loads with None (not recorded)."""

        class_version = 5

        shipment_id: str
        carrier_id: UUID | None
        origin: str
        destination_country: str
        destination_site_id: UUID | None
        itn: str
        quantity: int
        serials: SerialSet
        moves: list[Move]
        intermediate_consignee_ids: Sequence[UUID] = ()  # a list once stored
        forwarder_id: UUID | None = None
        exporter_id: UUID | None = None

        @staticmethod
        def upcast_v3_v4(state: dict[str, Any]) -> None:
            state["intermediate_consignee_ids"] = []
            state["forwarder_id"] = None

        @staticmethod
        def upcast_v4_v5(state: dict[str, Any]) -> None:
            state["exporter_id"] = None

        def apply(self, aggregate: Any) -> None:
            _apply_moves(aggregate, self.moves)
            for move in self.moves:
                from_key = move.source.key
                _move_units(
                    aggregate,
                    [s for s in self.serials if aggregate.units[s].key == from_key],
                    move.target,
                    shipment_id=self.shipment_id,
                )
            aggregate.shipments[self.shipment_id] = Shipment(
                shipment_id=self.shipment_id,
                quantity=self.quantity,
                serials=list(self.serials),
                carrier_id=self.carrier_id,
                origin=self.origin,
                destination_country=self.destination_country,
                destination_site_id=self.destination_site_id,
                itn=self.itn,
                intermediate_consignee_ids=list(self.intermediate_consignee_ids),
                forwarder_id=self.forwarder_id,
                exporter_id=self.exporter_id,
                shipped_at=self.occurred_at,
            )
            aggregate._count("shipped", self.quantity)

    class Received(_CarriesMoves, RegistryAggregate.Event):
        shipment_id: str
        receiving_party_id: UUID
        site_id: UUID | None
        quantity: int
        serials: SerialSet
        missing_serials: SerialSet
        unexpected_serials: SerialSet
        discrepancy_note: str
        moves: list[Move]

        def apply(self, aggregate: Any) -> None:
            _apply_moves(aggregate, self.moves)
            aggregate._move_by_moves(self.serials, self.moves)
            shipment = aggregate.shipments[self.shipment_id]
            aggregate.shipments[self.shipment_id] = replace(
                shipment, received=shipment.received + self.quantity
            )
            aggregate._count("received", self.quantity)
            aggregate._count("missing_reported", len(self.missing_serials))
            aggregate._count("unexpected_reported", len(self.unexpected_serials))

    class Installed(_CarriesMoves, RegistryAggregate.Event):
        site_id: UUID
        rack: str
        host: str
        quantity: int
        serials: SerialSet
        relocated_serials: SerialSet
        moves: list[Move]

        def apply(self, aggregate: Any) -> None:
            _apply_moves(aggregate, self.moves)
            aggregate._move_by_moves(self.serials, self.moves, rack=self.rack, host=self.host)
            aggregate._count("installed", self.quantity - len(self.relocated_serials))
            aggregate._count("relocated", len(self.relocated_serials))

    class Assigned(_Movement, RegistryAggregate.Event):
        assignee_id: UUID
        purpose: str
        quantity: int
        serials: SerialSet
        moves: list[Move]

        COUNTER = "assigned"

    class Transferred(_Movement, RegistryAggregate.Event):
        to_owner_id: UUID
        to_site_id: UUID | None
        reason: str
        quantity: int
        serials: SerialSet
        moves: list[Move]

        COUNTER = "transferred"

    class ReturnedForRma(_Movement, RegistryAggregate.Event):
        rma_number: str
        reason: str
        quantity: int
        serials: SerialSet
        moves: list[Move]

        COUNTER = "rma"

    class Repaired(_Movement, RegistryAggregate.Event):
        """Units repaired (CBV ``repairing``). ``kind`` ``from_rma``: units the vendor had under
        an RMA (stage ``rma``) are back, repaired, received at ``site_id`` by their owner;
        ``on_site``: units at a site repaired where they are (their positions unchanged: each
        move's source is its target), recorded in the custody trail. ``moves`` are what
        :meth:`GpuBatch.repair` computed."""

        kind: str  # "from_rma" or "on_site"
        rma_number: str
        site_id: UUID | None
        note: str
        quantity: int
        serials: SerialSet
        moves: list[Move]

        COUNTER = "repaired"

        def apply(self, aggregate: Any) -> None:
            _apply_moves(aggregate, self.moves)
            if self.kind == "from_rma":  # back from the vendor: no longer in any rack or host
                aggregate._move_by_moves(self.serials, self.moves, rack="", host="")
            aggregate._count(self.COUNTER, self.quantity)

    class ErrorDeclared(RegistryAggregate.Event):
        """An earlier event of this batch declared in error (EPCIS 2.0 section 7.4.1.2), named by
        the EPCIS eventID it was captured or exported under: ``reason`` (CBV ``did_not_occur``,
        ``incorrect_data``, a URI of the declarer's vocabulary, or '' when none was given) and the
        eventIDs of its corrective events. The registry never edits a recorded fact: the batch's
        positions and totals stay as they are; the declaration is on the record (custody trail,
        EPCIS queries return the declared event with its errorDeclaration)."""

        event_id: str
        reason: str
        corrective_event_ids: list[str]

        def apply(self, aggregate: Any) -> None:
            pass  # a declaration changes no position or total: it is only on the record

    class ReportedLost(_Movement, RegistryAggregate.Event):
        kind: str  # "lost" or "stolen"
        note: str
        quantity: int
        serials: SerialSet
        moves: list[Move]

        COUNTER = "lost"

    class Decommissioned(_Movement, RegistryAggregate.Event):
        method: str
        quantity: int
        serials: SerialSet
        moves: list[Move]

        COUNTER = "decommissioned"

    class OnwardMovementRecorded(RegistryAggregate.Event):
        """A known reexport, transshipment or diversion of exported units, recorded after the fact
        (15 CFR 762.6: records are kept 5 years from the latest of them). The registry's own
        positions of the units do not change: it records what it learned, where and when.

        Version 2 added ``recipient_id`` (the party the units went to, when known); a stored
        version 1 loads with None (not recorded)."""

        class_version = 2
        kind: str  # "reexport", "transshipment" or "diversion"
        country: str  # where the units went (ISO 3166-1 alpha-2)
        place: str  # the port, city or facility, as reported
        note: str
        quantity: int
        serials: SerialSet
        recipient_id: UUID | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["recipient_id"] = None

    class SplitOff(_CarriesMoves, RegistryAggregate.Event):
        child_id: UUID
        quantity: int
        serials: SerialSet
        cleared_quantity: int
        moves: list[Move]

        def apply(self, aggregate: Any) -> None:
            _apply_moves(aggregate, self.moves)
            aggregate.buckets.pop(SPLIT_OUT.key, None)  # units left the batch
            for serial in self.serials:
                del aggregate.units[serial]
            aggregate.quantity -= self.quantity
            if aggregate.clearance:
                aggregate.clearance = {
                    **aggregate.clearance,
                    "cleared_quantity": aggregate.clearance["cleared_quantity"]
                    - self.cleared_quantity,
                }
            aggregate.children.append(self.child_id)

    # ------------------------------------------------------------------------------ state
    if TYPE_CHECKING:
        po_number: str
        supplier_id: UUID
        buyer_id: UUID
        model_id: UUID
        quantity: int
        unit_price: Decimal
        currency: str
        allocation_program: str
        parent_id: UUID | None
        clearance_status: str
        clearance: dict[str, Any]
        buckets: dict[str, int]
        units: dict[str, Unit]
        shipments: dict[str, Shipment]
        totals: dict[str, int]
        children: list[UUID]

    AMENDABLE = frozenset({"po_number", "unit_price", "currency", "allocation_program"})

    def _init_order(
        self,
        *,
        po_number: str,
        supplier_id: UUID,
        buyer_id: UUID,
        model_id: UUID,
        quantity: int,
        unit_price: Decimal,
        currency: str,
        allocation_program: str,
        parent_id: UUID | None,
    ) -> None:
        self.po_number = po_number
        self.supplier_id = supplier_id
        self.buyer_id = buyer_id
        self.model_id = model_id
        self.quantity = quantity
        self.unit_price = unit_price
        self.currency = currency
        self.allocation_program = allocation_program
        self.parent_id = parent_id
        self.clearance_status = Clearance.NONE
        self.clearance = {}
        self.buckets = {Position(Stage.PENDING, owner=buyer_id.hex).key: quantity}
        self.units = {}
        self.shipments = {}
        self.totals = {}
        self.children = []

    def _count(self, name: str, n: int) -> None:
        if n:
            self.totals[name] = self.totals.get(name, 0) + n

    def _move_by_moves(self, serials: Sequence[str], moves: Sequence[Move], **changes: str) -> None:
        if not serials:
            return
        # Group by where the serials are first (a movement names hundreds of serials but few
        # moves), then move each group: every serial is judged by where it was before the event.
        by_from: dict[str, Position] = {m.source.key: m.target for m in moves}
        groups: dict[str, list[str]] = {key: [] for key in by_from}
        units = self.units
        for serial in serials:
            group = groups.get(units[serial].key)
            if group is not None:  # None: relocation, a serial moved within the same stage
                group.append(serial)
        for key, group in groups.items():
            if group:
                to = by_from[key]
                if to.stage in OUT_OF_RACK and "rack" not in changes:  # received or under an RMA: in no rack
                    _move_units(self, group, to, **changes, rack="", host="")
                else:
                    _move_units(self, group, to, **changes)

    # --------------------------------------------------------------------------- queries
    @property
    def serialized(self) -> bool:
        return bool(self.units)

    def units_by_stage(self) -> dict[str, int]:
        counts: Counter[str] = Counter()
        for key, n in self.buckets.items():
            counts[key.split("|", 1)[0]] += n
        return {stage.value: counts.get(stage.value, 0) for stage in Stage}

    @property
    def destination_country(self) -> str:
        return str(self.clearance.get("destination_country", ""))

    @property
    def cleared_quantity(self) -> int:
        return int(self.clearance.get("cleared_quantity", 0))

    @property
    def stage(self) -> str:
        """One word for the batch: the earliest stage still holding live units."""
        by_stage = self.units_by_stage()
        if by_stage[Stage.PENDING]:
            return {
                Clearance.NONE: "ordered",
                Clearance.REQUESTED: "clearance_requested",
                Clearance.GRANTED: "cleared",
                Clearance.DENIED: "clearance_denied",
                Clearance.REVOKED: "clearance_revoked",
            }[Clearance(self.clearance_status)]
        for stage in (Stage.IN_TRANSIT, Stage.RECEIVED, Stage.INSTALLED, Stage.ASSIGNED):
            if by_stage[stage]:
                return stage.value
        return "closed"

    def describe_state(self) -> str:
        live = ", ".join(f"{k}={v}" for k, v in self.units_by_stage().items() if v)
        return f"{self.stage} (clearance {self.clearance_status}; units {live or 'none'})"

    def allowed_actions(self) -> list[str]:
        by_stage = self.units_by_stage()
        allowed: list[str] = ["correct_order"]
        status = self.clearance_status
        if status in (Clearance.NONE, Clearance.DENIED, Clearance.REVOKED) and by_stage[Stage.PENDING]:
            allowed.append("request_clearance")
        if status == Clearance.REQUESTED:
            allowed += ["grant_clearance", "deny_clearance"]
        if status == Clearance.GRANTED:
            allowed.append("revoke_clearance")
            if by_stage[Stage.PENDING] and self.totals.get("shipped", 0) < self.cleared_quantity:
                allowed.append("ship")
        if by_stage[Stage.PENDING]:
            if not self.totals.get("shipped") and len(self.units) < self.quantity:
                allowed.append("register_serials")
            allowed.append("split")
        if by_stage[Stage.IN_TRANSIT]:
            allowed.append("receive")
        if by_stage[Stage.RECEIVED] or by_stage[Stage.INSTALLED] or by_stage[Stage.ASSIGNED]:
            allowed.append("install")
        if by_stage[Stage.INSTALLED] or by_stage[Stage.ASSIGNED]:
            allowed.append("assign")
        if any(by_stage[s] for s in AT_SITE):
            allowed += ["transfer", "return_for_rma"]
        if any(by_stage[s] for s in AT_SITE | {Stage.RMA}):
            allowed += ["decommission", "repair"]
        if any(by_stage[s] for s in Stage if s not in (Stage.LOST, Stage.DECOMMISSIONED)):
            allowed.append("report_lost")
        if self.totals.get("shipped") and any(by_stage[s] for s in Stage if s != Stage.PENDING):
            allowed.append("record_onward_movement")
        return allowed

    def _refuse(self, action: str, reason: str) -> IllegalTransition:
        return IllegalTransition(action, self.describe_state(), self.allowed_actions(), reason)

    # ----------------------------------------------------------------- movement planning
    def _select(
        self,
        action: str,
        quantity: int | None,
        serials: Sequence[str],
        from_stages: frozenset[str],
        target: Callable[[Position], Position],
        where: Callable[[Position], bool] = lambda p: True,
    ) -> tuple[int, list[str], list[Move]]:
        """Choose which units move and compute the moves; raise if they cannot.

        A serialized batch moves named serials; a quantity-only batch takes units from its
        buckets in a deterministic order.
        """
        if serials:
            named = set(serials)
            if len(named) != len(serials):
                dupes = sorted(s for s, n in Counter(serials).items() if n > 1)
                raise InvalidField.one("serials", f"each serial at most once; repeated: {dupes[:5]}")
            if quantity is not None and quantity != len(serials):
                raise InvalidField.one("quantity", "must equal the number of serials when both are given")
            units = self.units
            if not named <= units.keys():
                unknown = [s for s in serials if s not in units]
                raise InvariantViolation(
                    "serial-in-batch", f"serial(s) not registered to this batch: {unknown[:5]}"
                )
            # Hundreds of serials share a handful of positions: judge each position once.
            keys = [units[s].key for s in serials]
            per_key: Counter[str] = Counter(keys)
            positions = {k: Position.parse(k) for k in per_key}
            allowed = {k: p.stage in from_stages and where(p) for k, p in positions.items()}
            wrong: list[str] = [] if all(allowed.values()) else [
                s for s, k in zip(serials, keys, strict=True) if not allowed[k]]
            if wrong:
                states = sorted({f"{s}:{units[s].stage}" for s in wrong[:5]})
                raise self._refuse(
                    action,
                    f"serial(s) not in a stage this step starts from ({sorted(from_stages)}): {states}",
                )
            moves_count: Counter[tuple[str, str]] = Counter()
            targets: dict[str, Position] = {}
            for key, n in per_key.items():
                to = target(positions[key])
                targets[to.key] = to
                moves_count[(key, to.key)] += n
            return len(serials), list(serials), [
                Move(positions[f], targets[t], n) for (f, t), n in sorted(moves_count.items())
            ]
        if quantity is None or quantity <= 0:
            raise InvalidField.one("quantity", "must be > 0 (or name serials)")
        if self.serialized:
            raise InvalidField.one("serials", "this batch is serialized: name the serials that move")
        moves: list[Move] = []
        wanted = quantity
        for key in sorted(self.buckets):
            pos = Position.parse(key)
            if pos.stage not in from_stages or not where(pos):
                continue
            take = min(wanted, self.buckets[key])
            if take:
                moves.append(Move(pos, target(pos), take))
                wanted -= take
            if not wanted:
                break
        if wanted:
            available = quantity - wanted
            raise InvariantViolation(
                f"{action}-quantity",
                f"{quantity} requested but only {available} unit(s) in "
                f"{sorted(from_stages)} can {action}; state {self.describe_state()}",
            )
        return quantity, [], moves

    # -------------------------------------------------------------------------- commands
    @classmethod
    def order(
        cls,
        ctx: Context,
        batch_id: UUID,
        po_number: str,
        supplier_id: UUID,
        buyer_id: UUID,
        model_id: UUID,
        quantity: int,
        unit_price: Decimal,
        currency: str,
        allocation_program: str,
    ) -> GpuBatch:
        violations: list[tuple[str, str]] = []
        if not po_number.strip():
            violations.append(("po_number", "must not be empty"))
        if quantity <= 0:
            violations.append(("quantity", "must be > 0"))
        if unit_price < 0:
            violations.append(("unit_price", "must be >= 0"))
        if len(currency) != 3 or not currency.isupper():
            violations.append(("currency", "must be an ISO 4217 code like USD"))
        if violations:
            raise InvalidField(violations)
        return cls._create(
            cls.Ordered,
            id=batch_id,
            po_number=po_number.strip(),
            supplier_id=supplier_id,
            buyer_id=buyer_id,
            model_id=model_id,
            quantity=quantity,
            unit_price=unit_price,
            currency=currency,
            allocation_program=allocation_program,
            **ctx.event_kwargs(),
        )

    def correct_order(self, ctx: Context, fields: dict[str, Any], reason: str) -> None:
        unknown = sorted(set(fields) - self.AMENDABLE)
        if unknown or not fields:
            raise InvalidField.one(
                "fields", f"correctable: {sorted(self.AMENDABLE)}; got {sorted(fields)}"
            )
        if not reason.strip():
            raise InvalidField.one("reason", "a correction needs a reason")
        self.trigger_event(self.OrderCorrected, fields=dict(fields), reason=reason, **ctx.event_kwargs())

    def request_clearance(
        self,
        ctx: Context,
        authorization_id: UUID | None,
        eccn: str,
        destination_country: str,
        consignee_id: UUID,
        end_user_id: UUID,
        quantity: int,
        end_use: str,
    ) -> None:
        if self.clearance_status in (Clearance.REQUESTED, Clearance.GRANTED):
            raise self._refuse("request_clearance", f"clearance is already {self.clearance_status}")
        if quantity <= 0 or quantity > self.quantity:
            raise InvalidField.one("quantity", f"must be between 1 and the batch quantity {self.quantity}")
        if len(destination_country) != 2 or not destination_country.isupper():
            raise InvalidField.one("destination_country", "must be an ISO 3166-1 alpha-2 code like KR")
        self.trigger_event(
            self.ClearanceRequested,
            authorization_id=authorization_id,
            eccn=eccn,
            destination_country=destination_country,
            consignee_id=consignee_id,
            end_user_id=end_user_id,
            quantity=quantity,
            end_use=end_use,
            **ctx.event_kwargs(),
        )

    def grant_clearance(
        self,
        ctx: Context,
        authorization_id: UUID,
        authorization_number: str,
        eccn: str,
        cleared_quantity: int,
        evidence: dict[str, Any] | None = None,
    ) -> None:
        """Record the registry's decision to clear the batch (rules checked by the caller)."""
        if self.clearance_status != Clearance.REQUESTED:
            raise self._refuse("grant_clearance", "only a requested clearance can be granted")
        if cleared_quantity <= 0 or cleared_quantity > self.quantity:
            raise InvalidField.one(
                "cleared_quantity", f"must be between 1 and the batch quantity {self.quantity}"
            )
        self.trigger_event(
            self.ClearanceGranted,
            authorization_id=authorization_id,
            authorization_number=authorization_number,
            eccn=eccn,
            destination_country=self.clearance["destination_country"],
            consignee_id=self.clearance["consignee_id"],
            end_user_id=self.clearance["end_user_id"],
            cleared_quantity=cleared_quantity,
            evidence=dict(evidence or {}),
            **ctx.event_kwargs(),
        )

    def deny_clearance(self, ctx: Context, rule: str, reason: str) -> None:
        if self.clearance_status != Clearance.REQUESTED:
            raise self._refuse("deny_clearance", "only a requested clearance can be denied")
        if not reason.strip():
            raise InvalidField.one("reason", "a denial states its reason")
        self.trigger_event(self.ClearanceDenied, rule=rule, reason=reason, **ctx.event_kwargs())

    def revoke_clearance(self, ctx: Context, reason: str) -> None:
        if self.clearance_status != Clearance.GRANTED:
            raise self._refuse("revoke_clearance", "only a granted clearance can be revoked")
        if not reason.strip():
            raise InvalidField.one("reason", "a revocation states its reason")
        self.trigger_event(self.ClearanceRevoked, reason=reason, **ctx.event_kwargs())

    def register_serials(self, ctx: Context, serials: Sequence[str], gpu_uuids: Sequence[str]) -> None:
        if self.totals.get("shipped"):
            raise self._refuse(
                "register_serials", "serials are registered before the first shipment"
            )
        if not serials:
            raise InvalidField.one("serials", "at least one serial")
        if len(gpu_uuids) != len(serials):
            raise InvalidField.one("gpu_uuids", "one GPU UUID per serial, in the same order")
        if not all(map(str.strip, serials)):
            blank = next(i for i, s in enumerate(serials) if not s.strip())
            raise InvalidField.one(f"serials[{blank}]", "must not be empty")
        repeated = sorted(s for s, n in Counter(serials).items() if n > 1)
        if repeated:
            raise InvalidField.one("serials", f"each serial at most once; repeated: {repeated[:5]}")
        again = [s for s in serials if s in self.units]
        if again:
            raise InvariantViolation("serial-unique", f"already registered to this batch: {again[:5]}")
        pending = self.units_by_stage()[Stage.PENDING]
        pending_with_serials = sum(1 for u in self.units.values() if u.stage == Stage.PENDING)
        if len(serials) > pending - pending_with_serials:
            raise InvariantViolation(
                "serials-within-quantity",
                f"{len(serials)} new serial(s) but only {pending - pending_with_serials} pending unit(s) "
                f"without a serial (batch quantity {self.quantity}, {len(self.units)} registered)",
            )
        self.trigger_event(
            self.SerialsRegistered,
            serials=list(serials),
            gpu_uuids=list(gpu_uuids),
            **ctx.event_kwargs(),
        )

    def ship(
        self,
        ctx: Context,
        shipment_id: str,
        carrier_id: UUID | None,
        origin: str,
        destination_country: str,
        destination_site_id: UUID | None,
        itn: str,
        quantity: int | None,
        serials: Sequence[str],
        intermediate_consignee_ids: Sequence[UUID] = (),
        forwarder_id: UUID | None = None,
        exporter_id: UUID | None = None,
    ) -> None:
        """Ship units against the clearance. The exporter of record is ``exporter_id``, else the
        batch's supplier (:meth:`exporter_of`)."""
        if self.clearance_status != Clearance.GRANTED:
            raise self._refuse(
                "ship", f"shipping needs a granted export clearance; it is {self.clearance_status}"
            )
        if not shipment_id.strip():
            raise InvalidField.one("shipment_id", "must not be empty")
        if shipment_id in self.shipments:
            raise InvariantViolation("shipment-unique", f"shipment {shipment_id} already recorded")
        count, moved, moves = self._select(
            "ship",
            quantity,
            serials,
            frozenset({Stage.PENDING}),
            lambda p: replace(p, stage=Stage.IN_TRANSIT),
        )
        shipped = self.totals.get("shipped", 0)
        if shipped + count > self.cleared_quantity:
            raise InvariantViolation(
                "ship-within-clearance",
                f"{shipped} shipped + {count} > cleared quantity {self.cleared_quantity}",
            )
        self.trigger_event(
            self.Shipped,
            shipment_id=shipment_id,
            carrier_id=carrier_id,
            origin=origin,
            destination_country=destination_country,
            destination_site_id=destination_site_id,
            itn=itn,
            quantity=count,
            serials=SerialSet(moved),
            moves=moves,
            intermediate_consignee_ids=list(intermediate_consignee_ids),
            forwarder_id=forwarder_id,
            exporter_id=self.exporter_of(exporter_id),
            **ctx.event_kwargs(),
        )

    def exporter_of(self, exporter_id: UUID | None) -> UUID:
        """The exporter of record of a shipment: the one it names, else the batch's supplier."""
        return exporter_id if exporter_id is not None else self.supplier_id

    def receive(
        self,
        ctx: Context,
        shipment_id: str,
        receiving_party_id: UUID,
        site_id: UUID | None,
        quantity: int | None,
        serials: Sequence[str],
        discrepancy_note: str = "",
    ) -> None:
        """Record a delivery (a fact). Serials nobody shipped are kept as a discrepancy."""
        shipment = self.shipments.get(shipment_id)
        if shipment is None:
            raise self._refuse("receive", f"no shipment {shipment_id} on this batch")
        if shipment.shipped_at is not None and ctx.occurred_at < shipment.shipped_at:
            raise InvalidField.one(
                "occurred_at", f"a delivery cannot be dated before its shipment {shipment_id} left "
                f"({shipment.shipped_at.isoformat()}); got {ctx.occurred_at.isoformat()}")
        unexpected: list[str] = []
        expected: list[str] = []
        units = self.units
        in_shipment = set(shipment.serials)
        if serials:
            if in_shipment.issuperset(serials):  # the usual delivery: nothing unexpected
                expected = list(serials)
            else:
                for s in serials:
                    (expected if s in in_shipment else unexpected).append(s)
            already = [s for s in expected if units[s].stage != Stage.IN_TRANSIT]
            if already:
                raise InvariantViolation(
                    "receive-once", f"serial(s) already received or moved on: {already[:5]}"
                )
        count, moved, moves = 0, list[str](), list[Move]()
        if expected or not serials:
            count, moved, moves = self._select(
                "receive",
                None if serials else quantity,
                expected,
                frozenset({Stage.IN_TRANSIT}),
                lambda p: replace(p, stage=Stage.RECEIVED, site=_hex(site_id)),
                where=lambda p: True,
            )
            if not serials and shipment.received + count > shipment.quantity:
                raise InvariantViolation(
                    "received-within-shipped",
                    f"{shipment.received} received + {count} > {shipment.quantity} shipped "
                    f"on shipment {shipment_id}",
                )
        missing: list[str] = []
        if serials:
            got = set(serials)
            if not in_shipment <= got:  # some of the shipment's serials not named: which are missing
                missing = [s for s in shipment.serials if s not in got and units[s].stage == Stage.IN_TRANSIT]
        self.trigger_event(
            self.Received,
            shipment_id=shipment_id,
            receiving_party_id=receiving_party_id,
            site_id=site_id,
            quantity=count,
            serials=SerialSet(moved),
            missing_serials=SerialSet(missing),
            unexpected_serials=SerialSet(unexpected),
            discrepancy_note=discrepancy_note,
            moves=moves,
            **ctx.event_kwargs(),
        )

    def install(
        self,
        ctx: Context,
        site_id: UUID,
        rack: str,
        host: str,
        quantity: int | None,
        serials: Sequence[str],
    ) -> None:
        """Record an installation (a fact). A serial already installed elsewhere is recorded
        as relocated, so a serial seen at two sites is kept and flagged, not refused."""
        site = site_id.hex
        units = self.units
        relocated = [
            s for s in serials
            if (u := units.get(s)) is not None and u.stage in (Stage.INSTALLED, Stage.ASSIGNED)
            and u.site != site
        ]
        if relocated:
            elsewhere = set(relocated)
            fresh = [s for s in serials if s not in elsewhere]
        else:
            fresh = list(serials)
        moves: list[Move] = []
        count = 0
        moved: list[str] = []
        if fresh or not serials:
            count, moved, moves = self._select(
                "install",
                None if serials else quantity,
                fresh,
                frozenset({Stage.RECEIVED}),
                lambda p: replace(p, stage=Stage.INSTALLED, site=site),
            )
        for s in relocated:
            pos = self.units[s].position
            moves.append(Move(pos, replace(pos, site=site), 1))
        self.trigger_event(
            self.Installed,
            site_id=site_id,
            rack=rack,
            host=host,
            quantity=count + len(relocated),
            serials=SerialSet(moved + relocated),
            relocated_serials=SerialSet(relocated),
            moves=moves,
            **ctx.event_kwargs(),
        )

    def assign(
        self,
        ctx: Context,
        assignee_id: UUID,
        purpose: str,
        quantity: int | None,
        serials: Sequence[str],
        site_id: UUID | None = None,
    ) -> None:
        if not purpose.strip():
            raise InvalidField.one("purpose", "state the end use the units are assigned for")
        site = _hex(site_id)
        count, moved, moves = self._select(
            "assign",
            quantity,
            serials,
            frozenset({Stage.INSTALLED, Stage.ASSIGNED}),
            lambda p: replace(p, stage=Stage.ASSIGNED, assignee=assignee_id.hex),
            where=lambda p: not site or p.site == site,
        )
        self.trigger_event(
            self.Assigned,
            assignee_id=assignee_id,
            purpose=purpose,
            quantity=count,
            serials=SerialSet(moved),
            moves=moves,
            **ctx.event_kwargs(),
        )

    def transfer(
        self,
        ctx: Context,
        to_owner_id: UUID,
        to_site_id: UUID | None,
        to_site_country: str | None,
        reason: str,
        quantity: int | None,
        serials: Sequence[str],
    ) -> None:
        """Transfer ownership in-country; assigned units come back unassigned to the new owner.
        Units moved to another site (``to_site_id``) are received there, out of their rack and
        host at the old one (installing them at the new site is an installation)."""
        if to_site_country is not None and to_site_country != self.destination_country:
            raise ComplianceRefusal(
                "in-country-transfer",
                f"site country {to_site_country} differs from the cleared destination "
                f"{self.destination_country or '(none)'}; a reexport needs its own authorization",
                facts={"batch_id": str(self.id), "site_country": to_site_country,
                       "cleared_destination": self.destination_country or "", "to_owner_id": str(to_owner_id)},
            )

        def target(p: Position) -> Position:
            stage = Stage.INSTALLED if p.stage == Stage.ASSIGNED else p.stage
            site = _hex(to_site_id) if to_site_id is not None else p.site
            if site != p.site:  # moved to another site: received there, in no rack yet
                stage = Stage.RECEIVED
            return Position(stage, site, to_owner_id.hex, "")

        count, moved, moves = self._select(
            "transfer", quantity, serials, AT_SITE, target
        )
        self.trigger_event(
            self.Transferred,
            to_owner_id=to_owner_id,
            to_site_id=to_site_id,
            reason=reason,
            quantity=count,
            serials=SerialSet(moved),
            moves=moves,
            **ctx.event_kwargs(),
        )

    def return_for_rma(
        self, ctx: Context, rma_number: str, reason: str, quantity: int | None, serials: Sequence[str]
    ) -> None:
        if not rma_number.strip():
            raise InvalidField.one("rma_number", "must not be empty")
        count, moved, moves = self._select(
            "return_for_rma", quantity, serials, AT_SITE,
            lambda p: Position(Stage.RMA, "", p.owner, ""),
        )
        self.trigger_event(
            self.ReturnedForRma, rma_number=rma_number, reason=reason, quantity=count,
            serials=SerialSet(moved), moves=moves, **ctx.event_kwargs(),
        )

    def repair(
        self, ctx: Context, kind: str, rma_number: str, site_id: UUID | None, note: str, quantity: int | None,
        serials: Sequence[str],
    ) -> None:
        """Record a repair. ``from_rma``: units under an RMA come back repaired and are received
        at ``site_id`` (required) by their owner, as received units (installed again by an
        installation). ``on_site``: units at a site (received, installed or assigned) repaired
        in place; they keep their position, and with ``site_id`` they must be at that site."""
        if kind not in REPAIR_KINDS:
            raise InvalidField.one("kind", f"must be one of {sorted(REPAIR_KINDS)}")
        if kind == "from_rma":
            if site_id is None:
                raise InvalidField.one("site_id", "units back from an RMA are received at a site: name it")
            site = _hex(site_id)
            count, moved, moves = self._select(
                "repair", quantity, serials, frozenset({Stage.RMA.value}),
                lambda p: Position(Stage.RECEIVED, site, p.owner, ""),
            )
        else:
            at = _hex(site_id)
            elsewhere = [s for s in serials if site_id is not None and (u := self.units.get(s)) is not None
                         and u.stage in AT_SITE and u.site != at]
            if elsewhere:
                raise self._refuse(
                    "repair", f"site_id: an on-site repair at site {site_id} names serial(s) at another site: "
                    f"{sorted(elsewhere)[:5]}")
            count, moved, moves = self._select(
                "repair", quantity, serials, frozenset(s.value for s in AT_SITE), lambda p: p,
                (lambda p: p.site == at) if site_id is not None else (lambda p: True),
            )
            sites = {m.source.site for m in moves} - {""}
            if site_id is None and len(sites) == 1:
                site_id = UUID(sites.pop())
        self.trigger_event(
            self.Repaired, kind=kind, rma_number=rma_number, site_id=site_id, note=note, quantity=count,
            serials=SerialSet(moved), moves=moves, **ctx.event_kwargs(),
        )

    def declare_error(self, ctx: Context, event_id: str, reason: str, corrective_event_ids: Sequence[str]) -> None:
        """Record that an earlier event of this batch (its EPCIS eventID) is in error. Which event
        that is, and who may declare it, is the interface's (the capture finds the batch by the
        eventID); the rules here are on the declaration itself."""
        if not event_id.strip() or ":" not in event_id:
            raise InvalidField.one("event_id", "the eventID (a URI) of the event declared in error")
        if reason and reason not in ERROR_REASONS and ":" not in reason:
            raise InvalidField.one("reason", f"one of {sorted(ERROR_REASONS)} or a URI of your own vocabulary")
        if any(not i.strip() or ":" not in i for i in corrective_event_ids):
            raise InvalidField.one("corrective_event_ids", "each an eventID (a URI)")
        if event_id in corrective_event_ids:
            raise InvalidField.one("corrective_event_ids", "an event does not correct itself")
        self.trigger_event(
            self.ErrorDeclared, event_id=event_id, reason=reason, corrective_event_ids=list(corrective_event_ids),
            **ctx.event_kwargs(),
        )

    def report_lost(
        self, ctx: Context, kind: str, note: str, quantity: int | None, serials: Sequence[str]
    ) -> None:
        if kind not in ("lost", "stolen"):
            raise InvalidField.one("kind", "must be 'lost' or 'stolen'")
        live = frozenset(s.value for s in Stage if s not in (Stage.LOST, Stage.DECOMMISSIONED))
        count, moved, moves = self._select(
            "report_lost", quantity, serials, live,
            lambda p: Position(Stage.LOST, p.site, p.owner, ""),
        )
        self.trigger_event(
            self.ReportedLost, kind=kind, note=note, quantity=count, serials=SerialSet(moved),
            moves=moves, **ctx.event_kwargs(),
        )

    def record_onward_movement(
        self, ctx: Context, kind: str, country: str, place: str, note: str, quantity: int | None,
        serials: Sequence[str], recipient_id: UUID | None = None,
    ) -> None:
        """Record a known reexport, transshipment or diversion of exported units (units that have
        left the exporter: shipped, and not back as pending). Only a fact after the export: the
        units named or counted must have been shipped (not pending)."""
        if kind not in ONWARD_KINDS:
            raise InvalidField.one("kind", f"must be one of {sorted(ONWARD_KINDS)}")
        country_code("country", country)
        if not self.totals.get("shipped"):
            raise self._refuse("record_onward_movement",
                               "nothing of the batch was exported: a reexport, transshipment or diversion "
                               "follows an export")
        exported = frozenset(s.value for s in Stage if s != Stage.PENDING)
        count, named, _moves = self._select("record_onward_movement", quantity, serials, exported, lambda p: p)
        self.trigger_event(
            self.OnwardMovementRecorded, kind=kind, country=country, place=place.strip(), note=note.strip(),
            quantity=count, serials=SerialSet(named), recipient_id=recipient_id, **ctx.event_kwargs(),
        )

    def decommission(
        self, ctx: Context, method: str, quantity: int | None, serials: Sequence[str]
    ) -> None:
        count, moved, moves = self._select(
            "decommission", quantity, serials, AT_SITE | {Stage.RMA},
            lambda p: Position(Stage.DECOMMISSIONED, p.site, p.owner, ""),
        )
        self.trigger_event(
            self.Decommissioned, method=method, quantity=count, serials=SerialSet(moved),
            moves=moves, **ctx.event_kwargs(),
        )

    def split(
        self, ctx: Context, child_id: UUID, quantity: int | None, serials: Sequence[str]
    ) -> GpuBatch:
        """Split pending units into a new child batch; the child takes its share of clearance."""
        count, moved, moves = self._select(
            "split", quantity, serials, frozenset({Stage.PENDING}),
            lambda p: SPLIT_OUT,
        )
        if count >= self.quantity:
            raise InvariantViolation("split-leaves-parent", "a split must leave units in the parent")
        unshipped_clearance = max(self.cleared_quantity - self.totals.get("shipped", 0), 0)
        cleared_share = min(count, unshipped_clearance)
        gpu_uuids = [self.units[s].gpu_uuid for s in moved]
        child = GpuBatch._create(
            GpuBatch.SplitFrom,
            id=child_id,
            parent_id=self.id,
            po_number=self.po_number,
            supplier_id=self.supplier_id,
            buyer_id=self.buyer_id,
            model_id=self.model_id,
            quantity=count,
            unit_price=self.unit_price,
            currency=self.currency,
            allocation_program=self.allocation_program,
            clearance_status=self.clearance_status,
            clearance={**self.clearance, "cleared_quantity": cleared_share} if self.clearance else {},
            serials=moved,
            gpu_uuids=gpu_uuids,
            **ctx.event_kwargs(),
        )
        self.trigger_event(
            self.SplitOff, child_id=child_id, quantity=count, serials=SerialSet(moved),
            cleared_quantity=cleared_share, moves=moves, **ctx.event_kwargs(),
        )
        return child
