"""Restricted-party screening use cases: list snapshots, screening runs, officers' resolutions,
and the screening evidence (or refusal) of a decision. A mixin of the ``Registry`` (through
``ComplianceMixin``), on the command executor."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

from registry.application import compliance_commands as cc
from registry.application.results import CommandResult
from registry.application.use_case_host import ComplianceUseCaseHost
from registry.domain.base import Context, RegistryAggregate
from registry.domain.errors import (
    AlreadyExists,
    ComplianceRefusal,
    ConcurrencyConflict,
    IllegalTransition,
)
from registry.domain.reference import Party
from registry.domain.screening import (
    Matcher,
    ScreeningCase,
    ScreeningList,
    ScreeningLists,
    SnapshotRef,
    parse_screening_csv,
)

if TYPE_CHECKING:
    pass


MATCHER_CACHE_SIZE = 4


class ScreeningMixin(ComplianceUseCaseHost):
    """Screening use cases; mixed into the ``Registry`` through ``ComplianceMixin``."""

    # ----------------------------------------------------------------------- screening
    def screening_lists(self) -> dict[str, dict[str, Any]]:
        """The latest snapshot per source: snapshot_id, sha256, entry_count, adopted_at."""
        index: ScreeningLists | None = self._try(ScreeningLists.id_for(), ScreeningLists)
        return {k: dict(v) for k, v in index.latest.items()} if index is not None else {}

    def get_screening_list(self, snapshot_id: UUID) -> ScreeningList:
        snapshot: ScreeningList = self._load("screening_list", snapshot_id)
        return snapshot

    def screening_case(self, party_id: UUID) -> ScreeningCase | None:
        """A party's screening record (every run, every hit and its resolution), or None."""
        case: ScreeningCase | None = self._try(ScreeningCase.id_for(party_id), ScreeningCase)
        return case

    def _matcher(self, snapshot_id: UUID, snapshot: ScreeningList | None = None) -> Matcher:
        """A snapshot's matcher, built once (loading the snapshot only then) and kept for the few
        latest snapshots."""
        settings = self._compliance
        with settings.lock:
            matcher = settings.matchers.get(snapshot_id)
        if matcher is None:
            matcher = Matcher((snapshot or self.get_screening_list(snapshot_id)).list_entries())
            with settings.lock:
                while len(settings.matchers) >= MATCHER_CACHE_SIZE:
                    settings.matchers.pop(next(iter(settings.matchers)))
                settings.matchers[snapshot_id] = matcher
        return matcher

    def _latest_snapshots(self) -> list[SnapshotRef]:
        return [
            SnapshotRef(info["snapshot_id"], source, info["sha256"])
            for source, info in sorted(self.screening_lists().items())
        ]

    def _screen(
        self, ctx: Context, case: ScreeningCase, party_name: str, snapshots: Sequence[SnapshotRef]
    ) -> None:
        threshold = self.screening_threshold
        for ref in snapshots:
            matches, near = self._matcher(ref.snapshot_id).screen(party_name, threshold)
            case.record_screening(ctx, party_name, ref, matches, threshold, near)

    def _screening_for(self, ctx: Context, party: Party) -> list[RegistryAggregate]:
        """Screen a party against the latest snapshots; the case to save with it (or nothing)."""
        snapshots = self._latest_snapshots()
        if not snapshots:
            return []
        case = self.screening_case(party.id) or ScreeningCase.open(ctx, party.id)
        self._screen(ctx, case, party.name, snapshots)
        return [case]

    def import_screening_list(self, actor: str, cmd: cc.ImportScreeningList) -> CommandResult:
        """Import a list snapshot and screen every registered party against it, in one write.

        The result names the snapshot. A file that is not UTF-8 CSV with a ``name`` column is
        refused (``InvalidField`` on ``content``) and nothing is written.
        """
        parsed = parse_screening_csv(cmd.content, cmd.source)
        snapshot_id = cmd.snapshot_id or uuid4()

        def decide(w: Any) -> list[RegistryAggregate]:
            ctx: Context = w.ctx
            if self._exists(snapshot_id):
                raise AlreadyExists("screening_list", snapshot_id)
            snapshot = ScreeningList.import_snapshot(ctx, snapshot_id, cmd.source, parsed)
            index: ScreeningLists = (
                self._try(ScreeningLists.id_for(), ScreeningLists) or ScreeningLists.start(ctx)
            )
            index.adopt(ctx, snapshot)
            changed: list[RegistryAggregate] = [snapshot, index]
            self._matcher(snapshot.id, snapshot)
            for party in self._all_parties():
                case = self.screening_case(party.id) or ScreeningCase.open(ctx, party.id)
                self._screen(ctx, case, party.name, [snapshot.ref])
                changed.append(case)
            return changed

        return self._run("ImportScreeningList", actor, cmd, None, decide)

    def screen_party(self, actor: str, cmd: cc.ScreenParty) -> CommandResult:
        """Screen one party again now (e.g. after a concurrent import). Result names the case."""
        def decide(w: Any) -> list[RegistryAggregate]:
            party: Party = w.references["party_id"]
            if cmd.expected_version is not None:
                case = self.screening_case(party.id)
                current = case.version if case is not None else 0
                if current != cmd.expected_version:
                    raise ConcurrencyConflict(ScreeningCase.id_for(party.id), cmd.expected_version, current)
            changed = self._screening_for(w.ctx, party)
            if not changed:
                raise IllegalTransition(
                    "screen_party", "no screening list imported", ["import_screening_list"],
                    "there is no list to screen against",
                )
            return changed

        return self._run("ScreenParty", actor, cmd, None, decide, [("party", cmd.party_id, "party_id")])

    def resolve_screening_hit(self, actor: str, cmd: cc.ResolveScreeningHit) -> CommandResult:
        """A compliance officer resolves a hit as false positive or confirmed, with a note."""
        return self._change(
            "ResolveScreeningHit", actor, cmd, "screening_case", ScreeningCase.id_for(cmd.party_id),
            lambda w: w.then(lambda case: case.resolve(w.ctx, cmd.hit_id, cmd.resolution, cmd.note)),
            [("party", cmd.party_id, "party_id")],
        )

    def _screening_evidence(self, parties: Sequence[tuple[str, UUID | None]]) -> list[dict[str, Any]]:
        """Refuse if any party has a blocking hit or was not screened against the latest lists;
        otherwise the screening evidence to record with the decision."""
        latest = self.screening_lists()
        evidence: list[dict[str, Any]] = []
        seen: set[UUID] = set()
        for role, party_id in parties:
            if party_id is None or party_id in seen:
                continue
            seen.add(party_id)
            party: Party = self._load("party", party_id)
            case = self.screening_case(party_id)
            if latest and (case is None or not case.is_current(latest, party.name)):
                raise ComplianceRefusal(
                    "screening-stale",
                    f"{role} {party.name} has not been screened under its current name against the "
                    f"latest list snapshot(s) {sorted(latest)}; screen the party again (screen_party)",
                    facts={"role": role, "party_id": str(party_id), "party_name": party.name,
                           "latest_lists": ",".join(
                               f"{src}:{info['sha256'][:12]}" for src, info in sorted(latest.items()))},
                )
            if case is None:
                evidence.append({"role": role, "party_id": str(party_id), "screened": {}, "hits": []})
                continue
            blocking = case.blocking_hits()
            if blocking:
                hit = blocking[0]
                entry = hit["entry"]
                todo = " and must be resolved by a compliance officer" if hit["resolution"] == "open" else ""
                raise ComplianceRefusal(
                    "screening-hit",
                    f"{role} {party.name} matches {entry['name']!r} (entry {entry['entry_id']}, "
                    f"score {hit['score']}) on {entry['source_list']} in snapshot {hit['sha256'][:12]} "
                    f"of {hit['source']}; hit {hit['hit_id']} is {hit['resolution']}{todo}",
                    citation=str(entry["source_list"]),
                    facts={"role": role, "party_id": str(party_id), "party_name": party.name,
                           "hit_id": str(hit["hit_id"]), "resolution": str(hit["resolution"]),
                           "score": str(hit["score"]), "entry_id": str(entry["entry_id"]),
                           "entry_name": str(entry["name"]), "source_list": str(entry["source_list"]),
                           "snapshot_sha256": str(hit["sha256"])},
                )
            evidence.append(
                {
                    "role": role,
                    "party_id": str(party_id),
                    "case_id": str(case.id),
                    "screened": {
                        source: {
                            "snapshot_id": str(info["snapshot_id"]),
                            "sha256": info["sha256"],
                            "screened_at": info["screened_at"].isoformat(),
                            "threshold": info["threshold"],
                        }
                        for source, info in sorted(case.screenings.items())
                    },
                    "hits": [
                        {
                            "hit_id": hit_id,
                            # where the hit came from: the list, its entry, the snapshot (CSL guidance)
                            "source": hit.get("source", ""),
                            "snapshot_sha256": hit.get("sha256", ""),
                            "source_list": hit["entry"].get("source_list", ""),
                            "entry_id": hit["entry"].get("entry_id", ""),
                            "entry_name": hit["entry"].get("name", ""),
                            "resolution": hit["resolution"],
                            "current": hit["current"],
                            "score": hit["score"],
                            "resolved_by": hit["trail"][-1]["by"] if hit["trail"] else None,
                        }
                        for hit_id, hit in sorted(case.hits.items())
                    ],
                }
            )
        return evidence

