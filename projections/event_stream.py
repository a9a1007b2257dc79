"""The event stream read model: each stored event's ``Event`` message, rendered at write time.

A subscriber catching up from the log's start makes the server render every event (decode the
stored JSON, replace the transcoder's markers, encode ``payload_json``, build the message): 17-20
us of Python per event on the server's core. This projection does that work once, in the
projection worker (on the other core, in its bulk writes), and keeps the result: one row per
stored event with the serialized protobuf ``Event`` (``registry.api.v1.Event``, default form:
every serial named), exactly the bytes the server's renderer gives for it. The server's
catch-up (:mod:`registry.server.events`) sends those bytes without parsing them; positions not
rendered yet (the worker behind the head) it renders itself, as before.

The rendering is the server's (:class:`registry.server.event_messages.EventRenderer`), which the
read side may not import: whoever builds a registry provides it (:func:`provide_renderer`,
``registry/server/stream_rendering.py``, installed by ``registry.bootstrap``). The projection's
handlers see the stored :class:`Notification` (``raw``), not the decoded event.

Left out: the request records (``RequestRecord.Handled``, internal, streamed only on request:
rendered live then), which are a third of the log and no default stream carries.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from eventsourcing.persistence import Notification
from eventsourcing.utils import get_topic
from sqlalchemy import BigInteger, Column, LargeBinary, MetaData, Table

from projections.engine import Handler, Projection, Work
from registry.application.ports import EventLog
from registry.domain.claims import RequestRecord

#: the log -> a function giving a stored event's serialized ``Event`` message
RendererFactory = Callable[[EventLog], Callable[[Notification], bytes]]

_factories: list[RendererFactory] = []  # the installed one (at most one)

#: topics of events left out (rendered live when a subscriber asks for them)
SKIPPED_TOPICS = frozenset({get_topic(RequestRecord.Handled)})

NAME = "event_stream"


def provide_renderer(factory: RendererFactory) -> None:
    """Install the function that renders stored events (the server's renderer)."""
    _factories[:] = [factory]


class EventStream(Projection):
    """One row per stored event (request records left out): its rendered ``Event`` bytes."""

    name = NAME
    version = 1
    raw: ClassVar[bool] = True  # handlers get the Notification, not the decoded event
    # A first build or a rebuild writes each chunk's renderings as it goes: held in memory until
    # the end they would be every event's bytes at once (about 60 MB for the full demo, growing with
    # the log); a row is one event's rendering and never changes, so nothing is gained by holding it.
    chunked_build: ClassVar[bool] = True

    def __init__(self) -> None:
        super().__init__()
        self._render: Callable[[Notification], bytes] | None = None

    def bind(self, log: EventLog) -> None:
        if not _factories:
            raise RuntimeError(
                "the event_stream projection needs the server's renderer: import registry.bootstrap "
                "(or call projections.event_stream.provide_renderer) before running projections")
        self._render = _factories[0](log)

    def define(self, metadata: MetaData, name: Callable[[str], str]) -> dict[str, Table]:
        return {"event": Table(
            name("event"), metadata,
            Column("position", BigInteger, primary_key=True, autoincrement=False),
            Column("message", LargeBinary, nullable=False),
        )}

    def handlers(self) -> Mapping[type[Any], Handler]:
        return {}  # every topic: see handler_for

    def handler_for(self, topic: str) -> Handler | None:
        return None if topic in SKIPPED_TOPICS else self._event

    def _event(self, work: Work, n: Notification) -> None:
        render = self._render
        if render is None:
            raise RuntimeError("the event_stream projection was not bound to a log (EventStream.bind)")
        work.append("event", {"position": n.id, "message": render(n)})
