"""Stored notifications -> ``Event`` messages, without building domain events (the fast path).

:func:`registry.server.convert.event_message` renders a *domain event*: the mapper decodes the
stored JSON (UUIDs, decimals and datetimes become objects), and ``payload_json`` encodes the
event's fields as JSON again. A catching-up subscriber pays that for every event of the log.

:class:`EventRenderer` gives the same message from the stored JSON directly:

* one ``orjson`` decode of the stored state, then the transcoder's markers replaced in Python
  where they are (the stored text's count of ``"_type_"`` says how many to find: any other is left
  to the domain path): a ``uuid_hex`` marker by the text ``payload_json`` would write for the UUID
  (cached: the same ids recur all over the log), a ``decimal_str`` marker by its text, a
  ``datetime_iso`` marker by the datetime (``payload_json``'s encoder writes its ISO text); a
  ``move`` marker's data is already the ``[from_key, to_key, count]`` row ``payload_json``
  renders; a ``serials`` marker becomes a placeholder string, replaced after encoding by the JSON
  text of every serial, made one run at a time by a single ``%`` formatting (not one string and
  one encoder step per serial) and cached by the runs (a batch's serials recur in its movements);
  for a subscriber that asked for ``compact_serials`` it stays the runs;
* the envelope (``timestamp``, ``occurred_at``, ``actor``, ``request_id``) read from that dict,
  and the payload encoded by :func:`registry.server.convert.payload_json_of_fields`, the function
  the domain path uses;
* Timestamps from the datetime by arithmetic instead of ``Timestamp.FromDatetime``;
* :meth:`EventRenderer.render_into` makes each message in the response's repeated field, rather
  than building it apart and copying it in (the copy of every payload was a few % of a catch-up);
  :meth:`EventRenderer.render_rows_into` does so from the driver's rows
  (:meth:`Registry.read_log_rows`: no Notification per event);
* what it rendered is kept (until the kept take ``keep_bytes``; then no more), by log position and
  mode, with the originator id, version and stored state (length and hash) it came from: a later
  subscriber catching up gets the kept rendering of a position whose row is the same.

Whatever the fast path does not know for certain it would render identically, it hands to the
domain path for that one event: another transcoding (any ``_type_`` other than the five above),
an event that needs upcasting (stored ``class_version`` older than its class), an envelope field
missing or not of its usual type, a non-UTC or out-of-range time, a transcoder that is not the
library's JSONTranscoder, or any error (the domain path then raises its own). So the output is
the domain path's, byte for byte; ``tests/integration/test_grpc_event_rendering.py`` checks it
for every event type.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple, cast
from uuid import UUID

import orjson
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

from registry.api.v1 import resources_pb2 as pb
from registry.application.service import Registry
from registry.application.transcodings import MoveAsRow, SerialSetAsCompact
from registry.domain.serials import SerialSet
from registry.infrastructure.recorders import LogRow
from registry.server.convert import (
    EVENT_ENVELOPE,
    OMITTED_PAYLOAD_FIELDS,
    encode_json,
    event_message,
    event_type_of_topic,
    payload_json_of_fields,
    timestamp,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECONDS_MIN = -62135596800  # 0001-01-01T00:00:00Z, the range Timestamp accepts
_SECONDS_MAX = 253402300799  # 9999-12-31T23:59:59Z
_UUID_CACHE_LIMIT = 1 << 16
_SERIALS_CACHE_CHARS = 16 << 20  # the expanded serial sets' JSON kept for reuse
# A serial set's stand-in while the payload is encoded: JSON escapes the NUL (a stored state
# holding an escaped NUL anywhere is left to the domain path, so nothing else can look like it).
_PLACEHOLDER = "\x00"
_ESCAPED_PLACEHOLDER = b"\\u0000"
_MARKER = b'"_type_"'
_loads = orjson.loads
_dumps = orjson.dumps


#: bytes of rendered events kept, for subscribers that catch up after another (0: none)
KEEP_RENDERED_BYTES = 96 << 20  # Settings.subscription_kept_mib's default
_KEPT_OVERHEAD = 400  # bytes of a kept rendering besides its payload (the tuple, the other texts)
#: originator id, version, aggregate_id, type, actor, request_id, payload_json, occurred, recorded,
#: and the length and hash of the stored state it was rendered from (compared: a kept rendering is
#: used for that stored event only)
_Kept = tuple[Any, int, str, str, str, str, bytes, tuple[int, int], tuple[int, int], int, int]


_OTHER_ENVELOPE = tuple(sorted(EVENT_ENVELOPE - {"timestamp", "occurred_at", "actor", "request_id"}))


class _NotFast(Exception):
    """This event is left to the domain path."""


class _TopicInfo(NamedTuple):
    cls: type[Any]
    event_type: str
    omitted: frozenset[str]
    class_version: int
    id_convertors: dict[type[Any], Callable[[Any], Any]]


def _seconds_nanos(when: datetime) -> tuple[int, int]:
    """``timestamp(when)``'s seconds and nanos (``Timestamp.FromDatetime``), by arithmetic for the
    usual aware UTC datetime."""
    if when.tzinfo is UTC:
        delta: timedelta = when - _EPOCH
        seconds = delta.days * 86400 + delta.seconds
        if _SECONDS_MIN <= seconds <= _SECONDS_MAX:
            return seconds, when.microsecond * 1000
    converted = timestamp(when)  # raises for an out-of-range time, as the domain path does
    return converted.seconds, converted.nanos


class EventRenderer:
    """Renders stored notifications as ``Event`` messages, equal to the domain path's."""

    def __init__(self, registry: Registry, keep_bytes: int = KEEP_RENDERED_BYTES) -> None:
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
        self._uuid_text: dict[str, str] = {}  # hex -> str(UUID(hex))
        self._id_text: dict[str, str] = {}  # originator id as SQLite stores it -> aggregate_id
        # the Notification's originator_id for a row's text (SQLite's recorder says; PostgreSQL's
        # uuid column read as text)
        self._convert_originator_id: Callable[[str], Any] = getattr(
            registry.recorder, "convert_originator_id", UUID)
        self._serials_text: dict[bytes, bytes] = {}  # stored runs -> every serial, as JSON
        self._prefixes: dict[str, str] = {}
        self._serials_chars = 0
        self._topics: dict[str, _TopicInfo] = {}
        # the renderings of recent events, by (position, compact_serials); a log position's event
        # never changes, and its originator id, version and stored state (length and hash) are
        # compared before one is used
        self._keep_bytes = keep_bytes
        self._keep_lock = threading.Lock()
        self._rendered: dict[tuple[int, bool], _Kept] = {}
        self._kept_bytes = 0

    def message(self, notification: Notification, compact_serials: bool = False) -> pb.Event:
        """The notification's ``Event`` message, as ``event_message(registry.decode(n), n.id)``
        (with ``compact_serials``: as ``event_message(..., compact_serials=True)``)."""
        if self._enabled:
            try:
                return self._fast(notification, pb.Event, compact_serials)
            except Exception:  # noqa: S110 - the domain path decides (and raises its own)
                pass
        return event_message(self._registry.decode(notification), notification.id, compact_serials)

    def messages(self, notifications: list[Notification], compact_serials: bool = False) -> list[pb.Event]:
        message = self.message
        return [message(n, compact_serials) for n in notifications]

    def render_into(
        self, events: Any, notifications: list[Notification], compact_serials: bool = False
    ) -> None:
        """Append the notifications' messages to ``events`` (a repeated ``Event`` field), each
        made in place rather than built apart and copied in."""
        new = events.add
        fast = self._fast if self._enabled else None
        for n in notifications:
            if fast is not None:
                try:
                    fast(n, new, compact_serials)
                    continue
                except Exception:  # noqa: S110 - nothing was added; the domain path decides
                    pass
            rendered = event_message(self._registry.decode(n), n.id, compact_serials)  # may raise
            new().CopyFrom(rendered)

    def render_rows_into(self, events: Any, rows: Sequence[LogRow], compact_serials: bool = False) -> None:
        """As :meth:`render_into`, for rows of :meth:`Registry.read_log_rows` (no Notification is
        made unless an event is left to the domain path)."""
        new = events.add
        fast = self._render if self._enabled else None
        for row in rows:
            if fast is not None:
                try:
                    fast(*row, new, compact_serials)
                    continue
                except Exception:  # noqa: S110 - nothing was added; the domain path decides
                    pass
            n = self._notification(row)
            rendered = event_message(self._registry.decode(n), n.id, compact_serials)  # may raise
            new().CopyFrom(rendered)

    # ------------------------------------------------------------------------------ fast path

    def _plain(self, value: Any, texts: list[bytes], compact: bool) -> tuple[Any, int]:
        """``value`` (decoded from the stored JSON) with the transcoder's markers replaced as
        payload_json renders them, and how many markers there were: a UUID as its text (cached:
        the same ids recur all over the log), a decimal as its text, a datetime as itself
        (payload_json's encoder writes its ISO text), a move as the ``[from_key, to_key, count]``
        row it is stored as, a serial set as :meth:`_serials` gives it."""
        kind = type(value)
        if kind is dict:
            if "_type_" in value:
                return self._marker(value, texts, compact), 1
            found = 0
            for k, v in value.items():
                if type(v) is dict or type(v) is list:
                    value[k], n = self._plain(v, texts, compact)
                    found += n
            return value, found
        if kind is list:
            found = 0
            for i, v in enumerate(value):
                if type(v) is dict or type(v) is list:
                    value[i], n = self._plain(v, texts, compact)
                    found += n
            return value, found
        return value, 0

    def _marker(self, d: dict[str, Any], texts: list[bytes], compact: bool) -> Any:
        if len(d) != 2:
            raise _NotFast  # a dict that only has a "_type_" key: the domain path's business
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
        if name == "move":  # stored as the plain row payload_json renders for a Move
            if type(data) is not list or len(data) != 3:
                raise _NotFast
            return data
        if name == "serials":
            if type(data) is not list:
                raise _NotFast
            return self._serials(data, texts, compact)
        if type(data) is not str:
            raise _NotFast
        if name == "datetime_iso":
            return datetime.fromisoformat(data)
        if name == "decimal_str":
            return str(Decimal(data))
        raise _NotFast  # another transcoding: rendered by the domain path

    def _serials(self, data: list[Any], texts: list[bytes], compact: bool) -> Any:
        """A ``serials`` marker's runs. Compact: the runs as ``SerialSet.compact`` gives them.
        Expanded: a placeholder string (``texts``' next index between NULs), replaced after
        encoding by the JSON text of every serial (:meth:`_serials_json`), so the encoder never
        walks the serials one by one; that text is cached by the stored runs (a batch's serials
        recur in its movements)."""
        if compact:
            return SerialSet.from_compact(data).compact()
        key = _dumps(data)  # exact: True and 1 differ
        text = self._serials_text.get(key)
        if text is None:
            text = self._serials_json(data).encode()
            if self._serials_chars + len(text) > _SERIALS_CACHE_CHARS:
                self._serials_text.clear()
                self._serials_chars = 0
            self._serials_text[key] = text
            self._serials_chars += len(text)
        texts.append(text)
        return f"{_PLACEHOLDER}{len(texts) - 1}{_PLACEHOLDER}"

    def _serials_json(self, data: list[Any]) -> str:
        """``payload_json``'s text for the SerialSet whose compact form is ``data``: the list of
        every serial."""
        parts: list[str] = []
        for item in data:
            if type(item) is str:
                parts.append(encode_json(item))
                continue
            # the usual run, [prefix, first, last], checked as SerialSet.from_compact checks it
            if type(item) is list and len(item) == 3:
                prefix, first, last = item
                if (type(prefix) is str and type(first) is str and type(last) is str
                        and len(first) == len(last) and first.isascii() and first.isdigit()
                        and last.isascii() and last.isdigit() and int(first) <= int(last)):
                    numbers = range(int(first), int(last) + 1)
                    if first[0] != "0" or len(first) == 1:  # no padding: every number has the width
                        escaped = self._escaped(prefix)
                        parts.append(f'"{escaped}' + f'","{escaped}'.join(map(str, numbers)) + '"')
                    else:
                        parts.append(self._run_json(prefix, len(first), numbers))
                    continue
            # anything else (exceptions, or malformed: from_compact raises as the domain path does)
            for part in SerialSet.from_compact([item]).parts():
                if type(part) is str:
                    parts.append(encode_json(part))
                    continue
                prefix, width, a, b, exceptions = cast(tuple[str, int, int, int, tuple[int, ...]], part)
                skip = frozenset(exceptions)
                parts.append(self._run_json(prefix, width, [n for n in range(a, b + 1) if n not in skip]))
        return "[" + ",".join(parts) + "]"

    def _run_json(self, prefix: str, width: int, numbers: Sequence[int]) -> str:
        """The serials ``prefix`` + each number zero-padded to ``width``, as JSON strings joined by
        commas: one ``%`` formatting for the whole run, not one string and one encoder step each."""
        template = f'"{self._escaped(prefix).replace("%", "%%")}%0{width}d",'
        return (template * len(numbers) % tuple(numbers))[:-1]

    def _escaped(self, prefix: str) -> str:
        """``prefix`` as it reads inside a JSON string (most are plain ASCII: kept as they are)."""
        escaped = self._prefixes.get(prefix)
        if escaped is None:
            if len(self._prefixes) >= _UUID_CACHE_LIMIT:
                self._prefixes.clear()
            escaped = self._prefixes[prefix] = encode_json(prefix)[1:-1]
        return escaped

    def _notification(self, row: LogRow) -> Notification:
        """The Notification the recorder's ``select_notifications`` makes of a row."""
        position, originator_id, version, topic, state = row
        if type(originator_id) is str:
            originator_id = self._convert_originator_id(originator_id)
        return Notification(id=position, originator_id=originator_id, originator_version=version,
                            topic=topic, state=bytes(state))

    @staticmethod
    def _aggregate_id(info: _TopicInfo, originator_id: Any) -> str:
        id_type = type(originator_id)
        convert_id = info.id_convertors.get(id_type)
        if convert_id is None:
            convert_id = find_id_convertor(cast(Hashable, info.cls), cast(Hashable, id_type))
            info.id_convertors[id_type] = convert_id
        return str(convert_id(originator_id))

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

    def _fast(
        self, n: Notification, new: Callable[..., pb.Event] = pb.Event, compact_serials: bool = False
    ) -> pb.Event:
        """The message, made by ``new`` (``pb.Event`` or a repeated field's ``add``) only once
        everything else is known: an event left to the domain path raises before it is made."""
        return self._render(n.id, n.originator_id, n.originator_version, n.topic, n.state, new, compact_serials)

    def _render(
        self, position: int, originator_id: Any, originator_version: int, topic: str, state: bytes,
        new: Callable[..., pb.Event], compact_serials: bool,
    ) -> pb.Event:
        kept = self._rendered.get((position, compact_serials))
        if (kept is not None and kept[0] == originator_id and kept[1] == originator_version
                and kept[9] == len(state) and kept[10] == hash(state)):
            message = new(position=position, aggregate_id=kept[2], aggregate_version=originator_version,
                          type=kept[3], actor=kept[4], request_id=kept[5], payload_json=kept[6])
            message.occurred_at.seconds, message.occurred_at.nanos = kept[7]
            message.recorded_at.seconds, message.recorded_at.nanos = kept[8]
            return message
        info = self._topic(topic)
        stored = state
        mapper = self._mapper
        if mapper.cipher:
            state = mapper.cipher.decrypt(state)
        if mapper.compressor:
            state = mapper.compressor.decompress(state)
        if _ESCAPED_PLACEHOLDER in state:
            raise _NotFast  # a stored NUL, which the serials' placeholders could be taken for
        fields = _loads(state)
        if type(fields) is not dict:
            raise _NotFast
        if fields.pop("class_version", 1) < info.class_version:
            raise _NotFast  # needs upcasting (or is from a newer class): the mapper's business
        markers = state.count(_MARKER)
        recorded_at = fields.pop("timestamp")
        occurred_at = fields.pop("occurred_at")
        if type(recorded_at) is not dict or recorded_at.get("_type_") != "datetime_iso":
            raise _NotFast
        recorded_at = self._marker(recorded_at, [], False)
        if occurred_at is None:
            occurred_at = recorded_at
            markers -= 1
        elif type(occurred_at) is dict and occurred_at.get("_type_") == "datetime_iso":
            occurred_at = self._marker(occurred_at, [], False)
            markers -= 2
        else:
            raise _NotFast
        actor = fields.pop("actor")
        request_id = fields.pop("request_id")
        if type(actor) is not str or type(request_id) is not str:
            raise _NotFast
        for key in _OTHER_ENVELOPE:
            if key in fields:
                del fields[key]
        for key in info.omitted:
            fields.pop(key, None)
        texts: list[bytes] = []
        if markers:  # the fields' own markers: look no further than the last of them
            plain = self._plain
            for k, v in fields.items():
                kind = type(v)
                if kind is dict:
                    if "_type_" in v:
                        fields[k] = self._marker(v, texts, compact_serials)
                        markers -= 1
                    else:
                        fields[k], found = plain(v, texts, compact_serials)
                        markers -= found
                elif kind is list:
                    fields[k], found = plain(v, texts, compact_serials)
                    markers -= found
                else:
                    continue
                if not markers:
                    break
            if markers:
                raise _NotFast  # "_type_" where the transcoder did not write it: the domain path's business
        if texts and (_PLACEHOLDER in actor or _PLACEHOLDER in request_id):
            raise _NotFast  # a serial set where the envelope has text: the domain path's business
        if type(recorded_at) is not datetime or type(occurred_at) is not datetime:
            raise _NotFast
        occurred = _seconds_nanos(occurred_at)
        recorded = _seconds_nanos(recorded_at)
        if type(originator_id) is str:  # a row's text: the Notification would hold the UUID of it
            aggregate_id = self._id_text.get(originator_id)
            if aggregate_id is None:
                aggregate_id = self._aggregate_id(info, self._convert_originator_id(originator_id))
                if len(self._id_text) >= _UUID_CACHE_LIMIT:
                    self._id_text.clear()
                self._id_text[originator_id] = aggregate_id
        else:
            aggregate_id = self._aggregate_id(info, originator_id)
        payload_text = payload_json_of_fields(fields)  # the envelope and the omitted fields taken out
        for i, serials in enumerate(texts):
            payload_text = payload_text.replace(b'"\\u0000%d\\u0000"' % i, serials, 1)
        message = new(
            position=position,
            aggregate_id=aggregate_id,
            aggregate_version=originator_version,
            type=info.event_type,
            actor=actor,
            request_id=request_id,
            payload_json=payload_text,
        )
        message.occurred_at.seconds, message.occurred_at.nanos = occurred
        message.recorded_at.seconds, message.recorded_at.nanos = recorded
        if self._keep_bytes:
            self._keep((position, compact_serials), (
                originator_id, originator_version, aggregate_id, info.event_type, actor, request_id,
                payload_text, occurred, recorded, len(stored), hash(stored)))
        return message

    def _keep(self, key: tuple[int, bool], rendered: _Kept) -> None:
        """Keep an event's rendering for the next subscriber, unless the kept ones would then take
        more than ``keep_bytes``. Nothing kept is dropped: a catch-up reads the log from its start,
        and dropping the oldest to make room would drop what the next one reads first (a log
        larger than the room would then never be served from it); what does not fit is rendered
        for each subscriber, as it always was."""
        size = len(rendered[6]) + _KEPT_OVERHEAD
        with self._keep_lock:
            if key in self._rendered or self._kept_bytes + size > self._keep_bytes:
                return
            self._rendered[key] = rendered
            self._kept_bytes += size
