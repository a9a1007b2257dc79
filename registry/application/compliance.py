"""Export-control compliance use cases of the registry, as a mixin the ``Registry`` inherits.

One concept: the export-control decisions of the registry (clearance, shipment, assignment,
transfer) with the rule data and the classification and licensing queries they are made by.

What is *decided* here (refused with :class:`ComplianceRefusal` naming the rule, nothing written):

* granting a clearance: classification (3A090/4A090 under the ruleset in force), the
  authorization's validity, destination, consignee, end user and ECCN, restricted-party screening
  of purchaser, consignee and end user, the destination and headquarters rules, and the
  authorization's remaining quantity and value, which the clearance then draws down in the same
  atomic write as the batch's ``ClearanceGranted`` (evidence on the event says why);
* shipping, assigning and transferring to a party with an open or confirmed screening hit, and
  assigning or transferring a controlled item to a party under the headquarters rule that the
  batch's authorization does not name as end user, or names but is not valid then;
* shipping under an authorization that no longer covers the export as it stands then: expired,
  amended so it no longer names the cleared destination, ultimate consignee, end user or ECCN, or
  drawn beyond a lowered limit (``policy.shipment_coverage_problems``).

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
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError
from eventsourcing.utils import get_topic

from registry.application.findings import FindingsMixin
from registry.application.legal_holds import LegalHoldsMixin
from registry.application.ports import AuthorizationExpiry, FindingLookup, ReferenceQueries
from registry.application.results import CommandResult
from registry.application.screening import ScreeningMixin
from registry.domain.authorization_ledger import AuthorizationLedger
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
    ConcurrencyConflict,
    InvalidField,
    NotFound,
)
from registry.domain.licensing import (
    HeadquartersCheck,
    LicenseRequirement,
    PartyFacts,
    headquarters_check,
    license_requirements,
    require_matching_eccn,
    require_satisfied,
)
from registry.domain.policy import (
    AuthorizationTerms,
    Problem,
    intermediate_consignee_problem,
    recipient_headquarters_problem,
    refuse,
    refuse_first,
    shipment_coverage_problems,
    shipment_destination_problem,
    shipment_recipients,
)
from registry.domain.reference import ExportAuthorization, GpuModel, Party, Site
from registry.domain.rule_data import DEFAULT_RULE_DATA, ComplianceRuleData, RuleData
from registry.domain.screening import (
    DEFAULT_THRESHOLD,
    Matcher,
)

if TYPE_CHECKING:
    from registry.application import commands as c

    _Base = Application[UUID]
else:
    _Base = object



@dataclass
class _ComplianceSettings:
    rule_data: RuleData | None = None  # None: read the recorded one (else the defaults) on first use
    screening_threshold: float = DEFAULT_THRESHOLD
    matchers: dict[UUID, Matcher] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    findings: FindingLookup | None = None
    reference: ReferenceQueries | None = None  # read models for whole-log questions


READ_MODEL_WAIT = 5.0  # seconds a whole-log question waits for the read models before asking the log
@dataclass(frozen=True)
class ModelClassificationChange:
    model_id: UUID
    change: ClassificationChange


class ComplianceMixin(ScreeningMixin, FindingsMixin, LegalHoldsMixin, _Base):
    """Compliance use cases; mixed into :class:`registry.application.service.Registry`."""

    if TYPE_CHECKING:
        _clock: Callable[[], datetime]

        def _load(self, kind: str, ident: UUID) -> Any: ...
        def head(self) -> int: ...
        def _get(self, ident: UUID) -> Any: ...
        def _exists(self, ident: UUID) -> bool: ...
        def _require(self, kind: str, ident: UUID | None, field: str) -> Any: ...
        def _execute(self, command: str, actor: str, cmd: c.Command, kind: str, target_id: UUID | None,
                     decide: Callable[[Any], Sequence[RegistryAggregate]],
                     references: Sequence[tuple[str, UUID | None, str]] = (),
                     shared: Sequence[UUID] = ()) -> CommandResult: ...
        def _change(self, command: str, actor: str, cmd: c.Command, kind: str, ident: UUID,
                    decide: Callable[[Any], Sequence[RegistryAggregate]],
                    references: Sequence[tuple[str, UUID | None, str]] = (),
                    shared: Sequence[UUID] = ()) -> CommandResult: ...
        def _run(self, command: str, actor: str, cmd: c.Command, target: UUID | None,
                 decide: Callable[[Any], Sequence[RegistryAggregate]],
                 references: Sequence[tuple[str, UUID | None, str]] = ()) -> CommandResult: ...
        def _create(self, command: str, actor: str, cmd: c.Command, kind: str, ident: UUID | None,
                    make: Callable[[Context, UUID], RegistryAggregate | Sequence[RegistryAggregate]],
                    references: Sequence[tuple[str, UUID | None, str]] = ()) -> CommandResult: ...

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
        reference: ReferenceQueries | None = None,
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
        if reference is not None:
            s.reference = reference
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
        """Every registered party, ordered by id: the read models' list once they have applied the
        whole log, else the parties' creating events in the log."""
        reference = self._read_models_at_head()
        if reference is not None:
            ids = reference.party_ids()
        else:
            ids = sorted(self._ids_with_topic(get_topic(Party.Registered)), key=str)
        parties = [self._try(i, Party) for i in ids]
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

    def _read_models_at_head(self) -> ReferenceQueries | None:
        """The configured read models once they have applied the whole log (None: ask the log)."""
        reference = self._compliance.reference
        if reference is None or not reference.reached(self.head(), READ_MODEL_WAIT):
            return None
        return reference

    def batches_of_models(self, model_ids: Collection[UUID]) -> dict[UUID, list[UUID]]:
        """The batches (ordered or split off) of each of ``model_ids``, oldest first: from the read
        models (compliance), else from the creating events in the log (a batch's model never changes)."""
        reference = self._read_models_at_head()
        if reference is not None:
            return reference.batches_of_models(model_ids)
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
        reference = self._read_models_at_head()
        if reference is not None:
            specs = {model_id.hex: spec for model_id, spec in reference.model_specs().items()}
        else:
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
                "aes_license_code": (
                    ruleset.aes_license_code(auth.exception_code) if auth.auth_type == "license_exception" else ""
                ),
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
        auth = self._batch_authorization(batch)
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
    def _classified_at(self, batch: GpuBatch, when: datetime) -> tuple[Ruleset, Classification]:
        """The ruleset in force at ``when`` and the batch's model classified under it."""
        ruleset = self.rulesets.in_force(when)
        model: GpuModel = self._load("gpu_model", batch.model_id)
        return ruleset, classify(ModelSpec.of(model), ruleset)

    def _before_any_rule(self, when: datetime) -> bool:
        """Whether ``when`` is before the first advanced-computing ruleset or country-group version."""
        return when < max(self.rulesets.rulesets[0].effective_from, self.country_groups.versions[0].effective_from)

    def _batch_authorization(self, batch: GpuBatch) -> ExportAuthorization | None:
        """The authorization of the batch's clearance, if it has one and it exists."""
        auth_id = batch.clearance.get("authorization_id")
        return self._try(auth_id, ExportAuthorization) if auth_id else None

    def _refuse_blocked_parties(self, parties: Sequence[tuple[str, UUID | None]]) -> None:
        """Refuse when any party has an open or confirmed hit (or was not screened)."""
        self._screening_evidence(parties)

    def _refuse_headquarters_recipient(
        self, batch: GpuBatch, party_id: UUID, role: str, when: datetime
    ) -> None:
        """Assigning or transferring a controlled item to a party under the headquarters rule
        needs an authorization (license or an exception that allows it) naming that party, valid
        at ``when`` (``policy.recipient_headquarters_problem``, which the projection calls too)."""
        ruleset, classification = self._classified_at(batch, when)
        if not classification.controlled:
            return
        check = headquarters_check(party_id, self._party_facts, self.country_groups.in_force(when))
        auth = self._batch_authorization(batch)
        terms = AuthorizationTerms.of(auth) if auth is not None else None
        problem = recipient_headquarters_problem(classification, check, role, terms, ruleset, when)
        if problem is not None:
            refuse(problem)

    def _refuse_recipient(self, batch: GpuBatch, party_id: UUID, role: str, when: datetime) -> None:
        self._refuse_blocked_parties([(role, party_id)])
        self._refuse_headquarters_recipient(batch, party_id, role, when)

    def _refuse_shipment_authorization(self, batch: GpuBatch, when: datetime) -> None:
        """The clearance's authorization as it stands when the units leave: valid at the shipment
        (``authorization-validity``, ``facts.state`` = ``expired`` after its ``valid_to``), still
        naming the cleared destination, ultimate consignee, end user and ECCN after an amendment
        (``authorization-destination``, ``-consignee``, ``-end-user``, ``-eccn``), and not drawn
        beyond a limit an amendment lowered (``authorization-quantity``, ``-value``):
        ``policy.shipment_coverage_problems``. An export the authorization does not cover is an
        export without one (15 CFR 736.2(b)(1)): refused, nothing written."""
        auth = self._batch_authorization(batch)
        if auth is None:
            return
        clearance = batch.clearance
        refuse_first(shipment_coverage_problems(
            AuthorizationTerms.of(auth), when, str(clearance.get("destination_country", "")),
            clearance.get("consignee_id"), clearance.get("end_user_id"), str(clearance.get("eccn", "")),
            auth.remaining_quantity, auth.remaining_value,
        ))

    def _refuse_shipment_license(
        self, batch: GpuBatch, when: datetime, intermediate_consignee_ids: Sequence[UUID] = ()
    ) -> None:
        """The license rules again when the units leave, with the rule data in force at the
        shipment: the destination rule for the cleared destination (``destination-country-group``,
        say after a new country-group version) and the headquarters rule for the purchaser,
        consignee, end user and each intermediate consignee (``headquarters-rule``, say after a
        parent or headquarters was corrected). The clearance's authorization must satisfy them as
        at the grant (a license, or an exception the rule allows; 15 CFR 742.6(a)(6)(iii)).

        An intermediate consignee takes possession of the items on their way: handing them to an
        entity headquartered (or whose ultimate parent is) in D:5 or Macau is the in-country
        transfer the headquarters rule names, so it counts as a party receiving the items. The
        forwarder and the carrier arrange or move the goods without being a party the items are
        for: they are screened, not held to the headquarters rule."""
        if self._before_any_rule(when):
            return  # before any advanced-computing rule
        ruleset, classification = self._classified_at(batch, when)
        groups = self.country_groups
        if not classification.controlled:
            return
        in_force = groups.in_force(when)
        recipients = shipment_recipients(batch.buyer_id, batch.clearance.get("consignee_id"),
                                         batch.clearance.get("end_user_id"), intermediate_consignee_ids)
        checks = [(role, headquarters_check(p, self._party_facts, in_force)) for role, p in recipients]
        destination = str(batch.clearance.get("destination_country", ""))
        requirements = license_requirements(classification, destination, checks, in_force, ruleset)
        if not requirements:
            return
        auth = self._batch_authorization(batch)
        if auth is not None:
            require_satisfied(requirements, auth.auth_type, auth.exception_code,
                              auth.number or auth.exception_code or "NLR")

    def _refuse_shipment_classification(self, batch: GpuBatch, when: datetime) -> None:
        """The export leaves under the clearance's ECCN as it stands when it ships, not only as at
        the grant: the model's classification in force at the shipment (a corrected figure, a new
        ruleset) must still be the cleared ECCN, which the Destination Control Statement and the
        EEI carry (``classification-mismatch``; 15 CFR 758.6). The authorization's own coverage at
        the shipment is :meth:`_refuse_shipment_authorization`."""
        if self._before_any_rule(when):
            return
        _, classification = self._classified_at(batch, when)
        require_matching_eccn(classification, str(batch.clearance.get("eccn", "")))

    def _refuse_shipment_value(self, batch: GpuBatch) -> None:
        """A value-limited authorization bounds the value exported under it. The grant drew the
        batch's units at the order's unit price then; when the price was corrected upwards since
        (``CorrectOrder``), what the batch holds of the authorization is now worth more, and the
        difference must still fit what the authorization has left, else the shipment would export
        beyond the license's value (``authorization-value``, nothing written)."""
        auth = self._batch_authorization(batch)
        if auth is None or auth.value_limit is None or batch.currency != auth.currency:
            return  # unlimited, or refused at the grant already (authorization-currency)
        held = auth.outstanding.get(batch.id.hex)
        if not held or not held["quantity"]:
            return
        now_worth = held["quantity"] * batch.unit_price
        extra = now_worth - held["value"]
        remaining = auth.remaining_value
        if extra > 0 and remaining is not None and extra > remaining:
            terms = AuthorizationTerms.of(auth)
            refuse(Problem(
                "authorization-value",
                f"authorization {terms.label} has {remaining} {auth.currency} left of {auth.value_limit}; the "
                f"{held['quantity']} unit(s) batch {batch.po_number} drew for {held['value']} {auth.currency} are "
                f"worth {now_worth} {batch.currency} at the corrected unit price {batch.unit_price}",
                facts={**terms.facts(), "quantity": str(held["quantity"]), "value": str(now_worth),
                       "drawn_value": str(held["value"]), "remaining_value": str(remaining),
                       "value_limit": str(auth.value_limit), "currency": batch.currency},
            ))

    def _refuse_shipment_destination(self, batch: GpuBatch, when: datetime, country: str, site_id: UUID | None) -> None:
        """A shipment declared for a country other than the cleared destination (or to a site in
        one) that the destination rule in force needs a license for, which the clearance's
        authorization does not cover: refused as ``destination-country-group``
        (``policy.shipment_destination_problem``); 15 CFR 742.6(a)(6)(iii)."""
        cleared = str(batch.clearance.get("destination_country", ""))
        countries = [country]
        if site_id is not None:
            site: Site = self._load("site", site_id)
            countries.append(site.country)
        if all(not c or c == cleared for c in countries):
            return
        if self._before_any_rule(when):
            return  # before any advanced-computing rule
        ruleset, classification = self._classified_at(batch, when)
        groups = self.country_groups
        auth = self._batch_authorization(batch)
        terms = AuthorizationTerms.of(auth) if auth is not None else None
        in_force = groups.in_force(when)
        refuse_first(p for c in dict.fromkeys(countries)
                     if (p := shipment_destination_problem(classification, c, cleared, in_force, ruleset, terms))
                     is not None)

    def _refuse_intermediate_consignees(self, batch: GpuBatch, intermediate_consignee_ids: Sequence[UUID]) -> None:
        """A license that names its consignees names the parties the items may pass through: an
        intermediate consignee it does not name (as consignee or end user) is a shipment outside
        the license (``authorization-consignee``, naming ``intermediate_consignee_ids[i]``), as a
        clearance to an ultimate consignee it does not name is refused. The same policy the
        compliance projection flags a logged shipment by (``policy.intermediate_consignee_problem``)."""
        auth_id = batch.clearance.get("authorization_id")
        if not intermediate_consignee_ids or not auth_id:
            return  # nothing to hold to a license (and no authorization to load)
        auth: ExportAuthorization | None = self._try(auth_id, ExportAuthorization)
        if auth is None:
            return
        terms = AuthorizationTerms.of(auth)
        refuse_first(
            p for i, party_id in enumerate(intermediate_consignee_ids)
            if (p := intermediate_consignee_problem(terms, party_id, f"intermediate_consignee_ids[{i}]")) is not None
        )

    def _refuse_shipment_parties(
        self, batch: GpuBatch, carrier_id: UUID | None, site_id: UUID | None,
        intermediate_consignee_ids: Sequence[UUID] = (), forwarder_id: UUID | None = None,
        exporter_id: UUID | None = None,
    ) -> None:
        """Every party of the shipment, the exporter of record among them, is screened (Entity
        List and the other lists apply to every destination): a blocking hit refuses the shipment,
        naming the party's field and the list entry (``screening-hit``)."""
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
                *((f"intermediate_consignee_ids[{i}]", p) for i, p in enumerate(intermediate_consignee_ids)),
                ("forwarder_id", forwarder_id),
                ("exporter_id", exporter_id),
            ]
        )

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
        reference = self._read_models_at_head()
        if reference is not None:
            return reference.expiring_authorizations(within_days, when)
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
