"""Restricted-party screening: list snapshots, a fuzzy name matcher, and per-party cases.

* :class:`ScreeningList` is one imported snapshot of a list (e.g. the US Consolidated Screening
  List): its source name, the SHA-256 of the file as received, and every entry. The CSL publishes
  no deltas, so each import is a whole snapshot; :class:`ScreeningLists` remembers the latest
  snapshot per source.
* :class:`Matcher` (``name_matching.py``) compares a party's name with every entry name and
  alternate name after the documented normalisation; a score at or above the threshold is a hit,
  the best below it are near misses. Snapshots are parsed by ``screening_lists.py``.
* :class:`ScreeningCase` (one per party) keeps each hit, the snapshot it came from, and how a
  compliance officer resolved it (false positive or confirmed, with a note, by whom). A hit that
  is open or confirmed and still on the current list blocks clearance, shipment and assignment.
  A hit's id is derived from the party, its normalised name and the entry's content, so a new
  snapshot with the same entry finds the same hit and its resolution carries over; a changed
  entry or a renamed party is a new hit that needs its own resolution.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from uuid import NAMESPACE_URL, UUID, uuid5

from registry.domain.base import Context, RegistryAggregate
from registry.domain.errors import IllegalTransition, InvalidField
from registry.domain.name_matching import (  # re-exported: the screening vocabulary in one place
    ABBREVIATIONS,
    CORPORATE_SUFFIXES,
    DEFAULT_THRESHOLD,
    LEGAL_FORM_PHRASES,
    NEAR_MISS_FLOOR,
    NEAR_MISS_LIMIT,
    Match,
    Matcher,
    match_tokens,
    name_score,
    name_tokens,
    normalise_name,
)
from registry.domain.screening_lists import COLUMN_ALIASES, ListEntry, ParsedList, parse_screening_csv

_CASE_NS = uuid5(NAMESPACE_URL, "urn:gpureg:screening-case")
_HIT_NS = uuid5(NAMESPACE_URL, "urn:gpureg:screening-hit")
_LISTS_ID = uuid5(NAMESPACE_URL, "urn:gpureg:screening-lists")

__all__ = [
    "ABBREVIATIONS", "BLOCKING", "COLUMN_ALIASES", "CORPORATE_SUFFIXES", "DEFAULT_THRESHOLD",
    "LEGAL_FORM_PHRASES", "NEAR_MISS_FLOOR", "NEAR_MISS_LIMIT", "ListEntry", "Match", "Matcher", "ParsedList",
    "Resolution", "ScreeningCase", "ScreeningList", "ScreeningLists", "SnapshotRef", "hit_id_for",
    "match_tokens", "name_score", "name_tokens", "normalise_name", "parse_screening_csv",
]


# --------------------------------------------------------------------------- aggregates
@dataclass(frozen=True)
class SnapshotRef:
    """Which snapshot a screening ran against (without its entries)."""

    snapshot_id: UUID
    source: str
    sha256: str


class ScreeningList(RegistryAggregate):
    """One imported snapshot of a restricted-party list. Immutable once imported."""

    class Imported(RegistryAggregate.Created):
        source: str
        sha256: str
        columns: list[str]
        entry_count: int
        skipped_rows: int
        entries: list[dict[str, Any]]

        def apply(self, aggregate: Any) -> None:
            aggregate.source = self.source
            aggregate.sha256 = self.sha256
            aggregate.columns = list(self.columns)
            aggregate.entry_count = self.entry_count
            aggregate.skipped_rows = self.skipped_rows
            aggregate.entries = list(self.entries)
            aggregate.imported_at = self.occurred_at

    if TYPE_CHECKING:
        source: str
        sha256: str
        columns: list[str]
        entry_count: int
        skipped_rows: int
        entries: list[dict[str, Any]]
        imported_at: datetime

    @classmethod
    def import_snapshot(
        cls, ctx: Context, snapshot_id: UUID, source: str, parsed: ParsedList
    ) -> ScreeningList:
        if not source.strip():
            raise InvalidField.one("source", "name the list, e.g. 'US CSL'")
        return cls._create(
            cls.Imported,
            id=snapshot_id,
            source=source.strip(),
            sha256=parsed.sha256,
            columns=list(parsed.columns),
            entry_count=len(parsed.entries),
            skipped_rows=parsed.skipped_rows,
            entries=[e.to_dict() for e in parsed.entries],
            **ctx.event_kwargs(),
        )

    def list_entries(self) -> list[ListEntry]:
        return [ListEntry.from_dict(d) for d in self.entries]

    @property
    def ref(self) -> SnapshotRef:
        return SnapshotRef(self.id, self.source, self.sha256)


class ScreeningLists(RegistryAggregate):
    """The registry-wide index: the latest snapshot of each source list (one aggregate)."""

    class Started(RegistryAggregate.Created):
        def apply(self, aggregate: Any) -> None:
            aggregate.latest = {}

    class Adopted(RegistryAggregate.Event):
        source: str
        snapshot_id: UUID
        sha256: str
        entry_count: int

        def apply(self, aggregate: Any) -> None:
            aggregate.latest[self.source] = {
                "snapshot_id": self.snapshot_id,
                "sha256": self.sha256,
                "entry_count": self.entry_count,
                "adopted_at": self.occurred_at,
            }

    if TYPE_CHECKING:
        latest: dict[str, dict[str, Any]]

    @staticmethod
    def id_for() -> UUID:
        return _LISTS_ID

    @classmethod
    def start(cls, ctx: Context) -> ScreeningLists:
        return cls._create(cls.Started, id=_LISTS_ID, **ctx.event_kwargs())

    def adopt(self, ctx: Context, snapshot: ScreeningList) -> None:
        self.trigger_event(
            self.Adopted,
            source=snapshot.source,
            snapshot_id=snapshot.id,
            sha256=snapshot.sha256,
            entry_count=snapshot.entry_count,
            **ctx.event_kwargs(),
        )


class Resolution(StrEnum):
    OPEN = "open"
    FALSE_POSITIVE = "false_positive"
    CONFIRMED = "confirmed"


BLOCKING = frozenset({Resolution.OPEN, Resolution.CONFIRMED})


def hit_id_for(party_id: UUID, party_name: str, entry: ListEntry) -> str:
    return str(uuid5(_HIT_NS, f"{party_id.hex}|{normalise_name(party_name)}|{entry.key}"))


class ScreeningCase(RegistryAggregate):
    """A party's screening record: every screening run, every hit and its resolution trail.

    ``hits`` maps a hit id to a dict: ``source`` (the snapshot's list name), ``snapshot_id``,
    ``sha256``, ``entry`` (the list entry), ``matched_name``, ``score``, ``party_name``,
    ``first_seen_at``, ``current`` (still matched by the latest snapshot of its source),
    ``resolution`` (open, false_positive, confirmed) and ``trail`` (each resolution with note,
    actor and time).
    """

    class Opened(RegistryAggregate.Created):
        party_id: UUID

        def apply(self, aggregate: Any) -> None:
            aggregate.party_id = self.party_id
            aggregate.hits = {}
            aggregate.screenings = {}

    class Screened(RegistryAggregate.Event):
        """The party was screened against one snapshot. ``hits`` are all its matches there;
        ``new_hit_ids`` are the ones not seen before; ``lapsed_hit_ids`` are earlier hits of the
        same source that the snapshot no longer produces."""

        party_name: str
        source: str
        snapshot_id: UUID
        sha256: str
        threshold: float
        hits: list[dict[str, Any]]
        new_hit_ids: list[str]
        lapsed_hit_ids: list[str]
        near_misses: list[dict[str, Any]]  # best entries below the threshold: shown, never blocking
        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["near_misses"] = []

        def apply(self, aggregate: Any) -> None:
            aggregate.screenings[self.source] = {
                "snapshot_id": self.snapshot_id,
                "sha256": self.sha256,
                "party_name": self.party_name,
                "threshold": self.threshold,
                "screened_at": self.occurred_at,
                "hit_count": len(self.hits),
                "near_misses": list(self.near_misses),
            }
            for hit in self.hits:
                prior = aggregate.hits.get(hit["hit_id"])
                base = prior if prior is not None else {
                    "resolution": Resolution.OPEN.value,
                    "trail": [],
                    "first_seen_at": self.occurred_at,
                }
                aggregate.hits[hit["hit_id"]] = {
                    **base,
                    **hit,
                    "source": self.source,
                    "snapshot_id": self.snapshot_id,
                    "sha256": self.sha256,
                    "party_name": self.party_name,
                    "current": True,
                }
            for hit_id in self.lapsed_hit_ids:
                aggregate.hits[hit_id] = {**aggregate.hits[hit_id], "current": False}

    class HitResolved(RegistryAggregate.Event):
        hit_id: str
        resolution: str
        note: str

        def apply(self, aggregate: Any) -> None:
            hit = aggregate.hits[self.hit_id]
            entry = {
                "resolution": self.resolution,
                "note": self.note,
                "by": self.actor,
                "at": self.occurred_at,
            }
            aggregate.hits[self.hit_id] = {
                **hit,
                "resolution": self.resolution,
                "trail": [*hit["trail"], entry],
            }

    if TYPE_CHECKING:
        party_id: UUID
        hits: dict[str, dict[str, Any]]
        screenings: dict[str, dict[str, Any]]

    @staticmethod
    def id_for(party_id: UUID) -> UUID:
        return uuid5(_CASE_NS, party_id.hex)

    @classmethod
    def open(cls, ctx: Context, party_id: UUID) -> ScreeningCase:
        return cls._create(cls.Opened, id=cls.id_for(party_id), party_id=party_id, **ctx.event_kwargs())

    def record_screening(
        self,
        ctx: Context,
        party_name: str,
        snapshot: SnapshotRef,
        matches: Iterable[Match],
        threshold: float,
        near_misses: Iterable[Match] = (),
    ) -> None:
        """Record one screening run of this party against ``snapshot``: its hits, and its best near
        misses (scores below the threshold, for an officer to see; they never block)."""
        hits = [
            {
                "hit_id": hit_id_for(self.party_id, party_name, m.entry),
                "entry": m.entry.to_dict(),
                "entry_key": m.entry.key,
                "matched_name": m.matched_name,
                "score": round(m.score, 2),
            }
            for m in matches
        ]
        found = {h["hit_id"] for h in hits}
        new = [h["hit_id"] for h in hits if h["hit_id"] not in self.hits]
        lapsed = sorted(
            hit_id for hit_id, hit in self.hits.items()
            if hit["source"] == snapshot.source and hit["current"] and hit_id not in found
        )
        self.trigger_event(
            self.Screened,
            party_name=party_name,
            source=snapshot.source,
            snapshot_id=snapshot.snapshot_id,
            sha256=snapshot.sha256,
            threshold=float(threshold),
            hits=hits,
            new_hit_ids=new,
            lapsed_hit_ids=lapsed,
            near_misses=[
                {"entry_id": m.entry.entry_id, "source_list": m.entry.source_list, "name": m.entry.name,
                 "matched_name": m.matched_name, "score": round(m.score, 2)}
                for m in near_misses
            ],
            **ctx.event_kwargs(),
        )

    def resolve(self, ctx: Context, hit_id: str, resolution: str, note: str) -> None:
        """A compliance officer's decision on a hit; the actor on the event is who decided."""
        hit = self.hits.get(hit_id)
        if hit is None:
            raise InvalidField.one("hit_id", f"no hit {hit_id} on this party's screening case")
        if resolution not in (Resolution.FALSE_POSITIVE, Resolution.CONFIRMED):
            raise InvalidField.one("resolution", "must be 'false_positive' or 'confirmed'")
        if not note.strip():
            raise InvalidField.one("note", "a resolution states its reason")
        if hit["resolution"] == resolution:
            raise IllegalTransition(
                "resolve_screening_hit", f"hit {resolution}", ["resolve with the other outcome"],
                "the hit already has this resolution",
            )
        self.trigger_event(
            self.HitResolved, hit_id=hit_id, resolution=resolution, note=note.strip(), **ctx.event_kwargs()
        )

    # ------------------------------------------------------------------------ queries
    def blocking_hits(self) -> list[dict[str, Any]]:
        """Hits still on the current list that are open or confirmed."""
        return [
            {"hit_id": hit_id, **hit}
            for hit_id, hit in sorted(self.hits.items())
            if hit["current"] and hit["resolution"] in BLOCKING
        ]

    def is_current(self, latest: Mapping[str, Mapping[str, Any]], party_name: str) -> bool:
        """True when the party was screened, under its current name, against every latest snapshot."""
        for source, info in latest.items():
            done = self.screenings.get(source)
            if done is None or done["snapshot_id"] != info["snapshot_id"] or done["party_name"] != party_name:
                return False
        return True
