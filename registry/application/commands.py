"""Validated commands: one pydantic model per use case.

Interfaces (gRPC, CLI, tests) build these from their input with :func:`parse`; a malformed field
becomes :class:`~registry.domain.errors.InvalidField` naming the field and the rule, before
anything is loaded or written. Business rules that need state live in the domain.
"""

from __future__ import annotations

import json
import types
import typing
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar
from uuid import UUID

import orjson
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from registry.domain.claims import normalise_serial, normalise_serials
from registry.domain.errors import InvalidField

Country = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=400)]
SerialText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Serial = Annotated[SerialText, AfterValidator(normalise_serial)]
#: A list of serials: each checked as a ``Serial`` is, then normalised in one pass over the list
#: (a validator called per serial cost more than the normalising; the rules are the same).
Serials = Annotated[list[SerialText], AfterValidator(normalise_serials)]
Quantity = Annotated[int, Field(gt=0, le=10_000_000)]
Money = Annotated[Decimal, Field(ge=0, max_digits=20, decimal_places=6)]


class Command(BaseModel):
    """Fields every command carries.

    ``request_id`` makes a retry safe (AIP-155): the same id returns the first result and writes
    nothing. ``expected_version`` is optimistic concurrency: the command is refused when the
    aggregate is not at that version (0 means "must not exist yet"). ``occurred_at`` is the
    business time of the fact; it defaults to the time the registry receives the command.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    request_id: Annotated[str, StringConstraints(max_length=200)] = ""
    expected_version: Annotated[int, Field(ge=0)] | None = None
    occurred_at: AwareDatetime | None = None
    #: The EPCIS event this command was captured from, in the canonical form of
    #: :func:`registry.epcis.captured.canonical` ('' for a command of the registry's own API). Kept
    #: on the request record so a query returns the event as captured (EPCIS 2.0 section 8.2);
    #: not part of the fingerprint (the eventID is the request id, its command the content).
    epcis_event: Annotated[str, StringConstraints(max_length=4_000_000)] = ""

    def fingerprint_payload(self) -> str:
        """The command's content, canonical: keys sorted at every level, so a map field sent in
        another order (protobuf maps have none) is the same request (:func:`canonical_json`)."""
        return canonical_json(self._fingerprinted(), _float_free(type(self)))

    def _fingerprinted(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude={"request_id", "expected_version", "epcis_event"})


class MovementCommand(Command):
    """A command that moves units: by naming serials, or by quantity for unserialized batches."""

    batch_id: UUID
    quantity: Quantity | None = None
    serials: Serials = Field(default_factory=list, max_length=100_000)

    @model_validator(mode="after")
    def _quantity_or_serials(self) -> MovementCommand:
        if self.quantity is None and not self.serials:
            raise ValueError("name the serials that move, or give a quantity")
        return self


# ------------------------------------------------------------------------ reference data
class RegisterParty(Command):
    party_id: UUID | None = None
    name: Name
    country: Country
    roles: list[str] = Field(min_length=1)
    headquarters_country: Country  # the party's own headquarters
    ultimate_parent_id: UUID | None = None  # its ultimate parent, when known
    address: Text = ""
    immediate_parent_id: UUID | None = None  # its direct owner
    # BIS diversion red-flag facts (13 May 2025 guidance); "" = not known (raises no flag).
    address_type: Literal["", "commercial", "residential", "vague"] = ""
    online_presence: Literal["", "established", "little"] = ""
    forwarder_standing: Literal["", "usual", "unusual"] = ""


class RegisterSite(Command):
    site_id: UUID | None = None
    name: Name
    operator_id: UUID
    country: Country
    address: Text = ""
    power_capacity_kw: Annotated[Decimal, Field(ge=0)]


class RegisterGpuModel(Command):
    model_id: UUID | None = None
    vendor: Name
    name: Name
    part_number: Text = ""
    dense_tops: dict[str, Annotated[Decimal, Field(ge=0)]] = Field(min_length=1)
    bit_lengths: dict[str, Annotated[int, Field(gt=0, le=128)]] = Field(min_length=1)
    die_area_mm2: Annotated[Decimal, Field(ge=0)]
    datacenter_marketed: bool
    tdp_watts: Annotated[int, Field(ge=0)]
    gpus_per_unit: Annotated[int, Field(ge=1)] = 1


class RegisterAuthorization(Command):
    authorization_id: UUID | None = None
    auth_type: Literal["license", "license_exception", "no_license_required"]
    number: Text = ""
    exception_code: Text = ""
    eccns: list[Annotated[str, StringConstraints(pattern=r"^[0-9][A-E][0-9]{3}(\.[a-z0-9.]+)?$")]]
    destination_countries: list[Country] = Field(min_length=1)
    consignee_ids: list[UUID] = Field(default_factory=list)
    # The intermediate consignees a license names apart from its ultimate consignees.
    intermediate_consignee_ids: list[UUID] = Field(default_factory=list, max_length=32)
    end_user_ids: list[UUID] = Field(default_factory=list)
    quantity_limit: Annotated[int, Field(ge=0)] | None = None
    value_limit: Money | None = None
    currency: Currency = "USD"
    valid_from: AwareDatetime
    valid_to: AwareDatetime | None = None


class AmendReference(Command):
    """Correct a reference aggregate (party, site, GPU model, authorization) with a new event."""

    kind: Literal["party", "site", "gpu_model", "authorization"]
    target_id: UUID
    fields: dict[str, Any] = Field(min_length=1)
    reason: Name


# ---------------------------------------------------------------------------- batches
class PlaceOrder(Command):
    batch_id: UUID | None = None
    po_number: Name
    supplier_id: UUID
    buyer_id: UUID
    model_id: UUID
    quantity: Quantity
    unit_price: Money
    currency: Currency
    allocation_program: Text = ""


class CorrectOrder(Command):
    batch_id: UUID
    po_number: Name | None = None
    unit_price: Money | None = None
    currency: Currency | None = None
    allocation_program: Text | None = None
    reason: Name

    def changes(self) -> dict[str, Any]:
        return {
            k: getattr(self, k)
            for k in ("po_number", "unit_price", "currency", "allocation_program")
            if getattr(self, k) is not None
        }


class RequestClearance(Command):
    batch_id: UUID
    authorization_id: UUID | None = None
    eccn: Annotated[str, StringConstraints(pattern=r"^[0-9][A-E][0-9]{3}(\.[a-z0-9.]+)?$")]
    destination_country: Country
    consignee_id: UUID
    end_user_id: UUID
    quantity: Quantity
    end_use: Text = ""


class GrantClearance(Command):
    batch_id: UUID
    authorization_id: UUID
    cleared_quantity: Quantity | None = None


class DenyClearance(Command):
    batch_id: UUID
    rule: Text = "officer-decision"
    reason: Name


class RevokeClearance(Command):
    batch_id: UUID
    reason: Name


class UnitIdentity(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    serial: Serial
    gpu_uuid: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)] = ""


class RegisterSerials(Command):
    batch_id: UUID
    units: list[UnitIdentity] = Field(min_length=1, max_length=100_000)

    def _fingerprinted(self) -> dict[str, Any]:
        # The same content as the generic dump (a unit's two fields are plain strings), built
        # directly: dumping thousands of unit models cost more than the rest of the command's
        # validation.
        data = self.model_dump(mode="json", exclude={"request_id", "expected_version", "units"})
        data["units"] = [{"serial": u.serial, "gpu_uuid": u.gpu_uuid} for u in self.units]
        return data


class Ship(MovementCommand):
    shipment_id: Name
    carrier_id: UUID | None = None
    # Who takes possession between the exporter and the ultimate consignee, in order (screened,
    # and under the headquarters rule), and the freight forwarder (screened).
    intermediate_consignee_ids: list[UUID] = Field(default_factory=list, max_length=8)
    forwarder_id: UUID | None = None
    # The exporter of record (screened); the batch's supplier when not given.
    exporter_id: UUID | None = None
    origin: Text = ""
    destination_country: Country
    destination_site_id: UUID | None = None
    itn: Annotated[str, StringConstraints(strip_whitespace=True, max_length=32)] = ""


class Receive(MovementCommand):
    shipment_id: Name
    receiving_party_id: UUID
    site_id: UUID | None = None
    discrepancy_note: Text = ""


class Placement(BaseModel):
    """Where some units of an installation report went: one rack or host."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rack: Text = ""
    host: Text = ""
    serials: Serials = Field(min_length=1, max_length=100_000)


class Install(MovementCommand):
    """One rack or host (``serials``/``quantity`` with ``rack`` and ``host``), or a whole
    installation report (``placements``: one per rack), recorded in one atomic write.

    A data centre reports an installation per delivery, not per rack: sending the report as one
    command costs one request record, one load and one write instead of one per rack.
    """

    site_id: UUID
    rack: Text = ""
    host: Text = ""
    placements: list[Placement] = Field(default_factory=list, max_length=10_000)

    @field_validator("placements")
    @classmethod
    def _placements_alone(cls, placements: list[Placement], info: ValidationInfo) -> list[Placement]:
        if not placements:
            return placements
        other = info.data
        if other.get("quantity") is not None or other.get("serials") or other.get("rack") or other.get("host"):
            raise ValueError("give either placements, or serials/quantity with rack and host; not both")
        seen: set[str] = set()
        for p in placements:
            again = [s for s in p.serials if s in seen]
            if again:
                raise ValueError(f"each serial in at most one placement; repeated: {again[:5]}")
            seen.update(p.serials)
        return placements

    @model_validator(mode="after")
    def _quantity_or_serials(self) -> Install:  # MovementCommand's rule, unless placements
        if not self.placements and self.quantity is None and not self.serials:
            raise ValueError("name the serials that move, give a quantity, or give placements")
        return self

    def _fingerprinted(self) -> dict[str, Any]:
        # Installations recorded before placements existed keep their fingerprint.
        data = super()._fingerprinted()
        if not data.get("placements"):
            data.pop("placements", None)
        return data


class Assign(MovementCommand):
    assignee_id: UUID
    purpose: Name
    site_id: UUID | None = None


class Transfer(MovementCommand):
    to_owner_id: UUID
    to_site_id: UUID | None = None
    reason: Name


class ReturnForRma(MovementCommand):
    rma_number: Name
    reason: Text = ""


class Repair(MovementCommand):
    """Units repaired (:meth:`registry.domain.batch.GpuBatch.repair`): ``from_rma`` from an RMA
    and received at ``site_id``, or ``on_site`` where they are."""

    kind: Literal["from_rma", "on_site"]
    rma_number: Text = ""
    site_id: UUID | None = None
    note: Text = ""


class DeclareError(Command):
    """An earlier event of the batch declared in error
    (:meth:`registry.domain.batch.GpuBatch.declare_error`); ``occurred_at`` is the declaration time."""

    batch_id: UUID
    event_id: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    reason: Text = ""
    corrective_event_ids: list[Annotated[str, StringConstraints(min_length=1, max_length=200)]] = []


class ReportLost(MovementCommand):
    kind: Literal["lost", "stolen"]
    note: Text = ""


class Decommission(MovementCommand):
    method: Text = ""


class RecordOnwardMovement(MovementCommand):
    """A known reexport, transshipment or diversion of exported units (15 CFR 762.6): where
    (``country``, ``place``), when (``occurred_at``, the time it happened) and, when known, to
    whom (``recipient_id``: held to the headquarters rule by the compliance projection)."""

    kind: Literal["reexport", "transshipment", "diversion"]
    country: Country
    place: Text = ""
    note: Text = ""
    recipient_id: UUID | None = None  # the party the units went to, when known


class SplitBatch(MovementCommand):
    child_batch_id: UUID | None = None


def canonical_json(data: Any, float_free: bool = False) -> str:
    """``json.dumps(data, sort_keys=True, separators=(",", ":"))``: the text a request's fingerprint
    is the hash of (stored in its request record, so it never changes).

    ``float_free`` (no float can be in ``data``: :func:`_float_free`) lets orjson make it, in C
    (a movement names hundreds of serials: the standard encoder's Python layer cost more than
    the rest of the fingerprint), and its text is kept when it is the same as the standard one's:
    all ASCII with nothing escaped (orjson writes other characters as they are where ``json``
    escapes them, DEL included), and every key a string (orjson refuses other keys, and integers
    beyond 64 bits: then ``json`` makes it). Floats are the one value the two write differently
    (``1e+16`` / ``1e16``, ``NaN`` / ``null``), hence ``float_free``."""
    if float_free:
        try:
            raw = orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
        except TypeError:
            pass
        else:
            if raw.isascii() and b"\\" not in raw and b"\x7f" not in raw:
                return raw.decode("ascii")
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


_FLOAT_FREE: dict[Any, bool] = {}
#: values whose JSON-mode dump is a string, an integer, a boolean or null: never a float
_SCALARS = (str, int, bool, type(None), UUID, datetime, date, Decimal, AwareDatetime)


def _float_free(annotation: Any) -> bool:
    """Whether no value of ``annotation`` dumps (``model_dump(mode="json")``) to a JSON float: made
    of strings, integers, booleans, UUIDs, times, decimals, literals, lists, string-keyed dicts
    and models of those. Anything else (``float``, ``Any``, an unknown type) counts as a float."""
    if annotation in _FLOAT_FREE:
        return _FLOAT_FREE[annotation]
    _FLOAT_FREE[annotation] = False  # a model that contains itself: not proven
    found = _float_free_uncached(annotation)
    _FLOAT_FREE[annotation] = found
    return found


def _float_free_uncached(annotation: Any) -> bool:
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return all(_float_free(f.annotation) for f in annotation.model_fields.values())
        return issubclass(annotation, _SCALARS) and not issubclass(annotation, float)
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is Annotated:
        return _float_free(args[0])
    if origin is Literal:
        return all(isinstance(a, (str, int, bool, type(None))) and not isinstance(a, float) for a in args)
    if origin in (typing.Union, types.UnionType, list, tuple, set, frozenset):
        return all(a is Ellipsis or _float_free(a) for a in args)
    if origin is dict:
        return len(args) == 2 and args[0] is str and _float_free(args[1])
    return False


T = TypeVar("T", bound=BaseModel)


def parse(model: type[T], data: dict[str, Any]) -> T:
    """Build a command, turning pydantic's errors into one InvalidField naming each field."""
    try:
        return model.model_validate(data)
    except ValidationError as e:
        violations = []
        for err in e.errors():
            field = ".".join(str(p) for p in err["loc"]) or "(command)"
            violations.append((field, err["msg"]))
        raise InvalidField(violations) from None


# How far ahead of the registry's clock a command's occurred_at may be by default: the clock skew
# allowed between a client and the server. A fact later than that has not happened yet.
MAX_CLOCK_SKEW = timedelta(minutes=5)


def when(command: Command, now: datetime, max_ahead: timedelta = MAX_CLOCK_SKEW) -> datetime:
    """The business time of ``command``: its ``occurred_at``, else ``now`` (the registry's clock).
    An ``occurred_at`` more than ``max_ahead`` after ``now`` is refused (InvalidField)."""
    if command.occurred_at is None:
        return now
    if command.occurred_at > now + max_ahead:
        raise InvalidField.one(
            "occurred_at",
            f"must not be in the future: {command.occurred_at.isoformat()} is more than "
            f"{max_ahead.total_seconds():g} s (the clock skew allowed) after the registry's time "
            f"{now.isoformat()}",
        )
    return command.occurred_at
