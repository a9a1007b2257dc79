"""Stored notifications -> ``Event`` messages, without building domain events (the fast path).

:func:`registry.server.convert.event_message` renders a *domain event*: the mapper decodes the
stored JSON (UUIDs, decimals and datetimes become objects), and ``payload_json`` encodes the
event's fields as JSON again. A catching-up subscriber pays that for every event of the log.

:class:`EventRenderer` gives the same message from the stored JSON directly:

* one ``json`` decode whose object hook turns the transcoder's ``uuid_hex`` markers straight into
  the text ``payload_json`` would write for a UUID (cached: the same ids recur all over the log),
  and ``datetime_iso`` / ``decimal_str`` markers into the same objects the transcoder makes (they
  are few, and ``payload_json``'s own encoder then renders them exactly as before);
* the envelope (``timestamp``, ``occurred_at``, ``actor``, ``request_id``) read from that dict,
  and the payload encoded like :func:`registry.server.convert.payload_json_of_fields`, the
  function the domain path uses (same encoder settings);
* Timestamps from the datetime by arithmetic instead of ``Timestamp.FromDatetime``;
* plain-valued fields passed through: the top-level object is walked field by field with the C
  scanner, which gives each value's span in the stored text. A value whose span is ASCII and holds
  no object (no ``{``: no transcoder marker, no nested keys to sort) is written into
  ``payload_json`` as stored, since the encoder would write exactly those characters (both sides
  are Python's compact JSON; only non-ASCII text, DEL and key order could differ). The serial lists
  of movement events, most of the log's bytes, are never encoded again.

Whatever the fast path does not know for certain it would render identically, it hands to the
domain path for that one event: another transcoding (any ``_type_`` other than the three above),
an event that needs upcasting (stored ``class_version`` older than its class), an envelope field
missing or not of its usual type, a non-UTC or out-of-range time, a transcoder that is not the
library's JSONTranscoder, or any error (the domain path then raises its own). So the output is
the domain path's, byte for byte; ``tests/integration/test_grpc_event_rendering.py`` checks it
for every event type.
"""

from __future__ import annotations

import json
import re
import threading
from json.decoder import scanstring
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
from registry.server.convert import (
    EVENT_ENVELOPE,
    _json_default,
    OMITTED_PAYLOAD_FIELDS,
    event_message,
    event_type_of_topic,
    timestamp,
)

_encode_value = json.JSONEncoder(default=_json_default, sort_keys=True, separators=(",", ":")).encode

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
        text = state.decode("utf8")
        fields, spans, plain = _top_level(decoder, text)
        spans.pop("class_version", None)
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
        parts = []
        for key in sorted(k for k in spans if k not in EVENT_ENVELOPE and k not in omitted):
            start, end = spans[key]
            raw = text[start:end]
            if key in plain:
                if not raw.isascii():
                    raw = _encode_value(json.loads(raw))
            elif not raw.isascii() or "{" in raw or "\x7f" in raw:  # DEL: escaped only by ensure_ascii
                raw = _encode_value(fields[key])
            parts.append(f"{_encode_value(key)}:{raw}")
        message = pb.Event(
            position=n.id,
            aggregate_id=str(convert_id(originator_id)),
            aggregate_version=n.originator_version,
            type=info.event_type,
            actor=actor,
            request_id=request_id,
            payload_json="{" + ",".join(parts) + "}",
        )
        _set_time(message.occurred_at, occurred_at)
        _set_time(message.recorded_at, recorded_at)
        return message


# A string without escapes, braces or DEL, a list of such strings, or true/false/null: written
# into payload_json as stored (if ASCII) without being decoded at all.
_PLAIN = re.compile(r'"[^"\\{\x7f]*"|\[(?:"[^"\\{\x7f]*"(?:,"[^"\\{\x7f]*")*)?\]|true|false|null')


def _top_level(
    decoder: json.JSONDecoder, text: str
) -> tuple[dict[str, Any], dict[str, tuple[int, int]], set[str]]:
    """The stored event's fields, each value's span in ``text``, and which fields are plain.

    Envelope fields, and any value that is not plain, are decoded with the renderer's object
    hook; a plain payload value (see ``_PLAIN``) is only located. The transcoder writes compact
    JSON; anything else goes to the domain path."""
    if not text.startswith("{") or not text.endswith("}"):
        raise _NotFast
    scan = decoder.scan_once  # type: ignore[attr-defined]  # the C scanner: (value, end)
    plain_at = _PLAIN.match
    fields: dict[str, Any] = {}
    spans: dict[str, tuple[int, int]] = {}
    plain: set[str] = set()
    idx = 1
    if text[idx] == "}":
        return fields, spans, plain
    while True:
        if text[idx] != '"':
            raise _NotFast
        key, idx = scanstring(text, idx + 1)
        if text[idx] != ":":
            raise _NotFast
        start = idx + 1
        found = None if key in _DECODED else plain_at(text, start)
        if found is not None:
            idx = found.end()
            plain.add(key)
        else:
            fields[key], idx = scan(text, start)
        spans[key] = (start, idx)
        separator = text[idx]
        if separator == "}":
            if idx + 1 != len(text):
                raise _NotFast
            return fields, spans, plain
        if separator != ",":
            raise _NotFast
        idx += 1


_DECODED = frozenset(EVENT_ENVELOPE) | {"class_version"}
