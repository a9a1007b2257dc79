"""Translation between protobuf messages and the registry's commands, aggregates and events.

Requests become plain dicts that :func:`registry.application.commands.parse` validates, so a bad
field is reported by the same rules whatever the interface. The proto3 wire format cannot tell
"unset" from "empty", so the rules are:

* fields with presence (``optional`` scalars, messages) are passed only when set;
* an empty string is "not given" (the command's default applies, or the field is required);
* numbers and booleans are always passed (0 is a value: ``quantity: 0`` is refused as 0);
* enums pass their value name without the type prefix (``LOSS_KIND_STOLEN`` -> ``stolen``);
  the zero ``*_UNSPECIFIED`` value is "not given";
* repeated fields and maps are always passed (possibly empty);
* a Timestamp becomes an aware UTC datetime, a Struct a dict.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from functools import cache
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.utils import get_topic
from google.protobuf import struct_pb2
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from registry.api.v1 import resources_pb2 as pb
from registry.domain.base import RegistryAggregate
from registry.domain.batch import GpuBatch, Move, Position
from registry.domain.claims import RequestRecord
from registry.domain.errors import InvalidField
from registry.domain.host_agent import HostAgent
from registry.domain.reference import ExportAuthorization, GpuModel, Party, Site
from registry.domain.screening import ScreeningCase, ScreeningList, ScreeningLists
from registry.domain.serials import SerialSet

MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 100

# ---------------------------------------------------------------------------------- requests


def _enum_prefix(enum_name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", enum_name).upper() + "_"


def _timestamp_value(ts: Timestamp, field: str) -> datetime:
    try:
        return ts.ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError):
        raise InvalidField.one(field, "not a valid timestamp (years 1 to 9999)") from None


def request_time(ts: Timestamp, field: str) -> datetime:
    """A request's Timestamp as an aware UTC datetime; InvalidField naming ``field`` when it is out
    of range (years 1 to 9999) or its nanos are not 0 to 999,999,999."""
    return _timestamp_value(ts, field)


def _scalar(fd: Any, value: Any, field: str) -> Any:
    """A scalar field's value; enums by name. ``fd`` is a FieldDescriptor (pure or upb)."""
    enum_type = fd.enum_type
    if enum_type is not None:
        enum_value = enum_type.values_by_number.get(value)
        if enum_value is None:
            raise InvalidField.one(field, f"unknown {enum_type.name} value {value}")
        return enum_value.name.removeprefix(_enum_prefix(enum_type.name)).lower()
    return value


def _message_value(value: Message, field: str) -> Any:
    name = value.DESCRIPTOR.full_name
    if name == "google.protobuf.Timestamp":
        assert isinstance(value, Timestamp)
        return _timestamp_value(value, field)
    if name in ("google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue"):
        return _json_value(value, field)
    return request_data(value, prefix=f"{field}.")


def _json_value(value: Message, field: str) -> Any:
    """A Struct, Value or ListValue as plain JSON data. JSON has no NaN or Infinity (RFC 8259
    section 6), so a ``number_value`` that is not finite is refused, naming where it is."""
    if isinstance(value, struct_pb2.Struct):
        return {k: _json_value(v, f"{field}.{k}") for k, v in value.fields.items()}
    if isinstance(value, struct_pb2.ListValue):
        return [_json_value(v, f"{field}[{i}]") for i, v in enumerate(value.values)]
    assert isinstance(value, struct_pb2.Value)
    kind = value.WhichOneof("kind")
    if kind == "number_value":
        number = value.number_value
        if not math.isfinite(number):
            raise InvalidField.one(field, f"must be a finite number (JSON has no {number})")
        return number
    if kind == "struct_value":
        return _json_value(value.struct_value, field)
    if kind == "list_value":
        return _json_value(value.list_value, field)
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    return None  # null_value, or no kind set


def request_data(message: Message, prefix: str = "") -> dict[str, Any]:
    """The fields of a request as a dict for ``commands.parse`` (see the module's rules)."""
    data: dict[str, Any] = {}
    for name, kind, fd in _plan(message.DESCRIPTOR):
        value = getattr(message, name)
        if kind is _Kind.PLAIN:
            data[name] = value
        elif kind is _Kind.STRING:
            if value != "":
                data[name] = value
        elif kind is _Kind.REPEATED_PLAIN:
            data[name] = list(value)  # strings, numbers, booleans: nothing to convert
        elif kind is _Kind.REPEATED_FLAT:
            data[name] = _flat_items(fd.message_type, value)
        elif kind is _Kind.REPEATED_MESSAGE:
            field = prefix + name
            data[name] = [_message_value(v, f"{field}[{i}]") for i, v in enumerate(value)]
        elif kind is _Kind.REPEATED_ENUM:
            field = prefix + name
            data[name] = [_scalar(fd, v, f"{field}[{i}]") for i, v in enumerate(value)]
        elif kind is _Kind.MESSAGE:
            if message.HasField(name):
                data[name] = _message_value(value, prefix + name)
        elif kind is _Kind.PRESENCE:
            if message.HasField(name):
                data[name] = _scalar(fd, value, prefix + name)
        elif kind is _Kind.ENUM:
            if value != 0:
                data[name] = _scalar(fd, value, prefix + name)
        else:  # a map
            field = prefix + name
            value_fd = fd.message_type.fields_by_name["value"]
            if kind is _Kind.MAP_OF_MESSAGES:
                data[name] = {k: _message_value(v, f"{field}.{k}") for k, v in value.items()}
            else:
                data[name] = {k: _scalar(value_fd, v, f"{field}.{k}") for k, v in value.items()}
    return data


class _Kind(Enum):
    """How :func:`request_data` reads a field (decided once per message type, see :func:`_plan`)."""

    PLAIN = "a number or boolean: always passed"
    STRING = "a string without presence: passed unless empty"
    ENUM = "an enum without presence: its value name, unless the zero value"
    PRESENCE = "a scalar with presence: passed when set"
    MESSAGE = "a message: passed when set"
    REPEATED_PLAIN = "repeated strings, numbers or booleans: the values as they are"
    REPEATED_ENUM = "repeated enums: each value's name"
    REPEATED_FLAT = "repeated messages of plain string fields: a dict each, built directly"
    REPEATED_MESSAGE = "repeated messages"
    MAP_OF_MESSAGES = "a map whose values are messages"
    MAP_OF_SCALARS = "a map whose values are scalars"


@cache
def _plan(descriptor: Any) -> tuple[tuple[str, _Kind, Any], ...]:
    """Each field of a message type with the way it is read. Deciding this per field of every
    request cost more than reading it: a registration's thousands of (serial, GPU UUID) pairs
    each asked their descriptor the same questions."""
    plan = []
    for fd in descriptor.fields:
        if fd.message_type is not None and fd.message_type.GetOptions().map_entry:
            value_fd = fd.message_type.fields_by_name["value"]
            kind = _Kind.MAP_OF_MESSAGES if value_fd.message_type is not None else _Kind.MAP_OF_SCALARS
        elif fd.is_repeated:
            if fd.message_type is not None:
                kind = _Kind.REPEATED_FLAT if _is_flat(fd.message_type) else _Kind.REPEATED_MESSAGE
            else:
                kind = _Kind.REPEATED_ENUM if fd.enum_type is not None else _Kind.REPEATED_PLAIN
        elif fd.message_type is not None:
            kind = _Kind.MESSAGE
        elif fd.has_presence:
            kind = _Kind.PRESENCE
        elif fd.type == FieldDescriptor.TYPE_STRING:
            kind = _Kind.STRING
        elif fd.type == FieldDescriptor.TYPE_ENUM:
            kind = _Kind.ENUM
        else:
            kind = _Kind.PLAIN
        plan.append((fd.name, kind, fd))
    return tuple(plan)


def _is_flat(descriptor: Any) -> bool:
    """Two or more fields, every one a plain string (no presence, not repeated): such a message
    reads as a dict of its non-empty strings, exactly what :func:`request_data` would make."""
    fields = descriptor.fields
    return len(fields) >= 2 and all(
        fd.type == FieldDescriptor.TYPE_STRING and not fd.is_repeated and not fd.has_presence
        for fd in fields
    )


@cache
def _flat_reader(descriptor: Any) -> tuple[tuple[str, ...], Callable[[Message], tuple[str, ...]]]:
    names = tuple(fd.name for fd in descriptor.fields)
    return names, operator.attrgetter(*names)


def _flat_items(descriptor: Any, messages: Iterable[Message]) -> list[dict[str, Any]]:
    """``request_data`` of each message of a flat type (:func:`_is_flat`): an empty string is
    "not given", so it is left out."""
    names, read = _flat_reader(descriptor)
    items: list[dict[str, Any]] = []
    for m in messages:
        values = read(m)
        if "" in values:
            items.append({k: v for k, v in zip(names, values, strict=True) if v != ""})
        else:
            items.append(dict(zip(names, values, strict=True)))
    return items


def parse_uuid(field: str, value: str) -> UUID | None:
    """An optional id: empty is None, anything else must be a UUID."""
    if not value:
        return None
    try:
        return UUID(value)
    except ValueError:
        raise InvalidField.one(field, "must be a UUID like 0b6c1b9e-8a0f-4c1e-9f61-2a5d1f0c9e3a") from None


def require_uuid(field: str, value: str) -> UUID:
    ident = parse_uuid(field, value)
    if ident is None:
        raise InvalidField.one(field, "required: a UUID")
    return ident


def page_size(value: int, field: str = "page_size") -> int:
    """AIP-158: negative is refused, 0 is the default, too large is reduced to the maximum."""
    if value < 0:
        raise InvalidField.one(field, "must be >= 0")
    return min(value or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def encode_page_token(state: Mapping[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(dict(state), sort_keys=True).encode()).decode()


def decode_page_token(token: str, field: str = "page_token") -> dict[str, Any]:
    try:
        state = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidField.one(field, "not a token this server issued") from None
    if not isinstance(state, dict):
        raise InvalidField.one(field, "not a token this server issued")
    return state


# ------------------------------------------------------------------------------ responses


def timestamp(when: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(when)
    return ts


def _uuid_text(value: object) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, UUID):
        return str(value)
    try:
        return str(UUID(str(value)))
    except ValueError:
        return str(value)


def batch_message(batch: GpuBatch) -> pb.Batch:
    """A batch's full state as the API shows it (ids as canonical UUID text)."""
    clearance = batch.clearance or {}
    positions = []
    for key, count in sorted(batch.buckets.items()):
        stage, site, owner, assignee = key.split("|")
        positions.append(pb.PositionCount(
            stage=stage, site_id=_uuid_text(site), owner_id=_uuid_text(owner),
            assignee_id=_uuid_text(assignee), count=count))
    units = [
        pb.Unit(serial=u.serial, gpu_uuid=u.gpu_uuid, stage=u.stage, site_id=_uuid_text(u.site),
                owner_id=_uuid_text(u.owner), assignee_id=_uuid_text(u.assignee),
                shipment_id=u.shipment_id, rack=u.rack, host=u.host)
        for u in batch.units.values()
    ]
    shipments = [
        pb.Shipment(shipment_id=s.shipment_id, quantity=s.quantity, serials=list(s.serials),
                    carrier_id=_uuid_text(s.carrier_id), origin=s.origin,
                    destination_country=s.destination_country,
                    destination_site_id=_uuid_text(s.destination_site_id), itn=s.itn,
                    received=s.received,
                    intermediate_consignee_ids=[str(p) for p in s.intermediate_consignee_ids],
                    forwarder_id=_uuid_text(s.forwarder_id), exporter_id=_uuid_text(s.exporter_id))
        for s in batch.shipments.values()
    ]
    return pb.Batch(
        batch_id=str(batch.id),
        version=batch.version,
        stage=batch.stage,
        po_number=batch.po_number,
        supplier_id=str(batch.supplier_id),
        buyer_id=str(batch.buyer_id),
        model_id=str(batch.model_id),
        quantity=batch.quantity,
        unit_price=str(batch.unit_price),
        currency=batch.currency,
        allocation_program=batch.allocation_program,
        parent_batch_id=_uuid_text(batch.parent_id),
        child_batch_ids=[str(c) for c in batch.children],
        clearance=pb.Clearance(
            status=str(batch.clearance_status),
            authorization_id=_uuid_text(clearance.get("authorization_id")),
            authorization_number=str(clearance.get("authorization_number", "")),
            eccn=str(clearance.get("eccn", "")),
            destination_country=str(clearance.get("destination_country", "")),
            consignee_id=_uuid_text(clearance.get("consignee_id")),
            end_user_id=_uuid_text(clearance.get("end_user_id")),
            requested_quantity=int(clearance.get("requested_quantity", 0)),
            cleared_quantity=int(clearance.get("cleared_quantity", 0)),
            end_use=str(clearance.get("end_use", "")),
        ),
        units_by_stage=batch.units_by_stage(),
        positions=positions,
        units=units,
        shipments=shipments,
        totals=dict(batch.totals),
        allowed_actions=batch.allowed_actions(),
        create_time=timestamp(batch.created_on),
        update_time=timestamp(batch.modified_on),
    )


# --------------------------------------------------------------------------------- events

EVENT_ENVELOPE = frozenset(
    {"originator_id", "originator_version", "timestamp", "originator_topic", "actor",
     "request_id", "occurred_at"}
)
_AGGREGATES: tuple[type[RegistryAggregate], ...] = (
    GpuBatch, Party, Site, GpuModel, ExportAuthorization, RequestRecord,
    ScreeningList, ScreeningLists, ScreeningCase, HostAgent,
)


def event_type_of_topic(topic: str) -> str:
    """``registry.domain.batch:GpuBatch.Shipped`` -> ``GpuBatch.Shipped``."""
    return topic.rsplit(":", 1)[-1]


@cache
def event_topics() -> dict[str, str]:
    """Every event type the registry records, ``"GpuBatch.Shipped"`` -> its stored topic."""
    topics: dict[str, str] = {}
    for aggregate in _AGGREGATES:
        for name, member in vars(aggregate).items():
            if (
                isinstance(member, type)
                and issubclass(member, RegistryAggregate.Event)
                and name not in ("Event", "Created")
            ):
                topic = get_topic(member)
                topics[event_type_of_topic(topic)] = topic
    return topics


def topics_for(event_types: Iterable[str], field: str = "event_types") -> list[str]:
    """Stored topics for API event type names; InvalidField naming each unknown one."""
    known = event_topics()
    violations = [
        (f"{field}[{i}]", f"unknown event type {name!r}; known: {', '.join(sorted(known))}")
        for i, name in enumerate(event_types) if name not in known
    ]
    if violations:
        raise InvalidField(violations)
    return sorted({known[name] for name in event_types})


def _json_default(value: object) -> object:
    if isinstance(value, UUID | Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Move):  # its plain form, as events of class version 1 stored it
        return value.as_row()
    if isinstance(value, Position):
        return value.key
    if isinstance(value, SerialSet):  # every serial, as events of class version 2 listed them
        return list(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


# Fields left out of an event's payload because they can be megabytes, more than a subscriber's
# message limit: the entries of a restricted-party list snapshot (its entry_count stays).
OMITTED_PAYLOAD_FIELDS: dict[str, frozenset[str]] = {"ScreeningList.Imported": frozenset({"entries"})}


def payload_json(event: DomainEventProtocol[UUID], compact_serials: bool = False) -> str:
    """An event's own fields (not its envelope, nor OMITTED_PAYLOAD_FIELDS) as a JSON object;
    with ``compact_serials``, serial sets as their runs (``SerialSet.compact``), not every serial."""
    omitted = OMITTED_PAYLOAD_FIELDS.get(event_type_of_topic(get_topic(type(event))), frozenset())
    fields = {
        k: v for k, v in vars(event).items() if k not in EVENT_ENVELOPE and k not in omitted
    }
    return payload_json_of_fields(fields, _json_default_compact if compact_serials else _json_default).decode()


def _json_default_compact(value: object) -> object:
    if isinstance(value, SerialSet):
        return value.compact()
    return _json_default(value)


# payload_json is orjson's text: keys sorted, no spaces, text as UTF-8 (not \u escapes); domain
# types (datetimes, dataclasses too) through _json_default. What orjson refuses (an integer of more
# than 64 bits, a non-string key) is written by the json module in the same format instead.
_ORJSON_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
_JSON_FORMAT: dict[str, Any] = {"sort_keys": True, "separators": (",", ":"), "ensure_ascii": False}
_dumps = orjson.dumps


def encode_json(value: Any) -> str:
    """A plain JSON value (no domain types) as ``payload_json`` writes it."""
    return payload_json_of_fields(value).decode()


def payload_json_of_fields(fields: Any, default: Callable[[object], object] = _json_default) -> bytes:
    """``payload_json`` of an event's fields (UTF-8): one JSON object, keys sorted, no spaces."""
    try:
        return _dumps(fields, default, _ORJSON_OPTIONS)
    except orjson.JSONEncodeError:
        return json.dumps(fields, default=default, **_JSON_FORMAT).encode()


_ONWARD = "GpuBatch.OnwardMovementRecorded"


def hides_recipient(fields: Mapping[str, Any], sees_party: Callable[[UUID], bool] | None) -> bool:
    """Whether an onward movement's ``recipient_id`` in ``fields`` is left out (null, as when none was
    recorded) for a confined caller whose party view (``Grants.sees_party``) does not admit it: not
    its own party or a subsidiary (docs/security.md). None (unconfined): shown."""
    recipient = fields.get("recipient_id")
    if sees_party is None or not recipient:
        return False
    try:
        return not sees_party(UUID(str(recipient)))
    except ValueError:
        return True


def confine_recipient(event: pb.Event, sees_party: Callable[[UUID], bool] | None) -> None:
    """:func:`hides_recipient` applied to the event's payload, in place (``recipient_id`` null)."""
    if sees_party is None or event.type != _ONWARD:
        return
    fields = json.loads(event.payload_json)
    if isinstance(fields, dict) and hides_recipient(fields, sees_party):
        fields["recipient_id"] = None
        event.payload_json = payload_json_of_fields(fields).decode()


def event_message(event: DomainEventProtocol[UUID], position: int, compact_serials: bool = False) -> pb.Event:
    recorded_at: datetime = getattr(event, "timestamp")  # noqa: B009 - every stored event has one
    occurred_at: datetime = getattr(event, "occurred_at", None) or recorded_at
    return pb.Event(
        position=position,
        aggregate_id=str(event.originator_id),
        aggregate_version=event.originator_version,
        type=event_type_of_topic(get_topic(type(event))),
        actor=str(getattr(event, "actor", "")),
        request_id=str(getattr(event, "request_id", "")),
        occurred_at=timestamp(occurred_at),
        recorded_at=timestamp(recorded_at),
        payload_json=payload_json(event, compact_serials),
    )
