"""Stored notifications -> ``Event`` messages, without building domain events (the fast path).

:func:`registry.server.convert.event_message` renders a *domain event*: the mapper decodes the
stored JSON (UUIDs, decimals and datetimes become objects), and ``payload_json`` encodes the
event's fields as JSON again. A catching-up subscriber pays that for every event of the log.

:class:`EventRenderer` gives the same message from the stored JSON directly:

* one ``json`` decode whose object hook turns the transcoder's ``uuid_hex`` markers straight into
  the text ``payload_json`` would write for a UUID (cached: the same ids recur all over the log),
  and ``datetime_iso`` / ``decimal_str`` markers into the same objects the transcoder makes (they
  are few, and ``payload_json``'s own encoder then renders them exactly as before); a ``move``
  marker's data is already the ``[from_key, to_key, count]`` row ``payload_json`` renders, and a
  ``serials`` marker's runs are expanded to the list of serials it renders;
* the envelope (``timestamp``, ``occurred_at``, ``actor``, ``request_id``) read from that dict,
  and the payload encoded by :func:`registry.server.convert.payload_json_of_fields`, the function
  the domain path uses;
* Timestamps from the datetime by arithmetic instead of ``Timestamp.FromDatetime``.

Whatever the fast path does not know for certain it would render identically, it hands to the
domain path for that one event: another transcoding (any ``_type_`` other than the five above),
an event that needs upcasting (stored ``class_version`` older than its class), an envelope field
missing or not of its usual type, a non-UTC or out-of-range time, a transcoder that is not the
library's JSONTranscoder, or any error (the domain path then raises its own). So the output is
the domain path's, byte for byte; ``tests/integration/test_grpc_event_rendering.py`` checks it
for every event type.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Hashable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple, cast
from uuid import UUID

from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Mapper,
    Notification,
    UUIDAsHex,
    find_id_convertor,
)
from eventsourcing.utils import get_topic, resolve_topic
from google.protobuf.timestamp_pb2 import Timestamp

from registry.api.v1 import resources_pb2 as pb
from registry.application.service import Registry
from registry.application.transcodings import MoveAsRow, SerialSetAsCompact
from registry.domain.serials import SerialSet
from registry.server.convert import (
    EVENT_ENVELOPE,
    OMITTED_PAYLOAD_FIELDS,
    event_message,
    event_type_of_topic,
    payload_json_of_fields,
    timestamp,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECONDS_MIN = -62135596800  # 0001-01-01T00:00:00Z, the range Timestamp accepts
_SECONDS_MAX = 253402300799  # 9999-12-31T23:59:59Z
_UUID_CACHE_LIMIT = 1 << 16


class _NotFast(Exception):
    """This event is left to the domain path."""


class _TopicInfo(NamedTuple):
    cls: type[Any]
    event_type: str
    omitted: frozenset[str]
    class_version: int
    id_convertors: dict[type[Any], Callable[[Any], Any]]


def _set_time(field: Timestamp, when: datetime) -> None:
    """``field.CopyFrom(timestamp(when))`` (``Timestamp.FromDatetime``), by arithmetic for the
    usual aware UTC datetime."""
    if when.tzinfo is UTC:
        delta: timedelta = when - _EPOCH
        seconds = delta.days * 86400 + delta.seconds
        if _SECONDS_MIN <= seconds <= _SECONDS_MAX:
            field.seconds = seconds
            field.nanos = when.microsecond * 1000
            return
    field.CopyFrom(timestamp(when))  # raises for an out-of-range time, as the domain path does


class EventRenderer:
    """Renders stored notifications as ``Event`` messages, equal to the domain path's."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry
        mapper: Mapper[UUID] = registry.mapper
        self._mapper = mapper
        transcoder = mapper.transcoder
        names: dict[str, Any] = getattr(transcoder, "names", {})
        self._enabled = (
            type(transcoder) is JSONTranscoder
            and type(names.get("uuid_hex")) is UUIDAsHex
            and type(names.get("datetime_iso")) is DatetimeAsISO
            and type(names.get("decimal_str")) is DecimalAsStr
            and type(names.get("move")) is MoveAsRow
            and type(names.get("serials")) is SerialSetAsCompact
        )
        self._local = threading.local()  # a JSON decoder per worker thread
        self._uuid_text: dict[str, str] = {}
        self._topics: dict[str, _TopicInfo] = {}

    def message(self, notification: Notification) -> pb.Event:
        """The notification's ``Event`` message, as ``event_message(registry.decode(n), n.id)``."""
        if self._enabled:
            try:
                return self._fast(notification)
            except Exception:  # noqa: S110 - the domain path decides (and raises its own)
                pass
        return event_message(self._registry.decode(notification), notification.id)

    def messages(self, notifications: list[Notification]) -> list[pb.Event]:
        message = self.message
        return [message(n) for n in notifications]

    # ------------------------------------------------------------------------------ fast path

    def _object(self, d: dict[str, Any]) -> Any:
        """The JSON decoder's object hook: the transcoder's markers as payload_json needs them."""
        if len(d) == 2 and "_type_" in d and "_data_" in d:
            name = d["_type_"]
            data = d["_data_"]
            if name == "uuid_hex":
                text = self._uuid_text.get(data)
                if text is None:
                    if type(data) is not str:
                        raise _NotFast
                    text = str(UUID(data))
                    if len(self._uuid_text) >= _UUID_CACHE_LIMIT:
                        self._uuid_text.clear()
                    self._uuid_text[data] = text
                return text
            if name == "datetime_iso":
                if type(data) is not str:
                    raise _NotFast
                return datetime.fromisoformat(data)
            if name == "decimal_str":
                return Decimal(data)
            if name == "move":  # stored as the plain row payload_json renders for a Move
                if type(data) is not list or len(data) != 3:
                    raise _NotFast
                return data
            if name == "serials":  # a SerialSet's runs: every serial, as payload_json lists them
                if type(data) is not list:
                    raise _NotFast
                return list(SerialSet.from_compact(data))
            raise _NotFast  # another transcoding: rendered by the domain path
        return d

    def _topic(self, topic: str) -> _TopicInfo:
        info = self._topics.get(topic)
        if info is None:
            cls = resolve_topic(topic)
            event_type = event_type_of_topic(get_topic(cls))
            info = _TopicInfo(
                cls=cls,
                event_type=event_type,
                omitted=OMITTED_PAYLOAD_FIELDS.get(event_type, frozenset()),
                class_version=getattr(cls, "class_version", 1),
                id_convertors={},
            )
            self._topics[topic] = info
        return info

    def _fast(self, n: Notification) -> pb.Event:
        info = self._topic(n.topic)
        state = n.state
        mapper = self._mapper
        if mapper.cipher:
            state = mapper.cipher.decrypt(state)
        if mapper.compressor:
            state = mapper.compressor.decompress(state)
        decoder: json.JSONDecoder | None = getattr(self._local, "decoder", None)
        if decoder is None:
            decoder = self._local.decoder = json.JSONDecoder(object_hook=self._object)
        fields = decoder.decode(state.decode("utf8"))
        if type(fields) is not dict:
            raise _NotFast
        if fields.pop("class_version", 1) < info.class_version:
            raise _NotFast  # needs upcasting (or is from a newer class): the mapper's business
        recorded_at = fields["timestamp"]
        occurred_at = fields["occurred_at"]
        actor = fields["actor"]
        request_id = fields["request_id"]
        if type(recorded_at) is not datetime or type(actor) is not str or type(request_id) is not str:
            raise _NotFast
        if occurred_at is None:
            occurred_at = recorded_at
        elif type(occurred_at) is not datetime:
            raise _NotFast
        originator_id = n.originator_id
        id_type = type(originator_id)
        convert_id = info.id_convertors.get(id_type)
        if convert_id is None:
            convert_id = find_id_convertor(cast(Hashable, info.cls), cast(Hashable, id_type))
            info.id_convertors[id_type] = convert_id
        omitted = info.omitted
        payload = {k: v for k, v in fields.items() if k not in EVENT_ENVELOPE and k not in omitted}
        message = pb.Event(
            position=n.id,
            aggregate_id=str(convert_id(originator_id)),
            aggregate_version=n.originator_version,
            type=info.event_type,
            actor=actor,
            request_id=request_id,
            payload_json=payload_json_of_fields(payload),
        )
        _set_time(message.occurred_at, occurred_at)
        _set_time(message.recorded_at, recorded_at)
        return message
