"""Queries on attested GPU locations (mixed into :class:`projections.queries.ReadModels`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Table, select

from projections.compliance import ComplianceFindings
from projections.findings import INSTALLED_STAGES, utc
from projections.serial_runs import RUN_TABLE, run_serials
from registry.domain.errors import InvalidField

#: The rule an installed serial breaks when no agent attested it within the allowance.
NOT_ATTESTED_RULE = "location-not-attested"


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


@dataclass(frozen=True)
class AttestationGap:
    """A batch's installed serials with no signed check-in within the allowance before ``as_of``:
    ``stale`` were last attested before ``due_after`` (the oldest such check-in is ``oldest_seen``),
    ``never`` were never attested."""

    batch_id: UUID
    due_after: datetime
    stale: list[str]
    never: list[str]
    oldest_seen: datetime | None
    rule_id: str = NOT_ATTESTED_RULE


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

    def attestation_gaps(self, as_of: datetime, allowance_days: int) -> list[AttestationGap]:
        """Per batch, the installed (or assigned) serials whose last attestation is older than
        ``allowance_days`` before ``as_of``, or that have none; evaluated at the caller's time, like
        the other overdue items, so nothing is written per serial while a host stays silent."""
        if not 1 <= allowance_days <= 3650:
            raise InvalidField.one("attestation_days", "must be 1 to 3650")
        due_after = utc(as_of) - timedelta(days=allowance_days)

        def query(conn: Connection, t: dict[str, Table]) -> list[AttestationGap]:
            runs, loc = t[RUN_TABLE], t["serial_location"]
            installed: dict[UUID, list[str]] = {}
            for run in conn.execute(select(runs).where(runs.c.stage.in_(sorted(INSTALLED_STAGES)))
                                    .order_by(runs.c.batch_id)).mappings():
                installed.setdefault(run["batch_id"], []).extend(run_serials(run))
            out: list[AttestationGap] = []
            for batch_id, serials in installed.items():
                seen = {r["serial"]: utc(r["observed_at"]) for r in conn.execute(
                    select(loc.c.serial, loc.c.observed_at).where(loc.c.batch_id == batch_id)).mappings()}
                stale = sorted(s for s in serials if s in seen and seen[s] < due_after)
                never = sorted(s for s in serials if s not in seen)
                if stale or never:
                    out.append(AttestationGap(batch_id, due_after, stale, never,
                                              min((seen[s] for s in stale), default=None)))
            return out

        result: list[AttestationGap] = self._read(ComplianceFindings.name, query, [])
        return result
