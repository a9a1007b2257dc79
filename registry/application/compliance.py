"""Export-control compliance use cases of the registry, as a mixin the ``Registry`` inherits.

What is *decided* here (refused with :class:`ComplianceRefusal` naming the rule, nothing written):

* granting a clearance: classification (3A090/4A090 under the ruleset in force), the
  authorization's validity, destination, consignee, end user and ECCN, restricted-party screening
  of purchaser, consignee and end user, the destination and headquarters rules, and the
  authorization's remaining quantity and value, which the clearance then draws down in the same
  atomic write as the batch's ``ClearanceGranted`` (evidence on the event says why);
* shipping, assigning and transferring to a party with an open or confirmed screening hit, and
  assigning or transferring a controlled item to a party under the headquarters rule that the
  batch's authorization does not name as end user.

What is *recorded*: every list snapshot (hash, import time, entries), every screening run of every
party (``ScreeningCase.Screened``), each officer's resolution of a hit, and the authorization
ledger (``ExportAuthorization.Drawn`` / ``Returned``). Findings over these facts belong to the
compliance projection.

Configuration (rulesets, country groups, screening threshold) is data: see
:meth:`ComplianceMixin.configure_compliance`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError
from eventsourcing.utils import get_topic

from registry.application import compliance_commands as cc
from registry.application.ports import FindingLookup
from registry.application.results import CommandResult
from registry.domain.base import Context, RegistryAggregate
from registry.domain.batch import Clearance, GpuBatch
from registry.domain.classification import (
    Classification,
    ClassificationChange,
    ModelSpec,
    Ruleset,
    RulesetRegistry,
    classification_changes,
    classify,
)
from registry.domain.country_groups import CountryGroupRegistry
from registry.domain.errors import (
    AlreadyExists,
    ComplianceRefusal,
    ConcurrencyConflict,
    IllegalTransition,
    InvalidField,
    NotFound,
)
from registry.domain.findings import FindingReview
from registry.domain.licensing import (
    HeadquartersCheck,
    LicenseRequirement,
    PartyFacts,
    headquarters_check,
    license_requirements,
    require_matching_eccn,
    require_satisfied,
)
from registry.domain.policy import AuthorizationTerms, recipient_headquarters_problem, refuse
from registry.domain.reference import AuthorizationLedger, ExportAuthorization, GpuModel, Party, Site
from registry.domain.rule_data import DEFAULT_RULE_DATA, ComplianceRuleData, RuleData
from registry.domain.screening import (
    DEFAULT_THRESHOLD,
    Matcher,
    ScreeningCase,
    ScreeningList,
    ScreeningLists,
    SnapshotRef,
    parse_screening_csv,
)

if TYPE_CHECKING:
    from registry.application import commands as c

    _Base = Application[UUID]
else:
    _Base = object

MATCHER_CACHE_SIZE = 4


@dataclass
class _ComplianceSettings:
    rule_data: RuleData | None = None  # None: read the recorded one (else the defaults) on first use
    screening_threshold: float = DEFAULT_THRESHOLD
    matchers: dict[UUID, Matcher] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    findings: FindingLookup | None = None


@dataclass(frozen=True)
class AuthorizationExpiry:
    """An authorization that expires within the warning window."""

    authorization_id: UUID
    number: str
    auth_type: str
    valid_to: datetime
    days_left: int
    remaining_quantity: int | None
    remaining_value: Decimal | None


@dataclass(frozen=True)
class ModelClassificationChange:
    model_id: UUID
    change: ClassificationChange


class ComplianceMixin(_Base):
    """Compliance use cases; mixed into :class:`registry.application.service.Registry`."""

    if TYPE_CHECKING:
        _clock: Callable[[], datetime]

        def _load(self, kind: str, ident: UUID) -> Any: ...
        def _get(self, ident: UUID) -> Any: ...
        def _exists(self, ident: UUID) -> bool: ...
        def _require(self, kind: str, ident: UUID | None, field: str) -> Any: ...
        def _execute(self, command: str, actor: str, cmd: c.Command, kind: str, target_id: UUID | None,
                     decide: Callable[[Any], Sequence[RegistryAggregate]]) -> CommandResult: ...
        def _change(self, command: str, actor: str, cmd: c.Command, kind: str, ident: UUID,
                    decide: Callable[[Any], Sequence[RegistryAggregate]]) -> CommandResult: ...
        def _run(self, command: str, actor: str, cmd: c.Command, target: UUID | None,
                 decide: Callable[[Any], Sequence[RegistryAggregate]]) -> CommandResult: ...
        def _create(self, command: str, actor: str, cmd: c.Command, kind: str, ident: UUID | None,
                    make: Callable[[Context, UUID], RegistryAggregate | Sequence[RegistryAggregate]],
                    ) -> CommandResult: ...

    # --------------------------------------------------------------------- configuration
    @property
    def _compliance(self) -> _ComplianceSettings:
        settings: _ComplianceSettings | None = self.__dict__.get("_compliance_settings")
        if settings is None:
            settings = _ComplianceSettings()
            self.__dict__["_compliance_settings"] = settings
        return settings

    def configure_compliance(
        self,
        rulesets: RulesetRegistry | None = None,
        country_groups: CountryGroupRegistry | None = None,
        screening_threshold: float | None = None,
        findings: FindingLookup | None = None,
        actor: str = "system:configuration",
        reason: str = "rule data configured",
    ) -> None:
        """Replace the rule data (e.g. a corrected ruleset or country-group version) or threshold;
        ``findings`` is the compliance read model that officers' decisions are checked against.

        New rule data is recorded in the log (``ComplianceRuleData.Configured``, by ``actor``, with
        ``reason``) when it differs from the recorded one, so the compliance projection judges
        facts by the same rulesets and country groups as the decisions (docs/compliance.md)."""
        s = self._compliance
        if findings is not None:
            s.findings = findings
        if screening_threshold is not None:
            if not 0 < screening_threshold <= 100:
                raise ValueError("screening_threshold must be in (0, 100]")
            s.screening_threshold = float(screening_threshold)
        if rulesets is None and country_groups is None:
            return
        current = self.rule_data
        wanted = RuleData(rulesets or current.rulesets, country_groups or current.country_groups)
        self._record_rule_data(wanted, actor, reason)
        s.rule_data = wanted

    def _record_rule_data(self, wanted: RuleData, actor: str, reason: str) -> None:
        for _ in range(3):
            ctx = Context(actor, "", self._clock())
            record: ComplianceRuleData | None = self._try(ComplianceRuleData.id_for(), ComplianceRuleData)
            if record is None:
                record = ComplianceRuleData.start(ctx)
            if not record.configure(ctx, wanted, reason) and record.version > 1:
                return
            try:
                self.save(record)
                return
            except IntegrityError:
                continue  # a concurrent configuration won: decide again on the fresh record
        raise ConcurrencyConflict(ComplianceRuleData.id_for(), None, None)

    @property
    def rule_data(self) -> RuleData:
        """The rule data in use: configured here, else recorded in the log, else the defaults."""
        s = self._compliance
        if s.rule_data is None:
            record: ComplianceRuleData | None = self._try(ComplianceRuleData.id_for(), ComplianceRuleData)
            recorded = record.current if record is not None else None
            s.rule_data = recorded or DEFAULT_RULE_DATA
        return s.rule_data

    def now(self) -> datetime:
        """The registry's clock: the time a query without ``at`` is evaluated at."""
        return self._clock()

    @property
    def rulesets(self) -> RulesetRegistry:
        return self.rule_data.rulesets

    @property
    def country_groups(self) -> CountryGroupRegistry:
        return self.rule_data.country_groups

    @property
    def screening_threshold(self) -> float:
        return self._compliance.screening_threshold

    # ------------------------------------------------------------------------- helpers
    def _try(self, ident: UUID, cls: type[RegistryAggregate]) -> Any:
        try:
            agg: Any = self._get(ident)
        except AggregateNotFoundError:
            return None
        return agg if isinstance(agg, cls) else None

    def _ids_with_topic(self, topic: str) -> Iterator[UUID]:
        after = 0
        while True:
            page = self.recorder.select_notifications(
                start=after, limit=1000, topics=[topic], inclusive_of_start=False
            )
            if not page:
                return
            for n in page:
                yield n.originator_id if isinstance(n.originator_id, UUID) else UUID(n.originator_id)
            after = page[-1].id

    def _all_parties(self) -> list[Party]:
        parties = [self._try(i, Party) for i in self._ids_with_topic(get_topic(Party.Registered))]
        return [p for p in parties if p is not None]

    def _party_facts(self, party_id: UUID) -> PartyFacts | None:
        party: Party | None = self._try(party_id, Party)
        return PartyFacts.of(party) if party is not None else None

    # ------------------------------------------------------------------ classification
    def ruleset(self, ruleset_id: str) -> Ruleset:
        """A configured ruleset by id; NotFound when none has that id."""
        try:
            return self.rulesets.get(ruleset_id)
        except KeyError:
            raise NotFound("ruleset", ruleset_id) from None

    def classify_model(
        self, model_id: UUID, at: datetime | None = None, ruleset_id: str | None = None
    ) -> Classification:
        """Classify a GPU model under the ruleset in force at ``at`` (default: now), or under the
        configured ruleset ``ruleset_id``."""
        model: GpuModel = self._load("gpu_model", model_id)
        ruleset = self.ruleset(ruleset_id) if ruleset_id else self.rulesets.in_force(at or self._clock())
        return classify(ModelSpec.of(model), ruleset)

    def batches_of_models(self, model_ids: Collection[UUID]) -> dict[UUID, list[UUID]]:
        """The batches (ordered or split off) of each of ``model_ids``, oldest first, read from
        the creating events in the log (a batch's model never changes)."""
        wanted = set(model_ids)
        found: dict[UUID, list[UUID]] = {m: [] for m in wanted}
        if not wanted:
            return found
        topics = [get_topic(GpuBatch.Ordered), get_topic(GpuBatch.SplitFrom)]
        after = 0
        while True:
            page = self.recorder.select_notifications(
                start=after, limit=1000, topics=topics, inclusive_of_start=False
            )
            if not page:
                return found
            for n in page:
                event = self.mapper.to_domain_event(n)
                model_id = getattr(event, "model_id", None)
                if model_id in wanted:
                    found[model_id].append(event.originator_id)
            after = page[-1].id

    def classification_impact(
        self, new_ruleset: Ruleset, at: datetime | None = None
    ) -> list[ModelClassificationChange]:
        """Models whose ECCN or status would change if ``new_ruleset`` replaced the one in force."""
        current = self.rulesets.in_force(at or self._clock())
        specs: dict[str, ModelSpec] = {}
        for model_id in self._ids_with_topic(get_topic(GpuModel.Registered)):
            model: GpuModel | None = self._try(model_id, GpuModel)
            if model is not None:
                specs[model_id.hex] = ModelSpec.of(model)
        return [
            ModelClassificationChange(UUID(ch.key), ch)
            for ch in classification_changes(specs, current, new_ruleset)
        ]

    def headquarters_check(self, party_id: UUID, at: datetime | None = None) -> HeadquartersCheck:
        self._load("party", party_id)
        groups = self.country_groups.in_force(at or self._clock())
        return headquarters_check(party_id, self._party_facts, groups)

    def license_requirements_for(
        self,
        model_id: UUID,
        destination_country: str,
        parties: Sequence[tuple[str, UUID]],
        at: datetime | None = None,
    ) -> list[LicenseRequirement]:
        """Which rules require a license for this model, destination and (role, party) list."""
        when = at or self._clock()
        classification = self.classify_model(model_id, when)
        groups = self.country_groups.in_force(when)
        checks = [(role, self.headquarters_check(pid, when)) for role, pid in parties]
        return license_requirements(
            classification, destination_country, checks, groups, self.rulesets.in_force(when)
        )

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
        party: Party = self._load("party", cmd.party_id)

        def decide(w: Any) -> list[RegistryAggregate]:
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

        return self._run("ScreenParty", actor, cmd, None, decide)

    def resolve_screening_hit(self, actor: str, cmd: cc.ResolveScreeningHit) -> CommandResult:
        """A compliance officer resolves a hit as false positive or confirmed, with a note."""
        self._load("party", cmd.party_id)
        return self._change(
            "ResolveScreeningHit", actor, cmd, "screening_case", ScreeningCase.id_for(cmd.party_id),
            lambda w: w.then(lambda case: case.resolve(w.ctx, cmd.hit_id, cmd.resolution, cmd.note)),
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

    # ------------------------------------------------------------ clearance decision
    def _classification_for_clearance(self, batch: GpuBatch, when: datetime) -> Classification:
        """The batch model's classification at ``when``; refused unless the request states its ECCN."""
        model: GpuModel = self._load("gpu_model", batch.model_id)
        classification = classify(ModelSpec.of(model), self.rulesets.in_force(when))
        require_matching_eccn(classification, str(batch.clearance.get("eccn", "")))
        return classification

    def _assess_clearance(
        self, ctx: Context, batch: GpuBatch, auth: ExportAuthorization, classification: Classification
    ) -> dict[str, Any]:
        """Screening, destination and headquarters rules at decision time, after classification.

        Returns the evidence to record; raises ComplianceRefusal naming the rule.
        """
        when = ctx.occurred_at
        clearance = batch.clearance
        ruleset = self.rulesets.get(classification.ruleset_id)
        groups = self.country_groups.in_force(when)
        roles: list[tuple[str, UUID | None]] = [
            ("purchaser", batch.buyer_id),
            ("consignee", clearance.get("consignee_id")),
            ("end_user", clearance.get("end_user_id")),
        ]
        screening = self._screening_evidence(roles)
        checks = [
            (role, headquarters_check(pid, self._party_facts, groups))
            for role, pid in roles
            if pid is not None
        ]
        destination = str(clearance.get("destination_country", ""))
        requirements = license_requirements(classification, destination, checks, groups, ruleset)
        require_satisfied(
            requirements, auth.auth_type, auth.exception_code, auth.number or auth.exception_code or "NLR"
        )
        evidence: dict[str, Any] = {
            "authorization_type": auth.auth_type,
            "decided_at": when.isoformat(),
            "classification": classification.to_evidence(),
            "ruleset": ruleset.describe(),
            "country_groups": {
                "version": groups.version_id,
                "destination": destination,
                "destination_groups": groups.groups_of(destination),
            },
            "headquarters": [{"role": role, **check.to_evidence()} for role, check in checks],
            "license_requirements": [r.to_evidence() for r in requirements],
            "screening": screening,
            "authorization": {
                "authorization_id": str(auth.id),
                "number": auth.number,
                "auth_type": auth.auth_type,
                "exception_code": auth.exception_code,
                "valid_from": auth.valid_from.isoformat(),
                "valid_to": auth.valid_to.isoformat() if auth.valid_to else None,
            },
        }
        return evidence

    def _draw_for_clearance(
        self, ctx: Context, batch: GpuBatch, auth: ExportAuthorization, cleared_quantity: int
    ) -> dict[str, Any]:
        """Draw the units this clearance newly permits (cleared minus already shipped)."""
        needed = cleared_quantity - batch.totals.get("shipped", 0)
        if needed > 0:
            auth.draw(ctx, batch.id, needed, batch.unit_price, batch.currency,
                      reason=f"clearance of batch {batch.po_number}")
        return {
            "quantity": max(needed, 0),
            "value": str(max(needed, 0) * batch.unit_price),
            "currency": batch.currency,
            "remaining_quantity": auth.remaining_quantity,
            "remaining_value": str(auth.remaining_value) if auth.remaining_value is not None else None,
            "authorization_currency": auth.currency,
        }

    def _return_on_revoke(self, ctx: Context, batch: GpuBatch, reason: str) -> list[RegistryAggregate]:
        """Give back the units a revoked clearance had drawn and not shipped."""
        auth_id = batch.clearance.get("authorization_id")
        auth: ExportAuthorization | None = self._try(auth_id, ExportAuthorization) if auth_id else None
        if auth is None:
            return []
        unshipped = batch.cleared_quantity - batch.totals.get("shipped", 0)
        give = min(unshipped, auth.held_by(batch.id))
        if give <= 0:
            return []
        auth.give_back(ctx, batch.id, give, reason=f"clearance revoked: {reason}")
        return [auth]

    def _move_on_split(self, ctx: Context, parent: GpuBatch, child: GpuBatch) -> list[RegistryAggregate]:
        """A split's child takes its share of the parent's clearance: move that share of the draw."""
        if parent.clearance_status != Clearance.GRANTED:
            return []
        auth_id = parent.clearance.get("authorization_id")
        auth: ExportAuthorization | None = self._try(auth_id, ExportAuthorization) if auth_id else None
        if auth is None:
            return []
        share = min(child.cleared_quantity, auth.held_by(parent.id))
        if share <= 0:
            return []
        auth.move_draw(ctx, parent.id, child.id, share, reason=f"split into batch {child.id}")
        return [auth]

    # ------------------------------------------------------- shipment and assignment
    def _refuse_blocked_parties(self, parties: Sequence[tuple[str, UUID | None]]) -> None:
        """Refuse when any party has an open or confirmed hit (or was not screened)."""
        self._screening_evidence(parties)

    def _refuse_headquarters_recipient(
        self, batch: GpuBatch, party_id: UUID, role: str, when: datetime
    ) -> None:
        """Assigning or transferring a controlled item to a party under the headquarters rule
        needs an authorization (license or an exception that allows it) naming that party
        (``policy.recipient_headquarters_problem``, which the projection calls too)."""
        ruleset = self.rulesets.in_force(when)
        model: GpuModel = self._load("gpu_model", batch.model_id)
        classification = classify(ModelSpec.of(model), ruleset)
        if not classification.controlled:
            return
        check = headquarters_check(party_id, self._party_facts, self.country_groups.in_force(when))
        auth_id = batch.clearance.get("authorization_id")
        auth: ExportAuthorization | None = self._try(auth_id, ExportAuthorization) if auth_id else None
        terms = AuthorizationTerms.of(auth) if auth is not None else None
        problem = recipient_headquarters_problem(classification, check, role, terms, ruleset)
        if problem is not None:
            refuse(problem)

    def _refuse_recipient(self, batch: GpuBatch, party_id: UUID, role: str, when: datetime) -> None:
        self._refuse_blocked_parties([(role, party_id)])
        self._refuse_headquarters_recipient(batch, party_id, role, when)

    def _refuse_shipment_parties(
        self, batch: GpuBatch, carrier_id: UUID | None, site_id: UUID | None
    ) -> None:
        operator: UUID | None = None
        if site_id is not None:
            site: Site = self._load("site", site_id)
            operator = site.operator_id
        self._refuse_blocked_parties(
            [
                ("consignee", batch.clearance.get("consignee_id")),
                ("end_user", batch.clearance.get("end_user_id")),
                ("carrier", carrier_id),
                ("site operator", operator),
            ]
        )

    # ------------------------------------------------------------------------ findings
    def acknowledge_finding(self, actor: str, cmd: cc.AcknowledgeFinding) -> CommandResult:
        """A compliance officer acknowledges a finding of the compliance projection, with a note.

        The result names the finding's review (``FindingReview.id_for(finding_id)``); the projection
        reads the event and marks the finding acknowledged. NotFound when the compliance read model
        (if configured) has no such finding; IllegalTransition unless the finding is open."""
        return self._review("AcknowledgeFinding", actor, cmd, lambda r, ctx: r.acknowledge(ctx, cmd.note))

    def resolve_finding(self, actor: str, cmd: cc.ResolveFinding) -> CommandResult:
        """A compliance officer resolves a finding, saying why. A finding disappears from the open
        ones only this way; new evidence about its subject afterwards raises a new finding."""
        return self._review("ResolveFinding", actor, cmd, lambda r, ctx: r.resolve(ctx, cmd.note))

    def finding_review(self, finding_id: UUID) -> FindingReview | None:
        review: FindingReview | None = self._try(FindingReview.id_for(finding_id), FindingReview)
        return review

    def _review(
        self,
        command: str,
        actor: str,
        cmd: cc.AcknowledgeFinding | cc.ResolveFinding,
        act: Callable[[FindingReview, Context], None],
    ) -> CommandResult:
        lookup = self._compliance.findings
        if lookup is not None and not lookup.finding_exists(cmd.finding_id):
            raise NotFound("finding", cmd.finding_id)
        review_id = FindingReview.id_for(cmd.finding_id)

        def change(w: Any) -> list[RegistryAggregate]:
            act(w.current, w.ctx)
            return [w.current]

        def create(w: Any) -> list[RegistryAggregate]:
            if cmd.expected_version:
                raise ConcurrencyConflict(review_id, cmd.expected_version, 0)
            if self._exists(review_id):
                raise AlreadyExists("finding_review", review_id)
            review = FindingReview.open(w.ctx, cmd.finding_id)
            act(review, w.ctx)
            return [review]

        if not self._exists(review_id):
            try:
                return self._run(command, actor, cmd, None, create)
            except AlreadyExists:
                pass  # a concurrent first decision created the review: decide on it
        return self._change(command, actor, cmd, "finding_review", review_id, change)

    # ---------------------------------------------------------------- authorizations
    def authorization_ledger(self, authorization_id: UUID) -> AuthorizationLedger:
        """Granted (limits), drawn, returned and remaining, with every ledger entry."""
        auth: ExportAuthorization = self._load("authorization", authorization_id)
        return auth.ledger_view()

    def expiring_authorizations(
        self, within_days: int, at: datetime | None = None
    ) -> list[AuthorizationExpiry]:
        """Authorizations still valid at ``at`` that expire within ``within_days`` days, soonest first."""
        if within_days < 0:
            raise InvalidField.one("within_days", "must be >= 0")
        when = at or self._clock()
        horizon = when + timedelta(days=within_days)
        found: list[AuthorizationExpiry] = []
        for auth_id in self._ids_with_topic(get_topic(ExportAuthorization.Registered)):
            auth: ExportAuthorization | None = self._try(auth_id, ExportAuthorization)
            if auth is None or auth.valid_to is None or not auth.is_valid_at(when) or auth.valid_to > horizon:
                continue
            found.append(
                AuthorizationExpiry(
                    authorization_id=auth.id,
                    number=auth.number,
                    auth_type=auth.auth_type,
                    valid_to=auth.valid_to,
                    days_left=(auth.valid_to - when).days,
                    remaining_quantity=auth.remaining_quantity,
                    remaining_value=auth.remaining_value,
                )
            )
        return sorted(found, key=lambda e: (e.valid_to, str(e.authorization_id)))


__all__ = ["AuthorizationExpiry", "ComplianceMixin", "ModelClassificationChange"]
