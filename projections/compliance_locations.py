"""The compliance projection's attested locations: each serial's last signed check-in, and the
findings when it is not where its license and the registry put it (docs/locations.md).

A ``HostAgent.Attested`` event carries the batch of each serial it names, so the handler needs no
serial index: per batch, the attested country is held to the batch's cleared destination and
its authorization (``unit-outside-licensed-location``, critical), and in the right country the
attested site to the site the registry has each serial installed at (``unit-location-mismatch``).
The per-serial row keeps the latest observation only: a check-in writes one row per serial it
names, however many check-ins came before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from sqlalchemy import BigInteger, Column, DateTime, Index, MetaData, String, Table, Uuid

from projections.compliance_checks import _country_problems
from projections.compliance_lookups import _authorization_of, _site_name
from projections.compliance_serials import serial_runs
from projections.engine import Work
from projections.findings import INSTALLED_STAGES, _flag, utc


def define_locations(metadata: MetaData, name: Callable[[str], str]) -> Table:
    """``serial_location``: the last attestation naming each serial."""
    table = Table(
        name("serial_location"), metadata,
        Column("serial", String(64), primary_key=True),
        Column("batch_id", Uuid, nullable=False),
        Column("agent_id", Uuid, nullable=False),
        Column("sequence", BigInteger, nullable=False),
        Column("observed_at", DateTime(timezone=True), nullable=False),
        Column("country", String(2), nullable=False),
        Column("site_id", Uuid, nullable=False),
        Column("latitude", String(16), nullable=False),
        Column("longitude", String(16), nullable=False),
        Column("method", String(16), nullable=False),
        Column("position", BigInteger, nullable=False),
    )
    Index(f"ix_{table.name}_batch", table.c.batch_id)
    return table


def _attested(work: Work, e: Any) -> None:
    locations = work.cache("serial_location")
    observed = utc(e.observed_at)
    for batch_hex, serials in e.batches.items():
        batch_id = UUID(batch_hex)
        known = locations.get_many(serials)  # one query for the check-in's serials, not one each
        locations.put_many([{
            "serial": serial, "batch_id": batch_id, "agent_id": e.originator_id, "sequence": e.sequence,
            "observed_at": observed, "country": e.country, "site_id": e.site_id, "latitude": e.latitude,
            "longitude": e.longitude, "method": e.method, "position": work.position,
        } for serial, row in zip(serials, known, strict=True)
            if row is None or utc(row["observed_at"]) <= observed])  # a late older observation: the newer stays
        batch = work.cache("batch").get(batch_id)
        if batch is not None:
            _check_attested(work, e, dict(batch), serials)


def _check_attested(work: Work, e: Any, batch: dict[str, Any], serials: list[str]) -> None:
    where = f"attested location (agent {e.originator_id}, sequence {e.sequence})"
    outside = _country_problems(batch, _authorization_of(work, batch), e.country, where)
    if outside:
        _flag(work, e, "unit-outside-licensed-location", f"attested:{batch['batch_id'].hex}:{e.country}",
              severity="critical", batch=batch, serials=serials, site_id=e.site_id,
              reason=f"units attested outside their licensed location: {outside[0]}")
        return
    named = set(serials)
    elsewhere = serial_runs(work).serials(
        batch["batch_id"],
        lambda r: r["stage"] in INSTALLED_STAGES and bool(r["site"]) and UUID(str(r["site"])) != e.site_id)
    moved = [s for s in elsewhere if s in named]
    if moved:
        _flag(work, e, "unit-location-mismatch", f"attested-site:{batch['batch_id'].hex}:{e.site_id.hex}",
              severity="high", batch=batch, serials=moved, site_id=e.site_id,
              reason=f"units the registry has installed at another site attested at {_site_name(work, e.site_id)} "
              f"in {e.country}")
