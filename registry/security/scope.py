"""What a party may see: its batches (buyer, consignee or end user is the party or one of its
subsidiaries) and its sites (operated by the party or a subsidiary).

:class:`ScopeIndex` follows the event log (parties, sites, orders, splits, clearance requests),
incrementally: each :meth:`ScopeIndex.refresh` reads only what was appended since the last one.
A :class:`Scope` is one caller's view of it, made by the auth interceptor for each call of a
partner or site operator; every confinement in :mod:`registry.security.policy` asks it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic

from registry.application.service import Registry
from registry.domain.base import Amendable
from registry.domain.batch import GpuBatch
from registry.domain.errors import NotFound
from registry.domain.host_agent import HostAgent
from registry.domain.reference import Party, Site

_TOPICS = sorted({
    get_topic(Party.Registered), get_topic(Site.Registered), get_topic(Amendable.Amended),
    get_topic(GpuBatch.Ordered), get_topic(GpuBatch.SplitFrom),
    get_topic(GpuBatch.ClearanceRequested), get_topic(GpuBatch.ClearanceGranted),
    get_topic(HostAgent.Registered),
})
_PAGE = 2000


def _uuid(value: Any) -> UUID | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, UUID) else UUID(str(value))


class ScopeIndex:
    """Parties' parents, sites' operators, and each batch's parties, as of :attr:`position`."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry
        self._lock = threading.Lock()
        self.position = 0
        self._parent: dict[UUID, UUID | None] = {}  # party -> ultimate parent
        self._operator: dict[UUID, UUID] = {}  # site -> operator party
        self._batch_parties: dict[UUID, set[UUID]] = {}  # batch -> buyer, consignees, end users
        self._children: dict[UUID, list[UUID]] = {}  # batch -> batches split off it
        self._agent_site: dict[UUID, UUID] = {}  # host agent -> the site it was registered for

    def refresh(self, up_to: int | None = None) -> None:
        """Read what the log gained since the last refresh (a worker thread runs this); ``up_to``: only
        to that log position (an index as of a past position, for a partner's report as of then)."""
        with self._lock:
            # Every event at or before the head read first was committed before the pages are
            # read (as for subscriptions, registry/server/events.py), so the index then accounts
            # for the whole log up to that head.
            head = self._registry.head() if up_to is None else up_to
            while True:
                page = self._registry.read_log(self.position, _PAGE, _TOPICS)
                if up_to is not None:
                    page = [n for n in page if n.id <= up_to]
                for notification in page:
                    self._apply(self._registry.decode(notification))
                if page:
                    self.position = page[-1].id
                if len(page) < _PAGE:
                    self.position = max(self.position, head)
                    return

    def _apply(self, event: Any) -> None:
        ident: UUID = event.originator_id
        if isinstance(event, Party.Registered):
            self._parent[ident] = event.ultimate_parent_id
        elif isinstance(event, Site.Registered):
            self._operator[ident] = event.operator_id
        elif isinstance(event, Amendable.Amended):
            if ident in self._parent and "ultimate_parent_id" in event.fields:
                self._parent[ident] = _uuid(event.fields["ultimate_parent_id"])
            if ident in self._operator and "operator_id" in event.fields:
                operator = _uuid(event.fields["operator_id"])
                if operator is not None:
                    self._operator[ident] = operator
        elif isinstance(event, GpuBatch.Ordered):
            self._batch_parties[ident] = {event.buyer_id}
        elif isinstance(event, GpuBatch.SplitFrom):
            parties = {event.buyer_id}
            for key in ("consignee_id", "end_user_id"):
                party = _uuid(event.clearance.get(key))
                if party is not None:
                    parties.add(party)
            self._batch_parties[ident] = parties | self._batch_parties.get(event.parent_id, set())
            self._children.setdefault(event.parent_id, []).append(ident)
        elif isinstance(event, HostAgent.Registered):
            self._agent_site[ident] = event.site_id
        elif isinstance(event, GpuBatch.ClearanceRequested | GpuBatch.ClearanceGranted):
            self._add_parties(ident, {event.consignee_id, event.end_user_id})

    def _add_parties(self, batch: UUID, parties: set[UUID]) -> None:
        self._batch_parties.setdefault(batch, set()).update(parties)
        for child in self._children.get(batch, ()):
            self._add_parties(child, parties)

    # ------------------------------------------------------------------ answers (no I/O)
    def knows_batch(self, batch_id: UUID) -> bool:
        return batch_id in self._batch_parties

    def family(self, party_id: UUID) -> frozenset[UUID]:
        """The party and every party whose ultimate parent it is."""
        return frozenset({party_id} | {p for p, parent in list(self._parent.items()) if parent == party_id})

    def batch_in(self, batch_id: UUID, family: frozenset[UUID]) -> bool:
        return not self._batch_parties.get(batch_id, set()).isdisjoint(family)

    def batches_in(self, family: frozenset[UUID]) -> frozenset[UUID]:
        """Every batch the index knows whose parties include one of ``family``."""
        return frozenset(b for b, parties in list(self._batch_parties.items()) if not parties.isdisjoint(family))

    def holds_all(self, batch_id: UUID, serials: Iterable[str], family: frozenset[UUID]) -> bool:
        """Whether every serial named is a unit of the batch that one of ``family`` owns or is
        assigned now (read from the batch itself: units transferred to another party)."""
        wanted = list(serials)
        if not wanted:
            return False
        try:
            batch = self._registry.get_batch(batch_id)
        except NotFound:  # no such batch: nothing is held
            return False
        holders = {p.hex for p in family}
        units = batch.units
        return all(
            (unit := units.get(s)) is not None and (unit.owner in holders or unit.assignee in holders)
            for s in wanted
        )

    def at_hand(self, batch_id: UUID, serial: str, family: frozenset[UUID]) -> bool:
        """Whether the unit is one ``family`` has at hand now: it owns or is assigned it, or the
        registry has it at one of the family's sites (read from the batch itself)."""
        try:
            unit = self._registry.get_batch(batch_id).units.get(serial)
        except NotFound:
            return False
        if unit is None:
            return False
        holders = {p.hex for p in family}
        return unit.owner in holders or unit.assignee in holders or (
            bool(unit.site) and self.site_in(UUID(unit.site), family))

    def site_in(self, site_id: UUID, family: frozenset[UUID]) -> bool:
        return self._operator.get(site_id) in family

    def agent_in(self, agent_id: UUID, family: frozenset[UUID]) -> bool:
        """Whether the host agent was registered for a site of ``family``."""
        site = self._agent_site.get(agent_id)
        return site is not None and self.site_in(site, family)


@dataclass(frozen=True)
class Scope:
    """One party's view: what a partner or site operator may see and touch."""

    party_id: UUID
    family: frozenset[UUID]
    index: ScopeIndex

    @classmethod
    def of(cls, party_id: UUID, index: ScopeIndex) -> Scope:
        return cls(party_id, index.family(party_id), index)

    def sees_batch(self, batch_id: UUID) -> bool:
        return self.index.batch_in(batch_id, self.family)

    def holds_units(self, batch_id: UUID, serials: Iterable[str]) -> bool:
        """Whether the party's family holds (owns or is assigned) every one of these units of a
        batch that is not its own: units transferred to it, whose end of life it reports."""
        return self.index.holds_all(batch_id, serials, self.family)

    def may_attest(self, batch_id: UUID, serial: str) -> bool:
        """Whether the party's host agents may attest this unit: one of its batches, or a unit it
        has at hand (owns, is assigned, or the registry has at one of its sites). Any other
        party's unit is answered as a serial the registry does not know (docs/locations.md)."""
        return self.sees_batch(batch_id) or self.index.at_hand(batch_id, serial, self.family)

    def sees_party(self, party_id: UUID) -> bool:
        return party_id in self.family

    def sees_site(self, site_id: UUID) -> bool:
        return self.index.site_in(site_id, self.family)

    def sees_agent(self, agent_id: UUID) -> bool:
        return self.index.agent_in(agent_id, self.family)

    def behind(self, position: int) -> bool:
        """Whether the index has not yet read the log up to ``position``."""
        return self.index.position < position

    def unknown(self, batch_ids: Iterable[UUID]) -> bool:
        """Whether any of these batches is newer than the index (refresh, then ask again)."""
        return any(not self.index.knows_batch(b) for b in batch_ids)
