"""What a command returns."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID


@dataclass(frozen=True)
class CommandResult:
    """The aggregate a command changed, its new version, and the log position of the write.

    ``position`` is the notification id of the last event the command wrote; a caller passes it
    to a query as ``min_position`` to read its own write from a projection.
    ``replayed`` is true when the request_id had been handled before and nothing was written.
    """

    aggregate_id: UUID
    version: int
    position: int
    replayed: bool = False
