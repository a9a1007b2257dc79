"""JSON transcodings for the value types that live in events and snapshots."""

from __future__ import annotations

import dataclasses
from typing import Any

from eventsourcing.persistence import JSONTranscoder, Transcoding

from registry.domain.batch import Shipment, Unit


class DataclassAsDict(Transcoding):
    """Encodes a flat frozen dataclass as a dict of its fields (nested values recurse)."""

    def __init__(self, cls: type[Any]) -> None:
        self.type = cls
        self.name = cls.__qualname__

    def encode(self, obj: Any) -> dict[str, Any]:
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}

    def decode(self, data: dict[str, Any]) -> Any:
        return self.type(**data)


def register_domain_transcodings(transcoder: JSONTranscoder) -> None:
    for cls in (Unit, Shipment):
        transcoder.register(DataclassAsDict(cls))
