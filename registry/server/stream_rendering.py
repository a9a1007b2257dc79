"""Rendered events kept by the projection worker, and responses assembled from them as bytes.

:mod:`projections.event_stream` keeps, per stored event (request records left out), the
serialized ``Event`` message :class:`EventRenderer` gives for it (default form: every serial
named). This module

* gives the projection that renderer (:func:`render_stored`, installed by
  :func:`install`, which ``registry.bootstrap`` calls);
* reads the kept bytes of a page's positions (:class:`RenderedEvents`): from the active
  generation of the projection's *current* version only (an upgrade's rebuild that has not
  switched over yet: nothing is used), and nothing at all if the read fails (the caller
  renders);
* assembles a ``SubscribeEventsResponse`` from them without parsing anything
  (:func:`response_bytes`): on the wire a message field is its tag, its length and its bytes, a
  repeated one is that once per element, so ``events { events: [e1, e2, ...] }`` is
  ``0x0A len(batch) (0x0A len(e1) e1 0x0A len(e2) e2 ...)``. The result is a :class:`Prebuilt`,
  which the method's response serializer (:func:`serialize_response`) passes through as it is.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, cast

from eventsourcing.persistence import Notification
from sqlalchemy import Connection, Engine, select

from projections.db import reading
from projections.engine import Generation, active_generation
from projections.event_stream import NAME, EventStream, provide_renderer
from registry.api.v1 import events_pb2 as pb
from registry.application.ports import EventLog
from registry.application.service import Registry
from registry.server.event_messages import EventRenderer

log = logging.getLogger("gpureg.server")

_FIELD_1 = b"\x0a"  # field 1, length-delimited: SubscribeEventsResponse.events and EventBatch.events
_POSITION = b"\x08"  # Event.position: field 1, varint


def render_stored(event_log: EventLog) -> Callable[[Notification], bytes]:
    """The projection's renderer: a stored event's ``Event`` message as the server renders it
    (fast path, else the domain path), serialized; nothing kept in memory."""
    renderer = EventRenderer(cast(Registry, event_log), keep_bytes=0)

    def render(n: Notification) -> bytes:
        return renderer.message(n).SerializeToString()

    return render


def install() -> None:
    """Give :mod:`projections.event_stream` the server's renderer."""
    provide_renderer(render_stored)


def varint(n: int) -> bytes:
    """``n`` (>= 0) as a protobuf base-128 varint."""
    if n < 0x80:
        return bytes((n,))
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


class Prebuilt:
    """A ``SubscribeEventsResponse`` already serialized, and the last position it carries."""

    __slots__ = ("data", "last")

    def __init__(self, data: bytes, last: int) -> None:
        self.data = data
        self.last = last

    def message(self) -> pb.SubscribeEventsResponse:
        """Parsed (for a reader that must look inside: a confined caller's filter)."""
        return pb.SubscribeEventsResponse.FromString(self.data)


def serialize_response(response: Any) -> bytes:
    """SubscribeEvents' response serializer: a :class:`Prebuilt` as it is, a message serialized."""
    if type(response) is Prebuilt:
        return response.data
    return cast(bytes, response.SerializeToString())


def response_bytes(events: Sequence[bytes]) -> bytes:
    """``SubscribeEventsResponse(events=EventBatch(events=[...]))`` serialized, from each
    ``Event``'s serialized bytes."""
    parts: list[bytes] = [b"", b""]  # the batch's header, filled in below
    append = parts.append
    size = 0
    for e in events:
        header = _FIELD_1 + varint(len(e))
        append(header)
        append(e)
        size += len(header) + len(e)
    parts[0] = _FIELD_1
    parts[1] = varint(size)
    return b"".join(parts)


def _fetch(conn: Connection, sql: str, params: tuple[Any, ...]) -> list[Any]:
    """``sql``'s rows through the driver (no SQLAlchemy row per event), in ``conn``'s transaction;
    on PostgreSQL in binary (bytea as its bytes, not hex text)."""
    raw: Any = conn.connection.dbapi_connection
    if conn.dialect.name == "postgresql":
        with raw.cursor(binary=True) as cur:
            cur.execute(sql.replace("?", "%s"), params)
            return list(cur.fetchall())
    cur = raw.cursor()
    try:
        cur.execute(sql, params)
        return list(cur.fetchall())
    finally:
        cur.close()


class RenderedEvents:
    """Reads the event stream read model's kept renderings."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._projection = EventStream()

    def _current(self, conn: Connection) -> Generation | None:
        """The projection's active generation, if it is of the current version (an upgrade's
        rebuild that has not switched over yet: none)."""
        active = active_generation(conn, NAME)
        return active if active is not None and active.version == self._projection.version else None

    def after(self, cursor: int, limit: int) -> tuple[list[tuple[int, bytes]], int]:
        """The kept renderings after ``cursor`` in log order (at most ``limit``), and the position
        the projection has applied the log to: every event after ``cursor`` and up to it that is
        no request record is among them (all of them when fewer than ``limit``). Nothing (and
        ``cursor``) when the read model is absent, of another version, not past ``cursor``, or
        cannot be read."""
        try:
            with reading(self._engine) as conn:
                current = self._current(conn)
                if current is None or current.position <= cursor:
                    return [], cursor
                covered = current.position
                table = self._projection.tables(current.generation)["event"]
                rows = _fetch(conn, f"SELECT position, message FROM {table.name} "  # noqa: S608 - our table's name
                                    "WHERE position > ? AND position <= ? ORDER BY position LIMIT ?",
                              (cursor, covered, limit))
        except Exception:
            log.debug("reading the kept event renderings failed; rendering instead", exc_info=True)
            return [], cursor
        found: list[tuple[int, bytes]] = []
        for position, message in rows:
            data = bytes(message)
            if not data.startswith(_POSITION + varint(position)):
                return [], cursor  # not that position's message: render from the log instead
            found.append((position, data))
        return found, covered

    def read(self, first: int, last: int, positions: Sequence[int] | None = None) -> dict[int, bytes]:
        """The kept renderings of positions ``first``..``last`` (of ``positions`` only, when
        given), by position; those not rendered (yet) are missing. Empty when the read model is
        absent, of another version, or cannot be read (the caller renders; nothing is lost)."""
        try:
            with reading(self._engine) as conn:
                current = self._current(conn)
                if current is None or current.position < first:
                    return {}
                table = self._projection.tables(current.generation)["event"]
                query = select(table.c.position, table.c.message)
                if positions is not None:
                    query = query.where(table.c.position.in_(list(positions)))
                else:
                    query = query.where(table.c.position >= first, table.c.position <= last)
                rows = conn.execute(query).all()
        except Exception:
            log.debug("reading the kept event renderings failed; rendering instead", exc_info=True)
            return {}
        found: dict[int, bytes] = {}
        for position, message in rows:
            data = bytes(message)
            if data.startswith(_POSITION + varint(position)):  # the stored message is that position's
                found[position] = data
        return found
