"""JSON transcodings for the value types that live in events and snapshots.

Positions and moves are stored in their plain, compact form: a position as its key
``"stage|site|owner|assignee"``, a move as ``[from_key, to_key, count]`` (the form movement
events of class version 1 stored without a marker, and the one subscribers and the custody read
model show); a movement event's serials as a :class:`~registry.domain.serials.SerialSet`'s
runs and single serials.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from eventsourcing.persistence import JSONTranscoder, Transcoding

from registry.domain.batch import Move, Position, Shipment, Unit
from registry.domain.serials import SerialSet


class DataclassAsDict(Transcoding):
    """Encodes a flat frozen dataclass as a dict of its fields (nested values recurse)."""

    def __init__(self, cls: type[Any]) -> None:
        self.type = cls
        self.name = cls.__qualname__

    def encode(self, obj: Any) -> dict[str, Any]:
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}

    def decode(self, data: dict[str, Any]) -> Any:
        return self.type(**data)


class PositionAsKey(Transcoding):
    type = Position
    name = "position"

    def encode(self, obj: Position) -> str:
        return obj.key

    def decode(self, data: str) -> Position:
        return Position.parse(data)


class MoveAsRow(Transcoding):
    type = Move
    name = "move"

    def encode(self, obj: Move) -> list[Any]:
        return obj.as_row()

    def decode(self, data: list[Any]) -> Move:
        return Move.of_row(data)


class SerialSetAsCompact(Transcoding):
    """A movement event's serials as runs and single serials (``SerialSet.compact``)."""

    type = SerialSet
    name = "serials"

    def encode(self, obj: SerialSet) -> list[Any]:
        return obj.compact()

    def decode(self, data: list[Any]) -> SerialSet:
        return SerialSet.from_compact(data)


def register_domain_transcodings(transcoder: JSONTranscoder) -> None:
    for cls in (Unit, Shipment):
        transcoder.register(DataclassAsDict(cls))
    transcoder.register(PositionAsKey())
    transcoder.register(MoveAsRow())
    transcoder.register(SerialSetAsCompact())
