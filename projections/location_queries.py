"""Queries on attested GPU locations (mixed into :class:`projections.queries.ReadModels`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Table, select

from projections.compliance import ComplianceFindings
from projections.findings import utc


@dataclass(frozen=True)
class SerialLocation:
    """The last signed check-in naming one serial."""

    serial: str
    batch_id: UUID
    agent_id: UUID
    sequence: int
    observed_at: datetime
    country: str
    site_id: UUID
    latitude: str
    longitude: str
    method: str
    position: int


class LocationQueries:
    """The per-serial last-seen locations of the compliance projection."""

    _read: Callable[..., Any]  # ReadModels provides it

    def serial_location(self, serial: str) -> SerialLocation | None:
        """The last attestation of ``serial`` (normalised: stripped, upper case), None if never attested."""
        wanted = serial.strip().upper()

        def query(conn: Connection, t: dict[str, Table]) -> SerialLocation | None:
            s = t["serial_location"]
            row: Any = conn.execute(select(s).where(s.c.serial == wanted)).mappings().first()
            if row is None:
                return None
            return SerialLocation(**{**dict(row), "observed_at": utc(row["observed_at"])})

        result: SerialLocation | None = self._read(ComplianceFindings.name, query, None)
        return result
