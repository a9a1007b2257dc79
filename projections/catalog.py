"""The projections the registry runs. Add a projection here to have workers run it."""

from __future__ import annotations

from projections.batch_inventory import BatchInventory
from projections.compliance import ComplianceFindings
from projections.custody import CustodyTrail
from projections.engine import Projection
from projections.event_stream import EventStream
from projections.ownership import Ownership
from projections.site_inventory import SiteInventory


def default_projections() -> list[Projection]:
    """Fresh instances of every read model (each projection object caches its tables)."""
    return [BatchInventory(), Ownership(), SiteInventory(), CustodyTrail(), ComplianceFindings(),
            EventStream()]


def report_projections() -> list[Projection]:
    """The read models an as-of report view may replay: every one but the event stream (the
    renderings SubscribeEvents sends, which no report reads)."""
    return [p for p in default_projections() if not p.raw]


def report_names() -> list[str]:
    return [p.name for p in report_projections()]


def names() -> list[str]:
    return [p.name for p in default_projections()]


def select(only: list[str] | None = None) -> list[Projection]:
    """The named projections (all when ``only`` is empty); an unknown name is an error."""
    from registry.domain.errors import InvalidField

    every = default_projections()
    if not only:
        return every
    known = {p.name: p for p in every}
    unknown = [n for n in only if n not in known]
    if unknown:
        raise InvalidField.one("projection", f"unknown {unknown}; known: {sorted(known)}")
    return [known[n] for n in only]
